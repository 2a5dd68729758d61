"""The application schema (SQLAlchemy 2.x typed models). Alembic migrations in ``migrations/`` mirror it.

Conventions: every timestamp is ``timestamptz`` stored in UTC; raw tables keep the source record's full
payload as JSONB keyed by the source's own id; normalized tables carry unique natural keys so every
write is an idempotent upsert.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PRINT_TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled")
PRINT_TASK_SOURCES = ("amazon_customization", "item_options", "ai", "placeholder")
# created/updated/removed: the pipeline (re)wrote the task; flagged: marked for review without touching its
# content; cancelled/completed/reopened: status moved by the pipeline; edited_outside: the pipeline noticed
# that a person had changed the row since it last wrote it.
PRINT_TASK_CHANGES = ("created", "updated", "removed", "flagged", "cancelled", "completed", "reopened",
                      "edited_outside")
CUSTOMIZATION_STATUSES = ("pending", "processed", "failed", "rejected")

TZ = DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB, dt.datetime: TZ}


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --------------------------------------------------------------------------------------------- raw layer


class RawShipstationOrder(Base):
    """One ShipStation order as last fetched (GET /orders), newest ``modifyDate`` wins."""

    __tablename__ = "raw_shipstation_orders"

    shipstation_order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_number: Mapped[str | None] = mapped_column(Text)
    order_key: Mapped[str | None] = mapped_column(Text)
    order_status: Mapped[str | None] = mapped_column(Text)
    source_modified_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime]
    first_fetched_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index(None, "source_modified_at"),)


class RawShopifyOrder(Base):
    """One Shopify order (Admin GraphQL) keyed by its numeric ``legacyResourceId``."""

    __tablename__ = "raw_shopify_orders"

    shopify_order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    order_name: Mapped[str | None] = mapped_column(Text)
    source_modified_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime]
    first_fetched_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index(None, "source_modified_at"),)


class RawAmazonOrder(Base):
    """One SP-API order as the Orders API version in ``api_version`` sent it: v2026-01-01 (searchOrders, items
    in ``payload['orderItems']``) or v0 (getOrders, items from getOrderItems under ``payload['OrderItems']``).
    One row per Amazon order id whichever version fetched it."""

    __tablename__ = "raw_amazon_orders"

    amazon_order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    order_status: Mapped[str | None] = mapped_column(Text)
    api_version: Mapped[str] = mapped_column(Text, server_default=text("'v0'"))
    source_modified_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime]
    first_fetched_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index(None, "source_modified_at"),)


class RawShipstationShipment(Base):
    """One ShipStation shipment (GET /shipments) keyed by ``shipmentId``."""

    __tablename__ = "raw_shipstation_shipments"

    shipstation_shipment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    shipstation_order_id: Mapped[int | None] = mapped_column(BigInteger)
    ship_date: Mapped[dt.date | None]
    source_modified_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime]
    first_fetched_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    __table_args__ = (Index(None, "shipstation_order_id"), Index(None, "ship_date"))


class RawShipstationCatalogue(Base):
    """One record of ShipStation's catalogue and stock as last fetched: a v1 warehouse or product, a V2 inventory
    warehouse, inventory location or inventory level. ``record_key`` is ``<kind>:<source id>`` (an inventory level's
    id is ``<sku>@<inventory_location_id>``); a record without a modification time has ``source_modified_at`` =
    2000-01-01 (a different payload then replaces it, the same one does not)."""

    __tablename__ = "raw_shipstation_catalogue"

    record_key: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, index=True)
    source_modified_at: Mapped[dt.datetime]
    payload: Mapped[dict[str, Any]]
    payload_sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime]
    first_fetched_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class NormalizationFailure(Base):
    """A source record that failed validation: quarantined with its reason, never silently dropped."""

    __tablename__ = "normalization_failures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_id: Mapped[str] = mapped_column(Text)
    partition_key: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None]
    occurrences: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    first_seen_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    resolved_at: Mapped[dt.datetime | None]
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        Index("ix_normalization_failures_open", "source", postgresql_where=text("resolved_at IS NULL")),
    )


class NormalizedVersion(Base):
    """The version of a raw record the normalized tables were last written from: a run skips the raw rows whose
    fingerprint (their payload hash combined with what else the mapping depends on) is unchanged."""

    __tablename__ = "normalized_versions"

    source: Mapped[str] = mapped_column(Text, primary_key=True)
    source_id: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)
    normalized_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


# ------------------------------------------------------------------------------------ normalized layer


class Customer(TimestampMixin, Base):
    """A buyer. ``customer_key`` is the natural key: ShipStation customer id, else e-mail, else name+postcode."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_key: Mapped[str] = mapped_column(Text, unique=True)
    shipstation_customer_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    email: Mapped[str | None] = mapped_column(Text, index=True)
    name: Mapped[str | None] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    street1: Mapped[str | None] = mapped_column(Text)
    street2: Mapped[str | None] = mapped_column(Text)
    street3: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    country_code: Mapped[str | None] = mapped_column(String(2))
    is_residential: Mapped[bool | None]
    address_verified: Mapped[str | None] = mapped_column(Text)


