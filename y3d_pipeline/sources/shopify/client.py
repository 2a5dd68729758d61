"""Shopify Admin GraphQL client: orders by ``updated_at`` window and products, with cost-based throttling.

Plain module (no Dagster). ``POST {base}/admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``.

Paging and query cost
    Shopify prices a query before running it: objects cost 1, a connection 2 + ``first`` x the cost of
    one node, and a query may cost at most 1000 points. ``orders(first: 250)`` with ``lineItems(first:
    100)`` would cost ~150,000 points and is refused (``MAX_COST_EXCEEDED``), so the orders page asks for
    a few line items inline (``line_items_page_size``, default 5: nearly every order of this shop has
    1-4) and the orders page size is derived from a cost budget (at most 250). An order whose inline
    line items report ``hasNextPage`` is completed by follow-up queries on ``order(id:)`` with
    ``lineItems(first: 100, after: ...)``. Should the server still price a page above the limit, the page
    size is reduced in proportion and the page asked again.

Throttling (``extensions.cost.throttleStatus``)
    Before each request the client estimates the bucket (last ``currentlyAvailable`` + elapsed x
    ``restoreRate``) and sleeps until it covers the ``requestedQueryCost`` this operation last had (else the
    last query's). A ``THROTTLED`` answer
    (HTTP 200 with ``errors[].extensions.code == "THROTTLED"``, or HTTP 429) raises
    ``RetryableError(wait_seconds=(requested - available) / restoreRate, rate_limited=True)`` and
    ``call_with_retries`` waits and repeats it; 5xx, truncated bodies and dropped connections are retried
    the same way (a bare 429 waits ``Retry-After`` or 2 s). Any other GraphQL error is an ``ApiError``
    naming the operation, except that an orders query refused only for Shopify's protected customer data
    (``ACCESS_DENIED`` on the buyer's name, email, phone, address lines: the fields the Admin schema marks
    ``isProtected``) is repeated without those fields (``ORDERS_QUERY_BASIC``), and the sync notes it. The ``X-Shopify-API-Version`` actually served is kept (``served_api_version``; a pinned version
    that is no longer supported falls forward, which is logged).

Orders sorted by ``UPDATED_AT`` can move while we page (an order updated meanwhile jumps to the end), so a
window's orders are de-duplicated by ``legacyResourceId`` keeping the newest ``updatedAt``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from y3d_pipeline.counters import reported
from y3d_pipeline.settings import DEFAULT_SHOPIFY_API_VERSION
from y3d_pipeline.sources.http import (
    ApiError,
    Closing,
    InvalidRecord,
    RequestStats,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    describe,
    parse_json,
    raise_for_status,
    retry_after_seconds,
)
from y3d_pipeline.sources.probe import PROBE_RETRY_POLICY, ChangeProbe
from y3d_pipeline.sources.shopify.records import (
    ShopifyOrder,
    ShopifyProduct,
    dedupe_newest,
    invalid_order,
)

log = logging.getLogger(__name__)

SERVICE = "Shopify"
MAX_QUERY_COST = 1000  # Shopify's single-query limit
MAX_PAGE_SIZE = 250
DEFAULT_COST_BUDGET = 600  # requested points per query we aim for (leaves headroom in a 1000 bucket)
MIN_THROTTLE_WAIT = 0.25  # seconds, when the throttle figures say the bucket is already enough
UNKNOWN_THROTTLE_WAIT = 2.0  # seconds, after a 429 with neither throttleStatus nor Retry-After

# ------------------------------------------------------------------------------------------- queries
MONEY = "shopMoney { amount currencyCode }"

LINE_ITEM_FIELDS = f"""id sku name quantity
        variant {{ id legacyResourceId product {{ id legacyResourceId }} }}
        customAttributes {{ key value }}
        originalUnitPriceSet {{ {MONEY} }}"""

# Shopify's protected customer data (the Admin schema's ``isProtected`` fields: the buyer's name, email, phone and
# address lines) is served only to apps with protected customer data approval; everything else about the order,
# the buyer's id and the address's city and country included, is not protected.
_ORDER_FIELDS = f"""id legacyResourceId name createdAt updatedAt cancelledAt
      displayFinancialStatus displayFulfillmentStatus currencyCode
      totalPriceSet {{ {MONEY} }}
      subtotalPriceSet {{ {MONEY} }}
      totalTaxSet {{ {MONEY} }}
      totalShippingPriceSet {{ {MONEY} }}
      customer {{ id legacyResourceId%(customer)s }}
      shippingAddress {{ company city province provinceCode countryCodeV2%(address)s }}%(order)s"""
ORDER_FIELDS = _ORDER_FIELDS % {"customer": " firstName lastName displayName",
                                "address": " name address1 address2 zip phone", "order": "\n      email phone"}
ORDER_FIELDS_UNPROTECTED = _ORDER_FIELDS % {"customer": "", "address": "", "order": ""}

_ORDERS_TEMPLATE = """query Orders($first: Int!, $after: String, $query: String!, $lineItemsFirst: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      %(order)s
      lineItems(first: $lineItemsFirst) {
        pageInfo { hasNextPage endCursor }
        nodes { %(item)s }
      }
    }
  }
}"""
ORDERS_QUERY = _ORDERS_TEMPLATE % {"order": ORDER_FIELDS, "item": LINE_ITEM_FIELDS}
# The fallback for an app without protected customer data approval: not one protected field.
ORDERS_QUERY_BASIC = _ORDERS_TEMPLATE % {"order": ORDER_FIELDS_UNPROTECTED, "item": LINE_ITEM_FIELDS}
# The new-orders sensor's probe: one order, two scalars (requested cost 3 points).
ORDERS_CHANGED_QUERY = """query OrdersChanged($query: String!) {
  orders(first: 1, sortKey: UPDATED_AT, query: $query) {
    edges { node { id updatedAt } }
    pageInfo { hasNextPage }
  }
}"""

ORDER_LINE_ITEMS_QUERY = f"""query OrderLineItems($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    id
    lineItems(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {LINE_ITEM_FIELDS} }}
    }}
  }}
}}"""

VARIANT_FIELDS = "id legacyResourceId sku title price updatedAt"

PRODUCTS_QUERY = f"""query Products($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {{
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id legacyResourceId title handle vendor productType status tags createdAt updatedAt
      variants(first: $variantsFirst) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {VARIANT_FIELDS} }}
      }}
    }}
  }}
}}"""

PRODUCT_VARIANTS_QUERY = f"""query ProductVariants($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    id
    variants(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {VARIANT_FIELDS} }}
    }}
  }}
}}"""

# Requested cost of one node, by Shopify's rules (object 1, scalar 0), for page sizing.
LINE_ITEM_NODE_COST = 6  # node, variant, product, customAttributes, originalUnitPriceSet, shopMoney
ORDER_NODE_COST = 11  # node, 4 x (priceSet, shopMoney), customer, shippingAddress (either query)
PRODUCT_NODE_COST = 1
VARIANT_NODE_COST = 1


def connection_cost(first: int, node_cost: float) -> float:
    return 2 + first * node_cost


def orders_query_cost(first: int, line_items_first: int) -> float:
    return connection_cost(first, ORDER_NODE_COST + connection_cost(line_items_first, LINE_ITEM_NODE_COST))


def products_query_cost(first: int, variants_first: int) -> float:
    return connection_cost(first, PRODUCT_NODE_COST + connection_cost(variants_first, VARIANT_NODE_COST))


def page_size_for_budget(node_cost: float, budget: float = DEFAULT_COST_BUDGET) -> int:
    """The largest ``first`` (1..250) whose connection stays within ``budget`` points."""
    return max(1, min(MAX_PAGE_SIZE, int((budget - 2) // node_cost)))


def _search_time(value: dt.datetime, *, round_up: bool = False) -> str:
    if value.tzinfo is None:
        raise ValueError("Shopify search bounds must be timezone-aware")
    value = value.astimezone(dt.UTC)
    if value.microsecond:
        value = value.replace(microsecond=0) + (dt.timedelta(seconds=1) if round_up else dt.timedelta(0))
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def updated_at_query(start: dt.datetime | None, end: dt.datetime | None = None) -> str:
    """Search syntax for ``start <= updated_at < end`` in UTC whole seconds (Shopify's precision).

    A fractional start is floored and a fractional end rounded up, so nothing in the window is lost.
    """
    terms = []
    if start is not None:
        terms.append(f"updated_at:>='{_search_time(start)}'")
    if end is not None:
        terms.append(f"updated_at:<'{_search_time(end, round_up=True)}'")
    return " ".join(terms)


# -------------------------------------------------------------------------------------- throttling
@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: Any) -> ThrottleStatus | None:
        try:
            status = extensions["cost"]["throttleStatus"]
            return cls(float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                       float(status["restoreRate"]))
        except (KeyError, TypeError, ValueError):
            return None


def requested_cost(extensions: Any) -> float | None:
    try:
        value = extensions["cost"]["requestedQueryCost"]
        return float(value) if value is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def wait_before_request(status: ThrottleStatus | None, elapsed: float, needed: float | None) -> float:
    """Seconds to sleep so the bucket (as last reported, refilled for ``elapsed`` s) covers ``needed``."""
    if status is None or needed is None or status.restore_rate <= 0:
        return 0.0
    needed = min(needed, status.maximum_available)
    available = min(status.maximum_available, status.currently_available + elapsed * status.restore_rate)
    return max(0.0, (needed - available) / status.restore_rate)


def throttled_wait(requested: float | None, status: ThrottleStatus | None) -> float:
    """Shopify's advice after THROTTLED: (requestedQueryCost - currentlyAvailable) / restoreRate."""
    if status is None or requested is None or status.restore_rate <= 0:
        return MIN_THROTTLE_WAIT
    needed = min(requested, status.maximum_available)
    return max(MIN_THROTTLE_WAIT, (needed - status.currently_available) / status.restore_rate)


@dataclass
class ShopifyStats(RequestStats):
    """What a sync cost: requests (with retries and throttling), pages and query points."""

    pages: int = 0
    follow_up_pages: int = 0
    requested_cost: float = reported("query_cost_requested", default=0.0, digits=1)
    actual_cost: float = reported("query_cost_actual", default=0.0, digits=1)
    throttled: int = reported("throttled_responses")  # THROTTLED answers (200 or 429)
    throttle_waits: int = 0  # sleeps before a request to let the bucket refill
    throttle_wait_seconds: float = 0.0
    cost_reductions: int = 0  # pages re-asked smaller after MAX_COST_EXCEEDED
    duplicates: int = reported("duplicates_across_pages")

    def as_metadata(self) -> dict[str, float | int]:
        # every wait and every throttled answer, whichever way it was met
        return {**super().as_metadata(), "throttle_waits": self.throttle_waits + self.throttled,
                "throttle_wait_seconds": round(self.throttle_wait_seconds + self.rate_limit_wait_seconds, 2)}


PROTECTED_FIELD_NAMES = ("email", "phone", "firstName", "lastName", "displayName", "name", "address1", "address2",
                         "zip")


class ExtendedFieldsUnavailable(ApiError):
    """The app may not read Shopify's protected customer data (``ACCESS_DENIED`` on the buyer's name, email,
    phone or address lines): the orders sync falls back to the query without protected fields."""


def _about_extended_fields(error: Any) -> bool:
    if not isinstance(error, dict):
        return False
    code = (error.get("extensions") or {}).get("code")
    path = [str(p) for p in error.get("path") or []]
    message = str(error.get("message", ""))
    names_it = any(name in path or f"'{name}'" in message or f"the {name} field" in message
                   for name in PROTECTED_FIELD_NAMES)
    return names_it or code == "ACCESS_DENIED"


class QueryTooExpensive(Exception):
    def __init__(self, cost: float | None):
        super().__init__(f"query cost {cost} exceeds {MAX_QUERY_COST}")
        self.cost = cost


# ------------------------------------------------------------------------------------------ client
class ShopifyClient(Closing):
    """One shop's Admin GraphQL API. Not thread-safe (the throttle state is per client)."""

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        api_version: str = DEFAULT_SHOPIFY_API_VERSION,
        extended_order_fields: bool = True,
        cost_budget: float = DEFAULT_COST_BUDGET,
        orders_page_size: int | None = None,
        line_items_page_size: int = 5,
        line_items_follow_up_page_size: int = 100,
        products_page_size: int | None = None,
        variants_page_size: int = 20,
        variants_follow_up_page_size: int = 100,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if not base_url or not access_token:
            raise ValueError("Shopify needs a base URL (or store) and an access token")
        self.endpoint = f"{base_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self.api_version = api_version
        self.extended_order_fields = extended_order_fields
        self.extended_fields_note: str | None = None  # why the extended fields were dropped, if they were
        self.cost_budget = min(float(cost_budget), MAX_QUERY_COST)
        self.line_items_page_size = line_items_page_size
        self.line_items_follow_up_page_size = line_items_follow_up_page_size
        order_node = ORDER_NODE_COST + connection_cost(line_items_page_size, LINE_ITEM_NODE_COST)
        self.orders_page_size = orders_page_size or page_size_for_budget(order_node, self.cost_budget)
        self.variants_page_size = variants_page_size
        self.variants_follow_up_page_size = variants_follow_up_page_size
        product_node = PRODUCT_NODE_COST + connection_cost(variants_page_size, VARIANT_NODE_COST)
        self.products_page_size = products_page_size or page_size_for_budget(product_node, self.cost_budget)
        self.retry_policy = retry_policy or RetryPolicy()
        self.stats = ShopifyStats()
        self.invalid: list[InvalidRecord] = []  # orders that cannot be used as served: the caller quarantines them
        self._sleep = sleep
        self._monotonic = monotonic
        self._throttle: ThrottleStatus | None = None
        self._throttle_seen_at = 0.0
        self._last_requested: float | None = None
        self._requested_by_operation: dict[str, float] = {}  # what each operation last asked for
        self.served_api_version: str | None = None  # X-Shopify-API-Version: differs if ours fell forward
        self._http = httpx.Client(
            timeout=timeout, transport=transport,
            headers={"X-Shopify-Access-Token": access_token, "Content-Type": "application/json",
                     "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()


    # ----------------------------------------------------------------------------- one query
    def _note_cost(self, operation: str, extensions: Any) -> None:
        status = ThrottleStatus.from_extensions(extensions)
        if status is not None:
            self._throttle = status
            self._throttle_seen_at = self._monotonic()
        requested = requested_cost(extensions)
        if requested is not None and requested > 0:
            self._last_requested = requested
            self._requested_by_operation[operation] = requested

    def _wait_for_bucket(self, operation: str, expected_cost: float | None = None) -> None:
        """Sleep until the bucket should cover this operation's last cost (else what the caller expects it to
        cost, or the last query's cost, whichever is more)."""
        elapsed = self._monotonic() - self._throttle_seen_at
        needed = self._requested_by_operation.get(operation)
        if needed is None:
            known = [c for c in (expected_cost, self._last_requested) if c is not None]
            needed = max(known) if known else None
        wait = wait_before_request(self._throttle, elapsed, needed)
        if wait > 0:
            log.info("Shopify %s: waiting %.2fs for the cost bucket to refill", operation, wait)
            self.stats.throttle_waits += 1
            self.stats.throttle_wait_seconds += wait
            self._sleep(wait)

    def _throttled(self, operation: str, body: Any, response: httpx.Response) -> RetryableError:
        self.stats.throttled += 1
        extensions = body.get("extensions") if isinstance(body, dict) else None
        requested = requested_cost(extensions)
        if not requested:
            requested = self._requested_by_operation.get(operation, self._last_requested)
        status = ThrottleStatus.from_extensions(extensions)
        hint = retry_after_seconds(response)
        if status is None and hint is None:
            wait = UNKNOWN_THROTTLE_WAIT  # a bare 429 (e.g. from a proxy): no figures to compute from
        else:
            wait = max(throttled_wait(requested, status), hint or 0.0)
        return RetryableError(f"{SERVICE} {operation} throttled (HTTP {response.status_code})",
                              wait_seconds=wait, rate_limited=True)

    def _post_once(self, operation: str, query: str, variables: dict[str, Any],
                   expected_cost: float | None = None) -> dict[str, Any]:
        self._wait_for_bucket(operation, expected_cost)
        self.stats.requests += 1
        response = self._http.post(self.endpoint, json={"query": query, "variables": variables,
                                                        "operationName": operation})
        if response.status_code == 429:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                self._note_cost(operation, body.get("extensions"))
            raise self._throttled(operation, body, response)
        raise_for_status(SERVICE, response)
        served = response.headers.get("X-Shopify-API-Version")
        if served and served != self.served_api_version:
            self.served_api_version = served
            if served != self.api_version:
                log.warning("Shopify served API version %s instead of the pinned %s (unsupported versions fall "
                            "forward to the oldest supported one): pin a supported SHOPIFY_API_VERSION",
                            served, self.api_version)
        body = parse_json(SERVICE, response)
        if not isinstance(body, dict):
            raise ApiError(f"{SERVICE} {operation}: unexpected response body {str(body)[:200]}")
        extensions = body.get("extensions")
        self._note_cost(operation, extensions)
        errors = body.get("errors")
        if errors:
            if isinstance(errors, list):
                codes = {((e.get("extensions") or {}).get("code") if isinstance(e, dict) else None)
                         for e in errors}
                if "THROTTLED" in codes:
                    raise self._throttled(operation, body, response)
                if operation == "Orders" and self.extended_order_fields and all(
                        _about_extended_fields(e) for e in errors):
                    raise ExtendedFieldsUnavailable(
                        f"{SERVICE} {operation}: extended order fields unavailable: "
                        + "; ".join(str(e.get("message")) for e in errors)[:300])
                if "MAX_COST_EXCEEDED" in codes:
                    cost = next((e["extensions"].get("cost") for e in errors if isinstance(e, dict)
                                 and (e.get("extensions") or {}).get("code") == "MAX_COST_EXCEEDED"), None)
                    raise QueryTooExpensive(cost)
                messages = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                                     for e in errors)
            else:
                messages = str(errors)
            raise ApiError(f"{SERVICE} {operation} ({describe(response.request)}) failed: {messages[:500]}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ApiError(f"{SERVICE} {operation} returned no data")
        cost = (extensions or {}).get("cost") or {}
        self.stats.requested_cost += float(cost.get("requestedQueryCost") or 0)
        self.stats.actual_cost += float(cost.get("actualQueryCost") or 0)
        return data

    def execute(self, operation: str, query: str, variables: dict[str, Any],
                expected_cost: float | None = None) -> dict[str, Any]:
        """Run one GraphQL operation with throttling and retries; returns ``data``."""
        return call_with_retries(lambda: self._post_once(operation, query, variables, expected_cost),
                                 what=f"{SERVICE} {operation}", retry_policy=self.retry_policy,
                                 stats=self.stats, sleep=self._sleep)

    def _page(self, operation: str, query: str, variables: dict[str, Any], size_key: str,
              node_cost: float | None = None) -> dict[str, Any]:
        """One page; if Shopify prices it above the limit, shrink ``first`` (in ``variables``, so later
        pages keep the smaller size) in proportion and ask again. ``node_cost``: what one node of the page
        costs, so the first such query waits for what it will be charged."""
        while True:
            expected = None if node_cost is None else 1 + connection_cost(variables[size_key], node_cost)
            try:
                return self.execute(operation, query, variables, expected)
            except QueryTooExpensive as exc:
                first = variables[size_key]
                if first <= 1:
                    raise ApiError(f"{SERVICE} {operation}: a single node costs more than {MAX_QUERY_COST} "
                                   f"points") from exc
                ratio = (self.cost_budget / exc.cost) if exc.cost else 0.5
                variables[size_key] = max(1, min(first - 1, math.floor(first * ratio)))
                self.stats.cost_reductions += 1
                log.warning("Shopify %s: cost %s over the limit; page size %s -> %s", operation, exc.cost,
                            first, variables[size_key])

    # ----------------------------------------------------------------------------- orders
    def changed_since(self, since: dt.datetime, *, now: dt.datetime | None = None) -> ChangeProbe:
        """One query of a few cost points: has any order changed since ``since`` (``updated_at >=``, whole
        seconds), and which changed first (``sortKey: UPDATED_AT``, oldest first)."""
        checked_until = now or dt.datetime.now(dt.UTC)
        variables = {"query": updated_at_query(since)}
        data = call_with_retries(lambda: self._post_once("OrdersChanged", ORDERS_CHANGED_QUERY, variables),
                                 what=f"{SERVICE} OrdersChanged", retry_policy=PROBE_RETRY_POLICY,
                                 stats=self.stats, sleep=self._sleep)
        connection = data.get("orders") or {}
        nodes = [e.get("node") or {} for e in connection.get("edges") or []]
        if not nodes:
            return ChangeProbe(0, False, None, None, checked_until)
        more = bool((connection.get("pageInfo") or {}).get("hasNextPage"))
        updated = nodes[0].get("updatedAt")
        return ChangeProbe(len(nodes), more, str(nodes[0].get("id")),
                           dt.datetime.fromisoformat(updated.replace("Z", "+00:00")) if updated else None,
                           checked_until)

    def iter_order_pages(self, start: dt.datetime, end: dt.datetime) -> Iterator[list[ShopifyOrder]]:
        """Orders with ``start <= updatedAt < end``, page by page, every line item included."""
        query = ORDERS_QUERY if self.extended_order_fields else ORDERS_QUERY_BASIC
        variables: dict[str, Any] = {"first": self.orders_page_size, "after": None,
                                     "query": updated_at_query(start, end),
                                     "lineItemsFirst": self.line_items_page_size}
        while True:
            try:
                data = self._page("Orders", query, variables, "first")
            except ExtendedFieldsUnavailable as exc:
                log.warning("%s; continuing without the protected customer data (buyer name, email, phone, address "
                            "lines)", exc)
                self.extended_order_fields = False
                self.extended_fields_note = str(exc)
                query = ORDERS_QUERY_BASIC
                continue
            connection = data["orders"]
            self.stats.pages += 1
            orders = []
            for node in connection["nodes"]:
                try:
                    node = self._complete_line_items(node)
                    orders.append(ShopifyOrder.from_node(node))
                except (ValidationError, ValueError, TypeError, AttributeError, KeyError) as exc:
                    self.invalid.append(invalid_order(node, exc))
            yield orders
            if not _advance("Orders", connection, variables):
                return

    def _complete_line_items(self, node: dict[str, Any]) -> dict[str, Any]:
        return self._complete_nested(node, "lineItems", "OrderLineItems", ORDER_LINE_ITEMS_QUERY, "order",
                                     self.line_items_follow_up_page_size, LINE_ITEM_NODE_COST)

    def _complete_nested(self, node: dict[str, Any], field: str, operation: str, query: str, parent: str,
                         page_size: int, node_cost: float) -> dict[str, Any]:
        """``node`` with every node of its connection ``field`` (an order's line items, a product's variants):
        what the first page left out is asked for on the ``parent`` by id, page by page."""
        connection = node.get(field) or {"nodes": [], "pageInfo": {"hasNextPage": False}}
        nodes = list(connection["nodes"])
        page_info = connection.get("pageInfo") or {}
        after = page_info.get("endCursor")
        while page_info.get("hasNextPage"):
            data = self._page(operation, query, {"id": node["id"], "first": page_size, "after": after}, "first",
                              node_cost)
            self.stats.follow_up_pages += 1
            if data.get(parent) is None:
                raise ApiError(f"{SERVICE} {operation}: {parent} {node['id']} vanished while paging")
            more = data[parent][field]
            nodes.extend(more["nodes"])
            page_info = more["pageInfo"]
            if page_info.get("hasNextPage") and page_info.get("endCursor") in (None, after):
                raise ApiError(f"{SERVICE} {operation}: hasNextPage without a new endCursor")
            after = page_info.get("endCursor")
        return {**node, field: {"nodes": nodes}}

    def fetch_orders(self, start: dt.datetime, end: dt.datetime,
                     progress: Callable[[int, int | None], None] | None = None) -> list[ShopifyOrder]:
        """All orders updated in ``[start, end)``, one per order (the newest seen); ``progress(orders so far,
        None)`` after each page."""
        orders: list[ShopifyOrder] = []
        for page in self.iter_order_pages(start, end):
            orders.extend(page)
            if progress:
                progress(len(orders), None)
        unique, duplicates = dedupe_newest(orders)
        self.stats.duplicates += duplicates
        return unique

    # ----------------------------------------------------------------------------- products
    def iter_product_pages(self, updated_since: dt.datetime | None = None) -> Iterator[list[ShopifyProduct]]:
        """Products with ``updatedAt >= updated_since`` (all when None), oldest change first."""
        variables: dict[str, Any] = {"first": self.products_page_size, "after": None,
                                     "query": updated_at_query(updated_since) or None,
                                     "variantsFirst": self.variants_page_size}
        while True:
            data = self._page("Products", PRODUCTS_QUERY, variables, "first")
            connection = data["products"]
            self.stats.pages += 1
            yield [ShopifyProduct.from_node(self._complete_variants(node)) for node in connection["nodes"]]
            if not _advance("Products", connection, variables):
                return

    def _complete_variants(self, node: dict[str, Any]) -> dict[str, Any]:
        return self._complete_nested(node, "variants", "ProductVariants", PRODUCT_VARIANTS_QUERY, "product",
                                     self.variants_follow_up_page_size, VARIANT_NODE_COST)

    def fetch_products(self, updated_since: dt.datetime | None = None) -> list[ShopifyProduct]:
        newest: dict[int, ShopifyProduct] = {}
        for page in self.iter_product_pages(updated_since):
            for product in page:
                current = newest.get(product.legacy_resource_id)
                if current is None or product.updated_at >= current.updated_at:
                    newest[product.legacy_resource_id] = product
        return list(newest.values())


def _advance(operation: str, connection: dict[str, Any], variables: dict[str, Any]) -> bool:
    """Move ``variables["after"]`` to the connection's next page; False on the last page."""
    page_info = connection["pageInfo"]
    if not page_info["hasNextPage"]:
        return False
    if not page_info.get("endCursor") or page_info["endCursor"] == variables["after"]:
        raise ApiError(f"{SERVICE} {operation}: hasNextPage without a new endCursor")
    variables["after"] = page_info["endCursor"]
    return True
