"""Data-quality findings (the legacy ``cleanup.ts find-inconsistencies`` and backup fixers), as plain SQL.

Plain module (no Dagster imports): each function takes a SQLAlchemy connection and returns the offending
rows as dicts naming the order (``order_id``, ``order_number``, ``marketplace``) and what is wrong
(``detail``). The thin asset checks in ``y3d_pipeline.defs.automation.quality_checks`` turn a non-empty
result into a failed WARN check whose metadata lists the orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.business_hours import BusinessHours
from y3d_pipeline.normalized.reconcile.report import AMBIGUOUS, MATCHED, PAIRED_ITEM_STATUSES

OPEN_ORDER_STATUSES = ("awaiting_shipment", "on_hold")
CLOSED_ORDER_STATUSES = ("shipped", "cancelled")
OPEN_TASK_STATUSES = ("pending", "in_progress")
# orders.reconciliation_status values that mean "the sources agree"; anything else (or NULL) on an order
# that two or more sources reported is a finding.
RECONCILED_STATUSES = (MATCHED,)
DEFAULT_GRACE = dt.timedelta(hours=2)
DEFAULT_MAX_SYNC_AGE = dt.timedelta(minutes=30)
MAX_ROWS = 500
# The freshness checks (one per source); the name predates Y3D_MAX_SYNC_AGE_MINUTES, kept because operators know it.
FRESHNESS_CHECK_NAME = "synced_in_last_30_minutes"

# An item "has personalization" when it carries a non-private option with a value, or an Amazon Custom file.
AWAITING_WITHOUT_TASKS_SQL = """
SELECT o.id AS order_id, o.order_number, o.marketplace, o.status,
       count(*) AS items_without_tasks, min(o.created_at) AS first_seen_at
FROM orders o JOIN order_items oi ON oi.order_id = o.id
WHERE o.status IN :open_statuses AND o.created_at < :cutoff AND (
      EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(oi.options) = 'array'
                                                      THEN oi.options ELSE '[]'::jsonb END) AS opt
              WHERE COALESCE(opt->>'name', '') <> '' AND left(opt->>'name', 1) <> '_'
                AND btrim(COALESCE(opt->>'value', '')) <> '')
      OR EXISTS (SELECT 1 FROM amazon_customizations ac WHERE ac.order_item_id = oi.id)
  )
  AND NOT EXISTS (SELECT 1 FROM print_tasks pt WHERE pt.order_item_id = oi.id)
GROUP BY o.id, o.order_number, o.marketplace, o.status
ORDER BY o.id LIMIT :max_rows
"""

OPEN_TASKS_ON_CLOSED_ORDERS_SQL = """
SELECT o.id AS order_id, o.order_number, o.marketplace, o.status,
       count(*) AS open_tasks, string_agg(DISTINCT pt.status, ',') AS task_statuses
FROM print_tasks pt JOIN orders o ON o.id = pt.order_id
WHERE pt.status IN :open_task_statuses AND o.status IN :closed_statuses
GROUP BY o.id, o.order_number, o.marketplace, o.status
ORDER BY o.id LIMIT :max_rows
"""

TASK_QUANTITY_MISMATCH_SQL = """
SELECT o.id AS order_id, o.order_number, o.marketplace, oi.id AS order_item_id, oi.sku,
       oi.quantity AS item_quantity, sum(pt.quantity) AS task_quantity
FROM order_items oi JOIN orders o ON o.id = oi.order_id
JOIN print_tasks pt ON pt.order_item_id = oi.id AND pt.status <> 'cancelled'
GROUP BY o.id, o.order_number, o.marketplace, oi.id, oi.sku, oi.quantity
HAVING sum(pt.quantity) <> oi.quantity
ORDER BY o.id, oi.id LIMIT :max_rows
"""

CUSTOMIZED_URL_UNPARSED_SQL = r"""
SELECT o.id AS order_id, o.order_number, o.marketplace, oi.id AS order_item_id,
       COALESCE(oi.amazon_order_item_id, oi.line_item_key) AS amazon_order_item_id, o.ship_by_date,
       ac.status AS customization_status, ac.error AS customization_error
FROM order_items oi JOIN orders o ON o.id = oi.order_id
LEFT JOIN LATERAL (
    SELECT c.status, c.error FROM amazon_customizations c
    WHERE c.order_item_id = oi.id
       OR (c.amazon_order_item_id = COALESCE(oi.amazon_order_item_id, oi.line_item_key)
           AND c.amazon_order_id = COALESCE(o.amazon_order_id, o.order_number))
    ORDER BY (c.status = 'processed') DESC LIMIT 1
) ac ON true
WHERE EXISTS (
    SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(oi.options) = 'array'
                                            THEN oi.options ELSE '[]'::jsonb END) AS opt
    WHERE lower(regexp_replace(COALESCE(opt->>'name', ''), '\s', '', 'g')) = 'customizedurl'
      AND btrim(COALESCE(opt->>'value', '')) <> '') AND o.created_at < :cutoff AND o.status NOT IN :closed_statuses
  AND (ac.status IS NULL OR ac.status <> 'processed')
  AND (CAST(:ship_by_before AS timestamptz) IS NULL OR o.ship_by_date < :ship_by_before)
