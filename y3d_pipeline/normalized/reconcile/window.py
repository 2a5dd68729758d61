"""Reconcile a window of raw Shopify and Amazon orders with the normalized (ShipStation) orders: the driver.

Which marketplace records a window covers is ``selection.py``'s; what a batch changes is planned by
``planning.py`` and written by ``writing.py``.

Each batch (``batch_size`` records of one source) is mapped (invalid payloads are quarantined in
``normalization_failures`` with source ``shopify`` / ``amazon``) and applied in ONE transaction by
:func:`apply_marketplace_orders`; a record PostgreSQL refuses is isolated and quarantined the same way
(:func:`~y3d_pipeline.db.storable.write_isolating`), so no single record fails the batch. All decisions depend
only on the stored data, never on earlier runs' results, and every write is guarded by ``IS DISTINCT FROM``:
re-running a window leaves every row, ``updated_at`` included, as it was (as long as ShipStation normalization
did not rewrite it first, see the package docstring).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.normalized.batch import Batch
from y3d_pipeline.normalized.reconcile.marketplace import (
    AMAZON,
    SHOPIFY,
    Invalid,
    MarketplaceOrder,
    map_amazon,
    map_shopify,
)
from y3d_pipeline.normalized.reconcile.planning import plan_batch
from y3d_pipeline.normalized.reconcile.report import ReconcileReport
from y3d_pipeline.normalized.reconcile.selection import load_raw, marketplace_refs
from y3d_pipeline.normalized.reconcile.writing import write_plan
from y3d_pipeline.normalized.records import Rejected

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
MAPPERS: dict[str, Callable[[dict[str, Any]], MarketplaceOrder]] = {SHOPIFY: map_shopify, AMAZON: map_amazon}


def reconcile_window(
    engine: sa.Engine,
    start: dt.datetime,
    end: dt.datetime,
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ReconcileReport:
    """Reconcile the marketplace records of ``[start, end)`` with the orders (run after ShipStation
    normalization of the same window). One transaction per batch of ``batch_size`` records."""
    report = ReconcileReport()
    with engine.connect() as conn:
        refs = marketplace_refs(conn, start, end)
    for source, ids in refs.items():
        for offset in range(0, len(ids), batch_size):
            with engine.connect() as conn:
                rows = load_raw(conn, source, ids[offset:offset + batch_size])
            report += reconcile_rows(engine, source, rows, partition_key_for=partition_key_for)
    return report


def reconcile_rows(
    engine: sa.Engine,
    source: str,
    rows: Sequence[Any],
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
) -> ReconcileReport:
    """One batch of raw rows (``source_id, source_modified_at, payload``) of one source, one transaction."""
    batch: Batch[MarketplaceOrder] = Batch(source, partition_key_for)
    for row in rows:
        try:
            mapped = MAPPERS[source](row.payload)
            if str(mapped.source_order_id) != str(row.source_id):
                raise Invalid(f"payload id {mapped.source_order_id} differs from the raw row's id")
            batch.add(str(row.source_id), mapped, row)
        except Invalid as exc:
            batch.reject(Rejected(str(row.source_id), f"invalid {source} order: {exc}", row.payload),
                         row.source_modified_at)
        except Exception as exc:  # a mapping bug on one record must not cost the batch: quarantine it
            log.exception("reconciling %s order %s failed", source, row.source_id)
            batch.reject(Rejected(str(row.source_id), f"{source} order could not be reconciled "
                                                      f"({type(exc).__name__})", row.payload), row.source_modified_at)
    with engine.begin() as conn:
        written = batch.write(conn, lambda chunk: apply_marketplace_orders(conn, chunk),
                              key_of=lambda record: str(record.source_order_id),
                              refused_reason=lambda reason: f"{source} order {reason}")
    report = ReconcileReport(raw_records=len(rows), batches=1, quarantined=written.quarantined,
                             resolved=written.resolved, quarantined_ids=written.quarantined_ids)
    for part in written.results:
        report += part
    return report


def apply_marketplace_orders(conn: sa.Connection, records: Iterable[MarketplaceOrder]) -> ReconcileReport:
    """Reconcile a batch of marketplace records of ONE source in ``conn``'s transaction: plan, then write."""
    report = ReconcileReport()
    plan = plan_batch(conn, records, report)
    if plan is not None:
        write_plan(conn, plan, report)
    return report
