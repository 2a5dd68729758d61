"""The catalogue's clients against the local sandbox over real HTTP, and its store on real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import sqlalchemy as sa

from y3d_pipeline.sandbox.catalogue import SOLD_OUT
from y3d_pipeline.sources.http import ApiError, RetryPolicy
from y3d_pipeline.sources.shipstation.client import ShipStationClient
from y3d_pipeline.sources.shipstation_catalogue import store
from y3d_pipeline.sources.shipstation_catalogue.client import ShipStationV2Client

NOW = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)


def v2(sandbox, **kwargs) -> ShipStationV2Client:
    env = sandbox.env()
    kwargs.setdefault("sleep", lambda seconds: sandbox.advance_clock(seconds))
    kwargs.setdefault("retry_policy", RetryPolicy(initial_backoff=0.01, max_backoff=0.05))
    return ShipStationV2Client(env["SHIPSTATION_V2_API_KEY"], base_url=env["SHIPSTATION_V2_BASE_URL"], **kwargs)


def v1(sandbox, **kwargs) -> ShipStationClient:
    env = sandbox.env()
    kwargs.setdefault("sleep", lambda seconds: None)
    return ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                             base_url=env["SHIPSTATION_BASE_URL"], **kwargs)


def test_v2_pages_follow_next_links_and_return_every_level_once(fresh_sandbox):
    truth = fresh_sandbox.state.catalogue.levels()
    with v2(fresh_sandbox, page_size=4) as client:
        scan = client.list_inventory_levels()
        warehouses = client.list_inventory_warehouses()
        locations = client.list_inventory_locations()
    assert scan.pages == -(-len(truth) // 4) and scan.complete and not scan.rejected
    assert sorted(r.model.source_id for r in scan.records) == sorted(f"{t['sku']}@{t['inventory_location_id']}"
                                                                    for t in truth)
    assert [w.model.inventory_warehouse_id for w in warehouses.records] == ["se-4401"]
    assert {loc.model.inventory_warehouse_id for loc in locations.records} == {"se-4401"}
    sent = fresh_sandbox.requests("shipstation_v2")
    assert sent[0]["query"] == "page_size=4" and "page=2" in sent[1]["query"]  # then the links
    # The key travels in the API-Key header only.
    assert all("ssv2-sandbox-key" not in (e["query"] + e["path"]) for e in sent)


def test_v2_rate_limit_pauses_before_the_window_is_used_up_and_429_waits_retry_after(fresh_sandbox):
    fresh_sandbox.set_rate_limit_scale(0.02)  # 4 requests a minute
    with v2(fresh_sandbox, page_size=3) as client:
        scan = client.list_inventory_levels()
        assert client.rate_limit == 4
    assert scan.complete and client.stats.throttle_pauses >= 1 and client.stats.rate_limited == 0
    fresh_sandbox.set_rate_limit_scale(1000)
    fresh_sandbox.set_faults("shipstation_v2", "429", count=2, match="/v2/inventory")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        fresh_sandbox.advance_clock(seconds)

    with v2(fresh_sandbox, sleep=sleep) as client:
        assert client.list_inventory_levels().complete
    assert client.stats.rate_limited == 2 and waits == [1.0, 1.0]  # the Retry-After hint


def test_v2_errors_are_named_without_the_key(fresh_sandbox):
    fresh_sandbox.set_faults("shipstation_v2", "403", count=1, match="/v2/inventory")
    with v2(fresh_sandbox) as client, pytest.raises(ApiError) as raised:
        client.list_inventory_levels()
    assert raised.value.status == 403 and "GET /" in str(raised.value) and "ssv2-sandbox-key" not in str(raised.value)
    fresh_sandbox.set_faults("shipstation_v2", "503", count=2)
    with v2(fresh_sandbox) as client:
        assert client.list_inventory_warehouses().records  # retried
    env = fresh_sandbox.env()
    with ShipStationV2Client("wrong-key", base_url=env["SHIPSTATION_V2_BASE_URL"]) as client, \
            pytest.raises(ApiError) as raised:
        client.list_inventory_locations()
    assert raised.value.status == 401


def test_a_next_link_to_another_host_is_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"inventory": [], "total": 5, "links": {
            "next": {"href": "https://evil.example/v2/inventory?page=2"}}})

    with ShipStationV2Client("k" * 20, base_url="https://api.shipstation.com/v2",
                             transport=httpx.MockTransport(handler)) as client, pytest.raises(ApiError) as raised:
        client.list_inventory_levels()
    assert "another host" in str(raised.value)


def test_v1_products_and_warehouses(fresh_sandbox):
    with v1(fresh_sandbox, page_size=5) as client:
        products = client.list_products()
        warehouses = client.list_warehouses()
    skus = {p.model.sku for p in products.records}
    assert products.complete and products.pages == -(-len(skus) // 5)
    assert "Y3D-KEY-NAME-S" in skus and len(skus) == len(products.records)
    assert warehouses[0].model.warehouse_id == 501001 and warehouses[0].model.is_default


def _sync(engine, sandbox, run_id: str) -> store.LevelsWritten:
    with v2(sandbox) as client:
        scan = client.list_inventory_levels()
    with engine.begin() as conn:
        store.store_raw(conn, "inventory_level", [(r.model.source_id, None, r.payload) for r in scan.records],
                        fetched_at=NOW)
        return store.sync_inventory_levels(conn, scan.records, complete=scan.complete, synced_at=NOW, run_id=run_id)


def test_store_is_idempotent_and_records_each_change_once(fresh_sandbox, clean_db):
    first = _sync(clean_db, fresh_sandbox, "run-1")
    total = len(fresh_sandbox.state.catalogue.levels())
    assert (first.new, first.changed, first.history_rows) == (total, 0, total)
    snapshot = lambda: sorted(clean_db.connect().execute(sa.text(  # noqa: E731
        "SELECT sku, inventory_location_id, on_hand, allocated, available, updated_at FROM inventory_levels")).all())
    before = snapshot()
    again = _sync(clean_db, fresh_sandbox, "run-2")
    assert (again.new, again.changed, again.unchanged, again.history_rows) == (0, 0, total, 0)
    assert snapshot() == before  # untouched, updated_at included
    with v2(fresh_sandbox) as client:  # the raw payloads too: the same fetch again changes nothing
        records = [(r.model.source_id, None, r.payload) for r in client.list_inventory_levels().records]
    with clean_db.begin() as conn:
        raw = store.store_raw(conn, "inventory_level", records, fetched_at=NOW + dt.timedelta(minutes=30))
    assert (raw.new, raw.changed, raw.unchanged) == (0, 0, total)

    fresh_sandbox.state.catalogue.set_level("Y3D-KEY-NAME-S", "se-loc-1101", on_hand=0)
    fresh_sandbox.state.catalogue._levels.pop(("BLANK-KEYRING-50MM", "se-loc-1101"))
    third = _sync(clean_db, fresh_sandbox, "run-3")
    assert (third.changed, third.removed, third.history_rows) == (1, 1, 2)
    with clean_db.connect() as conn:
        history = conn.execute(sa.text("SELECT sku, change, new_available, run_id FROM inventory_level_history "
                                       "WHERE run_id = 'run-3' ORDER BY sku")).all()
        sold_out = dict(conn.execute(sa.text("SELECT sku, sum(available) FROM inventory_levels "
                                             "WHERE available <= 0 GROUP BY sku")).all())
    assert history == [("BLANK-KEYRING-50MM", "removed", None, "run-3"), ("Y3D-KEY-NAME-S", "changed", 0, "run-3")]
    assert set(sold_out) == set(SOLD_OUT) | {"Y3D-KEY-NAME-S"}


def test_incomplete_read_removes_nothing_and_impossible_levels_are_found(fresh_sandbox, clean_db):
    _sync(clean_db, fresh_sandbox, "run-1")
    with v2(fresh_sandbox) as client:
        scan = client.list_inventory_levels()
    with clean_db.begin() as conn:
        partial = store.sync_inventory_levels(conn, scan.records[:3], complete=False, synced_at=NOW, run_id="x")
        assert partial.removed == 0 and partial.removal_skipped
        assert store.stock_findings(conn) == []
    fresh_sandbox.state.catalogue.set_level("BLANK-KEYRING-40MM", "se-loc-1101", on_hand=5, allocated=0, available=9)
    fresh_sandbox.state.catalogue.set_level("BASE-SIGN-OAK-200", "se-loc-1102", on_hand=-2, allocated=0)
    _sync(clean_db, fresh_sandbox, "run-2")
    with clean_db.connect() as conn:
        found = {(f["sku"], f["problem"]) for f in store.stock_findings(conn)}
    assert found == {("BLANK-KEYRING-40MM", "available exceeds on hand"), ("BASE-SIGN-OAK-200", "negative quantity")}


def test_catalogue_enriches_products_by_sku_without_taking_names(fresh_sandbox, clean_db):
    with clean_db.begin() as conn:
        conn.execute(sa.text("INSERT INTO products (sku, name, name_is_placeholder) VALUES "
                             "('Y3D-KEY-NAME-S', 'Name keyring (from orders)', false), "
                             "('Y3D-BKM-M', 'Y3D-BKM-M', true)"))
    with v1(fresh_sandbox) as client:
        products = client.list_products().records
    with clean_db.begin() as conn:
        first = store.upsert_catalogue_products(conn, products)
    with clean_db.begin() as conn:
        again = store.upsert_catalogue_products(conn, products)
    assert first.new == len(products) - 2 and first.changed == 2
    assert (again.new, again.changed, again.unchanged) == (0, 0, len(products))
    with clean_db.connect() as conn:
        rows = {r.sku: r for r in conn.execute(sa.text("SELECT sku, name, price, category, active FROM products"))}
    assert rows["Y3D-KEY-NAME-S"].name == "Name keyring (from orders)"  # a real name stays
    assert rows["Y3D-BKM-M"].name == "Personalised Bookmark - Medium"  # a placeholder is replaced
    assert rows["Y3D-KEY-NAME-S"].price is not None and rows["Y3D-KEY-NAME-S"].category == "keyring"
