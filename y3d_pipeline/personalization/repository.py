"""SQL for print tasks: which orders a run covers, their items and existing tasks, and the writes.

SQLAlchemy Core on the project's models; every statement is parameterised.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from y3d_pipeline.db.models import AiCall, AmazonCustomization, Order, OrderItem, PrintTask
from y3d_pipeline.personalization.models import AmazonCustom, ExistingTask, ItemRow, OrderRow, TaskDraft

ELIGIBLE_STATUSES = ("awaiting_shipment", "on_hold")
_orders, _items, _tasks = Order.__table__, OrderItem.__table__, PrintTask.__table__
_customs, _ai_calls = AmazonCustomization.__table__, AiCall.__table__


def _split_refs(refs: list[str]) -> tuple[list[int], list[str]]:
    numbers = [int(r) for r in refs if r.strip().isdigit() and len(r.strip()) < 19]
    return numbers, [r.strip() for r in refs]


def select_orders(conn: sa.Connection, *, window: tuple[dt.datetime, dt.datetime] | None,
                  order_refs: list[str]) -> tuple[list[int], dict[str, str]]:
    """Eligible order ids for a time window or explicit references, and why any reference was skipped.

    A reference may be our id, the marketplace order number or the ShipStation order id.
    """
    has_items = sa.exists().where(_items.c.order_id == _orders.c.id)
    stmt = sa.select(_orders.c.id, _orders.c.status, _orders.c.order_number,
                     _orders.c.shipstation_order_id).where(has_items)
    skipped: dict[str, str] = {}
    if order_refs:
        numbers, texts = _split_refs(order_refs)
        stmt = stmt.where(sa.or_(_orders.c.id.in_(numbers), _orders.c.shipstation_order_id.in_(numbers),
                                 _orders.c.order_number.in_(texts)))
    else:
        assert window is not None
        start, end = window
        stmt = stmt.where(sa.or_(
            sa.and_(_orders.c.modified_at >= start, _orders.c.modified_at < end),
            sa.and_(_orders.c.order_date >= start, _orders.c.order_date < end),
        ))
    stmt = stmt.order_by(_orders.c.ship_by_date.asc().nulls_last(), _orders.c.order_date, _orders.c.id)
    rows = conn.execute(stmt).all()
    selected = [r.id for r in rows if r.status in ELIGIBLE_STATUSES]
    if order_refs:
        for ref in order_refs:
            ref_s = ref.strip()
            hits = [r for r in rows if ref_s in (str(r.id), r.order_number, str(r.shipstation_order_id))]
            if not hits:
                skipped[ref_s] = "no order with this id, order number or ShipStation id (or it has no items)"
            elif all(r.status not in ELIGIBLE_STATUSES for r in hits):
                skipped[ref_s] = f"order status is {hits[0].status}, not awaiting_shipment/on_hold"
    return selected, skipped


def load_orders(conn: sa.Connection, order_ids: list[int]) -> list[OrderRow]:
    """Orders with their items, each item's existing tasks and its Amazon Custom data (processed first)."""
    if not order_ids:
        return []
    orders: dict[int, OrderRow] = {}
    for r in conn.execute(sa.select(_orders).where(_orders.c.id.in_(order_ids))).mappings():
        orders[r["id"]] = OrderRow(r["id"], r["order_number"], r["marketplace"], r["status"],
                                   r["shipstation_order_id"], r["customer_notes"], r["ship_by_date"])
    items: dict[int, ItemRow] = {}
    item_rows = conn.execute(sa.select(_items).where(_items.c.order_id.in_(order_ids))
                             .order_by(_items.c.order_id, _items.c.position, _items.c.id)).mappings()
    for r in item_rows:
        item = ItemRow(r["id"], r["order_id"], r["product_id"], r["sku"], r["name"], r["quantity"],
                       r["options"] or [], r["line_item_key"])
        items[item.id] = item
        orders[item.order_id].items.append(item)

    task_rows = conn.execute(sa.select(_tasks.c.id, _tasks.c.order_item_id, _tasks.c.task_index, _tasks.c.status,
                                       _tasks.c.input_hash)
                             .where(_tasks.c.order_id.in_(order_ids)).order_by(_tasks.c.task_index))
    for r in task_rows:
        if r.order_item_id in items:
            items[r.order_item_id].existing_tasks.append(ExistingTask(r.id, r.task_index, r.status, r.input_hash))

    # Three ways an Amazon Custom row names its item (see the data conventions); a processed row wins.
    match = sa.or_(
        _customs.c.order_item_id == _items.c.id,
        _customs.c.amazon_order_item_id == _items.c.amazon_order_item_id,
        sa.and_(_customs.c.amazon_order_item_id == _items.c.line_item_key,
                _customs.c.amazon_order_id.in_([_orders.c.order_number, _orders.c.amazon_order_id])),
    )
    custom_rows = conn.execute(
        sa.select(_items.c.id.label("item_id"), _customs.c.status, _customs.c.custom_text, _customs.c.color_1,
                  _customs.c.color_2, _customs.c.font, _customs.c.error)
        .select_from(_items.join(_orders, _orders.c.id == _items.c.order_id).join(_customs, match))
        .where(_items.c.order_id.in_(order_ids))
        .order_by(_items.c.id, (_customs.c.status == "processed").desc(), _customs.c.updated_at.desc())
    )
    for r in custom_rows:
        item = items[r.item_id]
        if item.amazon_custom is None:
            item.amazon_custom = AmazonCustom(r.status, r.custom_text, r.color_1, r.color_2, r.font, r.error)
    return [orders[i] for i in order_ids if i in orders]


