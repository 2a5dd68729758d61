"""Reconciliation end to end: sandbox APIs over real HTTP → raw assets → ShipStation normalization →
normalized/reconciliation on real PostgreSQL, checked against the sandbox's own truth."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.defs.constants import NORMALIZED_RECONCILIATION
from y3d_pipeline.defs.normalized.assets import RECONCILE_CHECK_NAME, normalize_orders, reconciliation
from y3d_pipeline.defs.sources.amazon.assets import raw_amazon_orders
from y3d_pipeline.defs.sources.amazon.resources import AmazonResource
from y3d_pipeline.defs.sources.shipstation.assets import raw_shipstation_orders
from y3d_pipeline.defs.sources.shopify.assets import raw_shopify_orders
from y3d_pipeline.sources.amazon import store as amazon_store
from y3d_pipeline_tests.resources import amazon_resource, shipstation_resource, shopify_resource

ASSETS = [raw_shipstation_orders, raw_shopify_orders, raw_amazon_orders, normalize_orders, reconciliation]
DAY, NEXT_DAY = "2026-03-15", "2026-03-16"


@pytest.fixture
def run_day(fresh_sandbox, database_resource, dagster_instance):
    env = fresh_sandbox.env()
    resources = {
        "database": database_resource,
        "shipstation": shipstation_resource(env, initial_backoff_seconds=0.05),
        "shopify": shopify_resource(env),
        "amazon": amazon_resource(env),
    }

    def run(day: str, assets=ASSETS) -> dg.ExecuteInProcessResult:
        result = dg.materialize(assets, resources=resources, partition_key=day, instance=dagster_instance)
        assert result.success
        return result

    run.resources = resources
    return run


def fetch_amazon_until_sandbox_now(sandbox, resource: AmazonResource, database_resource, start: dt.datetime) -> int:
    """raw_amazon_orders takes "now" from the wall clock, so with the sandbox clock set back into a day it asks for
    a window the SP-API refuses: fetch through the same client and store (over HTTP) up to sandbox now - 2 min."""
    end = sandbox.now() - dt.timedelta(minutes=2, seconds=1)
    with resource.client() as client:
        page = client.fetch_orders(start, end)
    with database_resource.engine.begin() as conn:
        amazon_store.store_orders(conn, page, fetched_at=sandbox.now(), partition_key=DAY)
    return len(page.orders)


def rows(engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql)).mappings()]


def full_snapshot(engine) -> dict[str, list[tuple]]:
    out = {}
    with engine.connect() as conn:
        for table in ("orders", "order_items", "customers", "products", "order_tags", "normalization_failures"):
            out[table] = sorted(tuple(str(v) for v in r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")))  # noqa: S608
    return out


def orphans_with_shipstation_twin(engine) -> list[dict]:
    return rows(engine, """SELECT o.id, o.marketplace, o.order_number FROM orders o
                           WHERE o.shipstation_order_id IS NULL AND EXISTS (
                               SELECT 1 FROM orders s WHERE s.shipstation_order_id IS NOT NULL
                                 AND s.marketplace = o.marketplace AND s.order_number = o.order_number)""")


def test_sandbox_orders_reconcile_to_one_row_per_real_order(fresh_sandbox, run_day, clean_db):
    truth = {(t["marketplace"], t["order_number"]): t for t in fresh_sandbox.truth()}
    result = run_day(DAY)
    meta = reconciliation_metadata(result)
    assert meta["matched"] > 5 and meta["unmatched"] == 0

    orders = rows(clean_db, "SELECT * FROM orders WHERE marketplace IN ('web', 'amazon')")
    assert not orphans_with_shipstation_twin(clean_db)
    by_number: dict[tuple, list[dict]] = {}
    for order in orders:
        by_number.setdefault((order["marketplace"], order["order_number"]), []).append(order)
    split_numbers = set()
    for key, group in by_number.items():
        real = truth[key]
        ss_rows = [o for o in group if o["shipstation_order_id"] is not None]
        if not ss_rows:  # not in ShipStation (yet): one marketplace-only row
            assert len(group) == 1 and group[0]["reconciliation_status"] == "marketplace_only", key
            continue
        assert {o["shipstation_order_id"] for o in ss_rows} <= set(real["shipstation_order_ids"])
        assert len(group) == len(ss_rows), key  # no second row next to ShipStation's
        carrying = [o for o in group if (o["shopify_order_id"] or o["amazon_order_id"])]
        if not carrying:
            continue  # the marketplace record was not modified in this window
        assert len(carrying) == 1
        assert carrying[0]["shopify_order_id"] == real["shopify_order_id"]
        assert carrying[0]["amazon_order_id"] == real["amazon_order_id"]
        expected = "ambiguous" if len(ss_rows) > 1 else "matched"
        assert {o["reconciliation_status"] for o in group} == {expected}, key
        if len(ss_rows) > 1:
            split_numbers.add(key[1])
        assert "shipstation" in carrying[0]["sources"] and len(carrying[0]["sources"]) == 2

    # Shopify line item properties on the items, Amazon pending orders kept as marketplace-only rows
    items = rows(clean_db, """SELECT i.options, i.shopify_line_item_id, i.line_item_key, i.reconciliation_status
                              FROM order_items i WHERE i.shopify_line_item_id IS NOT NULL""")
    assert items
    for item in items:
        assert str(item["shopify_line_item_id"]) == item["line_item_key"]
        assert item["reconciliation_status"] in ("matched", "marketplace_only")
        assert item["options"], item
    assert all(o["status"] == "pending" for o in orders
               if o["reconciliation_status"] == "marketplace_only" and o["marketplace"] == "amazon"
               and o["status"] not in ("awaiting_shipment", "cancelled", "shipped"))

    # Split orders whose lines all paired are reconciled correctly: the check passes and counts them.
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == RECONCILE_CHECK_NAME)
    assert check.passed
    assert check.metadata["splits_reconciled"].value == len(split_numbers)
    named = check.metadata["split_order_numbers"].value
    assert all(number in named for number in split_numbers)

    # the same day again: identical rows (ids and timestamps included)
    before = full_snapshot(clean_db)
    run_day(DAY)
    assert full_snapshot(clean_db) == before

    # the next day: orders imported into ShipStation after their marketplace record merge into one row
    run_day(NEXT_DAY)
    assert not orphans_with_shipstation_twin(clean_db)
    dupes = rows(clean_db, """SELECT marketplace, order_number, count(*) AS n,
                                     count(*) FILTER (WHERE shopify_order_id IS NOT NULL OR amazon_order_id IS NOT NULL)
                                         AS carrying
                              FROM orders WHERE marketplace IN ('web', 'amazon')
                              GROUP BY 1, 2 HAVING count(*) > 1""")
    for dupe in dupes:  # only split ShipStation orders share a number, and one row carries the marketplace id
        assert len(truth[(dupe["marketplace"], dupe["order_number"])]["shipstation_order_ids"]) == dupe["n"]
        assert dupe["carrying"] <= 1


def reconciliation_metadata(result: dg.ExecuteInProcessResult) -> dict:
    return {k: v.value for e in result.get_asset_materialization_events() if e.asset_key == NORMALIZED_RECONCILIATION
            for k, v in e.materialization.metadata.items()}


def test_pending_amazon_order_seen_before_shipstation_merges_into_one_row(fresh_sandbox, run_day, clean_db,
                                                                        database_resource):
    """Mid-day, an Amazon order is still Pending (SP-API only); later ShipStation imports it."""
    day_start = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    pending = sorted((o for o in fresh_sandbox.state.data.by_amazon_id.values()
                      if o.mp_events and o.mp_events[0][1] == "pending"
                      and day_start + dt.timedelta(hours=1) <= o.mp_events[0][0] < day_start + dt.timedelta(hours=23)),
                     key=lambda o: o.mp_events[0][0])
    assert pending, "the sandbox should have a Pending Amazon order on the day"
    order = pending[0]
    later = fresh_sandbox.now()
    fresh_sandbox.set_clock(order.mp_events[0][0] + dt.timedelta(seconds=150))  # Pending, not in ShipStation yet
    assert fetch_amazon_until_sandbox_now(fresh_sandbox, run_day.resources["amazon"], database_resource,
                                          day_start - dt.timedelta(hours=1)) > 0
    first = reconciliation_metadata(run_day(DAY, [raw_shipstation_orders, raw_shopify_orders, normalize_orders,
                                                   reconciliation]))
    assert first["marketplace_only"] >= 1
    row = rows(clean_db, f"SELECT * FROM orders WHERE order_number = '{order.order_number}'")  # noqa: S608
    assert len(row) == 1 and row[0]["shipstation_order_id"] is None
    assert (row[0]["amazon_order_id"], row[0]["status"], row[0]["reconciliation_status"]) == (
        order.order_number, "pending", "marketplace_only")

    fresh_sandbox.set_clock(later)  # days later: paid, imported by ShipStation (and maybe shipped since)
    run_day(DAY)
    # ShipStation's order is in the partition of its latest modification, which may be a later day
    ss_day = max(o.version_at(later).ss_at for o in order.ss_orders).date().isoformat()
    second = reconciliation_metadata(run_day(ss_day))
    assert second["orphans_merged"] >= 1
    row = rows(clean_db, f"SELECT * FROM orders WHERE order_number = '{order.order_number}'")  # noqa: S608
    assert len(row) == 1, "ShipStation's row and the marketplace-only row must converge to one"
    assert row[0]["shipstation_order_id"] in {o.order_id for o in order.ss_orders}
    assert row[0]["amazon_order_id"] == order.order_number
    assert row[0]["reconciliation_status"] in ("matched", "ambiguous") and row[0]["status"] != "pending"
    assert not orphans_with_shipstation_twin(clean_db)


def _pending_amazon_order(sandbox, day_start: dt.datetime):
    return min((o for o in sandbox.state.data.by_amazon_id.values()
                if o.mp_events and o.mp_events[0][1] == "pending"
                and day_start + dt.timedelta(hours=1) <= o.mp_events[0][0] < day_start + dt.timedelta(hours=23)),
               key=lambda o: o.mp_events[0][0])


@pytest.mark.parametrize("versions", [("v0", "2026-01-01"), ("2026-01-01", "v0")])
def test_one_amazon_order_whichever_orders_api_version_fetched_it(versions, fresh_sandbox, run_day, clean_db,
                                                                  database_resource):
    """The switch between Orders API versions: the same order fetched by one version, then by the other, is one
    raw row and one normalized order with the same fields. v0 carries no buyer (BuyerInfo needs a Restricted
    Data Token) and no Amazon Custom URL, so those come only with v2026 and are kept once there."""
    day_start = dt.datetime(2026, 3, 15, tzinfo=dt.UTC)
    order = _pending_amazon_order(fresh_sandbox, day_start)
    # Paid (Unshipped) but not imported by ShipStation yet: the normalized row is the marketplace's record alone.
    paid_at = next(at for at, status in order.mp_events if status != "pending")
    fresh_sandbox.set_clock(max(paid_at, order.mp_events[0][0]) + dt.timedelta(seconds=150))
    env = fresh_sandbox.env()
    snapshots = []
    for version in versions:
        resource = amazon_resource(env, api_version=version)
        assert fetch_amazon_until_sandbox_now(fresh_sandbox, resource, database_resource,
                                              day_start - dt.timedelta(hours=1)) > 0
        run_day(DAY, [normalize_orders, reconciliation])
        raw = rows(clean_db, f"SELECT * FROM raw_amazon_orders WHERE amazon_order_id = '{order.order_number}'")  # noqa: S608
        normalized = rows(clean_db, f"SELECT * FROM orders WHERE order_number = '{order.order_number}'")  # noqa: S608
        assert len(raw) == 1 and len(normalized) == 1
        items = rows(clean_db, f"SELECT * FROM order_items WHERE order_id = {normalized[0]['id']} ORDER BY position")  # noqa: S608
        snapshots.append((raw[0], normalized[0], items))
    (raw_a, order_a, items_a), (raw_b, order_b, items_b) = snapshots
    assert raw_a["api_version"] == versions[0] and raw_b["api_version"] == "2026-01-01"
    assert order_b["id"] == order_a["id"] and order_a["reconciliation_status"] == "marketplace_only"
    custom = [i for i in order.items if i.amazon_custom is not None]
    if versions[0] == "2026-01-01":
        # A later v0 fetch of the unchanged order (a switch back) keeps the richer v2026 copy: nothing changes.
        assert raw_b == raw_a
        assert {k: v for k, v in order_b.items() if k != "updated_at"} == \
            {k: v for k, v in order_a.items() if k != "updated_at"}
        assert items_b == items_a
        return
    same = ("order_number", "amazon_order_id", "marketplace", "status", "order_date", "modified_at", "ship_by_date",
            "currency", "order_total", "requested_shipping_service", "reconciliation_status")
    assert {k: order_a[k] for k in same} == {k: order_b[k] for k in same}
    assert order_a["status"] == "awaiting_shipment" and order_a["order_total"] is not None
    item_fields = ("amazon_order_item_id", "sku", "quantity", "unit_price", "position")
    assert [{k: i[k] for k in item_fields} for i in items_a] == [{k: i[k] for k in item_fields} for i in items_b]
    # what v2026 adds that v0 without a Restricted Data Token cannot see: the buyer and the Amazon Custom URLs
    assert order_a["customer_name"] is None and order_b["customer_name"] == order.customer_name
    urls = [o["value"] for i in items_b for o in (i["options"] or []) if o["name"] == "CustomizedURL"]
    assert len(urls) == len(custom) > 0
