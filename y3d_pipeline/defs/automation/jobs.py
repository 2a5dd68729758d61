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
    RAW_SHIPSTATION_INVENTORY,
    RAW_SHIPSTATION_INVENTORY_LOCATIONS,
    RAW_SHIPSTATION_INVENTORY_WAREHOUSES,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHIPSTATION_PRODUCTS,
    RAW_SHIPSTATION_SHIPMENTS,
    RAW_SHIPSTATION_STORES,
    RAW_SHIPSTATION_TAGS,
    RAW_SHIPSTATION_WAREHOUSES,
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


def asset_job(name: str, selection: dg.AssetSelection, source: str, description: str, *,
              daily: bool = False, executor_def: dg.ExecutorDefinition = dg.in_process_executor):
    """A job of this code location: in-process unless said otherwise (one process per run, steps in sequence),
    tagged with the ``y3d/source`` whose queue it waits in (dagster.yaml admits one run per value at a time)."""
    return dg.define_asset_job(name, selection=selection, partitions_def=daily_partitions if daily else None,
                               executor_def=executor_def, tags={TAG_SOURCE: source},
                               description=description)


SYNC_JOBS = {source: asset_job(f"{source}_sync", source_selection(source), source, daily=True,
                               description=f"{source}: raw records for the partition's day, then the normalized "
                                           "tables and print tasks they feed.")
             for source in SOURCE_RAW_ASSETS}
shipstation_sync, shopify_sync, amazon_sync = SYNC_JOBS["shipstation"], SYNC_JOBS["shopify"], SYNC_JOBS["amazon"]

# The legacy */15 chain (amazon-customization-sync && update-order-items-from-amazon --create-print-tasks
# --update-shipstation && update-print-tasks-from-order-items): Custom files → print tasks → ShipStation. The
# asset dependencies order the steps; a failed step skips everything downstream of it. The customizations
# attach to order items as they are parsed, which is the legacy middle step.
AMAZON_CHAIN_ASSETS = (RAW_AMAZON_CUSTOMIZATIONS, PRINT_TASKS, SHIPSTATION_WRITEBACK)
amazon_chain = asset_job(
    "amazon_chain", dg.AssetSelection.assets(*AMAZON_CHAIN_ASSETS)
    - dg.AssetSelection.checks(*DATA_QUALITY_CHECKS, *freshness_checks), "amazon", daily=True,
    description="Amazon Custom files of the partition's day → print tasks → ShipStation write-back (the write-back "
                "step only when Y3D_WRITEBACK_ENABLED=true); a failed step stops the ones after it.")

shipstation_reference_sync = asset_job(
    "shipstation_reference_sync", dg.AssetSelection.assets(RAW_SHIPSTATION_TAGS, RAW_SHIPSTATION_STORES),
    "shipstation", "ShipStation tags and stores (daily).")
shopify_products_sync = asset_job("shopify_products_sync", dg.AssetSelection.assets(RAW_SHOPIFY_PRODUCTS), "shopify",
                                  "Shopify products and variants (every 4 hours).")
task_status_sync_job = asset_job(
    "task_status_sync_job", dg.AssetSelection.assets(TASK_STATUS_SYNC), "print_queue",
    "Close print tasks of shipped/cancelled orders (nightly backup of the automation condition).")
data_quality_checks = asset_job(
    "data_quality_checks", dg.AssetSelection.checks(*DATA_QUALITY_CHECKS), "quality",
    "The data-quality checks (the legacy find-inconsistencies run), without materializing anything.")
freshness_checks_job = asset_job("freshness_checks", dg.AssetSelection.checks(*freshness_checks), "quality",
                                 "Is every configured source synced within the last 30 minutes?")
ai_usage_report_job = asset_job("ai_usage_report", dg.AssetSelection.assets(AI_USAGE_REPORT), "reports",
                                "Yesterday's AI usage report.")

# The ShipStation catalogue and stock (the legacy background sync): phase 1 in order, phase 2 (products, inventory)
# at once. Independent steps run in processes of their own (the multiprocess executor: the in-process one runs
# steps one at a time), at most two at a time, each also waiting for its pool (shipstation for v1, shipstation_v2
# for V2: the two APIs have separate keys and rate limits, so the branches do not wait for each other). A failed
# branch fails the run but not the other branch, which writes its data.
CATALOGUE_ASSETS = (RAW_SHIPSTATION_WAREHOUSES, RAW_SHIPSTATION_INVENTORY_WAREHOUSES, RAW_SHIPSTATION_INVENTORY_LOCATIONS,
                    RAW_SHIPSTATION_PRODUCTS, RAW_SHIPSTATION_INVENTORY)
CATALOGUE_EXECUTOR = dg.multiprocess_executor.configured({"max_concurrent": 2}, name="catalogue_multiprocess")
shipstation_catalogue = asset_job(
    "shipstation_catalogue", dg.AssetSelection.assets(*CATALOGUE_ASSETS), "shipstation_catalogue",
    "ShipStation catalogue and stock: warehouses → inventory warehouses → inventory locations, then products and "
    "inventory levels in parallel (one process each); a failed branch does not stop the other.",
    executor_def=CATALOGUE_EXECUTOR)
