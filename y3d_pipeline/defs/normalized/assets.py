"""The normalized stage: ``normalize_orders`` (ShipStation's raw orders of each shop day → customers, products,
orders, order items) and ``normalized/reconciliation`` (the same days' Shopify and Amazon orders merged into
those rows). Thin wrappers over ``y3d_pipeline.normalized``."""

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
    NORMALIZED_RECONCILIATION,
    RAW_AMAZON_ORDERS,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHIPSTATION_SHIPMENTS,
    RAW_SHIPSTATION_STORES,
    RAW_SHIPSTATION_TAGS,
    RAW_SHOPIFY_ORDERS,
    RAW_SHOPIFY_PRODUCTS,
)
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE, daily_partitions
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.normalized.reconcile.report import AMBIGUOUS, UNMATCHED
from y3d_pipeline.normalized.reconcile.window import reconcile_window
from y3d_pipeline.normalized.shipstation import SOURCE
from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_window, partition_key_clamp
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.sources.windows import DEFAULT_OVERLAP, SyncWindow

CHECK_NAME = "no_quarantined_orders"
RECONCILE_CHECK_NAME = "partition_orders_reconciled"  # "orders_reconciled" is the global quality check's name
KINDS = {"postgres"}

# Today's partition follows a raw refresh of ShipStation's orders; the reference data and the shipments may never
# materialize (an unconfigured source, a day without labels), so only the orders are required. Shipments fill
# orders themselves and Shopify's catalogue fills products itself: their updates need no normalization run.
AUTOMATION = follows_upstream(RAW_SHIPSTATION_SHIPMENTS, RAW_SHIPSTATION_STORES, RAW_SHIPSTATION_TAGS,
                              RAW_SHOPIFY_PRODUCTS, not_triggering=[RAW_SHIPSTATION_SHIPMENTS, RAW_SHOPIFY_PRODUCTS])


# What the one step reads: ShipStation's orders, the stores (marketplace), tags (names) and shipments (shipping
# state) it joins them with; and Shopify's catalogue, which writes the same products table. The four tables are
# written by one step, so each carries the same dependencies (Dagster needs one targeted subset for a
# non-subsettable multi-asset, which per-table dependencies would break in a backfill).
DEPS = [RAW_SHIPSTATION_ORDERS, RAW_SHIPSTATION_SHIPMENTS, RAW_SHIPSTATION_STORES, RAW_SHIPSTATION_TAGS,
        RAW_SHOPIFY_PRODUCTS]


def _spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=DEPS, group_name=GROUP_NORMALIZED, kinds=KINDS, description=description,
                        automation_condition=AUTOMATION)


def _window(context: dg.AssetExecutionContext) -> SyncWindow:
    """The partitions' days plus the sync overlap before them: the raw rows a run reads."""
    window = context.partition_time_window
    return SyncWindow(window.start - DEFAULT_OVERLAP, window.end)


