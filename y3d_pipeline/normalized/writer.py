"""The one writer of the normalized tables: staged canonical rows → set-based upserts, one transaction per batch.

A batch is first staged in temporary tables (``s_orders``, ``s_items``, ``s_tags``; see
:mod:`~y3d_pipeline.normalized.shipstation_sql`, which fills them straight from the raw ``jsonb``, and
:func:`stage_orders`, which stages canonical records mapped in Python); :func:`merge` then writes it with a
fixed number of statements (``INSERT ... SELECT ... ON CONFLICT``), whatever the batch size: nothing is
written row by row and no row crosses to Python. Rows whose values did not change are not touched
(``IS DISTINCT FROM`` guards), so re-running a window leaves the tables — ids, ``updated_at`` included —
exactly as they were.

Rules that keep repeated and out-of-order runs safe:
* orders: never replaced by an older ``modified_at``; ``shipped_at``/``tracking_number``/
  ``shipment_status`` belong to the shipments sync and are not touched here; ``sources`` gains the source.
* products: matched by trimmed SKU, then by ShipStation product id; ``name`` is only ever written over a
  placeholder (``name_is_placeholder``), so a curated name survives; other attributes take the newest
  non-null value.
* customers: matched by ``customer_key``; the newest order's contact details win.
* items: keyed by the source's item id; items that disappeared from a (non merged/split) order are
  deleted; items of merged/split orders are only moved (their id moves them to the sibling order).
* tags: unknown tag ids get a placeholder tag row (the tags sync names it later); ``order_tags`` is
  made to equal the order's current tag ids.

Within a batch, orders are taken oldest first (``modified_at``, then id as text), the newest version of an
order wins, and of the same customer or product the newest order's details win (a product keeps the first
name seen).
"""

# ruff: noqa: S608 -- the SQL is assembled from this module's own constants; every value is a bound parameter
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.normalized.records import SHIPSTATION_KEYS, CanonicalOrder, NormalizationReport, SourceKeys
from y3d_pipeline.normalized.shipments import apply_shipments
from y3d_pipeline.normalized.shipstation_sql import (
    CUSTOMER_STAGE_COLUMNS,
    ITEM_STAGE_COLUMNS,
    ORDER_VALUE_COLUMNS,
    STAGING_DDL,
)

PLACEHOLDER_PRODUCT_NAME = "Product needs a name"

CUSTOMER_COLUMNS = ("shipstation_customer_id", "email", "name", "username", "phone", "company", "street1",
                    "street2", "street3", "city", "state", "postal_code", "country_code", "is_residential",
                    "address_verified")
ORDER_COLUMNS = ("order_number", "order_key", "shipstation_store_id", "status", "order_date", "payment_date",
                 "modified_at", "ship_by_date", "carrier_code", "service_code", "requested_shipping_service",
                 "customer_name", "customer_email", "customer_notes", "internal_notes", "gift", "gift_message",
                 "order_total", "amount_paid", "tax_amount", "shipping_amount", "ship_to", "merged_or_split",
                 "parent_shipstation_order_id", "merged_shipstation_order_ids")
ITEM_COLUMNS = ("order_id", "line_item_key", "position", "sku", "name", "product_id", "quantity", "unit_price",
                "options", "image_url")
PRODUCT_ATTRIBUTES = ("image_url", "weight_value", "weight_units", "fulfillment_sku", "upc", "warehouse_location")
_JSON_COLUMNS = {"ship_to", "merged_shipstation_order_ids", "options"}


def _cols(text: str) -> list[str]:
    return [c.strip() for c in text.split(",")]


_S_ORDERS = sa.table("s_orders", *[sa.column(c) for c in (
    "seq", "source_order_id", "modified_at", *_cols(ORDER_VALUE_COLUMNS), "store_id", "marketplace",
    "replaces_items", "customer_key", *_cols(CUSTOMER_STAGE_COLUMNS))])
_S_ITEMS = sa.table("s_items", *[sa.column(c) for c in ("seq", "position", *_cols(ITEM_STAGE_COLUMNS))])
_S_TAGS = sa.table("s_tags", sa.column("seq"), sa.column("tag_id"))


