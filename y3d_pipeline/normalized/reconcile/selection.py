"""Which marketplace records a window of reconciliation covers (:func:`marketplace_refs`):

* raw Shopify / Amazon orders with ``start <= source_modified_at < end``;
* the marketplace records of ShipStation orders of marketplace ``web`` / ``amazon`` modified in the window
  (ShipStation normalization of the same window has just rewritten their options and prices from
  ShipStation; this puts the marketplace's values back and picks up a ShipStation order that arrived after
  its marketplace record);
* the marketplace records of every marketplace-only row that now has a ShipStation order with the same
  marketplace + order number (whatever its day), so the two converge to one row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import Order, RawAmazonOrder, RawShopifyOrder
from y3d_pipeline.normalized.reconcile.marketplace import AMAZON, MARKETPLACE_OF, SHOPIFY

orders_t = Order.__table__
# raw table and its key column (the same name as the orders column holding the marketplace id)
RAW = {SHOPIFY: (RawShopifyOrder.__table__, "shopify_order_id"), AMAZON: (RawAmazonOrder.__table__, "amazon_order_id")}


def marketplace_refs(conn: sa.Connection, start: dt.datetime, end: dt.datetime) -> dict[str, list[Any]]:
    """Ids of the raw Shopify / Amazon records the window reconciles, per source (see the module docstring)."""
    return {source: _refs(conn, source, start, end) for source in (SHOPIFY, AMAZON)}


def _refs(conn: sa.Connection, source: str, start: dt.datetime, end: dt.datetime) -> list[Any]:
    raw, key = RAW[source]
    o, twin = orders_t, orders_t.alias("twin")
    # the raw record of a ShipStation order: Shopify's name is "#" + the order number, Amazon's id is it
    raw_of_order = (raw.c.order_name == sa.literal("#").op("||")(o.c.order_number) if source == SHOPIFY
                    else raw.c.amazon_order_id == o.c.order_number)
    changed_in_window = sa.select(raw.c[key]).where(raw.c.source_modified_at >= start, raw.c.source_modified_at < end)
    shipstation_changed = (
        sa.select(raw.c[key]).select_from(o.join(raw, raw_of_order))
        .where(o.c.marketplace == MARKETPLACE_OF[source], o.c.shipstation_order_id.is_not(None),
               o.c.modified_at >= start, o.c.modified_at < end))
    orphans_with_a_twin = sa.select(o.c[key]).where(
        o.c.shipstation_order_id.is_(None), o.c[key].is_not(None),
        sa.exists().where(twin.c.marketplace == o.c.marketplace, twin.c.order_number == o.c.order_number,
                          twin.c.shipstation_order_id.is_not(None)),
        sa.exists().where(raw.c[key] == o.c[key]))
    return sorted(conn.execute(sa.union(changed_in_window, shipstation_changed, orphans_with_a_twin)).scalars())


def load_raw(conn: sa.Connection, source: str, ids: list[Any]) -> list[Any]:
    """The raw rows (``source_id, source_modified_at, payload``) of ``ids``, by id."""
    raw, key = RAW[source]
    return conn.execute(sa.select(raw.c[key].label("source_id"), raw.c.source_modified_at, raw.c.payload)
                        .where(raw.c[key].in_(ids)).order_by(raw.c[key])).all()
