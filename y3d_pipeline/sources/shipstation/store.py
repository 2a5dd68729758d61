"""ShipStation records → the database (plain module, no Dagster): raw orders and shipments, tags, stores.

* :func:`store_orders` / :func:`store_shipments`: upsert into ``raw_shipstation_orders`` /
  ``raw_shipstation_shipments`` by id, never replacing a newer version with an older one; what the fetch could
  not read and what PostgreSQL refuses is quarantined (``normalization_failures``, sources ``shipstation`` and
  ``shipstation_shipments``).
* :func:`upsert_tags`: the account's tags into ``tags`` (names and colours of ``order_tags``).
* :func:`upsert_stores`: the stores into ``stores`` (store → marketplace), and the orders of a store whose
  marketplace changed re-labelled.
Every write runs in the caller's transaction and leaves unchanged rows untouched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from y3d_pipeline.db.models import Order, RawShipstationOrder, RawShipstationShipment, Store, Tag
from y3d_pipeline.db.upsert import upsert_if_changed
from y3d_pipeline.sources.raw_store import UpsertCounts, store_raw_records
from y3d_pipeline.sources.shipstation.records import Fetched, ScanResult, marketplace_from_name

ORDERS_SOURCE = "shipstation"  # normalization_failures.source of orders (the fetch's and normalization's)
SHIPMENTS_SOURCE = "shipstation_shipments"  # ... of shipments that cannot be stored

tags_t = Tag.__table__
stores_t = Store.__table__
orders_t = Order.__table__


def store_orders(conn: sa.Connection, scan: ScanResult, *, fetched_at: dt.datetime, window_end: dt.datetime,
                 partition_key: str | None) -> UpsertCounts:
    """The scan's orders into ``raw_shipstation_orders``. An order whose ``modifyDate`` cannot be read is still
    stored, as modified just inside the window (normalization quarantines it with the reason)."""
    unreadable_modified = window_end - dt.timedelta(microseconds=1)
    rows = [{
        "shipstation_order_id": record.model.order_id,
        "order_number": None if record.model.order_number is None else str(record.model.order_number),
        "order_key": record.model.order_key,
        "order_status": record.model.order_status,
        "source_modified_at": record.model.modify_date or unreadable_modified,
        "payload": record.payload,
    } for record in scan.records]
    return store_raw_records(conn, RawShipstationOrder.__table__, rows, unreadable=scan.rejected,
                             source=ORDERS_SOURCE, fetched_at=fetched_at, partition_key=partition_key)


def store_shipments(conn: sa.Connection, scan: ScanResult, *, fetched_at: dt.datetime,
                    partition_key: str | None) -> UpsertCounts:
    """The scan's shipments into ``raw_shipstation_shipments``; a void is a later change of the same label (its
    version is the void date), so it replaces the earlier version."""
    rows = []
    for record in scan.records:
        shipment = record.model
        created = shipment.create_date or fetched_at
        rows.append({
            "shipstation_shipment_id": shipment.shipment_id,
            "shipstation_order_id": shipment.order_id,
            "ship_date": shipment.ship_date,
            "source_modified_at": max(created, shipment.void_date) if shipment.void_date else created,
            "payload": record.payload,
        })
    return store_raw_records(conn, RawShipstationShipment.__table__, rows, unreadable=scan.rejected,
                             source=SHIPMENTS_SOURCE, fetched_at=fetched_at, partition_key=partition_key)


def upsert_tags(conn: sa.Connection, tags: list[Fetched]) -> tuple[int, int]:
    """The account's tags by ShipStation tag id; returns (tags, rows inserted or changed)."""
    rows = {t.model.tag_id: {"shipstation_tag_id": t.model.tag_id, "name": t.model.name,
                             "color_hex": (t.model.color or None) and t.model.color[:16]} for t in tags}
    if not rows:
        return 0, 0
    stmt = upsert_if_changed(tags_t, ["shipstation_tag_id"], ("name", "color_hex")).returning(tags_t.c.id)
    return len(rows), len(conn.execute(stmt, list(rows.values())).all())


@dataclass
class StoresWritten:
    stores: int
    written: int
    orders_relabelled: int
    by_marketplace: dict[str, int]


def upsert_stores(conn: sa.Connection, stores: list[Fetched]) -> StoresWritten:
    """The stores by ShipStation store id with their marketplace (amazon, etsy, ebay, web for Shopify, manual,
    ...); then every order of a store whose marketplace is known and differs takes it."""
    rows = {s.model.store_id: {"shipstation_store_id": s.model.store_id, "name": s.model.store_name,
                               "marketplace_name": s.model.marketplace_name,
                               "marketplace": marketplace_from_name(s.model.marketplace_name),
                               "active": s.model.active} for s in stores}
    written = 0
    if rows:
        stmt = upsert_if_changed(stores_t, ["shipstation_store_id"],
                                 ("name", "marketplace_name", "marketplace", "active"))
        written = len(conn.execute(stmt.returning(stores_t.c.shipstation_store_id), list(rows.values())).all())
    relabelled = conn.execute(
        orders_t.update()
        .where(orders_t.c.shipstation_store_id == stores_t.c.shipstation_store_id,
               stores_t.c.marketplace.is_not(None),
               orders_t.c.marketplace.is_distinct_from(stores_t.c.marketplace))
        .values(marketplace=stores_t.c.marketplace, updated_at=sa.func.now())
    ).rowcount
    by_marketplace: dict[str, int] = {}
    for row in rows.values():
        name = row["marketplace"] or "unknown"
        by_marketplace[name] = by_marketplace.get(name, 0) + 1
    return StoresWritten(len(rows), written, max(relabelled, 0), by_marketplace)