def create_staging(conn: sa.Connection) -> None:
    """The batch's staging tables (temporary, dropped at commit)."""
    conn.execute(sa.text(STAGING_DDL))


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def stage_orders(conn: sa.Connection, orders: Iterable[tuple[int, CanonicalOrder]],
                 store_marketplaces: Mapping[int, str | None]) -> None:
    """Stage canonical orders mapped in Python, each with its ``seq`` (its place in the batch)."""
    order_rows, item_rows, tag_rows = [], [], []
    for seq, order in orders:
        marketplace = store_marketplaces.get(order.store_id) if order.store_id is not None else None
        customer = order.customer
        order_rows.append({
            "seq": seq, "source_order_id": order.source_order_id, "modified_at": order.modified_at,
            **{c: (_json(order.values[c]) if c in _JSON_COLUMNS else order.values[c])
               for c in _cols(ORDER_VALUE_COLUMNS)},
            "store_id": order.store_id, "marketplace": marketplace or order.source_marketplace,
            "replaces_items": order.replaces_items,
            "customer_key": customer.customer_key if customer else None,
            **{f"c_{c}": (getattr(customer, c) if customer else None) for c in CUSTOMER_COLUMNS},
        })
        for item in order.items:
            product = item.product
            item_rows.append({
                "seq": seq, "position": item.position, "source_item_id": item.source_item_id,
                "line_item_key": item.line_item_key, "sku": item.sku, "name": item.name, "quantity": item.quantity,
                "unit_price": item.unit_price, "options": _json(item.options), "image_url": item.image_url,
                "has_product": product is not None,
                "p_sku": product.sku if product else None,
                "p_pid": product.shipstation_product_id if product else None,
                "p_name": product.name if product else None,
                **{f"p_{a}": (getattr(product, a) if product else None) for a in PRODUCT_ATTRIBUTES},
                "p_source_modified_at": product.source_modified_at if product else None,
            })
        tag_rows += [{"seq": seq, "tag_id": t} for t in sorted(set(order.tag_ids))]
    for table, rows in ((_S_ORDERS, order_rows), (_S_ITEMS, item_rows), (_S_TAGS, tag_rows)):
        if rows:
            conn.execute(sa.insert(table), rows)


# ------------------------------------------------------------------------------------------ merge

_ORDER_UPDATE = ORDER_COLUMNS + ("marketplace", "customer_id")
_ORDER_COMPARED = [c for c in _ORDER_UPDATE if c not in ("carrier_code", "service_code")]
_SOURCE = "'[\"shipstation\"]'::jsonb"


def _tuple(prefix: str, columns: Sequence[str]) -> str:
    return "(" + ", ".join(f"{prefix}{c}" for c in columns) + ")"


def _count(conn: sa.Connection, sql: str, params: Mapping[str, Any] | None = None) -> int:
    return conn.execute(sa.text(f"WITH w AS ({sql} RETURNING 1) SELECT count(*) FROM w"), params or {}).scalar_one()


_MERGE_TABLES = """
CREATE TEMP TABLE mo ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY d.modified_at, d.source_order_id::text COLLATE "C") AS ord, d.*
FROM (SELECT DISTINCT ON (source_order_id) * FROM s_orders {where}
      ORDER BY source_order_id, modified_at DESC, seq DESC) d;
CREATE TEMP TABLE mi ON COMMIT DROP AS
SELECT mo.ord, mo.source_order_id, i.* FROM s_items i JOIN mo ON mo.seq = i.seq;
CREATE TEMP TABLE mt ON COMMIT DROP AS
SELECT DISTINCT mo.source_order_id, t.tag_id FROM s_tags t JOIN mo ON mo.seq = t.seq;
"""

_LAST = "(array_agg({c} ORDER BY ord DESC, position DESC) FILTER (WHERE {c} IS NOT NULL))[1] AS {a}"
_MERGE_PRODUCTS = f"""
CREATE TEMP TABLE mp ON COMMIT DROP AS
SELECT g.*, coalesce(ps.id, pp.id) AS target
FROM (SELECT p_sku AS sku, CASE WHEN p_sku IS NULL THEN p_pid END AS pid,
             (array_agg(p_name ORDER BY ord, position) FILTER (WHERE p_name IS NOT NULL))[1] AS name,
             {", ".join(_LAST.format(c=f"p_{a}", a=a) for a in PRODUCT_ATTRIBUTES)},
             max(p_source_modified_at) AS source_modified_at
      FROM mi WHERE has_product GROUP BY 1, 2) g
LEFT JOIN products ps ON g.sku IS NOT NULL AND ps.sku = g.sku
LEFT JOIN products pp ON g.sku IS NULL AND pp.shipstation_product_id = g.pid
"""

