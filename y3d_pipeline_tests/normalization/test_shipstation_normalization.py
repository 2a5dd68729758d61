"""Normalization of raw ShipStation orders on real PostgreSQL (raw rows inserted directly)."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from y3d_pipeline.db import quarantine
from y3d_pipeline.db.models import RawShipstationOrder, RawShipstationShipment
from y3d_pipeline.normalized.records import Rejected
from y3d_pipeline.normalized.shipments import apply_shipments
from y3d_pipeline.normalized.shipstation import map_order
from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_window, partition_key_clamp
from y3d_pipeline.sources.raw_store import upsert_raw_records
from y3d_pipeline.sources.shipstation.records import marketplace_from_name, parse_pacific
from y3d_pipeline_tests.plugins.database import truncate_all

UTC = dt.UTC
LONDON = dt.UTC  # March dates before BST: London == UTC
WINDOW = (dt.datetime(2026, 3, 7, 23, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC))



def open_failures(engine, partition_keys):
    with engine.connect() as conn:
        return quarantine.open_failures(conn, partition_keys, source="shipstation")

def item(item_id: int, sku: str | None = "KEY-1", quantity: int = 1, **extra) -> dict:
    return {"orderItemId": item_id, "lineItemKey": f"L{item_id}", "sku": sku, "name": "Name Keyring",
            "quantity": quantity, "unitPrice": 6.99, "options": [{"name": "Text", "value": "Mia"}],
            "productId": None, "adjustment": False, "weight": {"value": 40.0, "units": "grams"}, **extra}


def order(order_id: int, modify: str = "2026-03-08T04:00:00.0000000", items=None, **extra) -> dict:
    doc = {
        "orderId": order_id, "orderNumber": f"N{order_id}", "orderKey": f"K{order_id}",
        "orderDate": "2026-03-08T01:30:00.0000000", "createDate": "2026-03-08T01:40:00.0000000",
        "modifyDate": modify, "paymentDate": "2026-03-08T01:30:00.0000000",
        "shipByDate": "2026-03-11T01:30:00.0000000", "orderStatus": "awaiting_shipment",
        "customerId": 5000 + order_id, "customerUsername": "mia", "customerEmail": f"Buyer{order_id}@Example.com",
        "billTo": {"name": "Mia Smith"},
        "shipTo": {"name": "Mia Smith", "street1": "1 High St", "city": "York", "postalCode": "YO1 7HH",
                   "country": "GB", "residential": True},
        "items": items if items is not None else [item(order_id * 10 + 1), item(order_id * 10 + 2, sku="PLQ-1")],
        "orderTotal": 20.0, "amountPaid": 20.0, "taxAmount": 3.33, "shippingAmount": 2.5,
        "tagIds": None, "carrierCode": None, "serviceCode": None,
        "advancedOptions": {"storeId": 310001, "source": "amazon", "mergedOrSplit": False, "mergedIds": [],
                            "parentId": None},
    }
    doc.update(extra)
    return doc


def load(engine, *payloads: dict) -> None:
    rows = [{"shipstation_order_id": p["orderId"], "order_number": p.get("orderNumber"),
             "order_key": p.get("orderKey"), "order_status": p.get("orderStatus"),
             "source_modified_at": parse_pacific(p["modifyDate"]) if _parses(p.get("modifyDate"))
             else dt.datetime(2026, 3, 8, 12, tzinfo=UTC),
             "payload": p} for p in payloads]
    with engine.begin() as conn:
        upsert_raw_records(conn, RawShipstationOrder.__table__, rows, fetched_at=dt.datetime.now(UTC))


def _parses(value) -> bool:
    try:
        return parse_pacific(value) is not None
    except ValueError:
        return False


def normalize(engine, batch_size: int = 2000):
    return normalize_shipstation_window(engine, *WINDOW, batch_size=batch_size,
                                        partition_key_for=partition_key_clamp(LONDON, ["2026-03-08"]))


def rows(engine, sql: str) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


# ------------------------------------------------------------------------------ mapping (no database)


def test_mapping_converts_pacific_to_utc_and_skips_adjustments():
    payload = order(1, items=[item(11), item(12, sku=None, quantity=1, adjustment=True, orderItemId=None)])
    mapped = map_order(payload)
    assert not isinstance(mapped, Rejected)
    assert mapped.values["order_date"] == dt.datetime(2026, 3, 8, 9, 30, tzinfo=UTC)  # 01:30 PST
    assert mapped.values["modified_at"] == dt.datetime(2026, 3, 8, 11, 0, tzinfo=UTC)  # 04:00 PDT (UTC-7)
    assert [i.source_item_id for i in mapped.items] == [11]
    assert mapped.customer.customer_key == "shipstation:5001"
    assert mapped.customer.email == "buyer1@example.com"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.pop("orderId"), "orderId"),
        (lambda p: p.update(orderNumber=None), "orderNumber is missing"),
        (lambda p: p["items"][0].update(quantity=0), "quantity 0"),
        (lambda p: p["items"][0].update(quantity=-2), "quantity -2"),
        (lambda p: p["items"][0].update(orderItemId=None), "no orderItemId"),
        (lambda p: p.update(orderDate="2026-02-30T10:00:00.0000000"), "orderDate"),
        (lambda p: p.update(modifyDate="soon"), "modifyDate"),
        (lambda p: p.update(orderNumber="9" * 51), "orderNumber is 51 characters"),
        (lambda p: p.update(customerNotes="x" * 20_000), "customerNotes is 20000 characters"),
        (lambda p: p["shipTo"].update(country="GBR"), "country is 3 characters"),
    ],
)
def test_invalid_orders_are_rejected_with_a_reason(change, reason):
    payload = order(1)
    change(payload)
    mapped = map_order(payload)
    assert isinstance(mapped, Rejected)
    assert reason in mapped.reason


def test_customer_key_falls_back_to_email_then_name_and_postcode():
    assert map_order(order(1, customerId=None)).customer.customer_key == "email:buyer1@example.com"
    by_name = map_order(order(1, customerId=None, customerEmail=None)).customer
    assert by_name.customer_key == "name:mia smith|YO17HH"


@pytest.mark.parametrize(("name", "marketplace"), [("Amazon", "amazon"), ("Amazon UK", "amazon"), ("Etsy", "etsy"),
                                                   ("eBay", "ebay"), ("Shopify", "web"), ("shopify", "web"),
                                                   ("ShipStation", "manual"), (None, None)])
def test_marketplace_names(name, marketplace):
    assert marketplace_from_name(name) == marketplace


# ------------------------------------------------------------------------------ database


def test_orders_items_customers_products_and_tags(clean_db):
    engine = clean_db
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO stores (shipstation_store_id, name, marketplace_name, marketplace) "
                             "VALUES (310001, 'Y3D Amazon UK', 'Amazon', 'amazon')"))
    load(engine, order(1, tagIds=[21001, 21004]), order(2, customerId=5001, advancedOptions={"storeId": 999,
                                                                                            "source": "shopify"}))
    report = normalize(engine)
    assert report.orders_written == 2 and report.quarantined == 0
    got = rows(engine, "SELECT shipstation_order_id, marketplace, order_date, status, customer_email "
                       "FROM orders ORDER BY 1")
    assert [(r[0], r[1]) for r in got] == [(1, "amazon"), (2, "web")]  # store table, else advancedOptions.source
    assert got[0].order_date == dt.datetime(2026, 3, 8, 9, 30, tzinfo=UTC)
    assert rows(engine, "SELECT count(*) FROM customers")[0][0] == 1  # both orders: customerId 5001
    assert rows(engine, "SELECT count(*) FROM order_items")[0][0] == 4
    assert rows(engine, "SELECT sku FROM products ORDER BY sku") == [("KEY-1",), ("PLQ-1",)]
    tags = rows(engine, "SELECT t.shipstation_tag_id, t.name FROM order_tags ot JOIN tags t ON t.id = ot.tag_id "
                        "ORDER BY 1")
    assert [t[0] for t in tags] == [21001, 21004]  # unknown tags get a placeholder row, linked anyway

    # tags change: one removed
    load(engine, order(1, modify="2026-03-08T05:00:00.0000000", tagIds=[21004]))
    normalize(engine)
    assert rows(engine, "SELECT t.shipstation_tag_id FROM order_tags ot JOIN tags t ON t.id = ot.tag_id") == [
        (21004,)]


def test_normalizing_twice_gives_identical_tables(clean_db):
    load(clean_db, *[order(i, tagIds=[21001]) for i in range(1, 30)])
    normalize(clean_db, batch_size=7)
    first = snapshot(clean_db)
    report = normalize(clean_db, batch_size=7)
    assert report.orders_written == 0 and report.items_written == 0
    assert snapshot(clean_db) == first


def snapshot(engine, *, wall_clock: bool = True, ignore: tuple[str, ...] = ()) -> dict:
    """Every row of the normalized tables and the quarantine, ids included; without the columns stamped with the
    wall clock unless ``wall_clock``, and without those in ``ignore``."""
    out = {}
    for table in ("customers", "products", "orders", "order_items", "order_tags", "tags", "normalization_failures"):
        columns = [c for (c,) in rows(engine, f"""
            SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'
              AND ({wall_clock} OR coalesce(column_default, '') NOT LIKE '%now()%')
            ORDER BY ordinal_position""")  # noqa: S608
                   if c not in ignore]
        out[table] = sorted(tuple(str(v) for v in row) for row in rows(
            engine, f"SELECT {', '.join(columns)} FROM {table}"))  # noqa: S608
    return out


def test_quarantined_orders_do_not_block_the_others_and_resolve_later(clean_db):
    bad = order(2)
    bad["items"][0]["quantity"] = -1
    broken_date = order(3, orderDate="2026-13-01T00:00:00.0000000")
    load(clean_db, order(1), bad, broken_date, order(4))
    report = normalize(clean_db)
    assert report.orders_written == 2 and report.quarantined == 2
    assert [r[0] for r in rows(clean_db, "SELECT shipstation_order_id FROM orders ORDER BY 1")] == [1, 4]
    failures = open_failures(clean_db, ["2026-03-08"])
    assert {f["source_id"] for f in failures} == {"2", "3"}
    assert all(f["partition_key"] == "2026-03-08" for f in failures)
    assert "quantity -1" in next(f["reason"] for f in failures if f["source_id"] == "2")

    # the source is fixed: a newer version normalizes fine and the failure is resolved
    load(clean_db, order(2, modify="2026-03-08T06:00:00.0000000"))
    report = normalize(clean_db)
    assert report.resolved == 1
    assert {f["source_id"] for f in open_failures(clean_db, ["2026-03-08"])} == {"3"}
    # acknowledging the other one clears the check
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE normalization_failures SET acknowledged_at = now(), acknowledged_by = 'ops' "
                             "WHERE source_id = '3'"))
    assert open_failures(clean_db, ["2026-03-08"]) == []


def test_products_placeholder_name_never_overwrites_a_curated_name(clean_db):
    load(clean_db, order(1, items=[item(11, sku=" NEW-SKU ", name=None)]))
    normalize(clean_db)
    assert rows(clean_db, "SELECT sku, name, name_is_placeholder FROM products") == [
        ("NEW-SKU", "Product needs a name", True)]
    # a later order names it: the placeholder is replaced
    load(clean_db, order(2, modify="2026-03-08T05:00:00.0000000", items=[item(21, sku="NEW-SKU", name="Real")]))
    normalize(clean_db)
    assert rows(clean_db, "SELECT name, name_is_placeholder FROM products") == [("Real", False)]
    # someone curates it; the source's name never goes over it
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE products SET name = 'Curated Keyring'"))
    load(clean_db, order(3, modify="2026-03-08T06:00:00.0000000", items=[item(31, sku="NEW-SKU", name="Other")]))
    normalize(clean_db)
    assert rows(clean_db, "SELECT name FROM products") == [("Curated Keyring",)]


def test_products_by_sku_then_shipstation_product_id(clean_db):
    load(clean_db, order(1, items=[item(11, sku=None, productId=777, name="No SKU")]))
    normalize(clean_db)
    load(clean_db, order(2, modify="2026-03-08T05:00:00.0000000",
                         items=[item(21, sku="SKU-777-S", productId=777, name="Small"),
                                item(22, sku="SKU-777-L", productId=777, name="Large"),
                                item(23, sku=None, productId=777, name="No SKU again")]))
    normalize(clean_db)
    # SKU first; the (possibly shared) product id only keys SKU-less lines
    assert rows(clean_db, "SELECT sku, shipstation_product_id, name FROM products ORDER BY sku NULLS FIRST") == [
        (None, 777, "No SKU"), ("SKU-777-L", None, "Large"), ("SKU-777-S", None, "Small")]
    by_item = dict(rows(clean_db, "SELECT i.shipstation_order_item_id, p.name FROM order_items i "
                                  "JOIN products p ON p.id = i.product_id"))
    assert by_item == {11: "No SKU", 21: "Small", 22: "Large", 23: "No SKU"}


def test_split_orders_share_the_key_and_items_move(clean_db):
    parent = order(1, items=[item(11), item(12)])
    load(clean_db, parent)
    normalize(clean_db)
    # split: item 12 moves to the child, which shares orderKey
    parent_after = order(1, modify="2026-03-08T05:00:00.0000000", items=[item(11)],
                         advancedOptions={"storeId": 310001, "mergedOrSplit": True, "mergedIds": [], "parentId": None})
    child = order(9001, modify="2026-03-08T05:00:01.0000000", items=[item(12)], orderKey="K1", orderNumber="N1",
                  advancedOptions={"storeId": 310001, "mergedOrSplit": True, "mergedIds": [], "parentId": 1})
    load(clean_db, parent_after, child)
    normalize(clean_db)
    got = rows(clean_db, "SELECT o.shipstation_order_id, o.order_key, o.merged_or_split, "
                         "o.parent_shipstation_order_id, array_agg(i.shipstation_order_item_id ORDER BY 1) "
                         "FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY 1, 2, 3, 4 ORDER BY 1")
    assert got == [(1, "K1", True, None, [11]), (9001, "K1", True, 1, [12])]


def test_removed_items_are_deleted_for_plain_orders(clean_db):
    load(clean_db, order(1, items=[item(11), item(12)]))
    normalize(clean_db)
    load(clean_db, order(1, modify="2026-03-08T05:00:00.0000000", items=[item(11, quantity=3)]))
    report = normalize(clean_db)
    assert report.items_removed == 1
    assert rows(clean_db, "SELECT shipstation_order_item_id, quantity FROM order_items") == [(11, 3)]


def test_shipments_fill_orders_and_voided_labels_do_not_count(clean_db):
    load(clean_db, order(1), order(2))
    normalize(clean_db)
    created = dt.datetime(2026, 3, 8, 15, tzinfo=UTC)

    def shipment(sid, oid, voided, at, tracking):
        return {"shipstation_shipment_id": sid, "shipstation_order_id": oid, "ship_date": at.date(),
                "source_modified_at": at,
                "payload": {"shipmentId": sid, "orderId": oid, "trackingNumber": tracking, "carrierCode": "royal_mail",
                            "voided": voided}}

    with clean_db.begin() as conn:
        upsert_raw_records(conn, RawShipstationShipment.__table__, [
            shipment(1, 1, False, created, "JV1GB"),
            shipment(2, 1, True, created + dt.timedelta(minutes=5), "VOID1"),  # newer but voided
            shipment(3, 2, True, created, "VOID2"),
        ], fetched_at=created)
        assert apply_shipments(conn, [1, 2]) == 2
    got = rows(clean_db, "SELECT shipstation_order_id, shipped_at, tracking_number, shipment_status, carrier_code "
                         "FROM orders ORDER BY 1")
    assert got[0] == (1, created, "JV1GB", "shipped", "royal_mail")
    assert got[1][1:4] == (None, None, "voided")
    before = snapshot(clean_db)
    normalize(clean_db)  # normalization re-applies the same state: nothing changes
    assert snapshot(clean_db) == before


def test_a_newer_order_is_never_replaced_by_an_older_version(clean_db):
    load(clean_db, order(1, modify="2026-03-08T06:00:00.0000000", orderStatus="shipped"))
    normalize(clean_db)
    older = copy.deepcopy(order(1, modify="2026-03-08T05:00:00.0000000"))
    from y3d_pipeline.normalized.records import SHIPSTATION_KEYS
    from y3d_pipeline.normalized.writer import write_orders

    with clean_db.begin() as conn:
        write_orders(conn, [map_order(older)], SHIPSTATION_KEYS, store_marketplaces={})
    assert rows(clean_db, "SELECT status, order_total FROM orders") == [("shipped", Decimal("20.00"))]


def test_non_finite_money_and_nul_characters_do_not_abort_the_batch(clean_db):
    from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_rows

    class Row:
        def __init__(self, payload):
            self.shipstation_order_id = payload["orderId"]
            self.source_modified_at = dt.datetime(2026, 3, 8, 12, tzinfo=UTC)
            self.payload = payload

    report = normalize_shipstation_rows(clean_db, [
        Row(order(1)),
        Row(order(2, orderTotal=float("nan"))),
        Row(order(3, orderTotal=float("inf"))),
        Row(order(4, modifyDate="\x00")),
        Row(order(5, customerNotes="nul\x00here")),
    ], stores={})
    assert report.quarantined == 3 and report.orders_written == 2
    assert rows(clean_db, "SELECT customer_notes FROM orders WHERE shipstation_order_id = 5") == [("nulhere",)]
    reasons = dict(rows(clean_db, "SELECT source_id, reason FROM normalization_failures"))
    assert "not a finite number" in reasons["2"] and "not a finite number" in reasons["3"]
    assert "modifyDate" in reasons["4"]


def _shared_customer_orders(count: int) -> list[dict]:
    """Orders a minute apart; every third one by the same customer, whose name and address change over time; the
    PLQ-1 product first without a name, later named; the last order invalid (quarantined: last, so that a re-run
    after an interruption cuts the same batches as an uninterrupted run, and uses the same ids)."""
    orders = []
    for i in range(1, count + 1):
        extra = {}
        if i % 3 == 0:
            extra = {"customerId": 777, "shipTo": {"name": f"Mia Smith {i}", "street1": f"{i} High St",
                                                   "city": "York", "postalCode": "YO1 7HH", "country": "GB",
                                                   "residential": True}}
        items = [item(i * 10 + 1), item(i * 10 + 2, sku="PLQ-1", name=None if i < count // 2 else f"Plaque {i}")]
        orders.append(order(i, modify=f"2026-03-08T04:{i:02d}:00.0000000", items=items, **extra))
    orders[-1]["items"][0]["quantity"] = -1
    return orders


def test_batches_mapped_in_parallel_sessions_write_what_one_session_writes(clean_db):
    """Several sessions map batches at once, but merge them in order: the same rows, ids and quarantine as one
    session, with a customer and a product changing across batches."""
    payloads = _shared_customer_orders(40)
    load(clean_db, *payloads)
    serial = normalize_shipstation_window(clean_db, *WINDOW, batch_size=4, sessions=1,
                                          partition_key_for=partition_key_clamp(LONDON, ["2026-03-08"]))
    expected = snapshot(clean_db, wall_clock=False)
    truncate_all(clean_db)
    load(clean_db, *payloads)
    seen = []
    parallel = normalize_shipstation_window(clean_db, *WINDOW, batch_size=4, sessions=3,
                                            partition_key_for=partition_key_clamp(LONDON, ["2026-03-08"]),
                                            progress=lambda done, total: seen.append(done))
    assert snapshot(clean_db, wall_clock=False) == expected
    assert (parallel.orders_written, parallel.quarantined, parallel.batches) == \
        (serial.orders_written, serial.quarantined, serial.batches) == (39, 1, 10)
    assert seen == sorted(seen) and seen[-1] == 40
    assert rows(clean_db, "SELECT name, street1 FROM customers WHERE shipstation_customer_id = 777") == [
        ("Mia Smith 39", "39 High St")]
    assert rows(clean_db, "SELECT source_id FROM normalization_failures WHERE resolved_at IS NULL") == [("40",)]


def test_a_stopped_parallel_run_commits_only_the_first_batches_and_the_rerun_completes(clean_db):
    payloads = _shared_customer_orders(40)
    load(clean_db, *payloads)
    normalize_shipstation_window(clean_db, *WINDOW, batch_size=4, sessions=1)
    # a stopped run that got as far as the quarantined order saw it once more than one uninterrupted run
    expected = snapshot(clean_db, wall_clock=False, ignore=("occurrences",))
    truncate_all(clean_db)
    load(clean_db, *payloads)

    def stop(done, total):
        if done:  # after the first batch (the first call reports what was skipped)
            raise RuntimeError("run cancelled")

    with pytest.raises(RuntimeError, match="run cancelled"):
        normalize_shipstation_window(clean_db, *WINDOW, batch_size=4, sessions=2, progress=stop)
    written = [i for (i,) in rows(clean_db, "SELECT shipstation_order_id FROM orders ORDER BY 1")]
    committed = [p["orderId"] for p in payloads[:-1]]
    assert written and written == committed[:len(written)]  # a prefix in modifyDate order, never a gap
    normalize_shipstation_window(clean_db, *WINDOW, batch_size=4, sessions=2)
    assert snapshot(clean_db, wall_clock=False, ignore=("occurrences",)) == expected
