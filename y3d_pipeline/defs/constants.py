"""Names shared by the asset graph: groups, pools, run tags. One place, so the UI reads consistently."""

import dagster as dg

# Asset groups, in pipeline order.
GROUP_SHIPSTATION = "shipstation"
GROUP_SHOPIFY = "shopify"
GROUP_AMAZON = "amazon"
GROUP_SHIPSTATION_CATALOGUE = "shipstation_catalogue"
GROUP_NORMALIZED = "normalized"
GROUP_PRINT_QUEUE = "print_queue"
GROUP_REPORTS = "reports"

# Concurrency pools (limits in dagster.yaml): one per external API so runs never exceed its rate limit.
POOL_SHIPSTATION = "shipstation"
POOL_SHOPIFY = "shopify"
POOL_AMAZON = "amazon"
POOL_OPENAI = "openai"
POOL_SHIPSTATION_V2 = "shipstation_v2"  # ShipStation's V2 API: its own key and rate limit (200 a minute)

# Step retries of the API-calling assets, on top of the clients' own request retries: a whole step is
# re-tried only when a source stayed down past the client's retry budget.
SOURCE_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL,
                                     jitter=dg.Jitter.PLUS_MINUS)

# Run tags (y3d/source, y3d/outcome, ...) are y3d_pipeline.runlog.tags'.

# Asset keys (the public contract).
RAW_SHIPSTATION_ORDERS = dg.AssetKey(["raw", "shipstation_orders"])
RAW_SHIPSTATION_SHIPMENTS = dg.AssetKey(["raw", "shipstation_shipments"])
RAW_SHIPSTATION_TAGS = dg.AssetKey(["raw", "shipstation_tags"])
RAW_SHIPSTATION_STORES = dg.AssetKey(["raw", "shipstation_stores"])
RAW_SHOPIFY_ORDERS = dg.AssetKey(["raw", "shopify_orders"])
RAW_SHOPIFY_PRODUCTS = dg.AssetKey(["raw", "shopify_products"])
# The ShipStation catalogue and stock (additions to the contract): phase 1 in order, then phase 2 in parallel.
RAW_SHIPSTATION_WAREHOUSES = dg.AssetKey(["raw", "shipstation_warehouses"])
RAW_SHIPSTATION_INVENTORY_WAREHOUSES = dg.AssetKey(["raw", "shipstation_inventory_warehouses"])
RAW_SHIPSTATION_INVENTORY_LOCATIONS = dg.AssetKey(["raw", "shipstation_inventory_locations"])
RAW_SHIPSTATION_PRODUCTS = dg.AssetKey(["raw", "shipstation_products"])
RAW_SHIPSTATION_INVENTORY = dg.AssetKey(["raw", "shipstation_inventory"])
RAW_AMAZON_ORDERS = dg.AssetKey(["raw", "amazon_orders"])
RAW_AMAZON_CUSTOMIZATIONS = dg.AssetKey(["raw", "amazon_customizations"])
NORMALIZED_CUSTOMERS = dg.AssetKey(["normalized", "customers"])
NORMALIZED_PRODUCTS = dg.AssetKey(["normalized", "products"])
NORMALIZED_ORDERS = dg.AssetKey(["normalized", "orders"])
NORMALIZED_ORDER_ITEMS = dg.AssetKey(["normalized", "order_items"])
NORMALIZED_RECONCILIATION = dg.AssetKey(["normalized", "reconciliation"])  # an addition to the contract
PRINT_TASKS = dg.AssetKey(["print_queue", "print_tasks"])
TASK_STATUS_SYNC = dg.AssetKey(["print_queue", "task_status_sync"])
SHIPSTATION_WRITEBACK = dg.AssetKey(["print_queue", "shipstation_writeback"])
AI_USAGE_REPORT = dg.AssetKey(["reports", "ai_usage"])
