"""Pure parts of the Shopify client: search syntax, query cost, throttle maths, payload models, and the
client's reaction to THROTTLED / MAX_COST_EXCEEDED answers (served by an httpx MockTransport, no sleeps)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest
from graphql import parse

from y3d_pipeline.sandbox.shopify import SCHEMA, query_cost
from y3d_pipeline.sources.http import ApiError
from y3d_pipeline.sources.shopify.client import (
    MIN_THROTTLE_WAIT,
    ORDER_LINE_ITEMS_QUERY,
    ORDERS_QUERY,
    ORDERS_QUERY_BASIC,
    PRODUCTS_QUERY,
    UNKNOWN_THROTTLE_WAIT,
    ShopifyClient,
    ThrottleStatus,
    orders_query_cost,
    page_size_for_budget,
    products_query_cost,
    throttled_wait,
    updated_at_query,
    wait_before_request,
)
from y3d_pipeline.sources.shopify.records import ShopifyOrder, ShopifyProduct, dedupe_newest, gid_tail

UTC = dt.UTC


def test_updated_at_query_is_utc_whole_seconds_closed_open():
    london = dt.timezone(dt.timedelta(hours=1))
    start = dt.datetime(2026, 3, 8, 0, 0, tzinfo=london)
    end = dt.datetime(2026, 3, 9, 0, 0, 0, 500, tzinfo=UTC)
    assert updated_at_query(start, end) == ("updated_at:>='2026-03-07T23:00:00Z' "
                                            "updated_at:<'2026-03-09T00:00:01Z'")
    assert updated_at_query(dt.datetime(2026, 1, 1, 0, 0, 0, 999, tzinfo=UTC)) == \
        "updated_at:>='2026-01-01T00:00:00Z'"
    assert updated_at_query(None) == ""
    with pytest.raises(ValueError):
        updated_at_query(dt.datetime(2026, 1, 1))


def test_gid_tail():
    assert gid_tail("gid://shopify/Order/6200000000000") == 6200000000000


@pytest.mark.parametrize("document", [ORDERS_QUERY, ORDERS_QUERY_BASIC, ORDER_LINE_ITEMS_QUERY, PRODUCTS_QUERY])
def test_documents_parse(document):
    parse(document)


def test_cost_estimates_match_shopify_cost_model():
    """Our page-size arithmetic agrees with the sandbox's implementation of Shopify's cost rules."""
    def cost(document, variables):
        operation = parse(document).definitions[0]
        return query_cost(operation.selection_set, SCHEMA.query_type, variables, {})

    assert cost(ORDERS_QUERY_BASIC, {"first": 17, "lineItemsFirst": 5, "query": ""}) == orders_query_cost(17, 5)
    assert cost(ORDERS_QUERY, {"first": 17, "lineItemsFirst": 5, "query": ""}) == orders_query_cost(17, 5)
    assert cost(PRODUCTS_QUERY, {"first": 26, "variantsFirst": 20}) == products_query_cost(26, 20)
    # the naive "orders(first: 250) x lineItems(first: 100)" is far over Shopify's 1000-point limit
    assert orders_query_cost(250, 100) > 100_000


def test_page_size_for_budget():
    assert page_size_for_budget(35, 600) == 17
    assert page_size_for_budget(1, 10_000) == 250
    assert page_size_for_budget(5000, 600) == 1
    assert orders_query_cost(page_size_for_budget(11 + 32, 600), 5) <= 600


def test_wait_before_request():
    status = ThrottleStatus(1000, 100, 50)
    assert wait_before_request(None, 0, 500) == 0
    assert wait_before_request(status, 0, None) == 0
    assert wait_before_request(status, 0, 600) == pytest.approx(10.0)
    assert wait_before_request(status, 4, 600) == pytest.approx(6.0)
    assert wait_before_request(status, 100, 600) == 0
    assert wait_before_request(status, 0, 5000) == pytest.approx(18.0)  # never more than the bucket


def test_throttled_wait():
    assert throttled_wait(600, ThrottleStatus(1000, 100, 50)) == pytest.approx(10.0)
    assert throttled_wait(None, ThrottleStatus(1000, 100, 50)) == MIN_THROTTLE_WAIT
    assert throttled_wait(50, ThrottleStatus(1000, 100, 50)) == MIN_THROTTLE_WAIT
    assert throttled_wait(600, None) == MIN_THROTTLE_WAIT


def _order(legacy: int, updated: str, items: int = 1) -> dict:
    return {
        "id": f"gid://shopify/Order/{legacy}", "legacyResourceId": str(legacy), "name": f"#{legacy}",
        "createdAt": "2026-03-01T10:00:00Z", "updatedAt": updated, "cancelledAt": None, "extra": {"kept": True},
        "lineItems": {"pageInfo": {"hasNextPage": False, "endCursor": "x"}, "nodes": [
            {"id": f"gid://shopify/LineItem/{legacy * 10 + n}", "sku": f"SKU-{n}", "name": "Sign", "quantity": 2,
             "variant": {"id": "gid://shopify/ProductVariant/5", "legacyResourceId": "5",
                         "product": {"id": "gid://shopify/Product/7", "legacyResourceId": "7"}},
             "customAttributes": [{"key": "Name", "value": "Zoë 🦄"}]} for n in range(items)]},
    }


def test_order_model_keeps_full_payload():
    order = ShopifyOrder.from_node(_order(42, "2026-03-02T10:00:00Z", items=2))
    assert order.legacy_resource_id == 42 and order.updated_at == dt.datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert order.payload["extra"] == {"kept": True}
    assert order.payload["lineItems"] == {"nodes": _order(42, "x", items=2)["lineItems"]["nodes"]}
    item = order.line_items[1]
    assert item.legacy_id == 421 and item.variant_id == "gid://shopify/ProductVariant/5"
    assert item.product_id == "gid://shopify/Product/7"
    assert item.custom_attributes[0].value == "Zoë 🦄"


def test_product_model():
    product = ShopifyProduct.from_node({
        "id": "gid://shopify/Product/7", "legacyResourceId": "7", "title": "Sign", "updatedAt": "2026-03-02T10:00:00Z",
        "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/5", "legacyResourceId": "5", "sku": "S-1",
                                "title": "Small", "price": "19.99"}]}})
    assert product.variants[0].price == Decimal("19.99") and product.payload["variants"]["nodes"][0]["sku"] == "S-1"


def test_dedupe_keeps_newest():
    older = ShopifyOrder.from_node(_order(1, "2026-03-02T10:00:00Z"))
    newer = ShopifyOrder.from_node(_order(1, "2026-03-02T11:00:00Z"))
    other = ShopifyOrder.from_node(_order(2, "2026-03-02T09:00:00Z"))
    unique, duplicates = dedupe_newest([newer, other, older])
    assert duplicates == 1 and {o.updated_at.hour for o in unique} == {11, 9}


# ------------------------------------------------------------------ client reactions (HTTP-level fake)
def _cost(requested, available, actual=None):
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": available, "restoreRate": 50}}}


class FakeClock:
    """Time that only moves when the client sleeps (recorded)."""

    def __init__(self, sleeps: list[float]):
        self.now, self.sleeps = 0.0, sleeps

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(handler, sleeps, **kwargs) -> ShopifyClient:
    clock = FakeClock(sleeps)
    return ShopifyClient(base_url="https://shop.example", access_token="shpat_x", extended_order_fields=False,
                         transport=httpx.MockTransport(handler), sleep=clock.sleep, monotonic=lambda: clock.now,
                         **kwargs)


def _page(nodes, has_next=False, cursor="c1"):
    return {"data": {"orders": {"pageInfo": {"hasNextPage": has_next, "endCursor": cursor}, "nodes": nodes}},
            "extensions": _cost(300, 900, 20)}


def test_throttled_200_and_429_wait_and_complete():
    answers = iter([
        httpx.Response(200, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                  "extensions": _cost(600, 100)}),
        httpx.Response(429, json={"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                  "extensions": _cost(600, 350)}),
        httpx.Response(200, json=_page([_order(1, "2026-03-02T10:00:00Z")])),
    ])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    sleeps: list[float] = []
    client = _client(handler, sleeps)
    orders = client.fetch_orders(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC))
    assert [o.legacy_resource_id for o in orders] == [1]
    assert sleeps == [pytest.approx(10.0), pytest.approx(5.0)]
    assert seen[0].headers["X-Shopify-Access-Token"] == "shpat_x"
    assert seen[0].url.path == "/admin/api/2026-01/graphql.json"
    body = json.loads(seen[0].content)
    assert body["variables"]["query"] == "updated_at:>='2026-03-01T00:00:00Z' updated_at:<'2026-03-02T00:00:00Z'"
    meta = client.stats.as_metadata()
    assert meta["throttled_responses"] == 2 and meta["rate_limited_responses"] == 2
    assert meta["throttle_wait_seconds"] >= 15


def test_wait_before_next_page_when_bucket_low():
    answers = iter([
        httpx.Response(200, json={**_page([_order(1, "2026-03-02T10:00:00Z")], has_next=True),
                                  "extensions": _cost(600, 100, 50)}),
        httpx.Response(200, json=_page([_order(2, "2026-03-02T11:00:00Z")], cursor="c2")),
    ])
    sleeps: list[float] = []
    client = _client(lambda request: next(answers), sleeps)
    orders = client.fetch_orders(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC))
    assert len(orders) == 2 and sleeps == [pytest.approx(10.0)]
    assert client.stats.as_metadata()["throttle_waits"] == 1


def test_max_cost_exceeded_shrinks_page():
    firsts = []

    def handler(request):
        first = json.loads(request.content)["variables"]["first"]
        firsts.append(first)
        if first > 10:
            return httpx.Response(200, json={"errors": [{"message": "too expensive", "extensions": {
                "code": "MAX_COST_EXCEEDED", "cost": first * 100, "maxCost": 1000}}]})
        return httpx.Response(200, json=_page([]))

    client = _client(handler, [], orders_page_size=40)
    client.fetch_orders(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC))
    assert firsts[0] == 40 and firsts[-1] <= 10 and client.stats.cost_reductions >= 1


def test_other_graphql_errors_name_the_operation():
    def handler(request):
        return httpx.Response(200, json={"errors": [{"message": "Field 'nope' doesn't exist"}]})

    with pytest.raises(ApiError, match="Shopify Orders .*Field 'nope'"):
        _client(handler, []).fetch_orders(dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 3, 2, tzinfo=UTC))


def test_unauthorized_is_not_retried():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(401, json={"errors": "[API] Invalid API key or access token"})

    with pytest.raises(ApiError, match="HTTP 401"):
        _client(handler, []).fetch_products()
    assert len(calls) == 1


def test_bare_429_uses_retry_after_or_a_default():
    answers = iter([
        httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "3"}),
        httpx.Response(429, text="Too Many Requests"),
        httpx.Response(200, json=_page([])),
    ])
    sleeps: list[float] = []
    _client(lambda request: next(answers), sleeps).fetch_orders(dt.datetime(2026, 3, 1, tzinfo=UTC),
                                                                dt.datetime(2026, 3, 2, tzinfo=UTC))
    assert sleeps == [3.0, UNKNOWN_THROTTLE_WAIT]
