"""ShipStation raw assets: orders and shipments (daily), tags and stores (reference data)."""


import datetime as dt
import time
from typing import Any

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.db.models import Order, RawShipstationOrder, RawShipstationShipment, Store, Tag
from y3d_pipeline.db.quarantine import quarantine
from y3d_pipeline.defs.constants import (
    GROUP_SHIPSTATION,
    POOL_SHIPSTATION,
    RAW_SHIPSTATION_ORDERS,
    RAW_SHIPSTATION_SHIPMENTS,
    RAW_SHIPSTATION_STORES,
    RAW_SHIPSTATION_TAGS,
    SOURCE_RETRY_POLICY,
)
from y3d_pipeline.defs.partitions import daily_partitions, partition_label
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.defs.sources.shipstation.resources import NOT_CONFIGURED_NOTE, ShipStationResource
from y3d_pipeline.normalize.shipments import apply_shipments
from y3d_pipeline.normalize.shipstation import SOURCE, marketplace_from_name
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.raw_store import upsert_raw_records
from y3d_pipeline.sources.shipstation.records import PACIFIC
from y3d_pipeline.sources.windows import sync_window

KINDS = {"shipstation", "postgres"}
SHIPMENTS_SOURCE = "shipstation_shipments"  # normalization_failures.source of shipments that cannot be stored


