"""SP-API client against the sandbox over real HTTP: tokens, the two-minute rule, paging, 429s; Orders
v2026-01-01 (the default) and v0 (behind AMAZON_ORDERS_API_VERSION)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from y3d_pipeline.sources.amazon.client import AmazonClient, TokenBucket, iso_z
from y3d_pipeline.sources.http import ApiError, RetryPolicy

START = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
FAST = RetryPolicy(max_attempts=4, max_total_seconds=60, initial_backoff=0.01, max_backoff=0.05)


def make_client(sandbox, **overrides) -> AmazonClient:
    env = sandbox.env()
    kwargs = dict(
        client_id=env["AMAZON_LWA_CLIENT_ID"], client_secret=env["AMAZON_LWA_CLIENT_SECRET"],
        refresh_token=env["AMAZON_LWA_REFRESH_TOKEN"], token_url=env["AMAZON_LWA_TOKEN_URL"],
        base_url=env["AMAZON_SP_API_BASE_URL"], marketplace_ids=env["AMAZON_MARKETPLACE_IDS"].split(","),
        now=sandbox.now, retry_policy=FAST,
    )
    kwargs.update(overrides)
    return AmazonClient(**kwargs)


def visible_amazon_ids(sandbox) -> set[str]:
    return {o["amazon_order_id"] for o in sandbox.truth(marketplace="amazon", visible_only=True)}


def test_paging_with_duplicates_returns_each_order_once(fresh_sandbox) -> None:
    fresh_sandbox.set_faults("amazon", "duplicate_page", count=3)
    with make_client(fresh_sandbox) as client:
        page = client.get_orders(START, fresh_sandbox.now())
    ids = [o.amazon_order_id for o in page.orders]
    assert len(ids) == len(set(ids))
    assert set(ids) == visible_amazon_ids(fresh_sandbox)
    assert client.stats.pages >= 4  # 368 orders at 100 a page, NextToken with "+/=" round-tripped
    assert client.stats.duplicates_dropped > 0
    assert all(o.payload["AmazonOrderId"] == o.amazon_order_id for o in page.orders)


def test_two_minute_rule_end_is_clamped(fresh_sandbox) -> None:
    now = fresh_sandbox.now()
    with make_client(fresh_sandbox) as client:
        page = client.get_orders(now - dt.timedelta(hours=6), now + dt.timedelta(hours=1))
    assert page.clamped
    assert page.effective_end == now - dt.timedelta(minutes=2)
    assert fresh_sandbox.stats()["statuses"]["amazon"].get("400", 0) == 0
    # what the clamp protects against: the sandbox (like Amazon) refuses a too-recent end
    with make_client(fresh_sandbox) as client:
        token = client.access_token()
        response = httpx.get(f"{fresh_sandbox.base_url}/amazon/orders/v0/orders", params={
            "MarketplaceIds": "A1F83G8C2ARO7P", "LastUpdatedAfter": iso_z(now - dt.timedelta(hours=1)),
            "LastUpdatedBefore": iso_z(now - dt.timedelta(seconds=60))}, headers={"x-amz-access-token": token})
    assert response.status_code == 400
    assert "two minutes" in response.text


def test_window_entirely_too_recent_asks_nothing(fresh_sandbox) -> None:
    now = fresh_sandbox.now()
    with make_client(fresh_sandbox) as client:
        page = client.get_orders(now - dt.timedelta(seconds=30), now)
    assert page.orders == [] and client.stats.requests == 0


def test_expired_token_is_refreshed_on_403(fresh_sandbox) -> None:
    with make_client(fresh_sandbox) as client:
        first = client.get_orders(START, fresh_sandbox.now())
        assert client.stats.token_refreshes == 1
        fresh_sandbox.advance_clock(3700)  # the server's token expired; our monotonic clock did not move
        again = client.get_orders(START, fresh_sandbox.now())
    assert client.stats.token_refreshes == 2
    assert client.stats.auth_retries == 1
    assert {o.amazon_order_id for o in again.orders} >= {o.amazon_order_id for o in first.orders}


def test_token_refreshed_before_expiry(fresh_sandbox) -> None:
    fresh_sandbox.set_amazon_token_expiry(600)
    ticks = [1000.0]
    with make_client(fresh_sandbox, clock=lambda: ticks[0]) as client:
        token_1 = client.access_token()
        ticks[0] += 500  # still valid
        assert client.access_token() == token_1
        ticks[0] += 45  # inside the refresh margin (60 s before expiry)
        token_2 = client.access_token()
        items = client.get_order_items(sorted(visible_amazon_ids(fresh_sandbox))[0])
    assert token_2 != token_1
    assert client.stats.token_refreshes == 2 and client.stats.auth_retries == 0
    assert items and all("OrderItemId" in item for item in items)


def test_bad_credentials_fail_clearly_without_leaking(fresh_sandbox) -> None:
    with make_client(fresh_sandbox, refresh_token="Atzr|wrong-secret-value") as client, \
            pytest.raises(ApiError) as caught:
        client.get_orders(START, fresh_sandbox.now())
    assert "AMAZON_LWA_REFRESH_TOKEN" in str(caught.value)
    assert "wrong-secret-value" not in str(caught.value)


def test_quota_exceeded_is_waited_out(fresh_sandbox) -> None:
    fresh_sandbox.set_faults("amazon", "429", count=3, match="/orders/v0/orders")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    with make_client(fresh_sandbox, sleep=sleep) as client:
        page = client.get_orders(START, fresh_sandbox.now())
        client.get_order_items(page.orders[0].amazon_order_id)
    assert {o.amazon_order_id for o in page.orders} == visible_amazon_ids(fresh_sandbox)
    assert client.stats.rate_limited == 3
    # rate learnt from x-amzn-RateLimit-Limit (the sandbox scales the documented 0.0167 rps by 1000)
    assert client.buckets["getOrders"].rate == pytest.approx(16.7)
    assert slept and all(s < 1 for s in slept)


def test_v0_order_items_carry_no_restricted_data(sandbox) -> None:
    """v0 BuyerInfo (and in it CustomizedURL) needs a Restricted Data Token the client does not request: Amazon
    leaves it out, and so does the sandbox."""
    truth = sandbox.truth(marketplace="amazon", visible_only=True)
    custom = next(o for o in truth if any(i["amazon_custom_layout"] for i in o["items"]))
    with make_client(sandbox, api_version="v0") as client:
        items = client.get_order_items(custom["amazon_order_id"])
        page = client.get_orders(START, sandbox.now())
    assert items and not any("BuyerInfo" in i for i in items)
    assert page.orders and not any("BuyerInfo" in o.payload for o in page.orders)


# ------------------------------------------------------------------------------------------ v2026-01-01
def test_search_orders_pages_every_order_once_with_items_and_custom_urls(fresh_sandbox) -> None:
    fresh_sandbox.set_faults("amazon", "duplicate_page", count=3)
    with make_client(fresh_sandbox) as client:
        assert client.api_version == "2026-01-01"
        page = client.fetch_orders(START, fresh_sandbox.now())
    ids = [o.amazon_order_id for o in page.orders]
    assert len(ids) == len(set(ids)) and set(ids) == visible_amazon_ids(fresh_sandbox)
    assert client.stats.pages >= 4 and client.stats.duplicates_dropped > 0
    # one request per page: no per-order calls (v0 needed getOrderItems for each order)
    assert client.stats.requests == client.stats.pages + 1
    assert all(o.api_version == "2026-01-01" and o.payload["orderId"] == o.amazon_order_id for o in page.orders)
    assert {o.order_status for o in page.orders} <= {"PENDING", "UNSHIPPED", "SHIPPED", "CANCELLED"}
    truth = {(o["amazon_order_id"], i["line_item_key"]): i for o in fresh_sandbox.truth(marketplace="amazon")
             for i in o["items"]}
    urls = {(o.amazon_order_id, i["orderItemId"]): i["product"].get("customization", {}).get("customizedUrl")
            for o in page.orders for i in o.order_items}
    assert urls and all((url is not None) == (truth[key]["amazon_custom_layout"] is not None)
                        for key, url in urls.items())
    assert all(url.startswith(fresh_sandbox.base_url + "/amazon-custom/") for url in urls.values() if url)
    # exactly the datasets the pipeline reads
    assert all("recipient" not in o.payload and "fulfillment" in o.payload for o in page.orders)
    assert any("buyer" in o.payload and "proceeds" in o.payload for o in page.orders)


def test_search_orders_repeats_the_request_with_the_pagination_token(fresh_sandbox) -> None:
    """The sandbox refuses a paginationToken whose other parameters differ from the request that produced it
    (the model's rule), so a client that paged wrongly would fail here."""
    with make_client(fresh_sandbox) as client:
        client.search_orders(START, fresh_sandbox.now())
        token = client.access_token()
    sent = [r for r in fresh_sandbox.requests("amazon") if r["path"].endswith("/orders/2026-01-01/orders")]
    first, *later = [dict(httpx.QueryParams(r["query"])) for r in sent]
    assert later and all(p.pop("paginationToken") for p in later)
    assert all(p == first for p in later)
    assert first["includedData"] == "BUYER,FULFILLMENT,PROCEEDS" and first["maxResultsPerPage"] == "100"
    tampered = httpx.get(f"{fresh_sandbox.base_url}/amazon/orders/2026-01-01/orders", params={
        "lastUpdatedAfter": "2026-03-02T00:00:00Z", "marketplaceIds": first["marketplaceIds"],
        "paginationToken": dict(httpx.QueryParams(sent[1]["query"]))["paginationToken"]},
        headers={"x-amz-access-token": token})
    assert tampered.status_code == 400 and tampered.json()["errors"][0]["code"] == "InvalidInput"


def test_search_orders_two_minute_rule_and_quota(fresh_sandbox) -> None:
    fresh_sandbox.set_faults("amazon", "429", count=2, match="/orders/2026-01-01/orders")
    now = fresh_sandbox.now()
    slept: list[float] = []
    with make_client(fresh_sandbox, sleep=slept.append) as client:
        page = client.search_orders(now - dt.timedelta(hours=6), now + dt.timedelta(hours=1))
    assert page.clamped and page.effective_end == now - dt.timedelta(minutes=2)
    assert client.stats.rate_limited == 2 and slept and all(s < 1 for s in slept)
    # the documented 0.0056 rps, as the sandbox scales it (x1000) in x-amzn-RateLimit-Limit
    assert client.buckets["searchOrders"].rate == pytest.approx(5.6)
    assert fresh_sandbox.stats()["statuses"]["amazon"].get("400", 0) == 0


def test_get_order_and_the_change_probe(sandbox) -> None:
    truth = sandbox.truth(marketplace="amazon", visible_only=True)
    order_id = truth[-1]["amazon_order_id"]
    now = sandbox.now()
    with make_client(sandbox) as client:
        order = client.get_order(order_id)
        missing = client.get_order("206-0000000-0000000")
        changed = client.changed_since(now - dt.timedelta(days=2)).changed
        quiet = client.changed_since(now - dt.timedelta(seconds=60)).changed  # nothing can be asked that recent
        requests = client.stats.requests
    assert order is not None and order.amazon_order_id == order_id and order.order_items
    assert {"buyer", "fulfillment"} <= set(order.payload) and missing is None
    assert changed == 1 and quiet == 0
    assert requests == 1 + 2 + 1  # token, two getOrder, one searchOrders (the too-recent probe asks nothing)
    with make_client(sandbox, api_version="v0") as v0:
        assert v0.changed_since(now - dt.timedelta(days=2)).changed == 1


def _mock_client(handler, **overrides) -> AmazonClient:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            return httpx.Response(200, json={"access_token": "Atza|x", "expires_in": 3600})
        return handler(request)

    kwargs = dict(client_id="id", client_secret="secret", refresh_token="Atzr|r", token_url="https://lwa.test/auth/o2/token",
                  base_url="https://sp.test", marketplace_ids=["A1F83G8C2ARO7P"], retry_policy=FAST,
                  http=httpx.Client(transport=httpx.MockTransport(route)),
                  now=lambda: dt.datetime(2026, 3, 21, tzinfo=dt.UTC))
    kwargs.update(overrides)
    return AmazonClient(**kwargs)


GOOD_2026 = {"orderId": "206-1", "createdTime": "2026-03-10T09:00:00Z", "lastUpdatedTime": "2026-03-10T10:00:00Z",
             "salesChannel": {"channelName": "AMAZON"},
             "orderItems": [{"orderItemId": "11", "quantityOrdered": 1, "product": {"sellerSku": "K"}}]}


def test_invalid_v2026_orders_are_quarantined_and_the_rest_kept() -> None:
    bad = [{**GOOD_2026, "orderId": "206-2", "lastUpdatedTime": "yesterday"},
           {**GOOD_2026, "orderId": "206-3", "orderItems": [{"orderItemId": "", "quantityOrdered": 1, "product": {}}]},
           {**GOOD_2026, "orderId": "206-4", "orderItems": [{"orderItemId": "9", "quantityOrdered": -1,
                                                             "product": {}}]},
           "not an order"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"orders": [GOOD_2026, *bad], "lastUpdatedBefore": "2026-03-20T23:58:00Z"})

    with _mock_client(handler) as client:
        page = client.search_orders(START, dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    assert [o.amazon_order_id for o in page.orders] == ["206-1"]
    assert [r.source_id for r in page.invalid][:3] == ["206-2", "206-3", "206-4"]
    # no id: keyed by content, so the same broken record is one quarantine row however often it comes
    assert page.invalid[3].source_id.startswith("unreadable:")
    assert "lastUpdatedTime" in page.invalid[0].reason and "quantityOrdered" in page.invalid[2].reason


def test_a_pagination_token_that_would_expire_before_its_turn_is_not_used() -> None:
    """An account whose searchOrders plan is one request per ~28 hours: the next page's token would be older than
    Amazon's 24 hours when the pacing lets it go, so the client stops with a clear error instead of waiting."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"orders": [GOOD_2026], "pagination": {"nextToken": "t1"}})

    slept: list[float] = []
    with _mock_client(handler, sleep=slept.append) as client:
        client.buckets["searchOrders"] = TokenBucket(0.00001, 1)
        with pytest.raises(ApiError, match="24 hours"):
            client.search_orders(START, dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    assert client.stats.pages == 1 and not slept


def test_token_bucket_paces_from_the_documented_plan() -> None:
    ticks = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        ticks[0] += seconds

    bucket = TokenBucket(0.5, 2, clock=lambda: ticks[0])
    for _ in range(4):
        bucket.acquire(sleep)
    # a token's time (1 / 0.5 rps) plus the margin for Amazon counting from when the request arrives
    assert bucket.margin == pytest.approx(0.1)
    assert slept == [pytest.approx(2.1), pytest.approx(2.0)]
    bucket.drain()
    assert bucket.seconds_until_token() == pytest.approx(2.0)
    bucket.set_rate(1.0)
    assert bucket.seconds_until_token() == pytest.approx(1.0)
    assert TokenBucket(0.0056, 20).margin == 1.0  # searchOrders: at most a second on a ~180 s wait
