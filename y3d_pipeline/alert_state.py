"""De-duplication of alerts: a condition already reported is not posted again until it changes.

Plain module over the ``alert_state`` table. A caller observes the current conditions (key → fingerprint,
members), asks :func:`to_report` which of them are new or changed, posts one message for those, and then
:func:`mark_reported` (only after a successful post, so a failed post is tried again next tick). Conditions
no longer present are :func:`clear`-ed (their "resolved" message is the caller's choice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.db.models import AlertState

table = AlertState.__table__
FORGET_AFTER = dt.timedelta(days=7)


@dataclass
class Condition:
    key: str
    kind: str
    fingerprint: str
    members: list[Any] = field(default_factory=list)
    summary: str | None = None
    only_new_members: bool = False
    """Report only when members appear that were not reported before (a shrinking list is not news)."""


def known(conn: sa.Connection, *, kind: str | None = None, keys: Iterable[str] | None = None) -> dict[str, dict]:
    query = sa.select(table)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    if keys is not None:
        query = query.where(table.c.key.in_(sorted(set(keys))))
    return {row["key"]: dict(row) for row in conn.execute(query).mappings()}


def to_report(conn: sa.Connection, conditions: Iterable[Condition]) -> list[Condition]:
    """The conditions never reported, or reported with another fingerprint (or, with ``only_new_members``,
    now holding members not reported before). Marks all of them as seen now."""
    conditions = list(conditions)
    if not conditions:
        return []
    previous = known(conn, keys=[c.key for c in conditions])
    conn.execute(sa.update(table).where(table.c.key.in_([c.key for c in conditions]))
                 .values(last_seen_at=sa.func.now()))
    changed = []
    for condition in conditions:
        before = previous.get(condition.key)
        if before is None:
            changed.append(condition)
        elif condition.only_new_members:
            reported = {str(m) for m in before.get("members") or []}
            if any(str(m) not in reported for m in condition.members):
                changed.append(condition)
        elif before["fingerprint"] != condition.fingerprint:
            changed.append(condition)
    return changed


def mark_reported(conn: sa.Connection, conditions: Iterable[Condition]) -> None:
    rows = [{"key": c.key, "kind": c.kind, "fingerprint": c.fingerprint, "members": list(c.members),
             "summary": c.summary} for c in conditions]
    if not rows:
        return
    stmt = insert(table)
    conn.execute(stmt.on_conflict_do_update(index_elements=[table.c.key], set_={
        "kind": stmt.excluded.kind, "fingerprint": stmt.excluded.fingerprint, "members": stmt.excluded.members,
        "summary": stmt.excluded.summary, "last_reported_at": sa.func.now(), "last_seen_at": sa.func.now()}), rows)


def clear(conn: sa.Connection, keys: Iterable[str]) -> list[str]:
    """Forget conditions that no longer hold; returns the keys that had been reported."""
    keys = sorted(set(keys))
    if not keys:
        return []
    return list(conn.execute(table.delete().where(table.c.key.in_(keys)).returning(table.c.key)).scalars())


def clear_absent(conn: sa.Connection, kind: str, present: Iterable[str]) -> list[str]:
    """Forget every condition of ``kind`` not in ``present``; returns their keys."""
    absent = set(known(conn, kind=kind)) - set(present)
    return clear(conn, absent)


def forget_unseen(conn: sa.Connection, *, now: dt.datetime, older_than: dt.timedelta = FORGET_AFTER) -> int:
    """Drop conditions nobody has observed for a while (e.g. a check of a partition that never re-runs)."""
    return conn.execute(table.delete().where(table.c.last_seen_at < now - older_than)).rowcount or 0


def counts_by_kind(conn: sa.Connection) -> Mapping[str, int]:
    return dict(conn.execute(sa.select(table.c.kind, sa.func.count()).group_by(table.c.kind)).all())
