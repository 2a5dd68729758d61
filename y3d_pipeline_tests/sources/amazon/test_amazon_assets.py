"""raw/amazon_orders and raw/amazon_customizations: real Dagster runs against the sandbox and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import AmazonCustomization, Order, OrderItem, RawAmazonOrder, RawShipstationOrder
from y3d_pipeline.defs.sources.amazon.assets import (
    CHECK_CUSTOMIZATIONS,
    raw_amazon_customizations,
    raw_amazon_orders,
)
from y3d_pipeline.defs.sources.amazon.resources import AmazonResource
from y3d_pipeline.sandbox.data import COLOUR_VARIANTS
from y3d_pipeline.sources.raw_store import upsert_raw_records
from y3d_pipeline_tests.resources import amazon_resource as sandbox_amazon_resource

PARTITION = "2026-03-10"
PACIFIC = ZoneInfo("America/Los_Angeles")
customs = AmazonCustomization.__table__


def canonical(label: str | None) -> str | None:
    return COLOUR_VARIANTS.get(label, label) if label else None


def amazon_resource(sandbox, *, configured: bool = True, api_version: str = "2026-01-01") -> AmazonResource:
    return sandbox_amazon_resource(sandbox.env(), configured=configured, api_version=api_version)


def run(assets, sandbox, database_resource, instance, *, configured: bool = True, partition: str = PARTITION,
        api_version: str = "2026-01-01"):
    result = dg.materialize(assets, partition_key=partition, instance=instance, resources={
        "amazon": amazon_resource(sandbox, configured=configured, api_version=api_version),
        "database": database_resource})
    assert result.success
    return result


def metadata(result, key: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey.from_user_string(key)]
    event = events[0]  # a range run records one event per partition, all with the run's metadata
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def check(result):
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == CHECK_CUSTOMIZATIONS
    return evaluation


def rows(engine, table, order_by) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*order_by))]


def truth_items(sandbox) -> dict[tuple[str, str], dict]:
    return {(o["amazon_order_id"], i["line_item_key"]): i
            for o in sandbox.truth(marketplace="amazon") for i in o["items"] if i["amazon_custom_layout"]}


def seed_shipstation(engine, sandbox, start: dt.datetime, end: dt.datetime) -> int:
    """raw_shipstation_orders as the ShipStation asset stores them, fetched from the sandbox's ShipStation."""
    env = sandbox.env()
    fmt = "%Y-%m-%d %H:%M:%S"
    response = httpx.get(f"{env['SHIPSTATION_BASE_URL']}/orders", auth=(env["SHIPSTATION_API_KEY"],
                                                                         env["SHIPSTATION_API_SECRET"]),
                         params={"modifyDateStart": start.astimezone(PACIFIC).strftime(fmt),
                                 "modifyDateEnd": end.astimezone(PACIFIC).strftime(fmt), "pageSize": 500})
    response.raise_for_status()
    records = [{
        "shipstation_order_id": o["orderId"], "order_number": o["orderNumber"], "order_key": o["orderKey"],
        "order_status": o["orderStatus"], "payload": o,
        "source_modified_at": dt.datetime.fromisoformat(o["modifyDate"]).replace(tzinfo=PACIFIC).astimezone(dt.UTC),
    } for o in response.json()["orders"]]
    with engine.begin() as conn:
        upsert_raw_records(conn, RawShipstationOrder.__table__, records, fetched_at=dt.datetime.now(dt.UTC))
    return len(records)


def add_shipstation_order(engine, order_id: int, order_number: str, urls: dict[str, str],
                          modified: dt.datetime) -> None:
    payload = {"orderId": order_id, "orderNumber": order_number, "items": [
        {"lineItemKey": key, "options": [{"name": "customizedurl", "value": url}]} for key, url in urls.items()]}
    with engine.begin() as conn:
        upsert_raw_records(conn, RawShipstationOrder.__table__, [{
            "shipstation_order_id": order_id, "order_number": order_number, "order_key": None,
            "order_status": "awaiting_shipment", "source_modified_at": modified, "payload": payload}],
            fetched_at=dt.datetime.now(dt.UTC))


