"""Normalized orders, items, customers and products from the raw ShipStation orders of each shop day."""


import time
from collections.abc import Iterator

import dagster as dg

from y3d_pipeline import quality
from y3d_pipeline.db.quarantine import open_failures
from y3d_pipeline.defs.conditions import follows_upstream
from y3d_pipeline.defs.constants import (
    GROUP_NORMALIZED,
    NORMALIZED_CUSTOMERS,
    NORMALIZED_ORDER_ITEMS,
    NORMALIZED_ORDERS,
    NORMALIZED_PRODUCTS,
    RAW_AMAZON_ORDERS,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHIPSTATION_STORES,
    RAW_SHIPSTATION_TAGS,
    RAW_SHOPIFY_ORDERS,
)
from y3d_pipeline.defs.partitions import daily_partitions
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.normalized.reconcile.window import reconcile_window
from y3d_pipeline.normalized.shipstation import SOURCE
from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_window, partition_key_clamp
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.windows import DEFAULT_OVERLAP, SyncWindow

CHECK_NAME = "no_quarantined_orders"
RECONCILE_CHECK_NAME = "partition_orders_reconciled"  # "orders_reconciled" is the global quality check's name
DEPS = [RAW_SHIPSTATION_ORDERS, RAW_SHIPSTATION_STORES, RAW_SHIPSTATION_TAGS, RAW_SHOPIFY_ORDERS, RAW_AMAZON_ORDERS]
KINDS = {"postgres"}


# Today's partition follows a raw refresh; Shopify, Amazon and the reference data may never materialize
# (unconfigured sources), so only ShipStation orders are required.
AUTOMATION = follows_upstream(RAW_SHIPSTATION_STORES, RAW_SHIPSTATION_TAGS, RAW_SHOPIFY_ORDERS, RAW_AMAZON_ORDERS)


def _spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=DEPS, group_name=GROUP_NORMALIZED, kinds=KINDS, description=description,
                        automation_condition=AUTOMATION)


@dg.multi_asset(
    name="normalize_orders",
    specs=[
        _spec(NORMALIZED_CUSTOMERS, """Buyers (customers), one per natural key: ShipStation customer id,
        else lower-cased e-mail, else name + postcode. Contact details follow the newest order."""),
        _spec(NORMALIZED_PRODUCTS, """Products matched by trimmed SKU, then ShipStation product id. A
        placeholder name only when the source has none, never written over a curated name."""),
        _spec(NORMALIZED_ORDERS, """One row per real order: ShipStation orders (orderId; split orders share
        orderKey and keep their parent/merged ids) reconciled with the same order from Shopify or Amazon
        (marketplace + order number), which adds buyer-entered options and prices; marketplace-only orders
        get their own row until ShipStation has them. Times in UTC, marketplace from the store. Invalid
        records are quarantined in normalization_failures instead of stopping the day."""),
        _spec(NORMALIZED_ORDER_ITEMS, """Order lines by ShipStation orderItemId with their personalisation
        options verbatim; adjustment/discount lines are skipped."""),
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
    check_specs=[dg.AssetCheckSpec(
        CHECK_NAME, asset=NORMALIZED_ORDERS,
        description="No ShipStation order of the day sits in quarantine (normalization_failures) unresolved "
                    "and unacknowledged. Fix the source or set acknowledged_at to clear it.",
    ), dg.AssetCheckSpec(
        RECONCILE_CHECK_NAME, asset=NORMALIZED_ORDERS,
        description="Every Shopify/Amazon order of the day agrees with ShipStation (reconciliation_status "
                    "matched or marketplace_only, or a split order whose every line was paired with certainty); "
                    "unmatched and ambiguous orders are named.",
    )],
)
def normalize_orders(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Raw orders modified in the partition window (+ the sync overlap) → normalized tables: ShipStation
    first, then Shopify/Amazon reconciled into the same rows."""
    started = time.monotonic()
    window = context.partition_time_window
    tz = load_settings().timezone
    partition_keys = list(context.partition_keys)
    start = window.start - DEFAULT_OVERLAP
    report = normalize_shipstation_window(
        database.engine, start, window.end, partition_key_for=partition_key_clamp(tz, partition_keys),
        progress=ProgressLog("normalizing ShipStation orders", unit="rows", log=context.log.info))
    # after ShipStation, same window: merge Shopify/Amazon orders in (y3d_pipeline.normalized.reconcile)
    reconciled = reconcile_window(database.engine, start, window.end,
                                  partition_key_for=partition_key_clamp(tz, partition_keys))
    duration = round(time.monotonic() - started, 2)
    common = {
        **SyncWindow(start, window.end).describe(tz),
        "raw_records": report.raw_records,
        "quarantined": report.quarantined,
        "duration_seconds": duration,
    }
    yield dg.MaterializeResult(asset_key=NORMALIZED_CUSTOMERS, metadata={
        **common, "customers_written": report.customers_written})
    yield dg.MaterializeResult(asset_key=NORMALIZED_PRODUCTS, metadata={
        **common, "products_written": report.products_written})
    yield dg.MaterializeResult(asset_key=NORMALIZED_ORDERS, metadata={
        **common, **report.as_metadata(), **reconciled.as_metadata(),
        "dagster/row_count": report.orders_written + report.orders_unchanged,
        "orders_per_second": round(report.raw_records / duration, 1) if duration else None})
    yield dg.MaterializeResult(asset_key=NORMALIZED_ORDER_ITEMS, metadata={
        **common, "order_items_written": report.items_written, "order_items_removed": report.items_removed})

    with database.engine.connect() as conn:
        failures = open_failures(conn, partition_keys, source=SOURCE)
    yield dg.AssetCheckResult(
        asset_key=NORMALIZED_ORDERS,
        check_name=CHECK_NAME,
        passed=not failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "open_failures": len(failures),
            "source_ids": ", ".join(f["source_id"] for f in failures[:50]) or "none",
            "reasons": "\n".join(f"{f['source_id']} ({f['partition_key']}): {f['reason']}"
                                 for f in failures[:20]) or "none",
        },
    )
    with database.engine.connect() as conn:
        clean_splits = quality.clean_split_orders(conn, [f.order_id for f in reconciled.findings])
    splits = [f for f in reconciled.findings if f.order_id in clean_splits]
    problems = [f for f in reconciled.findings if f.order_id not in clean_splits]
    yield dg.AssetCheckResult(
        asset_key=NORMALIZED_ORDERS, check_name=RECONCILE_CHECK_NAME, passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(problems)} order(s) the sources disagree on" if problems else "sources agree")
        + (f"; {len(splits)} split order(s) reconciled correctly" if splits else ""),
        metadata={"unmatched": sum(f.status == "unmatched" for f in problems),
                  "ambiguous": sum(f.status == "ambiguous" for f in problems),
                  "splits_reconciled": len(splits),
                  "offending_orders": dg.MetadataValue.json([f.order_number for f in problems[:500]]),
                  "order_numbers": ", ".join(f.order_number for f in problems[:50]) or "none",
                  "split_order_numbers": ", ".join(f.order_number for f in splits[:50]) or "none",
                  "details": "\n".join(f.describe() for f in problems[:20]) or "none"},
    )
