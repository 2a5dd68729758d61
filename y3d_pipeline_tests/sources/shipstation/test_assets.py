"""ShipStation assets end to end: sandbox over real HTTP → raw tables → normalized tables (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from y3d_pipeline.defs.constants import NORMALIZED_ORDERS
from y3d_pipeline_tests.plugins.database import truncate_all
from y3d_pipeline_tests.resources import shipstation_resource
from y3d_pipeline_tests.sources.shipstation.conftest import (
    ALL_ASSETS,
    ORDER_ASSETS,
    content_snapshot,
    materialization_metadata,
    snapshot,
)

UTC = dt.UTC


def day_window(day: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=UTC)  # Europe/London == UTC before 29 March
    return start, start + dt.timedelta(days=1)


def visible_orders(sandbox) -> dict[int, dt.datetime]:
    """Ground truth from the sandbox itself: each ShipStation order's current modification instant."""
    now = sandbox.now()
    out = {}
    for order_id, ss_order in sandbox.state.data.ss_orders.items():
        version = ss_order.version_at(now)
        if version is not None:
            out[order_id] = version.ss_at
    return out


def query(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_dst_change_day_gets_exactly_the_orders_modified_in_the_shop_day(fresh_sandbox, run_partition, clean_db):
    result = run_partition("2026-03-08")  # US clocks go forward on 2026-03-08
    start, end = day_window("2026-03-08")
    truth = visible_orders(fresh_sandbox)
    fetched_window = {oid for oid, at in truth.items() if start - dt.timedelta(hours=1) <= at <= end}
    normalized_window = {oid for oid, at in truth.items() if start - dt.timedelta(hours=1) <= at < end}
    assert fetched_window, "the sandbox should have orders on the DST day"

    raw = dict(query(clean_db, "SELECT shipstation_order_id, source_modified_at FROM raw_shipstation_orders"))
    assert set(raw) == fetched_window
    for order_id, modified in raw.items():  # Pacific strings → UTC, to the microsecond, across the DST jump
        assert abs(modified - truth[order_id]) < dt.timedelta(milliseconds=1)
    orders = dict(query(clean_db, "SELECT shipstation_order_id, modified_at FROM orders"))
    assert set(orders) == normalized_window

    ordered = {o["shipstation_order_ids"][0]: o["ordered_at"] for o in fresh_sandbox.truth()}
    for order_id, order_date in query(clean_db, "SELECT shipstation_order_id, order_date FROM orders"):
        if order_id in ordered:
            assert order_date == dt.datetime.fromisoformat(ordered[order_id])

    meta = materialization_metadata(result, "raw/shipstation_orders")
    assert meta["orders_fetched"] == len(fetched_window) and meta["records_new"] == len(fetched_window)
    assert meta["window_start_pacific"] == "2026-03-07T15:00:00-08:00"
    assert meta["window_end_pacific"] == "2026-03-08T17:00:00-07:00"  # PDT after the change
    assert meta["requests"] >= 1 and meta["rate_limited_responses"] == 0
    check = result.get_asset_check_evaluations()[0]
    assert check.passed


def test_an_order_modified_exactly_at_midnight_lands_in_the_right_partition_once(fresh_sandbox, run_partition,
                                                                                clean_db):
    midnight = dt.datetime(2026, 3, 9, tzinfo=UTC)
    now = fresh_sandbox.now()
    candidates = sorted(
        oid for oid, o in fresh_sandbox.state.data.ss_orders.items()
        if o.versions[-1].ss_at < dt.datetime(2026, 3, 7, 12, tzinfo=UTC) and o.version_at(now) is not None
        and o.versions[0].ss_at > dt.datetime(2026, 3, 5, tzinfo=UTC))
    order_id = candidates[0]
    fresh_sandbox.mutate_order(order_id, patch={"internalNotes": "edited at midnight"},
                               seconds_from_now=(midnight - now).total_seconds())

    run_partition("2026-03-08")
    raw = query(clean_db, "SELECT source_modified_at FROM raw_shipstation_orders WHERE shipstation_order_id = :i",
                i=order_id)
    assert raw == [(midnight,)]  # both request bounds are inclusive: the day before fetched it too
    assert query(clean_db, "SELECT count(*) FROM orders WHERE shipstation_order_id = :i", i=order_id) == [(0,)]

    run_partition("2026-03-09")  # the day that starts at midnight owns it
    got = query(clean_db, "SELECT modified_at, internal_notes FROM orders WHERE shipstation_order_id = :i",
                i=order_id)
    assert got == [(midnight, "edited at midnight")]
    run_partition("2026-03-08")
    run_partition("2026-03-09")
    assert query(clean_db, "SELECT count(*) FROM orders WHERE shipstation_order_id = :i", i=order_id) == [(1,)]


def test_rematerializing_a_partition_gives_identical_tables(fresh_sandbox, run_partition, clean_db):
    run_partition("2026-03-12", ALL_ASSETS)
    first = snapshot(clean_db)
    assert first["orders"] and first["order_items"]
    # reference data and shipments landed: tag names, store marketplaces, tracking from non-voided labels
    assert {r[0] for r in query(clean_db, "SELECT name FROM tags")} >= {"Personalised", "Rush"}
    assert {r[0] for r in query(clean_db, "SELECT DISTINCT marketplace FROM orders")} <= {
        "amazon", "etsy", "ebay", "web", "manual"}
    shipped = query(clean_db, "SELECT o.shipstation_order_id, o.tracking_number, o.shipment_status FROM orders o "
                              "WHERE o.shipment_status IS NOT NULL")
    assert any(s[2] == "shipped" for s in shipped)
    for order_id, tracking, status in shipped:
        labels = query(clean_db, "SELECT payload->>'trackingNumber', (payload->>'voided')::boolean "
                                 "FROM raw_shipstation_shipments WHERE shipstation_order_id = :i", i=order_id)
        if status == "shipped":
            assert (tracking, False) in labels
        else:
            assert tracking is None and all(voided for _, voided in labels)
    result = run_partition("2026-03-12", ALL_ASSETS)
    assert snapshot(clean_db) == first
    meta = materialization_metadata(result, "raw/shipstation_orders")
    assert meta["records_new"] == 0 and meta["records_changed"] == 0
    assert materialization_metadata(result, "normalized/orders")["orders_written"] == 0


def test_quarantined_orders_do_not_block_the_others(fresh_sandbox, run_partition, clean_db):
    at = dt.datetime(2026, 3, 8, 12, tzinfo=UTC)
    now = fresh_sandbox.now()
    candidates = sorted(oid for oid, o in fresh_sandbox.state.data.ss_orders.items()
                        if dt.datetime(2026, 3, 6, tzinfo=UTC) < o.versions[-1].ss_at < at)
    broken, negative = candidates[:2]
    fresh_sandbox.mutate_order(broken, patch={"orderDate": "2026-02-30T25:00:00.0000000"},
                               seconds_from_now=(at - now).total_seconds())
    items = fresh_sandbox.state.data.render_shipstation(fresh_sandbox.state.data.ss_orders[negative], now,
                                                        fresh_sandbox.base_url)["items"]
    items[0]["quantity"] = -1
    fresh_sandbox.mutate_order(negative, patch={"items": items}, seconds_from_now=(at - now).total_seconds() + 1)

    result = run_partition("2026-03-08")
    assert result.success
    raw_ids = {r[0] for r in query(clean_db, "SELECT shipstation_order_id FROM raw_shipstation_orders "
                                             "WHERE source_modified_at < '2026-03-09'")}
    order_ids = {r[0] for r in query(clean_db, "SELECT shipstation_order_id FROM orders")}
    assert {broken, negative} <= raw_ids
    assert order_ids == raw_ids - {broken, negative}
    failures = query(clean_db, "SELECT source_id, partition_key, reason FROM normalization_failures ORDER BY 1")
    assert {f[0] for f in failures} == {str(broken), str(negative)}
    assert all(f[1] == "2026-03-08" for f in failures)

    check = next(c for c in result.get_asset_check_evaluations() if c.asset_key == NORMALIZED_ORDERS)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    named = check.metadata["source_ids"].value
    assert str(broken) in named and str(negative) in named
    assert materialization_metadata(result, "normalized/orders")["quarantined"] == 2


def test_server_errors_and_dropped_connections_are_retried_by_the_asset(fresh_sandbox, run_partition, clean_db):
    fresh_sandbox.set_faults("shipstation", "500", count=1, match="/orders")
    fresh_sandbox.set_faults("shipstation", "drop", count=1, match="/orders")
    result = run_partition("2026-03-10")
    meta = materialization_metadata(result, "raw/shipstation_orders")
    assert meta["retries"] == 2 and meta["orders_fetched"] > 0
    assert query(clean_db, "SELECT count(*) FROM orders")[0][0] > 0


def test_not_configured_is_reported_not_failed(database_resource, dagster_instance):
    result = dg.materialize(ALL_ASSETS, resources={"shipstation": shipstation_resource(None),
                                                   "database": database_resource},
                            partition_key="2026-03-08", instance=dagster_instance)
    assert result.success
    assert materialization_metadata(result, "raw/shipstation_orders")["configured"] is False


def test_two_week_single_run_backfill_equals_day_by_day(fresh_sandbox, resources, dagster_instance, clean_db):
    days = [f"2026-03-{d:02d}" for d in range(5, 19)]
    job = dg.Definitions(
        assets=ORDER_ASSETS, resources=resources,
        jobs=[dg.define_asset_job("shipstation_orders_job", selection=[a.key for a in ORDER_ASSETS[:1]]
                                  + list(ORDER_ASSETS[1].keys))],
    ).resolve_job_def("shipstation_orders_job")
    result = job.execute_in_process(instance=dagster_instance, tags={
        "dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]})
    assert result.success
    meta = materialization_metadata(result, "raw/shipstation_orders")
    assert meta["window_start_utc"] == "2026-03-04T23:00:00+00:00"  # one wide window for the range
    single_run = content_snapshot(clean_db)
    assert len(single_run["orders"]) > 300

    truncate_all(clean_db)
    for day in days:
        assert dg.materialize(ORDER_ASSETS, resources=resources, partition_key=day,
                              instance=dagster_instance).success
    assert content_snapshot(clean_db) == single_run
