"""The one writer of the normalized tables: canonical records → set-based upserts, one transaction per batch.

Every statement works on the whole batch (multi-row ``INSERT ... ON CONFLICT`` with ``RETURNING``, one
``SELECT ... = ANY(...)`` to map natural keys to ids); nothing is written row by row. Rows whose values
did not change are not touched (``IS DISTINCT FROM`` guards), so re-running a window leaves the tables —
ids, ``updated_at`` included — exactly as they were.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.db.models import Customer, Order, OrderItem, OrderTag, Product, Tag
from y3d_pipeline.db.upsert import changed, upsert_if_changed
from y3d_pipeline.normalized.records import (
    CanonicalOrder,
    CanonicalProduct,
    NormalizationReport,
    SourceKeys,
)
from y3d_pipeline.normalized.shipments import apply_shipments

PLACEHOLDER_PRODUCT_NAME = "Product needs a name"

customers_t = Customer.__table__
products_t = Product.__table__
orders_t = Order.__table__
items_t = OrderItem.__table__
tags_t = Tag.__table__
order_tags_t = OrderTag.__table__

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


# ------------------------------------------------------------------------------------------ customers


def upsert_customers(conn: sa.Connection, orders: list[CanonicalOrder]) -> tuple[dict[str, int], int]:
    """Upsert the batch's customers (newest order wins per key); returns (customer_key → id, rows written)."""
    latest: dict[str, dict[str, Any]] = {}
    for order in orders:  # orders arrive oldest first, so later ones overwrite
        if order.customer is not None:
            latest[order.customer.customer_key] = dict(vars(order.customer))
    if not latest:
        return {}, 0
    rows = [latest[k] for k in sorted(latest)]
    stmt = upsert_if_changed(customers_t, ["customer_key"], CUSTOMER_COLUMNS).returning(customers_t.c.id)
    written = len(conn.execute(stmt, rows).all())
    ids = conn.execute(sa.select(customers_t.c.customer_key, customers_t.c.id)
                       .where(customers_t.c.customer_key.in_(list(latest)))).all()
    return {key: id_ for key, id_ in ids}, written


# ------------------------------------------------------------------------------------------ products


def _merge_products(orders: list[CanonicalOrder]) -> dict[tuple[str, Any], CanonicalProduct]:
    """One record per natural key: the first name seen (names are never overwritten), newest attributes."""
    merged: dict[tuple[str, Any], CanonicalProduct] = {}
    for order in orders:
        for item in order.items:
            product = item.product
            if product is None:
                continue
            key = product.natural_key
            current = merged.get(key)
            if current is None:
                merged[key] = CanonicalProduct(**vars(product))
                continue
            if current.name is None:
                current.name = product.name
            for attr in PRODUCT_ATTRIBUTES:
                value = getattr(product, attr)
                if value is not None:
                    setattr(current, attr, value)
            if product.source_modified_at and (current.source_modified_at is None
                                               or product.source_modified_at > current.source_modified_at):
                current.source_modified_at = product.source_modified_at
    return merged


