"""Normalize a window of raw ShipStation orders: pick the raw rows that changed, map and write them batch by batch.

Each batch (``batch_size`` raw rows, oldest ``modifyDate`` first) is one transaction: the rows are copied into
a staging table inside PostgreSQL, mapped there (:mod:`~y3d_pipeline.normalized.shipstation_sql`; the rows
that are not plainly valid are mapped in Python by :func:`~y3d_pipeline.normalized.shipstation.map_order`,
which quarantines the invalid ones with their reason) and merged set-based
(:func:`~y3d_pipeline.normalized.writer.merge`); earlier failures of records that now pass are resolved. An
order PostgreSQL still refuses is isolated (:func:`~y3d_pipeline.db.storable.write_isolating`) and quarantined
with what PostgreSQL said; no single record fails the batch. A crash leaves every batch either fully written or
not at all; re-running the window converges to the same rows.

Work is proportional to change: each raw row written is recorded in ``normalized_versions`` with the
fingerprint of its payload and of everything else its rows depend on (the mapping's version, the stores'
marketplaces); a later run skips the rows whose fingerprint is unchanged and whose order is still there.
``full=True`` normalizes every row of the window regardless.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import Store
from y3d_pipeline.db.quarantine import quarantine
from y3d_pipeline.db.storable import jsonb_safe, write_isolating
from y3d_pipeline.normalized.records import CanonicalOrder, NormalizationReport, Rejected
from y3d_pipeline.normalized.shipstation import SOURCE, map_order
from y3d_pipeline.normalized.shipstation_sql import map_batch
from y3d_pipeline.normalized.writer import create_staging, merge, stage_orders

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 5000
# Mapping is ~55% of a batch's time and runs in PostgreSQL: a second session maps the next batch while one
# merges (benchmarks/RESULTS.md, "ShipStation normalization").
DEFAULT_SESSIONS = 2
# Bump when the mapping or the writer changes what a raw order becomes: every row is normalized again once.
MAPPING_VERSION = "2026-12-06.1"

_SRC = sa.table("s_src", sa.column("seq"), sa.column("raw_id"), sa.column("raw_modified_at"),
                sa.column("payload"), sa.column("payload_sha256"))
_SRC_DDL = """CREATE TEMP TABLE s_src (seq bigint NOT NULL, raw_id bigint NOT NULL,
              raw_modified_at timestamptz NOT NULL, payload jsonb, payload_sha256 text) ON COMMIT DROP"""


def store_marketplaces(conn: sa.Connection) -> dict[int, str | None]:
    """``stores``: ShipStation store id → normalized marketplace (amazon/etsy/ebay/web/manual/...)."""
    table = Store.__table__
    return dict(conn.execute(sa.select(table.c.shipstation_store_id, table.c.marketplace)).all())


def context_fingerprint(stores: dict[int, str | None]) -> str:
    """What a normalized order depends on besides its payload."""
    text = json.dumps([MAPPING_VERSION, sorted(stores.items())], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


_PENDING = """
SELECT r.shipstation_order_id, r.source_modified_at
FROM raw_shipstation_orders r
LEFT JOIN normalized_versions v ON v.source = :source AND v.source_id = r.shipstation_order_id::text
WHERE r.source_modified_at >= :start AND r.source_modified_at < :end
  AND (:full OR v.fingerprint IS NULL OR v.fingerprint <> md5(r.payload_sha256 || :context)
       OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.shipstation_order_id = r.shipstation_order_id))
