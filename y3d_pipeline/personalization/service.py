"""One print-tasks run: select orders, resolve every item, call the AI where needed, write per order.

Resolution order per item (recorded in ``print_tasks.source``):
amazon_customization → item_options (incl. eBay note blocks) → ai → placeholder.
Each order is written in its own transaction, and one failing order never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.personalization import options as readers
from y3d_pipeline.personalization import repository as repo
from y3d_pipeline.personalization.ai import AiCallResult, PersonalizationExtractor, parse_reply
from y3d_pipeline.personalization.hashing import content_hash
from y3d_pipeline.personalization.models import (
    SOURCE_AI,
    SOURCE_AMAZON,
    SOURCE_OPTIONS,
    AiInputItem,
    AiOption,
    AiOrderInput,
    AiOrderResult,
    ItemRow,
    OrderRow,
    Personalization,
    TaskDraft,
)
from y3d_pipeline.personalization.palette import DEFAULT_PALETTE, Palette
from y3d_pipeline.personalization.prompt import PROMPT_VERSION
from y3d_pipeline.personalization.validation import (
    DEFAULT_MAX_TEXT_LENGTH,
    ValidationRules,
    build_item_tasks,
    placeholder_tasks,
)

log = logging.getLogger(__name__)

OUTCOME_SUCCESS = "success"
OUTCOME_PARTIAL = "partial_success"
OUTCOME_NO_ORDERS = "success_no_orders"
OUTCOME_FAILED = "failed"
DEFAULT_AI_CONCURRENCY = 4


@dataclass(slots=True)
class RunOptions:
    order_refs: list[str] = field(default_factory=list)
    force_recreate: bool = False
    dry_run: bool = False
    dry_run_calls_ai: bool = False
    limit: int | None = None
    create_placeholders: bool = True
    ai_concurrency: int = DEFAULT_AI_CONCURRENCY
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
    tasks_created: int = 0
    tasks_replaced: int = 0
    tasks_unchanged: int = 0
    tasks_removed: int = 0
    tasks_kept: int = 0
    tasks_flagged_for_review: int = 0
    items_by_source: Counter = field(default_factory=Counter)
    items_flagged_for_review: int = 0
    items_deferred: int = 0
    items_unresolved: int = 0
    items_kept_active: int = 0
    items_changed_since_tasks: int = 0
    items_awaiting_ai: int = 0
    review_reasons: Counter = field(default_factory=Counter)
    ai_calls: int = 0
    ai_calls_failed: int = 0
    ai_cache_hits: int = 0
    ai_tokens_in: int = 0
    ai_tokens_out: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.orders_failed and self.orders_processed == 0:
            return OUTCOME_FAILED
        if self.orders_failed:
            return OUTCOME_PARTIAL
        if self.orders_with_work == 0:
            return OUTCOME_NO_ORDERS
        return OUTCOME_SUCCESS


@dataclass(slots=True)
class ItemPlan:
    item: ItemRow
    input_hash: str
    drafts: list[TaskDraft] | None = None  # None until resolved
    needs_ai: bool = False


@dataclass(slots=True)
class OrderPlan:
    order: OrderRow
    items: list[ItemPlan] = field(default_factory=list)
    ai_input: AiOrderInput | None = None
    ai_hash: str | None = None
    ai_result: AiOrderResult | None = None
    ai_call: AiCallResult | None = None
    ai_call_id: int | None = None
    ai_error: str | None = None
    unresolved_reason: str | None = None


def item_input_hash(order: OrderRow, item: ItemRow) -> str:
    """Everything an item's tasks are derived from; compared with ``print_tasks.input_hash``."""
    custom = item.amazon_custom
    return content_hash(
        order.marketplace, order.customer_notes, item.sku, item.name, item.quantity, item.options,
        None if custom is None else [custom.status, custom.custom_text, custom.color_1, custom.color_2, custom.font],
    )


def ai_input_for(order: OrderRow, items: list[ItemRow]) -> AiOrderInput:
    return AiOrderInput(
        order_number=order.order_number or str(order.id),
        marketplace=order.marketplace or "unknown",
        customer_notes=order.customer_notes,
        items=[AiInputItem(
            item_id=str(i.id), sku=i.sku, product_name=i.name, quantity=i.quantity,
            options=[AiOption(name=str(o.get("name") or ""), value="" if o.get("value") is None else str(o["value"]))
                     for o in i.options if not str(o.get("name") or "").startswith("_")],
        ) for i in items],
    )


