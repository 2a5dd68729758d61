"""Data-quality asset checks: thin wrappers over ``y3d_pipeline.quality`` (plain SQL).

Every check is WARN severity (the data needs a human or a fixer run, the pipeline is fine) and names the
offending orders in ``offending_orders`` (what the failed-check alert lists) plus the rows as markdown.
They run nightly through the ``data_quality_checks`` job (see schedules.py) and can be run from the UI.
"""

import datetime as dt
from collections.abc import Callable

import dagster as dg
import sqlalchemy as sa

from y3d_pipeline import quality
from y3d_pipeline.defs.constants import (
    NORMALIZED_ORDERS,
    NORMALIZED_RECONCILIATION,
    PRINT_TASKS,
    RAW_AMAZON_CUSTOMIZATIONS,
    RAW_AMAZON_ORDERS,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHOPIFY_ORDERS,
)
from y3d_pipeline.defs.resources import DatabaseResource, ShopResource, SourceResource
from y3d_pipeline.runlog.core import last_successful_sync

MAX_MD_ROWS = 50


def _markdown(rows: list[dict]) -> str:
    if not rows:
        return "no findings"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:MAX_MD_ROWS]:
        lines.append("| " + " | ".join(str(row[c]).replace("|", "/") if row[c] is not None else "" for c in columns)
                     + " |")
    if len(rows) > MAX_MD_ROWS:
        lines.append(f"\n… and {len(rows) - MAX_MD_ROWS} more")
    return "\n".join(lines)


def findings_result(rows: list[dict], *, what: str) -> dg.AssetCheckResult:
    """Passed when there are no rows; else WARN with the offending orders named."""
    refs = quality.order_refs(rows)
    capped = len(rows) >= quality.MAX_ROWS
    count = f"{len(rows)}+" if capped else str(len(rows))
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{count} {what}" if rows else f"no {what}",
        metadata={
            "count": len(rows),
            "count_capped": capped,
            "offending_orders": dg.MetadataValue.json(refs[: quality.MAX_ROWS]),
            "findings": dg.MetadataValue.md(_markdown(rows)),
        },
    )


def _run(database: DatabaseResource, fn: Callable[[sa.Connection], list[dict]]) -> list[dict]:
    with database.engine.connect() as conn:
        return fn(conn)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dg.asset_check(asset=PRINT_TASKS, name="awaiting_orders_have_tasks",
                description="Orders awaiting shipment or on hold for over 2 h with a personalised item that has no "
                            "print task.")
def awaiting_orders_have_tasks(database: DatabaseResource) -> dg.AssetCheckResult:
    rows = _run(database, lambda c: quality.awaiting_orders_without_tasks(c, now=_now()))
    return findings_result(rows, what="awaiting order(s) with personalised items but no print tasks")


@dg.asset_check(asset=PRINT_TASKS, name="no_open_tasks_on_closed_orders",
                description="Pending or in-progress print tasks on shipped or cancelled orders "
                            "(task_status_sync closes them).")
def no_open_tasks_on_closed_orders(database: DatabaseResource) -> dg.AssetCheckResult:
    rows = _run(database, quality.open_tasks_on_closed_orders)
    return findings_result(rows, what="shipped/cancelled order(s) with open print tasks")


@dg.asset_check(asset=PRINT_TASKS, name="task_quantities_match_items",
                description="Items whose non-cancelled print tasks' quantities do not add up to the ordered quantity.")
def task_quantities_match_items(database: DatabaseResource) -> dg.AssetCheckResult:
    rows = _run(database, quality.task_quantity_mismatches)
    return findings_result(rows, what="item(s) whose task quantities differ from the ordered quantity")


@dg.asset_check(asset=RAW_AMAZON_CUSTOMIZATIONS, name="customized_urls_parsed",
                description="Open items with an Amazon CustomizedURL but no processed customization after 2 h.")
def customized_urls_parsed(database: DatabaseResource) -> dg.AssetCheckResult:
    rows = _run(database, lambda c: quality.customized_url_without_customization(c, now=_now()))
    return findings_result(rows, what="item(s) with a CustomizedURL but no parsed customization")


@dg.asset_check(asset=NORMALIZED_RECONCILIATION, name="orders_reconciled",
                description="Orders reported by two sources whose reconciliation_status is not reconciled, and order "
                            "numbers stored as two separate orders.")
def orders_reconciled(database: DatabaseResource) -> dg.AssetCheckResult:
    rows = _run(database, quality.unreconciled_orders)
    return findings_result(rows, what="order(s) seen in two sources but not reconciled")


@dg.asset_check(asset=NORMALIZED_ORDERS, name="no_quarantined_records",
                description="Unresolved, unacknowledged normalization_failures (quarantined raw records).")
def no_quarantined_records(database: DatabaseResource) -> dg.AssetCheckResult:
    rows = _run(database, quality.quarantined_records)
    return findings_result(rows, what="quarantined raw record(s) awaiting a fix")


# ------------------------------------------------------------------------------------------ freshness

FRESHNESS_CHECK_NAME = "synced_in_last_30_minutes"
FRESHNESS_SOURCES = {
    "shipstation": (RAW_SHIPSTATION_ORDERS, "shipstation_configured"),
    "shopify": (RAW_SHOPIFY_ORDERS, "shopify_configured"),
    "amazon": (RAW_AMAZON_ORDERS, "amazon_configured"),
}


def _freshness_check(source: str, key: dg.AssetKey):
    # The name predates Y3D_MAX_SYNC_AGE_MINUTES (default 30); kept because operators and alerts know it.
    @dg.asset_check(asset=key, name=FRESHNESS_CHECK_NAME, required_resource_keys={source, "shop"},
                    description=f"{source}: a successful sync within Y3D_MAX_SYNC_AGE_MINUTES (default 30) of "
                                "business hours (Y3D_BUSINESS_HOURS; always, when unset); passes when "
                                f"{source} is not configured.")
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        resource: SourceResource = getattr(context.resources, source)
        shop: ShopResource = context.resources.shop
        if not resource.configured:
            return dg.AssetCheckResult(passed=True, description=resource.NOT_CONFIGURED_NOTE,
                                       metadata={"configured": False})
        last = last_successful_sync(context.instance, key)
        stale = quality.stale_sources({source: last}, now=_now(),
                                      max_age=dt.timedelta(minutes=shop.settings.max_sync_age_minutes),
                                      business_hours=shop.business_hours)
        return dg.AssetCheckResult(
            passed=not stale, severity=dg.AssetCheckSeverity.WARN,
            description=(f"{source}: last successful sync {last.isoformat() if last else 'never'}"),
            metadata={"configured": True, "last_success_at": last.isoformat() if last else "never",
                      "age_minutes": stale[0]["age_minutes"] if stale and stale[0]["age_minutes"] else 0.0,
                      "offending_orders": dg.MetadataValue.json([]), "stale_sources": dg.MetadataValue.json(
                          [s["source"] for s in stale])},
        )

    return _check


freshness_checks = [_freshness_check(source, key) for source, (key, _) in FRESHNESS_SOURCES.items()]

DATA_QUALITY_CHECKS = [awaiting_orders_have_tasks, no_open_tasks_on_closed_orders, task_quantities_match_items,
                       customized_urls_parsed, orders_reconciled, no_quarantined_records]