ORDER BY r.source_modified_at, r.shipstation_order_id"""


def normalize_shipstation_window(
    engine: sa.Engine,
    start: dt.datetime,
    end: dt.datetime,
    *,
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int, int | None], None] | None = None,
    full: bool = False,
    sessions: int = DEFAULT_SESSIONS,
) -> NormalizationReport:
    """Normalize raw ShipStation orders with ``start <= source_modified_at < end`` that changed since they were
    last normalized (all of them with ``full``); ``progress(rows done, rows in the window)`` after each batch.
    With ``sessions`` > 1 the next batches are mapped in other sessions while one merges (see ``_MergeTurns``)."""
    with engine.connect() as conn:
        stores = store_marketplaces(conn)
        context = context_fingerprint(stores)
        in_window = conn.execute(sa.text(
            "SELECT count(*) FROM raw_shipstation_orders WHERE source_modified_at >= :start "
            "AND source_modified_at < :end"), {"start": start, "end": end}).scalar_one()
        pending = [row[0] for row in conn.execute(sa.text(_PENDING), {
            "source": SOURCE, "start": start, "end": end, "full": full, "context": context})]
    skipped = in_window - len(pending)
    report = NormalizationReport(raw_records=skipped, orders_unchanged=skipped, raw_unchanged_skipped=skipped)
    if progress:
        progress(report.raw_records, in_window)
    batches = [pending[first:first + batch_size] for first in range(0, len(pending), batch_size)]
    turns = _MergeTurns()

    def normalize_batch(index: int) -> NormalizationReport | None:
        if turns.stopped:
            return None
        merged = False
        try:
            with engine.connect() as conn, conn.begin() as transaction:
                _stage_raw(conn, batches[index])
                staged = _map_staged(conn, {}, stores=stores, partition_key_for=partition_key_for)
                if not turns.wait(index):
                    transaction.rollback()
                    return None
                part = _merge_staged(conn, staged, partition_key_for=partition_key_for, context=context)
                transaction.commit()
            merged = True
            return part
        finally:
            turns.done(index, merged)

    if sessions <= 1 or len(batches) <= 1:
        for index in range(len(batches)):
            report += normalize_batch(index)
            if progress:
                progress(report.raw_records, in_window)
        return report
    with ThreadPoolExecutor(max_workers=sessions, thread_name_prefix="normalize") as pool:
        futures = [pool.submit(normalize_batch, index) for index in range(len(batches))]
        try:
            for future in futures:
                part = future.result()
                if part is None:  # stopped: a later batch failed before this one's turn
                    raise next(f.exception() for f in futures if not f.cancelled() and f.exception())
                report += part
                if progress:
                    progress(report.raw_records, in_window)
        except BaseException:
            turns.stop()
            for future in futures:
                future.cancel()
            raise
    return report


class _MergeTurns:
    """Batches are mapped at once in separate sessions but merged and committed one at a time, in batch order
    (oldest ``modifyDate`` first, as one session would): the tables go through the same states as a serial run,
    and what is committed is always the first batches. After a failure no later batch merges."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._next = 0
        self.stopped = False

    def wait(self, index: int) -> bool:
        """Block until batch ``index`` may merge; False if the run stopped meanwhile."""
        with self._condition:
            self._condition.wait_for(lambda: self._next == index or self.stopped)
            return not self.stopped

    def done(self, index: int, merged: bool) -> None:
        with self._condition:
            if merged:
                self._next = index + 1
            else:
                self.stopped = True
            self._condition.notify_all()

    def stop(self) -> None:
        with self._condition:
            self.stopped = True
            self._condition.notify_all()


def _stage_raw(conn: sa.Connection, ids: Sequence[int]) -> None:
    """The raw rows of one batch into the session's ``s_src``, in the given order."""
    conn.execute(sa.text(_SRC_DDL))
    conn.execute(sa.text(
        "INSERT INTO s_src (seq, raw_id, raw_modified_at, payload, payload_sha256) "
        "SELECT b.seq, r.shipstation_order_id, r.source_modified_at, r.payload, r.payload_sha256 "
        "FROM unnest(CAST(:ids AS bigint[])) WITH ORDINALITY b(id, seq) "
        "JOIN raw_shipstation_orders r ON r.shipstation_order_id = b.id"), {"ids": list(ids)})


