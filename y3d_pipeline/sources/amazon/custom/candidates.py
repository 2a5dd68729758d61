"""Which Amazon Custom files a window needs: every order item with a ``CustomizedURL`` among the raw orders
modified in the window, from ShipStation's item options and from the stored SP-API order (v2026
``product.customization.customizedUrl`` or v0 ``BuyerCustomizedInfo``). A raw payload of the wrong shape yields
no candidates (normalization and reconciliation quarantine that record)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import RawAmazonOrder, RawShipstationOrder


@dataclass(frozen=True)
class Candidate:
    amazon_order_id: str
    amazon_order_item_id: str
    url: str
    source: str  # "sp_api" | "shipstation"


def _options_url(options: Any) -> str | None:
    if isinstance(options, dict):  # object form {"CustomizedURL": "..."}
        for key, value in options.items():
            if isinstance(key, str) and key.strip().lower() == "customizedurl" and isinstance(value, str):
                return value.strip() or None
        return None
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and str(option.get("name") or "").strip().lower() == "customizedurl":
            value = option.get("value")
            return value.strip() or None if isinstance(value, str) else None
    return None


def _key(value: Any) -> str | None:
    """An order number or item id as text; anything but a string or an integer is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if text and len(text) <= 255 else None


def shipstation_candidates(payload: dict[str, Any]) -> list[Candidate]:
    order_number = _key(payload.get("orderNumber")) if isinstance(payload, dict) else None
    items = payload.get("items") if isinstance(payload, dict) else None
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url = _options_url(item.get("options"))
        key = _key(item.get("lineItemKey"))
        if url and order_number and key:
            found.append(Candidate(order_number, key, url, "shipstation"))
    return found


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def sp_api_candidates(payload: dict[str, Any]) -> list[Candidate]:
    """Items with a Custom URL in a stored SP-API order of either version: v2026-01-01
    ``orderItems[].product.customization.customizedUrl``, v0 ``OrderItems[].BuyerInfo.BuyerCustomizedInfo
    .CustomizedURL`` (only there when fetched with a Restricted Data Token). Malformed shapes yield nothing."""
    if not isinstance(payload, dict):
        return []
    if "orderId" in payload:
        order_id, items, item_key = _key(payload.get("orderId")), payload.get("orderItems"), "orderItemId"
        url_path: tuple[str, ...] = ("product", "customization", "customizedUrl")
    else:
        order_id, items, item_key = _key(payload.get("AmazonOrderId")), payload.get("OrderItems"), "OrderItemId"
        url_path = ("BuyerInfo", "BuyerCustomizedInfo", "CustomizedURL")
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        url = _dig(item, *url_path)
        key = _key(item.get(item_key))
        if isinstance(url, str) and url.strip() and order_id and key:
            found.append(Candidate(order_id, key, url.strip(), "sp_api"))
    return found


def collect_candidates(conn: sa.Connection, start: dt.datetime, end: dt.datetime) -> tuple[list[Candidate],
                                                                                               Counter[str]]:
    """Items with a CustomizedURL among raw orders modified in [start, end). SP-API wins a URL conflict
    (it is Amazon's own, fresher copy); ShipStation's is used when SP-API is not configured."""
    by_key: dict[tuple[str, str], Candidate] = {}
    sources: Counter[str] = Counter()
    ss = RawShipstationOrder.__table__
    for (payload,) in conn.execute(sa.select(ss.c.payload).where(ss.c.source_modified_at >= start,
                                                                 ss.c.source_modified_at < end)):
        for candidate in shipstation_candidates(payload or {}):
            sources["shipstation"] += 1
            by_key.setdefault((candidate.amazon_order_id, candidate.amazon_order_item_id), candidate)
    am = RawAmazonOrder.__table__
    for (payload,) in conn.execute(sa.select(am.c.payload).where(am.c.source_modified_at >= start,
                                                                 am.c.source_modified_at < end)):
        for candidate in sp_api_candidates(payload or {}):
            sources["sp_api"] += 1
            by_key[(candidate.amazon_order_id, candidate.amazon_order_item_id)] = candidate
    return sorted(by_key.values(), key=lambda c: (c.amazon_order_id, c.amazon_order_item_id)), sources
