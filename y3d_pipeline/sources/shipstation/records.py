"""ShipStation v1 records as the API sends them: Pacific wall-clock dates read as aware UTC datetimes, and the
order, item, shipment, tag and store models (plain module, no I/O).

A record that does not validate keeps its payload: with a usable id it becomes a :class:`Fetched` with only its
id and dates (normalization quarantines it with a reason); without one an ``InvalidRecord`` keyed by its
content. Models read the fields the pipeline uses and keep everything else (``extra="allow"``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from y3d_pipeline.db.storable import BIGINT_MAX, INTEGER_MAX, check_timestamp
from y3d_pipeline.sources.http import InvalidRecord

log = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
_PACIFIC_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$"
)


# ------------------------------------------------------------------------------------------ time zone


def parse_pacific(value: str | dt.datetime | None) -> dt.datetime | None:
    """A ShipStation date string (Pacific wall clock, no offset) as an aware UTC datetime.

    ``"2026-03-08T01:30:00.0000000"`` → ``2026-03-08 09:30:00+00:00``. Fractional digits beyond
    microseconds are dropped. Ambiguous fall-back times are read as the first occurrence (PDT, fold=0).
    ``None``/empty → ``None``; anything unparsable, or outside 2000-2099 (.NET's ``DateTime.MaxValue``,
    9999-12-31, is a placeholder, not a date), raises ``ValueError``. A string that does carry an offset or
    ``Z`` (not sent by ShipStation v1) is honoured rather than guessed.
    """
    try:
        parsed = _parse_pacific(value)
    except OverflowError:  # 9999-12-31T23:00 Pacific is past the last datetime Python has in UTC
        raise ValueError(f"ShipStation date {str(value)[:40]!r} is out of range (a placeholder, not a date)") \
            from None
    return None if parsed is None else check_timestamp(parsed, "ShipStation date")


def _parse_pacific(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=PACIFIC, fold=0).astimezone(dt.UTC)
        return value.astimezone(dt.UTC)
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 27 and text[10] == "T" and text[19] == ".":  # the usual "…T08:46:27.0000000": fast path
        try:
            naive = dt.datetime.fromisoformat(text[:26])
        except ValueError:
            pass
        else:
            return naive.replace(tzinfo=PACIFIC, fold=0).astimezone(dt.UTC)
    match = _PACIFIC_RE.match(text)
    if match is None:
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a ShipStation date: {text[:40]!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"not a ShipStation date: {text[:40]!r}")
        return parsed.astimezone(dt.UTC)
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    naive = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                        micro)
    return naive.replace(tzinfo=PACIFIC, fold=0).astimezone(dt.UTC)


def marketplace_from_name(name: str | None) -> str | None:
    """A store's marketplace name or an order's ``advancedOptions.source`` → amazon/etsy/ebay/web/...

    Shopify is "web" (the legacy convention); ShipStation manual stores are "manual"; anything else is
    lower-cased as given.
    """
    if not name:
        return None
    lowered = name.strip().lower()
    for needle, marketplace in (("amazon", "amazon"), ("etsy", "etsy"), ("ebay", "ebay"), ("shopify", "web"),
                                ("tiktok", "tiktok"), ("woocommerce", "web")):
        if needle in lowered:
            return marketplace
    if lowered in ("web", "website"):
        return "web"
    if lowered in ("shipstation", "manual", "manual orders"):
        return "manual"
    return lowered or None


def _pacific_or_none(value: Any) -> dt.datetime | None:
    return parse_pacific(value)


PacificDatetime = Annotated[dt.datetime | None, BeforeValidator(_pacific_or_none)]
# Ids and counts as our bigint/integer columns can hold them: a larger value fails its record, not the batch.
Id = Annotated[int, Field(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
Count = Annotated[int, Field(ge=-INTEGER_MAX - 1, le=INTEGER_MAX)]


# ------------------------------------------------------------------------------------------ models


class RecordModel(BaseModel):
    """Reads the fields we use; keeps everything else (``extra="allow"``) so nothing is lost."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False)


class Address(RecordModel):
    name: str | None = None
    company: str | None = None
    street1: str | None = None
    street2: str | None = None
    street3: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = Field(None, alias="postalCode")
    country: str | None = None
    phone: str | None = None
    residential: bool | None = None
    address_verified: str | None = Field(None, alias="addressVerified")


class Weight(RecordModel):
    value: float | None = None
    units: str | None = None


class ItemOption(RecordModel):
    name: str | None = None
    value: Any = None


