"""One batch of raw rows turned into records and written in one transaction, whatever cannot be used set aside.

Both drivers of the normalized stage (``shipstation_window``, ``reconcile/window``) map a batch of raw rows,
then write the records in one transaction: a record PostgreSQL refuses is isolated
(:func:`~y3d_pipeline.db.storable.write_isolating`), every rejected or refused record is quarantined with its
reason and partition, and the failures of records that now go through are resolved. No single record fails the
batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from y3d_pipeline.db.quarantine import quarantine, resolve
from y3d_pipeline.db.storable import write_isolating
from y3d_pipeline.normalized.records import Rejected

log = logging.getLogger(__name__)
R = TypeVar("R")
T = TypeVar("T")


@dataclass
class Written(Generic[T]):
    results: list[T]
    quarantined: int
    resolved: int
    quarantined_ids: list[str]


@dataclass
class Batch(Generic[R]):
    """The records mapped from a batch of raw rows (each with the raw row it came from) and the rejected ones."""

    source: str  # normalization_failures.source
    partition_key_for: Callable[[dt.datetime], str | None]
    records: list[R] = field(default_factory=list)
    raw_of: dict[Any, Any] = field(default_factory=dict)  # record key -> raw row (source_modified_at, payload)
    rejected: list[tuple[Rejected, str | None]] = field(default_factory=list)

    def add(self, key: Any, record: R, raw: Any) -> None:
        self.records.append(record)
        self.raw_of[key] = raw

    def reject(self, rejected: Rejected, modified_at: dt.datetime) -> None:
        self.rejected.append((rejected, self.partition_key_for(modified_at)))

    def write(self, conn: sa.Connection, write: Callable[[Sequence[R]], T], *, key_of: Callable[[R], Any],
              refused_reason: Callable[[str], str] = lambda reason: reason) -> Written[T]:
        """``write`` the records in ``conn``'s transaction (isolating what PostgreSQL refuses), quarantine what was
        rejected or refused, resolve the rest."""
        results, refused = write_isolating(conn, self.records, write)
        for record, reason in refused:
            raw = self.raw_of[key_of(record)]
            self.reject(Rejected(str(key_of(record)), refused_reason(reason), raw.payload), raw.source_modified_at)
        refused_ids = {id(record) for record, _ in refused}
        quarantined = quarantine(conn, self.source, self.rejected)
        resolved = resolve(conn, self.source, [str(key_of(r)) for r in self.records if id(r) not in refused_ids])
        ids = [r.source_id for r, _ in self.rejected]
        if ids:  # ids only: the reasons are in normalization_failures, and may quote customer data
            log.warning("quarantined %d %s orders (reasons in normalization_failures): %s", len(ids), self.source,
                        ", ".join(ids[:20]))
        return Written(results, quarantined, resolved, ids)
