"""The quarantine: ``normalization_failures``, where every stage sets aside a record it cannot use, with why.

One row per (source, source id). A fetch that cannot read a record, a raw upsert PostgreSQL refuses, a
normalization or reconciliation that rejects a payload: all call :func:`quarantine`, and a record that later
goes through is :func:`resolve`\\ d. The data-quality checks and the alerts read what is still open
(:func:`open_failures`); a person accepts a record as it is by setting ``acknowledged_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.db.models import NormalizationFailure
from y3d_pipeline.db.storable import jsonb_safe

failures_t = NormalizationFailure.__table__
MAX_REASON = 2000


class QuarantinedRecord(Protocol):
    """What quarantine needs of a record: ``Rejected`` (normalization), ``InvalidRecord`` (fetch),
    ``RefusedRecord`` (raw upsert)."""

    source_id: str
    reason: str
    payload: Any


def quarantine(conn: sa.Connection, source: str, rejected: Sequence[tuple[QuarantinedRecord, str | None]]) -> int:
    """Record failures, each with the partition it belongs to; returns how many rows (one per source id).

    A repeat bumps ``occurrences`` and re-opens a resolved failure. An acknowledgement is kept only while the
    reason stays the same: a person accepted *that* problem, not whatever the record does next. Ids, reasons
    and payloads are made storable first (``jsonb_safe``), so the record that could not be stored elsewhere
    can be stored here."""
    if not rejected:
        return 0
    rows = {}
    for record, partition_key in rejected:
        rows[record.source_id] = {"source": source, "source_id": jsonb_safe(str(record.source_id)),
                                  "partition_key": partition_key, "reason": jsonb_safe(record.reason)[:MAX_REASON],
                                  "payload": jsonb_safe(record.payload)}
    stmt = insert(failures_t)
    f = failures_t.c
    same_reason = f.reason == stmt.excluded.reason
    stmt = stmt.on_conflict_do_update(
        index_elements=["source", "source_id"],
        set_={
            "partition_key": stmt.excluded.partition_key,
            "reason": stmt.excluded.reason,
            "payload": stmt.excluded.payload,
            "occurrences": f.occurrences + 1,
            "last_seen_at": sa.func.now(),
            "resolved_at": None,
            "acknowledged_at": sa.case((same_reason, f.acknowledged_at), else_=None),
            "acknowledged_by": sa.case((same_reason, f.acknowledged_by), else_=None),
        },
    )
    conn.execute(stmt, list(rows.values()))
    return len(rows)


def resolve(conn: sa.Connection, source: str, source_ids: list[str], *, at: dt.datetime | None = None) -> int:
    """Mark the open failures of records that now go through as resolved; returns how many."""
    if not source_ids:
        return 0
    result = conn.execute(
        failures_t.update()
        .where(failures_t.c.source == source, failures_t.c.resolved_at.is_(None),
               failures_t.c.source_id.in_(source_ids))
        .values(resolved_at=at or sa.func.now())
    )
    return max(result.rowcount, 0)


def open_failures(conn: sa.Connection, partition_keys: Sequence[str], *, source: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    """Unresolved, unacknowledged failures of the given partitions (of one ``source``, or of every source),
    by partition, source and id."""
    if not partition_keys:
        return []
    f = failures_t.c
    stmt = (sa.select(f.source, f.source_id, f.partition_key, f.reason)
            .where(f.resolved_at.is_(None), f.acknowledged_at.is_(None), f.partition_key.in_(list(partition_keys)))
            .order_by(f.partition_key, f.source, f.source_id).limit(limit))
    if source is not None:
        stmt = stmt.where(f.source == source)
    return [dict(r) for r in conn.execute(stmt).mappings()]
