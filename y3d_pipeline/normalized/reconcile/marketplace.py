"""Raw Shopify / Amazon order payloads → canonical marketplace records. Pure functions, no I/O.

A :class:`MarketplaceOrder` holds only what reconciliation takes from the marketplace's own API: its ids,
order number (Shopify ``name`` "#1001" → "1001"; Amazon ``AmazonOrderId``), its status mapped to
ShipStation's vocabulary (used only while no ShipStation order exists), prices, and per line item the
buyer-entered personalisation as options ``[{"name": key, "value": value}]`` (Shopify ``customAttributes``;
the Amazon Custom URL as a ``CustomizedURL`` option).

Amazon orders come in the shape of the Orders API version that fetched them (v2026-01-01 ``orderId``/
``orderItems``, or v0 ``AmazonOrderId``/``OrderItems``); both read into the same record, field for field:

=========================  ===========================================  ======================================
record                     v2026-01-01                                  v0
=========================  ===========================================  ======================================
status                     ``fulfillment.fulfillmentStatus``            ``OrderStatus``
order_date / modified_at   ``createdTime`` / ``lastUpdatedTime``        ``PurchaseDate`` / ``LastUpdateDate``
ship_by_date               ``fulfillment.shipByWindow.latestDateTime``  ``LatestShipDate``
customer name / email      ``buyer.buyerName`` / ``buyer.buyerEmail``   ``BuyerInfo.BuyerName`` / ``BuyerEmail``
order total, currency      ``proceeds.grandTotal``                      ``OrderTotal``
shipping service           ``fulfillment.fulfillmentServiceLevel``      ``ShipmentServiceLevelCategory`` (same
                                                                        values, in v2026's spelling)
item unit price            ``product.price.unitPrice``                  ``ItemPrice`` / ``QuantityOrdered``
item sku, title            ``product.sellerSku``, ``product.title``     ``SellerSKU``, ``Title``
Custom URL option          ``product.customization.customizedUrl``      ``BuyerInfo.BuyerCustomizedInfo
                                                                        .CustomizedURL`` (RDT only)
=========================  ===========================================  ======================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from y3d_pipeline.db.storable import check_bigint, check_timestamp

SHOPIFY = "shopify"
AMAZON = "amazon"
MARKETPLACE_OF = {SHOPIFY: "web", AMAZON: "amazon"}  # orders.marketplace as ShipStation normalization sets it
CENT = Decimal("0.01")
MAX_MONEY = Decimal("9999999999.99")
MAX_QUANTITY = 1_000_000  # as ShipStation normalization: beyond it a quantity is garbage, not an order

AMAZON_STATUSES = {"pending": "pending", "unshipped": "awaiting_shipment", "partiallyshipped": "awaiting_shipment",
                   "shipped": "shipped", "canceled": "cancelled", "cancelled": "cancelled",
                   "unfulfillable": "cancelled", "invoiceunconfirmed": "pending", "pendingavailability": "pending"}


class Invalid(ValueError):
    pass


@dataclass
class MarketplaceItem:
    item_id: str  # Amazon OrderItemId / Shopify line item legacy id (as text)
    position: int
    sku: str | None
    name: str | None
    quantity: int | None  # None when the source says 0 (never written as an item row)
    unit_price: Decimal | None
    options: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MarketplaceOrder:
    source: str  # "shopify" | "amazon"
    source_order_id: Any  # int Shopify legacyResourceId / str AmazonOrderId
    order_number: str
    status: str | None
    order_date: dt.datetime | None
    modified_at: dt.datetime
    ship_by_date: dt.datetime | None
    customer_name: str | None
    customer_email: str | None
    currency: str | None
    order_total: Decimal | None
    requested_shipping_service: str | None
    items: list[MarketplaceItem]

    @property
    def marketplace(self) -> str:
        return MARKETPLACE_OF[self.source]

    @property
    def order_id_column(self) -> str:
        return "shopify_order_id" if self.source == SHOPIFY else "amazon_order_id"

    @property
    def item_id_column(self) -> str:
        return "shopify_line_item_id" if self.source == SHOPIFY else "amazon_order_item_id"

    def item_key(self, item: MarketplaceItem) -> Any:
        """The value stored in ``item_id_column`` (bigint for Shopify, text for Amazon)."""
        return int(item.item_id) if self.source == SHOPIFY else item.item_id


def _object(value: Any, what: str) -> dict[str, Any]:
    """A JSON object (``{}`` when absent); any other shape (a string, a number) makes the record invalid."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{what} is a {type(value).__name__}, not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{what} is a {type(value).__name__}, not a list")
    return value


