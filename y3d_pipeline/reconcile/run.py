"""Reconcile a window of raw Shopify and Amazon orders with the normalized (ShipStation) orders.

Which marketplace records a window covers (:func:`marketplace_refs`):
* raw Shopify / Amazon orders with ``start <= source_modified_at < end``;
* the marketplace records of ShipStation orders of marketplace ``web`` / ``amazon`` modified in the window
  (ShipStation normalization of the same window has just rewritten their options and prices from
  ShipStation; this puts the marketplace's values back and picks up a ShipStation order that arrived after
  its marketplace record);
* the marketplace records of every marketplace-only row that now has a ShipStation order with the same
  marketplace + order number (whatever its day), so the two converge to one row.

Each batch (``batch_size`` records of one source) is mapped (invalid payloads are quarantined in
``normalization_failures`` with source ``shopify`` / ``amazon``) and applied in ONE transaction by
:func:`apply_marketplace_orders`; a record PostgreSQL refuses is isolated and quarantined the same way
(:func:`~y3d_pipeline.db.storable.write_isolating`), so no single record fails the batch. All decisions depend only on the stored data, never on earlier runs'
results, and every write is guarded by ``IS DISTINCT FROM``: re-running a window leaves every row,
``updated_at`` included, as it was (as long as ShipStation normalization did not rewrite it first, see the
package docstring).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.counters import Counters, reported
from y3d_pipeline.db.models import (
    AiCall,
    AmazonCustomization,
    Order,
    OrderItem,
    PrintTask,
    Product,
    RawAmazonOrder,
    RawShopifyOrder,
)
from y3d_pipeline.db.quarantine import quarantine, resolve
from y3d_pipeline.db.storable import write_isolating
from y3d_pipeline.db.upsert import changed, upsert_if_changed
from y3d_pipeline.normalize.records import Rejected
from y3d_pipeline.reconcile.marketplace import (
    AMAZON,
    MARKETPLACE_OF,
    SHOPIFY,
    Invalid,
    MarketplaceItem,
    MarketplaceOrder,
    map_amazon,
    map_shopify,
    merge_options,
)

log = logging.getLogger(__name__)

MATCHED = "matched"
MARKETPLACE_ONLY = "marketplace_only"
UNMATCHED = "unmatched"
AMBIGUOUS = "ambiguous"
ITEM_MATCHED_BY_SKU = "matched_by_sku"
ORDER_STATUSES = (MATCHED, MARKETPLACE_ONLY, UNMATCHED, AMBIGUOUS)
DEFAULT_BATCH_SIZE = 500

orders_t = Order.__table__
items_t = OrderItem.__table__
tasks_t = PrintTask.__table__
customs_t = AmazonCustomization.__table__
ai_calls_t = AiCall.__table__
products_t = Product.__table__
RAW = {SHOPIFY: (RawShopifyOrder.__table__, "shopify_order_id"), AMAZON: (RawAmazonOrder.__table__, "amazon_order_id")}
MAPPERS: dict[str, Callable[[dict[str, Any]], MarketplaceOrder]] = {SHOPIFY: map_shopify, AMAZON: map_amazon}


@dataclass
class Finding:
    """An order the sources do not agree on (status ``unmatched`` or ``ambiguous``)."""

    source: str
    marketplace: str
    order_number: str
    status: str
    order_id: int | None
    detail: str

    def describe(self) -> str:
        return f"{self.marketplace} {self.order_number} ({self.status}, order id {self.order_id}): {self.detail}"


@dataclass
class ReconcileReport(Counters):
    raw_records: int = reported("reconcile_marketplace_records")
    matched: int = 0
    marketplace_only: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    orphans_merged: int = reported("reconcile_orphans_merged")
    orders_written: int = reported("reconcile_orders_written")
    items_written: int = reported("reconcile_items_written")
    items_removed: int = reported("reconcile_items_removed")
    quarantined: int = reported("reconcile_quarantined")
    resolved: int = reported(None)
    batches: int = reported(None)
    findings: list[Finding] = reported(None, default=list)
    quarantined_ids: list[str] = reported(None, default=list)

    def count(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


# ------------------------------------------------------------------------------------------ window


def marketplace_refs(conn: sa.Connection, start: dt.datetime, end: dt.datetime) -> dict[str, list[Any]]:
    """Ids of the raw Shopify / Amazon records the window reconciles (see the module docstring)."""
    params = {"start": start, "end": end}
    shopify = conn.execute(sa.text("""
        SELECT r.shopify_order_id FROM raw_shopify_orders r
        WHERE r.source_modified_at >= :start AND r.source_modified_at < :end
        UNION
        SELECT r.shopify_order_id FROM orders o JOIN raw_shopify_orders r ON r.order_name = '#' || o.order_number
        WHERE o.marketplace = 'web' AND o.shipstation_order_id IS NOT NULL
          AND o.modified_at >= :start AND o.modified_at < :end
        UNION
        SELECT o.shopify_order_id FROM orders o
        WHERE o.shipstation_order_id IS NULL AND o.shopify_order_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM orders s WHERE s.marketplace = o.marketplace AND s.order_number = o.order_number
              AND s.shipstation_order_id IS NOT NULL)
          AND EXISTS (SELECT 1 FROM raw_shopify_orders r WHERE r.shopify_order_id = o.shopify_order_id)
    """), params).scalars().all()
    amazon = conn.execute(sa.text("""
        SELECT r.amazon_order_id FROM raw_amazon_orders r
        WHERE r.source_modified_at >= :start AND r.source_modified_at < :end
        UNION
        SELECT r.amazon_order_id FROM orders o JOIN raw_amazon_orders r ON r.amazon_order_id = o.order_number
        WHERE o.marketplace = 'amazon' AND o.shipstation_order_id IS NOT NULL
          AND o.modified_at >= :start AND o.modified_at < :end
        UNION
        SELECT o.amazon_order_id FROM orders o
        WHERE o.shipstation_order_id IS NULL AND o.amazon_order_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM orders s WHERE s.marketplace = o.marketplace AND s.order_number = o.order_number
              AND s.shipstation_order_id IS NOT NULL)
          AND EXISTS (SELECT 1 FROM raw_amazon_orders r WHERE r.amazon_order_id = o.amazon_order_id)
    """), params).scalars().all()
    return {SHOPIFY: sorted(shopify), AMAZON: sorted(amazon)}


def reconcile_window(
    engine: sa.Engine,
    start: dt.datetime,
    end: dt.datetime,
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ReconcileReport:
    """Reconcile the marketplace records of ``[start, end)`` with the orders (run after ShipStation
    normalization of the same window). One transaction per batch of ``batch_size`` records."""
    report = ReconcileReport()
    with engine.connect() as conn:
        refs = marketplace_refs(conn, start, end)
    for source in (SHOPIFY, AMAZON):
        table, key = RAW[source]
        ids = refs[source]
        for offset in range(0, len(ids), batch_size):
            chunk = ids[offset:offset + batch_size]
            with engine.connect() as conn:
                rows = conn.execute(sa.select(table.c[key].label("source_id"), table.c.source_modified_at,
                                              table.c.payload)
                                    .where(table.c[key].in_(chunk)).order_by(table.c[key])).all()
            report += reconcile_rows(engine, source, rows, partition_key_for=partition_key_for)
    return report


def reconcile_rows(
    engine: sa.Engine,
    source: str,
    rows: Sequence[Any],
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
) -> ReconcileReport:
    """One batch of raw rows (``source_id, source_modified_at, payload``) of one source, one transaction."""
    valid: list[MarketplaceOrder] = []
    rejected: list[tuple[Rejected, str | None]] = []
    raw_of: dict[str, Any] = {}
    for row in rows:
        try:
            mapped = MAPPERS[source](row.payload)
            if str(mapped.source_order_id) != str(row.source_id):
                raise Invalid(f"payload id {mapped.source_order_id} differs from the raw row's id")
            valid.append(mapped)
            raw_of[str(row.source_id)] = row
        except Invalid as exc:
            rejected.append((Rejected(str(row.source_id), f"invalid {source} order: {exc}", row.payload),
                             partition_key_for(row.source_modified_at)))
        except Exception as exc:  # a mapping bug on one record must not cost the batch: quarantine it
            log.exception("reconciling %s order %s failed", source, row.source_id)
            rejected.append((Rejected(str(row.source_id), f"{source} order could not be reconciled "
                                                          f"({type(exc).__name__})", row.payload),
                             partition_key_for(row.source_modified_at)))
    with engine.begin() as conn:
        applied, refused = write_isolating(conn, valid, lambda chunk: apply_marketplace_orders(conn, chunk))
        report = ReconcileReport()
        for part in applied:
            report += part
        for record, reason in refused:
            raw = raw_of[str(record.source_order_id)]
            rejected.append((Rejected(str(raw.source_id), f"{source} order {reason}", raw.payload),
                             partition_key_for(raw.source_modified_at)))
        refused_ids = {id(record) for record, _ in refused}
        report.quarantined = quarantine(conn, source, rejected)
        report.resolved = resolve(conn, source, [str(o.source_order_id) for o in valid if id(o) not in refused_ids])
    report.raw_records = len(rows)
    report.batches = 1
    report.quarantined_ids = [r.source_id for r, _ in rejected]
    if rejected:  # ids only: the reasons are in normalization_failures, and may quote customer data
        log.warning("quarantined %d %s orders (reasons in normalization_failures): %s", len(rejected), source,
                    ", ".join(r.source_id for r, _ in rejected[:20]))
    return report


# ------------------------------------------------------------------------------------------ matching


def pair_items(mp_items: Sequence[MarketplaceItem], ss_items: Sequence[Any]
               ) -> tuple[dict[str, tuple[Any, str]], list[MarketplaceItem], list[Any]]:
    """Pair marketplace items with ShipStation items (rows with ``id, line_item_key, sku``, in order).

    1. ``lineItemKey`` == marketplace item id (Amazon OrderItemId / Shopify line item id): ``matched``
       (``ambiguous`` if several ShipStation lines carry the key).
    2. the rest by SKU and position: the n-th marketplace line of a SKU with the n-th ShipStation line of that
       SKU; ``matched_by_sku`` when it is the only one on both sides, else ``ambiguous``.
    Returns (marketplace item id → (ShipStation row, status)), unpaired marketplace items, unpaired rows.
    """
    remaining = {row.id: row for row in ss_items}
    by_key: dict[str, list[Any]] = defaultdict(list)
    for row in ss_items:
        if row.line_item_key:
            by_key[row.line_item_key.strip()].append(row)
    pairs: dict[str, tuple[Any, str]] = {}
    unpaired: list[MarketplaceItem] = []
    for item in mp_items:
        candidates = [r for r in by_key.get(item.item_id, []) if r.id in remaining]
        if candidates:
            pairs[item.item_id] = (candidates[0], MATCHED if len(candidates) == 1 else AMBIGUOUS)
            del remaining[candidates[0].id]
        else:
            unpaired.append(item)
    mp_by_sku: dict[str, list[MarketplaceItem]] = defaultdict(list)
    left: list[MarketplaceItem] = []
    for item in unpaired:
        (mp_by_sku[item.sku.strip().casefold()] if item.sku else left).append(item)
    ss_by_sku: dict[str, list[Any]] = defaultdict(list)
    for row in remaining.values():
        if row.sku:
            ss_by_sku[row.sku.strip().casefold()].append(row)
    for sku, items in mp_by_sku.items():
        rows = ss_by_sku.get(sku, [])
        status = ITEM_MATCHED_BY_SKU if len(items) == 1 and len(rows) == 1 else AMBIGUOUS
        for item, row in zip(items, rows, strict=False):
            pairs[item.item_id] = (row, status)
            del remaining[row.id]
        left.extend(items[len(rows):])
    left.sort(key=lambda i: i.position)
    return pairs, left, list(remaining.values())


def _with_source(sources: Any, source: str) -> list[Any]:
    current = list(sources) if isinstance(sources, list) else []
    return current if source in current else [*current, source]


@dataclass
class _Plan:
    """What one batch writes, collected first and then written statement by statement."""

    order_updates: list[dict[str, Any]] = field(default_factory=list)
    item_updates: list[dict[str, Any]] = field(default_factory=list)
    claim_orders: list[dict[str, Any]] = field(default_factory=list)  # free an id held by another row
    claim_items: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)  # orphan item → ShipStation item
    order_moves: list[dict[str, Any]] = field(default_factory=list)  # orphan order → ShipStation order
    delete_orders: set[int] = field(default_factory=set)
    orphans: list[MarketplaceOrder] = field(default_factory=list)


def apply_marketplace_orders(conn: sa.Connection, records: Iterable[MarketplaceOrder]) -> ReconcileReport:
    """Reconcile a batch of marketplace records of ONE source in ``conn``'s transaction."""
    report = ReconcileReport()
    newest: dict[Any, MarketplaceOrder] = {}
    for record in records:
        current = newest.get(record.source_order_id)
        if current is None or record.modified_at >= current.modified_at:
            newest[record.source_order_id] = record
    batch = sorted(newest.values(), key=lambda r: str(r.source_order_id))
    if not batch:
        return report
    source = batch[0].source
    assert all(r.source == source for r in batch), "one source per batch"
    id_col, item_col, marketplace = batch[0].order_id_column, batch[0].item_id_column, MARKETPLACE_OF[source]
    o, i = orders_t.c, items_t.c

    candidates = conn.execute(
        sa.select(o.id, o.shipstation_order_id, o.parent_shipstation_order_id, o.marketplace, o.order_number,
                  o[id_col].label("mp_id"), o.sources, o.reconciliation_status, o.currency, o.order_total)
        .where(sa.or_(o[id_col].in_([r.source_order_id for r in batch]),
                      sa.and_(o.marketplace == marketplace, o.order_number.in_([r.order_number for r in batch]))))
        .order_by(o.id)
    ).all()
    items_by_order: dict[int, list[Any]] = defaultdict(list)
    if candidates:
        for row in conn.execute(
                sa.select(i.id, i.order_id, i.shipstation_order_item_id, i.line_item_key, i.position, i.sku,
                          i.options, i.unit_price, i.reconciliation_status, i[item_col].label("mp_item_id"))
                .where(i.order_id.in_([c.id for c in candidates])).order_by(i.order_id, i.position, i.id)):
            items_by_order[row.order_id].append(row)

    plan = _Plan()
    for record in batch:
        mine = [c for c in candidates
                if c.mp_id == record.source_order_id
                or (c.marketplace == marketplace and c.order_number == record.order_number)]
        ss_rows = sorted((c for c in mine if c.shipstation_order_id is not None),
                         key=lambda c: (c.parent_shipstation_order_id is not None, c.shipstation_order_id))
        orphans = [c for c in mine if c.shipstation_order_id is None]
        if not ss_rows:
            plan.orphans.append(record)
            plan.delete_orders.update(c.id for c in orphans if c.mp_id != record.source_order_id)
            report.count(MARKETPLACE_ONLY)
            continue
        status = _plan_matched(plan, record, ss_rows, orphans, items_by_order, report)
        report.count(status)

    _write(conn, plan, report, source=source, id_col=id_col, item_col=item_col)
    return report