class OrderItem(RecordModel):
    order_item_id: Id | None = Field(None, alias="orderItemId")
    line_item_key: str | None = Field(None, alias="lineItemKey")
    sku: str | None = None
    name: str | None = None
    image_url: str | None = Field(None, alias="imageUrl")
    weight: Weight | None = None
    quantity: Count | None = None
    unit_price: float | None = Field(None, alias="unitPrice")
    warehouse_location: str | None = Field(None, alias="warehouseLocation")
    options: list[ItemOption] | None = None
    product_id: Id | None = Field(None, alias="productId")
    fulfillment_sku: str | None = Field(None, alias="fulfillmentSku")
    adjustment: bool | None = False
    upc: str | None = None
    create_date: PacificDatetime = Field(None, alias="createDate")
    modify_date: PacificDatetime = Field(None, alias="modifyDate")


class AdvancedOptions(RecordModel):
    warehouse_id: Id | None = Field(None, alias="warehouseId")
    store_id: Id | None = Field(None, alias="storeId")
    source: str | None = None
    merged_or_split: bool | None = Field(None, alias="mergedOrSplit")
    merged_ids: list[Id] | None = Field(None, alias="mergedIds")
    parent_id: Id | None = Field(None, alias="parentId")
    custom_field1: str | None = Field(None, alias="customField1")
    custom_field2: str | None = Field(None, alias="customField2")
    custom_field3: str | None = Field(None, alias="customField3")


class Order(RecordModel):
    """A ShipStation order; dates are aware UTC datetimes (parsed from Pacific wall clock)."""

    order_id: Id = Field(alias="orderId")
    order_number: str | None = Field(None, alias="orderNumber")
    order_key: str | None = Field(None, alias="orderKey")
    order_status: str | None = Field(None, alias="orderStatus")
    order_date: PacificDatetime = Field(None, alias="orderDate")
    create_date: PacificDatetime = Field(None, alias="createDate")
    modify_date: PacificDatetime = Field(None, alias="modifyDate")
    payment_date: PacificDatetime = Field(None, alias="paymentDate")
    ship_by_date: PacificDatetime = Field(None, alias="shipByDate")
    ship_date: PacificDatetime = Field(None, alias="shipDate")
    hold_until_date: PacificDatetime = Field(None, alias="holdUntilDate")
    customer_id: Id | None = Field(None, alias="customerId")
    customer_username: str | None = Field(None, alias="customerUsername")
    customer_email: str | None = Field(None, alias="customerEmail")
    bill_to: Address | None = Field(None, alias="billTo")
    ship_to: Address | None = Field(None, alias="shipTo")
    items: list[OrderItem] | None = None
    order_total: float | None = Field(None, alias="orderTotal")
    amount_paid: float | None = Field(None, alias="amountPaid")
    tax_amount: float | None = Field(None, alias="taxAmount")
    shipping_amount: float | None = Field(None, alias="shippingAmount")
    customer_notes: str | None = Field(None, alias="customerNotes")
    internal_notes: str | None = Field(None, alias="internalNotes")
    gift: bool | None = None
    gift_message: str | None = Field(None, alias="giftMessage")
    requested_shipping_service: str | None = Field(None, alias="requestedShippingService")
    carrier_code: str | None = Field(None, alias="carrierCode")
    service_code: str | None = Field(None, alias="serviceCode")
    tag_ids: list[Id] | None = Field(None, alias="tagIds")
    advanced_options: AdvancedOptions | None = Field(None, alias="advancedOptions")


class Tag(RecordModel):
    tag_id: Id = Field(alias="tagId")
    name: str
    color: str | None = None


class Store(RecordModel):
    store_id: Id = Field(alias="storeId")
    store_name: str | None = Field(None, alias="storeName")
    marketplace_id: Id | None = Field(None, alias="marketplaceId")
    marketplace_name: str | None = Field(None, alias="marketplaceName")
    active: bool | None = None


class Shipment(RecordModel):
    shipment_id: Id = Field(alias="shipmentId")
    order_id: Id | None = Field(None, alias="orderId")
    order_key: str | None = Field(None, alias="orderKey")
    order_number: str | None = Field(None, alias="orderNumber")
    create_date: PacificDatetime = Field(None, alias="createDate")
    ship_date: dt.date | None = Field(None, alias="shipDate")
    tracking_number: str | None = Field(None, alias="trackingNumber")
    carrier_code: str | None = Field(None, alias="carrierCode")
    service_code: str | None = Field(None, alias="serviceCode")
    voided: bool | None = None
    void_date: PacificDatetime = Field(None, alias="voidDate")