_PRODUCT_NEW = {
    "name": "CASE WHEN p.name_is_placeholder AND n.name IS NOT NULL THEN n.name ELSE p.name END",
    "name_is_placeholder": "p.name_is_placeholder AND n.name IS NULL",
    **{a: f"coalesce(n.{a}, p.{a})" for a in PRODUCT_ATTRIBUTES},
    "source_modified_at": "greatest(p.source_modified_at, n.source_modified_at)",
}
_UPDATE_PRODUCTS = f"""
UPDATE products p SET {", ".join(f"{c} = {e}" for c, e in _PRODUCT_NEW.items())}, updated_at = now()
FROM mp n
WHERE p.id = n.target
  AND {_tuple("p.", list(_PRODUCT_NEW))} IS DISTINCT FROM ({", ".join(_PRODUCT_NEW.values())})"""
_INSERT_PRODUCTS = f"""
INSERT INTO products (sku, shipstation_product_id, name, name_is_placeholder, {", ".join(PRODUCT_ATTRIBUTES)},
                      source_modified_at)
SELECT sku, pid, coalesce(name, '{PLACEHOLDER_PRODUCT_NAME}'), name IS NULL, {", ".join(PRODUCT_ATTRIBUTES)},
       source_modified_at
FROM mp WHERE target IS NULL
ORDER BY sku IS NOT NULL, coalesce(sku, pid::text) COLLATE "C"
ON CONFLICT DO NOTHING"""

_UPSERT_CUSTOMERS = f"""
INSERT INTO customers AS t (customer_key, {", ".join(CUSTOMER_COLUMNS)})
SELECT * FROM (SELECT DISTINCT ON (customer_key) customer_key, {", ".join(f"c_{c}" for c in CUSTOMER_COLUMNS)}
               FROM mo WHERE customer_key IS NOT NULL ORDER BY customer_key, ord DESC) x
ORDER BY customer_key COLLATE "C"
ON CONFLICT (customer_key) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in CUSTOMER_COLUMNS)},
                                          updated_at = now()
WHERE {_tuple("t.", CUSTOMER_COLUMNS)} IS DISTINCT FROM {_tuple("excluded.", CUSTOMER_COLUMNS)}"""

_ORDER_SET = {c: f"excluded.{c}" for c in _ORDER_UPDATE}
_ORDER_SET["carrier_code"] = ("CASE WHEN t.shipment_status IS NOT NULL THEN t.carrier_code "
                              "ELSE coalesce(excluded.carrier_code, t.carrier_code) END")
_ORDER_SET["service_code"] = "coalesce(excluded.service_code, t.service_code)"
_ORDER_SET["sources"] = f"CASE WHEN t.sources @> {_SOURCE} THEN t.sources ELSE t.sources || {_SOURCE} END"
_ORDER_SET["updated_at"] = "now()"
_UPSERT_ORDERS = f"""
INSERT INTO orders AS t (shipstation_order_id, {", ".join(_ORDER_UPDATE)}, sources)
SELECT mo.source_order_id, {", ".join(f"mo.{c}" for c in ORDER_COLUMNS)}, mo.marketplace, c.id, {_SOURCE}
FROM mo LEFT JOIN customers c ON c.customer_key = mo.customer_key
ORDER BY mo.ord
ON CONFLICT (shipstation_order_id) DO UPDATE SET {", ".join(f"{c} = {e}" for c, e in _ORDER_SET.items())}
WHERE (t.modified_at IS NULL OR excluded.modified_at >= t.modified_at)
  AND ({_tuple("t.", _ORDER_COMPARED)} IS DISTINCT FROM {_tuple("excluded.", _ORDER_COMPARED)}
       OR NOT t.sources @> {_SOURCE}
       OR (excluded.carrier_code IS NOT NULL AND t.shipment_status IS NULL
           AND excluded.carrier_code IS DISTINCT FROM t.carrier_code)
       OR (excluded.service_code IS NOT NULL AND excluded.service_code IS DISTINCT FROM t.service_code))"""

