"""Amazon Custom downloads keep their promises (issue 12, item 3): the total deadline holds against a server
that sends its headers or its body a byte at a time, no cookie is kept from one download to the next, and a
malformed redirect is a customization error, not a crash. Real HTTP against a loopback server."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from y3d_pipeline.sources.amazon import custom as ac
from y3d_pipeline.sources.http import RetryPolicy
from y3d_pipeline_tests.faults.conftest import record_bad_input
from y3d_pipeline_tests.local_http import LocalHttpServer, reply, trickle

TOTAL = 2.0  # the policy's total deadline in these tests
MARGIN = 3.0  # scheduling slack; a trickle below lasts 12 s or more, so holding the deadline is unambiguous


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("111.json", json.dumps({"customizationInfo": {"aspects": [
            {"title": "Name", "text": {"value": "Ada"}, "font": {"value": "Arial"}}]}}))
    return buffer.getvalue()


def _policy(**overrides) -> ac.DownloadPolicy:
    settings = {"read_timeout": 1.0, "connect_timeout": 1.0, "total_timeout": TOTAL,
                "retry_policy": RetryPolicy(max_attempts=3, max_total_seconds=30, initial_backoff=0.01, max_backoff=0.01),
                **overrides}
    return ac.DownloadPolicy.from_settings(("127.0.0.1",), allow_http=True, **settings)


def _slow_headers(request, connection):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nX-Padding: " + b"p" * 60 + b"\r\n"
    trickle(connection, head, every=0.2, stop=server_stop[0])  # 0.2 s per byte: each read is in time


def _slow_body(request, connection):
    body = _zip()
    connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    trickle(connection, body, every=0.05, stop=server_stop[0])


server_stop: list = [None]


@pytest.mark.parametrize("respond", [_slow_headers, _slow_body], ids=["slow headers", "slow body"])
def test_total_deadline_holds_against_a_trickling_server(respond):
    with LocalHttpServer(respond) as server:
        server_stop[0] = server.stop
        started = time.monotonic()
        with ac.make_http_client(_policy()) as client, pytest.raises(ac.DownloadError, match="total deadline"):
            ac.download(f"{server.url}/c/1.zip", _policy(), client=client)
        elapsed = time.monotonic() - started
    assert elapsed < TOTAL + MARGIN, f"the download ran {elapsed:.1f} s past a {TOTAL} s deadline"
    record_bad_input("customization download and parse", "trickling server", "failed with a reason")


def test_deadline_is_for_the_whole_download_not_each_attempt():
    """5xx answers after a pause: retries stop when the total deadline is spent."""
    def slow_503(request, connection):
        time.sleep(0.9)
        reply(connection, 503, b"busy")

    with LocalHttpServer(slow_503) as server:
        policy = _policy(retry_policy=RetryPolicy(max_attempts=50, max_total_seconds=300, initial_backoff=0.01,
                                           max_backoff=0.01))
        started = time.monotonic()
        with ac.make_http_client(policy) as client, pytest.raises(ac.DownloadError):
            ac.download(f"{server.url}/c/1.zip", policy, client=client)
        assert time.monotonic() - started < TOTAL + MARGIN
        assert len(server.requests) <= 4


def test_no_cookie_is_kept_between_downloads():
    def set_cookie(request, connection):
        reply(connection, 200, _zip(), {"Set-Cookie": "session=s3cr3t; Path=/"})

    with LocalHttpServer(set_cookie) as server, ac.make_http_client(_policy()) as client:
        for n in range(3):
            got = ac.fetch_customization(f"{server.url}/c/{n}.zip", _policy(), order_item_id="111", client=client)
            assert got.customization.custom_text == "Ada"
        assert [r.headers.get("cookie") for r in server.requests] == [None, None, None]
        assert len(client.cookies) == 0


MALFORMED_LOCATIONS = [
    b"http://[::1",  # unbalanced IPv6 bracket: urljoin raises ValueError
    b"http://127.0.0.1:99999/x.zip",  # port out of range
    b"javascript:alert(1)",
    b"file:///etc/passwd",
    b"//evil.example/x.zip",
    b"http://exa mple.com/x.zip",
    b"http://127.0.0.1/\x00.zip",
    b"http://\xff\xfe/x.zip",  # not even text
    b"http://user:pw@127.0.0.1/x.zip",
    b"   ",
    b"http://127.0.0.1/a.zip, http://127.0.0.1/b.zip",
]


@pytest.mark.parametrize("location", MALFORMED_LOCATIONS, ids=range(len(MALFORMED_LOCATIONS)))
def test_a_malformed_redirect_is_a_customization_error(location):
    def redirect(request, connection):
        reply(connection, 302, b"", raw_headers=[b"Location: " + location])

    with LocalHttpServer(redirect) as server, ac.make_http_client(_policy()) as client:
        with pytest.raises(ac.CustomizationError) as failed:
            ac.fetch_customization(f"{server.url}/c/1.zip", _policy(), order_item_id="111", client=client)
    assert str(failed.value)
    assert all(r.path == "/c/1.zip" for r in server.requests), "a malformed redirect was followed"
    record_bad_input("customization download and parse", "malformed redirect", "rejected")