def cached_ai_reply(conn: sa.Connection, input_hash: str) -> str | None:
    """The raw reply of the latest successful call for exactly these inputs, if any."""
    return conn.execute(
        sa.select(_ai_calls.c.raw_response)
        .where(_ai_calls.c.input_hash == input_hash, _ai_calls.c.success.is_(True))
        .order_by(_ai_calls.c.created_at.desc(), _ai_calls.c.id.desc()).limit(1)
    ).scalar()


def insert_ai_call(conn: sa.Connection, values: dict[str, Any]) -> int:
    return conn.execute(sa.insert(_ai_calls).values(**values).returning(_ai_calls.c.id)).scalar_one()


def record_ai_call_outcome(conn: sa.Connection, ai_call_id: int, *, tasks_created: int, review_count: int) -> None:
    conn.execute(sa.update(_ai_calls).where(_ai_calls.c.id == ai_call_id)
                 .values(tasks_created=tasks_created, review_count=review_count))


_TASK_FIELDS = ("product_id", "custom_text", "color_1", "color_2", "quantity", "needs_review", "review_reason",
                "annotation", "source", "input_hash", "ship_by_date")


def upsert_item_tasks(conn: sa.Connection, item_id: int, drafts: list[TaskDraft]) -> tuple[int, int, int]:
    """Write one item's tasks; returns (inserted, updated, deleted).

    Upsert on (order_item_id, task_index). An existing row is only rewritten while it is still
    ``pending`` and only if something differs, so re-runs change nothing and work already started at
    the printer is never overwritten. Pending tasks beyond the new count are removed.
    """
    inserted = updated = 0
    if drafts:
        rows = [{k: v for k, v in asdict(d).items()} | {"status": "pending"} for d in drafts]
        stmt = pg_insert(_tasks).values(rows)
        excluded = stmt.excluded
        changed = sa.or_(*[_tasks.c[f].is_distinct_from(excluded[f]) for f in _TASK_FIELDS])
        stmt = stmt.on_conflict_do_update(
            index_elements=[_tasks.c.order_item_id, _tasks.c.task_index],
            set_={**{f: excluded[f] for f in _TASK_FIELDS}, "updated_at": sa.func.now()},
            where=sa.and_(_tasks.c.status == "pending", changed),
        ).returning(_tasks.c.id, sa.literal_column("(xmax = 0)").label("inserted"))
        for row in conn.execute(stmt):
            if row.inserted:
                inserted += 1
            else:
                updated += 1
    deleted = conn.execute(sa.delete(_tasks).where(
        _tasks.c.order_item_id == item_id, _tasks.c.task_index >= len(drafts), _tasks.c.status == "pending",
    )).rowcount
    return inserted, updated, deleted


