"""One print-tasks run: select orders, decide per item, call the AI where needed, write per order.

Resolution order per item (recorded in ``print_tasks.source``):
amazon_customization → item_options (incl. eBay note blocks) → ai (answer checked by ``guards``) →
placeholder for review.

Tasks follow their inputs. Per item, comparing the item's input hash with the one its tasks were last
checked against:
* no tasks yet → create;
* every task still the pipeline's own (pending, unedited) and the inputs changed, the rules (palette,
  limits) changed, or a retry of a failed AI call is due → re-resolve and rewrite;
* any task a person owns (started, finished, edited or reviewed) and the inputs changed → nothing is
  rewritten; the tasks are flagged with what changed ("buyer changed text from Eve to Zed after printing
  started");
* an item removed from its order → its pending tasks cancelled, started ones flagged;
* a cancelled order → pending tasks cancelled, started ones flagged; a shipped order → tasks completed;
* an order on hold → its tasks carry "Order is on hold" for review until it is released;
* an item whose SKU ShipStation's inventory tracks with nothing available → its tasks carry "No blanks in stock"
  for review until stock is back (a SKU the inventory does not track is never flagged).
Each order is written in its own transaction; one failing order never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.print_queue import guards
from y3d_pipeline.print_queue import options as readers
from y3d_pipeline.print_queue import repository as repo
from y3d_pipeline.print_queue.ai import AiCallResult, PersonalizationExtractor, parse_reply
from y3d_pipeline.print_queue.hashing import content_hash
from y3d_pipeline.print_queue.models import (
    SOURCE_AI,
    SOURCE_PLACEHOLDER,
    AiInputItem,
    AiOption,
    AiOrderInput,
    AiOrderResult,
    ExistingTask,
    ItemRow,
    OrderRow,
    Personalization,
    TaskDraft,
)
from y3d_pipeline.print_queue.palette import DEFAULT_PALETTE, Palette
from y3d_pipeline.print_queue.prompt import PROMPT_VERSION
from y3d_pipeline.print_queue.validation import (
    DEFAULT_MAX_TEXT_LENGTH,
    ValidationRules,
    build_item_tasks,
    placeholder_tasks,
)
from y3d_pipeline.runlog.tags import Outcome

log = logging.getLogger(__name__)

DEFAULT_AI_CONCURRENCY = 4
CLOSED_STATUSES = ("shipped", "cancelled")
RETRY_FIRST = dt.timedelta(minutes=15)
RETRY_MAX = dt.timedelta(hours=12)


def retry_delay(attempts: int) -> dt.timedelta:
    """Backoff between automatic re-resolutions of an item the AI could not read: 15 min, 30, 1 h … 12 h."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, attempts - 1))


@dataclass(slots=True)
class RunOptions:
    order_refs: list[str] = field(default_factory=list)
    force_recreate: bool = False
    clear_all: bool = False
    dry_run: bool = False
    dry_run_calls_ai: bool = False
    limit: int | None = None
    create_placeholders: bool = True
    ai_concurrency: int = DEFAULT_AI_CONCURRENCY
    ai_call_delay_ms: int = 0
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    palette: tuple[str, ...] = DEFAULT_PALETTE


@dataclass(slots=True)
class RunReport:
    dry_run: bool = False
    orders_considered: int = 0
    orders_with_work: int = 0
    orders_processed: int = 0
    orders_failed: list[dict[str, Any]] = field(default_factory=list)
    order_refs_skipped: dict[str, str] = field(default_factory=dict)
    tasks: Counter = field(default_factory=Counter)  # created, updated, unchanged, removed, cancelled, ...
    tasks_flagged_for_review: int = 0
    items_by_source: Counter = field(default_factory=Counter)
    items_by_reason: Counter = field(default_factory=Counter)  # why re-resolved: new item, inputs changed, ...
    items_flagged_for_review: int = 0
    items_deferred: int = 0
    items_unresolved: int = 0
    items_sent_to_ai: int = 0
    ai_reasons: Counter = field(default_factory=Counter)  # why the readers handed an item to the AI
    items_awaiting_ai: int = 0
    review_reasons: Counter = field(default_factory=Counter)
    ai_calls: int = 0
    ai_calls_failed: int = 0
    ai_cache_hits: int = 0
    ai_tokens_in: int = 0
    ai_tokens_out: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)  # dry run of clear_all: what it would delete

    @property
    def outcome(self) -> str:
        if self.orders_failed and self.orders_processed == 0:
            return Outcome.FAILED
        if self.orders_failed:
            return Outcome.PARTIAL_SUCCESS
        if self.orders_with_work == 0:
            return Outcome.SUCCESS_NO_ORDERS
        return Outcome.SUCCESS


