"""Jobs the schedules and sensors launch: one per source (raw assets + the daily assets they feed + the task
status sync), the Amazon chain, plus the non-partitioned syncs, checks and reports. All in-process (one
process per run, steps in sequence, a failed step skipping the steps downstream of it) and tagged with
``y3d/source`` so dagster.yaml admits one run per source at a time."""

import dagster as dg

from y3d_pipeline.defs.automation.quality_checks import DATA_QUALITY_CHECKS, freshness_checks
from y3d_pipeline.defs.constants import (
    AI_USAGE_REPORT,
    NORMALIZED_CUSTOMERS,
    NORMALIZED_ORDER_ITEMS,
    NORMALIZED_ORDERS,
    NORMALIZED_PRODUCTS,
    NORMALIZED_RECONCILIATION,
    PRINT_TASKS,
    RAW_AMAZON_CUSTOMIZATIONS,
    RAW_AMAZON_ORDERS,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHIPSTATION_SHIPMENTS,
    RAW_SHIPSTATION_STORES,
    RAW_SHIPSTATION_TAGS,
    RAW_SHOPIFY_ORDERS,
    RAW_SHOPIFY_PRODUCTS,
    SHIPSTATION_WRITEBACK,
    TASK_STATUS_SYNC,
)
from y3d_pipeline.defs.partitions import daily_partitions
from y3d_pipeline.runlog.tags import TAG_SOURCE

# The daily assets a source's raw assets feed (each job takes those actually downstream of its raw assets).
DAILY_DOWNSTREAM = (NORMALIZED_CUSTOMERS, NORMALIZED_PRODUCTS, NORMALIZED_ORDERS, NORMALIZED_ORDER_ITEMS,
                    NORMALIZED_RECONCILIATION, RAW_AMAZON_CUSTOMIZATIONS, PRINT_TASKS)
SOURCE_RAW_ASSETS = {
    "shipstation": (RAW_SHIPSTATION_ORDERS, RAW_SHIPSTATION_SHIPMENTS),
    "shopify": (RAW_SHOPIFY_ORDERS,),
    "amazon": (RAW_AMAZON_ORDERS, RAW_AMAZON_CUSTOMIZATIONS),
}


def source_selection(source: str) -> dg.AssetSelection:
    """The source's raw assets, the daily assets downstream of them and the task status sync (closing the tasks
    of orders this sync saw ship, in the same run instead of a run of its own after every sync), without the
    data-quality and freshness checks (those run on their own schedules, not every 10 minutes)."""
    raw = dg.AssetSelection.assets(*SOURCE_RAW_ASSETS[source])
    selected = raw | (raw.downstream() & dg.AssetSelection.assets(*DAILY_DOWNSTREAM, TASK_STATUS_SYNC))
    return selected - dg.AssetSelection.checks(*DATA_QUALITY_CHECKS, *freshness_checks)


def _sync_job(source: str):
    return dg.define_asset_job(
        name=f"{source}_sync",
        selection=source_selection(source),
        partitions_def=daily_partitions,
        executor_def=dg.in_process_executor,
        tags={TAG_SOURCE: source},
        description=f"{source}: raw records for the partition's day, then the normalized tables and print tasks "
                    "they feed.",
    )


shipstation_sync = _sync_job("shipstation")
shopify_sync = _sync_job("shopify")
amazon_sync = _sync_job("amazon")
SYNC_JOBS = {"shipstation": shipstation_sync, "shopify": shopify_sync, "amazon": amazon_sync}

# The legacy */15 chain (amazon-customization-sync && update-order-items-from-amazon --create-print-tasks
# --update-shipstation && update-print-tasks-from-order-items): Custom files → print tasks → ShipStation. The
# asset dependencies order the steps; a failed step skips everything downstream of it. The customizations
# attach to order items as they are parsed, which is the legacy middle step.
AMAZON_CHAIN_ASSETS = (RAW_AMAZON_CUSTOMIZATIONS, PRINT_TASKS, SHIPSTATION_WRITEBACK)
amazon_chain = dg.define_asset_job(
    "amazon_chain", selection=dg.AssetSelection.assets(*AMAZON_CHAIN_ASSETS)
    - dg.AssetSelection.checks(*DATA_QUALITY_CHECKS, *freshness_checks),
    partitions_def=daily_partitions, executor_def=dg.in_process_executor, tags={TAG_SOURCE: "amazon"},
    description="Amazon Custom files of the partition's day → print tasks → ShipStation write-back (the write-back "
                "step only when Y3D_WRITEBACK_ENABLED=true); a failed step stops the ones after it.")

shipstation_reference_sync = dg.define_asset_job(
    "shipstation_reference_sync", selection=dg.AssetSelection.assets(RAW_SHIPSTATION_TAGS, RAW_SHIPSTATION_STORES),
    executor_def=dg.in_process_executor, tags={TAG_SOURCE: "shipstation"},
    description="ShipStation tags and stores (daily).")
shopify_products_sync = dg.define_asset_job(
    "shopify_products_sync", selection=dg.AssetSelection.assets(RAW_SHOPIFY_PRODUCTS),
    executor_def=dg.in_process_executor, tags={TAG_SOURCE: "shopify"},
    description="Shopify products and variants (every 4 hours).")
task_status_sync_job = dg.define_asset_job(
    "task_status_sync_job", selection=dg.AssetSelection.assets(TASK_STATUS_SYNC),
    executor_def=dg.in_process_executor, tags={TAG_SOURCE: "print_queue"},
    description="Close print tasks of shipped/cancelled orders (nightly backup of the automation condition).")
data_quality_checks = dg.define_asset_job(
    "data_quality_checks", selection=dg.AssetSelection.checks(*DATA_QUALITY_CHECKS),
    executor_def=dg.in_process_executor, tags={TAG_SOURCE: "quality"},
    description="The data-quality checks (the legacy find-inconsistencies run), without materializing anything.")
freshness_checks_job = dg.define_asset_job(
    "freshness_checks", selection=dg.AssetSelection.checks(*freshness_checks),
    executor_def=dg.in_process_executor, tags={TAG_SOURCE: "quality"},
    description="Is every configured source synced within the last 30 minutes?")
ai_usage_report_job = dg.define_asset_job(
    "ai_usage_report", selection=dg.AssetSelection.assets(AI_USAGE_REPORT),
    executor_def=dg.in_process_executor, tags={TAG_SOURCE: "reports"},
    description="Yesterday's AI usage report.")
