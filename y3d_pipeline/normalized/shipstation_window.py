"""Normalize a window of raw ShipStation orders: stream the raw rows, map, write batch by batch.

Each batch (``batch_size`` raw rows, oldest ``modifyDate`` first) is one transaction: its valid orders are
written by :func:`~y3d_pipeline.normalized.writer.write_orders`, its invalid ones quarantined, and earlier
failures of records that now pass are resolved. An order PostgreSQL still refuses is isolated
(:func:`~y3d_pipeline.db.storable.write_isolating`) and quarantined with what PostgreSQL said; no single
record fails the batch. A crash leaves every batch either fully written or not at all; re-running the window
converges to the same rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import RawShipstationOrder, Store
from y3d_pipeline.normalized.batch import Batch
from y3d_pipeline.normalized.records import SHIPSTATION_KEYS, CanonicalOrder, NormalizationReport, Rejected
from y3d_pipeline.normalized.shipstation import SOURCE, map_order
from y3d_pipeline.normalized.writer import write_orders

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2000
raw_t = RawShipstationOrder.__table__


def store_marketplaces(conn: sa.Connection) -> dict[int, str | None]:
    """``stores``: ShipStation store id → normalized marketplace (amazon/etsy/ebay/web/manual/...)."""
    table = Store.__table__
    return dict(conn.execute(sa.select(table.c.shipstation_store_id, table.c.marketplace)).all())


def partition_key_clamp(tz: dt.tzinfo, partition_keys: Sequence[str]) -> Callable[[dt.datetime], str | None]:
    """The shop-day partition a modification time belongs to, clamped to the run's partitions (so a record
    from the overlap before the first day is reported on the first day of the run)."""
    if not partition_keys:
        return lambda _: None
    first, last = min(partition_keys), max(partition_keys)

    def key_for(instant: dt.datetime) -> str:
        day = instant.astimezone(tz).date().isoformat()
        return min(max(day, first), last)

    return key_for


def normalize_shipstation_window(
    engine: sa.Engine,
    start: dt.datetime,
    end: dt.datetime,
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int | None], None] | None = None,
) -> NormalizationReport:
    """Normalize raw ShipStation orders with ``start <= source_modified_at < end``; ``progress(rows done,
    rows in the window)`` after each batch."""
    report = NormalizationReport()
    with engine.connect() as conn:
        stores = store_marketplaces(conn)
    query = (
        sa.select(raw_t.c.shipstation_order_id, raw_t.c.source_modified_at, raw_t.c.payload)
        .where(raw_t.c.source_modified_at >= start, raw_t.c.source_modified_at < end)
        .order_by(raw_t.c.source_modified_at, raw_t.c.shipstation_order_id)
    )
    total = None
    if progress:
        with engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    with engine.connect() as reader:
        result = reader.execution_options(stream_results=True, yield_per=batch_size).execute(query)
        for rows in result.partitions(batch_size):
            report += normalize_shipstation_rows(engine, rows, stores=stores, partition_key_for=partition_key_for)
            if progress:
                progress(report.raw_records, total)
    return report


def normalize_shipstation_rows(
    engine: sa.Engine,
    rows: Sequence[Any],
    *,
    stores: dict[int, str | None],
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
) -> NormalizationReport:
    """One batch of raw rows (``shipstation_order_id, source_modified_at, payload``) in one transaction."""
    batch: Batch[CanonicalOrder] = Batch(SOURCE, partition_key_for)
    for row in rows:
        try:
            mapped = map_order(row.payload)
        except Exception as exc:  # a mapping bug on one record must not cost the batch: quarantine it
            mapped = Rejected(str(row.shipstation_order_id), f"could not be normalized ({type(exc).__name__})",
                              row.payload if isinstance(row.payload, dict) else None)
            log.exception("normalizing ShipStation order %s failed", row.shipstation_order_id)
        if isinstance(mapped, Rejected):
            if mapped.source_id in ("None", "?"):
                mapped.source_id = str(row.shipstation_order_id)
            batch.reject(mapped, row.source_modified_at)
        elif mapped.source_order_id != row.shipstation_order_id:
            batch.reject(Rejected(str(row.shipstation_order_id),
                                  f"payload orderId {mapped.source_order_id} differs from the raw row's id",
                                  row.payload), row.source_modified_at)
        else:
            batch.add(mapped.source_order_id, mapped, row)
    with engine.begin() as conn:
        written = batch.write(conn, lambda chunk: write_orders(conn, list(chunk), SHIPSTATION_KEYS,
                                                               store_marketplaces=stores),
                              key_of=lambda order: order.source_order_id)
    report = NormalizationReport(raw_records=len(rows), batches=1, quarantined=written.quarantined,
                                 resolved=written.resolved, quarantined_ids=written.quarantined_ids)
    for part in written.results:
        report += part
    return report
