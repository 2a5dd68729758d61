"""SQL for print tasks: which orders a run covers, their items and tasks, guarded writes and their history.

SQLAlchemy Core on the project's models; every statement is parameterised.

Ownership: ``print_tasks.written_fingerprint`` is the md5 of a task's content and status as the pipeline
last wrote it (``fingerprint_sql``). A row that still matches is the pipeline's own and may be rewritten
when its inputs change; a row that does not (a person edited, reviewed or started it) is theirs: it is
only ever flagged. Every rewrite re-checks the fingerprint in its WHERE clause, so an edit made while a run
is working is never overwritten. Every change is recorded in ``print_task_history``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from y3d_pipeline.db.models import (
    AiCall,
    AmazonCustomization,
    InventoryLevel,
    Order,
    OrderItem,
    PrintTask,
    PrintTaskHistory,
)
from y3d_pipeline.print_queue.models import AmazonCustom, ExistingTask, ItemRow, OrderRow, TaskDraft

ELIGIBLE_STATUSES = ("awaiting_shipment", "on_hold")
OPEN_TASK_STATUSES = ("pending", "in_progress")
ITEM_REMOVED = "item-removed"  # checked_input_hash of a task whose item left the order (handled once)
_orders, _items, _tasks = Order.__table__, OrderItem.__table__, PrintTask.__table__
_customs, _ai_calls, _history = AmazonCustomization.__table__, AiCall.__table__, PrintTaskHistory.__table__
_levels = InventoryLevel.__table__
FINGERPRINT_FIELDS = ("custom_text", "color_1", "color_2", "quantity", "status", "needs_review", "review_reason",
                      "annotation")
CONTENT_FIELDS = ("product_id", "custom_text", "color_1", "color_2", "quantity", "needs_review", "review_reason",
                  "annotation", "source", "input_hash", "ship_by_date")


def fingerprint_sql(values: dict[str, Any] | None = None) -> sa.ColumnElement:
    """md5 over the task's content and status: the row's own columns, or ``values`` in their place (Python
    values are cast to the column types so the result equals the same expression over a stored row)."""
    parts = []
    for name in FINGERPRINT_FIELDS:
        column = _tasks.c[name]
        if values is not None and name in values:
            value = values[name]
            parts.append(value if isinstance(value, sa.ColumnElement) else sa.cast(value, column.type))
        else:
            parts.append(column)
    return sa.func.md5(sa.cast(sa.func.jsonb_build_array(*parts), sa.Text))


def _split_refs(refs: list[str]) -> tuple[list[int], list[str]]:
    numbers = [int(r) for r in refs if r.strip().isdigit() and len(r.strip()) < 19]
    return numbers, [r.strip() for r in refs]


_STALE_SQL = """
SELECT o.id, o.ship_by_date, o.order_date FROM orders o WHERE o.id IN (
    SELECT t.order_id FROM print_tasks t
    JOIN orders o2 ON o2.id = t.order_id
    LEFT JOIN order_items i ON i.id = t.order_item_id
    WHERE (t.status IN ('pending', 'in_progress') OR o2.status IN :eligible)
      AND (t.checked_at IS NULL OR o2.updated_at > t.checked_at OR i.updated_at > t.checked_at
           OR (t.order_item_id IS NULL AND t.checked_input_hash IS DISTINCT FROM :removed
               AND t.status IN ('pending', 'in_progress', 'completed'))
           OR (t.status = 'pending' AND t.retry_at <= :now)
           OR (t.status = 'pending' AND t.written_fingerprint IS NOT NULL AND t.rules_hash IS DISTINCT FROM :rules))
    UNION
    SELECT i.order_id FROM amazon_customizations c
    JOIN order_items i ON i.id = c.order_item_id
    JOIN orders o3 ON o3.id = i.order_id
    WHERE o3.status IN :eligible AND c.updated_at >= :since AND c.status <> 'pending'
      AND NOT EXISTS (SELECT 1 FROM print_tasks t WHERE t.order_item_id = i.id AND t.checked_at >= c.updated_at)
)
"""


def select_orders(conn: sa.Connection, *, window: tuple[dt.datetime, dt.datetime] | None,
                  order_refs: list[str], now: dt.datetime | None = None, rules_hash: str | None = None,
                  clear_all: bool = False) -> tuple[list[int], dict[str, str]]:
    """The orders a run looks at, earliest ship-by first, and why any explicit reference was skipped.

    With ``order_refs`` (our id, marketplace order number or ShipStation order id): just those. Otherwise
    the window's orders (placed or modified in it) that are open or still have open tasks, plus orders whose
    tasks may be stale: the order, item or Amazon Custom file changed after the task was last checked, the
    item was removed, a retry is due, or the pending task was written under other rules (palette, limits).
    ``clear_all`` adds every open order with a pending task.
    """
    has_items = sa.exists().where(_items.c.order_id == _orders.c.id)
    open_tasks = sa.exists().where(_tasks.c.order_id == _orders.c.id, _tasks.c.status.in_(OPEN_TASK_STATUSES))
    stmt = sa.select(_orders.c.id, _orders.c.status, _orders.c.order_number, _orders.c.shipstation_order_id,
                     _orders.c.ship_by_date, _orders.c.order_date)
    skipped: dict[str, str] = {}
    if order_refs:
        numbers, texts = _split_refs(order_refs)
        rows = conn.execute(stmt.where(has_items, sa.or_(
            _orders.c.id.in_(numbers), _orders.c.shipstation_order_id.in_(numbers),
            _orders.c.order_number.in_(texts)))).all()
        for ref in order_refs:
            ref_s = ref.strip()
            hits = [r for r in rows if ref_s in (str(r.id), r.order_number, str(r.shipstation_order_id))]
            if not hits:
                skipped[ref_s] = "no order with this id, order number or ShipStation id (or it has no items)"
            elif all(r.status not in ELIGIBLE_STATUSES for r in hits):
                skipped[ref_s] = f"order status is {hits[0].status}, not awaiting_shipment/on_hold"
        rows = [r for r in rows if r.status in ELIGIBLE_STATUSES]
        found = {r.id: (r.ship_by_date, r.order_date) for r in rows}
    else:
        assert window is not None
        start, end = window
        in_window = sa.or_(sa.and_(_orders.c.modified_at >= start, _orders.c.modified_at < end),
                           sa.and_(_orders.c.order_date >= start, _orders.c.order_date < end))
        rows = conn.execute(stmt.where(has_items, in_window,
                                       sa.or_(_orders.c.status.in_(ELIGIBLE_STATUSES), open_tasks))).all()
        found = {r.id: (r.ship_by_date, r.order_date) for r in rows}
        stale = sa.text(_STALE_SQL).bindparams(sa.bindparam("eligible", expanding=True))
        for r in conn.execute(stale, {"eligible": list(ELIGIBLE_STATUSES), "removed": ITEM_REMOVED,
                                      "now": now or dt.datetime.now(dt.UTC), "rules": rules_hash, "since": start}):
            found.setdefault(r.id, (r.ship_by_date, r.order_date))
        if clear_all:
            pending = sa.exists().where(_tasks.c.order_id == _orders.c.id, _tasks.c.status == "pending")
            for r in conn.execute(stmt.where(_orders.c.status.in_(ELIGIBLE_STATUSES), pending)):
                found.setdefault(r.id, (r.ship_by_date, r.order_date))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    ordered = sorted(found, key=lambda i: (found[i][0] or far, found[i][1] or far, i))
    return ordered, skipped


def _existing(r: Any) -> ExistingTask:
    return ExistingTask(
        id=r.id, order_item_id=r.order_item_id, task_index=r.task_index, status=r.status,
        input_hash=r.input_hash, checked_input_hash=r.checked_input_hash, ours=bool(r.ours),
        custom_text=r.custom_text, color_1=r.color_1, color_2=r.color_2, quantity=r.quantity,
        needs_review=r.needs_review, review_reason=r.review_reason, annotation=r.annotation, source=r.source,
        rules_hash=r.rules_hash, retry_at=r.retry_at, attempts=r.attempts, tracked=r.written_fingerprint is not None,
    )


def stock_available(conn: sa.Connection, skus: set[str]) -> dict[str, int]:
    """What ShipStation's inventory (``inventory_levels``, from ``raw/shipstation_inventory``) says can ship of
    each SKU, summed over its locations. A SKU the inventory does not track is absent (unknown, not zero)."""
    wanted = sorted({s.strip() for s in skus if s and s.strip()})
    if not wanted:
        return {}
    rows = conn.execute(sa.select(_levels.c.sku, sa.func.sum(_levels.c.available))
                        .where(_levels.c.sku.in_(wanted)).group_by(_levels.c.sku)).all()
    return {sku: int(total) for sku, total in rows}


def load_orders(conn: sa.Connection, order_ids: list[int]) -> list[OrderRow]:
    """Orders with their items, each item's tasks and its Amazon Custom data (processed first)."""
    if not order_ids:
        return []
    orders: dict[int, OrderRow] = {}
    for r in conn.execute(sa.select(_orders).where(_orders.c.id.in_(order_ids))).mappings():
        orders[r["id"]] = OrderRow(r["id"], r["order_number"], r["marketplace"], r["status"],
                                   r["shipstation_order_id"], r["customer_notes"], r["ship_by_date"],
                                   internal_notes=r["internal_notes"])
    items: dict[int, ItemRow] = {}
    item_rows = conn.execute(sa.select(_items).where(_items.c.order_id.in_(order_ids))
                             .order_by(_items.c.order_id, _items.c.position, _items.c.id)).mappings()
    for r in item_rows:
        item = ItemRow(r["id"], r["order_id"], r["product_id"], r["sku"], r["name"], r["quantity"],
                       r["options"] if r["options"] is not None else [], r["line_item_key"])
        items[item.id] = item
        orders[item.order_id].items.append(item)
    available = stock_available(conn, {i.sku for i in items.values() if i.sku})
    for item in items.values():
        item.stock_available = available.get((item.sku or "").strip())

    ours = sa.and_(_tasks.c.written_fingerprint.is_not(None), _tasks.c.written_fingerprint == fingerprint_sql())
    task_rows = conn.execute(sa.select(_tasks, ours.label("ours")).where(_tasks.c.order_id.in_(order_ids))
                             .order_by(_tasks.c.order_item_id, _tasks.c.task_index))
    for r in task_rows:
        task = _existing(r)
        if r.order_item_id in items:
            items[r.order_item_id].existing_tasks.append(task)
        elif r.order_item_id is None and r.order_id in orders:
            orders[r.order_id].orphan_tasks.append(task)

    # Three ways an Amazon Custom row names its item (see the data conventions); a processed row wins.
    match = sa.or_(
        _customs.c.order_item_id == _items.c.id,
        _customs.c.amazon_order_item_id == _items.c.amazon_order_item_id,
        sa.and_(_customs.c.amazon_order_item_id == _items.c.line_item_key,
                _customs.c.amazon_order_id.in_([_orders.c.order_number, _orders.c.amazon_order_id])),
    )
    custom_rows = conn.execute(
        sa.select(_items.c.id.label("item_id"), _customs.c.status, _customs.c.custom_text, _customs.c.color_1,
                  _customs.c.color_2, _customs.c.font, _customs.c.error, _customs.c.surfaces)
        .select_from(_items.join(_orders, _orders.c.id == _items.c.order_id).join(_customs, match))
        .where(_items.c.order_id.in_(order_ids))
        .order_by(_items.c.id, (_customs.c.status == "processed").desc(), _customs.c.updated_at.desc())
    )
    for r in custom_rows:
        item = items[r.item_id]
        if item.amazon_custom is None:
            item.amazon_custom = AmazonCustom(r.status, r.custom_text, r.color_1, r.color_2, r.font, r.error,
                                              r.surfaces if isinstance(r.surfaces, list) else None)
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