def normalize_shipstation_rows(
    engine: sa.Engine,
    rows: Sequence[Any],
    *,
    stores: dict[int, str | None],
    partition_key_for: Callable[[dt.datetime], str | None] = lambda _: None,
    sql_mapping: bool = True,
) -> NormalizationReport:
    """One batch of raw rows (``shipstation_order_id, source_modified_at, payload``) in one transaction.
    ``sql_mapping=False`` maps every row in Python (the reference the SQL mapping is tested against)."""
    with engine.begin() as conn:
        conn.execute(sa.text(_SRC_DDL))
        staged, in_python = [], {}
        for seq, row in enumerate(rows, start=1):
            document = _storable_json(row.payload)
            if document is not None and isinstance(row.shipstation_order_id, int) \
                    and -2**63 <= row.shipstation_order_id < 2**63:
                staged.append({"seq": seq, "raw_id": row.shipstation_order_id,
                               "raw_modified_at": row.source_modified_at, "payload": document})
            else:
                in_python[seq] = row
        if staged:
            conn.execute(sa.insert(_SRC), staged)
        return _normalize_staged(conn, in_python, stores=stores, partition_key_for=partition_key_for,
                                 sql_mapping=sql_mapping)


def _storable_json(payload: Any) -> str | None:
    """The payload as JSON text for ``jsonb`` if it is an object stored as is, else None (mapped in Python)."""
    if not isinstance(payload, dict) or jsonb_safe(payload) is not payload:
        return None
    try:
        return json.dumps(payload, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def _normalize_staged(
    conn: sa.Connection,
    in_python: dict[int, Any],
    *,
    stores: dict[int, str | None],
    partition_key_for: Callable[[dt.datetime], str | None],
    context: str | None = None,
    sql_mapping: bool = True,
) -> NormalizationReport:
    """Map the rows in ``s_src`` (and the rows ``in_python``, by seq), write them, quarantine what cannot be."""
    staged = _map_staged(conn, in_python, stores=stores, partition_key_for=partition_key_for,
                         sql_mapping=sql_mapping)
    return _merge_staged(conn, staged, partition_key_for=partition_key_for, context=context)


@dataclass
class _Staged:
    """A batch mapped into the staging tables of its session, not yet merged."""

    in_python: dict[int, Any]
    rejected: list[tuple[Rejected, str | None]]
    unstaged: int


def _map_staged(
    conn: sa.Connection,
    in_python: dict[int, Any],
    *,
    stores: dict[int, str | None],
    partition_key_for: Callable[[dt.datetime], str | None],
    sql_mapping: bool = True,
) -> _Staged:
    """Map the rows in ``s_src`` (and ``in_python``) into the session's staging tables. Reads only ``s_src``
    and writes only temporary tables, so batches can be mapped at once in separate sessions."""
    create_staging(conn)
    unstaged = len(in_python)
    try:
        with conn.begin_nested():
            left = map_batch(conn, "s_src", stores) if sql_mapping else \
                [r[0] for r in conn.execute(sa.text("SELECT seq FROM s_src"))]
    except sa.exc.DBAPIError:  # the SQL mapping refused a value: the Python mapping takes the whole batch
        log.exception("mapping ShipStation orders in SQL failed; mapping the batch in Python")
        left = [r[0] for r in conn.execute(sa.text("SELECT seq FROM s_src"))]
    if left:
        for row in conn.execute(sa.text(
                "SELECT seq, raw_id AS shipstation_order_id, raw_modified_at AS source_modified_at, payload "
                "FROM s_src WHERE seq = ANY(CAST(:seqs AS bigint[]))"), {"seqs": left}):
            in_python[row.seq] = row
    rejected: list[tuple[Rejected, str | None]] = []
    mapped: list[tuple[int, CanonicalOrder]] = []
    for seq in sorted(in_python):
        row = in_python[seq]
        outcome = _map_row(row)
        if isinstance(outcome, Rejected):
            rejected.append((outcome, partition_key_for(row.source_modified_at)))
        else:
            mapped.append((seq, outcome))
    stage_orders(conn, mapped, stores)
    return _Staged(in_python, rejected, unstaged)


def _merge_staged(
    conn: sa.Connection,
    staged: _Staged,
    *,
    partition_key_for: Callable[[dt.datetime], str | None],
    context: str | None = None,
) -> NormalizationReport:
    """Merge a mapped batch into the normalized tables, quarantine what cannot be written, record versions."""
    in_python, rejected = staged.in_python, staged.rejected
    raw_records = conn.execute(sa.text("SELECT count(*) FROM s_src")).scalar_one() + staged.unstaged
    ids = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT source_order_id FROM s_orders ORDER BY 1"))]
    results, refused = write_isolating(conn, ids, lambda chunk: merge(conn, None if len(chunk) == len(ids)
                                                                      else list(chunk)))
    if refused:
        refused_ids = [i for i, _ in refused]
        raw = {r.raw_id: r for r in conn.execute(sa.text(
            "SELECT raw_id, raw_modified_at, payload FROM s_src WHERE raw_id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": refused_ids})}
        for row in in_python.values():
            if row.shipstation_order_id in refused_ids and row.shipstation_order_id not in raw:
                raw[row.shipstation_order_id] = _RawLike(row.shipstation_order_id, row.source_modified_at,
                                                          row.payload)
        for order_id, reason in refused:
            source = raw.get(order_id)
            rejected.append((Rejected(str(order_id), reason, source.payload if source else None),
                             partition_key_for(source.raw_modified_at) if source else None))
    quarantined = quarantine(conn, SOURCE, rejected)
    written = [str(i) for i in ids if i not in {i for i, _ in refused}]
    resolved = _resolve(conn, written)
    if context is not None:
        _record_versions(conn, context, [int(i) for i in written])
    quarantined_ids = [r.source_id for r, _ in rejected]
    if quarantined_ids:  # ids only: the reasons are in normalization_failures, and may quote customer data
        log.warning("quarantined %d %s orders (reasons in normalization_failures): %s", len(quarantined_ids),
                    SOURCE, ", ".join(quarantined_ids[:20]))
    report = NormalizationReport(raw_records=raw_records, batches=1, quarantined=quarantined, resolved=resolved,
                                 quarantined_ids=quarantined_ids, mapped_in_python=len(in_python))
    for part in results:
        report += part
    conn.execute(sa.text("DROP TABLE s_orders, s_items, s_tags, s_src"))
    return report


class _RawLike:
    def __init__(self, raw_id: Any, raw_modified_at: dt.datetime, payload: Any):
        self.raw_id, self.raw_modified_at, self.payload = raw_id, raw_modified_at, payload


def _map_row(row: Any) -> CanonicalOrder | Rejected:
    try:
        mapped = map_order(row.payload)
    except Exception as exc:  # a mapping bug on one record must not cost the batch: quarantine it
        log.exception("normalizing ShipStation order %s failed", row.shipstation_order_id)
        return Rejected(str(row.shipstation_order_id), f"could not be normalized ({type(exc).__name__})",
                        row.payload if isinstance(row.payload, dict) else None)
    if isinstance(mapped, Rejected):
        if mapped.source_id in ("None", "?"):
            mapped.source_id = str(row.shipstation_order_id)
        return mapped
    if mapped.source_order_id != row.shipstation_order_id:
        return Rejected(str(row.shipstation_order_id),
                        f"payload orderId {mapped.source_order_id} differs from the raw row's id", row.payload)
    return mapped


def _resolve(conn: sa.Connection, source_ids: list[str]) -> int:
    """Resolve the open failures of the orders written (one statement, whatever the batch size)."""
    if not source_ids:
        return 0
    return conn.execute(sa.text(
        "UPDATE normalization_failures SET resolved_at = now() WHERE source = :source AND resolved_at IS NULL "
        "AND source_id = ANY(CAST(:ids AS text[]))"), {"source": SOURCE, "ids": source_ids}).rowcount


def _record_versions(conn: sa.Connection, context: str, order_ids: list[int]) -> None:
    """Remember the payload version each written raw row was normalized at (see the module docstring), and when:
    reconciliation reconciles the marketplace records of orders normalized since it last looked at them."""
    if not order_ids:
        return
    conn.execute(sa.text("""
        INSERT INTO normalized_versions (source, source_id, fingerprint)
        SELECT :source, s.raw_id::text, md5(s.payload_sha256 || :context)
        FROM s_src s WHERE s.payload_sha256 IS NOT NULL AND s.raw_id = ANY(CAST(:ids AS bigint[]))
        ON CONFLICT (source, source_id) DO UPDATE SET fingerprint = excluded.fingerprint, normalized_at = now()"""),
        {"source": SOURCE, "context": context, "ids": order_ids})
