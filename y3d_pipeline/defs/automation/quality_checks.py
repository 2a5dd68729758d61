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


def data_quality_check(asset: dg.AssetKey, name: str, description: str, what: str,
                       findings: Callable[[sa.Connection, dt.datetime], list[dict]]) -> dg.AssetChecksDefinition:
    """A WARN check on ``asset`` that fails with the rows ``findings(conn, now)`` returns, named as ``what``."""
    @dg.asset_check(asset=asset, name=name, description=description)
    def _check(database: DatabaseResource) -> dg.AssetCheckResult:
        with database.engine.connect() as conn:
            rows = findings(conn, dt.datetime.now(dt.UTC))
        return findings_result(rows, what=what)

    return _check


awaiting_orders_have_tasks = data_quality_check(
    PRINT_TASKS, "awaiting_orders_have_tasks",
    "Orders awaiting shipment or on hold for over 2 h with a personalised item that has no print task.",
    "awaiting order(s) with personalised items but no print tasks",
    lambda conn, now: quality.awaiting_orders_without_tasks(conn, now=now))
no_open_tasks_on_closed_orders = data_quality_check(
    PRINT_TASKS, "no_open_tasks_on_closed_orders",
    "Pending or in-progress print tasks on shipped or cancelled orders (task_status_sync closes them).",
    "shipped/cancelled order(s) with open print tasks", lambda conn, _: quality.open_tasks_on_closed_orders(conn))
task_quantities_match_items = data_quality_check(
    PRINT_TASKS, "task_quantities_match_items",
    "Items whose non-cancelled print tasks' quantities do not add up to the ordered quantity.",
    "item(s) whose task quantities differ from the ordered quantity",
    lambda conn, _: quality.task_quantity_mismatches(conn))
customized_urls_parsed = data_quality_check(
    RAW_AMAZON_CUSTOMIZATIONS, "customized_urls_parsed",
    "Open items with an Amazon CustomizedURL but no processed customization after 2 h.",
    "item(s) with a CustomizedURL but no parsed customization",
    lambda conn, now: quality.customized_url_without_customization(conn, now=now))
orders_reconciled = data_quality_check(
    NORMALIZED_RECONCILIATION, "orders_reconciled",
    "Orders reported by two sources whose reconciliation_status is not reconciled, and order numbers stored as "
    "two separate orders.",
    "order(s) seen in two sources but not reconciled", lambda conn, _: quality.unreconciled_orders(conn))
no_quarantined_records = data_quality_check(
    NORMALIZED_ORDERS, "no_quarantined_records",
    "Unresolved, unacknowledged normalization_failures (quarantined raw records).",
    "quarantined raw record(s) awaiting a fix", lambda conn, _: quality.quarantined_records(conn))


# ------------------------------------------------------------------------------------------ freshness

FRESHNESS_SOURCES = {
    "shipstation": (RAW_SHIPSTATION_ORDERS, "shipstation_configured"),
    "shopify": (RAW_SHOPIFY_ORDERS, "shopify_configured"),
    "amazon": (RAW_AMAZON_ORDERS, "amazon_configured"),
}


def _freshness_check(source: str, key: dg.AssetKey):
    @dg.asset_check(asset=key, name=quality.FRESHNESS_CHECK_NAME, required_resource_keys={source, "shop"},
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
        stale = quality.stale_sources({source: last}, now=dt.datetime.now(dt.UTC),
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
