"""SP-API client against the sandbox over real HTTP: tokens, the two-minute rule, paging, 429s."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from y3d_pipeline.clients.amazon import AmazonClient, TokenBucket, iso_z
from y3d_pipeline.clients.http import ApiError, RetryPolicy

START = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
FAST = RetryPolicy(max_attempts=4, max_total_seconds=60, initial_backoff=0.01, max_backoff=0.05)


def make_client(sandbox, **overrides) -> AmazonClient:
    env = sandbox.env()
    kwargs = dict(
        client_id=env["AMAZON_LWA_CLIENT_ID"], client_secret=env["AMAZON_LWA_CLIENT_SECRET"],
        refresh_token=env["AMAZON_LWA_REFRESH_TOKEN"], token_url=env["AMAZON_LWA_TOKEN_URL"],
        base_url=env["AMAZON_SP_API_BASE_URL"], marketplace_ids=env["AMAZON_MARKETPLACE_IDS"].split(","),
        now=sandbox.now, policy=FAST,
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


def test_order_items_carry_customized_url(sandbox) -> None:
    truth = sandbox.truth(marketplace="amazon", visible_only=True)
    custom = next(o for o in truth if any(i["amazon_custom_layout"] for i in o["items"]))
    with make_client(sandbox) as client:
        items = client.get_order_items(custom["amazon_order_id"])
    urls = [i["BuyerInfo"]["BuyerCustomizedInfo"]["CustomizedURL"] for i in items if i.get("BuyerInfo")]
    assert urls and all(u.startswith(sandbox.base_url + "/amazon-custom/") for u in urls)


def test_token_bucket_paces_from_the_documented_plan() -> None:
    ticks = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        ticks[0] += seconds

    bucket = TokenBucket(0.5, 2, clock=lambda: ticks[0])
    for _ in range(4):
        bucket.acquire(sleep)
    assert slept == [pytest.approx(2.0), pytest.approx(2.0)]
    bucket.drain()
    assert bucket.seconds_until_token() == pytest.approx(2.0)
    bucket.set_rate(1.0)
    assert bucket.seconds_until_token() == pytest.approx(1.0)
