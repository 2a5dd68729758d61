"""Push resolved personalization back to ShipStation: item options and a packing list in internal notes.

ShipStation's ``POST /orders/createorder`` replaces the whole order, so we GET it, change only our
fields, and post the whole document back with its ``orderId`` (split orders share ``orderKey``).
Unlike the legacy push we keep the item's other options (``CustomizedURL``, the buyer's original
``Personalization``) and the buyer's ``customerNotes``; our packing list lives in a marked block of
``internalNotes`` that carries the hash of what we pushed, so unchanged orders are skipped. The rest of
``internalNotes`` is the staff's: it is kept character for character. When the notes would grow past
``MAX_NOTES`` it is our block that is shortened (the lines that do not fit are counted, not written), and its
end marker, which makes re-runs idempotent, is always written.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from y3d_pipeline.print_queue.hashing import content_hash
from y3d_pipeline.redaction import scrub

EDITABLE_STATUSES = ("awaiting_payment", "awaiting_shipment", "on_hold")
OPTION_TEXT, OPTION_COLOUR_1, OPTION_COLOUR_2 = "Name or Text", "Colour 1", "Colour 2"
OUR_OPTIONS = (OPTION_TEXT, OPTION_COLOUR_1, OPTION_COLOUR_2)
BLOCK_START = "[y3d packing list]"
_BLOCK_RE = re.compile(r"\n*\[y3d packing list\].*?\[/y3d packing list sync=([0-9a-f]+)\]\n*", re.S)
MAX_NOTES = 10_000  # our budget for the whole internalNotes; staff text beyond it is still never cut
MAX_LINE = 300  # one packing-list line (an item name can be 2,000 characters)


@dataclass(slots=True)
class TaskLine:
    custom_text: str | None
    color_1: str | None
    color_2: str | None
    quantity: int
    needs_review: bool
    source: str


@dataclass(slots=True)
class ItemPush:
    line_item_key: str | None
    shipstation_order_item_id: int | None
    name: str | None
    quantity: int
    tasks: list[TaskLine] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        """Only tasks nobody needs to check are pushed as options; the rest wait for review."""
        return bool(self.tasks) and all(not t.needs_review and t.source != "placeholder" and t.custom_text
                                        for t in self.tasks)


@dataclass(slots=True)
class OrderPush:
    order_id: int
    order_number: str | None
    shipstation_order_id: int
    internal_notes: str | None
    items: list[ItemPush]


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable() or ch == "\n")


def _unique_join(values: list[str | None], sep: str = " / ") -> str:
    return sep.join(dict.fromkeys(v for v in values if v))


def item_options(item: ItemPush) -> list[dict[str, str]]:
    return [
        {"name": OPTION_TEXT, "value": ", ".join(t.custom_text or "" for t in item.tasks)},
        {"name": OPTION_COLOUR_1, "value": _unique_join([t.color_1 for t in item.tasks])},
        {"name": OPTION_COLOUR_2, "value": _unique_join([t.color_2 for t in item.tasks])},
    ]


def packing_lines(order: OrderPush) -> list[str]:
    lines = []
    n = 0
    for item in order.items:
        for task in item.tasks:
            n += 1
            colours = _unique_join([task.color_1, task.color_2])
            text = task.custom_text or "(no text yet)"
            review = " [NEEDS REVIEW]" if task.needs_review or task.source == "placeholder" else ""
            lines.append(f"{n}. {item.name or 'Item'}: {text}{f' ({colours})' if colours else ''}"
                         f" x{task.quantity}{review}")
    return lines


def packing_list(order: OrderPush) -> str:
    return "\n".join(packing_lines(order))


def push_hash(order: OrderPush) -> str:
    return content_hash(
        [[i.line_item_key, i.shipstation_order_item_id, item_options(i) if i.resolved else None] for i in order.items],
        packing_list(order),
    )[:16]


def pushed_hash(notes: str | None) -> str | None:
    found = _BLOCK_RE.search(notes or "")
    return found.group(1) if found else None


def _block(order: OrderPush, digest: str, lines: list[str], omitted: int) -> str:
    more = [f"... and {omitted} more line(s), not shown here: see the print queue"] if omitted else []
    header = _printable(f"PACKING LIST (Order #{order.order_number}):")
    return "\n".join([BLOCK_START, header, *lines, *more, f"[/y3d packing list sync={digest}]"])


def notes_with_packing_list(notes: str | None, order: OrderPush, digest: str) -> str:
    """The order's internal notes with our block replaced. Everyone else's text is kept exactly; if the
    whole would pass ``MAX_NOTES``, our block lists only the lines that fit and says how many it left out."""
    others = _BLOCK_RE.sub("\n", notes or "").strip()
    separator = "\n\n" if others else ""
    lines = [line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…"
             for line in (_printable(line) for line in packing_lines(order))]
    room = MAX_NOTES - len(others) - len(separator)
    block = _block(order, digest, lines, 0)
    if len(block) > room:  # staff text first: our lines give way, the header and the marker stay
        used = len(_block(order, digest, [], len(lines)))  # the longest "... more" line included
        shown = 0
        while shown < len(lines) and used + len(lines[shown]) + 1 <= room:
            used += len(lines[shown]) + 1
            shown += 1
        block = _block(order, digest, lines[:shown], len(lines) - shown)
    return f"{others}{separator}{block}"


def _merge_options(current: list[dict[str, Any]] | None, ours: list[dict[str, str]]) -> list[dict[str, Any]]:
    ours_by_name = {o["name"]: o for o in ours}
    kept = [o for o in current or [] if o.get("name") not in ours_by_name]
    return kept + ours


@dataclass(slots=True)
class PushPlan:
    body: dict[str, Any]
    digest: str
    changes: list[str]


def plan_push(order: OrderPush, fetched: dict[str, Any]) -> PushPlan:
    """The full order to post back, and a human-readable diff of what changes."""
    digest = push_hash(order)
    body = copy.deepcopy(fetched)
    changes: list[str] = []
    by_key = {i.line_item_key: i for i in order.items if i.line_item_key}
    by_id = {i.shipstation_order_item_id: i for i in order.items if i.shipstation_order_item_id}
    for ss_item in body.get("items") or []:
        ours = by_id.get(ss_item.get("orderItemId")) or by_key.get(ss_item.get("lineItemKey"))
        if ours is None or not ours.resolved:
            continue  # another split part's item, or one still waiting for review
        before = {o.get("name"): o.get("value") for o in ss_item.get("options") or []}
        ss_item["options"] = _merge_options(ss_item.get("options"), item_options(ours))
        for option in item_options(ours):
            if before.get(option["name"]) != option["value"]:
                changes.append(f"item {ss_item.get('lineItemKey') or ss_item.get('orderItemId')}: "
                               f"{option['name']}: {before.get(option['name'])!r} → {option['value']!r}")
    notes = notes_with_packing_list(body.get("internalNotes"), order, digest)
    if notes != (body.get("internalNotes") or ""):
        changes.append(f"internalNotes: packing list ({sum(len(i.tasks) for i in order.items)} lines), "
                       f"sync={digest}")
    body["internalNotes"] = notes
    return PushPlan(body, digest, changes)


@dataclass(slots=True)
class WritebackReport:
    dry_run: bool
    orders_considered: int = 0
    orders_pushed: int = 0
    orders_unchanged: int = 0
    orders_not_editable: list[dict[str, Any]] = field(default_factory=list)
    orders_failed: list[dict[str, Any]] = field(default_factory=list)
    items_pushed: int = 0
    items_waiting_for_review: int = 0
    diff: list[dict[str, Any]] = field(default_factory=list)


def run_writeback(orders: list[OrderPush], client: Any, *, dry_run: bool) -> WritebackReport:
    """Push each order; ``client`` has ``get_order(id).payload`` and ``create_or_update_order(body)``."""
    report = WritebackReport(dry_run=dry_run, orders_considered=len(orders))
    for order in orders:
        digest = push_hash(order)
        if pushed_hash(order.internal_notes) == digest:
            report.orders_unchanged += 1  # the last sync already brought our block back: no request at all
            continue
        try:
            fetched = client.get_order(order.shipstation_order_id).payload
            status = fetched.get("orderStatus")
            if status not in EDITABLE_STATUSES:
                report.orders_not_editable.append({"order_number": order.order_number, "status": status})
                continue
            if pushed_hash(fetched.get("internalNotes")) == digest:
                report.orders_unchanged += 1
                continue
            plan = plan_push(order, fetched)
            if dry_run:
                report.diff.append({"order_number": order.order_number,
                                    "shipstation_order_id": order.shipstation_order_id, "changes": plan.changes})
                continue
            client.create_or_update_order(plan.body)
        except Exception as exc:  # one order's failure never stops the others
            report.orders_failed.append({"order_number": order.order_number,
                                         "shipstation_order_id": order.shipstation_order_id,
                                         "reason": scrub(f"{type(exc).__name__}: {str(exc)[:300]}")})
            continue
        report.orders_pushed += 1
        report.items_pushed += sum(1 for i in order.items if i.resolved)
        report.items_waiting_for_review += sum(1 for i in order.items if not i.resolved)
    return report
