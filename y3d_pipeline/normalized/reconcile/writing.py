"""Applying a reconciliation plan: statement by statement, set-based, each guarded by ``IS DISTINCT FROM`` so a
re-run writes nothing. Marketplace-only records become rows of their own (:func:`_write_orphans`); when their
ShipStation twin arrives, what hangs off them (print tasks, Amazon Custom files, AI calls) moves to it first."""

from __future__ import annotations

import sqlalchemy as sa

from y3d_pipeline.db.models import AiCall, AmazonCustomization, Order, OrderItem, PrintTask, Product
from y3d_pipeline.db.upsert import changed, upsert_if_changed
from y3d_pipeline.normalized.reconcile.marketplace import MarketplaceOrder
from y3d_pipeline.normalized.reconcile.planning import Plan
from y3d_pipeline.normalized.reconcile.report import MARKETPLACE_ONLY, ReconcileReport

orders_t = Order.__table__
items_t = OrderItem.__table__
tasks_t = PrintTask.__table__
customs_t = AmazonCustomization.__table__
ai_calls_t = AiCall.__table__
products_t = Product.__table__


def write_plan(conn: sa.Connection, plan: Plan, report: ReconcileReport) -> None:
    """Apply a batch's :class:`~.planning.Plan` in ``conn``'s transaction; counts the rows written in ``report``."""
    source, id_col, item_col = plan.source, plan.id_col, plan.item_col
    o, i, t = orders_t.c, items_t.c, tasks_t.c
    b = sa.bindparam
    if plan.moves:
        other = tasks_t.alias("other")
        conn.execute(
            sa.update(tasks_t).where(t.order_item_id == b("b_from"),
                                     ~sa.exists().where(other.c.order_item_id == b("b_to")))
            .values(order_item_id=b("b_to"), order_id=b("b_to_order"), updated_at=sa.func.now()), plan.moves)
        conn.execute(sa.update(customs_t).where(customs_t.c.order_item_id == b("b_from"))
                     .values(order_item_id=b("b_to"), updated_at=sa.func.now()), plan.moves)
    if plan.order_moves:
        conn.execute(sa.update(ai_calls_t).where(ai_calls_t.c.order_id == b("b_from"))
                     .values(order_id=b("b_to")), plan.order_moves)
    if plan.delete_orders:
        conn.execute(orders_t.delete().where(o.id.in_(sorted(plan.delete_orders))))
    # free marketplace ids still held by another row (earlier attachment) before assigning them
    if plan.claim_orders:
        conn.execute(sa.update(orders_t).where(o[id_col] == b("b_key"), o.id != b("b_id"))
                     .values({id_col: None, "updated_at": sa.func.now()}), plan.claim_orders)
    if plan.claim_items:
        conn.execute(sa.update(items_t).where(i[item_col] == b("b_key"), i.id != b("b_id"))
                     .values({item_col: None, "updated_at": sa.func.now()}), plan.claim_items)
    if plan.order_updates:
        new = {id_col: b("b_mp_id", type_=o[id_col].type), "sources": b("b_sources", type_=o.sources.type),
               "reconciliation_status": b("b_status"), "currency": b("b_currency", type_=o.currency.type),
               "order_total": b("b_total", type_=o.order_total.type)}
        stmt = (sa.update(orders_t).where(o.id == b("b_id"))
                .where(changed(orders_t, new, new))
                .values({**new, "updated_at": sa.func.now()}))
        report.orders_written += max(conn.execute(stmt, plan.order_updates).rowcount, 0)
    if plan.item_updates:
        new = {item_col: b("b_key", type_=i[item_col].type), "reconciliation_status": b("b_status"),
               "options": b("b_options", type_=i.options.type), "unit_price": b("b_price", type_=i.unit_price.type)}
        stmt = (sa.update(items_t).where(i.id == b("b_id"))
                .where(changed(items_t, new, new))
                .values({**new, "updated_at": sa.func.now()}))
        report.items_written += max(conn.execute(stmt, plan.item_updates).rowcount, 0)
    if plan.orphans:
        _write_orphans(conn, plan.orphans, report, source=source, id_col=id_col, item_col=item_col)


ORPHAN_COLUMNS = ("marketplace", "order_number", "status", "order_date", "modified_at", "ship_by_date",
                  "customer_name", "customer_email", "currency", "order_total", "requested_shipping_service",
                  "sources", "reconciliation_status")
ORPHAN_ITEM_COLUMNS = ("order_id", "line_item_key", "position", "sku", "name", "product_id", "quantity",
                       "unit_price", "options", "reconciliation_status")


def _write_orphans(conn: sa.Connection, records: list[MarketplaceOrder], report: ReconcileReport, *,
                   source: str, id_col: str, item_col: str) -> None:
    """Marketplace-only orders (no ShipStation order yet): one row each, keyed by the marketplace id."""
    rows = [{
        id_col: r.source_order_id, "marketplace": r.marketplace, "order_number": r.order_number,
        "status": r.status, "order_date": r.order_date, "modified_at": r.modified_at, "ship_by_date": r.ship_by_date,
        "customer_name": r.customer_name, "customer_email": r.customer_email, "currency": r.currency,
        "order_total": r.order_total, "requested_shipping_service": r.requested_shipping_service,
        "sources": [source], "reconciliation_status": MARKETPLACE_ONLY,
    } for r in records]
    stmt = upsert_if_changed(orders_t, [id_col], ORPHAN_COLUMNS,
                             only_if=lambda _: orders_t.c.shipstation_order_id.is_(None)).returning(orders_t.c.id)
    report.orders_written += len(conn.execute(stmt, rows).all())
    ids = dict(conn.execute(sa.select(orders_t.c[id_col], orders_t.c.id)
                            .where(orders_t.c[id_col].in_([r.source_order_id for r in records]),
                                   orders_t.c.shipstation_order_id.is_(None))).all())
    skus = sorted({it.sku for r in records for it in r.items if it.sku})
    products = dict(conn.execute(sa.select(products_t.c.sku, products_t.c.id)
                                 .where(products_t.c.sku.in_(skus))).all()) if skus else {}
    item_rows = []
    for record in records:
        order_id = ids.get(record.source_order_id)
        if order_id is None:
            continue
        for item in record.items:
            if item.quantity is None:
                continue
            item_rows.append({
                item_col: record.item_key(item), "order_id": order_id, "line_item_key": item.item_id,
                "position": item.position, "sku": item.sku, "name": item.name,
                "product_id": products.get(item.sku) if item.sku else None, "quantity": item.quantity,
                "unit_price": item.unit_price, "options": item.options or None,
                "reconciliation_status": MARKETPLACE_ONLY,
            })
    if item_rows:
        unique = {row[item_col]: row for row in item_rows}
        stmt = upsert_if_changed(items_t, [item_col], ORPHAN_ITEM_COLUMNS).returning(items_t.c.id)
        report.items_written += len(conn.execute(stmt, list(unique.values())).all())
    if ids:
        keys = [row[item_col] for row in item_rows]
        removed = conn.execute(items_t.delete().where(
            items_t.c.order_id.in_(sorted(ids.values())),
            sa.or_(items_t.c[item_col].is_(None), items_t.c[item_col].not_in(keys))))
        report.items_removed += max(removed.rowcount, 0)
