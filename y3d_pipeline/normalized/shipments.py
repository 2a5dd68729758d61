"""ShipStation shipments → ``orders.shipped_at``, ``tracking_number``, ``carrier_code``, ``shipment_status``.

Derived from ``raw_shipstation_shipments`` for a set of ShipStation order ids, so it converges whichever
runs first: the shipments sync (which calls it for the orders it fetched) or the order normalization
(which calls it for each batch). Voided labels don't count: the newest non-voided shipment wins; an order
whose every shipment is voided gets ``shipment_status = 'voided'`` and no tracking number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import Order, RawShipstationShipment
from y3d_pipeline.db.upsert import changed

orders_t = Order.__table__
shipments_t = RawShipstationShipment.__table__
SHIPMENT_COLUMNS = ("shipped_at", "tracking_number", "carrier_code", "shipment_status")


def _voided(payload: dict[str, Any]) -> bool:
    return bool(payload.get("voided"))


def shipment_state(shipments: Iterable[Any]) -> dict[str, Any] | None:
    """The order's shipping state from its shipments (rows with ``source_modified_at`` (label creation,
    UTC), ``shipstation_shipment_id`` and ``payload``); None when there are none."""
    rows = list(shipments)
    if not rows:
        return None
    live = [r for r in rows if not _voided(r.payload)]
    if not live:
        return {"shipped_at": None, "tracking_number": None, "carrier_code": None, "shipment_status": "voided"}
    latest = max(live, key=lambda r: (r.source_modified_at, r.shipstation_shipment_id))
    return {
        "shipped_at": latest.source_modified_at,
        "tracking_number": latest.payload.get("trackingNumber"),
        "carrier_code": latest.payload.get("carrierCode"),
        "shipment_status": "shipped",
    }


def apply_shipments(conn: sa.Connection, shipstation_order_ids: Iterable[int]) -> int:
    """Update the given orders from their stored shipments; returns how many orders changed."""
    ids = sorted(set(shipstation_order_ids))
    if not ids:
        return 0
    by_order: dict[int, list[Any]] = {}
    for row in conn.execute(
        sa.select(shipments_t.c.shipstation_order_id, shipments_t.c.shipstation_shipment_id,
                  shipments_t.c.source_modified_at, shipments_t.c.payload)
        .where(shipments_t.c.shipstation_order_id.in_(ids))
    ):
        by_order.setdefault(row.shipstation_order_id, []).append(row)
    updates = []
    for order_id, rows in by_order.items():
        state = shipment_state(rows)
        if state is not None:
            updates.append({"b_order_id": order_id, **{f"b_{k}": v for k, v in state.items()}})
    if not updates:
        return 0
    o = orders_t.c
    new_values: dict[str, Any] = {c: sa.bindparam(f"b_{c}", type_=o[c].type) for c in SHIPMENT_COLUMNS}
    # a voided-only order keeps the carrier the order itself names
    new_values["carrier_code"] = sa.func.coalesce(new_values["carrier_code"], o.carrier_code)
    stmt = (
        sa.update(orders_t)
        .where(o.shipstation_order_id == sa.bindparam("b_order_id"))
        .where(changed(orders_t, new_values, SHIPMENT_COLUMNS))
        .values({**new_values, "updated_at": sa.func.now()})
    )
    result = conn.execute(stmt, updates)
    return max(result.rowcount, 0)