ORDER BY o.id, oi.id LIMIT :max_rows
"""

# A split order reconciled correctly: ShipStation holds the marketplace order as two or more orders with the
# same number (reconciliation marks every part ``ambiguous``) and every line of every part was paired with
# certainty. Nothing is wrong with it; anything else ambiguous (lines paired among several candidates, a line
# without a partner) still is.
CLEAN_SPLIT_SQL = """(
    o.reconciliation_status = :ambiguous AND o.shipstation_order_id IS NOT NULL
    AND EXISTS (SELECT 1 FROM orders part WHERE part.id <> o.id AND part.shipstation_order_id IS NOT NULL
                  AND part.marketplace IS NOT DISTINCT FROM o.marketplace AND part.order_number = o.order_number)
    AND NOT EXISTS (SELECT 1 FROM orders part JOIN order_items pi ON pi.order_id = part.id
                    WHERE part.shipstation_order_id IS NOT NULL
                      AND part.marketplace IS NOT DISTINCT FROM o.marketplace AND part.order_number = o.order_number
                      AND (pi.reconciliation_status IS NULL OR pi.reconciliation_status NOT IN :paired)))"""

CLEAN_SPLITS_AMONG_SQL = f"SELECT o.id FROM orders o WHERE o.id IN :order_ids AND {CLEAN_SPLIT_SQL}"  # noqa: S608

UNRECONCILED_ORDERS_SQL = f"""
SELECT o.id AS order_id, o.order_number, o.marketplace,
       'sources ' || o.sources::text || ' reconciliation_status ' || COALESCE(o.reconciliation_status, 'NULL')
           AS detail
FROM orders o
WHERE jsonb_typeof(o.sources) = 'array' AND jsonb_array_length(o.sources) >= 2
  AND (o.reconciliation_status IS NULL OR o.reconciliation_status NOT IN :reconciled)
  AND NOT {CLEAN_SPLIT_SQL}
UNION ALL
SELECT o.id, o.order_number, o.marketplace,
       'same order number as order id(s) ' || string_agg(other.id::text, ',' ORDER BY other.id) AS detail
FROM orders o JOIN orders other
  ON other.id <> o.id AND ltrim(other.order_number, '#') = ltrim(o.order_number, '#')
 AND COALESCE(other.marketplace, '') = COALESCE(o.marketplace, '')
 AND (other.shipstation_order_id IS NULL) <> (o.shipstation_order_id IS NULL)
WHERE o.order_number IS NOT NULL AND o.order_number <> ''
GROUP BY o.id, o.order_number, o.marketplace
ORDER BY 1 LIMIT :max_rows
"""  # noqa: S608 - built from constant SQL fragments

REVIEW_BACKLOG_SQL = """
SELECT count(*) AS tasks, count(DISTINCT pt.order_id) AS orders, min(pt.created_at) AS oldest_created_at,
       min(pt.ship_by_date) AS earliest_ship_by
FROM print_tasks pt WHERE pt.needs_review AND pt.status = 'pending'
"""

REVIEW_REASONS_SQL = """
SELECT COALESCE(NULLIF(left(btrim(split_part(pt.review_reason, ';', 1)), 80), ''), 'no reason given') AS reason,
       count(*) AS tasks
FROM print_tasks pt WHERE pt.needs_review AND pt.status = 'pending'
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5
"""

QUARANTINED_RECORDS_SQL = """
SELECT nf.source, nf.source_id, nf.partition_key, nf.reason, nf.occurrences, nf.first_seen_at,
       nf.acknowledged_at IS NOT NULL AS acknowledged
FROM normalization_failures nf
WHERE nf.resolved_at IS NULL
ORDER BY nf.first_seen_at, nf.id LIMIT :max_rows
"""


def _rows(conn: sa.Connection, sql: str, params: Mapping[str, Any], expanding: Iterable[str] = ()) -> list[dict]:
    statement = sa.text(sql).bindparams(*(sa.bindparam(name, expanding=True) for name in expanding))
    return [dict(r) for r in conn.execute(statement, {"max_rows": MAX_ROWS, **params}).mappings()]


def awaiting_orders_without_tasks(conn: sa.Connection, *, now: dt.datetime,
                                  grace: dt.timedelta = DEFAULT_GRACE) -> list[dict]:
    """Orders awaiting shipment/on hold, first seen more than ``grace`` ago, with a personalised item that
    has no print task at all (the legacy find-orders-without-print-tasks)."""
    return _rows(conn, AWAITING_WITHOUT_TASKS_SQL,
                 {"open_statuses": list(OPEN_ORDER_STATUSES), "cutoff": now - grace}, ["open_statuses"])


def open_tasks_on_closed_orders(conn: sa.Connection) -> list[dict]:
    """Pending/in-progress tasks whose order has shipped or was cancelled (legacy fix-pending-tasks)."""
    return _rows(conn, OPEN_TASKS_ON_CLOSED_ORDERS_SQL,
                 {"open_task_statuses": list(OPEN_TASK_STATUSES), "closed_statuses": list(CLOSED_ORDER_STATUSES)},
                 ["open_task_statuses", "closed_statuses"])


def task_quantity_mismatches(conn: sa.Connection) -> list[dict]:
    """Items whose (non-cancelled) tasks' quantities do not add up to the ordered quantity."""
    return _rows(conn, TASK_QUANTITY_MISMATCH_SQL, {})


