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

Work is proportional to change: a reconciled record is recorded in ``normalized_versions`` (source ``shopify`` /
``amazon``) with a fingerprint of its payload and of the ShipStation side it was merged with (the time the
ShipStation orders with its marketplace + order number were last normalized from a changed raw order). A later
run skips a record whose fingerprint is unchanged and whose order is ``matched`` or ``marketplace_only``;
``unmatched`` and ``ambiguous`` orders are reconciled every time, so the run reports them (its findings).
``full=True`` reconciles every record of the window.
"""

from __future__ import annotations

import datetime as dt
import json
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
from y3d_pipeline.normalized.reconcile.report import MARKETPLACE_ONLY, MATCHED, ReconcileReport
from y3d_pipeline.normalized.reconcile.selection import RAW, load_raw, marketplace_refs
from y3d_pipeline.normalized.reconcile.writing import write_plan
from y3d_pipeline.normalized.records import Rejected

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
# Bump when what reconciliation writes for the same inputs changes: every record is reconciled again once.
RECONCILE_VERSION = "2026-12-06.1"
MAPPERS: dict[str, Callable[[dict[str, Any]], MarketplaceOrder]] = {SHOPIFY: map_shopify, AMAZON: map_amazon}


def reconcile_window(
    engine: sa.Engine,
    start: dt.datetime,
    end: dt.datetime,
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    full: bool = False,
) -> ReconcileReport:
    """Reconcile the marketplace records of ``[start, end)`` with the orders (run after ShipStation
    normalization of the same window) that changed since they were last reconciled (all of them with
    ``full``). One transaction per batch of ``batch_size`` records."""
    report = ReconcileReport()
    with engine.connect() as conn:
        refs = marketplace_refs(conn, start, end)
        fingerprints = {source: _fingerprints(conn, source, ids) for source, ids in refs.items()}
    for source, ids in refs.items():
        if not full:
            unchanged = {i for i in ids if fingerprints[source].get(i, (None, False))[1]}
            ids = [i for i in ids if i not in unchanged]
            report.raw_unchanged_skipped += len(unchanged)
            report.raw_records += len(unchanged)
        for offset in range(0, len(ids), batch_size):
            with engine.connect() as conn:
                rows = load_raw(conn, source, ids[offset:offset + batch_size])
            part = reconcile_rows(engine, source, rows, partition_key_for=partition_key_for)
            report += part
            _record_versions(engine, source, {str(r.source_id) for r in rows} - set(part.quarantined_ids),
                             fingerprints[source])
    return report


def _fingerprints(conn: sa.Connection, source: str, ids: list[Any]) -> dict[Any, tuple[str, bool]]:
    """Per record: (fingerprint of its payload and of the ShipStation orders it merges with, unchanged since it
    was last reconciled and its order matched or marketplace-only)."""
    if not ids:
        return {}
    raw, key = RAW[source]
    number_of_raw = ("left(r.order_name, 1) = '#' AND o.order_number = substr(r.order_name, 2)"  # indexable
                     if source == SHOPIFY else "o.order_number = r.amazon_order_id")
    marketplace = "web" if source == SHOPIFY else "amazon"
    rows = conn.execute(sa.text(f"""
        SELECT c.id, c.fingerprint,
               coalesce(v.fingerprint = c.fingerprint, false) AND EXISTS (
                   SELECT 1 FROM orders o WHERE o.{key} = c.id
                   AND o.reconciliation_status IN (:matched, :marketplace_only)) AS unchanged
        FROM (SELECT r.{key} AS id, md5(r.payload_sha256 || :version || coalesce((
                  SELECT max(sv.normalized_at)::text FROM orders o
                  JOIN normalized_versions sv ON sv.source = 'shipstation'
                   AND sv.source_id = o.shipstation_order_id::text
                  WHERE o.marketplace = :marketplace AND {number_of_raw}
                    AND o.shipstation_order_id IS NOT NULL), '-')) AS fingerprint
              FROM {raw.name} r WHERE r.{key}::text = ANY(CAST(:ids AS text[]))) c
        LEFT JOIN normalized_versions v ON v.source = :source AND v.source_id = c.id::text"""),  # noqa: S608
        {"ids": [str(i) for i in ids], "version": RECONCILE_VERSION, "marketplace": marketplace,
         "matched": MATCHED, "marketplace_only": MARKETPLACE_ONLY, "source": source})
    return {row.id: (row.fingerprint, row.unchanged) for row in rows}


def _record_versions(engine: sa.Engine, source: str, ids: set[str],
                     fingerprints: dict[Any, tuple[str, bool]]) -> None:
    """Remember the fingerprint each reconciled record was reconciled at (the one read before it was, so a record
    that changed meanwhile is reconciled again next time)."""
    values = [{"source": source, "source_id": str(i), "fingerprint": fp}
              for i, (fp, _) in fingerprints.items() if str(i) in ids]
    if not values:
        return
    with engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO normalized_versions (source, source_id, fingerprint)
            SELECT v.source, v.source_id, v.fingerprint
            FROM jsonb_to_recordset(CAST(:values AS jsonb)) v(source text, source_id text, fingerprint text)
            ON CONFLICT (source, source_id) DO UPDATE SET fingerprint = excluded.fingerprint, normalized_at = now()
            WHERE normalized_versions.fingerprint IS DISTINCT FROM excluded.fingerprint"""),
            {"values": json.dumps(values)})


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
