"""Print-queue assets: thin wrappers over ``y3d_pipeline.print_queue``."""

# No "from __future__ import annotations" here: Dagster reads the Config and resource annotations at runtime.


from typing import Any

import dagster as dg

from y3d_pipeline.defs.conditions import after_upstream_runs_without_it, follows_upstream
from y3d_pipeline.defs.constants import (
    GROUP_PRINT_QUEUE,
    NORMALIZED_ORDER_ITEMS,
    NORMALIZED_ORDERS,
    NORMALIZED_RECONCILIATION,
    POOL_OPENAI,
    PRINT_TASKS,
    RAW_AMAZON_CUSTOMIZATIONS,
    TASK_STATUS_SYNC,
)
from y3d_pipeline.defs.partitions import daily_partitions
from y3d_pipeline.defs.print_queue.resources import OpenAIResource
from y3d_pipeline.defs.resources import DatabaseResource, ShopResource, ShopSettings
from y3d_pipeline.print_queue import repository
from y3d_pipeline.print_queue.palette import DEFAULT_PALETTE
from y3d_pipeline.print_queue.prompt import PROMPT_VERSION
from y3d_pipeline.print_queue.service import (
    DEFAULT_AI_CONCURRENCY,
    RunOptions,
    RunReport,
    run_print_tasks,
)
from y3d_pipeline.print_queue.validation import DEFAULT_MAX_TEXT_LENGTH
from y3d_pipeline.runlog.tags import TAG_OUTCOME, Outcome


class PrintTasksConfig(dg.Config):
    """Launchpad options for a print-tasks run. ``None`` means the environment's default (see README)."""

    order_ids: list[str] = []
    """Only these orders (our id, marketplace order number or ShipStation order id), whatever the window."""
    force_recreate: bool = False
    """Rebuild the tasks of the selected items, pending ones only (person-edited included); started work is kept."""
    clear_all: bool = False
    """The legacy --clear-all, made safe: delete every pending task of every open order (not just the window) and
    rebuild it from the order's current inputs; in-progress and completed tasks are kept. With dry_run: report."""
    dry_run: bool = False
    """Compute and report, write nothing (no tasks, no ai_calls rows)."""
    dry_run_calls_ai: bool = False
    """In a dry run, still make the (paid) AI calls to preview their result."""
    limit: int | None = None
    """At most this many orders with work (earliest ship-by first); 0 = no limit. Default: ORDER_PROCESSING_LIMIT."""
    create_placeholders: bool | None = None
    """Items no source could read get one placeholder task needing review (else: no task, order fails).
    Default: CREATE_PLACEHOLDER_ON_AI_ERROR (true)."""
    ai_concurrency: int = DEFAULT_AI_CONCURRENCY
    """At most this many OpenAI calls in flight within the run; OpenAI's rate-limit headers pace them."""
    ai_call_delay_ms: int | None = None
    """At least this long between the starts of two OpenAI calls. Default: AI_CALL_DELAY_MS (0)."""
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    """Longer texts are flagged for review as not printable."""
    palette: list[str] = list(DEFAULT_PALETTE)
    """Filament colours; anything else maps to null and is flagged for review."""

    def run_options(self, defaults: ShopSettings) -> RunOptions:
        limit = self.limit if self.limit is not None else defaults.order_processing_limit
        return RunOptions(
            order_refs=[r for r in self.order_ids if r.strip()], force_recreate=self.force_recreate,
            clear_all=self.clear_all, dry_run=self.dry_run, dry_run_calls_ai=self.dry_run_calls_ai,
            limit=limit or None,
            create_placeholders=(self.create_placeholders if self.create_placeholders is not None
                                 else defaults.create_placeholders),
            ai_concurrency=self.ai_concurrency,
            ai_call_delay_ms=(self.ai_call_delay_ms if self.ai_call_delay_ms is not None
                              else defaults.ai_call_delay_ms),
            max_text_length=self.max_text_length, palette=tuple(self.palette),
        )


