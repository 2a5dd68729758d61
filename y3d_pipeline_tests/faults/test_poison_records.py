"""Poison records at every stage (issue 12, item 2): values real systems emit, one per record, in a batch
with valid records. Each poison record is quarantined (``normalization_failures``) or recorded as its stage's
failure (``amazon_customizations.status``) with a reason, or stored as inert text, and every valid record of
the batch is written; no stage raises. Counts per stage go into the test report's bad-input section.

The values: .NET's ``DateTime.MaxValue`` / ``MinValue`` as dates, ids beyond bigint, money, weights and
quantities far beyond any column, lone UTF-16 surrogates (a truncated emoji, which psycopg2 cannot encode),
NUL and NaN inside Amazon Custom JSON, and wrong shapes (``"items": 5``, ``BuyerInfo`` as a string, ...).
The print-task stage (an AI quantity of three billion) is covered with the print-task tests.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
import zipfile
from collections import namedtuple
from typing import Any

import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import RawAmazonOrder, RawShipstationOrder, RawShopifyOrder
from y3d_pipeline.sources.amazon import custom as ac
from y3d_pipeline.sources.amazon.client import AmazonClient
from y3d_pipeline.sources.http import RetryPolicy
from y3d_pipeline.sources.shipstation.client import ShipStationClient
from y3d_pipeline.sources.shopify.client import ShopifyClient
from y3d_pipeline_tests.faults.conftest import record_bad_input
from y3d_pipeline_tests.local_http import LocalHttpServer, reply

MAX_VALUE = "9999-12-31T23:59:59.9999999"  # .NET DateTime.MaxValue as ShipStation writes it
MIN_VALUE = "0001-01-01T00:00:00.0000000"
BEYOND_BIGINT = 2**63
SURROGATE = "Bob \ud83d"  # the first half of 😀: what a cut-off emoji leaves
FAST = RetryPolicy(max_attempts=2, max_total_seconds=5, initial_backoff=0.01, max_backoff=0.01)
AT = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)
Row = namedtuple("Row", "shipstation_order_id source_modified_at payload")
MarketRow = namedtuple("MarketRow", "source_id source_modified_at payload")


def _failures(engine, source: str) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT source_id, reason FROM normalization_failures "
                                         "WHERE source = :s AND resolved_at IS NULL"), {"s": source}).all())


def _valid_ss_doc(sandbox) -> dict:
    now = sandbox.now()
    order = next(o for o in sandbox.state.data.ss_orders.values() if o.version_at(now) is not None
                 and len(o.items) >= 1)
    return sandbox.state.data.render_shipstation(order, now, sandbox.base_url)


def _item(doc: dict, **changes) -> list[dict]:
    return [{**doc["items"][0], **changes}, *doc["items"][1:]]


def _ss_poison(good: dict) -> dict[str, dict]:
    """ShipStation order documents, each with one poison value (ids are set by the caller)."""
    return {
        "orderDate at DateTime.MaxValue": {**good, "orderDate": MAX_VALUE},
        "modifyDate at DateTime.MaxValue": {**good, "modifyDate": MAX_VALUE},
        "shipByDate at DateTime.MinValue": {**good, "shipByDate": MIN_VALUE},
        "holdUntilDate in year 9999 (no overflow)": {**good, "holdUntilDate": "9999-12-31T00:00:00.0000000"},
        "customerId beyond bigint": {**good, "customerId": BEYOND_BIGINT},
        "orderItemId beyond bigint": {**good, "items": _item(good, orderItemId=BEYOND_BIGINT)},
        "productId beyond bigint": {**good, "items": _item(good, productId=BEYOND_BIGINT)},
        "tagIds beyond bigint": {**good, "tagIds": [BEYOND_BIGINT]},
        "storeId beyond bigint": {**good, "advancedOptions": {**good["advancedOptions"], "storeId": BEYOND_BIGINT}},
        "mergedIds beyond bigint": {**good, "advancedOptions": {**good["advancedOptions"],
                                                                "mergedIds": [BEYOND_BIGINT]}},
        "orderTotal 1e308": {**good, "orderTotal": 1e308},
        "unitPrice 1e308": {**good, "items": _item(good, unitPrice=1e308)},
        "weight 1e308": {**good, "items": _item(good, weight={"value": 1e308, "units": "ounces"})},
        "quantity three billion": {**good, "items": _item(good, quantity=3_000_000_000)},
        "items: 5": {**good, "items": 5},
        "items: [5]": {**good, "items": [5]},
        "shipTo a string": {**good, "shipTo": "somewhere"},
        "advancedOptions a list": {**good, "advancedOptions": []},
    }


# ------------------------------------------------------------------------------------------ fetch and scan


def _shipstation_page(orders: list[Any]):
    def respond(request, connection):
        reply(connection, 200, json.dumps({"orders": orders, "total": len(orders), "page": 1, "pages": 1}).encode(),
              {"Content-Type": "application/json"})
    return respond


def test_shipstation_scan_keeps_the_page_and_sets_poison_aside(sandbox):
    good = _valid_ss_doc(sandbox)
    page = [good, {**good, "orderId": BEYOND_BIGINT}, {**good, "orderId": "abc"}, {**good, "orderId": None},
            "not an order", 7, {**good, "orderId": 900_000_001, "orderDate": MAX_VALUE},
            {**good, "orderId": 900_000_002, "modifyDate": MAX_VALUE}, {**good, "orderId": 900_000_003, "items": 5},
            {**good, "orderId": 900_000_004, "customerNotes": SURROGATE}]
    with LocalHttpServer(_shipstation_page(page)) as server, \
            ShipStationClient("k" * 10, "s" * 10, base_url=server.url, retry_policy=FAST) as client:
        scan = client.list_orders(AT - dt.timedelta(days=1), AT)
    kept = {r.model.order_id: r for r in scan.records}
    assert set(kept) == {good["orderId"], 900_000_001, 900_000_002, 900_000_003, 900_000_004}
    assert kept[good["orderId"]].complete
    # Kept with their payload (normalization quarantines them with the reason), but not as complete records.
    assert not kept[900_000_001].complete and not kept[900_000_003].complete
    assert kept[900_000_002].model.modify_date is None
    assert kept[900_000_004].payload["customerNotes"] == SURROGATE
    assert len(scan.rejected) == 5 and all(r.reason and r.source_id for r in scan.rejected)
    assert str(BEYOND_BIGINT) in {r.source_id for r in scan.rejected}
    assert not any("Bob" in r.reason for r in scan.rejected), "a reason quotes the payload"
    for _ in scan.rejected:
        record_bad_input("fetch and scan", "shipstation", "quarantined")
    for _ in range(4):
        record_bad_input("fetch and scan", "shipstation", "kept for normalization to quarantine")


def _shopify_node(legacy: Any, **changes) -> dict:
    node = {"id": f"gid://shopify/Order/{legacy}", "legacyResourceId": str(legacy), "name": f"#{legacy}",
            "createdAt": "2026-03-12T09:00:00Z", "updatedAt": "2026-03-12T10:00:00Z", "cancelledAt": None,
            "currencyCode": "GBP", "totalPriceSet": {"shopMoney": {"amount": "9.99", "currencyCode": "GBP"}},
            "lineItems": {"nodes": [{"id": f"gid://shopify/LineItem/{legacy}1", "sku": "KEY-1", "name": "Keyring",
                                     "quantity": 1, "customAttributes": [{"key": "Name", "value": "Bob"}],
                                     "originalUnitPriceSet": {"shopMoney": {"amount": "9.99"}}}],
                          "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    node.update(changes)
    return node


def test_shopify_fetch_keeps_the_page_and_sets_poison_aside():
    nodes = [_shopify_node(1001), _shopify_node(99999999999999999999), _shopify_node(1003, updatedAt="9999-12-31T23:59:59Z"),
             _shopify_node(1004, lineItems=5), _shopify_node(1005, lineItems={"nodes": 5}), "not an order",
             _shopify_node(1007, name=None), _shopify_node(1008)]

    def respond(request, connection):
        body = {"data": {"orders": {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}},
                "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 5, "throttleStatus": {
                    "maximumAvailable": 2000, "currentlyAvailable": 1990, "restoreRate": 100}}}}
        reply(connection, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with LocalHttpServer(respond) as server, ShopifyClient(base_url=server.url, access_token="shpat_" + "0" * 32,
                                                           retry_policy=FAST) as client:
        orders = client.fetch_orders(AT - dt.timedelta(days=1), AT)
    assert sorted(o.legacy_resource_id for o in orders) == [1001, 1008]
    assert len(client.invalid) == 6 and all(r.reason for r in client.invalid)
    assert "99999999999999999999" in {r.source_id for r in client.invalid}
    for _ in client.invalid:
        record_bad_input("fetch and scan", "shopify", "quarantined")


def _amazon_order(order_id: str, **changes) -> dict:
    order = {"AmazonOrderId": order_id, "LastUpdateDate": "2026-03-12T10:00:00Z", "PurchaseDate": "2026-03-12T09:00:00Z",
             "OrderStatus": "Unshipped", "OrderTotal": {"CurrencyCode": "GBP", "Amount": "12.00"},
             "BuyerInfo": {"BuyerEmail": "buyer@example.com"}}
    order.update(changes)
    return order


def _amazon_item(item_id: str, **changes) -> dict:
    item = {"OrderItemId": item_id, "SellerSKU": "KEY-1", "Title": "Keyring", "QuantityOrdered": 1,
            "ItemPrice": {"Amount": "12.00", "CurrencyCode": "GBP"},
            "BuyerInfo": {"BuyerCustomizedInfo": {"CustomizedURL": f"https://zme-caps.amazon.com/{item_id}.zip"}}}
    item.update(changes)
    return item


def test_amazon_fetch_keeps_the_page_and_sets_poison_aside():
    orders = [_amazon_order("206-1"), _amazon_order("206-2", LastUpdateDate="9999-12-31T23:59:59-08:00"),
              _amazon_order("206-3", LastUpdateDate="9999-12-31T23:59:59Z"), "not an order", 5,
              _amazon_order("206-6", BuyerInfo="a string"), _amazon_order("206-7"), {"LastUpdateDate": "2026-03-12T10:00:00Z"}]

    def respond(request, connection):
        if request.path.startswith("/auth"):
            body: Any = {"access_token": "Atza|token", "expires_in": 3600}
        elif "/orderItems" in request.path:
            order_id = request.path.split("/")[4]
            items: Any = 5 if order_id == "206-7" else [_amazon_item(f"{order_id}-1")]
            body = {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}
        else:
            body = {"payload": {"Orders": orders, "LastUpdatedBefore": "2026-03-12T12:00:00Z"}}
        reply(connection, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    with LocalHttpServer(respond) as server, AmazonClient(
            client_id="amzn1.application-oa2-client.x", client_secret="secret-" * 3, refresh_token="Atzr|" + "r" * 20,
            token_url=f"{server.url}/auth/o2/token", base_url=server.url, marketplace_ids=["A1F83G8C2ARO7P"],
            retry_policy=FAST, sleep=lambda _: None) as client:
        page = client.get_orders_with_items(AT - dt.timedelta(days=1), AT)
    # BuyerInfo as a string is kept here: reconciliation quarantines it with the reason.
    assert sorted(o.amazon_order_id for o in page.orders) == ["206-1", "206-6"]
    assert len(page.invalid) == 6 and all(r.reason for r in page.invalid)
    assert "206-7" in {r.source_id for r in page.invalid}, "OrderItems: 5 must quarantine its order"
    assert not any("buyer@example.com" in r.reason for r in page.invalid)
    for _ in page.invalid:
        record_bad_input("fetch and scan", "amazon SP-API", "quarantined")
    record_bad_input("fetch and scan", "amazon SP-API", "kept for reconciliation to quarantine")


# ------------------------------------------------------------------------------------------ raw store


@pytest.mark.parametrize(("table", "key"), [(RawShipstationOrder.__table__, "shipstation_order_id"),
                                            (RawShopifyOrder.__table__, "shopify_order_id"),
                                            (RawAmazonOrder.__table__, "amazon_order_id")])
def test_raw_upsert_stores_the_batch_and_refuses_only_what_postgres_cannot_hold(table, key, clean_db):
    from y3d_pipeline.sources.raw_store import upsert_raw_records

    numeric = key != "amazon_order_id"
    ids = iter(range(700_000_001, 700_000_100)) if numeric else iter(f"206-{n}" for n in range(1, 100))

    text_column = "order_name" if key == "shopify_order_id" else "order_status"

    def row(payload: dict, **changes) -> dict:
        return {key: next(ids), "source_modified_at": AT, "payload": payload, text_column: "x", **changes}

    rows = {
        "valid": row({"note": "fine"}),
        "lone surrogate in the payload": row({"customerNotes": SURROGATE, SURROGATE: "as a key too"}),
        "NUL in the payload": row({"customerNotes": "nul\x00here"}),
        "NaN and Infinity in the payload": row({"orderTotal": float("nan"), "weight": float("inf")}),
        "1e308 in the payload": row({"orderTotal": 1e308}),
        "lone surrogate in a column": row({"x": 1}, **{text_column: SURROGATE}),
        "modification time missing": row({"x": 2}, source_modified_at=None),
    }
    if numeric:
        rows["id beyond bigint"] = row({"x": 3}, **{key: BEYOND_BIGINT})
    with clean_db.begin() as conn:
        counts = upsert_raw_records(conn, table, list(rows.values()), fetched_at=AT)
    with clean_db.connect() as conn:
        stored = {r[0]: r[1] for r in conn.execute(sa.select(table.c[key], table.c.payload))}
    refused = {r.source_id: r.reason for r in counts.refused}
    for name, value in rows.items():
        if name in ("modification time missing", "id beyond bigint"):
            assert str(value[key]) in refused and "cannot be stored" in refused[str(value[key])], name
            record_bad_input("raw store", table.name, "refused and quarantined by the caller")
        else:
            assert value[key] in stored, f"{name}: not stored"
            if name != "valid":
                record_bad_input("raw store", table.name, "stored as inert text")
    surrogate_row = stored[rows["lone surrogate in the payload"][key]]
    assert surrogate_row["customerNotes"] == "Bob \ufffd"
    assert stored[rows["NaN and Infinity in the payload"][key]]["orderTotal"] == "nan"


# ------------------------------------------------------------------------------------------ normalization


def test_normalization_quarantines_each_poison_order_and_writes_the_rest(sandbox, clean_db):
    from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_rows

    good = _valid_ss_doc(sandbox)
    poison = _ss_poison(good)
    poison["lone surrogate in notes and options"] = {
        **good, "customerNotes": SURROGATE,
        "items": _item(good, options=[{"name": "Name", "value": SURROGATE}])}
    rows = [Row(good["orderId"], AT, good)]
    ids = {}
    for n, (name, doc) in enumerate(poison.items()):
        ids[name] = 810_000_000 + n
        item_ids = {"orderItemId": BEYOND_BIGINT} if name == "orderItemId beyond bigint" else \
            {"orderItemId": 910_000_000 + n}
        items = doc["items"]
        if isinstance(items, list) and items and isinstance(items[0], dict):
            items = [{**items[0], **item_ids}]
        rows.append(Row(ids[name], AT, {**doc, "orderId": ids[name], "items": items}))
    report = normalize_shipstation_rows(clean_db, rows, stores={})
    with clean_db.connect() as conn:
        orders = dict(conn.execute(sa.text("SELECT shipstation_order_id, customer_notes FROM orders")).all())
    failures = _failures(clean_db, "shipstation")
    assert good["orderId"] in orders, "the valid order was lost"
    for name, order_id in ids.items():
        if name == "lone surrogate in notes and options":
            assert orders.get(order_id) == "Bob \ufffd", "the broken character must stay visible"
            record_bad_input("normalization", "shipstation", "stored as inert text (U+FFFD)")
            continue
        assert order_id not in orders, f"{name}: written instead of quarantined"
        assert failures.get(str(order_id)), f"{name}: not quarantined with a reason"
        record_bad_input("normalization", "shipstation", "quarantined")
    assert report.quarantined == len(poison) - 1
    assert "9999" in failures[str(ids["orderDate at DateTime.MaxValue"])]


def test_write_isolating_sets_aside_exactly_the_records_postgres_refuses(clean_db):
    """Defence in depth behind the validations: whatever value still reaches PostgreSQL and is refused costs
    only its own record, with what PostgreSQL said; the rest of the batch is written in the same transaction."""
    from y3d_pipeline.db.storable import write_isolating

    rows = [{"id": n, "small": 40_000 if n in (7, 23) else n, "text": SURROGATE if n == 31 else "ok"}
            for n in range(40)]
    with clean_db.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE poison_probe (id int PRIMARY KEY, small smallint, text text) "
                             "ON COMMIT DROP"))
        statements = []

        def write(chunk):
            statements.append(len(chunk))
            conn.execute(sa.text("INSERT INTO poison_probe VALUES (:id, :small, :text)"), list(chunk))
            return len(chunk)

        written, refused = write_isolating(conn, rows, write)
        stored = {r[0] for r in conn.execute(sa.text("SELECT id FROM poison_probe"))}
    assert sorted(row["id"] for row, _ in refused) == [7, 23, 31]
    assert stored == set(range(40)) - {7, 23, 31} and sum(written) == 37
    assert {reason for _, reason in refused} >= {"cannot be stored: NumericValueOutOfRange: smallint out of range"}
    assert len(statements) < 40, "bisection, not one statement per row"
    for _ in refused:
        record_bad_input("normalization", "any batch writer", "refused by PostgreSQL, isolated and quarantined")


# ------------------------------------------------------------------------------------------ reconciliation


def _shopify_payload(legacy: Any, **changes) -> dict:
    payload = _shopify_node(legacy)
    payload["lineItems"] = {"nodes": payload["lineItems"]["nodes"]}
    payload.update(changes)
    return payload


SHOPIFY_POISON = {
    "legacyResourceId beyond bigint": _shopify_payload(99999999999999999999),
    "updatedAt in year 9999": _shopify_payload(2, updatedAt="9999-12-31T23:59:59Z"),
    "createdAt at DateTime.MinValue with an offset": _shopify_payload(3, createdAt="0001-01-01T00:00:00+05:00"),
    "lineItems: 5": _shopify_payload(4, lineItems=5),
    "lineItems.nodes: [5]": _shopify_payload(5, lineItems={"nodes": [5]}),
    "shippingAddress a string": _shopify_payload(6, shippingAddress="a string"),
    "customer a number": _shopify_payload(7, customer=7),
    "quantity three billion": _shopify_payload(8, lineItems={"nodes": [{**_shopify_node(8)["lineItems"]["nodes"][0],
                                                                        "quantity": 3_000_000_000}]}),
    "total 1e308": _shopify_payload(9, totalPriceSet={"shopMoney": {"amount": "1e308"}}),
    "total NaN": _shopify_payload(10, totalPriceSet={"shopMoney": {"amount": "NaN"}}),
    "shopMoney a string": _shopify_payload(11, totalPriceSet={"shopMoney": "9.99"}),
    "customAttributes: 5": _shopify_payload(12, lineItems={"nodes": [{**_shopify_node(12)["lineItems"]["nodes"][0],
                                                                      "customAttributes": 5}]}),
}
AMAZON_POISON = {
    "BuyerInfo a string": _amazon_order("206-2", BuyerInfo="a string"),
    "OrderItems: 5": _amazon_order("206-3", OrderItems=5),
    "OrderItems: [5]": _amazon_order("206-4", OrderItems=[5]),
    "item BuyerInfo a string": _amazon_order("206-5", OrderItems=[_amazon_item("5", BuyerInfo="a string")]),
    "BuyerCustomizedInfo a list": _amazon_order("206-6", OrderItems=[_amazon_item("6", BuyerInfo={
        "BuyerCustomizedInfo": ["x"]})]),
    "QuantityOrdered three billion": _amazon_order("206-7", OrderItems=[_amazon_item("7", QuantityOrdered=3_000_000_000)]),
    "OrderTotal 1e308": _amazon_order("206-8", OrderTotal={"Amount": "1E308", "CurrencyCode": "GBP"}),
    "ItemPrice NaN": _amazon_order("206-9", OrderItems=[_amazon_item("9", ItemPrice={"Amount": "NaN"})]),
    "LastUpdateDate in year 9999": _amazon_order("206-10", LastUpdateDate="9999-12-31T23:59:59Z"),
    "PurchaseDate overflowing UTC": _amazon_order("206-11", PurchaseDate="9999-12-31T23:59:59-08:00"),
    "OrderTotal a string": _amazon_order("206-12", OrderTotal="12.00"),
}


@pytest.mark.parametrize("source", ["shopify", "amazon"])
def test_reconciliation_quarantines_each_poison_order_and_writes_the_rest(source, clean_db):
    from y3d_pipeline.normalized.reconcile.window import reconcile_rows

    if source == "shopify":
        good = MarketRow("1001", AT, _shopify_payload(1001))
        rows = [good] + [MarketRow(str(p["legacyResourceId"]), AT, p) for p in SHOPIFY_POISON.values()]
        column, poison = "shopify_order_id", SHOPIFY_POISON
    else:
        good = MarketRow("206-1", AT, {**_amazon_order("206-1"), "OrderItems": [_amazon_item("1")]})
        rows = [good] + [MarketRow(p["AmazonOrderId"], AT, p) for p in AMAZON_POISON.values()]
        column, poison = "amazon_order_id", AMAZON_POISON
    report = reconcile_rows(clean_db, source, rows)
    with clean_db.connect() as conn:
        orders = sa.table("orders", sa.column(column))
        written = {str(r[0]) for r in conn.execute(sa.select(orders.c[column]).where(orders.c[column].is_not(None)))}
    failures = _failures(clean_db, source)
    assert good.source_id in written, "the valid marketplace order was lost"
    for row in rows[1:]:
        assert row.source_id not in written and failures.get(row.source_id), row.source_id
        record_bad_input("reconciliation", source, "quarantined")
    assert report.quarantined == len(poison)


# ------------------------------------------------------------------------------------------ candidate collection


def test_candidate_collection_skips_wrong_shapes_and_finds_the_rest(clean_db):
    from y3d_pipeline.sources.amazon.custom.candidates import collect_candidates
    from y3d_pipeline.sources.raw_store import upsert_raw_records

    url = "https://zme-caps.amazon.com/{}.zip"
    ss_item = {"lineItemKey": "111", "options": [{"name": "CustomizedURL", "value": url.format(111)}]}
    shipstation = {
        "valid": {"orderNumber": "206-1", "items": [ss_item]},
        "items: 5": {"orderNumber": "206-2", "items": 5},
        "items: [5]": {"orderNumber": "206-3", "items": [5]},
        "options a string": {"orderNumber": "206-4", "items": [{**ss_item, "options": "CustomizedURL"}]},
        "lineItemKey an object": {"orderNumber": "206-5", "items": [{**ss_item, "lineItemKey": {"a": 1}}]},
        "orderNumber a list": {"orderNumber": ["206-6"], "items": [ss_item]},
        "URL a number": {"orderNumber": "206-7", "items": [{**ss_item, "options": [{"name": "CustomizedURL",
                                                                                     "value": 5}]}]},
    }
    sp_api = {
        "valid": {**_amazon_order("206-10"), "OrderItems": [_amazon_item("222")]},
        "OrderItems: 5": {**_amazon_order("206-11"), "OrderItems": 5},
        "item BuyerInfo a string": {**_amazon_order("206-12"), "OrderItems": [_amazon_item("223", BuyerInfo="x")]},
        "BuyerCustomizedInfo: 5": {**_amazon_order("206-13"), "OrderItems": [_amazon_item(
            "224", BuyerInfo={"BuyerCustomizedInfo": 5})]},
        "CustomizedURL a list": {**_amazon_order("206-14"), "OrderItems": [_amazon_item(
            "225", BuyerInfo={"BuyerCustomizedInfo": {"CustomizedURL": ["x"]}})]},
        "OrderItemId an object": {**_amazon_order("206-15"), "OrderItems": [_amazon_item("226", OrderItemId={})]},
    }
    with clean_db.begin() as conn:
        upsert_raw_records(conn, RawShipstationOrder.__table__, [
            {"shipstation_order_id": 730_000_000 + n, "source_modified_at": AT, "payload": p}
            for n, p in enumerate(shipstation.values())], fetched_at=AT)
        upsert_raw_records(conn, RawAmazonOrder.__table__, [
            {"amazon_order_id": p["AmazonOrderId"], "source_modified_at": AT, "payload": p}
            for p in sp_api.values()], fetched_at=AT)
    with clean_db.connect() as conn:
        candidates, _ = collect_candidates(conn, AT - dt.timedelta(hours=1), AT + dt.timedelta(hours=1))
    assert sorted((c.amazon_order_id, c.amazon_order_item_id) for c in candidates) == [("206-1", "111"),
                                                                                        ("206-10", "222")]
    for _ in range(len(shipstation) + len(sp_api) - 2):
        record_bad_input("candidate collection", "shipstation + SP-API payloads",
                         "skipped (the order itself is quarantined by normalization / reconciliation)")


# ------------------------------------------------------------------------------------------ customization store


def _zip(document: bytes | str, name: str = "111.json") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, document)
    return buffer.getvalue()


def _aspects(text: str, extra: str = "") -> str:
    """An aspects-layout document with ``text`` as the raw JSON of the Name text and ``extra`` raw members."""
    return ('{"customizationInfo": {"aspects": [{"title": "Name", "text": {"value": ' + text
            + '}, "font": {"value": "Arial"}}]}' + extra + '}')


CUSTOM_POISON = {  # name -> (zip JSON, expected status)
    "NaN as the text": (_aspects("NaN"), "failed"),
    "Infinity in a field": (_aspects('"Ada"', ', "size": Infinity'), "failed"),
    "NUL inside the text": (_aspects('"Bo\\u0000b"'), "failed"),
    "lone surrogate in the text": (_aspects('"Bob \\ud83d"'), "failed"),
    "lone surrogate as a JSON key": (_aspects('"Ada"', ', "\\ud83d": 1'), "processed"),
    "NUL in a field nobody prints": (_aspects('"Ada"', ', "note": "x\\u0000y"'), "processed"),
    "deeply nested": ("[" * 100_000 + "]" * 100_000, "failed"),
    "a number as the text": (_aspects("12"), "processed"),
    "text an object (no text: print tasks flag it)": (_aspects('{"a": 1}'), "processed"),
}


def test_customization_store_records_each_poison_file_and_stores_the_rest(clean_db):
    from y3d_pipeline.sources.amazon.custom.candidates import Candidate
    from y3d_pipeline.sources.amazon.custom.store import sync_customizations

    files = {"good": _zip(_aspects('"Ada"')), **{name: _zip(doc) for name, (doc, _) in CUSTOM_POISON.items()}}
    names = list(files)

    def respond(request, connection):
        reply(connection, 200, files[names[int(request.path.strip("/").split(".")[0])]])

    policy = ac.DownloadPolicy.from_settings(("127.0.0.1",), allow_http=True, retry_policy=FAST)
    with LocalHttpServer(respond) as server, ac.make_http_client(policy) as http:
        candidates = [Candidate(f"206-{n}", "111", f"{server.url}/{n}.zip", "sp_api") for n in range(len(names))]
        candidates.append(Candidate("206-boom", "111", f"{server.url}/0.zip", "sp_api"))

        def fetch(candidate: Candidate) -> ac.FetchedCustomization:
            if candidate.amazon_order_id == "206-boom":  # an error nobody foresaw, inside one fetch
                raise KeyError("unforeseen")
            return ac.fetch_customization(candidate.url, policy, order_item_id="111", client=http)

        report = sync_customizations(clean_db, candidates, fetch, partition_key="2026-03-12")
    with clean_db.connect() as conn:
        rows = {r.amazon_order_id: r for r in conn.execute(sa.text(
            "SELECT amazon_order_id, status, error, custom_text, raw_json FROM amazon_customizations"))}
    assert len(rows) == len(candidates), "an attempt left no row"
    assert rows["206-0"].status == "processed" and rows["206-0"].custom_text == "Ada"
    for n, name in enumerate(names[1:], start=1):
        row = rows[f"206-{n}"]
        expected = CUSTOM_POISON[name][1]
        assert row.status == expected, (name, row.status, row.error)
        if expected == "processed":
            assert "\x00" not in json.dumps(row.raw_json)
            record_bad_input("customization store", "amazon custom JSON", "stored as inert text")
        else:
            assert row.error, name
            assert row.custom_text is None
            record_bad_input("customization store", "amazon custom JSON", "failed with a reason")
    assert rows["206-boom"].status == "failed" and "KeyError" in rows["206-boom"].error
    record_bad_input("customization store", "amazon custom JSON", "failed with a reason")
    assert report.processed == 1 + sum(1 for _, s in CUSTOM_POISON.values() if s == "processed")


# ------------------------------------------------------------------------------------------ through the assets


def test_poison_shipstation_orders_through_the_assets(fresh_sandbox, run_orders, clean_db):
    """A real day over HTTP: the orders of the day carry the poison values; the sync and the normalization
    succeed, the poison orders are quarantined with reasons and every other order of the day is written."""
    start = dt.datetime(2026, 3, 12, tzinfo=dt.UTC)
    now = fresh_sandbox.now()
    day = sorted(int(oid) for oid, o in fresh_sandbox.state.data.ss_orders.items()
                 if (v := o.version_at(now)) is not None and start <= v.ss_at < start + dt.timedelta(days=1))
    good = _valid_ss_doc(fresh_sandbox)
    poison = {name: {k: v for k, v in doc.items() if k != "modifyDate" and doc.get(k) != good.get(k)}
              for name, doc in _ss_poison(good).items() if name != "modifyDate at DateTime.MaxValue"}
    poison["orderId beyond bigint"] = {"replace": {**good, "orderId": BEYOND_BIGINT + 5}}
    poison["customerNotes with a lone surrogate"] = {"customerNotes": SURROGATE}
    assert len(day) > len(poison) + 5
    hostile = {}
    for order_id, (name, patch) in zip(day, poison.items(), strict=False):
        if "items" in patch and isinstance(patch["items"], list) and patch["items"] \
                and isinstance(patch["items"][0], dict):
            sandbox_order = next(o for oid, o in fresh_sandbox.state.data.ss_orders.items() if int(oid) == order_id)
            rendered = fresh_sandbox.state.data.render_shipstation(sandbox_order, now, fresh_sandbox.base_url)
            changed = {k: v for k, v in patch["items"][0].items() if good["items"][0].get(k) != v}
            patch = {"items": [{**rendered["items"][0], **changed}, *rendered["items"][1:]]}
        fresh_sandbox.mutate_order(order_id, patch=patch)
        hostile[order_id] = name
    # The poisoned versions are dated at the sandbox clock; the rest of the day stays on its own partition.
    result = run_orders(fresh_sandbox.now().date().isoformat(), raise_on_error=False, page_size=50)
    assert result.success, "a poison record failed the partition"
    assert run_orders("2026-03-12", page_size=50).success
    with clean_db.connect() as conn:
        stored = {r[0]: r[1] for r in conn.execute(sa.text("SELECT shipstation_order_id, customer_notes FROM orders"))}
    failures = _failures(clean_db, "shipstation")
    assert set(day) - set(hostile) <= set(stored), "valid orders of the day were lost"
    for order_id, name in hostile.items():
        if name == "customerNotes with a lone surrogate":
            assert stored[order_id] == "Bob \ufffd"
            record_bad_input("normalization", "shipstation (HTTP, assets)", "stored as inert text (U+FFFD)")
        elif name == "orderId beyond bigint":
            assert str(BEYOND_BIGINT + 5) in failures, "the unstorable id was not quarantined at the fetch"
            record_bad_input("fetch and scan", "shipstation (HTTP, assets)", "quarantined")
        else:
            assert order_id not in stored and failures.get(str(order_id)), name
            record_bad_input("normalization", "shipstation (HTTP, assets)", "quarantined")


def test_customizations_download_at_once_and_are_recorded_as_one_at_a_time_would(clean_db):
    """Downloads overlap (up to ``concurrency``), over real HTTP with a slow file host; what is recorded follows the
    candidates' order (problems listed in that order, a failure among them kept with its reason)."""
    from y3d_pipeline.sources.amazon.custom.candidates import Candidate
    from y3d_pipeline.sources.amazon.custom.store import sync_customizations

    in_flight, most = [0], [0]
    lock = threading.Lock()

    def respond(request, connection):
        number = int(request.path.strip("/").split(".")[0])
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        if number % 7 == 3:
            reply(connection, 200, b"not a zip")
        else:
            reply(connection, 200, _zip(_aspects(f'"Name {number}"')))

    policy = ac.DownloadPolicy.from_settings(("127.0.0.1",), allow_http=True, retry_policy=FAST)
    with LocalHttpServer(respond) as server, ac.make_http_client(policy) as http:
        candidates = [Candidate(f"206-{n:02d}", "111", f"{server.url}/{n}.zip", "sp_api") for n in range(40)]
        report = sync_customizations(
            clean_db, candidates, lambda c: ac.fetch_customization(c.url, policy, order_item_id="111", client=http),
            partition_key="2026-03-12", concurrency=4)
    assert most[0] == 4  # never more than asked for, and more than one at a time
    failed = [f"206-{n:02d}" for n in range(40) if n % 7 == 3]
    assert [p["amazon_order_id"] for p in report.problems] == failed
    assert (report.processed, report.rejected + report.failed) == (40 - len(failed), len(failed))
    with clean_db.connect() as conn:
        texts = dict(conn.execute(sa.text("SELECT amazon_order_id, custom_text FROM amazon_customizations")).all())
    assert texts == {f"206-{n:02d}": None if n % 7 == 3 else f"Name {n}" for n in range(40)}
