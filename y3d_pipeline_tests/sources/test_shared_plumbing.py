"""Retry policy over real HTTP, the raw-table upsert rules, and sync windows."""

from __future__ import annotations

import datetime as dt
import http.server
import threading

import httpx
import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import RawShipstationOrder
from y3d_pipeline.sources.http import (
    ApiError,
    RequestStats,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    parse_json,
    raise_for_status,
)
from y3d_pipeline.sources.raw_store import upsert_raw_records
from y3d_pipeline.sources.windows import sync_window

UTC = dt.UTC


class _Scripted(http.server.BaseHTTPRequestHandler):
    script: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[str] = []

    def do_GET(self):  # noqa: N802
        self.seen.append(self.path)
        status, headers, body = self.script.pop(0) if self.script else (200, {}, b'{"ok": true}')
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Scripted.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}", _Scripted
    server.shutdown()


def _get_json(client: httpx.Client, url: str):
    response = client.get(url)
    raise_for_status("test-api", response)
    return parse_json("test-api", response)


def test_retries_5xx_honours_retry_after_and_counts(scripted_server):
    base, handler = scripted_server
    handler.script = [
        (503, {}, b"down"),
        (429, {"Retry-After": "7"}, b"slow down"),
        (200, {}, b'{"orders": [1, 2'),  # truncated body
        (200, {}, b'{"orders": [1, 2]}'),
    ]
    waits: list[float] = []
    stats = RequestStats()
    with httpx.Client() as client:
        body = call_with_retries(lambda: _get_json(client, f"{base}/orders?page=1"), what="test-api orders",
                                 retry_policy=RetryPolicy(), stats=stats, sleep=waits.append)
    assert body == {"orders": [1, 2]}
    assert len(handler.seen) == 4
    assert waits[1] == 7.0, "the 429's Retry-After is used as is"
    assert stats.retries == 3 and stats.rate_limited == 1 and stats.rate_limit_wait_seconds == 7.0


def test_gives_up_with_an_error_naming_the_request_not_the_credentials(scripted_server):
    base, handler = scripted_server
    handler.script = [(502, {}, b"bad gateway")] * 10
    with httpx.Client(auth=("key-123", "secret-456")) as client, pytest.raises(ApiError) as err:
        call_with_retries(lambda: _get_json(client, f"{base}/orders"), what="test-api list orders",
                          retry_policy=RetryPolicy(max_attempts=3), sleep=lambda s: None)
    message = str(err.value)
    assert "test-api list orders gave up after 3 attempts" in message and "GET /orders" in message
    assert "secret-456" not in message and "key-123" not in message


def test_client_errors_are_not_retried(scripted_server):
    base, handler = scripted_server
    handler.script = [(401, {}, b'{"message": "unauthorized"}')]
    with httpx.Client() as client, pytest.raises(ApiError) as err:
        call_with_retries(lambda: _get_json(client, f"{base}/orders"), what="x", retry_policy=RetryPolicy(),
                          sleep=lambda s: None)
    assert err.value.status == 401 and len(handler.seen) == 1


def test_dropped_connections_are_retried():
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return "ok"

    assert call_with_retries(flaky, what="x", retry_policy=RetryPolicy(), sleep=lambda s: None) == "ok"


def test_rate_limits_do_not_use_up_failure_attempts():
    calls = []

    def limited():
        calls.append(1)
        if len(calls) <= 8:
            raise RetryableError("429", wait_seconds=0.0, rate_limited=True)
        return "ok"

    assert call_with_retries(limited, what="x", retry_policy=RetryPolicy(max_attempts=2), sleep=lambda s: None) == "ok"


def _row(order_id: int, modified: dt.datetime, status: str) -> dict:
    return {"shipstation_order_id": order_id, "order_status": status, "source_modified_at": modified,
            "payload": {"orderId": order_id, "orderStatus": status}}


def test_raw_upsert_never_replaces_newer_with_older(clean_db):
    table = RawShipstationOrder.__table__
    t0 = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    fetched = dt.datetime(2026, 3, 2, tzinfo=UTC)
    with clean_db.begin() as conn:
        counts = upsert_raw_records(conn, table, [_row(1, t0, "awaiting_shipment"), _row(2, t0, "on_hold"),
                                                  _row(1, t0 - dt.timedelta(hours=1), "stale-dup")],
                                    fetched_at=fetched)
    assert (counts.new, counts.changed, counts.unchanged) == (2, 0, 0)
    with clean_db.begin() as conn:
        counts = upsert_raw_records(conn, table, [
            _row(1, t0 + dt.timedelta(minutes=5), "shipped"),  # newer: replaces
            _row(2, t0 - dt.timedelta(days=1), "awaiting_shipment"),  # older: ignored
            _row(3, t0, "cancelled"),
        ], fetched_at=fetched)
    assert (counts.new, counts.changed, counts.unchanged) == (1, 1, 1)
    with clean_db.begin() as conn:
        again = upsert_raw_records(conn, table, [_row(1, t0 + dt.timedelta(minutes=5), "shipped")],
                                   fetched_at=fetched)
        statuses = dict(conn.execute(sa.select(table.c.shipstation_order_id, table.c.order_status)).all())
    assert (again.new, again.changed, again.unchanged) == (0, 0, 1)
    assert statuses == {1: "shipped", 2: "on_hold", 3: "cancelled"}


def test_sync_window_overlaps_and_never_reaches_the_future():
    start = dt.datetime(2026, 3, 8, tzinfo=UTC)
    end = start + dt.timedelta(days=1)
    window = sync_window(start, end, now=end + dt.timedelta(days=3))
    assert window.start == start - dt.timedelta(hours=1) and window.end == end
    today = sync_window(start, end, now=start + dt.timedelta(hours=5), settle=dt.timedelta(minutes=2))
    assert today.end == start + dt.timedelta(hours=5) - dt.timedelta(minutes=2)
    with pytest.raises(ValueError):
        sync_window(start.replace(tzinfo=None), end, now=end)


def test_raw_upsert_stores_hostile_text_instead_of_failing_the_batch(clean_db):
    table = RawShipstationOrder.__table__
    t0 = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    hostile = _row(7, t0, "awaiting\x00_shipment")
    hostile["payload"]["customerNotes"] = "nul\x00here"
    hostile["payload"]["orderTotal"] = float("nan")
    with clean_db.begin() as conn:
        counts = upsert_raw_records(conn, table, [hostile, _row(8, t0, "on_hold")], fetched_at=t0)
        stored = conn.execute(sa.select(table.c.order_status, table.c.payload)
                              .where(table.c.shipstation_order_id == 7)).one()
    assert counts.new == 2
    assert stored.order_status == "awaiting_shipment"
    assert stored.payload["customerNotes"] == "nulhere" and stored.payload["orderTotal"] == "nan"


def test_total_retry_time_is_bounded_even_when_the_server_asks_for_longer():
    waits: list[float] = []

    def limited():
        raise RetryableError("429", wait_seconds=1000.0, rate_limited=True)

    with pytest.raises(ApiError, match="gave up after 1 attempts"):
        call_with_retries(limited, what="x", retry_policy=RetryPolicy(max_total_seconds=30), sleep=waits.append)
    assert waits == [], "a wait beyond the budget is not slept"

    calls = []

    def flaky():
        calls.append(1)
        raise RetryableError("503")

    with pytest.raises(ApiError):
        call_with_retries(flaky, what="x", retry_policy=RetryPolicy(max_attempts=50, max_total_seconds=5,
                                                              initial_backoff=4, max_backoff=4),
                          sleep=waits.append)
    assert all(w <= 5 for w in waits)