@dataclass(slots=True)
class ItemPlan:
    item: ItemRow
    input_hash: str
    mode: str  # "create" | "refresh" | "protect"
    why: str
    drafts: list[TaskDraft] | None = None  # None until resolved (or when there is nothing to write)
    needs_ai: bool = False
    ai_reason: str | None = None
    must_review: str | None = None  # a reason any AI answer for the item is flagged with
    deferred: bool = False


class AiSkipped(Enum):
    """Why an order that needs the AI got no call; the value is the reason a person reads."""

    NOT_CONFIGURED = "AI extraction is not configured (OPENAI_API_KEY unset)"
    DRY_RUN = "dry run: AI not called"  # the items wait: a real run would call it


@dataclass(slots=True)
class OrderPlan:
    order: OrderRow
    items: list[ItemPlan] = field(default_factory=list)
    closing: bool = False
    orphans: list[ExistingTask] = field(default_factory=list)
    outside_edits: list[ExistingTask] = field(default_factory=list)
    first_sightings: list[tuple[list[int], str]] = field(default_factory=list)  # (task ids, input hash)
    ai_input: AiOrderInput | None = None
    ai_hash: str | None = None
    ai_result: AiOrderResult | None = None
    ai_call: AiCallResult | None = None
    ai_call_id: int | None = None
    ai_error: str | None = None
    ai_skipped: AiSkipped | None = None

    @property
    def has_work(self) -> bool:
        return bool(self.items or self.closing or self.orphans or self.outside_edits)

    @property
    def idle(self) -> bool:
        """Nothing to write but the tasks' check marks (an unchanged order on a re-run)."""
        return not (self.has_work or self.first_sightings or self.ai_input is not None
                    or self.ai_call_id is not None)

    @property
    def ai_held_for_dry_run(self) -> bool:
        return self.ai_skipped is AiSkipped.DRY_RUN

    @property
    def ai_failure(self) -> str:
        """Why the AI gave no answer for this order."""
        return self.ai_skipped.value if self.ai_skipped else f"AI extraction failed: {self.ai_error}"


def item_input_hash(order: OrderRow, item: ItemRow) -> str:
    """Everything an item's tasks are derived from; compared with the tasks' checked input hash."""
    custom = item.amazon_custom
    return content_hash(
        order.marketplace, order.customer_notes, item.sku, item.name, item.quantity,
        readers.input_options(order, item), order.status == "on_hold",
        None if custom is None else [custom.status, custom.custom_text, custom.color_1, custom.color_2, custom.font,
                                     custom.surfaces],
        # Only when out of stock, so that every other item's hash stays what it was before stock was known.
        *(["out_of_stock"] if item.out_of_stock else []),
    )


def ai_input_for(order: OrderRow, items: list[ItemRow]) -> AiOrderInput:
    return AiOrderInput(
        order_number=order.order_number or str(order.id),
        marketplace=order.marketplace or "unknown",
        customer_notes=order.customer_notes,
        items=[AiInputItem(
            item_id=str(i.id), sku=i.sku, product_name=i.name, quantity=i.quantity,
            options=[AiOption(name=o["name"], value=o["value"]) for o in readers.ai_input_options(order, i)],
        ) for i in items],
    )


def _texts(values: list[str | None]) -> str:
    shown = [v if v else "(no text)" for v in values]
    return " + ".join(dict.fromkeys(shown)) if shown else "(nothing)"