def _plan_matched(plan: _Plan, record: MarketplaceOrder, ss_rows: list[Any], orphans: list[Any],
                  items_by_order: dict[int, list[Any]], report: ReconcileReport) -> str:
    """Plan the writes for a marketplace order that ShipStation has (one row, or several after a split)."""
    target = ss_rows[0]  # the parent (or only) ShipStation order carries the marketplace id
    ss_items = [item for row in ss_rows for item in items_by_order[row.id]]
    pairs, mp_left, ss_left = pair_items(record.items, ss_items)
    item_statuses = {status for _, status in pairs.values()}
    problems = []
    if mp_left:
        problems.append(f"{record.source} line(s) without a ShipStation line: "
                        + ", ".join(f"{it.item_id} (SKU {it.sku})" for it in mp_left))
    if ss_left:
        problems.append("ShipStation line(s) without a marketplace line: "
                        + ", ".join(f"{r.line_item_key} (SKU {r.sku})" for r in ss_left))
    if len(ss_rows) > 1:
        problems.append(f"split into {len(ss_rows)} ShipStation orders "
                        f"({', '.join(str(r.shipstation_order_id) for r in ss_rows)}); "
                        f"{record.source} order attached to {target.shipstation_order_id}")
    if AMBIGUOUS in item_statuses:
        problems.append("lines paired by SKU and position among several candidates: " + ", ".join(
            f"{mp_id}→{row.line_item_key}" for mp_id, (row, s) in pairs.items() if s == AMBIGUOUS))
    if mp_left or ss_left:
        status = UNMATCHED
    elif len(ss_rows) > 1 or AMBIGUOUS in item_statuses:
        status = AMBIGUOUS
    else:
        status = MATCHED
    if status != MATCHED:
        report.findings.append(Finding(record.source, record.marketplace, record.order_number, status,
                                       target.id, "; ".join(problems)))

    for row in ss_rows:
        is_target = row.id == target.id
        # order-level prices only when ShipStation has the order in one piece (a split row holds a part)
        total = record.order_total if is_target and len(ss_rows) == 1 and record.order_total is not None \
            else row.order_total
        plan.order_updates.append({
            "b_id": row.id,
            "b_mp_id": record.source_order_id if is_target else (None if row.mp_id == record.source_order_id
                                                                 else row.mp_id),
            "b_sources": _with_source(row.sources, record.source),
            "b_status": status,
            "b_currency": (record.currency or row.currency) if is_target else row.currency,
            "b_total": total,
        })
    if record.source_order_id is not None:
        plan.claim_orders.append({"b_key": record.source_order_id, "b_id": target.id})

    by_mp_item = {it.item_id: it for it in record.items}
    for mp_id, (row, item_status) in pairs.items():
        item = by_mp_item[mp_id]
        key = record.item_key(item)
        plan.item_updates.append({
            "b_id": row.id, "b_key": key, "b_status": item_status,
            "b_options": merge_options(row.options, item.options),
            "b_price": item.unit_price if item.unit_price is not None else row.unit_price,
        })
        plan.claim_items.append({"b_key": key, "b_id": row.id})
    for row in ss_left:
        plan.item_updates.append({"b_id": row.id, "b_key": None, "b_status": UNMATCHED,
                                  "b_options": row.options, "b_price": row.unit_price})

    # marketplace-only rows of this order: move what hangs off their items, then drop them
    target_item_of = {record.item_key(by_mp_item[mp_id]): row.id for mp_id, (row, _) in pairs.items()}
    item_order = {item.id: row.id for row in ss_rows for item in items_by_order[row.id]}
    for orphan in orphans:
        plan.delete_orders.add(orphan.id)
        plan.order_moves.append({"b_from": orphan.id, "b_to": target.id})
        report.orphans_merged += 1
        for orphan_item in items_by_order[orphan.id]:
            to_item = target_item_of.get(orphan_item.mp_item_id)
            if to_item is not None:
                plan.moves.append({"b_from": orphan_item.id, "b_to": to_item, "b_to_order": item_order[to_item]})
    return status


# ------------------------------------------------------------------------------------------ writing


def _write(conn: sa.Connection, plan: _Plan, report: ReconcileReport, *, source: str, id_col: str,
           item_col: str) -> None:
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
