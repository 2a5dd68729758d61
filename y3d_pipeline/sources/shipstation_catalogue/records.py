"""ShipStation V2 inventory records as the API sends them (plain module, no I/O): inventory warehouses, inventory
locations and SKU inventory levels (``GET /v2/inventory``). The v1 warehouses and products are the v1 client's
(``sources/shipstation/records.py``).

V2 dates are ISO 8601 with an offset (``2026-03-01T09:00:00Z``); ids are strings (``se-1234``). A record that does
not validate becomes an ``InvalidRecord`` (its id when it has one, where it is broken, never its values) and is
quarantined; the others are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from y3d_pipeline.db.storable import INTEGER_MAX, check_timestamp
from y3d_pipeline.sources.http import InvalidRecord

# Records without a modification time of their own are stored under this version: a different payload replaces the
# stored one (same time, different content), the same payload leaves it untouched.
UNVERSIONED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

Quantity = Annotated[int, Field(ge=-INTEGER_MAX - 1, le=INTEGER_MAX), BeforeValidator(
    lambda v: v if not isinstance(v, float) or v.is_integer() else "not a whole number")]


def _iso(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return check_timestamp(parsed.astimezone(dt.UTC), "ShipStation V2 date")


IsoDatetime = Annotated[dt.datetime | None, BeforeValidator(_iso)]


class V2Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


class InventoryWarehouse(V2Record):
    inventory_warehouse_id: str = Field(min_length=1)
    name: str | None = None
    created_at: IsoDatetime = None
    updated_at: IsoDatetime = None

    @property
    def source_id(self) -> str:
        return self.inventory_warehouse_id


class InventoryLocation(V2Record):
    inventory_location_id: str = Field(min_length=1)
    inventory_warehouse_id: str | None = None
    name: str | None = None
    created_at: IsoDatetime = None
    updated_at: IsoDatetime = None

    @property
    def source_id(self) -> str:
        return self.inventory_location_id


class Money(V2Record):
    amount: float | None = None
    currency: str | None = None


class InventoryLevel(V2Record):
    """Stock of one SKU at one location: ``available`` is on hand minus allocated (as ShipStation computes it)."""

    sku: str = Field(min_length=1)
    on_hand: Quantity
    allocated: Quantity = 0
    available: Quantity
    average_cost: Money | None = None
    inventory_warehouse_id: str | None = None
    inventory_location_id: str | None = None

    @property
    def source_id(self) -> str:
        return f"{self.sku.strip()}@{self.inventory_location_id or ''}"


ID_FIELDS = {InventoryWarehouse: "inventory_warehouse_id", InventoryLocation: "inventory_location_id",
             InventoryLevel: "sku"}


@dataclass
class V2Fetched:
    model: Any
    payload: dict[str, Any]


@dataclass
class V2Scan:
    """Everything a paged V2 list returned, and what it cost."""

    records: list[V2Fetched] = field(default_factory=list)
    rejected: list[InvalidRecord] = field(default_factory=list)
    pages: int = 0
    total: int | None = None  # what the first page said

    @property
    def complete(self) -> bool:
        """Every record the API counted was read (or rejected): safe to drop what it no longer lists."""
        return self.total is None or len(self.records) + len(self.rejected) >= self.total


def parse_v2(model: type[V2Record], payload: Any, where: str) -> V2Fetched | InvalidRecord:
    if not isinstance(payload, dict):
        return InvalidRecord.without_id(payload, f"{where}: not an object but {type(payload).__name__}")
    try:
        return V2Fetched(model.model_validate(payload), payload)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(record)" for e in exc.errors()})
        reason = f"{where}: unreadable field(s) {', '.join(fields)}"
    raw_id = payload.get(ID_FIELDS[model])
    if isinstance(raw_id, str) and raw_id.strip():
        if model is InventoryLevel:
            raw_id = f"{raw_id.strip()}@{payload.get('inventory_location_id') or ''}"
        return InvalidRecord(raw_id[:200], reason, payload)
    return InvalidRecord.without_id(payload, reason)