class Warehouse(RecordModel):
    """A ship-from location (v1 ``GET /warehouses``)."""

    warehouse_id: Id = Field(alias="warehouseId")
    warehouse_name: str | None = Field(None, alias="warehouseName")
    origin_address: Address | None = Field(None, alias="originAddress")
    create_date: PacificDatetime = Field(None, alias="createDate")
    is_default: bool | None = Field(None, alias="isDefault")


class ProductCategory(RecordModel):
    category_id: Id | None = Field(None, alias="categoryId")
    name: str | None = None


class Product(RecordModel):
    """A catalogue product (v1 ``GET /products``); ``productType`` is an object or a name, as accounts send it."""

    product_id: Id = Field(alias="productId")
    sku: str | None = None
    name: str | None = None
    price: float | None = None
    default_cost: float | None = Field(None, alias="defaultCost")
    active: bool | None = None
    product_category: ProductCategory | None = Field(None, alias="productCategory")
    product_type: Any = Field(None, alias="productType")
    warehouse_location: str | None = Field(None, alias="warehouseLocation")
    fulfillment_sku: str | None = Field(None, alias="fulfillmentSku")
    weight_oz: float | None = Field(None, alias="weightOz")
    create_date: PacificDatetime = Field(None, alias="createDate")
    modify_date: PacificDatetime = Field(None, alias="modifyDate")

    @property
    def type_name(self) -> str | None:
        value = self.product_type
        if isinstance(value, dict):
            value = value.get("name")
        return str(value) if value not in (None, "") else None


@dataclass
class Fetched:
    """One record as read: the parsed model plus the full payload exactly as ShipStation sent it."""

    model: Any
    payload: dict[str, Any]
    complete: bool = True  # False: only the id (and dates) parsed; normalization quarantines it with a reason


@dataclass
class ScanResult:
    """What a paged scan returned (deduplicated by id, newest ``modifyDate`` kept) and what it cost."""

    records: list[Fetched] = field(default_factory=list)
    pages: int = 0
    rescans: int = 0
    complete: bool = True
    rejected: list[InvalidRecord] = field(default_factory=list)  # records without a usable id (cannot be stored)


def newer_or_same(candidate: dt.datetime | None, current: dt.datetime | None) -> bool:
    if candidate is None:
        return current is None
    return current is None or candidate >= current


def valid_only(path: str, parsed: list[Fetched | InvalidRecord]) -> list[Fetched]:
    """Reference records (tags, stores) that parse completely; the others are skipped with a warning (ids
    only), so one broken tag never hides every other tag."""
    valid = [r for r in parsed if isinstance(r, Fetched) and r.complete]
    skipped = [r.source_id if isinstance(r, InvalidRecord) else str(r.model.model_dump().get("tag_id")
                                                                    or r.model.model_dump().get("store_id")
                                                                    or r.model.model_dump().get("warehouse_id"))
               for r in parsed if not (isinstance(r, Fetched) and r.complete)]
    if skipped:
        log.warning("ShipStation GET %s: skipped %d unreadable record(s): %s", path, len(skipped),
                    ", ".join(skipped[:10]))
    return valid


def parse_record(model: type[RecordModel], payload: Any, id_field: str) -> Fetched | InvalidRecord:
    """Parse a record; one with a broken field other than its id is kept with only the fields that parse
    (its payload intact, so normalization can quarantine it with a reason). No usable id: InvalidRecord."""
    if not isinstance(payload, dict):
        return InvalidRecord.without_id(payload, f"not an object but {type(payload).__name__}")
    try:
        return Fetched(model.model_validate(payload), payload)
    except ValidationError:
        pass
    alias = model.model_fields[id_field].alias or id_field
    raw_id = payload.get(alias)
    try:
        record_id = int(raw_id)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return InvalidRecord.without_id(payload, f"{alias} is missing or not an integer")
    if isinstance(raw_id, bool) or not -BIGINT_MAX - 1 <= record_id <= BIGINT_MAX:
        return InvalidRecord(str(raw_id)[:40], f"{alias} {str(raw_id)[:40]} is not a usable 64-bit id", payload)
    values: dict[str, Any] = {id_field: record_id}
    for name in ("modify_date", "create_date", "void_date"):
        if name in model.model_fields:
            try:
                values[name] = parse_pacific(payload.get(model.model_fields[name].alias or name))
            except ValueError:
                values[name] = None
    return Fetched(model.model_construct(**values), payload, complete=False)