def describe_change(order: OrderRow, old: list[ExistingTask], new: list[TaskDraft] | None, why_new: str | None,
                    item: ItemRow | None = None) -> str:
    """What changed for tasks a person owns, in words for the person at the printer."""
    old = [t for t in old if t.status != "cancelled"]
    parts = []
    if new is None:
        parts.append(f"the order's personalisation changed and could not be read again ({why_new or 'unknown'})")
    else:
        old_texts, new_texts = [t.custom_text for t in old], [d.custom_text for d in new]
        if new and all(d.source == SOURCE_PLACEHOLDER for d in new):
            parts.append(f"the order's personalisation changed and needs reading by a person "
                         f"({new[0].review_reason or 'unreadable'})")
        elif sorted(map(str, old_texts)) != sorted(map(str, new_texts)):
            parts.append(f"buyer changed text from {_texts(old_texts)} to {_texts(new_texts)}")
        old_q, new_q = sum(t.quantity for t in old), sum(d.quantity for d in new)
        if old_q != new_q:
            parts.append(f"quantity changed from {old_q} to {new_q}")
        old_c = {(t.color_1, t.color_2) for t in old}
        new_c = {(d.color_1, d.color_2) for d in new}
        if old_c != new_c and not all(d.source == SOURCE_PLACEHOLDER for d in new):
            parts.append(f"colour changed from {_colours(old_c)} to {_colours(new_c)}")
    if order.status == "on_hold":
        parts.append("order put on hold")
    if item is not None and item.out_of_stock:
        parts.append(f"no blanks of SKU {item.sku} in stock")
    if not parts:
        parts.append("the order's personalisation inputs changed")
    statuses = {t.status for t in old}
    when = ("after printing finished" if statuses == {"completed"} else
            "after printing started" if statuses & {"in_progress", "completed"} else
            "after a person edited or reviewed the task")
    return f"{'; '.join(parts)} {when}: check before printing"


def _colours(pairs: set[tuple[str | None, str | None]]) -> str:
    return " + ".join(sorted("/".join(c for c in pair if c) or "(none)" for pair in pairs))


