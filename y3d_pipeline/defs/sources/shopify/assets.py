"""Shopify ingestion: ``raw/shopify_orders`` (daily, by ``updatedAt``) and ``raw/shopify_products``."""

import datetime as dt
import time

import dagster as dg

from y3d_pipeline.defs.constants import GROUP_SHOPIFY, RAW_SHOPIFY_ORDERS, RAW_SHOPIFY_PRODUCTS
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE, partition_label
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.defs.sources.raw_assets import (
    not_configured,
    partition_sync_window,
    raw_asset,
    warn_quarantined,
)
from y3d_pipeline.defs.sources.shopify.resources import ShopifyResource
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.sources.shopify import store
from y3d_pipeline.sources.shopify.records import ShopifyOrder

CHECK_LINE_ITEMS = "line_items_present"
PRODUCTS_CURSOR_KEY = "cursor_next_updated_at"


def _scope_note(window_start: dt.datetime, now: dt.datetime) -> dict[str, str]:
    """Shopify shows orders older than 60 days only to apps with the read_all_orders scope."""
    if now - window_start > dt.timedelta(days=60):
        return {"scope_note": "window older than 60 days: the app needs Shopify's read_all_orders scope "
                              "(with read_orders alone such orders are silently missing)"}
    return {}


def _orders_without_items(orders: list[ShopifyOrder]) -> list[str]:
    return [o.name for o in orders if not o.line_items]


@raw_asset(
    RAW_SHOPIFY_ORDERS, source=GROUP_SHOPIFY,
    check_specs=[dg.AssetCheckSpec(CHECK_LINE_ITEMS, asset=RAW_SHOPIFY_ORDERS,
                                   description="Every Shopify order fetched for the window has line items.")],
    description="""Shopify orders changed in the partition's days (Admin GraphQL, by `updatedAt`, one hour of
overlap), with every line item and its buyer-entered properties (`customAttributes`), upserted into
`raw_shopify_orders` by order id; a stored newer version is never replaced by an older one. Shopify is
where a web order's personalisation is exact (ShipStation may drop or garble it).""",
)
def raw_shopify_orders(context: dg.AssetExecutionContext, shopify: ShopifyResource,
                       database: DatabaseResource) -> dg.MaterializeResult:
    if not shopify.configured:
        return not_configured(context, shopify, check_names=[CHECK_LINE_ITEMS])
    started = time.monotonic()
    now, window = partition_sync_window(context, overlap_minutes=shopify.overlap_minutes)
    orders: list[ShopifyOrder] = []
    with shopify.client() as client:
        if not window.is_empty:
            orders = client.fetch_orders(window.start, window.end,
                                         progress=ProgressLog("Shopify orders", unit="orders", log=context.log.info))
        stats = client.stats
    with database.engine.begin() as conn:
        counts = store.store_orders(conn, orders, client.invalid, fetched_at=now,
                                    partition_key=partition_label(context))
    warn_quarantined(context, "Shopify orders", counts.quarantined_ids)
    line_items = sum(len(o.line_items) for o in orders)
    without_items = _orders_without_items(orders)
    context.log.info("Shopify %s: %d orders, %d line items, %d pages, %.0f query points, %d throttle waits",
                     context.partition_key_range, len(orders), line_items, stats.pages, stats.actual_cost,
                     stats.throttle_waits + stats.throttled)
    return dg.MaterializeResult(
        metadata={
            "configured": True,
            "dagster/row_count": len(orders),
            "orders": len(orders),
            "line_items": line_items,
            "line_items_with_properties": sum(1 for o in orders for i in o.line_items if i.custom_attributes),
            "cancelled_orders": sum(1 for o in orders if o.cancelled_at is not None),
            **counts.as_metadata(),
            **stats.as_metadata(),
            "orders_page_size": client.orders_page_size,
            "extended_order_fields": client.extended_order_fields,
            **({"extended_fields_note": client.extended_fields_note} if client.extended_fields_note else {}),
            "api_version": shopify.api_version,
            "api_version_served": client.served_api_version or "-",
            **window.describe(SHOP_TIMEZONE),
            **_scope_note(window.start, now),
            "duration_seconds": round(time.monotonic() - started, 2),
        },
        check_results=[dg.AssetCheckResult(
            check_name=CHECK_LINE_ITEMS, passed=not without_items, severity=dg.AssetCheckSeverity.WARN,
            metadata={"orders_without_line_items": len(without_items),
                      "examples": ", ".join(without_items[:10]) or "-"})],
    )


class ShopifyProductsConfig(dg.Config):
    full_refresh: bool = False  # ignore the cursor and fetch every product


def _previous_cursor(context: dg.AssetExecutionContext) -> dt.datetime | None:
    event = context.instance.get_latest_materialization_event(RAW_SHOPIFY_PRODUCTS)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get(PRODUCTS_CURSOR_KEY) if materialization else None
    text = getattr(value, "value", value)
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None


@raw_asset(
    RAW_SHOPIFY_PRODUCTS, source=GROUP_SHOPIFY, daily=False,
    description="""Shopify's product catalogue, written to the curated `products` (one row per Shopify product)
and `product_variants` (SKU, title, price per variant), the table normalized/products also writes. Incremental by `updatedAt`: each run asks only for
products changed since the newest one the previous run saw (the first run, or a database without Shopify
products, fetches everything). Curated product names are never overwritten; single-variant products are
linked to an existing row with the same SKU (see `y3d_pipeline/sources/shopify/store.py`).""",
)
def raw_shopify_products(context: dg.AssetExecutionContext, config: ShopifyProductsConfig,
                         shopify: ShopifyResource, database: DatabaseResource) -> dg.MaterializeResult:
    if not shopify.configured:
        return not_configured(context, shopify)
    started = time.monotonic()
    with database.engine.connect() as conn:
        have_products = store.stored_shopify_products(conn) > 0
    previous = _previous_cursor(context)
    cursor = previous if (have_products and not config.full_refresh) else None
    with shopify.client() as client:
        fetched = client.fetch_products(cursor)
        stats = client.stats
    with database.engine.begin() as conn:
        counts = store.upsert_catalog(conn, fetched)
    newest = max((p.updated_at for p in fetched), default=None)
    next_cursor = max(filter(None, (newest, cursor)), default=None)
    context.log.info("Shopify products since %s: %d fetched; %s", cursor, len(fetched), counts.as_metadata())
    return dg.MaterializeResult(metadata={
        "configured": True,
        "dagster/row_count": len(fetched),
        "mode": "incremental" if cursor else "full",
        "cursor_updated_at": cursor.isoformat() if cursor else "none (full fetch)",
        PRODUCTS_CURSOR_KEY: next_cursor.isoformat() if next_cursor else "",
        "products_fetched": len(fetched),
        "variants_fetched": sum(len(p.variants) for p in fetched),
        **counts.as_metadata(),
        **stats.as_metadata(),
        "api_version": shopify.api_version,
        "api_version_served": client.served_api_version or "-",
        "duration_seconds": round(time.monotonic() - started, 2),
    })
