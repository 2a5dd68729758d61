"""Amazon ingestion: ``raw/amazon_orders`` (SP-API Orders v2026-01-01 searchOrders, or v0 getOrders +
getOrderItems) and
``raw/amazon_customizations`` (Amazon Custom zips, safely downloaded and parsed)."""

import datetime as dt
import logging
import time

import dagster as dg

from y3d_pipeline.defs.constants import (
    GROUP_AMAZON,
    NORMALIZED_ORDER_ITEMS,
    RAW_AMAZON_CUSTOMIZATIONS,
    RAW_AMAZON_ORDERS,
    RAW_SHIPSTATION_ORDERS,
)
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE, partition_label
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.defs.sources.amazon.resources import AmazonResource
from y3d_pipeline.defs.sources.raw_assets import (
    not_configured,
    partition_sync_window,
    raw_asset,
    warn_quarantined,
)
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.sources.amazon import store
from y3d_pipeline.sources.amazon.custom import store as custom_store
from y3d_pipeline.sources.amazon.custom.candidates import collect_candidates, sp_api_candidates
from y3d_pipeline.sources.amazon.custom.fetch import fetcher
from y3d_pipeline.sources.raw_store import UpsertCounts

log = logging.getLogger(__name__)
CHECK_CUSTOMIZATIONS = "customizations_processed"


@raw_asset(
    RAW_AMAZON_ORDERS, source=GROUP_AMAZON,
    description="""Amazon orders changed in the partition's days, one hour of overlap, the end held at least
two minutes before now as Amazon requires. Orders API v2026-01-01 (`AMAZON_ORDERS_API_VERSION`, the default):
`searchOrders` by `lastUpdatedAfter/Before` with `includedData=BUYER,FULFILLMENT,PROCEEDS`, items (with the
Amazon Custom `product.customization.customizedUrl`) included. v0 (until Amazon removes it on 2027-03-27):
`getOrders` plus `getOrderItems` per order under `payload["OrderItems"]`. Stored verbatim in
`raw_amazon_orders`, one row per Amazon order id whichever version fetched it (`api_version` says which); a
stored newer version is never replaced by an older one. Amazon's own record holds buyer-entered
personalization and prices that ShipStation may drop.""",
)
def raw_amazon_orders(context: dg.AssetExecutionContext, amazon: AmazonResource,
                      database: DatabaseResource) -> dg.MaterializeResult:
    if not amazon.configured:
        return not_configured(context, amazon)
    started = time.monotonic()
    now, window = partition_sync_window(context, overlap_minutes=amazon.overlap_minutes,
                                        settle_seconds=max(120, amazon.settle_seconds))
    with amazon.client() as client:
        progress = ProgressLog("Amazon orders", unit="orders", log=context.log.info)
        page = client.fetch_orders(window.start, window.end, progress) if not window.is_empty else None
        stats = client.stats
    orders = page.orders if page else []
    label = partition_label(context)
    with database.engine.begin() as conn:
        counts = store.store_orders(conn, page, fetched_at=now, partition_key=label) if page else UpsertCounts()
    warn_quarantined(context, "Amazon orders", counts.quarantined_ids)
    items = sum(len(o.order_items) for o in orders)
    with_url = sum(1 for o in orders for c in sp_api_candidates(o.payload))
    context.log.info(f"Amazon {label}: {len(orders)} orders, {items} items ({with_url} with CustomizedURL), "
                     f"{stats.requests} requests, {stats.rate_limited} 429s, {stats.token_refreshes} token fetches")
    effective_end = page.effective_end if page and page.effective_end else window.end
    return dg.MaterializeResult(metadata={
        "configured": True,
        "orders_api_version": amazon.orders_api_version,
        "dagster/row_count": len(orders),
        "orders": len(orders),
        "order_items": items,
        "items_with_customized_url": with_url,
        "orders_without_items": sum(1 for o in orders if not o.order_items),
        **counts.as_metadata(),
        **stats.as_metadata(),
        "requests_429": stats.rate_limited,
        **window.describe(SHOP_TIMEZONE),
        "window_end_effective_utc": effective_end.astimezone(dt.UTC).isoformat(),
        "window_end_clamped": bool(page and page.clamped),
        "marketplace_ids": ",".join(amazon.marketplace_ids),
        "duration_seconds": round(time.monotonic() - started, 2),
    })