_ITEM_UPDATE = [c for c in ITEM_COLUMNS]
_UPSERT_ITEMS = f"""
INSERT INTO order_items AS t (shipstation_order_item_id, {", ".join(ITEM_COLUMNS)})
SELECT source_item_id, {", ".join(ITEM_COLUMNS)} FROM (
    SELECT DISTINCT ON (mi.source_item_id) mi.ord, mi.source_item_id, o.id AS order_id, mi.line_item_key,
           mi.position, mi.sku, mi.name, coalesce(ps.id, pp.id) AS product_id, mi.quantity, mi.unit_price,
           mi.options, mi.image_url
    FROM mi JOIN orders o ON o.shipstation_order_id = mi.source_order_id
    LEFT JOIN products ps ON mi.has_product AND mi.p_sku IS NOT NULL AND ps.sku = mi.p_sku
    LEFT JOIN products pp ON mi.has_product AND mi.p_sku IS NULL AND pp.shipstation_product_id = mi.p_pid
    ORDER BY mi.source_item_id, mi.ord DESC, mi.position DESC) x
ORDER BY ord, position
ON CONFLICT (shipstation_order_item_id) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _ITEM_UPDATE)},
                                                      updated_at = now()
WHERE {_tuple("t.", _ITEM_UPDATE)} IS DISTINCT FROM {_tuple("excluded.", _ITEM_UPDATE)}"""

_DELETE_ITEMS = """
DELETE FROM order_items i USING mo JOIN orders o ON o.shipstation_order_id = mo.source_order_id
WHERE mo.replaces_items AND i.order_id = o.id AND i.shipstation_order_item_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM mi WHERE mi.source_item_id = i.shipstation_order_item_id)"""

_ENSURE_TAGS = """
INSERT INTO tags (shipstation_tag_id, name)
SELECT tag_id, 'ShipStation tag ' || tag_id FROM (SELECT DISTINCT tag_id FROM mt) d ORDER BY tag_id
ON CONFLICT (shipstation_tag_id) DO NOTHING"""
_UNLINK_TAGS = """
DELETE FROM order_tags ot USING mo JOIN orders o ON o.shipstation_order_id = mo.source_order_id
WHERE ot.order_id = o.id
  AND NOT EXISTS (SELECT 1 FROM mt JOIN tags tg ON tg.shipstation_tag_id = mt.tag_id
                  WHERE mt.source_order_id = mo.source_order_id AND tg.id = ot.tag_id)"""
_LINK_TAGS = """
INSERT INTO order_tags (order_id, tag_id)
SELECT o.id, tg.id FROM mt JOIN orders o ON o.shipstation_order_id = mt.source_order_id
JOIN tags tg ON tg.shipstation_tag_id = mt.tag_id ORDER BY 1, 2
ON CONFLICT DO NOTHING"""


def merge(conn: sa.Connection, only: Sequence[Any] | None = None) -> NormalizationReport:
    """Write the staged batch (or only the staged orders with these source ids) in ``conn``'s transaction."""
    report = NormalizationReport()
    where = "" if only is None else "WHERE source_order_id = ANY(CAST(:only AS bigint[]))"
    conn.execute(sa.text(_MERGE_TABLES.format(where=where)), {"only": list(only or [])})
    orders = conn.execute(sa.text("SELECT count(*) FROM mo")).scalar_one()
    if orders:
        report.customers_written = _count(conn, _UPSERT_CUSTOMERS)
        conn.execute(sa.text(_MERGE_PRODUCTS))
        report.products_written = _count(conn, _UPDATE_PRODUCTS) + _count(conn, _INSERT_PRODUCTS)
        report.orders_written = _count(conn, _UPSERT_ORDERS)
        report.orders_unchanged = orders - report.orders_written
        report.items_written = _count(conn, _UPSERT_ITEMS)
        report.items_removed = _count(conn, _DELETE_ITEMS)
        apply_shipments(conn, [r[0] for r in conn.execute(sa.text("SELECT source_order_id FROM mo"))])
        conn.execute(sa.text(_ENSURE_TAGS))
        conn.execute(sa.text(_UNLINK_TAGS))
        report.order_tags_linked = _count(conn, _LINK_TAGS)
        conn.execute(sa.text("DROP TABLE mp"))
    conn.execute(sa.text("DROP TABLE mo, mi, mt"))
    return report


def write_orders(
    conn: sa.Connection,
    orders: list[CanonicalOrder],
    keys: SourceKeys = SHIPSTATION_KEYS,
    *,
    store_marketplaces: Mapping[int, str | None],
) -> NormalizationReport:
    """Write one batch of canonical orders (customers, products, orders, items, tags) in ``conn``'s
    transaction: staged, merged, the staging dropped."""
    if keys != SHIPSTATION_KEYS:
        raise ValueError(f"the writer writes ShipStation orders, not {keys.source}")
    if not orders:
        return NormalizationReport()
    create_staging(conn)
    stage_orders(conn, enumerate(orders), store_marketplaces)
    report = merge(conn)
    conn.execute(sa.text("DROP TABLE s_orders, s_items, s_tags"))
    return report
