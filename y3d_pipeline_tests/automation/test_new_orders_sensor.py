"""The new-order sensors against the local sandbox: one small request through the source's own client, the
cursor advances, the same change launches one run, a queued run saves the poll, errors keep the cursor."""

import datetime as dt
import json
import uuid

import dagster as dg
import httpx
import pytest

from y3d_pipeline.defs.automation import new_orders
from y3d_pipeline.defs.automation.coverage import last_poll
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE
from y3d_pipeline.defs.sources.amazon.resources import (
    AmazonConnection,
    AmazonCustomDownloadRules,
    AmazonResource,
)
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationConnection, ShipStationResource
from y3d_pipeline.defs.sources.shopify.resources import ShopifyResource
from y3d_pipeline.sources.amazon.client import AmazonClient
from y3d_pipeline_tests.resources import (
    amazon_resource,
    shipstation_resource,
    shop_resource,
    shopify_resource,
)


def _shipstation(env) -> ShipStationResource:
    return shipstation_resource(env)


def _shopify(env) -> ShopifyResource:
    return shopify_resource(env)


def _amazon_client(env, sandbox) -> AmazonClient:
    return AmazonClient(client_id=env["AMAZON_LWA_CLIENT_ID"], client_secret=env["AMAZON_LWA_CLIENT_SECRET"],
                        refresh_token=env["AMAZON_LWA_REFRESH_TOKEN"], token_url=env["AMAZON_LWA_TOKEN_URL"],
                        base_url=env["AMAZON_SP_API_BASE_URL"], marketplace_ids=env["AMAZON_MARKETPLACE_IDS"].split(","),
                        now=sandbox.now)


