"""ShipStation catalogue and stock: phase 1 in order (warehouses → inventory warehouses → inventory locations), then
phase 2, products and inventory levels, independent of each other (the ``shipstation_catalogue`` job runs them at
once, one process each). Every step's metadata is its operation's result (records, duration; a failure's error in
the step's failure event): the legacy ``sync_logs`` row, per run."""


import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import sqlalchemy as sa

from y3d_pipeline.defs.constants import (
    GROUP_SHIPSTATION_CATALOGUE,
    POOL_SHIPSTATION,
    POOL_SHIPSTATION_V2,
    RAW_SHIPSTATION_INVENTORY,
    RAW_SHIPSTATION_INVENTORY_LOCATIONS,
    RAW_SHIPSTATION_INVENTORY_WAREHOUSES,
    RAW_SHIPSTATION_PRODUCTS,
    RAW_SHIPSTATION_WAREHOUSES,
)
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.defs.sources.raw_assets import not_configured, raw_asset, warn_quarantined
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline.defs.sources.shipstation_catalogue.resources import ShipStationV2Resource
from y3d_pipeline.progress import ProgressLog
from y3d_pipeline.redaction import scrub
from y3d_pipeline.sources.http import ApiError
from y3d_pipeline.sources.shipstation_catalogue import store
from y3d_pipeline.sources.shipstation_catalogue.client import ShipStationV2Client
from y3d_pipeline.sources.shipstation_catalogue.records import V2Scan

SOURCE = GROUP_SHIPSTATION_CATALOGUE
STOCK_CHECK = "stock_levels_possible"


class Operation:
    """One operation of the sync (the legacy ``sync_logs.results`` entry): its name, records and duration."""

    def __init__(self, name: str):
        self.name = name
        self.started = time.monotonic()
        self.now = dt.datetime.now(dt.UTC)

    def metadata(self, records: int, **extra: Any) -> dict[str, Any]:
        return {"configured": True, "operation": self.name, "records": records, "dagster/row_count": records,
                **extra, "duration_seconds": round(time.monotonic() - self.started, 3)}


@contextmanager
def operation(name: str) -> Iterator[Operation]:
    """Times the operation; a failure ends the step with the operation's result (records 0, duration, error) in
    the failure's metadata. An API error no retry can fix (a 4xx other than 429: bad key, no Inventory API
    add-on) fails without step retries."""
    op = Operation(name)
    try:
        yield op
    except Exception as exc:
        error = scrub(f"{type(exc).__name__}: {exc}")[:1000]
        permanent = isinstance(exc, ApiError) and exc.status is not None and 400 <= exc.status < 500 \
            and exc.status != 429
        raise dg.Failure(description=f"{name} failed: {error}", allow_retries=not permanent,
                         metadata={"operation": name, "records": 0, "error": error,
                                   "duration_seconds": round(time.monotonic() - op.started, 3)}) from exc


def _raw(records: list, modified: str | None = None) -> list[tuple[str, dt.datetime | None, dict]]:
    return [(str(r.model.source_id), getattr(r.model, modified) if modified else None, r.payload) for r in records]


def _v2_reference(context: dg.AssetExecutionContext, shipstation_v2: ShipStationV2Resource,
                  database: DatabaseResource, name: str, kind: str, fetch: Callable[[ShipStationV2Client], V2Scan],
                  upsert: Callable[[sa.Connection, list], store.Written]) -> dg.MaterializeResult:
    """A V2 list of reference records (inventory warehouses, locations): raw payloads, then its curated table."""
    with operation(name) as op:
        with shipstation_v2.client() as client:
            scan = fetch(client)
        with database.engine.begin() as conn:
            raw = store.store_raw(conn, kind, _raw(scan.records, "updated_at"), unreadable=scan.rejected,
                                  fetched_at=op.now)
            written = upsert(conn, scan.records)
        warn_quarantined(context, f"ShipStation {name.replace('_', ' ')}", raw.quarantined_ids)
        return dg.MaterializeResult(metadata=op.metadata(len(scan.records), pages=scan.pages, **raw.as_metadata(),
                                                         **written.as_metadata(), **client.stats.as_metadata()))


# ------------------------------------------------------------------------------------------ phase 1


@raw_asset(
    RAW_SHIPSTATION_WAREHOUSES, source=SOURCE, pool=POOL_SHIPSTATION, daily=False,
    description="""Phase 1, first: ShipStation's ship-from locations (v1 GET /warehouses), raw payloads in
    raw_shipstation_catalogue and the curated warehouses table (kind ship_from).""",
)
def raw_shipstation_warehouses(context: dg.AssetExecutionContext, shipstation: ShipStationResource,
                               database: DatabaseResource) -> dg.MaterializeResult:
    if not shipstation.configured:
        return not_configured(context, shipstation)
    with operation("warehouses") as op:
        with shipstation.client() as client:
            warehouses = client.list_warehouses()
        with database.engine.begin() as conn:
            raw = store.store_raw(conn, "warehouse", [(str(w.model.warehouse_id), w.model.create_date, w.payload)
                                                      for w in warehouses], fetched_at=op.now)
            written = store.upsert_ship_from_warehouses(conn, warehouses)
        return dg.MaterializeResult(metadata=op.metadata(len(warehouses), **raw.as_metadata(),
                                                         **written.as_metadata(), **client.stats.as_metadata()))


