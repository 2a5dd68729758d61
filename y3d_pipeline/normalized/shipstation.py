"""ShipStation raw order payload → canonical records (or a quarantine reason). Pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from y3d_pipeline.db.storable import jsonb_safe
from y3d_pipeline.normalized.records import (
    CanonicalCustomer,
    CanonicalItem,
    CanonicalOrder,
    CanonicalProduct,
    Rejected,
)
from y3d_pipeline.sources.shipstation.records import Order, OrderItem, marketplace_from_name
from y3d_pipeline.sources.shipstation.store import ORDERS_SOURCE

SOURCE = ORDERS_SOURCE  # raw orders the fetch or normalization cannot use share one quarantine source
MAX_TEXT = 10_000  # any single text field beyond this is garbage, not an order
LIMITS = {  # field -> max length (ShipStation's own limits where documented)
    "orderNumber": 50,
    "orderKey": 255,
    "orderStatus": 50,
    "customerEmail": 320,
    "sku": 255,
    "lineItemKey": 255,
    "country": 2,
}
MAX_MONEY = Decimal("9999999999.99")  # numeric(12,2)
MAX_QUANTITY = 1_000_000


class Invalid(ValueError):
    pass


def _text(value: Any, field: str, limit: int | None = None) -> str | None:
    if value is None:
        return None
    text = jsonb_safe(str(value)).strip()
    if not text:
        return None
    max_len = limit if limit is not None else LIMITS.get(field.rsplit(".", 1)[-1], MAX_TEXT)
    if len(text) > max_len:
        raise Invalid(f"{field} is {len(text)} characters long (max {max_len})")
    return text


def _money(value: float | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
        if not amount.is_finite():
            raise Invalid(f"{field} is not a finite number: {value!r}")
        amount = amount.quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise Invalid(f"{field} is not a number: {value!r}") from exc
    if abs(amount) > MAX_MONEY:
        raise Invalid(f"{field} {value} is out of range")
    return amount


MAX_WEIGHT = Decimal("99999999")  # numeric(12,4)


def _weight(value: float | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise Invalid(f"{field} is not a number") from exc
    if not amount.is_finite() or abs(amount) > MAX_WEIGHT:
        raise Invalid(f"{field} {value} is out of range")
    return amount.quantize(Decimal("0.0001"))


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}")
    return "invalid ShipStation order: " + "; ".join(parts)


def _customer(order: Order) -> CanonicalCustomer | None:
    ship = order.ship_to
    bill = order.bill_to
    email = _text(order.customer_email, "customerEmail")
    email = email.lower() if email else None
    name = _text((ship.name if ship else None) or (bill.name if bill else None), "shipTo.name", 500)
    postal = _text(ship.postal_code if ship else None, "shipTo.postalCode", 50)
    if order.customer_id is not None and order.customer_id > 0:
        key = f"shipstation:{order.customer_id}"
    elif email:
        key = f"email:{email}"
    elif name:
        key = f"name:{name.lower()}|{(postal or '').replace(' ', '').upper()}"
    else:
        return None
    country = _text(ship.country if ship else None, "shipTo.country")
    return CanonicalCustomer(
        customer_key=key,
        shipstation_customer_id=order.customer_id if key.startswith("shipstation:") else None,
        email=email,
        name=name or _text(order.customer_username, "customerUsername", 500),
        username=_text(order.customer_username, "customerUsername", 500),
        phone=_text(ship.phone if ship else None, "shipTo.phone", 100),
        company=_text(ship.company if ship else None, "shipTo.company", 500),
        street1=_text(ship.street1 if ship else None, "shipTo.street1", 500),
        street2=_text(ship.street2 if ship else None, "shipTo.street2", 500),
        street3=_text(ship.street3 if ship else None, "shipTo.street3", 500),
        city=_text(ship.city if ship else None, "shipTo.city", 500),
        state=_text(ship.state if ship else None, "shipTo.state", 500),
        postal_code=postal,
        country_code=country.upper() if country else None,
        is_residential=ship.residential if ship else None,
        address_verified=_text(ship.address_verified if ship else None, "shipTo.addressVerified", 500),
    )


def _product(item: OrderItem, modified_at: dt.datetime | None, where: str) -> CanonicalProduct | None:
    sku = _text(item.sku, f"{where}.sku")
    product_id = item.product_id if item.product_id and item.product_id > 0 else None
    if sku is None and product_id is None:
        return None
    return CanonicalProduct(
        sku=sku,
        shipstation_product_id=product_id,
        name=_text(item.name, f"{where}.name", 2000),
        image_url=_text(item.image_url, f"{where}.imageUrl", 2000),
        weight_value=_weight(item.weight.value, f"{where}.weight.value") if item.weight else None,
        weight_units=_text(item.weight.units, f"{where}.weight.units", 50) if item.weight else None,
        fulfillment_sku=_text(item.fulfillment_sku, f"{where}.fulfillmentSku", 255),
        upc=_text(item.upc, f"{where}.upc", 100),
        warehouse_location=_text(item.warehouse_location, f"{where}.warehouseLocation", 255),
        source_modified_at=modified_at,
    )


def _items(order: Order) -> list[CanonicalItem]:
    items: list[CanonicalItem] = []
    for position, item in enumerate(order.items or []):
        where = f"items[{position}]"
        if item.adjustment:
            continue  # discount/adjustment lines are money, not things to print
        if item.order_item_id is None or item.order_item_id <= 0:
            raise Invalid(f"{where} has no orderItemId")
        if item.quantity is None or item.quantity <= 0:
            raise Invalid(f"{where} (orderItemId {item.order_item_id}) has quantity {item.quantity}")
        if item.quantity > MAX_QUANTITY:
            raise Invalid(f"{where} (orderItemId {item.order_item_id}) has quantity {item.quantity}")
        options = jsonb_safe([o.model_dump(by_alias=True) for o in item.options]) if item.options else None
        if options is not None:
            for option in options:
                if isinstance(option.get("value"), str) and len(option["value"]) > MAX_TEXT:
                    raise Invalid(f"{where} option {option.get('name')!r} is {len(option['value'])} characters")
        items.append(CanonicalItem(
            source_item_id=item.order_item_id,
            line_item_key=_text(item.line_item_key, f"{where}.lineItemKey"),
            position=position,
            sku=_text(item.sku, f"{where}.sku"),
            name=_text(item.name, f"{where}.name", 2000),
            quantity=item.quantity,
            unit_price=_money(item.unit_price, f"{where}.unitPrice"),
            options=options,
            image_url=_text(item.image_url, f"{where}.imageUrl", 2000),
            product=_product(item, item.modify_date or order.modify_date, where),
        ))
    seen: set[int] = set()
    for item in items:
        if item.source_item_id in seen:
            raise Invalid(f"orderItemId {item.source_item_id} appears twice")
        seen.add(item.source_item_id)
    return items


def map_order(payload: dict[str, Any]) -> CanonicalOrder | Rejected:
    """One raw ShipStation order payload → a canonical order, or the reason it is quarantined."""
    source_id = str(payload.get("orderId")) if isinstance(payload, dict) else "?"
    try:
        order = Order.model_validate(payload)
    except ValidationError as exc:
        return Rejected(source_id, _validation_reason(exc), payload if isinstance(payload, dict) else None)
    try:
        if order.order_id <= 0:
            raise Invalid("orderId is not positive")
        order_number = _text(order.order_number, "orderNumber")
        if order_number is None:
            raise Invalid("orderNumber is missing")
        if order.modify_date is None:
            raise Invalid("modifyDate is missing")
        advanced = order.advanced_options
        items = _items(order)
        customer = _customer(order)
        ship_to = jsonb_safe(order.ship_to.model_dump(by_alias=True)) if order.ship_to else None
        if ship_to is not None:
            for key, value in ship_to.items():
                if isinstance(value, str) and len(value) > 500:
                    raise Invalid(f"shipTo.{key} is {len(value)} characters long (max 500)")
        merged_ids = list(advanced.merged_ids) if advanced and advanced.merged_ids else None
        merged_or_split = bool(advanced and advanced.merged_or_split)
        values = {
            "order_number": order_number,
            "order_key": _text(order.order_key, "orderKey"),
            "shipstation_store_id": advanced.store_id if advanced else None,
            "status": _text(order.order_status, "orderStatus"),
            "order_date": order.order_date,
            "payment_date": order.payment_date,
            "modified_at": order.modify_date,
            "ship_by_date": order.ship_by_date,
            "carrier_code": _text(order.carrier_code, "carrierCode", 100),
            "service_code": _text(order.service_code, "serviceCode", 100),
            "requested_shipping_service": _text(order.requested_shipping_service,
                                                "requestedShippingService", 500),
            "customer_name": (customer.name if customer else None)
            or _text(order.customer_username, "customerUsername", 500),
            "customer_email": customer.email if customer else None,
            "customer_notes": _text(order.customer_notes, "customerNotes"),
            "internal_notes": _text(order.internal_notes, "internalNotes"),
            "gift": order.gift,
            "gift_message": _text(order.gift_message, "giftMessage"),
            "order_total": _money(order.order_total, "orderTotal"),
            "amount_paid": _money(order.amount_paid, "amountPaid"),
            "tax_amount": _money(order.tax_amount, "taxAmount"),
            "shipping_amount": _money(order.shipping_amount, "shippingAmount"),
            "ship_to": ship_to,
            "merged_or_split": merged_or_split,
            "parent_shipstation_order_id": advanced.parent_id if advanced else None,
            "merged_shipstation_order_ids": merged_ids,
        }
    except Invalid as exc:
        return Rejected(source_id, str(exc), payload)
    return CanonicalOrder(
        source_order_id=order.order_id,
        values=values,
        store_id=advanced.store_id if advanced else None,
        source_marketplace=marketplace_from_name(advanced.source if advanced else None),
        customer=customer,
        items=items,
        tag_ids=sorted(set(order.tag_ids or [])),
        replaces_items=not merged_or_split,
        modified_at=order.modify_date,
    )
