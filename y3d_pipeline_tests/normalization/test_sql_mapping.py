"""The SQL mapping (``shipstation_sql``) writes exactly the rows the Python mapping (``map_order``) writes, and
leaves to Python whatever is not plainly valid."""

from __future__ import annotations

import copy
import datetime as dt
from collections import namedtuple

import sqlalchemy as sa

from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_rows
from y3d_pipeline_tests.normalization.test_shipstation_normalization import item, order
from y3d_pipeline_tests.plugins.database import truncate_all

Row = namedtuple("Row", "shipstation_order_id source_modified_at payload")
AT = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)
TABLES = {
    "customers": "customer_key", "products": "coalesce(sku, shipstation_product_id::text)",
    "orders": "shipstation_order_id", "order_items": "shipstation_order_item_id", "tags": "shipstation_tag_id",
}


def _snapshot(engine) -> dict:
    out = {}
    with engine.connect() as conn:
        for table, key in TABLES.items():
            columns = [c for c in sa.inspect(engine).get_columns(table)
                       if c["name"] not in ("id", "created_at", "updated_at", "order_id", "customer_id", "product_id")]
            names = ", ".join(c["name"] for c in columns)
            query = f"SELECT {names} FROM {table} ORDER BY {key}"  # noqa: S608
            out[table] = [tuple(map(str, r)) for r in conn.execute(sa.text(query))]
        out["links"] = conn.execute(sa.text(
            "SELECT o.shipstation_order_id, c.customer_key, i.shipstation_order_item_id, p.sku, "
            "p.shipstation_product_id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id "
            "LEFT JOIN order_items i ON i.order_id = o.id LEFT JOIN products p ON p.id = i.product_id "
            "ORDER BY 1, 3")).all()
        out["tags"] += conn.execute(sa.text(
            "SELECT o.shipstation_order_id, t.shipstation_tag_id FROM order_tags ot JOIN orders o ON o.id = ot.order_id "
            "JOIN tags t ON t.id = ot.tag_id ORDER BY 1, 2")).all()
        out["failures"] = conn.execute(sa.text(
            "SELECT source_id, reason FROM normalization_failures ORDER BY 1")).all()
    return out


def _documents(sandbox) -> list[dict]:
    now = sandbox.now()
    data = sandbox.state.data
    docs = [d for d in (data.render_shipstation(o, now, sandbox.base_url) for o in data.ss_orders.values()) if d]
    edge = [
        order(1, modify="2026-11-01T01:30:00.0000000"),  # ambiguous fall-back time: the first (PDT)
        order(2, modify="2026-03-08T02:30:00.0000000", orderDate="2026-03-08T02:30:00.1234567"),  # the gap
        order(3, customerId=None, customerEmail=None),  # customer by name + postcode
        order(4, customerId=None, customerEmail=None, shipTo={"name": "Zoë Brontë", "postalCode": "yo1 7hh"}),
        order(5, customerId=None, customerEmail="  MIXED@Case.COM "),
        order(6, orderNumber="  N6\t"),  # edge whitespace other than spaces
        order(7, customerNotes="\u00a0note\u00a0"),
        order(8, items=[item(81, sku=" KEY-1 "), item(82, sku="", productId=5), item(83, sku=None, productId=0)]),
        order(9, items=[item(91, weight={"value": 40.12345, "units": "g"}), item(92, unitPrice=6.999)]),
        order(10, orderTotal=10, amountPaid=1e2, taxAmount=0.1, shippingAmount=-0.0),
        order(11, tagIds=[3, 1, 3], advancedOptions={"storeId": 1, "source": " Amazon UK", "mergedOrSplit": None,
                                                     "mergedIds": [5, 6], "parentId": 4}),
        order(12, advancedOptions={"source": "WooCommerce"}, shipTo=None, billTo={"name": "Bill Only"}),
        order(13, items=[item(131, options=[{"name": "A", "value": None}, {"name": None, "value": "x"}]),
                         item(132, options=[]), item(133, options=[{"name": "Qty", "value": 2}])]),
        order(14, items=[item(141), {"orderItemId": None, "adjustment": True, "name": "Discount", "quantity": 1}]),
        order(15, items=[item(151), item(151)]),  # a duplicate item id: rejected
        order(16, gift=1, orderStatus=5),  # lax types: Python decides
        order(17, orderDate="2026-02-29T10:00:00.0000000"),  # not a date this year
        order(18, shipTo={"name": "X", "extra": 1.10}),
        order(19, modify="2026-03-08T04:00:00.0000000", customerId=5001),  # same customer as order 1 (older)
        order(20, advancedOptions={"storeId": 310002, "source": "ebay"}),
    ]
    return docs + edge


def test_the_sql_mapping_writes_what_the_python_mapping_writes(sandbox, clean_db):
    docs = _documents(sandbox)
    rows = [Row(d["orderId"], AT, copy.deepcopy(d)) for d in docs]
    stores = {310001: "amazon", 310002: None, 1: "etsy"}
    fast = normalize_shipstation_rows(clean_db, rows, stores=stores)
    by_sql = _snapshot(clean_db)
    truncate_all(clean_db)
    slow = normalize_shipstation_rows(clean_db, rows, stores=stores, sql_mapping=False)
    by_python = _snapshot(clean_db)
    for table in by_python:
        assert by_sql[table] == by_python[table], table
    assert (fast.orders_written, fast.items_written, fast.quarantined) == \
        (slow.orders_written, slow.items_written, slow.quarantined)
    assert slow.mapped_in_python == len(rows)
    assert fast.mapped_in_python < len(rows) // 4, "most realistic orders are mapped in SQL"


def test_application_sessions_run_without_jit(app_db_url):
    """The mapping's wide statements cost more to JIT-compile than they save (see ``db.engine._without_jit``):
    every connection of an application engine, first and reconnected, has JIT off whatever the server's default."""
    from y3d_pipeline.db.engine import make_engine

    engine = make_engine(app_db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW jit")).scalar_one() == "off"
            conn.invalidate()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW jit")).scalar_one() == "off"
            assert conn.execute(sa.text("SELECT pg_backend_pid() != 0")).scalar_one()  # a fresh session works
    finally:
        engine.dispose()