class Product(TimestampMixin, Base):
    """A sellable product: matched by trimmed SKU first, then by ShipStation or Shopify product id."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku: Mapped[str | None] = mapped_column(Text, unique=True)
    shipstation_product_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    shopify_product_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(Text)
    name_is_placeholder: Mapped[bool] = mapped_column(server_default=text("false"))
    image_url: Mapped[str | None] = mapped_column(Text)
    weight_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    weight_units: Mapped[str | None] = mapped_column(Text)
    fulfillment_sku: Mapped[str | None] = mapped_column(Text)
    upc: Mapped[str | None] = mapped_column(Text)
    warehouse_location: Mapped[str | None] = mapped_column(Text)
    source_modified_at: Mapped[dt.datetime | None]
    # From ShipStation's product catalogue (GET /products, raw/shipstation_products), by SKU:
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    default_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    active: Mapped[bool | None]
    category: Mapped[str | None] = mapped_column(Text)
    product_type: Mapped[str | None] = mapped_column(Text)
    catalogue_modified_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(
            "sku IS NOT NULL OR shipstation_product_id IS NOT NULL OR shopify_product_id IS NOT NULL",
            name="has_natural_key",
        ),
    )


class ProductVariant(TimestampMixin, Base):
    """A Shopify product variant."""

    __tablename__ = "product_variants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    shopify_variant_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    sku: Mapped[str | None] = mapped_column(Text, index=True)
    title: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    source_modified_at: Mapped[dt.datetime | None]


class Store(Base):
    """A ShipStation store (one per connected marketplace account)."""

    __tablename__ = "stores"

    shipstation_store_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(Text)
    marketplace_name: Mapped[str | None] = mapped_column(Text)
    marketplace: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool | None]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Tag(Base):
    """A ShipStation tag (GET /accounts/listtags)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shipstation_tag_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(Text, index=True)
    color_hex: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Order(TimestampMixin, Base):
    """One real order, however many sources report it (reconciled on marketplace + order number)."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    marketplace: Mapped[str | None] = mapped_column(Text, index=True)
    order_number: Mapped[str | None] = mapped_column(Text)
    order_key: Mapped[str | None] = mapped_column(Text, index=True)
    shipstation_order_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    shopify_order_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    amazon_order_id: Mapped[str | None] = mapped_column(Text, unique=True)
    shipstation_store_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(Text, index=True)
    order_date: Mapped[dt.datetime | None]
    payment_date: Mapped[dt.datetime | None]
    modified_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    ship_by_date: Mapped[dt.datetime | None] = mapped_column(index=True)
    shipped_at: Mapped[dt.datetime | None]
    tracking_number: Mapped[str | None] = mapped_column(Text)
    carrier_code: Mapped[str | None] = mapped_column(Text)
    service_code: Mapped[str | None] = mapped_column(Text)
    shipment_status: Mapped[str | None] = mapped_column(Text)
    requested_shipping_service: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    customer_name: Mapped[str | None] = mapped_column(Text)
    customer_email: Mapped[str | None] = mapped_column(Text)
    customer_notes: Mapped[str | None] = mapped_column(Text)
    internal_notes: Mapped[str | None] = mapped_column(Text)
    gift: Mapped[bool | None]
    gift_message: Mapped[str | None] = mapped_column(Text)
    currency: Mapped[str | None] = mapped_column(String(3))
    order_total: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    amount_paid: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    tax_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    shipping_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    ship_to: Mapped[dict[str, Any] | None]
    merged_or_split: Mapped[bool] = mapped_column(server_default=text("false"))
    parent_shipstation_order_id: Mapped[int | None] = mapped_column(BigInteger)
    merged_shipstation_order_ids: Mapped[list[Any] | None]
    sources: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    reconciliation_status: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "order_number", "marketplace"),)


class OrderTag(Base):
    """Which ShipStation tags an order carries."""

    __tablename__ = "order_tags"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)


class OrderItem(TimestampMixin, Base):
    """One line of an order; ``options`` keeps the source's personalisation options verbatim."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    shipstation_order_item_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    line_item_key: Mapped[str | None] = mapped_column(Text, index=True)
    shopify_line_item_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    amazon_order_item_id: Mapped[str | None] = mapped_column(Text, unique=True)
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    sku: Mapped[str | None] = mapped_column(Text, index=True)
    name: Mapped[str | None] = mapped_column(Text)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    options: Mapped[list[Any] | None]
    image_url: Mapped[str | None] = mapped_column(Text)
    reconciliation_status: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class AmazonCustomization(TimestampMixin, Base):
    """An Amazon Custom zip: where it came from, what was parsed out of it, and whether that worked."""

    __tablename__ = "amazon_customizations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    amazon_order_id: Mapped[str] = mapped_column(Text)
    amazon_order_item_id: Mapped[str] = mapped_column(Text)
    order_item_id: Mapped[int | None] = mapped_column(ForeignKey("order_items.id", ondelete="SET NULL"), index=True)
    customized_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    error: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    zip_sha256: Mapped[str | None] = mapped_column(String(64))
    raw_json: Mapped[dict[str, Any] | None]
    layout: Mapped[str | None] = mapped_column(Text)
    custom_text: Mapped[str | None] = mapped_column(Text)
    font: Mapped[str | None] = mapped_column(Text)
    color_1: Mapped[str | None] = mapped_column(Text)
    color_2: Mapped[str | None] = mapped_column(Text)
    surfaces: Mapped[list[Any] | None]
    partition_key: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None]
    processed_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("amazon_order_id", "amazon_order_item_id"),
        CheckConstraint(_in("status", CUSTOMIZATION_STATUSES), name="status_known"),
        Index(None, "status"),
    )