def sync_task_statuses(conn: sa.Connection, *, dry_run: bool = False) -> dict[str, int]:
    """Close the open tasks of orders that left the queue: shipped → completed, cancelled → cancelled.

    Only ``pending`` and ``in_progress`` tasks move; completed or cancelled ones are history.
    """
    counts: dict[str, int] = {}
    for order_status, task_status in (("shipped", "completed"), ("cancelled", "cancelled")):
        open_tasks = sa.and_(
            _tasks.c.status.in_(("pending", "in_progress")),
            _tasks.c.order_id.in_(sa.select(_orders.c.id).where(_orders.c.status == order_status)),
        )
        if dry_run:
            counts[task_status] = conn.execute(sa.select(sa.func.count()).where(open_tasks)).scalar_one()
        else:
            counts[task_status] = conn.execute(
                sa.update(_tasks).where(open_tasks).values(status=task_status, updated_at=sa.func.now())
            ).rowcount
    return counts


def load_writeback_orders(conn: sa.Connection, *, order_refs: list[str], limit: int | None) -> list[Any]:
    """Orders ShipStation may still edit that have open print tasks, with their items' tasks."""
    from y3d_pipeline.personalization.writeback import EDITABLE_STATUSES, ItemPush, OrderPush, TaskLine

    stmt = (sa.select(_orders.c.id, _orders.c.order_number, _orders.c.shipstation_order_id,
                      _orders.c.internal_notes)
            .where(_orders.c.shipstation_order_id.is_not(None), _orders.c.status.in_(EDITABLE_STATUSES),
                   sa.exists().where(_tasks.c.order_id == _orders.c.id,
                                     _tasks.c.status.in_(("pending", "in_progress", "completed"))))
            .order_by(_orders.c.ship_by_date.asc().nulls_last(), _orders.c.id))
    if order_refs:
        numbers, texts = _split_refs(order_refs)
        stmt = stmt.where(sa.or_(_orders.c.id.in_(numbers), _orders.c.shipstation_order_id.in_(numbers),
                                 _orders.c.order_number.in_(texts)))
    if limit is not None:
        stmt = stmt.limit(limit)
    orders = {r.id: OrderPush(r.id, r.order_number, r.shipstation_order_id, r.internal_notes, [])
              for r in conn.execute(stmt)}
    if not orders:
        return []
    items: dict[int, ItemPush] = {}
    for r in conn.execute(sa.select(_items).where(_items.c.order_id.in_(list(orders)))
                          .order_by(_items.c.order_id, _items.c.position, _items.c.id)).mappings():
        items[r["id"]] = ItemPush(r["line_item_key"], r["shipstation_order_item_id"], r["name"], r["quantity"])
        orders[r["order_id"]].items.append(items[r["id"]])
    for r in conn.execute(sa.select(_tasks).where(_tasks.c.order_id.in_(list(orders)),
                                                  _tasks.c.status != "cancelled")
                          .order_by(_tasks.c.order_item_id, _tasks.c.task_index)).mappings():
        items[r["order_item_id"]].tasks.append(TaskLine(r["custom_text"], r["color_1"], r["color_2"], r["quantity"],
                                                        r["needs_review"], r["source"]))
    for order in orders.values():
        order.items = [i for i in order.items if i.tasks]
    return list(orders.values())
