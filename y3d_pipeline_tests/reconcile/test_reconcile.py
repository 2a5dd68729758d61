"""Reconciliation of Shopify / Amazon orders with ShipStation orders on real PostgreSQL (raw rows inserted)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import RawAmazonOrder, RawShipstationOrder, RawShopifyOrder
from y3d_pipeline.normalized.reconcile.marketplace import Invalid, map_amazon, map_shopify, merge_options
from y3d_pipeline.normalized.reconcile.window import reconcile_window
from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_window, partition_key_clamp
from y3d_pipeline.sources.raw_store import upsert_raw_records
from y3d_pipeline.sources.shipstation.records import parse_pacific

UTC = dt.UTC
WINDOW = (dt.datetime(2026, 3, 7, 23, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC))
DAY2 = (dt.datetime(2026, 3, 8, 23, tzinfo=UTC), dt.datetime(2026, 3, 10, tzinfo=UTC))
AMAZON_ID = "205-1234567-7654321"
IDS = ("id", "order_id", "order_item_id", "customer_id", "product_id", "tag_id", "updated_at", "created_at")


# ------------------------------------------------------------------------------------------ raw records


def ss_item(item_id: int, key: str | None, sku: str | None = "KEY-1", options=None, price: float = 6.99,
            quantity: int = 1) -> dict:
    return {"orderItemId": item_id, "lineItemKey": key, "sku": sku, "name": "Name Keyring", "quantity": quantity,
            "unitPrice": price, "options": options if options is not None else [], "productId": None,
            "adjustment": False}


def ss_order(order_id: int, number: str, source: str, items: list[dict], *, modify: str = "2026-03-08T04:00:00.0000000",
             status: str = "awaiting_shipment", parent: int | None = None, split: bool = False) -> dict:
    return {
        "orderId": order_id, "orderNumber": number, "orderKey": f"key-{number}",
        "orderDate": "2026-03-08T01:30:00.0000000", "createDate": "2026-03-08T01:40:00.0000000",
        "modifyDate": modify, "paymentDate": "2026-03-08T01:30:00.0000000",
        "shipByDate": "2026-03-11T01:30:00.0000000", "orderStatus": status,
        "customerId": 7000 + order_id % 1000, "customerUsername": "mia", "customerEmail": "mia@example.org",
        "billTo": {"name": "Mia Smith"},
        "shipTo": {"name": "Mia Smith", "street1": "1 High St", "city": "York", "postalCode": "YO1 7HH",
                   "country": "GB", "residential": True},
        "items": items, "orderTotal": 20.0, "amountPaid": 20.0, "taxAmount": 3.33, "shippingAmount": 2.5,
        "tagIds": [21001], "carrierCode": "royal_mail", "serviceCode": "rm_24",
        "advancedOptions": {"storeId": None, "source": source, "mergedOrSplit": split, "mergedIds": [],
                            "parentId": parent},
    }


def shopify_line(legacy: int, sku: str | None = "KEY-1", attributes=None, price: str = "7.49", quantity: int = 1):
    return {"id": f"gid://shopify/LineItem/{legacy}", "sku": sku, "name": "Name Keyring", "quantity": quantity,
            "customAttributes": attributes if attributes is not None else [],
            "originalUnitPriceSet": {"shopMoney": {"amount": price, "currencyCode": "GBP"}}}


def shopify_order(legacy: int, number: str, lines: list[dict], *, updated: str = "2026-03-08T10:00:00Z",
                  total: str = "21.00") -> dict:
    return {"id": f"gid://shopify/Order/{legacy}", "legacyResourceId": str(legacy), "name": f"#{number}",
            "createdAt": "2026-03-08T09:30:00Z", "updatedAt": updated, "cancelledAt": None,
            "displayFinancialStatus": "PAID", "displayFulfillmentStatus": "UNFULFILLED",
            "email": "Mia@Example.org", "currencyCode": "GBP",
            "totalPriceSet": {"shopMoney": {"amount": total, "currencyCode": "GBP"}},
            "lineItems": {"nodes": lines}}


def amazon_item(item_id: str, sku: str | None = "KEY-1", url: str | None = None, price: str | None = "13.98",
                quantity: int = 2) -> dict:
    body = {"OrderItemId": item_id, "SellerSKU": sku, "Title": "Name Keyring", "QuantityOrdered": quantity}
    if price is not None:
        body["ItemPrice"] = {"CurrencyCode": "GBP", "Amount": price}
    if url:
        body["BuyerInfo"] = {"BuyerCustomizedInfo": {"CustomizedURL": url}}
    return body


def amazon_order(order_id: str, items: list[dict], *, updated: str = "2026-03-08T10:00:00Z",
                 status: str = "Unshipped", total: str | None = "22.00") -> dict:
    body = {"AmazonOrderId": order_id, "PurchaseDate": "2026-03-08T09:00:00Z", "LastUpdateDate": updated,
            "OrderStatus": status, "LatestShipDate": "2026-03-11T09:00:00Z", "ShipServiceLevel": "Std UK Dom_1",
            "OrderItems": items}
    if total is not None:
        body["OrderTotal"] = {"CurrencyCode": "GBP", "Amount": total}
    return body


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def load_ss(engine, *payloads: dict) -> None:
    rows = [{"shipstation_order_id": p["orderId"], "order_number": p["orderNumber"], "order_key": p["orderKey"],
             "order_status": p["orderStatus"], "source_modified_at": parse_pacific(p["modifyDate"]), "payload": p}
            for p in payloads]
    with engine.begin() as conn:
        upsert_raw_records(conn, RawShipstationOrder.__table__, rows, fetched_at=dt.datetime.now(UTC))


def load_shopify(engine, *payloads: dict) -> None:
    rows = [{"shopify_order_id": int(p["legacyResourceId"]), "order_name": p["name"],
             "source_modified_at": _ts(p["updatedAt"]), "payload": p} for p in payloads]
    with engine.begin() as conn:
        upsert_raw_records(conn, RawShopifyOrder.__table__, rows, fetched_at=dt.datetime.now(UTC))


def load_amazon(engine, *payloads: dict) -> None:
    rows = [{"amazon_order_id": p["AmazonOrderId"], "order_status": p["OrderStatus"],
             "source_modified_at": _ts(p["LastUpdateDate"]), "payload": p} for p in payloads]
    with engine.begin() as conn:
        upsert_raw_records(conn, RawAmazonOrder.__table__, rows, fetched_at=dt.datetime.now(UTC))


def run(engine, window=WINDOW):
    """What the normalization asset does: ShipStation normalization, then reconciliation, same window."""
    key_for = partition_key_clamp(UTC, [window[0].date().isoformat()])
    normalize_shipstation_window(engine, *window, partition_key_for=key_for)
    return reconcile_window(engine, *window, partition_key_for=key_for)


def table(engine, name: str, *, drop=("updated_at",)) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1, 2")).mappings().all()  # noqa: S608
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def snapshot(engine, drop=("updated_at",)) -> dict[str, list[dict]]:
    return {name: table(engine, name, drop=drop) for name in ("orders", "order_items", "print_tasks", "order_tags")}


def one(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).mappings().one()


def all_rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).mappings().all())


# ------------------------------------------------------------------------------------------ plain units


def test_map_shopify_and_amazon():
    shop = map_shopify(shopify_order(6200, "1001", [shopify_line(14001, attributes=[{"key": "Name", "value": "Mia"}])]))
    assert (shop.order_number, shop.marketplace, shop.source_order_id) == ("1001", "web", 6200)
    assert shop.items[0].item_id == "14001" and shop.items[0].options == [{"name": "Name", "value": "Mia"}]
    assert shop.items[0].unit_price == Decimal("7.49") and shop.customer_email == "mia@example.org"
    amz = map_amazon(amazon_order(AMAZON_ID, [amazon_item("111", url="https://x/a.zip")], status="Pending",
                                  total=None))
    assert (amz.status, amz.order_total, amz.marketplace) == ("pending", None, "amazon")
    assert amz.items[0].unit_price == Decimal("6.99") and amz.items[0].options[0]["name"] == "CustomizedURL"
    with pytest.raises(Invalid, match="name"):
        map_shopify({**shopify_order(1, "1", []), "name": ""})
    with pytest.raises(Invalid, match="OrderItemId"):
        map_amazon(amazon_order(AMAZON_ID, [{"QuantityOrdered": 1}]))


def test_merge_options_marketplace_wins_without_duplicates():
    ss = [{"name": "name", "value": "mia"}, {"name": "Name or Text", "value": "Mia"}]
    mp = [{"name": "Name", "value": "Mia"}, {"name": "Colour 1", "value": "Red"}]
    merged = merge_options(ss, mp)
    assert merged == [{"name": "name", "value": "Mia"}, {"name": "Name or Text", "value": "Mia"},
                      {"name": "Colour 1", "value": "Red"}]
    assert merge_options(merged, mp) == merged  # idempotent
    assert merge_options(None, []) is None and merge_options([], []) == []


# ------------------------------------------------------------------------------------------ database


def test_shipstation_and_shopify_make_one_order_with_merged_fields(clean_db):
    load_ss(clean_db, ss_order(180001, "1001", "shopify", [
        ss_item(400001, "14001", options=[{"name": "Name", "value": "mia"}]),  # ShipStation garbled the case
        ss_item(400002, "14002", sku="PLQ-1")], status="shipped"))
    load_shopify(clean_db, shopify_order(6200, "1001", [
        shopify_line(14001, attributes=[{"key": "Name", "value": "Mia"}, {"key": "Colour 1", "value": "Red"}]),
        shopify_line(14002, sku="PLQ-1", attributes=[{"key": "Name", "value": "Leo"}], price="12.00")]))
    report = run(clean_db)

    assert (report.matched, report.marketplace_only, report.unmatched, report.ambiguous) == (1, 0, 0, 0)
    assert report.findings == []
    order = one(clean_db, "SELECT * FROM orders")  # exactly one row
    assert order["shipstation_order_id"] == 180001 and order["shopify_order_id"] == 6200
    assert order["marketplace"] == "web" and order["order_number"] == "1001"
    assert order["status"] == "shipped"  # ShipStation owns fulfilment state
    assert order["ship_to"]["street1"] == "1 High St" and order["carrier_code"] == "royal_mail"
    assert order["order_total"] == Decimal("21.00") and order["currency"] == "GBP"  # marketplace prices
    assert order["sources"] == ["shipstation", "shopify"] and order["reconciliation_status"] == "matched"
    items = all_rows(clean_db, "SELECT * FROM order_items ORDER BY position")
    assert [i["shopify_line_item_id"] for i in items] == [14001, 14002]
    assert items[0]["options"] == [{"name": "Name", "value": "Mia"}, {"name": "Colour 1", "value": "Red"}]
    assert items[1]["options"] == [{"name": "Name", "value": "Leo"}]
    assert [i["unit_price"] for i in items] == [Decimal("7.49"), Decimal("12.00")]
    assert {i["reconciliation_status"] for i in items} == {"matched"}
    assert len(all_rows(clean_db, "SELECT * FROM order_tags")) == 1  # ShipStation's tags kept


def test_shipstation_and_amazon_make_one_order_with_merged_fields(clean_db):
    url = "https://zips.example/205_111.zip"
    load_amazon(clean_db, amazon_order(AMAZON_ID, [amazon_item("111", url=url), amazon_item("112", sku="PLQ-1",
                                                                                           price="10.00", quantity=1)]))
    load_ss(clean_db, ss_order(180002, AMAZON_ID, "amazon", [
        ss_item(400011, "111", quantity=2, options=[{"name": "Name or Text", "value": "Mia"}]),
        ss_item(400012, "112", sku="PLQ-1")]))
    report = run(clean_db)

    assert report.matched == 1 and not report.findings
    order = one(clean_db, "SELECT * FROM orders")
    assert (order["shipstation_order_id"], order["amazon_order_id"]) == (180002, AMAZON_ID)
    assert order["sources"] == ["shipstation", "amazon"] and order["reconciliation_status"] == "matched"
    assert order["order_total"] == Decimal("22.00") and order["status"] == "awaiting_shipment"
    items = all_rows(clean_db, "SELECT * FROM order_items ORDER BY position")
    assert [i["amazon_order_item_id"] for i in items] == ["111", "112"]
    assert items[0]["options"] == [{"name": "Name or Text", "value": "Mia"}, {"name": "CustomizedURL", "value": url}]
    assert [i["unit_price"] for i in items] == [Decimal("6.99"), Decimal("10.00")]


def _amazon_then_shipstation(engine, *, with_task: bool) -> None:
    url = "https://zips.example/205_111.zip"
    load_amazon(engine, amazon_order(AMAZON_ID, [amazon_item("111", url=url, price=None)], status="Pending",
                                     total=None, updated="2026-03-08T08:00:00Z"))
    report = run(engine)
    assert report.marketplace_only == 1
    orphan = one(engine, "SELECT * FROM orders")
    assert orphan["shipstation_order_id"] is None and orphan["amazon_order_id"] == AMAZON_ID
    assert (orphan["status"], orphan["reconciliation_status"], orphan["sources"]) == (
        "pending", "marketplace_only", ["amazon"])
    orphan_item = one(engine, "SELECT * FROM order_items")
    assert orphan_item["amazon_order_item_id"] == "111" and orphan_item["quantity"] == 2
    assert orphan_item["options"] == [{"name": "CustomizedURL", "value": url}]
    if with_task:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO print_tasks (order_id, order_item_id, task_index, custom_text, quantity,"
                                 " source) VALUES (:o, :i, 0, 'Mia', 2, 'item_options')"),
                         {"o": orphan["id"], "i": orphan_item["id"]})
    # the order leaves Pending the next day and ShipStation imports it; the SP-API record is unchanged since
    load_ss(engine, ss_order(180003, AMAZON_ID, "amazon", [
        ss_item(400021, "111", quantity=2, options=[{"name": "CustomizedURL", "value": url}])],
        modify="2026-03-09T04:00:00.0000000"))


def test_marketplace_only_order_then_shipstation_arrival_converge_to_one_row(clean_db):
    _amazon_then_shipstation(clean_db, with_task=True)
    report = run(clean_db, DAY2)
    assert report.orphans_merged == 1 and report.matched == 1
    order = one(clean_db, "SELECT * FROM orders")  # one row: the ShipStation one, carrying the Amazon id
    assert (order["shipstation_order_id"], order["amazon_order_id"]) == (180003, AMAZON_ID)
    assert order["sources"] == ["shipstation", "amazon"] and order["reconciliation_status"] == "matched"
    assert order["status"] == "awaiting_shipment"
    item = one(clean_db, "SELECT * FROM order_items")
    assert (item["shipstation_order_item_id"], item["amazon_order_item_id"]) == (400021, "111")
    task = one(clean_db, "SELECT * FROM print_tasks")  # the orphan's print task moved, not lost
    assert (task["order_id"], task["order_item_id"]) == (order["id"], item["id"])
    # re-running either day changes nothing
    before = snapshot(clean_db, drop=())
    run(clean_db, DAY2)
    run(clean_db, WINDOW)
    assert snapshot(clean_db, drop=()) == before


def test_both_orders_of_arrival_give_the_same_rows(clean_db):
    _amazon_then_shipstation(clean_db, with_task=False)
    run(clean_db, DAY2)
    marketplace_first = snapshot(clean_db, drop=IDS)

    # the same raw data, ShipStation's day first: the Amazon record finds the ShipStation order already there
    with clean_db.begin() as conn:
        conn.execute(sa.text("TRUNCATE orders, order_items, print_tasks, order_tags, customers, products CASCADE"))
    run(clean_db, DAY2)
    assert one(clean_db, "SELECT reconciliation_status FROM orders")["reconciliation_status"] == "matched"
    run(clean_db, WINDOW)
    shipstation_first = snapshot(clean_db, drop=IDS)
    for name, rows in marketplace_first.items():
        assert len(shipstation_first[name]) == len(rows), name
        for mine, theirs in zip(shipstation_first[name], rows, strict=True):
            assert {k: v for k, v in mine.items() if mine[k] != theirs[k]} == {}, name


def test_split_shipstation_order_is_flagged_ambiguous(clean_db):
    load_ss(clean_db,
            ss_order(180010, "1002", "shopify", [ss_item(400031, "14031")], split=True),
            ss_order(190010, "1002", "shopify", [ss_item(400032, "14032", sku="PLQ-1")], parent=180010, split=True))
    load_shopify(clean_db, shopify_order(6300, "1002", [
        shopify_line(14031, attributes=[{"key": "Name", "value": "Ava"}]),
        shopify_line(14032, sku="PLQ-1", attributes=[{"key": "Name", "value": "Isla"}])]))
    report = run(clean_db)
    assert report.ambiguous == 1 and len(report.findings) == 1
    assert "split into 2 ShipStation orders" in report.findings[0].detail
    rows = all_rows(clean_db, "SELECT * FROM orders ORDER BY shipstation_order_id")
    assert [r["shopify_order_id"] for r in rows] == [6300, None]  # the parent carries the Shopify id
    assert [r["reconciliation_status"] for r in rows] == ["ambiguous", "ambiguous"]
    assert rows[0]["order_total"] == Decimal("20.00")  # split rows keep ShipStation's partial totals
    items = all_rows(clean_db, "SELECT * FROM order_items ORDER BY shipstation_order_item_id")
    assert [i["shopify_line_item_id"] for i in items] == [14031, 14032]  # items still matched exactly
    assert [i["options"][0]["value"] for i in items] == ["Ava", "Isla"]


def test_sku_and_position_fallback(clean_db):
    load_ss(clean_db, ss_order(180020, "1003", "shopify", [ss_item(400041, None), ss_item(400042, None, sku="PLQ-1"),
                                                             ss_item(400043, None, sku="PLQ-1")]))
    load_shopify(clean_db, shopify_order(6400, "1003", [shopify_line(14041), shopify_line(14042, sku="PLQ-1"),
                                                         shopify_line(14043, sku="PLQ-1")]))
    report = run(clean_db)
    assert report.ambiguous == 1
    items = all_rows(clean_db, "SELECT shopify_line_item_id, reconciliation_status FROM order_items "
                               "ORDER BY position")
    assert [(i["shopify_line_item_id"], i["reconciliation_status"]) for i in items] == [
        (14041, "matched_by_sku"), (14042, "ambiguous"), (14043, "ambiguous")]


def test_unmatched_order_is_reported_and_clears_when_fixed(clean_db):
    load_ss(clean_db, ss_order(180030, "1004", "shopify", [ss_item(400051, "99999", sku="OTHER")]))
    load_shopify(clean_db, shopify_order(6500, "1004", [shopify_line(14051)]))
    report = run(clean_db)
    assert report.unmatched == 1
    finding = report.findings[0]
    assert (finding.order_number, finding.status) == ("1004", "unmatched")
    assert "14051" in finding.detail and "99999" in finding.detail
    assert one(clean_db, "SELECT reconciliation_status FROM orders")["reconciliation_status"] == "unmatched"
    assert one(clean_db, "SELECT reconciliation_status FROM order_items")["reconciliation_status"] == "unmatched"

    # ShipStation's line item key is corrected at the source
    load_ss(clean_db, ss_order(180030, "1004", "shopify", [ss_item(400051, "14051", sku="OTHER")],
                               modify="2026-03-08T05:00:00.0000000"))
    report = run(clean_db)
    assert (report.matched, report.unmatched, report.findings) == (1, 0, [])
    assert one(clean_db, "SELECT reconciliation_status FROM orders")["reconciliation_status"] == "matched"


def test_rerunning_gives_identical_rows(clean_db):
    load_ss(clean_db,
            ss_order(180040, "1005", "shopify", [ss_item(400061, "14061", options=[{"name": "Name", "value": "x"}])]),
            ss_order(180041, AMAZON_ID, "amazon", [ss_item(400062, "111", quantity=2)]),
            ss_order(180042, "1006", "shopify", [ss_item(400063, "14063")], split=True),
            ss_order(190042, "1006", "shopify", [ss_item(400064, "14064")], parent=180042, split=True))
    load_shopify(clean_db,
                 shopify_order(6600, "1005", [shopify_line(14061, attributes=[{"key": "Name", "value": "Mia"}])]),
                 shopify_order(6601, "1006", [shopify_line(14063), shopify_line(14064)]),
                 shopify_order(6602, "1007", [shopify_line(14065)]))  # Shopify only
    load_amazon(clean_db, amazon_order(AMAZON_ID, [amazon_item("111", url="https://z/1.zip")]))
    first = run(clean_db)
    assert (first.matched, first.ambiguous, first.marketplace_only) == (2, 1, 1)
    before = snapshot(clean_db, drop=())
    second = reconcile_window(clean_db, *WINDOW)  # the reconcile step alone: not a single write
    assert second.orders_written == second.items_written == 0
    assert snapshot(clean_db, drop=()) == before
    run(clean_db)  # the whole step again: the same rows (ShipStation normalization may touch updated_at)
    assert snapshot(clean_db) == snapshot_without(before, "updated_at")


def snapshot_without(snap: dict, column: str) -> dict:
    return {name: [{k: v for k, v in row.items() if k != column} for row in rows] for name, rows in snap.items()}


def test_invalid_marketplace_record_is_quarantined_and_the_rest_goes_through(clean_db):
    load_shopify(clean_db, shopify_order(6700, "1008", [shopify_line(14071)]),
                 {**shopify_order(6701, "1009", [shopify_line(14072)]), "name": ""})
    report = reconcile_window(clean_db, *WINDOW, partition_key_for=lambda _: "2026-03-08")
    assert report.quarantined == 1 and report.marketplace_only == 1
    failure = one(clean_db, "SELECT source, source_id, partition_key, reason FROM normalization_failures")
    assert (failure["source"], failure["source_id"], failure["partition_key"]) == ("shopify", "6701", "2026-03-08")
    assert "name" in failure["reason"]


def test_asset_check_fails_on_an_unmatched_order_and_passes_once_fixed(clean_db, database_resource,
                                                                        dagster_instance):
    import dagster as dg

    from y3d_pipeline.defs.normalized.assets import RECONCILE_CHECK_NAME, normalize_orders, reconciliation

    def materialize():
        result = dg.materialize([normalize_orders, reconciliation], partition_key="2026-03-08",
                                resources={"database": database_resource}, instance=dagster_instance)
        assert result.success
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == RECONCILE_CHECK_NAME)
        meta = {k: v.value for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "normalized/reconciliation"
                for k, v in e.materialization.metadata.items()}
        return check, meta

    load_ss(clean_db, ss_order(180050, "1010", "shopify", [ss_item(400071, "99999", sku="OTHER")]))
    load_shopify(clean_db, shopify_order(6800, "1010", [shopify_line(14071)]),
                 shopify_order(6801, "1011", [shopify_line(14072)]))
    check, meta = materialize()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["order_numbers"].value == "1010"
    assert "14071" in check.metadata["details"].value
    assert (meta["matched"], meta["marketplace_only"], meta["unmatched"], meta["ambiguous"]) == (0, 1, 1, 0)

    load_ss(clean_db, ss_order(180050, "1010", "shopify", [ss_item(400071, "14071", sku="OTHER")],
                               modify="2026-03-08T05:00:00.0000000"))
    check, meta = materialize()
    assert check.passed and check.metadata["order_numbers"].value == "none"
    assert (meta["matched"], meta["unmatched"]) == (1, 0)


def test_rerun_skips_unchanged_records_and_follows_what_changed(clean_db):
    """Work proportional to change: an unchanged window costs no mapping or writing; a changed ShipStation order
    (which resets the marketplace's options and prices) is normalized and its marketplace record reconciled again;
    an unmatched order is reconciled every time, so every run reports it."""
    options = [{"name": "Name", "value": "x"}]
    load_ss(clean_db, ss_order(180050, "1010", "shopify", [ss_item(400071, "14071", options=options)]),
            ss_order(180051, "1011", "shopify", [ss_item(400072, "14072")]))
    load_shopify(clean_db,
                 shopify_order(6610, "1010", [shopify_line(14071, attributes=[{"key": "Name", "value": "Mia"}])]),
                 shopify_order(6611, "1011", [shopify_line(14072), shopify_line(14073)]))  # a line ShipStation lacks
    first = run(clean_db)
    assert (first.matched, first.unmatched) == (1, 1)
    key_for = partition_key_clamp(UTC, ["2026-03-08"])

    again = normalize_shipstation_window(clean_db, *WINDOW, partition_key_for=key_for)
    assert again.raw_unchanged_skipped == again.raw_records == 2 and again.batches == 0
    rerun = reconcile_window(clean_db, *WINDOW, partition_key_for=key_for)
    assert rerun.raw_unchanged_skipped == 1 and rerun.unmatched == 1 and len(rerun.findings) == 1

    # ShipStation changes order 1010: normalization rewrites its options from ShipStation, reconciliation puts
    # the marketplace's back
    load_ss(clean_db, ss_order(180050, "1010", "shopify", [ss_item(400071, "14071", options=options, quantity=2)],
                               modify="2026-03-08T05:00:00.0000000"))
    changed = normalize_shipstation_window(clean_db, *WINDOW, partition_key_for=key_for)
    assert changed.raw_unchanged_skipped == 1 and changed.orders_written == 1
    assert one(clean_db, "SELECT options FROM order_items WHERE shipstation_order_item_id = 400071")["options"] == \
        options
    after = reconcile_window(clean_db, *WINDOW, partition_key_for=key_for)
    assert after.raw_unchanged_skipped == 0 and after.matched == 1
    item = one(clean_db, "SELECT options, quantity FROM order_items WHERE shipstation_order_item_id = 400071")
    assert item["options"] == [{"name": "Name", "value": "Mia"}] and item["quantity"] == 2

    # a deleted order is written again although its raw row did not change; full=True redoes everything
    with clean_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM orders WHERE shipstation_order_id = 180051"))
    redone = normalize_shipstation_window(clean_db, *WINDOW, partition_key_for=key_for)
    assert redone.raw_unchanged_skipped == 1 and redone.orders_written == 1
    forced = normalize_shipstation_window(clean_db, *WINDOW, partition_key_for=key_for, full=True)
    assert forced.raw_unchanged_skipped == 0 and forced.raw_records == 2