def test_orders_and_customizations_from_sp_api_idempotent(fresh_sandbox, database_resource, clean_db,
                                                          dagster_instance) -> None:
    fresh_sandbox.set_faults("amazon", "429", count=2, match="/orders/2026-01-01/orders")
    result = run([raw_amazon_orders, raw_amazon_customizations], fresh_sandbox, database_resource,
                 dagster_instance)
    orders_md = metadata(result, "raw/amazon_orders")
    assert orders_md["configured"] is True and orders_md["orders_api_version"] == "2026-01-01"
    # searchOrders brings the items: one request per page, none per order (v0 needed getOrderItems per order)
    assert orders_md["requests"] == orders_md["pages"] + 2 + 1  # + the two 429s + the token exchange
    assert orders_md["orders"] > 0 and orders_md["records_new"] == orders_md["orders"]
    assert orders_md["requests_429"] == 2 and orders_md["token_refreshes"] == 1
    assert orders_md["window_end_clamped"] is False

    stored = rows(clean_db, RawAmazonOrder.__table__, [RawAmazonOrder.amazon_order_id])
    assert len(stored) == orders_md["orders"]
    assert all(r["payload"]["orderItems"] and r["api_version"] == "2026-01-01" for r in stored)
    assert all(r["source_modified_at"] == dt.datetime.fromisoformat(r["payload"]["lastUpdatedTime"])
               for r in stored)
    assert orders_md["items_with_customized_url"] > 0

    md = metadata(result, "raw/amazon_customizations")
    assert md["processed"] == md["candidates"] > 0
    assert md["candidates_by_source"] == {"sp_api": md["candidates"]}
    assert md["failed"] == md["rejected"] == 0
    assert check(result).passed

    truth = truth_items(fresh_sandbox)
    custom_rows = rows(clean_db, customs, [customs.c.amazon_order_id, customs.c.amazon_order_item_id])
    layouts = set()
    for row in custom_rows:
        expected = truth[(row["amazon_order_id"], row["amazon_order_item_id"])]
        personalisation = expected["personalisations"][0]
        assert row["status"] == "processed" and row["error"] is None
        assert row["custom_text"] == expected["amazon_custom_text"], expected["amazon_custom_layout"]
        # the file holds the buyer's label ("Hot Pink"); the sandbox's truth the canonical colour ("Pink")
        assert canonical(row["color_1"]) == personalisation["color_1"]
        assert canonical(row["color_2"]) == personalisation["color_2"]
        assert row["font"] and row["surfaces"] and row["raw_json"]["orderItemId"] == row["amazon_order_item_id"]
        assert len(row["zip_sha256"]) == 64 and row["partition_key"] == PARTITION
        layouts.add((expected["amazon_custom_layout"], row["layout"]))
    sandbox_layouts = {sandbox_layout for sandbox_layout, _ in layouts}
    assert len(sandbox_layouts) >= 3, layouts

    # a second run changes nothing
    again = run([raw_amazon_orders, raw_amazon_customizations], fresh_sandbox, database_resource,
                dagster_instance)
    assert metadata(again, "raw/amazon_orders")["records_unchanged"] == orders_md["orders"]
    assert metadata(again, "raw/amazon_customizations")["skipped_already_processed"] == md["candidates"]
    assert rows(clean_db, RawAmazonOrder.__table__, [RawAmazonOrder.amazon_order_id]) == stored
    assert rows(clean_db, customs, [customs.c.amazon_order_id, customs.c.amazon_order_item_id]) == custom_rows


