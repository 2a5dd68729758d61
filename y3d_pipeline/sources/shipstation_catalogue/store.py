"""ShipStation catalogue and stock → the database (plain module, no Dagster), in the caller's transaction.

* :func:`store_raw`: any of the five endpoints' records into ``raw_shipstation_catalogue`` (``<kind>:<id>``), never
  replacing a newer version with an older one; what cannot be kept is quarantined (source ``shipstation_catalogue``).
* :func:`upsert_ship_from_warehouses`, :func:`upsert_inventory_warehouses`: ``warehouses`` (kind ``ship_from`` /
  ``inventory``); :func:`upsert_inventory_locations`: ``inventory_locations``.
* :func:`upsert_catalogue_products`: the catalogue's price, cost, active flag, category and type onto ``products``
  by trimmed SKU (a new SKU becomes a product); the name only where the stored one is a placeholder.
* :func:`sync_inventory_levels`: ``inventory_levels`` set to what ShipStation lists, each change a row of
  ``inventory_level_history``; a level ShipStation no longer lists is removed only after a complete read.
* :func:`stock_findings`: negative or impossible levels (the asset check's findings).
Every write leaves unchanged rows untouched (``IS DISTINCT FROM``), so a re-run writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.counters import Counters, reported
from y3d_pipeline.db.models import (
    InventoryLevel,
    InventoryLevelHistory,
    InventoryLocation,
    Product,
    RawShipstationCatalogue,
    Warehouse,
)
from y3d_pipeline.db.quarantine import QuarantinedRecord
from y3d_pipeline.db.upsert import INSERTED, changed, inserted_and_updated, upsert_if_changed
from y3d_pipeline.sources.raw_store import RefusedRecord, UpsertCounts, store_raw_records
from y3d_pipeline.sources.shipstation.records import Fetched
from y3d_pipeline.sources.shipstation_catalogue.records import UNVERSIONED, V2Fetched

SOURCE = "shipstation_catalogue"  # normalization_failures.source of records that cannot be stored

warehouses_t = Warehouse.__table__
locations_t = InventoryLocation.__table__
levels_t = InventoryLevel.__table__
history_t = InventoryLevelHistory.__table__
products_t = Product.__table__


def store_raw(conn: sa.Connection, kind: str, records: Iterable[tuple[str, dt.datetime | None, dict[str, Any]]], *,
              unreadable: Iterable[QuarantinedRecord] = (), fetched_at: dt.datetime) -> UpsertCounts:
    """``(source id, modification time or None, payload)`` of one endpoint into ``raw_shipstation_catalogue``."""
    rows = [{"record_key": f"{kind}:{source_id}", "kind": kind, "source_modified_at": modified or UNVERSIONED,
             "payload": payload} for source_id, modified, payload in records]
    rejected = [RefusedRecord(f"{kind}:{r.source_id}", r.reason, r.payload) for r in unreadable]
    return store_raw_records(conn, RawShipstationCatalogue.__table__, rows, unreadable=rejected, source=SOURCE,
                             fetched_at=fetched_at, partition_key=None)


@dataclass
class Written(Counters):
    """Rows of a curated table a sync inserted, changed, left alone (and, for levels and history, removed)."""

    new: int = reported("rows_new")
    changed: int = reported("rows_changed")
    unchanged: int = reported("rows_unchanged")


def _upsert(conn: sa.Connection, table: sa.Table, keys: list[str], columns: tuple[str, ...],
            rows: list[dict[str, Any]]) -> Written:
    """Insert or update by ``keys``; a row is updated only when one of ``columns`` differs, and then every value
    given is written (e.g. ``synced_at``, which alone never counts as a change)."""
    if not rows:
        return Written()
    unique = list({tuple(r[k] for k in keys): r for r in rows}.values())
    stmt = upsert_if_changed(table, keys, columns)
    extra = [c for c in unique[0] if c not in (*keys, *columns)]
    if extra:
        excluded = insert(table).excluded
        stmt = insert(table).on_conflict_do_update(
            index_elements=keys, set_={**{c: excluded[c] for c in (*columns, *extra)}, "updated_at": sa.func.now()},
            where=changed(table, excluded, columns))
    stmt = stmt.values(unique).returning(*[table.c[k] for k in keys], INSERTED)
    new, updated = inserted_and_updated(conn.execute(stmt).all())
    return Written(new=new, changed=updated, unchanged=len(unique) - new - updated)


WAREHOUSE_COLUMNS = ("name", "is_default", "country", "postal_code", "source_created_at", "source_updated_at")


def upsert_ship_from_warehouses(conn: sa.Connection, warehouses: list[Fetched]) -> Written:
    rows = [{"kind": "ship_from", "source_id": str(w.model.warehouse_id), "name": w.model.warehouse_name,
             "is_default": w.model.is_default,
             "country": w.model.origin_address.country if w.model.origin_address else None,
             "postal_code": w.model.origin_address.postal_code if w.model.origin_address else None,
             "source_created_at": w.model.create_date, "source_updated_at": None} for w in warehouses]
    return _upsert(conn, warehouses_t, ["kind", "source_id"], WAREHOUSE_COLUMNS, rows)


def upsert_inventory_warehouses(conn: sa.Connection, warehouses: list[V2Fetched]) -> Written:
    rows = [{"kind": "inventory", "source_id": w.model.inventory_warehouse_id, "name": w.model.name,
             "is_default": None, "country": None, "postal_code": None, "source_created_at": w.model.created_at,
             "source_updated_at": w.model.updated_at} for w in warehouses]
    return _upsert(conn, warehouses_t, ["kind", "source_id"], WAREHOUSE_COLUMNS, rows)


def upsert_inventory_locations(conn: sa.Connection, locations: list[V2Fetched]) -> Written:
    rows = [{"inventory_location_id": loc.model.inventory_location_id,
             "inventory_warehouse_id": loc.model.inventory_warehouse_id, "name": loc.model.name,
             "source_created_at": loc.model.created_at, "source_updated_at": loc.model.updated_at}
            for loc in locations]
    return _upsert(conn, locations_t, ["inventory_location_id"],
                   ("inventory_warehouse_id", "name", "source_created_at", "source_updated_at"), rows)


def _money(value: float | None, places: str = "0.01") -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value)).quantize(Decimal(places))
    except (InvalidOperation, ValueError):
        return None
    return amount if abs(amount) < Decimal("1e10") else None


@dataclass
class ProductsWritten(Written):
    without_sku: int = reported("products_without_sku")


PRODUCT_COLUMNS = ("price", "default_cost", "active", "category", "product_type", "catalogue_modified_at")


def upsert_catalogue_products(conn: sa.Connection, products: list[Fetched]) -> ProductsWritten:
    """The catalogue onto ``products`` by trimmed SKU. Products without a SKU cannot be matched to order items and
    are only counted. The ShipStation product id stays with the orders' products (one id may cover variants)."""
    rows: dict[str, dict[str, Any]] = {}
    without_sku = 0
    for record in products:
        product = record.model
        sku = (product.sku or "").strip()
        if not sku:
            without_sku += 1
            continue
        rows[sku] = {"sku": sku, "name": (product.name or sku).strip() or sku, "name_is_placeholder": not product.name,
                     "price": _money(product.price), "default_cost": _money(product.default_cost),
                     "active": product.active,
                     "category": product.product_category.name if product.product_category else None,
                     "product_type": product.type_name,
                     "catalogue_modified_at": product.modify_date or product.create_date}
    if not rows:
        return ProductsWritten(without_sku=without_sku)
    stmt = insert(products_t).values(list(rows.values()))
    stored, new = products_t.c, stmt.excluded
    takes_name = sa.and_(stored.name_is_placeholder, sa.not_(new.name_is_placeholder))
    stmt = stmt.on_conflict_do_update(
        index_elements=[stored.sku],
        set_={**{c: new[c] for c in PRODUCT_COLUMNS},
              "name": sa.case((takes_name, new.name), else_=stored.name),
              "name_is_placeholder": sa.case((takes_name, sa.false()), else_=stored.name_is_placeholder),
              "updated_at": sa.func.now()},
        where=sa.or_(changed(products_t, new, PRODUCT_COLUMNS), takes_name),
    ).returning(stored.id, INSERTED)
    inserted, updated = inserted_and_updated(conn.execute(stmt).all())
    return ProductsWritten(new=inserted, changed=updated, unchanged=len(rows) - inserted - updated,
                           without_sku=without_sku)