class PrintTaskRun:
    def __init__(self, engine: sa.Engine, options: RunOptions, *, extractor: PersonalizationExtractor | None,
                 run_id: str | None = None, model: str | None = None, now: dt.datetime | None = None):
        self.engine = engine
        self.options = options
        self.extractor = extractor
        self.model = model or (extractor.model if extractor else None)
        self.run_id = run_id
        self.now = now or dt.datetime.now(dt.UTC)
        self.rules = ValidationRules(Palette(options.palette), options.max_text_length)
        self.report = RunReport(dry_run=options.dry_run)
        self._ai_gate = threading.Lock()
        self._last_ai_start = 0.0

    # ------------------------------------------------------------------ deciding what each item needs

    def _decide(self, order: OrderRow, item: ItemRow, plan: OrderPlan) -> ItemPlan | None:
        input_hash = item_input_hash(order, item)
        tasks = item.existing_tasks
        if not tasks:
            if not readers.has_personalization_signal(order, item):
                return None
            return ItemPlan(item, input_hash, "create", "new item")
        started = [t for t in tasks if t.status in ("in_progress", "completed")]
        theirs = [t for t in tasks if t.status in ("pending", "cancelled") and not t.ours]
        known = [t.seen_input_hash for t in tasks if t.seen_input_hash]
        changed = any(k != input_hash for k in known)
        unknown = [t.id for t in tasks if not t.seen_input_hash]
        if unknown:  # rows the pipeline never checked: today's inputs are their baseline
            plan.first_sightings.append((unknown, input_hash))
        forced = "clear_all" if self.options.clear_all else "force_recreate" if self.options.force_recreate else None
        if forced and not started:
            return ItemPlan(item, input_hash, "refresh", forced)
        if started or theirs:
            if changed:
                return ItemPlan(item, input_hash, "protect", "inputs changed")
            self.report.tasks["kept"] += len(tasks)
            return None
        if all(t.status == "cancelled" for t in tasks):
            return ItemPlan(item, input_hash, "refresh", "order open again")
        if changed:
            return ItemPlan(item, input_hash, "refresh", "inputs changed")
        if any(t.status == "pending" and t.rules_hash != self.rules.fingerprint for t in tasks):
            return ItemPlan(item, input_hash, "refresh", "rules changed")
        if any(t.status == "pending" and t.retry_at is not None and t.retry_at <= self.now for t in tasks):
            return ItemPlan(item, input_hash, "refresh", "retry")
        return None

    def _resolve_deterministic(self, order: OrderRow, item_plan: ItemPlan) -> None:
        item = item_plan.item
        reading = readers.read_item(order, item)
        if isinstance(reading, readers.Resolution):
            item_plan.drafts = self._build(order, item, reading.personalizations, reading.source,
                                           item_plan.input_hash)
        elif isinstance(reading, readers.NeedsAi):
            item_plan.needs_ai = True
            item_plan.ai_reason = reading.reason
            item_plan.must_review = reading.review
            self.report.items_sent_to_ai += 1
            self.report.ai_reasons[_reason_kind(reading.reason)] += 1
        elif isinstance(reading, readers.NeedsPerson):
            item_plan.drafts = self._placeholder(order, item_plan, reading.reason)
        else:
            item_plan.deferred = True
            if item_plan.mode == "create":
                self.report.items_deferred += 1

    def _build(self, order: OrderRow, item: ItemRow, personalizations: list[Personalization], source: str,
               input_hash: str) -> list[TaskDraft]:
        return build_item_tasks(order, item, personalizations, source=source, input_hash=input_hash,
                                rules=self.rules)

    def _placeholder(self, order: OrderRow, item_plan: ItemPlan, reason: str, *,
                     retry: bool = False) -> list[TaskDraft] | None:
        if not self.options.create_placeholders:
            return None
        drafts = placeholder_tasks(order, item_plan.item, reason, input_hash=item_plan.input_hash, rules=self.rules)
        if retry:
            attempts = 1 + max((t.attempts for t in item_plan.item.existing_tasks if t.ours), default=0)
            for draft in drafts:
                draft.attempts = attempts
                draft.retry_at = self.now + retry_delay(attempts)
        return drafts

    def _plan_order(self, order: OrderRow) -> OrderPlan:
        plan = OrderPlan(order)
        every_task = [t for i in order.items for t in i.existing_tasks] + order.orphan_tasks
        plan.outside_edits = [t for t in every_task if t.edited_outside]
        if order.status in CLOSED_STATUSES:
            plan.closing = any(t.status in repo.OPEN_TASK_STATUSES for t in every_task)
            return plan
        if order.status not in repo.ELIGIBLE_STATUSES:
            return plan
        plan.orphans = [t for t in order.orphan_tasks if t.checked_input_hash != repo.ITEM_REMOVED
                        and t.status in ("pending", "in_progress", "completed")]
        for item in order.items:
            item_plan = self._decide(order, item, plan)
            if item_plan is None:
                continue
            plan.items.append(item_plan)
            self._resolve_deterministic(order, item_plan)
        ai_items = [p.item for p in plan.items if p.needs_ai]
        if ai_items:
            plan.ai_input = ai_input_for(order, ai_items)
            plan.ai_hash = content_hash(PROMPT_VERSION, self.model, list(self.rules.palette.colours),
                                        plan.ai_input.model_dump(mode="json"))
        return plan

    def plan(self, window: tuple[dt.datetime, dt.datetime] | None) -> list[OrderPlan]:
        with self.engine.connect() as conn:
            order_ids, skipped = repo.select_orders(conn, window=window, order_refs=self.options.order_refs,
                                                    now=self.now, rules_hash=self.rules.fingerprint,
                                                    clear_all=self.options.clear_all)
            orders = repo.load_orders(conn, order_ids)
        self.report.order_refs_skipped = skipped
        self.report.orders_considered = len(orders)
        plans: list[OrderPlan] = []
        limit = self.options.limit or None
        for order in orders:
            try:
                plan = self._plan_order(order)
            except Exception as exc:  # one bad order must not stop the run
                log.exception("planning order %s failed", order.id)
                self._fail(order, f"could not resolve items: {type(exc).__name__}: {exc}"[:500])
                continue
            if plan.has_work:
                if limit is not None and sum(p.has_work for p in plans) >= limit:
                    continue
                for item_plan in plan.items:
                    self.report.items_by_reason[item_plan.why] += 1
            plans.append(plan)
        self.report.orders_with_work = sum(p.has_work for p in plans)
        return plans

    # ------------------------------------------------------------------ AI

    def _ai_allowed(self) -> bool:
        return self.extractor is not None and (not self.options.dry_run or self.options.dry_run_calls_ai)

    def _pace(self) -> None:
        """AI_CALL_DELAY_MS: at least this long between the starts of two calls (a plain rate cap)."""
        delay = self.options.ai_call_delay_ms / 1000
        if delay <= 0:
            return
        with self._ai_gate:
            wait = self._last_ai_start + delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_ai_start = time.monotonic()

    def _extract(self, plan: OrderPlan) -> None:
        """Cached reply for identical inputs, else one call; logged to ai_calls (not in a dry run)."""
        assert plan.ai_input is not None and plan.ai_hash is not None and self.extractor is not None
        with self.engine.connect() as conn:
            cached = repo.cached_ai_reply(conn, plan.ai_hash)
        if cached is not None:
            try:
                plan.ai_result = parse_reply(cached)
                return
            except ValueError:
                pass  # an old row we can no longer read: call again
        self._pace()
        call = self.extractor.extract(plan.ai_input, self.rules.palette.colours)
        plan.ai_call = call
        if call.success:
            plan.ai_result = call.result
        else:
            plan.ai_error = call.error
        if self.options.dry_run:
            return
        with self.engine.begin() as conn:
            plan.ai_call_id = repo.insert_ai_call(conn, {
                "order_id": plan.order.id, "order_number": plan.order.order_number,
                "marketplace": plan.order.marketplace, "model": self.extractor.model,
                "prompt_version": PROMPT_VERSION, "input_hash": plan.ai_hash,
                "request": {"input": plan.ai_input.model_dump(mode="json"), "attempts": call.attempts},
                "raw_response": call.raw_response, "tokens_in": call.tokens_in, "tokens_out": call.tokens_out,
                "latency_ms": call.latency_ms, "success": call.success, "error": call.error,
                "run_id": self.run_id,
            })

    def run_ai(self, plans: list[OrderPlan]) -> None:
        needing = [p for p in plans if p.ai_input is not None]
        if not needing:
            return
        if self.extractor is None:
            for p in needing:
                p.ai_skipped = AiSkipped.NOT_CONFIGURED
            return
        if not self._ai_allowed():
            for p in needing:
                p.ai_skipped = AiSkipped.DRY_RUN
                self.report.items_awaiting_ai += len(p.ai_input.items)
            return
        workers = max(1, self.options.ai_concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai") as pool:
            futures = {pool.submit(self._extract, p): p for p in needing}
            for future, plan in futures.items():
                try:
                    future.result()
                except Exception as exc:  # a DB error while logging, say: that order fails, not the run
                    log.exception("AI step for order %s failed", plan.order.id)
                    plan.ai_error = f"{type(exc).__name__}: {exc}"[:500]
        for p in needing:
            if p.ai_call is not None:
                self.report.ai_calls += 1
                self.report.ai_calls_failed += 0 if p.ai_call.success else 1
                self.report.ai_tokens_in += p.ai_call.tokens_in or 0
                self.report.ai_tokens_out += p.ai_call.tokens_out or 0
            elif p.ai_result is not None:
                self.report.ai_cache_hits += 1

    def _apply_ai(self, plan: OrderPlan) -> None:
        by_id = {r.item_id: r for r in plan.ai_result.items} if plan.ai_result else {}
        for item_plan in plan.items:
            if not item_plan.needs_ai:
                continue
            order, item = plan.order, item_plan.item
            read_as = f"Not readable without the AI ({item_plan.ai_reason})"
            if plan.ai_result is None:
                if plan.ai_held_for_dry_run:
                    continue
                item_plan.drafts = self._placeholder(order, item_plan, f"{read_as}; {plan.ai_failure}", retry=True)
                continue
            result = by_id.get(str(item.id))
            if result is None or not result.personalizations:
                item_plan.drafts = self._placeholder(
                    order, item_plan, f"{read_as}; the AI reply had no personalization for this item")
                continue
            checked = guards.check_answer(order, item, result.personalizations, palette=self.rules.palette,
                                          must_review=item_plan.must_review)
            item_plan.drafts = self._build(order, item, checked, SOURCE_AI, item_plan.input_hash)

    # ------------------------------------------------------------------ writes

    def _fail(self, order: OrderRow, reason: str) -> None:
        self.report.orders_failed.append({"order_id": order.id, "order_number": order.order_number,
                                          "reason": reason})

    def _count(self, plan: OrderPlan) -> None:
        for item_plan in plan.items:
            drafts = item_plan.drafts
            if drafts is None or item_plan.mode == "protect":
                if item_plan.needs_ai and not plan.ai_held_for_dry_run and drafts is None \
                        and item_plan.mode != "protect":
                    self.report.items_unresolved += 1
                continue
            self.report.items_by_source[drafts[0].source] += 1
            flagged = [d for d in drafts if d.needs_review]
            self.report.tasks_flagged_for_review += len(flagged)
            if flagged:
                self.report.items_flagged_for_review += 1
                for d in flagged:
                    for reason in (d.review_reason or "").split("; "):
                        self.report.review_reasons[_reason_kind(reason)] += 1
            if len(self.report.preview) < 50:
                self.report.preview.extend(
                    {"order": plan.order.order_number, "item": d.order_item_id, "index": d.task_index,
                     "text": d.custom_text, "colour_1": d.color_1, "colour_2": d.color_2, "qty": d.quantity,
                     "source": d.source, "why": item_plan.why, "review": d.review_reason or ""} for d in drafts)

    def _count_dry_run(self, plan: OrderPlan) -> None:
        """What a real run would do to the queue (nothing is written)."""
        tasks = self.report.tasks
        tasks["cancelled"] += sum(t.status == "pending" for t in plan.orphans)
        for item_plan in plan.items:
            existing, drafts = item_plan.item.existing_tasks, item_plan.drafts
            if item_plan.mode == "protect":
                tasks["protected"] += sum(t.status != "cancelled" for t in existing)
                continue
            if drafts is None:
                continue
            pending = [t for t in existing if t.status in ("pending", "cancelled")]
            if item_plan.why == "clear_all":
                cleared = [t for t in existing if t.status == "pending"]
                tasks["removed"] += len(cleared)
                tasks["created"] += len(drafts)
                if len(self.report.cleared) < 200:
                    self.report.cleared.extend(
                        {"order": plan.order.order_number, "item": t.order_item_id, "index": t.task_index,
                         "text": t.custom_text, "qty": t.quantity} for t in cleared)
                continue
            tasks["updated"] += min(len(pending), len(drafts))
            tasks["created"] += max(0, len(drafts) - len(existing))
            tasks["removed"] += max(0, len(pending) - len(drafts))

    def _write_item(self, writer: repo.TaskWriter, plan: OrderPlan, item_plan: ItemPlan) -> None:
        item, drafts = item_plan.item, item_plan.drafts
        existing = {t.task_index: t for t in item.existing_tasks}
        if item_plan.mode == "protect":
            baseline = [writer.as_last_written(t) for t in item.existing_tasks]
            reason = describe_change(plan.order, baseline, drafts,
                                     item_plan.ai_reason or (plan.ai_skipped and plan.ai_skipped.value)
                                     or plan.ai_error, item)
            for task in item.existing_tasks:
                if task.status != "cancelled":
                    writer.flag(task, reason, checked_input_hash=item_plan.input_hash)
            writer.mark_checked([t.id for t in item.existing_tasks], item_plan.input_hash)
            return
        if drafts is None:  # waiting (Amazon Custom file) or unreadable without placeholders: keep what is there
            writer.mark_checked([t.id for t in item.existing_tasks], item_plan.input_hash,
                                rules_hash=self.rules.fingerprint)
            return
        forced = item_plan.mode == "refresh" and item_plan.why in ("force_recreate", "clear_all")
        if item_plan.why == "clear_all":
            for task in item.existing_tasks:
                if task.status == "pending":
                    writer.remove(task, "clear_all: the queue's pending tasks rebuilt", forced=True)
            existing = {i: t for i, t in existing.items() if t.status != "pending"}
        for draft in drafts:
            task = existing.get(draft.task_index)
            if task is None:
                writer.create(draft, item_plan.why)
            elif task.status in ("pending", "cancelled"):
                writer.rewrite(task, draft, item_plan.why, forced=forced)
            else:
                writer.counts["tasks_protected"] += 1  # cannot happen for refresh (started → protect)
        for index, task in existing.items():
            if index >= len(drafts) and task.status == "pending":
                writer.remove(task, f"{item_plan.why}: the item now needs {len(drafts)} task(s)", forced=forced)

    def _write_orphans(self, writer: repo.TaskWriter, plan: OrderPlan) -> None:
        for task in plan.orphans:
            if task.status == "pending":
                writer.set_status(task, "cancelled", "item removed from the order")
            else:
                when = "finished" if task.status == "completed" else "started"
                writer.flag(task, f"Item removed from the order after printing {when}: check before shipping",
                            checked_input_hash=repo.ITEM_REMOVED)

    def write(self, plan: OrderPlan) -> None:
        if plan.ai_input is not None:
            self._apply_ai(plan)
        if self.options.dry_run:
            self._count(plan)
            self._count_dry_run(plan)
            if plan.has_work:
                self.report.orders_processed += 1
            return
        with self.engine.begin() as conn:  # one transaction per order
            writer = repo.TaskWriter(conn, plan.order, self.run_id)
            for task in plan.outside_edits:
                writer.note_outside_edit(task)
            if plan.closing:
                closed = repo.close_tasks_of_closed_orders(conn, order_ids=[plan.order.id], run_id=self.run_id)
                writer.counts["tasks_flagged_protected"] += closed["flagged"]
                writer.counts.update({f"tasks_{k}": v for k, v in closed.items() if k != "flagged"})
            self._write_orphans(writer, plan)
            for ids, input_hash in plan.first_sightings:
                writer.mark_checked(ids, input_hash)
            for item_plan in plan.items:
                self._write_item(writer, plan, item_plan)
            writer.mark_order_checked()
            if plan.ai_call_id is not None:
                ai_drafts = [d for p in plan.items if p.needs_ai and p.drafts for d in p.drafts]
                repo.record_ai_call_outcome(conn, plan.ai_call_id, tasks_created=len(ai_drafts),
                                            review_count=sum(d.needs_review for d in ai_drafts))
        self._count(plan)  # only orders whose tasks were committed count towards sources and reviews
        for key, value in writer.counts.items():
            name = key.removeprefix("tasks_")
            self.report.tasks["protected" if name == "flagged_protected" else name] += value
        self.report.tasks["edited_outside"] += len(plan.outside_edits)
        if plan.has_work:
            self.report.orders_processed += 1

    def write_idle(self, plans: list[OrderPlan]) -> None:
        """The orders with nothing to write in one transaction (their tasks' check marks only): a re-run over
        unchanged orders costs one statement, not one transaction per order."""
        try:
            with self.engine.begin() as conn:
                repo.mark_orders_checked(conn, [p.order.id for p in plans])
        except Exception as exc:
            log.exception("marking %d unchanged orders checked failed", len(plans))
            for plan in plans:
                self._fail(plan.order, f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}")

    def execute(self, window: tuple[dt.datetime, dt.datetime] | None) -> RunReport:
        plans = self.plan(window)
        self.run_ai(plans)
        idle = [] if self.options.dry_run else [p for p in plans if p.idle]
        if idle:
            self.write_idle(idle)
        for plan in plans:
            if idle and plan.idle:
                continue
            try:
                self.write(plan)
            except Exception as exc:
                log.exception("writing tasks for order %s failed", plan.order.id)
                self._fail(plan.order, f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}")
            else:
                unresolved = [p.item.id for p in plan.items if p.needs_ai and p.drafts is None
                              and p.mode != "protect" and not plan.ai_held_for_dry_run]
                if unresolved:
                    self._fail(plan.order, f"{plan.ai_failure}; items without tasks: {unresolved}")
                    self.report.orders_processed -= 1
        return self.report


def _reason_kind(reason: str) -> str:
    """Group review reasons for the summary: quoted values, numbers and emoji become placeholders."""
    kind = re.sub(r"'[^']*'", "'…'", reason)
    kind = re.sub(r"\([^)]*\)", "(…)", kind)
    kind = re.sub(r"emoji \S+", "emoji …", kind)
    kind = re.sub(r"\d[\d,]*", "N", kind)
    return kind[:80]


def run_print_tasks(engine: sa.Engine, options: RunOptions, *, window: tuple[dt.datetime, dt.datetime] | None,
                    extractor: PersonalizationExtractor | None, run_id: str | None = None) -> RunReport:
    return PrintTaskRun(engine, options, extractor=extractor, run_id=run_id).execute(window)