def test_range_run_pages_with_duplicates_and_parses_every_layout(fresh_sandbox, database_resource, clean_db,
                                                                  dagster_instance) -> None:
    """A single-run backfill of many days: one wide window, NextToken pages that repeat orders, and every
    sandbox layout (tree+flat at both paths, tree only, flat only at either path, flat with the text as SVG).

    The range stays before 03-20: the sandbox's clock stands at 2026-03-21T00:00Z while the run's clock is real
    time, so for the 03-20 partition the run would (rightly, by its own clock) ask up to the partition end,
    which is "now" for the sandbox; the two-minute clamp itself is tested in test_amazon_client.py."""
    fresh_sandbox.set_faults("amazon", "duplicate_page", count=5)
    defs = dg.Definitions(
        assets=[raw_amazon_orders, raw_amazon_customizations],
        jobs=[dg.define_asset_job("amazon_range", selection=[raw_amazon_orders, raw_amazon_customizations])],
        resources={"amazon": amazon_resource(fresh_sandbox), "database": database_resource},
    )
    result = defs.resolve_job_def("amazon_range").execute_in_process(
        instance=dagster_instance, tags={"dagster/asset_partition_range_start": "2026-03-07",
                                         "dagster/asset_partition_range_end": "2026-03-13"})
    assert result.success
    orders_md = metadata(result, "raw/amazon_orders")
    assert orders_md["pages"] >= 2 and orders_md["duplicates_dropped"] > 0
    stored = rows(clean_db, RawAmazonOrder.__table__, [RawAmazonOrder.amazon_order_id])
    assert len(stored) == orders_md["orders"] == len({r["amazon_order_id"] for r in stored})
    truth = truth_items(fresh_sandbox)
    seen: dict[str, set[str]] = {}
    for row in rows(clean_db, customs, [customs.c.id]):
        expected = truth[(row["amazon_order_id"], row["amazon_order_item_id"])]
        assert row["status"] == "processed"
        assert row["custom_text"] == expected["amazon_custom_text"]
        assert row["partition_key"] == "2026-03-07..2026-03-13"
        seen.setdefault(expected["amazon_custom_layout"], set()).add(row["layout"])
    assert seen == {
        "tree+flat_top": {"customizationData"}, "tree+flat_nested": {"customizationData"},
        "tree_only": {"customizationData"}, "tree+flat_svg": {"customizationData"},
        "flat_top_only": {"version3.0.customizationInfo"}, "flat_nested_only": {"customizationInfo.version3.0"},
    }