# ----------------------------------------------------------------------------------------- guarded writes


@dataclass(slots=True)
class TaskWriter:
    """Writes one order's task changes inside the caller's transaction and records each in the history."""

    conn: sa.Connection
    order: OrderRow
    run_id: str | None
    counts: Counter = field(default_factory=Counter)

    def _history(self, change: str, reason: str | None, task_id: int, *, order_item_id: int | None,
                 task_index: int | None, old: ExistingTask | None, new: dict[str, Any] | None,
                 source: str | None) -> None:
        row: dict[str, Any] = {
            "task_id": task_id, "order_id": self.order.id, "order_item_id": order_item_id,
            "order_number": self.order.order_number, "task_index": task_index, "change": change,
            "reason": (reason or "")[:2000] or None, "source": source, "run_id": self.run_id,
        }
        for name in ("status", "custom_text", "color_1", "color_2", "quantity", "needs_review", "review_reason"):
            row[f"old_{name}"] = getattr(old, name) if old is not None else None
            row[f"new_{name}"] = new.get(name) if new is not None else None
        self.conn.execute(sa.insert(_history).values(**row))

    def create(self, draft: TaskDraft, why: str) -> bool:
        values = _draft_values(draft) | {"status": "pending"}
        stmt = (pg_insert(_tasks)
                .values(**values, written_fingerprint=fingerprint_sql(values), checked_input_hash=draft.input_hash,
                        checked_at=sa.func.now(), rules_hash=draft.rules_hash, retry_at=draft.retry_at,
                        attempts=draft.attempts)
                .on_conflict_do_nothing(index_elements=["order_item_id", "task_index"]).returning(_tasks.c.id))
        task_id = self.conn.execute(stmt).scalar()
        if task_id is None:  # someone else wrote this slot meanwhile: theirs
            self.counts["tasks_protected"] += 1
            return False
        self._history("created", why, task_id, order_item_id=draft.order_item_id, task_index=draft.task_index,
                      old=None, new=values, source=draft.source)
        self.counts["tasks_created"] += 1
        return True

    def rewrite(self, task: ExistingTask, draft: TaskDraft, why: str, *, forced: bool = False) -> str:
        """Replace an own task's content (or, forced, any pending one's); 'updated', 'unchanged' or 'protected'."""
        values = _draft_values(draft) | {"status": "pending"}
        same_content = all(getattr(task, k) == values[k] for k in FINGERPRINT_FIELDS) and \
            task.source == draft.source and task.input_hash == draft.input_hash
        guard = sa.and_(_tasks.c.status.in_(("pending", "cancelled")),
                        _tasks.c.written_fingerprint == fingerprint_sql())
        if forced:  # an operator's force_recreate / clear_all: any pending task, not started work
            guard = sa.or_(guard, _tasks.c.status == "pending")
        bookkeeping = {"checked_input_hash": draft.input_hash, "rules_hash": draft.rules_hash,
                       "retry_at": draft.retry_at, "attempts": draft.attempts, "product_id": draft.product_id,
                       "ship_by_date": draft.ship_by_date}
        if same_content:  # only the bookkeeping may differ; a row with nothing new is not touched at all
            differs = sa.tuple_(*[_tasks.c[k] for k in bookkeeping]).is_distinct_from(
                sa.tuple_(*[sa.cast(v, _tasks.c[k].type) for k, v in bookkeeping.items()]))
            self.conn.execute(sa.update(_tasks).where(_tasks.c.id == task.id, guard, differs)
                              .values(**bookkeeping, checked_at=sa.func.now(), updated_at=_tasks.c.updated_at))
            self.counts["tasks_unchanged"] += 1
            return "unchanged"
        done = self.conn.execute(
            sa.update(_tasks).where(_tasks.c.id == task.id, guard)
            .values(**(values | bookkeeping), checked_at=sa.func.now(), written_fingerprint=fingerprint_sql(values),
                    updated_at=sa.func.now())
        ).rowcount
        if not done:
            self.counts["tasks_protected"] += 1
            return "protected"
        change = "reopened" if task.status == "cancelled" else "updated"
        self._history(change, why, task.id, order_item_id=task.order_item_id, task_index=task.task_index, old=task,
                      new=values, source=draft.source)
        self.counts["tasks_updated"] += 1
        return "updated"

    def remove(self, task: ExistingTask, why: str, *, forced: bool = False) -> bool:
        guard = sa.and_(_tasks.c.status == "pending", _tasks.c.written_fingerprint == fingerprint_sql())
        if forced:
            guard = _tasks.c.status == "pending"
        if not self.conn.execute(sa.delete(_tasks).where(_tasks.c.id == task.id, guard)).rowcount:
            self.counts["tasks_protected"] += 1
            return False
        self._history("removed", why, task.id, order_item_id=task.order_item_id, task_index=task.task_index,
                      old=task, new=None, source=task.source)
        self.counts["tasks_removed"] += 1
        return True

    def flag(self, task: ExistingTask, reason: str, *, checked_input_hash: str | None = None) -> bool:
        """Mark a task a person owns for review, leaving its text, colours, quantity and status alone."""
        review_reason = "; ".join(r for r in (reason, task.review_reason) if r)[:1000]
        values: dict[str, Any] = {"needs_review": True, "review_reason": review_reason, "checked_at": sa.func.now(),
                                  "updated_at": sa.func.now()}
        if checked_input_hash is not None:
            values["checked_input_hash"] = checked_input_hash
        if task.ours:  # a completed task the pipeline closed stays the pipeline's
            values["written_fingerprint"] = fingerprint_sql({"needs_review": True, "review_reason": review_reason})
        self.conn.execute(sa.update(_tasks).where(_tasks.c.id == task.id).values(**values))
        self._history("flagged", reason, task.id, order_item_id=task.order_item_id, task_index=task.task_index,
                      old=task, new=_task_values(task) | {"needs_review": True, "review_reason": review_reason},
                      source=task.source)
        self.counts["tasks_flagged_protected"] += 1
        return True

    def set_status(self, task: ExistingTask, status: str, reason: str) -> bool:
        """Close a task (cancelled / completed); an own task stays own."""
        guard = _tasks.c.status == task.status
        new = _task_values(task) | {"status": status}
        values: dict[str, Any] = {"status": status, "checked_at": sa.func.now(), "updated_at": sa.func.now(),
                                  "retry_at": None}
        if task.order_item_id is None:
            values["checked_input_hash"] = ITEM_REMOVED
        if task.ours:
            values["written_fingerprint"] = fingerprint_sql({"status": status})
        if not self.conn.execute(sa.update(_tasks).where(_tasks.c.id == task.id, guard).values(**values)).rowcount:
            return False
        self._history(status, reason, task.id, order_item_id=task.order_item_id, task_index=task.task_index,
                      old=task, new=new, source=task.source)
        self.counts[f"tasks_{status}"] += 1
        return True

    def note_outside_edit(self, task: ExistingTask) -> None:
        """The row no longer matches what the pipeline wrote: from now on it is a person's."""
        last = self.conn.execute(
            sa.select(_history).where(_history.c.task_id == task.id).order_by(_history.c.id.desc()).limit(1)
        ).mappings().first()
        self.conn.execute(sa.update(_tasks).where(_tasks.c.id == task.id)
                          .values(written_fingerprint=None, retry_at=None, updated_at=_tasks.c.updated_at))
        previous = None
        if last is not None:
            previous = ExistingTask(task.id, task.order_item_id, task.task_index, last["new_status"], None,
                                    custom_text=last["new_custom_text"], color_1=last["new_color_1"],
                                    color_2=last["new_color_2"], quantity=last["new_quantity"] or 0,
                                    needs_review=bool(last["new_needs_review"]),
                                    review_reason=last["new_review_reason"])
        self._history("edited_outside", "changed outside the pipeline (a person edited, reviewed or started it)",
                      task.id, order_item_id=task.order_item_id, task_index=task.task_index, old=previous,
                      new=_task_values(task), source=task.source)
        task.tracked = False

    def as_last_written(self, task: ExistingTask) -> ExistingTask:
        """The task as the pipeline last wrote it (from the history), with its current status: the baseline
        for saying what the buyer changed, whatever a person did to the row since."""
        last = self.conn.execute(
            sa.select(_history).where(_history.c.task_id == task.id,
                                      _history.c.change.in_(("created", "updated", "reopened")))
            .order_by(_history.c.id.desc()).limit(1)).mappings().first()
        if last is None:
            return task
        return ExistingTask(task.id, task.order_item_id, task.task_index, task.status, task.input_hash,
                            custom_text=last["new_custom_text"], color_1=last["new_color_1"],
                            color_2=last["new_color_2"], quantity=last["new_quantity"] or task.quantity)

    def mark_checked(self, task_ids: list[int], input_hash: str, *, rules_hash: str | None = None) -> None:
        """These tasks were compared with inputs ``input_hash`` (and, for the pipeline's own pending tasks,
        under rules ``rules_hash``) now; only rows that differ are touched."""
        if not task_ids:
            return
        self.conn.execute(sa.update(_tasks).where(
            _tasks.c.id.in_(task_ids), _tasks.c.checked_input_hash.is_distinct_from(input_hash),
        ).values(checked_input_hash=input_hash, checked_at=sa.func.now(), updated_at=_tasks.c.updated_at))
        if rules_hash is not None:
            self.conn.execute(sa.update(_tasks).where(
                _tasks.c.id.in_(task_ids), _tasks.c.rules_hash.is_distinct_from(rules_hash),
                _tasks.c.written_fingerprint == fingerprint_sql(),
            ).values(rules_hash=rules_hash, updated_at=_tasks.c.updated_at))

    def mark_order_checked(self) -> None:
        """Every task of the order whose order, item or Amazon Custom file changed since its last check has
        now been checked (so it is not selected again); tasks with nothing new are not touched at all."""
        mark_orders_checked(self.conn, [self.order.id])


