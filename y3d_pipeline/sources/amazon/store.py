"""Amazon SP-API orders → ``raw_amazon_orders`` (plain module, no Dagster): one row per Amazon order id whichever
Orders API version fetched it; invalid records (and any PostgreSQL refuses) are quarantined in
``normalization_failures`` (source ``amazon_sp_api``). Amazon Custom files have their own store
(``custom/store.py``)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import (
    AmazonCustomization,
    RawAmazonOrder,
)
from y3d_pipeline.sources.amazon.records import API_V0, OrdersPage
from y3d_pipeline.sources.raw_store import UpsertCounts, store_raw_records

logger = logging.getLogger(__name__)
QUARANTINE_SOURCE = "amazon_sp_api"
DEFAULT_MAX_RETRIES = 3
RETRY_WAIT = dt.timedelta(minutes=5)  # before a failed file's next try from a later window, doubling per try
RETRY_WAIT_MAX = dt.timedelta(hours=6)
WRITE_BATCH = 25
_customs = AmazonCustomization.__table__


# ---------------------------------------------------------------------------------------------- orders


def order_rows(page: OrdersPage) -> list[dict[str, Any]]:
    return [{
        "amazon_order_id": order.amazon_order_id,
        "order_status": order.order_status,
        "api_version": order.api_version,
        "source_modified_at": order.last_update_date,
        "payload": order.payload,
    } for order in page.orders]


def _richer_copy_stored(conn: sa.Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Ids of v0 rows whose order is stored from v2026-01-01 with the same or a newer modification time: v0 (no
    Restricted Data Token) carries less of the same order, so it must not replace that copy."""
    v0 = {r["amazon_order_id"]: r["source_modified_at"] for r in rows if r["api_version"] == API_V0}
    if not v0:
        return set()
    table = RawAmazonOrder.__table__
    stored = conn.execute(sa.select(table.c.amazon_order_id, table.c.source_modified_at).where(
        table.c.amazon_order_id.in_(list(v0)), table.c.api_version != API_V0))
    return {order_id for order_id, modified in stored if modified >= v0[order_id]}


def store_orders(conn: sa.Connection, page: OrdersPage, *, fetched_at: dt.datetime,
                 partition_key: str | None) -> UpsertCounts:
    """Upsert the page's orders into ``raw_amazon_orders`` (one row per Amazon order id whichever API version
    fetched it); invalid records (and any PostgreSQL refuses) are quarantined."""
    rows = order_rows(page)
    keep = _richer_copy_stored(conn, rows)
    counts = store_raw_records(conn, RawAmazonOrder.__table__, [r for r in rows if r["amazon_order_id"] not in keep],
                               unreadable=page.invalid, source=QUARANTINE_SOURCE, fetched_at=fetched_at,
                               partition_key=partition_key)
    counts.unchanged += len(keep)
    return counts