def upsert_products(conn: sa.Connection, orders: list[CanonicalOrder]) -> tuple[dict[tuple[str, Any], int], int]:
    """Match by trimmed SKU, then ShipStation product id; insert the new ones, update the rest in bulk."""
    merged = _merge_products(orders)
    if not merged:
        return {}, 0
    skus = sorted({p.sku for p in merged.values() if p.sku})
    pids = sorted({p.shipstation_product_id for p in merged.values() if p.shipstation_product_id})
    existing = conn.execute(
        sa.select(products_t.c.id, products_t.c.sku, products_t.c.shipstation_product_id)
        .where(sa.or_(products_t.c.sku.in_(skus or [""]),
                      products_t.c.shipstation_product_id.in_(pids or [-1])))
    ).all()
    by_sku = {r.sku: r for r in existing if r.sku}
    by_pid = {r.shipstation_product_id: r for r in existing if r.shipstation_product_id}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key in sorted(merged, key=lambda k: (k[0], str(k[1]))):
        product = merged[key]
        if product.sku:
            # keyed by SKU; the product id stays on product-id-keyed rows only, because one ShipStation
            # product id can cover several SKUs (variants) and the column is unique: claiming it for one
            # SKU would make the outcome depend on which order came first
            target = by_sku.get(product.sku)
            pid = None
        else:
            target = by_pid.get(product.shipstation_product_id)
            pid = product.shipstation_product_id
        values = {
            "sku": product.sku,
            "shipstation_product_id": pid,
            "name": product.name or PLACEHOLDER_PRODUCT_NAME,
            "name_is_placeholder": product.name is None,
            **{attr: getattr(product, attr) for attr in PRODUCT_ATTRIBUTES},
            "source_modified_at": product.source_modified_at,
        }
        if target is None:
            inserts.append(values)
        else:
            updates.append({"b_id": target.id, **{f"b_{k}": v for k, v in values.items()
                                                  if k not in ("sku", "shipstation_product_id")}})
    written = 0
    if inserts:
        stmt = insert(products_t).on_conflict_do_nothing().returning(products_t.c.id)
        written += len(conn.execute(stmt, inserts).all())
    if updates:
        p = products_t.c
        new_name = sa.bindparam("b_name")
        new_is_placeholder = sa.bindparam("b_name_is_placeholder")
        name_replaces = sa.and_(p.name_is_placeholder, sa.not_(new_is_placeholder))
        assignments: dict[str, Any] = {
            "name": sa.case((name_replaces, new_name), else_=p.name),
            "name_is_placeholder": sa.and_(p.name_is_placeholder, new_is_placeholder),
            **{attr: sa.func.coalesce(sa.bindparam(f"b_{attr}", type_=p[attr].type), p[attr])
               for attr in PRODUCT_ATTRIBUTES},
            "source_modified_at": sa.func.greatest(p.source_modified_at,
                                                   sa.bindparam("b_source_modified_at", type_=p.source_modified_at.type)),
        }
        compared = list(assignments)
        stmt = (
            sa.update(products_t)
            .where(p.id == sa.bindparam("b_id"))
            .where(changed(products_t, assignments, compared))
            .values({**assignments, "updated_at": sa.func.now()})
        )
        result = conn.execute(stmt, updates)
        written += max(result.rowcount, 0)
    rows = conn.execute(
        sa.select(products_t.c.id, products_t.c.sku, products_t.c.shipstation_product_id)
        .where(sa.or_(products_t.c.sku.in_(skus or [""]),
                      products_t.c.shipstation_product_id.in_(pids or [-1])))
    ).all()
    ids: dict[tuple[str, Any], int] = {}
    for row in rows:
        if row.shipstation_product_id is not None:
            ids.setdefault(("shipstation_product_id", row.shipstation_product_id), row.id)
        if row.sku is not None:
            ids[("sku", row.sku)] = row.id
    return ids, written


# ------------------------------------------------------------------------------------------ tags


def ensure_tags(conn: sa.Connection, shipstation_tag_ids: Iterable[int]) -> dict[int, int]:
    wanted = sorted(set(shipstation_tag_ids))
    if not wanted:
        return {}
    conn.execute(insert(tags_t).on_conflict_do_nothing(index_elements=["shipstation_tag_id"]),
                 [{"shipstation_tag_id": t, "name": f"ShipStation tag {t}"} for t in wanted])
    rows = conn.execute(sa.select(tags_t.c.shipstation_tag_id, tags_t.c.id)
                        .where(tags_t.c.shipstation_tag_id.in_(wanted))).all()
    return dict(rows)


def sync_order_tags(conn: sa.Connection, desired: Mapping[int, set[int]]) -> int:
    """Make ``order_tags`` of the given orders equal ``desired`` (order id → tag ids); returns rows added."""
    if not desired:
        return 0
    order_ids = sorted(desired)
    existing: dict[int, set[int]] = {oid: set() for oid in order_ids}
    for order_id, tag_id in conn.execute(
            sa.select(order_tags_t.c.order_id, order_tags_t.c.tag_id)
            .where(order_tags_t.c.order_id.in_(order_ids))):
        existing[order_id].add(tag_id)
    add = [{"order_id": o, "tag_id": t} for o in order_ids for t in sorted(desired[o] - existing[o])]
    remove = [(o, t) for o in order_ids for t in sorted(existing[o] - desired[o])]
    if remove:
        conn.execute(order_tags_t.delete().where(
            sa.tuple_(order_tags_t.c.order_id, order_tags_t.c.tag_id).in_(remove)))
    if add:
        conn.execute(insert(order_tags_t).on_conflict_do_nothing(), add)
    return len(add)


# ------------------------------------------------------------------------------------------ orders