def _first_order_id(env) -> int:
    response = httpx.get(f"{env['SHIPSTATION_BASE_URL']}/orders", params={"pageSize": 1},
                         auth=(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"]), timeout=10)
    response.raise_for_status()
    return int(response.json()["orders"][0]["orderId"])


def _requests(api: str, sandbox, before: dict) -> int:
    return sandbox.stats()["requests"].get(api, 0) - before["requests"].get(api, 0)


def test_shipstation_cursor_advances_and_dedups(sandbox_env, fresh_sandbox, pg_instance):
    resource = _shipstation(sandbox_env)

    def probe(since):
        with resource.client() as client:
            return client.changed_since(since, now=poll_time)

    now = fresh_sandbox.now()
    poll_time = now + dt.timedelta(seconds=1)
    before = fresh_sandbox.stats()
    cursor = json.dumps({"since": (now + dt.timedelta(seconds=1)).isoformat()})
    result = new_orders.evaluate(new_orders.SHIPSTATION, None, pg_instance, cursor, now=poll_time, probe=probe)
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    assert json.loads(result.cursor)["since"] == poll_time.isoformat()
    assert last_poll(pg_instance, "shipstation") == poll_time

    # An order changes: today's partition is requested, the cursor moves to the poll time.
    fresh_sandbox.advance_clock(60)
    order_id = _first_order_id(sandbox_env)
    fresh_sandbox.mutate_order(order_id, patch={"customerNotes": "changed by the sensor test"})
    poll_time = fresh_sandbox.now() + dt.timedelta(seconds=1)
    first = new_orders.evaluate(new_orders.SHIPSTATION, None, pg_instance, cursor, now=poll_time, probe=probe)
    [request] = first.run_requests
    today = poll_time.astimezone(SHOP_TIMEZONE).date().isoformat()
    assert request.partition_key == today and request.tags["y3d/source"] == "shipstation"
    assert request.run_key.startswith(f"shipstation_new_orders:{today}:{order_id}:")
    assert json.loads(first.cursor)["since"] == poll_time.isoformat()

    # Re-polling from the old cursor (a failed tick) names the same change: same run_key, so Dagster dedups.
    again = new_orders.evaluate(new_orders.SHIPSTATION, None, pg_instance, cursor, now=poll_time, probe=probe)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    # From the new cursor nothing is new.
    poll_time += dt.timedelta(seconds=30)
    later = new_orders.evaluate(new_orders.SHIPSTATION, None, pg_instance, first.cursor, now=poll_time,
                                probe=probe)
    assert not later.run_requests

    # One small request per evaluation (4 evaluations + the test's own lookup).
    assert _requests("shipstation", fresh_sandbox, before) == 5


def test_a_queued_run_saves_the_poll(sandbox_env, fresh_sandbox, pg_instance):
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(SHOP_TIMEZONE).date().isoformat()
    pg_instance.add_run(dg.DagsterRun(job_name="shopify_sync", run_id=str(uuid.uuid4()),
                                      tags={"dagster/partition": today}, status=dg.DagsterRunStatus.NOT_STARTED))

    def probe(since):
        raise AssertionError("no poll while a run of today is queued")

    result = new_orders.evaluate(new_orders.SHOPIFY, None, pg_instance, None, now=now, probe=probe)
    assert not result.run_requests and "queued" in result.skip_reason.skip_message
    assert json.loads(result.cursor)["since"] == now.isoformat()


def test_shopify_probe_is_one_cheap_query(sandbox_env, fresh_sandbox, pg_instance):
    resource = _shopify(sandbox_env)
    now = fresh_sandbox.now()
    before = fresh_sandbox.stats()
    with resource.client() as client:
        busy = client.changed_since(now - dt.timedelta(days=2), now=now)
        quiet = client.changed_since(now + dt.timedelta(seconds=5), now=now)
        cost = client.stats.requested_cost
    assert busy.changed == 1 and busy.more and busy.oldest_id.startswith("gid://shopify/Order/")
    assert busy.oldest_modified >= now - dt.timedelta(days=2)
    assert quiet.changed == 0 and quiet.checked_until == now
    assert _requests("shopify", fresh_sandbox, before) == 2 and cost <= 8  # a few points each

    def probe(since):
        with resource.client() as client:
            return client.changed_since(since, now=now)

    cursor = json.dumps({"since": (now - dt.timedelta(days=2)).isoformat()})
    result = new_orders.evaluate(new_orders.SHOPIFY, None, pg_instance, cursor, now=now, probe=probe)
    [request] = result.run_requests
    assert request.run_key == f"shopify_new_orders:{request.partition_key}:{busy.oldest_id}:" \
                              f"{busy.oldest_modified.isoformat()}"
    assert request.tags["y3d/source"] == "shopify"


def test_amazon_probe_respects_the_two_minute_rule(sandbox_env, fresh_sandbox):
    now = fresh_sandbox.now()
    before = fresh_sandbox.stats()
    with _amazon_client(sandbox_env, fresh_sandbox) as client:
        assert client.changed_since(now - dt.timedelta(days=2)).changed == 1
        # inside Amazon's two minutes: no call
        assert client.changed_since(now - dt.timedelta(seconds=90)).changed == 0
    assert 1 <= _requests("amazon", fresh_sandbox, before) <= 2  # searchOrders (and the LWA token, if counted)


def test_amazon_sensor_stays_inside_the_usage_plan(pg_instance):
    # One poll per 300 s at most, none while a run of today created in the last 300 s covers the day:
    # 12 polls an hour at most, or a poll and a sync every 10 minutes: <= 12 calls an hour, inside
    # searchOrders' 20 an hour (the hourly sync adds 2).
    assert new_orders.AMAZON.interval_seconds == 300 and new_orders.AMAZON.cooldown.total_seconds() == 300
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(SHOP_TIMEZONE).date().isoformat()
    pg_instance.add_run(dg.DagsterRun(job_name="amazon_sync", run_id=str(uuid.uuid4()),
                                      tags={"dagster/partition": today}, status=dg.DagsterRunStatus.STARTED))

    def probe(since):
        raise AssertionError("no poll during the cooldown")

    result = new_orders.evaluate(new_orders.AMAZON, None, pg_instance, None, now=now, probe=probe)
    assert isinstance(result, dg.SkipReason) and "started less than 300 s ago" in result.skip_message


def test_sensor_definitions_use_the_resources(sandbox_env, fresh_sandbox):
    # The resource's clients use the real clock; the sandbox's stands a little ahead of it, so Amazon's
    # two-minute rule holds for the probe's window end by the sandbox's clock too.
    fresh_sandbox.set_clock(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    before = fresh_sandbox.stats()
    resources = {"shipstation": _shipstation(sandbox_env), "shopify": _shopify(sandbox_env),
                 "amazon": amazon_resource(sandbox_env), "shop": shop_resource()}
    with dg.instance_for_test() as instance:
        for sensor in (new_orders.shipstation_new_orders, new_orders.shopify_new_orders,
                       new_orders.amazon_new_orders):
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                result = sensor(context)
            source = sensor.name.removesuffix("_new_orders")
            assert isinstance(result, dg.SensorResult) and not result.run_requests, sensor.name
            assert result.skip_reason.skip_message.startswith(f"no {source} order changed since")
            assert json.loads(result.cursor)["since"]
            assert last_poll(instance, source) is not None
    # each asked its own API through the resource's client, once (Amazon: plus the LWA token)
    for api in ("shipstation", "shopify"):
        assert _requests(api, fresh_sandbox, before) == 1, api
    assert _requests("amazon", fresh_sandbox, before) >= 1


def test_sensors_skip_when_not_configured(monkeypatch, pg_instance):
    resources = {"shipstation": shipstation_resource(None), "shopify": shopify_resource(None),
                 "amazon": AmazonResource(connection=AmazonConnection(), download_rules=AmazonCustomDownloadRules()),
                 "shop": shop_resource()}
    for sensor in (new_orders.shipstation_new_orders, new_orders.shopify_new_orders, new_orders.amazon_new_orders):
        with dg.build_sensor_context(instance=pg_instance, resources=resources) as context:
            result = sensor(context)
        assert isinstance(result, dg.SkipReason) and "not configured" in result.skip_message


def test_sensor_keeps_cursor_on_errors(pg_instance):
    resource = ShipStationResource(connection=ShipStationConnection(api_key="k", api_secret="s",
                                                                    base_url="http://127.0.0.1:9"))  # nothing listens
    cursor = json.dumps({"since": "2026-03-08T00:00:00+00:00"})
    with dg.build_sensor_context(instance=pg_instance, cursor=cursor,
                                 resources={"shipstation": resource, "shop": shop_resource()}) as context:
        result = new_orders.shipstation_new_orders(context)
        assert isinstance(result, dg.SkipReason) and "poll failed" in result.skip_message
        assert context.cursor == cursor


def test_sensors_respect_business_hours(pg_instance):
    hours = shop_resource(business_hours="08:00-20:00").business_hours
    night = dt.datetime(2026, 3, 8, 23, 0, tzinfo=dt.UTC)

    def probe(since):
        raise AssertionError("no poll outside business hours")

    result = new_orders.evaluate(new_orders.SHIPSTATION, hours, pg_instance, None, now=night, probe=probe)
    assert isinstance(result, dg.SkipReason) and "outside business hours" in result.skip_message


@pytest.mark.parametrize("cursor", [None])
def test_first_tick_looks_back_briefly(cursor):
    now = dt.datetime(2026, 3, 8, 12, tzinfo=dt.UTC)
    assert new_orders._since(cursor, now) == now - new_orders.FIRST_TICK_LOOKBACK
