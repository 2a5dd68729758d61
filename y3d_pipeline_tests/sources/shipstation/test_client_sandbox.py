"""The ShipStation client against the local sandbox over real HTTP: paging, rate limits, faults, write-back."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from y3d_pipeline.sources.http import ApiError, RetryPolicy
from y3d_pipeline.sources.shipstation.client import ShipStationClient

UTC = dt.UTC
START = dt.datetime(2026, 3, 6, tzinfo=UTC)
END = dt.datetime(2026, 3, 10, tzinfo=UTC)


def make_client(sandbox, **kwargs) -> ShipStationClient:
    env = sandbox.env()
    kwargs.setdefault("sleep", lambda seconds: None)
    kwargs.setdefault("retry_policy", RetryPolicy(initial_backoff=0.01, max_backoff=0.05))
    return ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                             base_url=env["SHIPSTATION_BASE_URL"], **kwargs)


def ids(result) -> dict[int, str]:
    return {r.model.order_id: r.payload["modifyDate"] for r in result.records}


@pytest.fixture
def baseline(fresh_sandbox):
    with make_client(fresh_sandbox) as client:
        return ids(client.list_orders(START, END))


def test_paging_across_many_pages_returns_every_order_once(fresh_sandbox, baseline):
    assert len(baseline) > 100
    with make_client(fresh_sandbox, page_size=7) as client:
        result = client.list_orders(START, END)
    assert result.pages >= len(baseline) // 7
    assert result.complete and result.rescans == 0
    assert ids(result) == baseline
    assert len(result.records) == len(baseline)
    for record in result.records:  # every order really is in the window (Pacific→UTC both ways)
        assert START <= record.model.modify_date <= END


def test_a_429_mid_sync_is_waited_out(fresh_sandbox, baseline):
    fresh_sandbox.set_faults("shipstation", "429", count=1, match="/orders")
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # simulated time: the sandbox's rate window moves with its clock
        waits.append(seconds)
        fresh_sandbox.advance_clock(seconds)

    with make_client(fresh_sandbox, page_size=50, sleep=sleep) as client:
        result = client.list_orders(START, END)
        stats = client.stats
    assert ids(result) == baseline
    assert stats.rate_limited == 1
    assert waits and waits[0] >= 1  # the X-Rate-Limit-Reset hint, not a fixed backoff
    assert fresh_sandbox.stats()["statuses"]["shipstation"]["429"] == 1


def test_slows_down_before_the_limit_instead_of_hitting_429(fresh_sandbox, baseline):
    fresh_sandbox.set_rate_limit_scale(0.1)  # 4 requests per minute
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        fresh_sandbox.advance_clock(seconds)

    with make_client(fresh_sandbox, page_size=20, sleep=sleep) as client:
        result = client.list_orders(START, END)
        assert client.stats.throttle_pauses >= 2
        assert client.stats.rate_limited == 0
    assert ids(result) == baseline
    assert "429" not in fresh_sandbox.stats()["statuses"]["shipstation"]


@pytest.mark.parametrize("kind", ["500", "502", "503", "drop", "truncate"])
def test_server_errors_and_dropped_connections_are_retried(fresh_sandbox, baseline, kind):
    fresh_sandbox.set_faults("shipstation", kind, count=2, match="/orders")
    with make_client(fresh_sandbox, page_size=60) as client:
        result = client.list_orders(START, END)
        assert client.stats.retries == 2
    assert ids(result) == baseline


def test_a_timeout_is_retried(fresh_sandbox, baseline):
    fresh_sandbox.set_faults("shipstation", "timeout", count=1, match="/orders", delay_ms=1500)
    with make_client(fresh_sandbox, timeout=0.5) as client:
        result = client.list_orders(START, END)
        assert client.stats.retries == 1
    assert ids(result) == baseline


def test_retries_are_bounded_and_name_the_request(fresh_sandbox):
    fresh_sandbox.set_faults("shipstation", "503", count=None, match="/orders")
    with make_client(fresh_sandbox, retry_policy=RetryPolicy(max_attempts=3, initial_backoff=0.01)) as client:
        with pytest.raises(ApiError) as caught:
            client.list_orders(START, END)
    message = str(caught.value)
    assert "GET /shipstation/orders?" in message and "modifyDateStart=2026-03-05+16" in message
    assert fresh_sandbox.env()["SHIPSTATION_API_SECRET"] not in message


def test_orders_modified_while_paging_are_not_skipped(fresh_sandbox, baseline):
    """page_shift bumps the orders of a served page to 'now' (outside the window): later pages shift."""
    fresh_sandbox.set_faults("shipstation", "page_shift", count=1, match="/orders")
    with make_client(fresh_sandbox, page_size=40) as client:
        result = client.list_orders(START, END)
    assert result.rescans >= 1
    assert set(ids(result)) == set(baseline)


def test_reference_data_and_shipments(fresh_sandbox):
    with make_client(fresh_sandbox) as client:
        tags = client.list_tags()
        stores = client.list_stores()
        shipments = client.list_shipments(dt.date(2026, 3, 7), dt.date(2026, 3, 8))
    assert {t.model.name for t in tags} >= {"Personalised", "Rush"}
    assert {s.model.marketplace_name for s in stores} >= {"Amazon", "Etsy", "eBay", "Shopify"}
    assert shipments.records and all(r.model.ship_date in (dt.date(2026, 3, 7), dt.date(2026, 3, 8))
                                     for r in shipments.records)


def test_get_order_and_full_resource_write_back(fresh_sandbox):
    with make_client(fresh_sandbox) as client:
        awaiting = client.list_orders(dt.datetime(2026, 3, 17, tzinfo=UTC), dt.datetime(2026, 3, 21, tzinfo=UTC),
                                      orderStatus="awaiting_shipment")
        if not awaiting.records:
            pytest.skip("no editable order in the window")
        order_id = awaiting.records[0].model.order_id
        fetched = client.get_order(order_id)
        body = dict(fetched.payload, internalNotes="printed: Mia / Pink")
        updated = client.create_or_update_order(body)
        assert updated.model.order_id == order_id
        assert client.get_order(order_id).payload["internalNotes"] == "printed: Mia / Pink"
        with pytest.raises(ValueError):
            client.create_or_update_order(dict(body, orderNumber="x" * 51))


def test_spends_every_window_whole_and_never_gets_a_429(fresh_sandbox, baseline):
    """Pacing at the ceiling: each rate-limit window but the last carries exactly the limit's requests (the
    client waits only when X-Rate-Limit-Remaining says the window is spent), and the sandbox answers no 429."""
    fresh_sandbox.set_rate_limit_scale(0.1)  # 4 requests per minute
    fresh_sandbox.advance_clock(60)  # a window of its own (the baseline's requests opened the last one)
    sent_in_window = [0]

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request):
            sent_in_window[-1] += 1
            return super().handle_request(request)

    def sleep(seconds: float) -> None:  # simulated time: the sandbox's rate window moves with its clock
        sent_in_window.append(0)
        fresh_sandbox.advance_clock(seconds)

    with make_client(fresh_sandbox, page_size=15, sleep=sleep, transport=Counting()) as client:
        result = client.list_orders(START, END)
        stats = client.stats
    assert ids(result) == baseline
    assert stats.rate_limited == 0 and stats.retries == 0
    assert "429" not in fresh_sandbox.stats()["statuses"]["shipstation"]
    assert client.rate_limit == 4 and len(sent_in_window) >= 3
    assert sent_in_window[:-1] == [4] * (len(sent_in_window) - 1)
    assert 1 <= sent_in_window[-1] <= 4
