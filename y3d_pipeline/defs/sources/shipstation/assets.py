"""ShipStation raw assets: orders and shipments (daily), tags and stores (reference data)."""

import time
from typing import Any

import dagster as dg

from y3d_pipeline.defs.constants import (
    GROUP_SHIPSTATION,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHIPSTATION_SHIPMENTS,
    RAW_SHIPSTATION_STORES,
    RAW_SHIPSTATION_TAGS,
)
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE, partition_label
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.defs.sources.raw_assets import (
    not_configured,
    partition_sync_window,
    raw_asset,
    warn_quarantined,
)
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline.normalized.shipments import apply_shipments
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.sources.shipstation import store
from y3d_pipeline.sources.shipstation.records import PACIFIC


@raw_asset(
    RAW_SHIPSTATION_ORDERS, source=GROUP_SHIPSTATION,
    description="""Every ShipStation order modified during the shop's day (plus a one-hour overlap before
    it, cut at now), exactly as ShipStation returned it, one row per orderId in raw_shipstation_orders.
    A stored order is only replaced by a newer modifyDate. Requests are US Pacific wall-clock windows
    (ShipStation v1 has no time zones); a range of days is fetched as one wide window.""",
)
def raw_shipstation_orders(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return not_configured(context, shipstation)
    started = time.monotonic()
    now, window = partition_sync_window(context, overlap_minutes=shipstation.overlap_minutes,
                                        settle_seconds=shipstation.settle_seconds)
    described = {**window.describe(SHOP_TIMEZONE),
                 "window_start_pacific": window.start.astimezone(PACIFIC).isoformat(),
                 "window_end_pacific": window.end.astimezone(PACIFIC).isoformat()}
    if window.is_empty:
        return dg.MaterializeResult(metadata={"configured": True, "note": "the window lies in the future",
                                              "orders_fetched": 0, "dagster/row_count": 0, **described})
    with shipstation.client() as client:
        scan = client.list_orders(window.start, window.end,
                                  progress=ProgressLog("ShipStation orders", unit="pages", log=context.log.info))
    with database.engine.begin() as conn:
        counts = store.store_orders(conn, scan, fetched_at=now, window_end=window.end,
                                    partition_key=partition_label(context))
    warn_quarantined(context, "ShipStation orders", counts.quarantined_ids)
    metadata: dict[str, Any] = {
        "configured": True,
        "orders_fetched": len(scan.records),
        "dagster/row_count": len(scan.records),
        **counts.as_metadata(),
        "pages": scan.pages,
        "rescans": scan.rescans,
        "scan_complete": scan.complete,
        "unreadable_records": len(scan.rejected),
        **client.stats.as_metadata(),
        **described,
        "duration_seconds": round(time.monotonic() - started, 2),
    }
    context.log.info("ShipStation orders %s: %s", described["window_start_local"], metadata)
    return dg.MaterializeResult(metadata=metadata)


@raw_asset(
    RAW_SHIPSTATION_SHIPMENTS, source=GROUP_SHIPSTATION,
    description="""ShipStation shipments (labels) by ship date, one row per shipmentId in
    raw_shipstation_shipments. Also writes the curated orders table: fills orders.shipped_at, tracking_number,
    carrier_code and shipment_status of the orders it saw (the newest non-voided label wins; voided labels
    don't count), and feeds normalized/orders, which applies them to orders normalized later. Ship dates are
    Pacific calendar days, so a shop day asks for the Pacific days it overlaps.""",
)
def raw_shipstation_shipments(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return not_configured(context, shipstation)
    started = time.monotonic()
    now, window = partition_sync_window(context, overlap_minutes=shipstation.overlap_minutes)
    first_day = window.start.astimezone(PACIFIC).date()
    last_day = max(first_day, window.end.astimezone(PACIFIC).date())
    with shipstation.client() as client:
        scan = client.list_shipments(first_day, last_day)
    with database.engine.begin() as conn:
        counts = store.store_shipments(conn, scan, fetched_at=now, partition_key=partition_label(context))
        orders_updated = apply_shipments(conn, [r.model.order_id for r in scan.records
                                                if r.model.order_id is not None])
    warn_quarantined(context, "ShipStation shipments", counts.quarantined_ids)
    return dg.MaterializeResult(metadata={
        "configured": True,
        "shipments_fetched": len(scan.records),
        "dagster/row_count": len(scan.records),
        "voided_shipments": sum(1 for r in scan.records if r.model.voided),
        "unreadable_records": len(scan.rejected),
        **counts.as_metadata(),
        "orders_updated": orders_updated,
        "ship_date_start_pacific": first_day.isoformat(),
        "ship_date_end_pacific": last_day.isoformat(),
        "pages": scan.pages,
        **client.stats.as_metadata(),
        **window.describe(SHOP_TIMEZONE),
        "duration_seconds": round(time.monotonic() - started, 2),
    })


@raw_asset(
    RAW_SHIPSTATION_TAGS, source=GROUP_SHIPSTATION, daily=False,
    description="""The ShipStation account's tags (GET /accounts/listtags), written to the curated tags table,
    so order tag ids (order_tags) carry names and colours.""",
)
def raw_shipstation_tags(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return not_configured(context, shipstation)
    with shipstation.client() as client:
        tags = client.list_tags()
    with database.engine.begin() as conn:
        count, written = store.upsert_tags(conn, tags)
    return dg.MaterializeResult(metadata={"configured": True, "tags": count, "dagster/row_count": count,
                                          "tags_written": written, **client.stats.as_metadata()})


@raw_asset(
    RAW_SHIPSTATION_STORES, source=GROUP_SHIPSTATION, daily=False,
    description="""The ShipStation stores (GET /stores), written to the curated stores table: store id →
    marketplace (amazon, etsy, ebay, web for Shopify, manual, ...), used to fill orders.marketplace; the orders
    of a store whose marketplace changes are re-labelled here.""",
)
def raw_shipstation_stores(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return not_configured(context, shipstation)
    with shipstation.client() as client:
        stores = client.list_stores()
    with database.engine.begin() as conn:
        written = store.upsert_stores(conn, stores)
    return dg.MaterializeResult(metadata={
        "configured": True, "stores": written.stores, "dagster/row_count": written.stores,
        "stores_written": written.written, "orders_relabelled": written.orders_relabelled,
        "stores_by_marketplace": written.by_marketplace, **client.stats.as_metadata()})
