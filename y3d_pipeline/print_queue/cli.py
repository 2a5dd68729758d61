"""``y3d tasks history ORDER``: every change to an order's print tasks, oldest first.

ORDER is our order id, the marketplace order number or the ShipStation order id (several may be given).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("tasks", help="print tasks: the history of an order's tasks",
                                   description="Print-task commands (the queue itself lives in the print-queue UI).")
    commands = parser.add_subparsers(dest="tasks_command", required=True)
    history = commands.add_parser(
        "history", help="every change to an order's print tasks: old and new text, colours, quantity, status, why, "
                        "which run", description=__doc__)
    history.add_argument("orders", nargs="+", metavar="ORDER", help="order id, order number or ShipStation order id")
    history.add_argument("--json", action="store_true", help="one JSON document (a list of changes)")
    history.set_defaults(func=run)
    return parser


def _pair(old: Any, new: Any) -> str:
    def show(value: Any) -> str:
        return "∅" if value is None else str(value).replace("\n", "⏎")

    return show(new) if old == new else f"{show(old)} → {show(new)}"


def format_history(rows: list[dict[str, Any]], *, tz) -> str:
    if not rows:
        return "no print-task history for these orders"
    lines = []
    for r in rows:
        when = r["created_at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        what = [f"status {_pair(r['old_status'], r['new_status'])}",
                f"text {_pair(r['old_custom_text'], r['new_custom_text'])}",
                f"colours {_pair(_colours(r, 'old'), _colours(r, 'new'))}",
                f"qty {_pair(r['old_quantity'], r['new_quantity'])}",
                f"review {_pair(r['old_needs_review'], r['new_needs_review'])}"]
        run = (r["run_id"] or "")[:8] or "-"
        lines.append(f"{when}  order {r['order_number'] or r['order_id']}  task {r['task_id']} "
                     f"(item {r['order_item_id'] or '-'} #{r['task_index']})  {r['change']}  [{r['source'] or '-'}] "
                     f"run {run}")
        lines.append("    " + "; ".join(what))
        if r["reason"]:
            lines.append(f"    why: {r['reason']}")
        if r["new_review_reason"] and r["new_review_reason"] != r["old_review_reason"]:
            lines.append(f"    review reason: {r['new_review_reason']}")
    return "\n".join(lines)


def _colours(row: dict[str, Any], side: str) -> str | None:
    colours = [c for c in (row[f"{side}_color_1"], row[f"{side}_color_2"]) if c]
    return "/".join(colours) if colours else None


def run(args: argparse.Namespace) -> int:
    from y3d_pipeline.db.engine import make_engine, resolve_app_database_url
    from y3d_pipeline.print_queue.repository import task_history
    from y3d_pipeline.settings import load_settings

    engine = make_engine(resolve_app_database_url())
    try:
        with engine.connect() as conn:
            rows = task_history(conn, [o for o in args.orders if o.strip()])
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print(format_history(rows, tz=load_settings().timezone))
    return 0 if rows else 1
