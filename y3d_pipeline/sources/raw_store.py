"""Upserting source records into the raw tables: by source id, never replacing newer with older.

Payloads are made storable first (``jsonb_safe``); a record PostgreSQL still refuses (an id beyond the
column's range, a missing modification time) is set aside in ``UpsertCounts.refused`` with the reason, for
the caller to quarantine, and the rest of the batch is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.counters import Counters, reported
from y3d_pipeline.db.quarantine import QuarantinedRecord, quarantine
from y3d_pipeline.db.storable import jsonb_safe, payload_sha256, write_isolating
from y3d_pipeline.db.upsert import INSERTED, inserted_and_updated

BATCH_SIZE = 1000
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class RefusedRecord:
    """A record PostgreSQL would not store: quarantined by the caller with ``reason``."""

    source_id: str
    reason: str
    payload: Any


@dataclass
class UpsertCounts(Counters):
    new: int = reported("records_new")
    changed: int = reported("records_changed")
    unchanged: int = reported("records_unchanged")  # same or older than what is stored
    refused: list[RefusedRecord] = reported("records_refused", default=list)
    quarantined: int = 0  # the fetch's unreadable records and the refused ones, in normalization_failures
    quarantined_ids: list[str] = reported(None, default=list)


def _newest_per_key(rows: Iterable[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    newest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        current = newest.get(row[key])
        if current is None or (row["source_modified_at"] or _NEVER) >= (current["source_modified_at"] or _NEVER):
            newest[row[key]] = dict(row)
    return list(newest.values())


def upsert_raw_records(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    fetched_at: dt.datetime,
) -> UpsertCounts:
    """Insert or update ``rows`` (dicts of column values incl. ``payload`` and ``source_modified_at``).

    A stored row is replaced only by a strictly newer modification time, or by the same time with a
    different payload (a later fetch of the same version). Duplicates within ``rows`` (pages that
    overlap) keep the newest. Runs in the caller's transaction; records PostgreSQL refuses come back in
    ``refused`` (the others are written).
    """
    (key_column,) = [c.name for c in table.primary_key.columns]
    prepared = []
    for row in _newest_per_key(rows, key_column):
        # Source text is untrusted: a NUL anywhere would make PostgreSQL reject the whole batch.
        row = {column: jsonb_safe(value) for column, value in row.items()}
        row["payload_sha256"] = payload_sha256(row["payload"])
        row["fetched_at"] = fetched_at
        prepared.append(row)
    counts = UpsertCounts()
    stored = table.c

    def write(batch: list[dict[str, Any]]) -> UpsertCounts:
        stmt = insert(table).values(batch)
        updatable = {c: stmt.excluded[c] for c in batch[0] if c not in (key_column, "first_fetched_at")}
        stmt = stmt.on_conflict_do_update(
            index_elements=[key_column],
            set_=updatable,
            where=sa.or_(
                stored.source_modified_at < stmt.excluded.source_modified_at,
                sa.and_(
                    stored.source_modified_at == stmt.excluded.source_modified_at,
                    stored.payload_sha256 != stmt.excluded.payload_sha256,
                ),
            ),
        ).returning(table.c[key_column], INSERTED)
        written = conn.execute(stmt).all()
        inserted, updated = inserted_and_updated(written)
        return UpsertCounts(new=inserted, changed=updated, unchanged=len(batch) - len(written))

    for start in range(0, len(prepared), BATCH_SIZE):
        results, refused = write_isolating(conn, prepared[start:start + BATCH_SIZE], write)
        for result in results:
            counts += result
        counts.refused += [RefusedRecord(str(row[key_column]), reason, row.get("payload"))
                           for row, reason in refused]
    return counts


def store_raw_records(conn: sa.Connection, table: sa.Table, rows: Iterable[Mapping[str, Any]], *,
                      unreadable: Sequence[QuarantinedRecord], source: str, fetched_at: dt.datetime,
                      partition_key: str | None) -> UpsertCounts:
    """A fetch's records into their raw table (:func:`upsert_raw_records`), and what cannot be kept into the
    quarantine under ``source`` with the run's partition: the records the fetch could not read
    (``unreadable``) and those PostgreSQL refused."""
    counts = upsert_raw_records(conn, table, rows, fetched_at=fetched_at)
    rejected = [*unreadable, *counts.refused]
    counts.quarantined = quarantine(conn, source, [(record, partition_key) for record in rejected])
    counts.quarantined_ids = [record.source_id for record in rejected]
    return counts