class _Bombs(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("999.json", b"{" + b" " * (40 * 1024 * 1024) + b"}")
            archive.writestr("../../../tmp/evil.json", b"{}")
        body = buffer.getvalue()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def bomb_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Bombs)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_shipstation_urls_without_lwa_credentials_and_hostile_urls(fresh_sandbox, database_resource, clean_db,
                                                                   dagster_instance, bomb_server) -> None:
    start = dt.datetime(2026, 3, 9, 23, tzinfo=dt.UTC)  # the partition in London plus the hour of overlap
    end = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
    assert seed_shipstation(clean_db, fresh_sandbox, start, end) > 0
    port = fresh_sandbox.base_url.rsplit(":", 1)[1]
    modified = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    hostile = {
        "1": "https://evil.example/steal.zip",
        "2": f"http://localhost:{port}/amazon-custom/x_1.zip",
        "3": "https://amazon.com@127.0.0.2/x.zip",
        "4": "http://169.254.169.254/latest/meta-data/iam/",
        "5": "file:///etc/passwd",
        "6": f"{bomb_server}/bomb.zip",
        "7": f"{fresh_sandbox.base_url}/amazon-custom/206-0000000-0000000_7.zip",  # 404: failed, retried
    }
    add_shipstation_order(clean_db, 999_000_001, "206-0000000-0000000", hostile, modified)

    result = run([raw_amazon_orders, raw_amazon_customizations], fresh_sandbox, database_resource,
                 dagster_instance, configured=False)
    assert metadata(result, "raw/amazon_orders")["configured"] is False
    md = metadata(result, "raw/amazon_customizations")
    assert md["sp_api_configured"] is False
    assert md["candidates_by_source"] == {"shipstation": md["candidates"]}
    assert md["rejected"] == 6 and md["failed"] == 1
    assert md["processed"] == md["candidates"] - 7 > 0
    evaluation = check(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["amazon_order_ids"].value == ["206-0000000-0000000"]

    with clean_db.connect() as conn:
        bad = {r.amazon_order_item_id: r for r in conn.execute(
            sa.select(customs).where(customs.c.amazon_order_id == "206-0000000-0000000"))}
    assert {k: bad[k].status for k in hostile} == {**{k: "rejected" for k in "123456"}, "7": "failed"}
    assert "not in the allowed hosts" in bad["1"].error and "not in the allowed hosts" in bad["2"].error
    assert "userinfo" in bad["3"].error and "IP address" in bad["4"].error and "scheme" in bad["5"].error
    assert bad["6"].error.startswith("ZipBombError") and "HTTP 404" in bad["7"].error
    assert bad["7"].retry_count == 1 and bad["1"].retry_count == 0
    assert all(r.raw_json is None and r.custom_text is None for r in bad.values())

    truth = truth_items(fresh_sandbox)
    with clean_db.connect() as conn:
        good = conn.execute(sa.select(customs).where(customs.c.status == "processed")).all()
    assert good and all(r.custom_text == truth[(r.amazon_order_id, r.amazon_order_item_id)]["amazon_custom_text"]
                        for r in good)

    # later runs retry the failed file up to the limit, never the rejected ones
    for expected_retry_count in (2, 3):
        again = run([raw_amazon_customizations], fresh_sandbox, database_resource, dagster_instance,
                    configured=False)
        md = metadata(again, "raw/amazon_customizations")
        assert md["attempted"] == 1 and md["failed"] == 1 and md["skipped_rejected"] == 6
        with clean_db.connect() as conn:
            assert conn.execute(sa.select(customs.c.retry_count).where(
                customs.c.amazon_order_item_id == "7")).scalar_one() == expected_retry_count
    final = run([raw_amazon_customizations], fresh_sandbox, database_resource, dagster_instance, configured=False)
    md = metadata(final, "raw/amazon_customizations")
    assert md["attempted"] == 0 and md["skipped_retry_limit"] == 1
    assert not check(final).passed


def test_links_to_normalized_order_items(fresh_sandbox, database_resource, clean_db, dagster_instance) -> None:
    run([raw_amazon_orders, raw_amazon_customizations], fresh_sandbox, database_resource, dagster_instance)
    with clean_db.begin() as conn:
        first, second = conn.execute(sa.select(customs.c.amazon_order_id, customs.c.amazon_order_item_id)
                                     .order_by(customs.c.id).limit(2)).all()
        orders, items = Order.__table__, OrderItem.__table__
        order_a = conn.execute(sa.insert(orders).values(marketplace="amazon", order_number=first[0],
                                                        amazon_order_id=first[0]).returning(orders.c.id)).scalar()
        item_a = conn.execute(sa.insert(items).values(order_id=order_a, quantity=1, amazon_order_item_id=first[1])
                              .returning(items.c.id)).scalar()
        order_b = conn.execute(sa.insert(orders).values(marketplace="amazon", order_number=second[0])
                               .returning(orders.c.id)).scalar()
        item_b = conn.execute(sa.insert(items).values(order_id=order_b, quantity=1, line_item_key=second[1])
                              .returning(items.c.id)).scalar()
    run([raw_amazon_customizations], fresh_sandbox, database_resource, dagster_instance)
    with clean_db.connect() as conn:
        linked = dict(conn.execute(sa.select(customs.c.amazon_order_item_id, customs.c.order_item_id)
                                   .where(customs.c.order_item_id.is_not(None))).all())
    assert linked == {first[1]: item_a, second[1]: item_b}


def test_payload_json_round_trip_is_exact(fresh_sandbox, database_resource, clean_db, dagster_instance) -> None:
    run([raw_amazon_orders], fresh_sandbox, database_resource, dagster_instance)
    with clean_db.connect() as conn:
        payload = conn.execute(sa.select(RawAmazonOrder.payload).limit(1)).scalar_one()
    assert json.loads(json.dumps(payload))["orderId"]


def test_v0_behind_the_setting_stores_v0_rows_without_restricted_data(fresh_sandbox, database_resource, clean_db,
                                                                       dagster_instance) -> None:
    """AMAZON_ORDERS_API_VERSION=v0: getOrders + getOrderItems, no Restricted Data Token, so no CustomizedURL from
    Amazon; the Custom files then come from ShipStation's copy of the URL alone."""
    start = dt.datetime(2026, 3, 9, 23, tzinfo=dt.UTC)
    seed_shipstation(clean_db, fresh_sandbox, start, dt.datetime(2026, 3, 11, tzinfo=dt.UTC))
    result = run([raw_amazon_orders, raw_amazon_customizations], fresh_sandbox, database_resource,
                 dagster_instance, api_version="v0")
    orders_md = metadata(result, "raw/amazon_orders")
    assert orders_md["orders_api_version"] == "v0" and orders_md["items_with_customized_url"] == 0
    assert orders_md["requests"] == orders_md["pages"] + orders_md["orders"] + 1  # getOrderItems per order
    stored = rows(clean_db, RawAmazonOrder.__table__, [RawAmazonOrder.amazon_order_id])
    assert stored and all(r["api_version"] == "v0" and r["payload"]["OrderItems"] for r in stored)
    md = metadata(result, "raw/amazon_customizations")
    assert md["processed"] == md["candidates"] > 0 and md["candidates_by_source"] == {"shipstation": md["candidates"]}


def test_failed_file_of_an_earlier_day_is_retried_and_recovers(fresh_sandbox, database_resource, clean_db,
                                                               dagster_instance) -> None:
    truth = truth_items(fresh_sandbox)
    (order_id, item_id), item = next(iter(sorted(truth.items())))
    url = f"{fresh_sandbox.base_url}/amazon-custom/{order_id}_{item_id}.zip"
    with clean_db.begin() as conn:
        conn.execute(sa.insert(customs).values(amazon_order_id=order_id, amazon_order_item_id=item_id,
                                               customized_url=url, status="failed", retry_count=1,
                                               error="DownloadError: HTTP 503", partition_key="2026-03-01"))
    result = run([raw_amazon_customizations], fresh_sandbox, database_resource, dagster_instance,
                 configured=False, partition="2026-03-15")
    md = metadata(result, "raw/amazon_customizations")
    assert md["retries_from_earlier_windows"] == 1 and md["processed"] == 1
    with clean_db.connect() as conn:
        row = conn.execute(sa.select(customs)).one()
    assert row.status == "processed" and row.error is None and row.partition_key == "2026-03-01"
    assert row.custom_text == item["amazon_custom_text"] and row.processed_at is not None


def test_invalid_sp_api_order_is_quarantined_not_lost(clean_db) -> None:
    from y3d_pipeline.db.models import NormalizationFailure
    from y3d_pipeline.sources.amazon.records import AmazonOrder, OrdersPage
    from y3d_pipeline.sources.amazon.store import store_orders
    from y3d_pipeline.sources.http import InvalidRecord

    good = AmazonOrder.from_api({"AmazonOrderId": "206-1", "LastUpdateDate": "2026-03-10T10:00:00Z",
                                 "OrderStatus": "Unshipped", "OrderItems": []})
    page = OrdersPage(orders=[good], invalid=[InvalidRecord("206-2", "invalid SP-API order: no LastUpdateDate",
                                                            {"AmazonOrderId": "206-2"})])
    for _ in range(2):
        with clean_db.begin() as conn:
            counts = store_orders(conn, page, fetched_at=dt.datetime.now(dt.UTC), partition_key=PARTITION)
        assert counts.quarantined == 1
    assert counts.unchanged == 1
    with clean_db.connect() as conn:
        (failure,) = conn.execute(sa.select(NormalizationFailure.__table__)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(RawAmazonOrder.__table__)).scalar() == 1
    assert (failure.source, failure.source_id, failure.occurrences) == ("amazon_sp_api", "206-2", 2)