def mark_orders_checked(conn: sa.Connection, order_ids: list[int]) -> None:
    """:meth:`TaskWriter.mark_order_checked` for several orders in one statement."""
    conn.execute(sa.text(_MARK_CHECKED_SQL), {"order_ids": order_ids})


_MARK_CHECKED_SQL = """
UPDATE print_tasks t SET checked_at = now()
FROM orders o
WHERE t.order_id = ANY(CAST(:order_ids AS bigint[])) AND o.id = t.order_id AND (
    t.checked_at IS NULL OR o.updated_at > t.checked_at
    OR EXISTS (SELECT 1 FROM order_items i WHERE i.id = t.order_item_id AND i.updated_at > t.checked_at)
    OR EXISTS (SELECT 1 FROM amazon_customizations c WHERE c.order_item_id = t.order_item_id
               AND c.updated_at > t.checked_at))
"""


def _draft_values(draft: TaskDraft) -> dict[str, Any]:
    values = {k: getattr(draft, k) for k in CONTENT_FIELDS}
    values.update(order_id=draft.order_id, order_item_id=draft.order_item_id, task_index=draft.task_index)
    return values


def _task_values(task: ExistingTask) -> dict[str, Any]:
    return {k: getattr(task, k) for k in ("status", "custom_text", "color_1", "color_2", "quantity", "needs_review",
                                          "review_reason")}


