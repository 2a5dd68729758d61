"""Upserting source records into the raw tables: by source id, never replacing newer with older."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

BATCH_SIZE = 1000


def jsonb_safe(value: Any) -> Any:
    """``value`` made storable as PostgreSQL text/jsonb: NUL characters removed from every string and
    non-finite floats (NaN, Infinity: not JSON) replaced by their text; the same object when nothing changes."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        cleaned = {jsonb_safe(k): jsonb_safe(v) for k, v in value.items()}
        return value if all(a is b for a, b in zip(cleaned.values(), value.values(), strict=True)) \
            and all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    if isinstance(value, list):
        cleaned_list = [jsonb_safe(v) for v in value]
        return value if all(a is b for a, b in zip(cleaned_list, value, strict=True)) else cleaned_list
    return value


def payload_sha256(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class UpsertCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0  # same or older than what is stored

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        return self

    def as_metadata(self) -> dict[str, int]:
        return {"records_new": self.new, "records_changed": self.changed, "records_unchanged": self.unchanged}


def _newest_per_key(rows: Iterable[Mapping[str, Any]], key: str) -> list[dict[str, Any]]:
    newest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        current = newest.get(row[key])
        if current is None or row["source_modified_at"] >= current["source_modified_at"]:
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
    overlap) keep the newest. Runs in the caller's transaction.
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
    for start in range(0, len(prepared), BATCH_SIZE):
        batch = prepared[start:start + BATCH_SIZE]
        stmt = insert(table).values(batch)
        updatable = {c: stmt.excluded[c] for c in batch[0] if c not in (key_column, "first_fetched_at")}
        stored = table.c
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
        ).returning(table.c[key_column], sa.literal_column("xmax = 0").label("inserted"))
        written = conn.execute(stmt).all()
        inserted = sum(1 for row in written if row.inserted)
        counts.new += inserted
        counts.changed += len(written) - inserted
        counts.unchanged += len(batch) - len(written)
    return counts
