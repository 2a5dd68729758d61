"""Amazon SP-API Orders records as the pipeline reads them, in the shape of the Orders API version that fetched
them (v2026-01-01 ``orderId``/``orderItems``, v0 ``AmazonOrderId``/``OrderItems``), kept verbatim in
``payload`` (plain module, no I/O). An order the pipeline cannot read becomes an ``InvalidRecord`` naming the
broken fields, never their values (values are customer data).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from y3d_pipeline.db.storable import check_timestamp
from y3d_pipeline.settings import AMAZON_ORDERS_API_2026, AMAZON_ORDERS_API_VERSIONS
from y3d_pipeline.sources.http import InvalidRecord

API_2026 = AMAZON_ORDERS_API_2026
API_V0 = "v0"
API_VERSIONS = AMAZON_ORDERS_API_VERSIONS


def utc_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone")
    return parsed.astimezone(dt.UTC)


class AmazonOrder(BaseModel):
    """One order as Amazon sent it; ``payload`` keeps the JSON verbatim in its API version's shape (v0: the
    getOrders order plus ``OrderItems`` from getOrderItems; v2026-01-01: the searchOrders/getOrder order, items
    included)."""

    model_config = ConfigDict(frozen=False)

    amazon_order_id: str
    last_update_date: dt.datetime
    order_status: str | None = None
    api_version: str = API_V0
    payload: dict[str, Any]

    @field_validator("amazon_order_id")
    @classmethod
    def _non_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("order id is blank")
        return value

    @field_validator("last_update_date", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> dt.datetime:
        try:
            return check_timestamp(utc_timestamp(value), "LastUpdateDate")
        except OverflowError:
            raise ValueError("LastUpdateDate is out of range") from None

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> AmazonOrder:
        """A v0 getOrders order."""
        return cls(amazon_order_id=raw.get("AmazonOrderId"), last_update_date=raw.get("LastUpdateDate"),
                   order_status=raw.get("OrderStatus"), payload=raw)

    @classmethod
    def from_v2026(cls, raw: dict[str, Any]) -> AmazonOrder:
        """A v2026-01-01 order; raises ``ValidationError``/``ValueError`` for one the pipeline cannot read."""
        checked = _Order2026.model_validate(raw)
        status = (raw.get("fulfillment") or {}).get("fulfillmentStatus") \
            if isinstance(raw.get("fulfillment"), dict) else None
        return cls(amazon_order_id=checked.orderId, last_update_date=checked.lastUpdatedTime,
                   order_status=status, api_version=API_2026, payload=raw)

    @property
    def order_items(self) -> list[dict[str, Any]]:
        key = "orderItems" if self.api_version == API_2026 else "OrderItems"
        return list(self.payload.get(key) or [])


def _non_blank_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-blank string")
    return value


class _Item2026(BaseModel):
    """What the pipeline needs of a v2026 order item (the payload itself is stored as sent)."""

    model_config = ConfigDict(extra="allow")

    orderItemId: str  # noqa: N815 - Amazon's field names
    quantityOrdered: int  # noqa: N815
    product: dict[str, Any]

    @field_validator("orderItemId", mode="before")
    @classmethod
    def _item_id(cls, value: Any) -> str:
        return _non_blank_text(value)

    @field_validator("quantityOrdered", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"quantityOrdered {value!r} is not a count")
        return value


class _Order2026(BaseModel):
    model_config = ConfigDict(extra="allow")

    orderId: str  # noqa: N815
    createdTime: dt.datetime  # noqa: N815
    lastUpdatedTime: dt.datetime  # noqa: N815
    orderItems: list[_Item2026]  # noqa: N815

    @field_validator("orderId", mode="before")
    @classmethod
    def _order_id(cls, value: Any) -> str:
        return _non_blank_text(value)

    @field_validator("createdTime", "lastUpdatedTime", mode="before")
    @classmethod
    def _times(cls, value: Any) -> dt.datetime:
        return utc_timestamp(value)


@dataclass
class OrdersPage:
    orders: list[AmazonOrder] = field(default_factory=list)
    invalid: list[InvalidRecord] = field(default_factory=list)
    requested_end: dt.datetime | None = None
    effective_end: dt.datetime | None = None  # Amazon's echoed LastUpdatedBefore
    clamped: bool = False


def invalid_order(raw: Any, exc: Exception, *, id_field: str = "AmazonOrderId") -> InvalidRecord:
    """Where an order record (v0 ``AmazonOrderId``, v2026 ``orderId``) is broken, by field name, never by value
    (values are customer data)."""
    if isinstance(exc, ValidationError):
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    else:
        reason = str(exc)[:300]
    reason = f"invalid SP-API order: {reason}"[:1000]
    order_id = raw.get(id_field) if isinstance(raw, dict) else None
    if isinstance(order_id, str) and order_id.strip():
        return InvalidRecord(order_id[:60], reason, raw)
    return InvalidRecord.without_id(raw, reason)