def report_metadata(report: RunReport, *, model: str | None, ai_configured: bool) -> dict[str, Any]:
    tasks = report.tasks
    metadata: dict[str, Any] = {
        "outcome": report.outcome,
        "dry_run": report.dry_run,
        "orders_considered": report.orders_considered,
        "orders_with_work": report.orders_with_work,
        "orders_processed": report.orders_processed,
        "orders_failed": len(report.orders_failed),
        "failed_orders": dg.MetadataValue.json(report.orders_failed),
        "tasks_created": tasks["created"],
        "tasks_updated": tasks["updated"],
        "tasks_protected": tasks["protected"],
        "tasks_cancelled": tasks["cancelled"],
        "tasks_completed": tasks["completed"],
        "tasks_removed": tasks["removed"],
        "tasks_unchanged": tasks["unchanged"],
        "tasks_kept": tasks["kept"],
        "tasks_edited_outside": tasks["edited_outside"],
        "tasks_flagged_for_review": report.tasks_flagged_for_review,
        "items_by_source": dg.MetadataValue.json(dict(report.items_by_source)),
        "items_by_reason": dg.MetadataValue.json(dict(report.items_by_reason)),
        "items_flagged_for_review": report.items_flagged_for_review,
        "items_sent_to_ai": report.items_sent_to_ai,
        "why_sent_to_ai": dg.MetadataValue.json(dict(report.ai_reasons.most_common(20))),
        "items_deferred_amazon_custom": report.items_deferred,
        "items_unresolved": report.items_unresolved,
        "review_reasons": dg.MetadataValue.json(dict(report.review_reasons.most_common(20))),
        "ai_configured": ai_configured,
        "ai_model": model or "",
        "ai_prompt_version": PROMPT_VERSION,
        "ai_calls": report.ai_calls,
        "ai_calls_failed": report.ai_calls_failed,
        "ai_cache_hits": report.ai_cache_hits,
        "ai_tokens_in": report.ai_tokens_in,
        "ai_tokens_out": report.ai_tokens_out,
    }
    if report.order_refs_skipped:
        metadata["order_ids_skipped"] = dg.MetadataValue.json(report.order_refs_skipped)
    if report.dry_run:
        metadata["items_awaiting_ai"] = report.items_awaiting_ai
        if report.cleared:
            metadata["clear_all_would_delete"] = dg.MetadataValue.json(report.cleared)
        if report.preview:
            header = "| order | item | # | text | colour 1 | colour 2 | qty | source | why | review |\n|" + "---|" * 10
            rows = [f"| {p['order']} | {p['item']} | {p['index']} | {p['text'] or ''} | {p['colour_1'] or ''} | "
                    f"{p['colour_2'] or ''} | {p['qty']} | {p['source']} | {p['why']} | {p['review']} |"
                    for p in report.preview[:50]]
            metadata["preview"] = dg.MetadataValue.md("\n".join([header, *rows]))
    return metadata


@dg.asset(
    key=PRINT_TASKS,
    deps=[NORMALIZED_ORDER_ITEMS, NORMALIZED_RECONCILIATION, RAW_AMAZON_CUSTOMIZATIONS],
    partitions_def=daily_partitions,
    # the Amazon Custom files may never materialize (no Amazon orders), and a day whose reconciliation has not
    # run yet still has ShipStation's items to read
    automation_condition=follows_upstream(RAW_AMAZON_CUSTOMIZATIONS, NORMALIZED_RECONCILIATION),
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP_PRINT_QUEUE,
    pool=POOL_OPENAI,
    kinds={"postgres", "openai"},
    description=(
        "Print tasks for personalised items of orders awaiting shipment or on hold: the orders placed or modified in "
        "the partition's day, plus any order whose tasks' inputs changed since they were written (a late Amazon "
        "Custom file, a buyer's edit, a changed quantity, a removed item, a cancellation or hold), whose AI retry is "
        "due, or whose pending tasks were written under another palette or rules. Items are read from Amazon Custom "
        "data, else options or eBay note blocks when the text can be read one way, else OpenAI (answers checked "
        "against the buyer's input), else a placeholder for review. Pending tasks the pipeline wrote follow their "
        "inputs; tasks a person started, finished or edited are never rewritten, only flagged with what changed. "
        "Every change is recorded in print_task_history."
    ),
)
def print_tasks(context: dg.AssetExecutionContext, config: PrintTasksConfig, database: DatabaseResource,
                openai: OpenAIResource, shop: ShopResource) -> dg.MaterializeResult:
    window = context.partition_time_window
    extractor = openai.extractor()
    if extractor is None:
        context.log.warning("OPENAI_API_KEY is not set: items needing the AI get placeholder tasks for review")
    options = config.run_options(shop.settings)
    report = run_print_tasks(database.engine, options, window=(window.start, window.end), extractor=extractor,
                             run_id=context.run_id)
    metadata = report_metadata(report, model=openai.model if extractor else None, ai_configured=bool(extractor))
    metadata["window"] = f"{window.start.isoformat()} → {window.end.isoformat()}"
    context.instance.add_run_tags(context.run_id, {TAG_OUTCOME: report.outcome})
    for failure in report.orders_failed:
        context.log.error(f"order {failure['order_number']} (id {failure['order_id']}) failed: {failure['reason']}")
    if report.outcome == Outcome.FAILED:
        raise dg.Failure(description=f"every order with work failed ({len(report.orders_failed)})",
                         metadata=metadata)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=TASK_STATUS_SYNC,
    deps=[NORMALIZED_ORDERS, NORMALIZED_RECONCILIATION],  # statuses: ShipStation's, or a marketplace-only order's
    group_name=GROUP_PRINT_QUEUE,
    kinds={"postgres"},
    automation_condition=after_upstream_runs_without_it("30 2 * * *"),
    description=(
        "Closes the open print tasks of orders that left the queue: pending/in-progress tasks of shipped orders "
        "become completed; pending tasks of cancelled orders are cancelled, in-progress ones flagged for a person "
        "(never silently closed). Every change is recorded in print_task_history. Runs after orders (and their "
        "shipments) sync, and nightly."
    ),
)
def task_status_sync(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    with database.engine.begin() as conn:
        counts = repository.sync_task_statuses(conn, run_id=context.run_id)
    return dg.MaterializeResult(metadata={
        "tasks_completed": counts["completed"],
        "tasks_cancelled": counts["cancelled"],
        "tasks_flagged_started_on_cancelled_orders": counts["flagged"],
    })
