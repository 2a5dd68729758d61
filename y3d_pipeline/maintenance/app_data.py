"""Retention for the application database: raw payloads, ai_calls, resolved quarantine rows (a documented policy).

Plain module. What goes, and why it is safe:

* ``raw_shipstation_orders``, ``raw_shopify_orders``, ``raw_amazon_orders``: one row per source order, upserted
  by every sync, so they grow with orders, not runs. A row is deleted when the source last changed it more
  than ``raw_max_age_days`` ago **and** its order is closed (shipped or cancelled) or gone. Open orders keep
  their raw record whatever its age (an order on hold for two years still prints right). Re-running an old
  partition fetches its records from the source again (raw assets read the API, not these tables), except
  what the source itself no longer serves (Shopify serves orders older than 60 days only to apps with
  ``read_all_orders``).
* ``raw_shipstation_shipments``: shipments whose ship date is older than ``raw_max_age_days``.
* ``ai_calls``: calls older than ``ai_calls_max_age_days`` whose order is closed or gone. They are the AI's
  audit trail and the cache that saves paying twice for the same inputs; an open order's calls are kept.
* ``normalization_failures``: rows resolved more than ``resolved_failures_max_age_days`` ago.

Nothing in ``orders``, ``order_items``, ``print_tasks``, ``customers``, ``products`` or
``amazon_customizations`` is ever deleted by retention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

SIZED_TABLES = ("raw_shipstation_orders", "raw_shopify_orders", "raw_amazon_orders", "raw_shipstation_shipments",
                "ai_calls", "normalization_failures", "orders", "order_items", "print_tasks", "amazon_customizations")


@dataclass(frozen=True)
class AppRetentionPolicy:
    raw_max_age_days: int = 400
    ai_calls_max_age_days: int = 400
    resolved_failures_max_age_days: int = 90


# table → which of its rows (alias r) go; no condition ever takes a row an open order still refers to
_RULES: dict[str, str] = {
    "raw_shipstation_orders": ("""r.source_modified_at < :raw_cutoff AND NOT EXISTS (
        SELECT 1 FROM orders o WHERE o.shipstation_order_id = r.shipstation_order_id
          AND COALESCE(o.status, '') NOT IN ('shipped', 'cancelled'))"""),
    "raw_shopify_orders": ("""r.source_modified_at < :raw_cutoff AND NOT EXISTS (
        SELECT 1 FROM orders o WHERE o.shopify_order_id = r.shopify_order_id
          AND COALESCE(o.status, '') NOT IN ('shipped', 'cancelled'))"""),
    "raw_amazon_orders": ("""r.source_modified_at < :raw_cutoff AND NOT EXISTS (
        SELECT 1 FROM orders o WHERE (o.amazon_order_id = r.amazon_order_id OR
                                      (o.marketplace = 'amazon' AND o.order_number = r.amazon_order_id))
          AND COALESCE(o.status, '') NOT IN ('shipped', 'cancelled'))"""),
    "raw_shipstation_shipments": ("r.ship_date < CAST(:raw_cutoff AS date)"),
    "ai_calls": ("""r.created_at < :ai_cutoff AND NOT EXISTS (
        SELECT 1 FROM orders o WHERE o.id = r.order_id AND COALESCE(o.status, '') NOT IN ('shipped', 'cancelled'))"""),
    "normalization_failures": ("r.resolved_at IS NOT NULL AND r.resolved_at < :failures_cutoff"),
}


def prune_app_data(engine: sa.Engine, policy: AppRetentionPolicy, *, now: dt.datetime,
                   dry_run: bool = False) -> dict[str, int]:
    """Rows deleted (or, with ``dry_run``, that would be) per table; one transaction per table."""
    params = {"raw_cutoff": now - dt.timedelta(days=policy.raw_max_age_days),
              "ai_cutoff": now - dt.timedelta(days=policy.ai_calls_max_age_days),
              "failures_cutoff": now - dt.timedelta(days=policy.resolved_failures_max_age_days)}
    deleted: dict[str, int] = {}
    for table, condition in _RULES.items():
        with engine.begin() as conn:
            if dry_run:
                sql = f"SELECT count(*) FROM {table} r WHERE {condition}"  # noqa: S608 - constant names
                deleted[table] = int(conn.execute(sa.text(sql), params).scalar_one())
            else:
                sql = f"DELETE FROM {table} r WHERE {condition}"  # noqa: S608 - constant names
                deleted[table] = conn.execute(sa.text(sql), params).rowcount or 0
    return deleted


def app_sizes(engine: sa.Engine) -> dict[str, int]:
    """Bytes of the application database and of its biggest tables."""
    with engine.connect() as conn:
        sizes = {"app_db_bytes": int(conn.execute(sa.text("SELECT pg_database_size(current_database())"))
                                     .scalar_one())}
        present = set(sa.inspect(conn).get_table_names())
        for name in SIZED_TABLES:
            if name in present:
                sizes[f"{name}_bytes"] = int(conn.execute(
                    sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name}).scalar_one())
    return sizes


def vacuum_app_tables(engine: sa.Engine, tables: list[str]) -> None:
    """VACUUM (ANALYZE) the tables rows were deleted from, so PostgreSQL reuses the space at once."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in tables:
            if name in _RULES:
                conn.execute(sa.text(f'VACUUM (ANALYZE) "{name}"'))