def _quantity(value: int, what: str) -> int:
    if value < 0 or value > MAX_QUANTITY:
        raise Invalid(f"{what} {value} is out of range")
    return value


def _text(value: Any, limit: int = 2000) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def _money(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise Invalid(f"{what} is not a finite number")
        amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise Invalid(f"{what} is not a number or out of range") from exc
    if abs(amount) > MAX_MONEY:
        raise Invalid(f"{what} {value} is out of range")
    return amount


def _time(value: Any, what: str, *, required: bool = False) -> dt.datetime | None:
    if value in (None, ""):
        if required:
            raise Invalid(f"{what} is missing")
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(f"{what} is not a timestamp: {str(value)[:40]!r}") from exc
    if parsed.tzinfo is None:
        raise Invalid(f"{what} has no timezone: {str(value)[:40]!r}")
    try:
        return check_timestamp(parsed.astimezone(dt.UTC), what)
    except (OverflowError, ValueError) as exc:
        raise Invalid(str(exc) if isinstance(exc, ValueError) else f"{what} is out of range") from exc


def _shop_money(node: Any, what: str) -> Any:
    money = _object(_object(node, what).get("shopMoney"), f"{what}.shopMoney")
    return money.get("amount")


def _gid_tail(value: Any, what: str) -> str:
    tail = str(value or "").rsplit("/", 1)[-1]
    if not tail.isdigit() or len(tail) > 18:
        raise Invalid(f"{what} {value!r} has no numeric id")
    return tail


def map_shopify(payload: dict[str, Any]) -> MarketplaceOrder:
    """A raw Shopify order (Admin GraphQL node with ``lineItems.nodes``) → a marketplace record."""
    if not isinstance(payload, dict):
        raise Invalid("payload is not an object")
    legacy = payload.get("legacyResourceId")
    if legacy is None or not str(legacy).isdigit():
        raise Invalid(f"legacyResourceId {str(legacy)[:40]!r} is not numeric")
    try:
        check_bigint(int(legacy), "legacyResourceId")
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    name = _text(payload.get("name"), 60)
    number = name.lstrip("#").strip() if name else None
    if not number:
        raise Invalid("order name is missing")
    if payload.get("cancelledAt"):
        status = "cancelled"
    elif str(payload.get("displayFulfillmentStatus") or "").upper() == "FULFILLED":
        status = "shipped"
    else:
        status = "awaiting_shipment"
    address = _object(payload.get("shippingAddress"), "shippingAddress")
    customer = _object(payload.get("customer"), "customer")
    items = []
    nodes = _list(_object(payload.get("lineItems"), "lineItems").get("nodes"), "lineItems.nodes")
    for position, node in enumerate(nodes):
        where = f"lineItems[{position}]"
        node = _object(node, where)
        quantity = node.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise Invalid(f"{where} has quantity {str(quantity)[:20]!r}")
        _quantity(quantity, f"{where}.quantity")
        options = []
        for attribute in _list(node.get("customAttributes"), f"{where}.customAttributes"):
            attribute = _object(attribute, f"{where}.customAttributes[]")
            key = _text(attribute.get("key"), 255)
            if key is not None:
                value = attribute.get("value")
                options.append({"name": key, "value": None if value is None else str(value)})
        items.append(MarketplaceItem(
            item_id=_gid_tail(node.get("id"), f"{where}.id"), position=position, sku=_text(node.get("sku"), 255),
            name=_text(node.get("name")), quantity=quantity or None,
            unit_price=_money(_shop_money(node.get("originalUnitPriceSet"), f"{where}.originalUnitPriceSet"),
                              f"{where}.originalUnitPriceSet"),
            options=options))
    currency = _text(payload.get("currencyCode"), 3)
    return MarketplaceOrder(
        source=SHOPIFY, source_order_id=int(legacy), order_number=number, status=status,
        order_date=_time(payload.get("createdAt"), "createdAt"),
        modified_at=_time(payload.get("updatedAt"), "updatedAt", required=True),  # type: ignore[arg-type]
        ship_by_date=None,
        customer_name=_text(address.get("name") or customer.get("displayName"), 500),
        customer_email=(_text(payload.get("email"), 320) or "").lower() or None,
        currency=currency.upper() if currency and len(currency) == 3 else None,
        order_total=_money(_shop_money(payload.get("totalPriceSet"), "totalPriceSet"), "totalPriceSet"),
        requested_shipping_service=None, items=items)


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _amazon_status(raw: Any) -> str | None:
    text = str(raw or "")
    return AMAZON_STATUSES.get(text.lower().replace(" ", "").replace("_", ""), text.lower() or None)


def _service_level(category: Any) -> str | None:
    """v0's ShipmentServiceLevelCategory ("FreeEconomy") in v2026's fulfillmentServiceLevel spelling
    ("FREE_ECONOMY"), so both versions give an order the same value."""
    text = _text(category, 100)
    if text is None or "_" in text or text.isupper():
        return text
    return "".join(f"_{c}" if c.isupper() and n else c for n, c in enumerate(text)).upper()


def map_amazon(payload: dict[str, Any]) -> MarketplaceOrder:
    """A raw SP-API order of either Orders API version → a marketplace record (see the module docstring)."""
    if not isinstance(payload, dict):
        raise Invalid("payload is not an object")
    if "orderId" in payload:
        return _map_amazon_2026(payload)
    order_id = _text(payload.get("AmazonOrderId"), 50)
    if not order_id:
        raise Invalid("AmazonOrderId is missing")
    status = _amazon_status(payload.get("OrderStatus"))
    total = _object(payload.get("OrderTotal"), "OrderTotal")
    buyer = _object(payload.get("BuyerInfo"), "BuyerInfo")
    items = []
    for position, node in enumerate(_list(payload.get("OrderItems"), "OrderItems")):
        where = f"OrderItems[{position}]"
        node = _object(node, where)
        item_id = _text(node.get("OrderItemId"), 255)
        if not item_id:
            raise Invalid(f"{where} has no OrderItemId")
        quantity = node.get("QuantityOrdered")
        try:
            quantity = int(quantity)
        except (TypeError, ValueError, OverflowError) as exc:
            raise Invalid(f"{where} has QuantityOrdered {str(quantity)[:20]!r}") from exc
        _quantity(quantity, f"{where}.QuantityOrdered")
        item_price = _money(_object(node.get("ItemPrice"), f"{where}.ItemPrice").get("Amount"), f"{where}.ItemPrice")
        unit_price = (item_price / quantity).quantize(CENT, rounding=ROUND_HALF_UP) \
            if item_price is not None and quantity else None
        item_buyer = _object(node.get("BuyerInfo"), f"{where}.BuyerInfo")
        url = _object(item_buyer.get("BuyerCustomizedInfo"), f"{where}.BuyerInfo.BuyerCustomizedInfo").get(
            "CustomizedURL")
        options = [{"name": "CustomizedURL", "value": str(url)}] if url else []
        items.append(MarketplaceItem(item_id=item_id, position=position, sku=_text(node.get("SellerSKU"), 255),
                                     name=_text(node.get("Title")), quantity=quantity or None,
                                     unit_price=unit_price, options=options))
    currency = _text(total.get("CurrencyCode"), 3)
    return MarketplaceOrder(
        source=AMAZON, source_order_id=order_id, order_number=order_id, status=status,
        order_date=_time(payload.get("PurchaseDate"), "PurchaseDate"),
        modified_at=_time(payload.get("LastUpdateDate"), "LastUpdateDate", required=True),  # type: ignore[arg-type]
        ship_by_date=_time(payload.get("LatestShipDate"), "LatestShipDate"),
        customer_name=_text(buyer.get("BuyerName"), 500),
        customer_email=(_text(buyer.get("BuyerEmail"), 320) or "").lower() or None,
        currency=currency.upper() if currency and len(currency) == 3 else None,
        order_total=_money(total.get("Amount"), "OrderTotal"),
        requested_shipping_service=_service_level(payload.get("ShipmentServiceLevelCategory")), items=items)


def _map_amazon_2026(payload: dict[str, Any]) -> MarketplaceOrder:
    order_id = _text(payload.get("orderId"), 50)
    if not order_id:
        raise Invalid("orderId is missing")
    fulfillment = _object(payload.get("fulfillment"), "fulfillment")
    grand_total = _object(_object(payload.get("proceeds"), "proceeds").get("grandTotal"), "proceeds.grandTotal")
    buyer = _object(payload.get("buyer"), "buyer")
    nodes = payload.get("orderItems")
    if not isinstance(nodes, list):
        raise Invalid("orderItems is not a list")
    items = []
    for position, node in enumerate(nodes):
        where = f"orderItems[{position}]"
        node = _object(node, where)
        item_id = _text(node.get("orderItemId"), 255)
        if not item_id:
            raise Invalid(f"{where} has no orderItemId")
        quantity = node.get("quantityOrdered")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise Invalid(f"{where} has quantityOrdered {str(quantity)[:20]!r}")
        _quantity(quantity, f"{where}.quantityOrdered")
        product = _object(node.get("product"), f"{where}.product")
        url = _object(product.get("customization"), f"{where}.product.customization").get("customizedUrl")
        unit_price = _object(_object(product.get("price"), f"{where}.product.price").get("unitPrice"),
                             f"{where}.product.price.unitPrice").get("amount")
        items.append(MarketplaceItem(
            item_id=item_id, position=position, sku=_text(product.get("sellerSku"), 255),
            name=_text(product.get("title")), quantity=quantity or None,
            unit_price=_money(unit_price, f"{where}.product.price.unitPrice"),
            options=[{"name": "CustomizedURL", "value": str(url)}] if url else []))
    currency = _text(grand_total.get("currencyCode"), 3)
    return MarketplaceOrder(
        source=AMAZON, source_order_id=order_id, order_number=order_id,
        status=_amazon_status(fulfillment.get("fulfillmentStatus")),
        order_date=_time(payload.get("createdTime"), "createdTime"),
        modified_at=_time(payload.get("lastUpdatedTime"), "lastUpdatedTime", required=True),  # type: ignore[arg-type]
        ship_by_date=_time(_dig(fulfillment, "shipByWindow", "latestDateTime"), "fulfillment.shipByWindow"),
        customer_name=_text(buyer.get("buyerName"), 500),
        customer_email=(_text(buyer.get("buyerEmail"), 320) or "").lower() or None,
        currency=currency.upper() if currency and len(currency) == 3 else None,
        order_total=_money(grand_total.get("amount"), "proceeds.grandTotal"),
        requested_shipping_service=_text(fulfillment.get("fulfillmentServiceLevel"), 500), items=items)


def _option_key(name: Any) -> str:
    return " ".join(str(name or "").split()).casefold()


def merge_options(shipstation: list[Any] | None, marketplace: list[dict[str, Any]]) -> list[Any] | None:
    """ShipStation's options with the marketplace's buyer-entered ones merged in, without duplicates.

    An option the marketplace also has (same name, ignoring case and spacing) takes the marketplace's value
    in ShipStation's position; marketplace options ShipStation lacks are appended in the marketplace's
    order; ShipStation-only options (e.g. values pushed back by the print queue) are kept as they are.
    """
    merged: list[Any] = [dict(o) if isinstance(o, dict) else o for o in (shipstation or [])]
    index = {_option_key(o.get("name")): i for i, o in enumerate(merged) if isinstance(o, dict)}
    for option in marketplace:
        key = _option_key(option["name"])
        if key in index:
            current = merged[index[key]]
            if current.get("value") != option["value"]:
                merged[index[key]] = {**current, "value": option["value"]}
        else:
            index[key] = len(merged)
            merged.append({"name": option["name"], "value": option["value"]})
    if not merged and shipstation is None:
        return None
    return merged