@raw_asset(
    RAW_SHIPSTATION_INVENTORY_WAREHOUSES, source=SOURCE, pool=POOL_SHIPSTATION_V2, daily=False,
    deps=[RAW_SHIPSTATION_WAREHOUSES],
    description="""Phase 1, second: the V2 inventory warehouses (GET /v2/inventory_warehouses), raw payloads and
    the curated warehouses table (kind inventory).""",
)
def raw_shipstation_inventory_warehouses(context: dg.AssetExecutionContext, shipstation_v2: ShipStationV2Resource,
                                         database: DatabaseResource) -> dg.MaterializeResult:
    if not shipstation_v2.configured:
        return not_configured(context, shipstation_v2)
    return _v2_reference(context, shipstation_v2, database, "inventory_warehouses", "inventory_warehouse",
                         ShipStationV2Client.list_inventory_warehouses, store.upsert_inventory_warehouses)


@raw_asset(
    RAW_SHIPSTATION_INVENTORY_LOCATIONS, source=SOURCE, pool=POOL_SHIPSTATION_V2, daily=False,
    deps=[RAW_SHIPSTATION_INVENTORY_WAREHOUSES],
    description="""Phase 1, last: the V2 inventory locations (GET /v2/inventory_locations: area - unit - shelf - bin
    within an inventory warehouse), raw payloads and the curated inventory_locations table.""",
)
def raw_shipstation_inventory_locations(context: dg.AssetExecutionContext, shipstation_v2: ShipStationV2Resource,
                                        database: DatabaseResource) -> dg.MaterializeResult:
    if not shipstation_v2.configured:
        return not_configured(context, shipstation_v2)
    return _v2_reference(context, shipstation_v2, database, "inventory_locations", "inventory_location",
                         ShipStationV2Client.list_inventory_locations, store.upsert_inventory_locations)


# ------------------------------------------------------------------------------------------ phase 2


@raw_asset(
    RAW_SHIPSTATION_PRODUCTS, source=SOURCE, pool=POOL_SHIPSTATION, daily=False,
    deps=[RAW_SHIPSTATION_INVENTORY_LOCATIONS],
    description="""Phase 2 (in parallel with the inventory): the v1 product catalogue (GET /products, inactive
    products included), raw payloads and the curated products table enriched by SKU (price, default cost, active,
    category, type; the name only over a placeholder).""",
)
def raw_shipstation_products(context: dg.AssetExecutionContext, shipstation: ShipStationResource,
                             database: DatabaseResource) -> dg.MaterializeResult:
    if not shipstation.configured:
        return not_configured(context, shipstation)
    with operation("products") as op:
        with shipstation.client() as client:
            scan = client.list_products(progress=ProgressLog("ShipStation products", unit="pages",
                                                             log=context.log.info))
        with database.engine.begin() as conn:
            raw = store.store_raw(conn, "product", [(str(p.model.product_id), p.model.modify_date, p.payload)
                                                    for p in scan.records], unreadable=scan.rejected,
                                  fetched_at=op.now)
            written = store.upsert_catalogue_products(conn, [p for p in scan.records if p.complete])
        warn_quarantined(context, "ShipStation products", raw.quarantined_ids)
        return dg.MaterializeResult(metadata=op.metadata(
            len(scan.records), pages=scan.pages, scan_complete=scan.complete, **raw.as_metadata(),
            **written.as_metadata(), **client.stats.as_metadata()))


@raw_asset(
    RAW_SHIPSTATION_INVENTORY, source=SOURCE, pool=POOL_SHIPSTATION_V2, daily=False,
    deps=[RAW_SHIPSTATION_INVENTORY_LOCATIONS],
    check_specs=[dg.AssetCheckSpec(STOCK_CHECK, asset=RAW_SHIPSTATION_INVENTORY, description=(
        "No negative quantities and never more available than on hand (WARN, the levels named)."))],
    description="""Phase 2 (in parallel with the products): every SKU's stock per inventory location (V2
    GET /v2/inventory), raw payloads and the curated inventory_levels table (on_hand, allocated, available), each
    change a row of inventory_level_history; a level ShipStation no longer lists is removed after a complete read.
    Print tasks of a SKU with nothing available are flagged for review.""",
)
def raw_shipstation_inventory(context: dg.AssetExecutionContext, shipstation_v2: ShipStationV2Resource,
                              database: DatabaseResource) -> dg.MaterializeResult:
    if not shipstation_v2.configured:
        return not_configured(context, shipstation_v2, check_names=[STOCK_CHECK])
    with operation("inventory") as op:
        with shipstation_v2.client() as client:
            scan = client.list_inventory_levels(progress=ProgressLog("ShipStation inventory", unit="pages",
                                                                     log=context.log.info))
        with database.engine.begin() as conn:
            raw = store.store_raw(conn, "inventory_level", _raw(scan.records),
                                  unreadable=scan.rejected, fetched_at=op.now)
            written = store.sync_inventory_levels(conn, scan.records, complete=scan.complete and not scan.rejected,
                                                  synced_at=op.now, run_id=context.run_id)
            findings = store.stock_findings(conn)
        warn_quarantined(context, "ShipStation inventory levels", raw.quarantined_ids)
        levels = [r.model for r in scan.records]
        check = dg.AssetCheckResult(
            check_name=STOCK_CHECK, passed=not findings, severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(findings)} impossible stock level(s)" if findings else "every stock level is possible",
            metadata={"count": len(findings), "levels": dg.MetadataValue.json(findings[:100])})
        return dg.MaterializeResult(metadata=op.metadata(
            len(scan.records), pages=scan.pages, scan_complete=scan.complete,
            skus=len({level.sku for level in levels}),
            skus_none_available=len({level.sku for level in levels if level.available <= 0}),
            **raw.as_metadata(), **written.as_metadata(), **client.stats.as_metadata()), check_results=[check])