@dg.multi_asset(
    name="normalize_orders",
    specs=[
        _spec(NORMALIZED_CUSTOMERS, """Buyers (customers), one per natural key: ShipStation customer id,
        else lower-cased e-mail, else name + postcode. Contact details follow the newest order."""),
        _spec(NORMALIZED_PRODUCTS, """Products matched by trimmed SKU, then ShipStation product id. A
        placeholder name only when the source has none, never written over a curated name. Shopify's catalogue
        (raw/shopify_products) writes the same table."""),
        _spec(NORMALIZED_ORDERS, """One row per ShipStation order (orderId; split orders share orderKey and keep
        their parent/merged ids), times in UTC, marketplace from the store (raw/shipstation_stores), tags
        (raw/shipstation_tags), shipping state from the shipments (raw/shipstation_shipments). The same order
        from Shopify or Amazon is merged in by normalized/reconciliation. Invalid records are quarantined in
        normalization_failures instead of stopping the day."""),
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
    )],
)
def normalize_orders(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Raw ShipStation orders modified in the partition window (+ the sync overlap) → normalized tables."""
    started = time.monotonic()
    window = _window(context)
    partition_keys = list(context.partition_keys)
    report = normalize_shipstation_window(
        database.engine, window.start, window.end, partition_key_for=partition_key_clamp(SHOP_TIMEZONE, partition_keys),
        progress=ProgressLog("normalizing ShipStation orders", unit="rows", log=context.log.info))
    duration = round(time.monotonic() - started, 2)
    common = {
        **window.describe(SHOP_TIMEZONE),
        "raw_records": report.raw_records,
        "quarantined": report.quarantined,
        "duration_seconds": duration,
    }
    yield dg.MaterializeResult(asset_key=NORMALIZED_CUSTOMERS, metadata={
        **common, "customers_written": report.customers_written})
    yield dg.MaterializeResult(asset_key=NORMALIZED_PRODUCTS, metadata={
        **common, "products_written": report.products_written})
    yield dg.MaterializeResult(asset_key=NORMALIZED_ORDERS, metadata={
        **common, **report.as_metadata(),
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


@dg.asset(
    key=NORMALIZED_RECONCILIATION,
    deps=[NORMALIZED_ORDERS, NORMALIZED_ORDER_ITEMS, RAW_SHOPIFY_ORDERS, RAW_AMAZON_ORDERS],
    group_name=GROUP_NORMALIZED,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds=KINDS,
    # Shopify and Amazon may be unconfigured (never materialized): only the normalized orders are required.
    automation_condition=follows_upstream(RAW_SHOPIFY_ORDERS, RAW_AMAZON_ORDERS),
    check_specs=[dg.AssetCheckSpec(
        RECONCILE_CHECK_NAME, asset=NORMALIZED_RECONCILIATION,
        description="Every Shopify/Amazon order of the day agrees with ShipStation (reconciliation_status "
                    "matched or marketplace_only, or a split order whose every line was paired with certainty); "
                    "unmatched and ambiguous orders are named.",
    )],
    description="""The day's Shopify and Amazon orders merged into the normalized orders and items (an addition
    to the contract's keys; it writes orders, order_items, and moves print tasks, Amazon Custom files and AI calls
    when a marketplace-only order meets its ShipStation twin). Orders match on marketplace + order number (Shopify
    #1001 ↔ 1001, Amazon order id ↔ ShipStation order number), lines on lineItemKey, else SKU + position. The
    marketplace adds the buyer-entered personalisation (Shopify customAttributes, Amazon CustomizedURL) and
    prices; ShipStation keeps fulfilment, shipping, tags, customer and notes. An order only a marketplace has
    (an Amazon Pending order) gets its own row until ShipStation has it. orders.reconciliation_status says
    matched, marketplace_only, unmatched or ambiguous.""",
)
def reconciliation(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    started = time.monotonic()
    window = _window(context)
    report = reconcile_window(database.engine, window.start, window.end,
                              partition_key_for=partition_key_clamp(SHOP_TIMEZONE, list(context.partition_keys)))
    with database.engine.connect() as conn:
        clean_splits = quality.clean_split_orders(conn, [f.order_id for f in report.findings])
    splits = [f for f in report.findings if f.order_id in clean_splits]
    problems = [f for f in report.findings if f.order_id not in clean_splits]
    return dg.MaterializeResult(
        metadata={**window.describe(SHOP_TIMEZONE), "dagster/row_count": report.raw_records,
                  **report.as_metadata(), "duration_seconds": round(time.monotonic() - started, 2)},
        check_results=[dg.AssetCheckResult(
            check_name=RECONCILE_CHECK_NAME, passed=not problems, severity=dg.AssetCheckSeverity.WARN,
            description=(f"{len(problems)} order(s) the sources disagree on" if problems else "sources agree")
            + (f"; {len(splits)} split order(s) reconciled correctly" if splits else ""),
            metadata={"unmatched": sum(f.status == UNMATCHED for f in problems),
                      "ambiguous": sum(f.status == AMBIGUOUS for f in problems),
                      "splits_reconciled": len(splits),
                      "offending_orders": dg.MetadataValue.json([f.order_number for f in problems[:500]]),
                      "order_numbers": ", ".join(f.order_number for f in problems[:50]) or "none",
                      "split_order_numbers": ", ".join(f.order_number for f in splits[:50]) or "none",
                      "details": "\n".join(f.describe() for f in problems[:20]) or "none"})],
    )
