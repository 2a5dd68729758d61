"""The new-orders sensor against the local ShipStation sandbox: one small request, cursor advances, dedups."""

import datetime as dt
import json

import dagster as dg
import httpx
import pytest

from y3d_pipeline.defs.automation import new_orders
from y3d_pipeline.settings import load_settings


def _first_order_id(env) -> int:
    response = httpx.get(f"{env['SHIPSTATION_BASE_URL']}/orders", params={"pageSize": 1},
                         auth=(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"]), timeout=10)
    response.raise_for_status()
    return int(response.json()["orders"][0]["orderId"])


def test_cursor_advances_and_dedups(sandbox_env, fresh_sandbox):
    settings = load_settings()
    now = fresh_sandbox.now()
    before = fresh_sandbox.stats()
    # Nothing changed since "now": skip, cursor kept (one request).
    cursor = json.dumps({"since": (now + dt.timedelta(seconds=1)).isoformat()})
    result = new_orders.evaluate(settings, cursor, now=now)
    assert isinstance(result, dg.SensorResult) and not result.run_requests and result.cursor == cursor

    # An order changes: today's partition is requested, the cursor moves to the poll time.
    fresh_sandbox.advance_clock(60)
    order_id = _first_order_id(sandbox_env)
    fresh_sandbox.mutate_order(order_id, patch={"customerNotes": "changed by the sensor test"})
    poll_time = fresh_sandbox.now() + dt.timedelta(seconds=1)
    first = new_orders.evaluate(settings, cursor, now=poll_time)
    [request] = first.run_requests
    today = poll_time.astimezone(settings.timezone).date().isoformat()
    assert request.partition_key == today and request.tags["y3d/source"] == "shipstation"
    assert request.run_key.startswith(f"shipstation_new_orders:{today}:{order_id}:")
    assert json.loads(first.cursor)["since"] == poll_time.isoformat()

    # Re-polling from the old cursor (a failed tick) names the same change: same run_key, so Dagster dedups.
    again = new_orders.evaluate(settings, cursor, now=poll_time)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    # From the new cursor nothing is new.
    later = new_orders.evaluate(settings, first.cursor, now=poll_time + dt.timedelta(seconds=30))
    assert not later.run_requests and later.cursor == first.cursor

    # One small request per evaluation (4 evaluations + the test's own lookup).
    used = fresh_sandbox.stats()["requests"].get("shipstation", 0) - before["requests"].get("shipstation", 0)
    assert used == 5


def test_sensor_definition_skips_when_not_configured(monkeypatch, dagster_instance):
    monkeypatch.delenv("SHIPSTATION_API_KEY", raising=False)
    monkeypatch.delenv("SHIPSTATION_API_SECRET", raising=False)
    result = new_orders.shipstation_new_orders(dg.build_sensor_context(instance=dagster_instance))
    assert isinstance(result, dg.SkipReason) and "not configured" in result.skip_message


def test_sensor_keeps_cursor_on_errors(monkeypatch, dagster_instance):
    monkeypatch.setenv("SHIPSTATION_API_KEY", "k")
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "s")
    monkeypatch.setenv("SHIPSTATION_BASE_URL", "http://127.0.0.1:9")  # nothing listens
    cursor = json.dumps({"since": "2026-03-08T00:00:00+00:00"})
    context = dg.build_sensor_context(instance=dagster_instance, cursor=cursor)
    result = new_orders.shipstation_new_orders(context)
    assert isinstance(result, dg.SkipReason) and "poll failed" in result.skip_message
    assert context.cursor == cursor


@pytest.mark.parametrize("cursor", [None])
def test_first_tick_looks_back_briefly(cursor):
    now = dt.datetime(2026, 3, 8, 12, tzinfo=dt.UTC)
    assert new_orders._since(cursor, now) == now - new_orders.FIRST_TICK_LOOKBACK
