"""Canonical records: what the ShipStation mapping (``shipstation.py``) produces and the one writer
(``writer.py``) consumes.

The mapping turns one raw record into either a :class:`CanonicalOrder` (with its items, customer, products and
tag ids) or a :class:`Rejected` reason. The writer upserts canonical records set-based, keyed by the columns of
:class:`SourceKeys` on ``orders`` and ``order_items``. Shopify and Amazon orders are not written this way: they
are merged into these rows by reconciliation (``reconcile/``), which maps them to its own
:class:`~y3d_pipeline.normalized.reconcile.marketplace.MarketplaceOrder`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from y3d_pipeline.counters import Counters, reported


@dataclass(frozen=True)
class SourceKeys:
    """Which columns identify a source's records in the normalized tables."""

    source: str  # "shipstation" | "shopify" | "amazon"
    order_key_column: str  # e.g. "shipstation_order_id"
    item_key_column: str  # e.g. "shipstation_order_item_id"


SHIPSTATION_KEYS = SourceKeys("shipstation", "shipstation_order_id", "shipstation_order_item_id")


@dataclass
class CanonicalCustomer:
    customer_key: str  # "shipstation:<id>" | "email:<lower e-mail>" | "name:<lower name>|<POSTCODE>"
    shipstation_customer_id: int | None
    email: str | None
    name: str | None
    username: str | None
    phone: str | None
    company: str | None
    street1: str | None
    street2: str | None
    street3: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country_code: str | None
    is_residential: bool | None
    address_verified: str | None


@dataclass
class CanonicalProduct:
    """Natural key: trimmed ``sku``, else ``shipstation_product_id`` (SKU-less items only). ``name`` None
    means "the source has none"."""

    sku: str | None
    shipstation_product_id: int | None
    name: str | None
    image_url: str | None
    weight_value: Decimal | None
    weight_units: str | None
    fulfillment_sku: str | None
    upc: str | None
    warehouse_location: str | None
    source_modified_at: dt.datetime | None

    @property
    def natural_key(self) -> tuple[str, Any]:
        return ("sku", self.sku) if self.sku else ("shipstation_product_id", self.shipstation_product_id)


@dataclass
class CanonicalItem:
    source_item_id: Any  # value for SourceKeys.item_key_column
    line_item_key: str | None
    position: int
    sku: str | None
    name: str | None
    quantity: int
    unit_price: Decimal | None
    options: list[Any] | None
    image_url: str | None
    product: CanonicalProduct | None


@dataclass
class CanonicalOrder:
    source_order_id: Any  # value for SourceKeys.order_key_column
    values: dict[str, Any]  # columns of ``orders`` (everything except id/customer_id/marketplace)
    store_id: int | None
    source_marketplace: str | None  # fallback when the store is unknown
    customer: CanonicalCustomer | None
    items: list[CanonicalItem]
    tag_ids: list[int]
    replaces_items: bool  # False for merged/split orders: items may move to a sibling order
    modified_at: dt.datetime


@dataclass
class Rejected:
    """A record that failed validation: quarantined with its reason, never silently dropped."""

    source_id: str
    reason: str
    payload: dict[str, Any] | None


@dataclass
class NormalizationReport(Counters):
    raw_records: int = 0
    raw_unchanged_skipped: int = 0  # raw rows not normalized again: unchanged since they were last
    mapped_in_python: int = reported(None)  # rows the SQL mapping left to map_order (not plainly valid)
    orders_written: int = 0
    orders_unchanged: int = 0
    items_written: int = reported("order_items_written")
    items_removed: int = reported("order_items_removed")
    customers_written: int = 0
    products_written: int = 0
    order_tags_linked: int = 0
    quarantined: int = 0
    resolved: int = reported("quarantine_resolved")
    batches: int = 0
    quarantined_ids: list[str] = reported(None, default=list)