@raw_asset(
    RAW_AMAZON_CUSTOMIZATIONS, source=GROUP_AMAZON,
    deps=[RAW_AMAZON_ORDERS, RAW_SHIPSTATION_ORDERS, NORMALIZED_ORDER_ITEMS],
    check_specs=[dg.AssetCheckSpec(
        CHECK_CUSTOMIZATIONS, asset=RAW_AMAZON_CUSTOMIZATIONS,
        description="Every Amazon Custom file of the window was downloaded and parsed (failed or rejected "
                    "ones are listed with their order ids).")],
    description="""The buyer's exact Amazon Custom personalization (text, font, colours, per surface) for every
order item in the window that has a `CustomizedURL` — from ShipStation item options or the SP-API order item —
downloaded as a zip and parsed into `amazon_customizations` with the raw JSON and the zip's hash. The URL is
untrusted: https only, allowed Amazon hosts only, no redirects elsewhere, size/time caps, zip-bomb limits, read in
memory. Unsafe files are `rejected` (never retried); other failures are `failed` and retried on later runs up to
a limit. Needs no SP-API credentials: ShipStation's copy of the URL is enough. Each file is then linked to its
normalized order item (`amazon_customizations.order_item_id`), hence its dependency on normalized/order_items.""",
)
def raw_amazon_customizations(context: dg.AssetExecutionContext, amazon: AmazonResource,
                              database: DatabaseResource) -> dg.MaterializeResult:
    started = time.monotonic()
    _, window = partition_sync_window(context, overlap_minutes=amazon.overlap_minutes)
    label = partition_label(context)
    with database.engine.connect() as conn:
        candidates, by_source = collect_candidates(conn, window.start, window.end)
        retries = custom_store.due_retries(conn, amazon.customization_max_retries,
                                           exclude=[(c.amazon_order_id, c.amazon_order_item_id) for c in candidates])
    policy = amazon.download_policy()
    if not policy.allowed_hosts:
        context.log.warning("AMAZON_CUSTOMIZATION_ALLOWED_HOSTS is empty: every download will be rejected")
    with fetcher(policy) as fetch:
        report = custom_store.sync_customizations(database.engine, candidates + retries, fetch, partition_key=label,
                                                  max_retries=amazon.customization_max_retries,
                                                  concurrency=amazon.customization_download_concurrency,
                                                  log=log.debug)  # per item: Python logging, not the event log
    problems = report.problems
    order_ids = sorted({p["amazon_order_id"] for p in problems})
    if problems:
        context.log.warning(f"Amazon Custom {label}: {len(problems)} file(s) not usable: "
                            + "; ".join(f"{p['amazon_order_id']}/{p['amazon_order_item_id']} {p['status']}: "
                                        f"{p['error']}" for p in problems[:10]))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": report.processed + report.failed + report.rejected,
            **report.as_metadata(),
            "urls_seen_by_source": dict(by_source),
            "retries_from_earlier_windows": len(retries),
            "sp_api_configured": amazon.configured,
            "allowed_hosts": ",".join(policy.allowed_hosts),
            **window.describe(SHOP_TIMEZONE),
            "duration_seconds": round(time.monotonic() - started, 2),
        },
        check_results=[dg.AssetCheckResult(
            check_name=CHECK_CUSTOMIZATIONS, passed=not problems, severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "failed_or_rejected": len(problems),
                "amazon_order_ids": dg.MetadataValue.json(order_ids[:200]),
                "problems": dg.MetadataValue.json(problems[:50]),
            })],
    )
