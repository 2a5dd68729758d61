"""Deciding what a batch of marketplace records changes (no writes): which stored orders each record matches
(by marketplace id, else marketplace + order number), how its lines pair with ShipStation's (:func:`pair_items`),
the status that gives, and the updates, claims, moves and deletions that follow, collected in a :class:`Plan`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import Order, OrderItem
from y3d_pipeline.normalized.reconcile.marketplace import (
    MARKETPLACE_OF,
    MarketplaceItem,
    MarketplaceOrder,
    merge_options,
)
from y3d_pipeline.normalized.reconcile.report import (
    AMBIGUOUS,
    ITEM_MATCHED_BY_SKU,
    MARKETPLACE_ONLY,
    MATCHED,
    UNMATCHED,
    Finding,
    ReconcileReport,
)

orders_t = Order.__table__
items_t = OrderItem.__table__


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
class Plan:
    """What one batch writes, collected first and then written statement by statement (``writing.py``)."""

    source: str
    id_col: str  # orders column of the source's id (shopify_order_id / amazon_order_id)
    item_col: str  # order_items column of the source's line id

    order_updates: list[dict[str, Any]] = field(default_factory=list)
    item_updates: list[dict[str, Any]] = field(default_factory=list)
    claim_orders: list[dict[str, Any]] = field(default_factory=list)  # free an id held by another row
    claim_items: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)  # orphan item → ShipStation item
    order_moves: list[dict[str, Any]] = field(default_factory=list)  # orphan order → ShipStation order
    delete_orders: set[int] = field(default_factory=set)
    orphans: list[MarketplaceOrder] = field(default_factory=list)


def plan_batch(conn: sa.Connection, records: Iterable[MarketplaceOrder], report: ReconcileReport) -> Plan | None:
    """Decide what a batch of marketplace records of ONE source changes, from the stored orders and items they
    match (read in ``conn``'s transaction); counts each record's status in ``report``. None: nothing to do."""
    newest: dict[Any, MarketplaceOrder] = {}
    for record in records:
        current = newest.get(record.source_order_id)
        if current is None or record.modified_at >= current.modified_at:
            newest[record.source_order_id] = record
    batch = sorted(newest.values(), key=lambda r: str(r.source_order_id))
    if not batch:
        return None
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

    # A record's rows: those carrying its marketplace id, and those of its marketplace with its order number
    by_mp_id: dict[Any, list[Any]] = defaultdict(list)
    by_number: dict[Any, list[Any]] = defaultdict(list)
    for c in candidates:
        by_mp_id[c.mp_id].append(c)
        if c.marketplace == marketplace:
            by_number[c.order_number].append(c)
    plan = Plan(source=source, id_col=id_col, item_col=item_col)
    for record in batch:
        mine = sorted({c.id: c for c in (*by_mp_id.get(record.source_order_id, ()),
                                         *by_number.get(record.order_number, ()))}.values(),
                      key=lambda c: c.id)  # in candidates' order
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
    return plan


def _plan_matched(plan: Plan, record: MarketplaceOrder, ss_rows: list[Any], orphans: list[Any],
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
