"""Pacific wall-clock conversion and request shaping of the ShipStation client (no network)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from y3d_pipeline.sources.http import ApiError, RetryPolicy
from y3d_pipeline.sources.shipstation.client import ShipStationClient, to_pacific_param
from y3d_pipeline.sources.shipstation.records import parse_pacific

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T10:00:00.0000000", dt.datetime(2026, 1, 15, 18, 0, tzinfo=UTC)),  # PST, UTC-8
        ("2026-07-15T10:00:00.0000000", dt.datetime(2026, 7, 15, 17, 0, tzinfo=UTC)),  # PDT, UTC-7
        ("2015-06-29T08:46:27.0000000", dt.datetime(2015, 6, 29, 15, 46, 27, tzinfo=UTC)),
        ("2026-03-08T01:30:00.1234567", dt.datetime(2026, 3, 8, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-08T03:30:00.0000000", dt.datetime(2026, 3, 8, 10, 30, tzinfo=UTC)),  # after spring-forward
        ("2026-03-08T02:30:00.0000000", dt.datetime(2026, 3, 8, 10, 30, tzinfo=UTC)),  # non-existent: PST read
        # fall-back: 01:30 happens twice; documented choice is the first (PDT) occurrence
        ("2026-11-01T01:30:00.0000000", dt.datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
        ("2026-03-05", dt.datetime(2026, 3, 5, 8, 0, tzinfo=UTC)),
        ("2026-03-05 23:59:59", dt.datetime(2026, 3, 6, 7, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_pacific(text, expected):
    assert parse_pacific(text) == expected


def test_parse_pacific_empty_and_broken():
    assert parse_pacific(None) is None
    assert parse_pacific("") is None
    with pytest.raises(ValueError):
        parse_pacific("yesterday")
    with pytest.raises(ValueError):
        parse_pacific("2026-02-30T10:00:00.0000000")


def test_request_dates_are_pacific_wall_clock_never_utc():
    start = dt.datetime(2026, 3, 8, 0, 0, tzinfo=UTC)
    assert to_pacific_param(start) == "2026-03-07 16:00:00"
    summer = dt.datetime(2026, 7, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert to_pacific_param(summer, bound="start") == "2026-07-01 05:00:00"
    assert to_pacific_param(summer, bound="end") == "2026-07-01 05:00:01"  # rounded up, window only widens
    assert "Z" not in to_pacific_param(summer) and "T" not in to_pacific_param(summer)
    with pytest.raises(ValueError):
        to_pacific_param(dt.datetime(2026, 3, 8))


def test_ambiguous_end_bound_is_pushed_past_the_repeated_hour():
    # 01:30 PST (the second 01:30 on fall-back night) = 09:30 UTC; the server would read "01:30" as PDT.
    second = dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert to_pacific_param(second, bound="start") == "2026-11-01 01:30:00"
    end = to_pacific_param(second, bound="end")
    assert end == "2026-11-01 02:30:00"
    assert parse_pacific(end) >= second
    first = dt.datetime(2026, 11, 1, 8, 30, tzinfo=UTC)  # 01:30 PDT: unambiguous reading is right
    assert to_pacific_param(first, bound="end") == "2026-11-01 01:30:00"


def test_errors_name_the_request_not_the_credentials():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Basic ")
        return httpx.Response(401, text="401 Unauthorized", request=request)

    client = ShipStationClient("key-abc", "secret-xyz", base_url="https://ss.example",
                               transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with pytest.raises(ApiError) as caught:
        client.list_tags()
    message = str(caught.value)
    assert "GET /accounts/listtags" in message and "401" in message
    assert "secret-xyz" not in message and "key-abc" not in message


def test_pages_zero_and_empty_page_end_the_scan():
    """Some accounts report pages=0 for a single page; the loop must still stop."""
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        orders = [{"orderId": 1, "orderNumber": "A", "modifyDate": "2026-03-08T10:00:00.0000000"}]
        return httpx.Response(200, json={"orders": orders, "total": 1, "page": 1, "pages": 0})

    client = ShipStationClient("k", "s", base_url="https://ss.example", transport=httpx.MockTransport(handler),
                               sleep=lambda s: None, retry_policy=RetryPolicy(max_attempts=2))
    result = client.list_orders(dt.datetime(2026, 3, 8, tzinfo=UTC), dt.datetime(2026, 3, 9, tzinfo=UTC))
    assert [r.model.order_id for r in result.records] == [1]
    assert len(seen) == 1
    params = seen[0]
    assert params["sortBy"] == "ModifyDate" and params["sortDir"] == "ASC" and params["pageSize"] == "500"
    assert params["modifyDateStart"] == "2026-03-07 16:00:00"
    assert params["modifyDateEnd"] == "2026-03-08 17:00:00"