class PrintTaskRun:
    def __init__(self, engine: sa.Engine, options: RunOptions, *, extractor: PersonalizationExtractor | None,
                 run_id: str | None = None, model: str | None = None):
        self.engine = engine
        self.options = options
        self.extractor = extractor
        self.model = model or (extractor.model if extractor else None)
        self.run_id = run_id
        self.rules = ValidationRules(Palette(options.palette), options.max_text_length)
        self.report = RunReport(dry_run=options.dry_run)

    # ------------------------------------------------------------------ selection and planning

    def _items_to_build(self, order: OrderRow) -> list[ItemRow]:
        chosen = []
        for item in order.items:
            if not readers.has_personalization_signal(order, item):
                continue
            if item.existing_tasks:
                if item.existing_tasks[0].input_hash and any(
                        t.input_hash != item_input_hash(order, item) for t in item.existing_tasks):
                    self.report.items_changed_since_tasks += 1
                replaceable = all(t.status == "pending" for t in item.existing_tasks)
                if not self.options.force_recreate:
                    self.report.tasks_kept += len(item.existing_tasks)
                    continue
                if not replaceable:
                    # Work already started or done at the printer: never replaced, even when forced.
                    self.report.items_kept_active += 1
                    self.report.tasks_kept += len(item.existing_tasks)
                    continue
            chosen.append(item)
        return chosen

    def _resolve_deterministic(self, order: OrderRow, plan: ItemPlan) -> None:
        item = plan.item
        custom = item.amazon_custom
        if custom is not None and custom.status == "processed":
            res = readers.from_amazon_custom(item, custom)
            plan.drafts = self._build(order, item, res.personalizations, SOURCE_AMAZON, plan.input_hash)
            return
        resolution = readers.from_item_options(item)
        if resolution is None and "ebay" in (order.marketplace or "").lower():
            resolution = readers.from_ebay_notes(order, item)
        if resolution is not None:
            plan.drafts = self._build(order, item, resolution.personalizations, SOURCE_OPTIONS, plan.input_hash)
            return
        if readers.has_customized_url(item) or custom is not None:
            # Amazon Custom: the file is the truth and the AI cannot read it; wait for it to be parsed.
            if custom is not None and custom.status in ("failed", "rejected"):
                reason = "Amazon customization not parsed yet"
                if custom.error:
                    reason += f": {custom.error[:200]}"
                plan.drafts = self._placeholder(order, item, reason, plan.input_hash)
                if plan.drafts is None:
                    self.report.items_unresolved += 1
            else:
                self.report.items_deferred += 1
            return
        plan.needs_ai = True

    def _build(self, order: OrderRow, item: ItemRow, personalizations: list[Personalization], source: str,
               input_hash: str) -> list[TaskDraft]:
        return build_item_tasks(order, item, personalizations, source=source, input_hash=input_hash,
                                rules=self.rules)

    def _placeholder(self, order: OrderRow, item: ItemRow, reason: str, input_hash: str) -> list[TaskDraft] | None:
        if not self.options.create_placeholders:
            return None
        return placeholder_tasks(order, item, reason, input_hash=input_hash, rules=self.rules)

    def plan(self, window: tuple[dt.datetime, dt.datetime] | None) -> list[OrderPlan]:
        with self.engine.connect() as conn:
            order_ids, skipped = repo.select_orders(conn, window=window, order_refs=self.options.order_refs)
            orders = repo.load_orders(conn, order_ids)
        self.report.order_refs_skipped = skipped
        self.report.orders_considered = len(orders)
        plans: list[OrderPlan] = []
        for order in orders:
            if self.options.limit is not None and len(plans) >= self.options.limit:
                break
            try:
                items = self._items_to_build(order)
                if not items:
                    continue
                plan = OrderPlan(order, [ItemPlan(i, item_input_hash(order, i)) for i in items])
                for item_plan in plan.items:
                    self._resolve_deterministic(order, item_plan)
                ai_items = [p.item for p in plan.items if p.needs_ai]
                if ai_items:
                    plan.ai_input = ai_input_for(order, ai_items)
                    plan.ai_hash = content_hash(PROMPT_VERSION, self.model, list(self.rules.palette.colours),
                                                plan.ai_input.model_dump(mode="json"))
            except Exception as exc:  # one bad order must not stop the run
                log.exception("planning order %s failed", order.id)
                self._fail(order, f"could not resolve items: {type(exc).__name__}: {exc}"[:500])
                continue
            plans.append(plan)
        self.report.orders_with_work = len(plans)
        return plans

    # ------------------------------------------------------------------ AI

    def _ai_allowed(self) -> bool:
        return self.extractor is not None and (not self.options.dry_run or self.options.dry_run_calls_ai)

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
                p.unresolved_reason = "AI extraction is not configured (OPENAI_API_KEY unset)"
            return
        if not self._ai_allowed():
            for p in needing:
                p.unresolved_reason = "dry run: AI not called"
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
            if plan.ai_result is None:
                reason = plan.unresolved_reason or f"AI extraction failed: {plan.ai_error}"
                if plan.unresolved_reason == "dry run: AI not called":
                    continue
                item_plan.drafts = self._placeholder(order, item, reason, item_plan.input_hash)
                continue
            result = by_id.get(str(item.id))
            if result is None or not result.personalizations:
                item_plan.drafts = self._placeholder(
                    order, item, "AI reply had no personalization for this item: check the order",
                    item_plan.input_hash)
                continue
            personalizations = [
                Personalization(p.custom_text, p.color_1, p.color_2, p.quantity, needs_review=p.needs_review,
                                review_reasons=[p.review_reason] if p.review_reason else [], annotation=p.annotation)
                for p in result.personalizations
            ]
            item_plan.drafts = self._build(order, item, personalizations, SOURCE_AI, item_plan.input_hash)

    # ------------------------------------------------------------------ writes

    def _fail(self, order: OrderRow, reason: str) -> None:
        self.report.orders_failed.append({"order_id": order.id, "order_number": order.order_number,
                                          "reason": reason})

    def _count(self, plan: OrderPlan) -> None:
        for item_plan in plan.items:
            drafts = item_plan.drafts
            if drafts is None:
                if item_plan.needs_ai and plan.unresolved_reason == "dry run: AI not called":
                    continue
                if item_plan.needs_ai:
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
                     "source": d.source, "review": d.review_reason or ""} for d in drafts)

    def write(self, plan: OrderPlan) -> None:
        if plan.ai_input is not None:
            self._apply_ai(plan)
        if self.options.dry_run:
            self._count(plan)
            self.report.tasks_created += sum(len(p.drafts or []) for p in plan.items)
            self.report.orders_processed += 1
            return
        inserted = updated = deleted = 0
        with self.engine.begin() as conn:  # one transaction per order
            for item_plan in plan.items:
                if item_plan.drafts is None:
                    continue
                i, u, d = repo.upsert_item_tasks(conn, item_plan.item.id, item_plan.drafts)
                inserted, updated, deleted = inserted + i, updated + u, deleted + d
                existing = len(item_plan.item.existing_tasks)
                self.report.tasks_unchanged += max(0, min(existing, len(item_plan.drafts)) - u)
            if plan.ai_call_id is not None:
                ai_drafts = [d for p in plan.items if p.needs_ai and p.drafts for d in p.drafts]
                repo.record_ai_call_outcome(conn, plan.ai_call_id, tasks_created=len(ai_drafts),
                                            review_count=sum(d.needs_review for d in ai_drafts))
        self._count(plan)  # only orders whose tasks were committed count towards sources and reviews
        self.report.tasks_created += inserted
        self.report.tasks_replaced += updated
        self.report.tasks_removed += deleted
        self.report.orders_processed += 1

    def execute(self, window: tuple[dt.datetime, dt.datetime] | None) -> RunReport:
        plans = self.plan(window)
        self.run_ai(plans)
        for plan in plans:
            try:
                self.write(plan)
            except Exception as exc:
                log.exception("writing tasks for order %s failed", plan.order.id)
                self._fail(plan.order, f"{type(exc).__name__}: {str(exc).splitlines()[0][:400]}")
            else:
                unresolved = [p.item.id for p in plan.items if p.needs_ai and p.drafts is None
                              and plan.unresolved_reason != "dry run: AI not called"]
                if unresolved:
                    reason = plan.unresolved_reason or f"AI extraction failed: {plan.ai_error}"
                    self._fail(plan.order, f"{reason}; items without tasks: {unresolved}")
                    self.report.orders_processed -= 1
        return self.report


def _reason_kind(reason: str) -> str:
    """Group review reasons for the summary: quoted values, numbers and emoji become placeholders."""
    kind = re.sub(r"'[^']*'", "'…'", reason)
    kind = re.sub(r"emoji \S+", "emoji …", kind)
    kind = re.sub(r"\d+", "N", kind)
    return kind[:80]


def run_print_tasks(engine: sa.Engine, options: RunOptions, *, window: tuple[dt.datetime, dt.datetime] | None,
                    extractor: PersonalizationExtractor | None, run_id: str | None = None) -> RunReport:
    return PrintTaskRun(engine, options, extractor=extractor, run_id=run_id).execute(window)
