"""Shopify Admin GraphQL records as the pipeline reads them: orders with their line items and buyer-entered
properties, products with their variants (plain module, no I/O).

``payload`` keeps each node as served (line items or variants merged into one list); a node that does not
validate becomes an ``InvalidRecord`` naming where it is broken, never its values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from y3d_pipeline.db.storable import BIGINT_MAX, check_timestamp
from y3d_pipeline.sources.http import InvalidRecord


def gid_tail(gid: str) -> int:
    """``gid://shopify/Order/123`` -> 123."""
    return int(str(gid).rsplit("/", 1)[-1])


# As our columns hold them: a larger id or a placeholder date (year 9999) fails its record, not the page.
LegacyId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Timestamp = Annotated[AwareDatetime, AfterValidator(lambda v: check_timestamp(v, "timestamp"))]


class RecordModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class Attribute(RecordModel):
    key: str
    value: str | None = None


class ShopifyLineItem(RecordModel):
    id: str
    sku: str | None = None
    name: str | None = None
    quantity: int
    variant_id: str | None = None
    product_id: str | None = None
    custom_attributes: list[Attribute] = Field(default_factory=list, alias="customAttributes")

    @property
    def legacy_id(self) -> int:
        return gid_tail(self.id)

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> ShopifyLineItem:
        variant = node.get("variant") or {}
        product = variant.get("product") or {}
        return cls.model_validate({**node, "variant_id": variant.get("id"), "product_id": product.get("id")})


class ShopifyOrder(RecordModel):
    """An order with all its line items; ``payload`` is the node as served, line items merged in one list."""

    id: str
    legacy_resource_id: LegacyId = Field(validation_alias=AliasChoices("legacyResourceId", "legacy_resource_id"))
    name: str
    created_at: Timestamp = Field(validation_alias=AliasChoices("createdAt", "created_at"))
    updated_at: Timestamp = Field(validation_alias=AliasChoices("updatedAt", "updated_at"))
    cancelled_at: AwareDatetime | None = Field(default=None, validation_alias=AliasChoices("cancelledAt",
                                                                                            "cancelled_at"))
    line_items: list[ShopifyLineItem]
    payload: dict[str, Any]

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> ShopifyOrder:
        items = list((node.get("lineItems") or {}).get("nodes") or [])
        payload = {**node, "lineItems": {"nodes": items}}
        return cls.model_validate({**node, "line_items": [ShopifyLineItem.from_node(i) for i in items],
                                   "payload": payload})


class ShopifyVariant(RecordModel):
    id: str
    legacy_resource_id: int = Field(validation_alias=AliasChoices("legacyResourceId", "legacy_resource_id"))
    sku: str | None = None
    title: str | None = None
    price: Decimal | None = None
    updated_at: AwareDatetime | None = Field(default=None, validation_alias=AliasChoices("updatedAt",
                                                                                          "updated_at"))


class ShopifyProduct(RecordModel):
    id: str
    legacy_resource_id: int = Field(validation_alias=AliasChoices("legacyResourceId", "legacy_resource_id"))
    title: str
    updated_at: AwareDatetime = Field(validation_alias=AliasChoices("updatedAt", "updated_at"))
    variants: list[ShopifyVariant]
    payload: dict[str, Any]

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> ShopifyProduct:
        variants = list((node.get("variants") or {}).get("nodes") or [])
        payload = {**node, "variants": {"nodes": variants}}
        return cls.model_validate({**node, "variants": [ShopifyVariant.model_validate(v) for v in variants],
                                   "payload": payload})


def invalid_order(node: Any, exc: Exception) -> InvalidRecord:
    """An order node that does not parse: its id (if it has one) and where it is broken, never its values."""
    source_id = str(node.get("legacyResourceId") or node.get("id") or "?")[:60] if isinstance(node, dict) else "?"
    if isinstance(exc, ValidationError):
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    else:
        where = f"malformed order ({type(exc).__name__})"
    return InvalidRecord(source_id, f"invalid Shopify order: {where}"[:1000],
                         node if isinstance(node, dict) else {"value": node})


def dedupe_newest(orders: list[ShopifyOrder]) -> tuple[list[ShopifyOrder], int]:
    """Keep one order per ``legacyResourceId``: the newest ``updatedAt`` (the later fetch on a tie)."""
    newest: dict[int, ShopifyOrder] = {}
    for order in orders:
        current = newest.get(order.legacy_resource_id)
        if current is None or order.updated_at >= current.updated_at:
            newest[order.legacy_resource_id] = order
    return list(newest.values()), len(orders) - len(newest)