class PrintTask(TimestampMixin, Base):
    """One job for the print queue: a text and colours to print, ``quantity`` times."""

    __tablename__ = "print_tasks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # SET NULL: an item removed from its order leaves its tasks behind, to be cancelled (pending) or flagged
    # (started work) by the next print-tasks run rather than silently vanishing from the queue.
    order_item_id: Mapped[int | None] = mapped_column(ForeignKey("order_items.id", ondelete="SET NULL"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    task_index: Mapped[int] = mapped_column(Integer)
    custom_text: Mapped[str | None] = mapped_column(Text)
    color_1: Mapped[str | None] = mapped_column(Text)
    color_2: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    needs_review: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    review_reason: Mapped[str | None] = mapped_column(Text)
    annotation: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    ship_by_date: Mapped[dt.datetime | None]
    # What the pipeline last compared the task with (the item's inputs) and when.
    checked_input_hash: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[dt.datetime | None]
    # md5 of the task's content and status as the pipeline last wrote it; NULL once a person changed the row
    # (or for rows the pipeline never wrote). Only rows still matching it are ever rewritten.
    written_fingerprint: Mapped[str | None] = mapped_column(String(32))
    rules_hash: Mapped[str | None] = mapped_column(String(16))
    retry_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    __table_args__ = (
        UniqueConstraint("order_item_id", "task_index"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("task_index >= 0", name="task_index_non_negative"),
        CheckConstraint(_in("status", PRINT_TASK_STATUSES), name="status_known"),
        CheckConstraint(_in("source", PRINT_TASK_SOURCES), name="source_known"),
        Index(None, "status"),
        Index(None, "needs_review"),
        Index(None, "ship_by_date"),
    )


class PrintTaskHistory(Base):
    """Every change to a print task: what it was, what it became, why and in which run.

    No foreign keys: the history outlives the task, its item and its order.
    """

    __tablename__ = "print_task_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_id: Mapped[int] = mapped_column(BigInteger, index=True)
    order_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    order_item_id: Mapped[int | None] = mapped_column(BigInteger)
    order_number: Mapped[str | None] = mapped_column(Text, index=True)
    task_index: Mapped[int | None] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    old_status: Mapped[str | None] = mapped_column(Text)
    new_status: Mapped[str | None] = mapped_column(Text)
    old_custom_text: Mapped[str | None] = mapped_column(Text)
    new_custom_text: Mapped[str | None] = mapped_column(Text)
    old_color_1: Mapped[str | None] = mapped_column(Text)
    new_color_1: Mapped[str | None] = mapped_column(Text)
    old_color_2: Mapped[str | None] = mapped_column(Text)
    new_color_2: Mapped[str | None] = mapped_column(Text)
    old_quantity: Mapped[int | None] = mapped_column(Integer)
    new_quantity: Mapped[int | None] = mapped_column(Integer)
    old_needs_review: Mapped[bool | None]
    new_needs_review: Mapped[bool | None]
    old_review_reason: Mapped[str | None] = mapped_column(Text)
    new_review_reason: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)

    __table_args__ = (
        CheckConstraint(_in("change", PRINT_TASK_CHANGES), name="change_known"),
    )


class AiCall(Base):
    """One OpenAI call made to read an order's personalisation, with what it cost and produced."""

    __tablename__ = "ai_calls"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    order_number: Mapped[str | None] = mapped_column(Text)
    marketplace: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(Text)
    input_hash: Mapped[str] = mapped_column(String(64), index=True)
    request: Mapped[dict[str, Any] | None]
    raw_response: Mapped[str | None] = mapped_column(Text)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)
    tasks_created: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    review_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    run_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)


