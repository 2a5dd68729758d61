"""Shopify client and assets against the local sandbox (real HTTP, real graphql-core schema) and real PostgreSQL.

The production path (``extended_order_fields=True``: the buyer, shipping address and money sets, protected
customer data included) is what these tests run; a shop without protected customer data approval is the
sandbox's ``shopify_protected_customer_data`` switch.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import Product, ProductVariant, RawShopifyOrder
from y3d_pipeline.defs.sources.shopify.assets import raw_shopify_orders, raw_shopify_products
from y3d_pipeline.defs.sources.shopify.resources import ShopifyResource, shopify_resource_from_env
from y3d_pipeline.sources.http import ApiError, RetryPolicy
from y3d_pipeline.sources.shopify.client import ShopifyClient
from y3d_pipeline_tests.resources import shopify_resource

UTC = dt.UTC
EVER = (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC))


def _client(sb, **kwargs) -> ShopifyClient:
    env = sb.env()
    return ShopifyClient(base_url=env["SHOPIFY_BASE_URL"], access_token=env["SHOPIFY_ACCESS_TOKEN"], **kwargs)


def _resource(sb, **kwargs) -> ShopifyResource:
    env = sb.env()
    return shopify_resource(env, **kwargs)


def _rows(engine, table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]


def _materialize(assets, shopify, database_resource, dagster_instance, **kwargs) -> dg.ExecuteInProcessResult:
    result = dg.materialize(assets, resources={"shopify": shopify, "database": database_resource},
                            instance=dagster_instance, **kwargs)
    assert result.success
    return result


def _metadata(result, key) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    event = events[0]  # a range run reports one materialization per partition, all with the run's metadata
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


# ------------------------------------------------------------------------------------------ client
def test_paging_over_many_pages_with_line_item_follow_up(sandbox):
    with _client(sandbox, orders_page_size=7, line_items_page_size=3) as client:
        orders = client.fetch_orders(*EVER)
        stats = client.stats
    truth = {o["shopify_order_id"]: o for o in sandbox.truth(marketplace="web", visible_only=True)}
    assert {o.legacy_resource_id for o in orders} == set(truth)
    assert stats.pages >= len(orders) // 7 and stats.duplicates == 0
    for order in orders:
        expected = [i for i in truth[order.legacy_resource_id]["items"] if not i["adjustment"]]
        assert [i.legacy_id for i in order.line_items] == [int(i["line_item_key"]) for i in expected]
        assert [i.sku for i in order.line_items] == [i["sku"] for i in expected]
    bulk = max(orders, key=lambda o: len(o.line_items))
    assert len(bulk.line_items) > 100  # 3 inline + follow-up pages of 100
    assert stats.follow_up_pages >= 2
    assert len(bulk.payload["lineItems"]["nodes"]) == len(bulk.line_items)
    assert any(i.custom_attributes for o in orders for i in o.line_items)


def test_updated_at_window_boundaries(sandbox):
    with _client(sandbox) as client:
        some = sorted(client.fetch_orders(*EVER), key=lambda o: o.updated_at)[len(truth_ids(sandbox)) // 2]
        at = some.updated_at
        second = dt.timedelta(seconds=1)
        assert some.legacy_resource_id in ids(client.fetch_orders(at, at + second))  # start inclusive
        assert some.legacy_resource_id not in ids(client.fetch_orders(at - dt.timedelta(hours=1), at))  # end excl.
        inside = client.fetch_orders(at - dt.timedelta(hours=6), at + dt.timedelta(hours=6))
        assert all(at - dt.timedelta(hours=6) <= o.updated_at < at + dt.timedelta(hours=6) for o in inside)


def ids(orders) -> set[int]:
    return {o.legacy_resource_id for o in orders}


def truth_ids(sb) -> set[int]:
    return {o["shopify_order_id"] for o in sb.truth(marketplace="web", visible_only=True)}


def _drain_bucket(sb) -> None:
    """Another app on the same shop spends the bucket (expensive queries straight over HTTP)."""
    env = sb.env()
    url = f"{env['SHOPIFY_BASE_URL']}/admin/api/2026-01/graphql.json"
    available = 1000
    with httpx.Client(headers={"X-Shopify-Access-Token": env["SHOPIFY_ACCESS_TOKEN"]}) as http:
        for _ in range(20):
            first = max(1, min(100, int((available - 2) // 6)))  # 6 points per order, requested == actual
            query = f"{{ orders(first: {first}) {{ nodes {{ lineItems(first: 1) {{ nodes {{ variant {{ " \
                    f"product {{ id }} }} }} }} }} }} }}"
            body = http.post(url, json={"query": query}).json()
            available = body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
            if available < 60:
                return
    raise AssertionError("could not drain the sandbox's cost bucket")


def test_throttled_200_waits_for_the_bucket_and_completes(fresh_sandbox):
    expected = truth_ids(fresh_sandbox)
    # Drained at Shopify's own 50 points/s (at a faster restore a loaded machine's requests can't empty it),
    # then 1000 points/s for the sync: waits of a fraction of a second, and the first ~700-point page
    # still finds the bucket short unless more than half a second passes before it.
    fresh_sandbox.set_rate_limit_scale(1)
    _drain_bucket(fresh_sandbox)
    fresh_sandbox.set_rate_limit_scale(20)
    with _client(fresh_sandbox, orders_page_size=20) as client:  # ~700 points per page
        orders = client.fetch_orders(*EVER)
        meta = client.stats.as_metadata()
    assert ids(orders) == expected
    assert meta["throttled_responses"] >= 1 and meta["rate_limited_responses"] >= 1
    assert meta["throttle_waits"] >= 1 and meta["throttle_wait_seconds"] > 0
    assert fresh_sandbox.stats()["statuses"]["shopify"].get("200", 0) >= meta["requests"]


# ------------------------------------------------------------------------------------------ assets
PARTITION = "2026-03-08"


def test_orders_partition_is_idempotent(fresh_sandbox, database_resource, clean_db, dagster_instance):
    shopify = _resource(fresh_sandbox, orders_page_size=3)
    first = _materialize([raw_shopify_orders], shopify, database_resource, dagster_instance,
                         partition_key=PARTITION)
    rows = _rows(clean_db, RawShopifyOrder.__table__)
    meta = _metadata(first, raw_shopify_orders.key)
    assert meta["orders"] == len(rows) > 3 and meta["records_new"] == len(rows)
    assert meta["pages"] >= 2 and meta["line_items"] >= meta["orders"]
    assert meta["window_start_utc"] == "2026-03-07T23:00:00+00:00"  # London midnight minus the overlap
    assert "window_start_local" in meta and meta["throttled_responses"] == 0
    for row in rows:  # payload as served, keyed and timed by Shopify's own values
        payload = row[3]
        assert int(payload["legacyResourceId"]) == row[0] and payload["name"] == row[1]
        assert dt.datetime.fromisoformat(payload["updatedAt"]) == row[2]
        start = dt.datetime(2026, 3, 7, 23, tzinfo=UTC)
        assert start <= row[2] < start + dt.timedelta(days=1, hours=1)
    (check,) = first.get_asset_check_evaluations()
    assert check.passed

    second = _materialize([raw_shopify_orders], shopify, database_resource, dagster_instance,
                          partition_key=PARTITION)
    assert _rows(clean_db, RawShopifyOrder.__table__) == rows
    meta = _metadata(second, raw_shopify_orders.key)
    assert meta["records_unchanged"] == len(rows) and meta["records_new"] == meta["records_changed"] == 0


def test_orders_asset_rides_out_429_throttling(fresh_sandbox, database_resource, clean_db, dagster_instance):
    fresh_sandbox.set_faults("shopify", "429", count=2)
    result = _materialize([raw_shopify_orders], _resource(fresh_sandbox), database_resource, dagster_instance,
                          partition_key=PARTITION)
    meta = _metadata(result, raw_shopify_orders.key)
    assert meta["throttled_responses"] == 2 and meta["rate_limited_responses"] == 2
    assert meta["throttle_waits"] >= 2 and meta["throttle_wait_seconds"] > 0
    assert meta["orders"] == len(_rows(clean_db, RawShopifyOrder.__table__)) > 0


def test_orders_range_in_one_run(fresh_sandbox, database_resource, clean_db, dagster_instance):
    defs = dg.Definitions(assets=[raw_shopify_orders],
                          jobs=[dg.define_asset_job("shopify_range", selection=[raw_shopify_orders])],
                          resources={"shopify": _resource(fresh_sandbox), "database": database_resource})
    result = defs.resolve_job_def("shopify_range").execute_in_process(
        tags={"dagster/asset_partition_range_start": "2026-03-06", "dagster/asset_partition_range_end": "2026-03-10"},
        instance=dagster_instance)
    assert result.success
    assert {e.partition for e in result.get_asset_materialization_events()} == {
        "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"}
    meta = _metadata(result, raw_shopify_orders.key)
    assert meta["window_start_utc"] == "2026-03-05T23:00:00+00:00"
    assert meta["window_end_utc"] == "2026-03-11T00:00:00+00:00"
    assert meta["orders"] == len(_rows(clean_db, RawShopifyOrder.__table__)) > 10


def test_products_twice_are_identical_and_incremental(fresh_sandbox, database_resource, clean_db,
                                                      dagster_instance):
    shopify = _resource(fresh_sandbox, products_page_size=2)
    first = _materialize([raw_shopify_products], shopify, database_resource, dagster_instance)
    meta = _metadata(first, raw_shopify_products.key)
    products, variants = _rows(clean_db, Product.__table__), _rows(clean_db, ProductVariant.__table__)
    assert meta["mode"] == "full" and meta["products_new"] == len(products) == meta["products_fetched"] > 2
    assert meta["pages"] >= 3 and meta["variants_new"] == len(variants) == meta["variants_fetched"]
    with clean_db.connect() as conn:
        joined = conn.execute(sa.select(Product.shopify_product_id, Product.name, Product.sku,
                                        ProductVariant.sku, ProductVariant.price)
                              .join(ProductVariant, ProductVariant.product_id == Product.id)).all()
    assert all(row[0] and row[1] and row[2] is None and row[3] and row[4] > 0 for row in joined)

    second = _materialize([raw_shopify_products], shopify, database_resource, dagster_instance)
    meta = _metadata(second, raw_shopify_products.key)
    assert meta["mode"] == "incremental" and 1 <= meta["products_fetched"] < len(products)
    assert meta["products_new"] == meta["products_changed"] == meta["variants_changed"] == 0
    assert _rows(clean_db, Product.__table__) == products
    assert _rows(clean_db, ProductVariant.__table__) == variants

    full = _materialize([raw_shopify_products], shopify, database_resource, dagster_instance,
                        run_config={"ops": {"raw__shopify_products": {"config": {"full_refresh": True}}}})
    meta = _metadata(full, raw_shopify_products.key)
    assert meta["mode"] == "full" and meta["products_unchanged"] == len(products)
    assert _rows(clean_db, Product.__table__) == products


@pytest.mark.parametrize("asset", [raw_shopify_orders, raw_shopify_products])
def test_not_configured_reports_and_succeeds(asset, database_resource, dagster_instance):
    kwargs = {"partition_key": PARTITION} if asset.partitions_def else {}
    result = _materialize([asset], shopify_resource(None), database_resource, dagster_instance, **kwargs)
    meta = _metadata(result, asset.key)
    assert meta["configured"] is False and "SHOPIFY_STORE" in meta["note"]


def test_orders_updated_while_paging_are_kept_once_newest(fresh_sandbox):
    """page_shift: orders on a served page are updated at once and meet the UPDATED_AT cursor again."""
    expected = truth_ids(fresh_sandbox)
    fresh_sandbox.set_faults("shopify", "page_shift", count=1)
    with _client(fresh_sandbox, orders_page_size=10) as client:
        orders = client.fetch_orders(*EVER)
        stats = client.stats
    assert ids(orders) == expected and len(orders) == len(expected)
    assert stats.duplicates == 10
    clock = fresh_sandbox.now()
    assert sum(1 for o in orders if o.updated_at == clock.replace(microsecond=0)) == 10
    assert client.served_api_version == "2026-01"


def test_transient_failures_are_retried(fresh_sandbox):
    expected = truth_ids(fresh_sandbox)
    for kind in ("500", "503", "truncate", "drop"):
        fresh_sandbox.set_faults("shopify", kind, count=1)
    with _client(fresh_sandbox, retry_policy=RetryPolicy(initial_backoff=0.01, max_backoff=0.05)) as client:
        orders = client.fetch_orders(*EVER)
        meta = client.stats.as_metadata()
    assert ids(orders) == expected and meta["retries"] == 4 and meta["throttled_responses"] == 0


def test_bad_token_is_a_clear_error(fresh_sandbox):
    env = fresh_sandbox.env()
    client = ShopifyClient(base_url=env["SHOPIFY_BASE_URL"], access_token="shpat_wrong")
    with pytest.raises(ApiError, match="HTTP 401") as info:
        client.fetch_products()
    assert "shpat" not in str(info.value)
    assert fresh_sandbox.stats()["statuses"]["shopify"] == {"401": 1}


def test_resource_from_env_reads_the_buyer_and_address(sandbox_env, database_resource, clean_db, dagster_instance,
                                                       fresh_sandbox):
    shopify = shopify_resource_from_env()  # the deployed wiring: EnvVar credentials, protected fields asked
    assert shopify.configured
    result = _materialize([raw_shopify_orders], shopify, database_resource, dagster_instance,
                          partition_key=PARTITION)
    meta = _metadata(result, raw_shopify_orders.key)
    assert meta["extended_order_fields"] is True and "extended_fields_note" not in meta
    stored = [r.payload for r in _rows_of(clean_db)]
    assert meta["orders"] == len(stored) > 0
    assert all(p["customer"]["displayName"] and p["shippingAddress"]["address1"] and p["totalShippingPriceSet"]
               for p in stored)
    assert any(p["email"] for p in stored)
    assert meta["api_version"] == meta["api_version_served"] == "2026-01"


def test_without_protected_customer_data_approval_the_sync_falls_back(sandbox_env, database_resource, clean_db,
                                                                      dagster_instance, fresh_sandbox):
    """Shopify answers ACCESS_DENIED for protected fields to an app without approval; the client asks again
    without any protected field, keeping everything else (money sets, buyer id, city and country)."""
    fresh_sandbox.config(shopify_protected_customer_data=False)
    result = _materialize([raw_shopify_orders], shopify_resource_from_env(), database_resource, dagster_instance,
                          partition_key=PARTITION)
    meta = _metadata(result, raw_shopify_orders.key)
    assert meta["extended_order_fields"] is False and "not approved" in meta["extended_fields_note"]
    stored = [r.payload for r in _rows_of(clean_db)]
    assert meta["orders"] == len(stored) > 0
    for payload in stored:
        assert "email" not in payload and "phone" not in payload
        assert set(payload["customer"]) == {"id", "legacyResourceId"}
        assert set(payload["shippingAddress"]) == {"company", "city", "province", "provinceCode", "countryCodeV2"}
        assert payload["totalShippingPriceSet"]["shopMoney"]["amount"]
    answers = [r for r in fresh_sandbox.requests("shopify") if '"operationName":"Orders"' in r["body"].replace(" ", "")]
    assert len(answers) >= 2  # refused once with the protected fields, then answered without them


def _rows_of(engine):
    with engine.connect() as conn:
        return list(conn.execute(sa.select(RawShopifyOrder.__table__)))