def customized_url_without_customization(conn: sa.Connection, *, now: dt.datetime,
                                         grace: dt.timedelta = DEFAULT_GRACE,
                                         ship_by_before: dt.datetime | None = None) -> list[dict]:
    """Open items with an Amazon ``CustomizedURL`` option but no processed customization (missing, pending,
    failed or rejected) after the grace period (legacy find-amazon-orders-needing-personalization); with
    ``ship_by_before``, only orders that must ship before then."""
    return _rows(conn, CUSTOMIZED_URL_UNPARSED_SQL,
                 {"cutoff": now - grace, "closed_statuses": list(CLOSED_ORDER_STATUSES),
                  "ship_by_before": ship_by_before}, ["closed_statuses"])


def unreconciled_orders(conn: sa.Connection, *, reconciled: Iterable[str] = RECONCILED_STATUSES) -> list[dict]:
    """Orders two sources reported whose reconciliation_status is not a reconciled one (``unmatched``,
    ``ambiguous``, ...), and a marketplace-only row whose order number also exists as a ShipStation row in the
    same marketplace (the two were never merged). A split ShipStation order whose lines were all paired with
    certainty is handled correctly and is not a finding (see CLEAN_SPLIT_SQL)."""
    return _rows(conn, UNRECONCILED_ORDERS_SQL, {"reconciled": list(reconciled), "paired": list(PAIRED_ITEM_STATUSES),
                                                 "ambiguous": AMBIGUOUS}, ["reconciled", "paired"])


def clean_split_orders(conn: sa.Connection, order_ids: Iterable[int]) -> set[int]:
    """Which of ``order_ids`` are split orders reconciled correctly (see CLEAN_SPLIT_SQL)."""
    ids = sorted({int(i) for i in order_ids if i is not None})
    if not ids:
        return set()
    statement = sa.text(CLEAN_SPLITS_AMONG_SQL).bindparams(sa.bindparam("order_ids", expanding=True),
                                                          sa.bindparam("paired", expanding=True))
    return set(conn.execute(statement, {"order_ids": ids, "paired": list(PAIRED_ITEM_STATUSES),
                                        "ambiguous": AMBIGUOUS}).scalars())


def review_backlog(conn: sa.Connection) -> dict[str, Any]:
    """Pending print tasks waiting for a person's review: how many, on how many orders, the oldest, the
    earliest ship-by date and the most common reasons."""
    row = dict(conn.execute(sa.text(REVIEW_BACKLOG_SQL)).mappings().one())
    row["reasons"] = {r["reason"]: r["tasks"] for r in conn.execute(sa.text(REVIEW_REASONS_SQL)).mappings()}
    return row


def quarantined_records(conn: sa.Connection, *, include_acknowledged: bool = False) -> list[dict]:
    """Unresolved normalization failures; acknowledged ones only when asked."""
    rows = _rows(conn, QUARANTINED_RECORDS_SQL, {})
    return rows if include_acknowledged else [r for r in rows if not r["acknowledged"]]


def stale_sources(latest_sync: Mapping[str, dt.datetime | None], *, now: dt.datetime,
                  max_age: dt.timedelta = DEFAULT_MAX_SYNC_AGE,
                  business_hours: BusinessHours | None = None) -> list[dict]:
    """Configured sources whose last successful sync is older than ``max_age`` (or never happened).

    With business hours, only open time counts: syncs pause outside the window, so a sync at 19:55 is
    still fresh at 08:10 the next morning with 08:00-20:00 hours (15 open minutes)."""
    stale = []
    for source, at in sorted(latest_sync.items()):
        if at is None:
            stale.append({"source": source, "last_success_at": None, "age_minutes": None})
            continue
        age = (now - at).total_seconds() / 60
        counted = business_hours.open_minutes_between(at, now) if business_hours else age
        if counted > max_age.total_seconds() / 60:
            stale.append({"source": source, "last_success_at": at.isoformat(), "age_minutes": round(age, 1)})
    return stale


def order_refs(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Distinct order numbers (else ``id:<order_id>``) in first-seen order, for metadata and alerts."""
    refs = []
    for row in rows:
        if "order_id" in row:
            refs.append(str(row.get("order_number") or f"id:{row['order_id']}"))
        elif "source_id" in row:
            refs.append(f"{row['source']}:{row['source_id']}")
        elif "source" in row:
            refs.append(str(row["source"]))
    return list(dict.fromkeys(refs))