def write_orders(
    conn: sa.Connection,
    orders: list[CanonicalOrder],
    keys: SourceKeys,
    *,
    store_marketplaces: Mapping[int, str | None],
) -> NormalizationReport:
    """Write one batch of canonical orders (customers, products, orders, items, tags) in ``conn``'s
    transaction."""
    report = NormalizationReport()
    if not orders:
        return report
    # One record per source order id (the newest): a batch may hold the same order twice only if the
    # caller fed duplicates, but then the newest must win.
    newest: dict[Any, CanonicalOrder] = {}
    for order in orders:
        current = newest.get(order.source_order_id)
        if current is None or order.modified_at >= current.modified_at:
            newest[order.source_order_id] = order
    orders = sorted(newest.values(), key=lambda o: (o.modified_at, str(o.source_order_id)))

    customer_ids, report.customers_written = upsert_customers(conn, orders)
    product_ids, report.products_written = upsert_products(conn, orders)

    key_col = keys.order_key_column
    rows = []
    for order in orders:
        marketplace = store_marketplaces.get(order.store_id) if order.store_id is not None else None
        rows.append({
            key_col: order.source_order_id,
            **order.values,
            "marketplace": marketplace or order.source_marketplace,
            "customer_id": customer_ids.get(order.customer.customer_key) if order.customer else None,
            "sources": [keys.source],
        })
    stmt = insert(orders_t)
    excluded = stmt.excluded
    update_columns = (*ORDER_COLUMNS, "marketplace", "customer_id")
    set_: dict[str, Any] = {c: excluded[c] for c in update_columns}
    # once shipments are known they own the carrier; before that the order's own carrierCode is used
    set_["carrier_code"] = sa.case((orders_t.c.shipment_status.is_not(None), orders_t.c.carrier_code),
                                   else_=sa.func.coalesce(excluded.carrier_code, orders_t.c.carrier_code))
    set_["service_code"] = sa.func.coalesce(excluded.service_code, orders_t.c.service_code)
    source_json = sa.cast(sa.literal(f'["{keys.source}"]'), orders_t.c.sources.type)
    set_["sources"] = sa.case((orders_t.c.sources.contains(source_json), orders_t.c.sources),
                              else_=orders_t.c.sources.op("||")(source_json))
    set_["updated_at"] = sa.func.now()
    compared = [c for c in update_columns if c not in ("carrier_code", "service_code")]
    stmt = stmt.on_conflict_do_update(
        index_elements=[key_col],
        set_=set_,
        where=sa.and_(
            sa.or_(orders_t.c.modified_at.is_(None), excluded.modified_at >= orders_t.c.modified_at),
            sa.or_(
                changed(orders_t, excluded, compared),
                sa.not_(orders_t.c.sources.contains(source_json)),
                sa.and_(excluded.carrier_code.is_not(None), orders_t.c.shipment_status.is_(None),
                        excluded.carrier_code.is_distinct_from(orders_t.c.carrier_code)),
                sa.and_(excluded.service_code.is_not(None),
                        excluded.service_code.is_distinct_from(orders_t.c.service_code)),
            ),
        ),
    ).returning(orders_t.c.id)
    report.orders_written = len(conn.execute(stmt, rows).all())
    report.orders_unchanged = len(rows) - report.orders_written
    source_ids = [o.source_order_id for o in orders]
    order_ids = dict(conn.execute(sa.select(orders_t.c[key_col], orders_t.c.id)
                                  .where(orders_t.c[key_col].in_(source_ids))).all())

    item_col = keys.item_key_column
    item_rows = []
    for order in orders:
        order_id = order_ids[order.source_order_id]
        for item in order.items:
            product_id = product_ids.get(item.product.natural_key) if item.product else None
            item_rows.append({
                item_col: item.source_item_id,
                "order_id": order_id,
                "line_item_key": item.line_item_key,
                "position": item.position,
                "sku": item.sku,
                "name": item.name,
                "product_id": product_id,
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "options": item.options,
                "image_url": item.image_url,
            })
    if item_rows:
        # an item id can only be in one order; if two orders of the batch claim it, the newest wins
        unique_items = {row[item_col]: row for row in item_rows}
        stmt = upsert_if_changed(items_t, [item_col], ITEM_COLUMNS).returning(items_t.c.id)
        report.items_written = len(conn.execute(stmt, list(unique_items.values())).all())
    replacing = [order_ids[o.source_order_id] for o in orders if o.replaces_items]
    if replacing:
        keep = [row[item_col] for row in item_rows]
        removed = conn.execute(items_t.delete().where(
            items_t.c.order_id.in_(replacing),
            items_t.c[item_col].is_not(None),
            items_t.c[item_col].not_in(keep or [-1]),
        ))
        report.items_removed = max(removed.rowcount, 0)

    if keys.source == "shipstation":
        apply_shipments(conn, source_ids)
    tag_map = ensure_tags(conn, (t for o in orders for t in o.tag_ids))
    report.order_tags_linked = sync_order_tags(
        conn, {order_ids[o.source_order_id]: {tag_map[t] for t in o.tag_ids} for o in orders})
    return report