def _not_configured(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.warning(NOT_CONFIGURED_NOTE)
    return dg.MaterializeResult(metadata={"configured": False, "note": NOT_CONFIGURED_NOTE})


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _window_tz() -> dt.tzinfo:
    return load_settings().timezone


def _unmodeled(fetched: Any) -> bool:
    return fetched.model is None


def _quarantine(conn: sa.Connection, context: dg.AssetExecutionContext, source: str, records: list[Any]) -> int:
    """Records the fetch or the raw upsert could not keep: into normalization_failures, ids in the log."""
    if not records:
        return 0
    label = partition_label(context)
    count = quarantine(conn, source, [(record, label) for record in records])
    context.log.warning(f"{source}: {count} record(s) quarantined in normalization_failures: "
                        + ", ".join(record.source_id for record in records[:20]))
    return count


@dg.asset(
    key=RAW_SHIPSTATION_ORDERS,
    group_name=GROUP_SHIPSTATION,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=POOL_SHIPSTATION,
    kinds=KINDS,
    retry_policy=SOURCE_RETRY_POLICY,
    description="""Every ShipStation order modified during the shop's day (plus a one-hour overlap before
    it, cut at now), exactly as ShipStation returned it, one row per orderId in raw_shipstation_orders.
    A stored order is only replaced by a newer modifyDate. Requests are US Pacific wall-clock windows
    (ShipStation v1 has no time zones); a range of days is fetched as one wide window.""",
)
def raw_shipstation_orders(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return _not_configured(context)
    started = time.monotonic()
    partition = context.partition_time_window
    now = _utcnow()
    window = sync_window(partition.start, partition.end, now=now,
                         overlap=dt.timedelta(minutes=shipstation.overlap_minutes),
                         settle=dt.timedelta(seconds=shipstation.settle_seconds))
    tz = _window_tz()
    described = {**window.describe(tz), "window_start_pacific": window.start.astimezone(PACIFIC).isoformat(),
                 "window_end_pacific": window.end.astimezone(PACIFIC).isoformat()}
    if window.is_empty:
        return dg.MaterializeResult(metadata={"configured": True, "note": "the window lies in the future",
                                              "orders_fetched": 0, "dagster/row_count": 0, **described})
    with shipstation.client() as client:
        scan = client.list_orders(window.start, window.end,
                                  progress=ProgressLog("ShipStation orders", unit="pages", log=context.log.info))
        request_meta = client.stats.as_metadata()
    rows = []
    fallback_modified = window.end - dt.timedelta(microseconds=1)
    for record in scan.records:
        model, payload = record.model, record.payload
        rows.append({
            "shipstation_order_id": model.order_id,
            "order_number": None if model.order_number is None else str(model.order_number),
            "order_key": model.order_key,
            "order_status": model.order_status,
            # an unreadable modifyDate still lands (normalization quarantines it) inside this window
            "source_modified_at": model.modify_date or fallback_modified,
            "payload": payload,
        })
    with database.engine.begin() as conn:
        counts = upsert_raw_records(conn, RawShipstationOrder.__table__, rows, fetched_at=now)
        quarantined = _quarantine(conn, context, SOURCE, [*scan.rejected, *counts.refused])
    metadata: dict[str, Any] = {
        "configured": True,
        "orders_fetched": len(rows),
        "dagster/row_count": len(rows),
        **counts.as_metadata(),
        "pages": scan.pages,
        "rescans": scan.rescans,
        "scan_complete": scan.complete,
        "unreadable_records": len(scan.rejected),
        "quarantined": quarantined,
        **request_meta,
        **described,
        "duration_seconds": round(time.monotonic() - started, 2),
    }
    context.log.info("ShipStation orders %s: %s", described["window_start_local"], metadata)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=RAW_SHIPSTATION_SHIPMENTS,
    group_name=GROUP_SHIPSTATION,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=POOL_SHIPSTATION,
    kinds=KINDS,
    retry_policy=SOURCE_RETRY_POLICY,
    description="""ShipStation shipments (labels) by ship date, one row per shipmentId in
    raw_shipstation_shipments; fills orders.shipped_at, tracking_number, carrier_code and shipment_status
    (the newest non-voided label wins; voided labels don't count). Ship dates are Pacific calendar days,
    so a shop day asks for the Pacific days it overlaps.""",
)
def raw_shipstation_shipments(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return _not_configured(context)
    started = time.monotonic()
    partition = context.partition_time_window
    now = _utcnow()
    window = sync_window(partition.start, partition.end, now=now,
                         overlap=dt.timedelta(minutes=shipstation.overlap_minutes))
    first_day = window.start.astimezone(PACIFIC).date()
    last_day = max(first_day, window.end.astimezone(PACIFIC).date())
    with shipstation.client() as client:
        scan = client.list_shipments(first_day, last_day)
        request_meta = client.stats.as_metadata()
    rows = []
    for record in scan.records:
        model, payload = record.model, record.payload
        created = model.create_date or now
        rows.append({
            "shipstation_shipment_id": model.shipment_id,
            "shipstation_order_id": model.order_id,
            "ship_date": model.ship_date,
            # a void is a later change of the same label: it must replace the earlier version
            "source_modified_at": max(created, model.void_date) if model.void_date else created,
            "payload": payload,
        })
    with database.engine.begin() as conn:
        counts = upsert_raw_records(conn, RawShipstationShipment.__table__, rows, fetched_at=now)
        quarantined = _quarantine(conn, context, SHIPMENTS_SOURCE, [*scan.rejected, *counts.refused])
        orders_updated = apply_shipments(conn, [r["shipstation_order_id"] for r in rows
                                                if r["shipstation_order_id"] is not None])
    voided = sum(1 for r in scan.records if r.model.voided)
    metadata = {
        "configured": True,
        "shipments_fetched": len(rows),
        "dagster/row_count": len(rows),
        "voided_shipments": voided,
        "unreadable_records": len(scan.rejected),
        "quarantined": quarantined,
        **counts.as_metadata(),
        "orders_updated": orders_updated,
        "ship_date_start_pacific": first_day.isoformat(),
        "ship_date_end_pacific": last_day.isoformat(),
        "pages": scan.pages,
        **request_meta,
        **window.describe(_window_tz()),
        "duration_seconds": round(time.monotonic() - started, 2),
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=RAW_SHIPSTATION_TAGS,
    group_name=GROUP_SHIPSTATION,
    pool=POOL_SHIPSTATION,
    kinds=KINDS,
    retry_policy=SOURCE_RETRY_POLICY,
    description="""The ShipStation account's tags (GET /accounts/listtags) in the tags table, so order
    tag ids (order_tags) carry names and colours.""",
)
def raw_shipstation_tags(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return _not_configured(context)
    with shipstation.client() as client:
        tags = client.list_tags()
        request_meta = client.stats.as_metadata()
    table = Tag.__table__
    rows = {t.model.tag_id: {"shipstation_tag_id": t.model.tag_id, "name": t.model.name,
                             "color_hex": (t.model.color or None) and t.model.color[:16]} for t in tags}
    written = 0
    if rows:
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["shipstation_tag_id"],
            set_={"name": stmt.excluded.name, "color_hex": stmt.excluded.color_hex, "updated_at": sa.func.now()},
            where=sa.tuple_(table.c.name, table.c.color_hex).is_distinct_from(
                sa.tuple_(stmt.excluded.name, stmt.excluded.color_hex)),
        ).returning(table.c.id)
        with database.engine.begin() as conn:
            written = len(conn.execute(stmt, list(rows.values())).all())
    return dg.MaterializeResult(metadata={"configured": True, "tags": len(rows), "dagster/row_count": len(rows),
                                          "tags_written": written, **request_meta})


@dg.asset(
    key=RAW_SHIPSTATION_STORES,
    group_name=GROUP_SHIPSTATION,
    pool=POOL_SHIPSTATION,
    kinds=KINDS,
    retry_policy=SOURCE_RETRY_POLICY,
    description="""The ShipStation stores (GET /stores): store id → marketplace (amazon, etsy, ebay, web for
    Shopify, manual, ...), used to fill orders.marketplace; existing orders are re-labelled when a store's
    marketplace changes.""",
)
def raw_shipstation_stores(
    context: dg.AssetExecutionContext, shipstation: ShipStationResource, database: DatabaseResource
) -> dg.MaterializeResult:
    if not shipstation.configured:
        return _not_configured(context)
    with shipstation.client() as client:
        stores = client.list_stores()
        request_meta = client.stats.as_metadata()
    table = Store.__table__
    rows = {s.model.store_id: {"shipstation_store_id": s.model.store_id, "name": s.model.store_name,
                               "marketplace_name": s.model.marketplace_name,
                               "marketplace": marketplace_from_name(s.model.marketplace_name),
                               "active": s.model.active} for s in stores}
    written = relabelled = 0
    with database.engine.begin() as conn:
        if rows:
            stmt = insert(table)
            columns = ("name", "marketplace_name", "marketplace", "active")
            stmt = stmt.on_conflict_do_update(
                index_elements=["shipstation_store_id"],
                set_={**{c: stmt.excluded[c] for c in columns}, "updated_at": sa.func.now()},
                where=sa.tuple_(*[table.c[c] for c in columns]).is_distinct_from(
                    sa.tuple_(*[stmt.excluded[c] for c in columns])),
            ).returning(table.c.shipstation_store_id)
            written = len(conn.execute(stmt, list(rows.values())).all())
        orders = Order.__table__
        result = conn.execute(
            orders.update()
            .where(orders.c.shipstation_store_id == table.c.shipstation_store_id,
                   table.c.marketplace.is_not(None),
                   orders.c.marketplace.is_distinct_from(table.c.marketplace))
            .values(marketplace=table.c.marketplace, updated_at=sa.func.now())
        )
        relabelled = max(result.rowcount, 0)
    by_marketplace: dict[str, int] = {}
    for row in rows.values():
        by_marketplace[row["marketplace"] or "unknown"] = by_marketplace.get(row["marketplace"] or "unknown", 0) + 1
    return dg.MaterializeResult(metadata={"configured": True, "stores": len(rows), "dagster/row_count": len(rows),
                                          "stores_written": written, "orders_relabelled": relabelled,
                                          "stores_by_marketplace": by_marketplace, **request_meta})