# ------------------------------------------------------------------------------------------ stock


@dataclass
class LevelsWritten(Written):
    removed: int = reported("levels_removed")
    history_rows: int = reported("history_rows")
    removal_skipped: bool = reported("removal_skipped_incomplete_read", default=False)


LEVEL_FIELDS = ("on_hand", "allocated", "available")


def sync_inventory_levels(conn: sa.Connection, levels: list[V2Fetched], *, complete: bool, synced_at: dt.datetime,
                          run_id: str | None) -> LevelsWritten:
    """Make ``inventory_levels`` what ShipStation lists and record every change in ``inventory_level_history``.
    ``complete``: the read saw every level, so one no longer listed was removed at ShipStation (deleted here, a
    ``removed`` history row); after an incomplete read nothing is removed."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for record in levels:
        level = record.model
        cost = level.average_cost
        wanted[(level.sku.strip(), level.inventory_location_id or "")] = {
            "sku": level.sku.strip(), "inventory_location_id": level.inventory_location_id or "",
            "inventory_warehouse_id": level.inventory_warehouse_id, "on_hand": level.on_hand,
            "allocated": level.allocated, "available": level.available,
            "average_cost": _money(cost.amount if cost else None, "0.0001"),
            "average_cost_currency": cost.currency if cost else None, "synced_at": synced_at}
    stored = {(r.sku, r.inventory_location_id): r for r in conn.execute(
        sa.select(levels_t.c.sku, levels_t.c.inventory_location_id, levels_t.c.inventory_warehouse_id,
                  *[levels_t.c[f] for f in LEVEL_FIELDS])).all()}
    history: list[dict[str, Any]] = []
    result = LevelsWritten()

    def event(key: tuple[str, str], change: str, old: Any, new: dict[str, Any] | None) -> dict[str, Any]:
        return {"sku": key[0], "inventory_location_id": key[1],
                "inventory_warehouse_id": (new or {}).get("inventory_warehouse_id") or getattr(
                    old, "inventory_warehouse_id", None),
                "change": change, "observed_at": synced_at, "run_id": run_id,
                **{f"old_{f}": getattr(old, f, None) for f in LEVEL_FIELDS},
                **{f"new_{f}": (new or {}).get(f) for f in LEVEL_FIELDS}}

    for key, row in wanted.items():
        old = stored.get(key)
        if old is None:
            history.append(event(key, "new", None, row))
        elif any(getattr(old, f) != row[f] for f in LEVEL_FIELDS):
            history.append(event(key, "changed", old, row))
    written = _upsert(conn, levels_t, ["sku", "inventory_location_id"],
                      ("inventory_warehouse_id", *LEVEL_FIELDS, "average_cost", "average_cost_currency"),
                      [{**r, "synced_at": synced_at} for r in wanted.values()])
    result.new, result.changed, result.unchanged = written.new, written.changed, written.unchanged
    gone = [key for key in stored if key not in wanted]
    if gone and not complete:
        result.removal_skipped = True
    elif gone:
        for key in gone:
            history.append(event(key, "removed", stored[key], None))
        pairs = sa.tuple_(levels_t.c.sku, levels_t.c.inventory_location_id)
        result.removed = conn.execute(sa.delete(levels_t).where(pairs.in_(gone))).rowcount
    if history:
        conn.execute(sa.insert(history_t), history)
    result.history_rows = len(history)
    return result


def stock_findings(conn: sa.Connection, limit: int = 500) -> list[dict[str, Any]]:
    """Levels no warehouse can have: a negative quantity, or more available than on hand."""
    t = levels_t.c
    problem = sa.case(
        (sa.or_(t.on_hand < 0, t.allocated < 0, t.available < 0), "negative quantity"),
        else_="available exceeds on hand")
    rows = conn.execute(
        sa.select(t.sku, t.inventory_location_id, t.inventory_warehouse_id, t.on_hand, t.allocated, t.available,
                  problem.label("problem"))
        .where(sa.or_(t.on_hand < 0, t.allocated < 0, t.available < 0, t.available > t.on_hand))
        .order_by(t.sku, t.inventory_location_id).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