# ------------------------------------------------------------------------------------- closing and history


def load_open_tasks_of_closed_orders(conn: sa.Connection, order_ids: list[int] | None = None) -> list[tuple[Any, ...]]:
    """(order row, task) pairs: open tasks of shipped or cancelled orders."""
    ours = sa.and_(_tasks.c.written_fingerprint.is_not(None), _tasks.c.written_fingerprint == fingerprint_sql())
    stmt = (sa.select(_tasks, ours.label("ours"), _orders.c.status.label("order_status"),
                      _orders.c.order_number.label("order_number"))
            .join(_orders, _orders.c.id == _tasks.c.order_id)
            .where(_tasks.c.status.in_(OPEN_TASK_STATUSES), _orders.c.status.in_(("shipped", "cancelled")))
            .order_by(_tasks.c.order_id, _tasks.c.order_item_id, _tasks.c.task_index))
    if order_ids is not None:
        stmt = stmt.where(_tasks.c.order_id.in_(order_ids))
    return list(conn.execute(stmt))


CANCELLED_STARTED = "Order cancelled after printing started: stop and set the print aside"


def close_tasks_of_closed_orders(conn: sa.Connection, *, order_ids: list[int] | None = None,
                                 run_id: str | None = None, dry_run: bool = False) -> Counter:
    """Shipped → open tasks completed. Cancelled → pending tasks cancelled; a started task is flagged
    (a person decides what happens to work in progress), never silently closed."""
    counts: Counter = Counter()
    for row in load_open_tasks_of_closed_orders(conn, order_ids):
        task = _existing(row)
        order = OrderRow(row.order_id, row.order_number, None, row.order_status, None, None, None)
        writer = TaskWriter(conn, order, run_id)
        if row.order_status == "shipped":
            counts["completed"] += 1
            if not dry_run:
                writer.set_status(task, "completed", "order shipped")
        elif task.status == "pending":
            counts["cancelled"] += 1
            if not dry_run:
                writer.set_status(task, "cancelled", "order cancelled")
        elif not (task.needs_review and CANCELLED_STARTED in (task.review_reason or "")):
            counts["flagged"] += 1
            if not dry_run:
                writer.flag(task, CANCELLED_STARTED)
    return counts