# ------------------------------------------------------------------------------------------ catalogue and stock


class Warehouse(Base):
    """A ShipStation warehouse: a v1 ship-from location (``kind`` ``ship_from``, ``source_id`` its warehouseId) or a
    V2 inventory warehouse (``kind`` ``inventory``, ``source_id`` its inventory_warehouse_id)."""

    __tablename__ = "warehouses"

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    source_id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool | None]
    country: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    source_created_at: Mapped[dt.datetime | None]
    source_updated_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (CheckConstraint(_in("kind", ("ship_from", "inventory")), name="kind_known"),)


class InventoryLocation(Base):
    """A V2 inventory location (area - unit - shelf - bin) inside an inventory warehouse."""

    __tablename__ = "inventory_locations"

    inventory_location_id: Mapped[str] = mapped_column(Text, primary_key=True)
    inventory_warehouse_id: Mapped[str | None] = mapped_column(Text, index=True)
    name: Mapped[str | None] = mapped_column(Text)
    source_created_at: Mapped[dt.datetime | None]
    source_updated_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class InventoryLevel(Base):
    """Stock of one SKU at one inventory location (V2 GET /inventory), as last synced: ``available`` is what can
    ship (on hand minus allocated to orders). ``inventory_location_id`` is '' when ShipStation names none;
    ``synced_at`` is the sync that last wrote the quantities (a sync that finds them unchanged writes nothing)."""

    __tablename__ = "inventory_levels"

    sku: Mapped[str] = mapped_column(Text, primary_key=True)
    inventory_location_id: Mapped[str] = mapped_column(Text, primary_key=True)
    inventory_warehouse_id: Mapped[str | None] = mapped_column(Text)
    on_hand: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer)
    available: Mapped[int] = mapped_column(Integer)
    average_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    average_cost_currency: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class InventoryLevelHistory(Base):
    """Every change of a stock level the sync observed: a new SKU/location, changed quantities, or a level that
    disappeared from ShipStation (``removed``, new quantities NULL). No foreign keys: it outlives the level."""

    __tablename__ = "inventory_level_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku: Mapped[str] = mapped_column(Text)
    inventory_location_id: Mapped[str] = mapped_column(Text)
    inventory_warehouse_id: Mapped[str | None] = mapped_column(Text)
    change: Mapped[str] = mapped_column(Text)
    old_on_hand: Mapped[int | None] = mapped_column(Integer)
    new_on_hand: Mapped[int | None] = mapped_column(Integer)
    old_allocated: Mapped[int | None] = mapped_column(Integer)
    new_allocated: Mapped[int | None] = mapped_column(Integer)
    old_available: Mapped[int | None] = mapped_column(Integer)
    new_available: Mapped[int | None] = mapped_column(Integer)
    observed_at: Mapped[dt.datetime]
    run_id: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "sku", "observed_at"),
                      CheckConstraint(_in("change", ("new", "changed", "removed")), name="change_known"))


# ------------------------------------------------------------------------------------------ operations


class AlertState(Base):
    """What an alert last reported about one condition, so it is posted again only when the condition changes.

    ``key`` names the condition (a check of a partition, the review backlog, a stale source...);
    ``fingerprint`` is a hash of what it was when last reported; ``members`` the refs then reported (e.g.
    order ids), so only newcomers trigger a new message. Rows of conditions not seen for a week are dropped.
    """

    __tablename__ = "alert_state"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(Text)
    members: Mapped[list[Any] | None]
    summary: Mapped[str | None] = mapped_column(Text)
    first_reported_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_reported_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)
