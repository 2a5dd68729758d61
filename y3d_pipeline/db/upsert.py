"""The two pieces every set-based writer uses: the ``IS DISTINCT FROM`` guard that leaves unchanged rows
untouched (so a re-run changes nothing, ``updated_at`` included), and telling inserted rows from updated ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert, insert

# In ``RETURNING``: true for a row the statement inserted, false for one ON CONFLICT DO UPDATE changed.
INSERTED = sa.literal_column("xmax = 0").label("inserted")


def changed(stored: sa.Table, new: Any, columns: Iterable[str]) -> sa.ColumnElement[bool]:
    """Any of ``columns`` of the stored row differs from ``new[column]`` (``stmt.excluded``, or the values an
    UPDATE sets), NULLs compared as values."""
    cols = list(columns)
    return sa.tuple_(*[stored.c[c] for c in cols]).is_distinct_from(sa.tuple_(*[new[c] for c in cols]))


def upsert_if_changed(table: sa.Table, index_elements: Sequence[Any], columns: Sequence[str], *,
                      only_if: Callable[[Any], sa.ColumnElement[bool]] | None = None) -> Insert:
    """``INSERT … ON CONFLICT (index_elements) DO UPDATE SET columns…, updated_at = now()``, updating only a row
    whose ``columns`` differ (and for which ``only_if(excluded)`` holds). Add ``.values``/``.returning`` to it."""
    stmt = insert(table)
    guard = changed(table, stmt.excluded, columns)
    return stmt.on_conflict_do_update(
        index_elements=list(index_elements),
        set_={**{c: stmt.excluded[c] for c in columns}, "updated_at": sa.func.now()},
        where=guard if only_if is None else sa.and_(only_if(stmt.excluded), guard),
    )


def inserted_and_updated(rows: Sequence[Any]) -> tuple[int, int]:
    """(inserted, updated) among rows returned with :data:`INSERTED`."""
    inserted = sum(1 for row in rows if row.inserted)
    return inserted, len(rows) - inserted