def sync_task_statuses(conn: sa.Connection, *, dry_run: bool = False, run_id: str | None = None) -> dict[str, int]:
    """Close the open tasks of orders that left the queue (every order): see close_tasks_of_closed_orders."""
    counts = close_tasks_of_closed_orders(conn, run_id=run_id, dry_run=dry_run)
    return {"completed": counts["completed"], "cancelled": counts["cancelled"], "flagged": counts["flagged"]}


def task_history(conn: sa.Connection, order_refs: list[str]) -> list[dict[str, Any]]:
    """History rows of the orders named by id, order number or ShipStation order id, oldest first."""
    numbers, texts = _split_refs(order_refs)
    order_ids = [r.id for r in conn.execute(sa.select(_orders.c.id).where(sa.or_(
        _orders.c.id.in_(numbers), _orders.c.shipstation_order_id.in_(numbers), _orders.c.order_number.in_(texts))))]
    stmt = (sa.select(_history).where(sa.or_(_history.c.order_id.in_(order_ids), _history.c.order_number.in_(texts)))
            .order_by(_history.c.created_at, _history.c.id))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def load_writeback_orders(conn: sa.Connection, *, order_refs: list[str], limit: int | None) -> list[Any]:
    """Orders ShipStation may still edit that have open print tasks, with their items' tasks."""
    from y3d_pipeline.print_queue.writeback import EDITABLE_STATUSES, ItemPush, OrderPush, TaskLine

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
                                                  _tasks.c.status != "cancelled", _tasks.c.order_item_id.is_not(None))
                          .order_by(_tasks.c.order_item_id, _tasks.c.task_index)).mappings():
        items[r["order_item_id"]].tasks.append(TaskLine(r["custom_text"], r["color_1"], r["color_2"], r["quantity"],
                                                        r["needs_review"], r["source"]))
    for order in orders.values():
        order.items = [i for i in order.items if i.tasks]
    return list(orders.values())
