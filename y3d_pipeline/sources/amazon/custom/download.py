"""Downloading one Amazon Custom zip under a :class:`~y3d_pipeline.sources.amazon.custom.policy.DownloadPolicy`.

* redirects are never followed automatically: each ``Location`` is checked with the policy's rules, at most
  ``max_redirects`` hops, and a malformed one is a customization error; no proxies from the environment, no
  credentials sent, and no cookies: none is stored, none is sent, so one download never carries state into
  the next;
* the body is streamed raw (``Accept-Encoding: identity``; a compressed transport encoding is refused so
  nothing expands before the cap) and abandoned past ``max_download_bytes``;
* ``total_timeout`` bounds the whole download (every attempt, redirect, connect, header and body byte): each
  socket operation may wait at most the time left, so headers or a body sent a byte at a time cannot hold
  it open (per-read timeouts alone would reset with every byte).
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import http.cookiejar
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx

from y3d_pipeline.sources.amazon.custom.errors import DownloadError, TooLargeError, UrlRejectedError
from y3d_pipeline.sources.amazon.custom.policy import DownloadPolicy, check_url, safe_url_for_log
from y3d_pipeline.sources.http import ApiError, RetryableError, call_with_retries

USER_AGENT = "y3d-pipeline/1.0 (amazon-custom-downloader)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


# The monotonic time by which the current download must be done (per thread and context).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("download_deadline", default=None)


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the download's deadline; ``error`` once nothing is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the download's total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _time_left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket layer with every connect, read and write bounded by the download's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _time_left(timeout, httpcore.ConnectTimeout),
                                                               socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@contextmanager
def _deadline(at: float) -> Iterator[None]:
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


@dataclass
class Download:
    url: str  # the final URL after (checked) redirects
    content: bytes
    redirects: int = 0
    attempts: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _redirect_target(current: str, response: httpx.Response, policy: DownloadPolicy) -> str:
    """The checked URL a redirect points to; a missing, malformed or disallowed Location is an error."""
    try:
        location = response.headers.get("Location")
    except (UnicodeDecodeError, ValueError):
        raise UrlRejectedError(f"GET {safe_url_for_log(current)}: redirect with an undecodable Location") from None
    if not location or not location.strip():
        raise DownloadError(f"GET {safe_url_for_log(current)}: redirect without Location")
    try:
        target = urljoin(current, location.strip())
    except ValueError as exc:
        raise UrlRejectedError(f"redirect rejected: malformed Location ({exc})") from exc
    try:
        return check_url(target, policy)
    except UrlRejectedError as exc:
        raise UrlRejectedError(f"redirect rejected: {exc}") from exc


def _fetch_once(client: httpx.Client, url: str, policy: DownloadPolicy, result: Download) -> None:
    current = check_url(url, policy)
    redirects = 0
    result.attempts += 1
    while True:
        client.cookies.clear()  # a cookie set by one download never goes out with another request
        try:
            request = client.build_request("GET", current, headers={"User-Agent": USER_AGENT,
                                                                    "Accept": "application/zip, */*",
                                                                    "Accept-Encoding": "identity"})
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise UrlRejectedError(f"{safe_url_for_log(current)}: not a usable URL ({type(exc).__name__})") from exc
        try:
            response = client.send(request, stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            _raise_if_deadline_passed(current, policy)
            raise RetryableError(f"GET {safe_url_for_log(current)} failed: {type(exc).__name__}") from exc
        except (httpx.InvalidURL, ValueError) as exc:  # httpx parses a redirect's Location even when not following
            raise UrlRejectedError(f"GET {safe_url_for_log(current)}: redirect rejected: malformed Location "
                                   f"({type(exc).__name__})") from exc
        try:
            if response.status_code in REDIRECT_STATUSES:
                redirects += 1
                if redirects > policy.max_redirects:
                    raise UrlRejectedError(f"more than {policy.max_redirects} redirects")
                current = _redirect_target(current, response, policy)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableError(f"GET {safe_url_for_log(current)} returned HTTP {response.status_code}",
                                     rate_limited=response.status_code == 429)
            if response.status_code != 200:
                raise DownloadError(f"GET {safe_url_for_log(current)} returned HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > policy.max_download_bytes:
                raise TooLargeError(f"download declares {declared} bytes (cap {policy.max_download_bytes})")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                # never let a transport-level gzip/br stream expand in memory before the size cap applies
                raise DownloadError(f"GET {safe_url_for_log(current)}: unexpected Content-Encoding '{encoding}'")
            buffer = bytearray()
            try:
                for chunk in response.iter_raw():
                    buffer += chunk
                    if len(buffer) > policy.max_download_bytes:
                        raise TooLargeError(f"download exceeded {policy.max_download_bytes} bytes; abandoned")
            except httpx.TransportError as exc:
                _raise_if_deadline_passed(current, policy)
                raise RetryableError(f"GET {safe_url_for_log(current)} failed mid-body: "
                                     f"{type(exc).__name__}") from exc
            result.url = current
            result.content = bytes(buffer)
            result.redirects = redirects
            return
        finally:
            response.close()


def _raise_if_deadline_passed(current: str, policy: DownloadPolicy) -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() >= deadline:
        raise DownloadError(f"GET {safe_url_for_log(current)} did not finish within the "
                            f"{policy.total_timeout:g} s total deadline (slow or stalled server)")


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # httpx builds its httpcore pool without a way to pass a network backend: wrap the one it made.
        pool = self._pool
        pool._network_backend = _DeadlineBackend(pool._network_backend)  # noqa: SLF001


def make_http_client(policy: DownloadPolicy) -> httpx.Client:
    """An HTTP client for many downloads (keep-alive): no redirects, no environment proxies or netrc, no
    cookies, and every socket operation bounded by the current download's deadline."""
    return httpx.Client(
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        follow_redirects=False,
        trust_env=False,
        cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
        transport=_DeadlineTransport(trust_env=False),
    )


def download(
    url: str,
    policy: DownloadPolicy,
    *,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Download:
    """GET ``url`` under ``policy``; retries transient failures a few times, never unsafe ones, all within
    ``policy.total_timeout``. Use a client from :func:`make_http_client` (the deadline lives in its sockets)."""
    own = client is None
    if client is None:
        client = make_http_client(policy)
    result = Download(url=url, content=b"")
    started = time.monotonic()
    retry = policy.retry_policy
    if retry.max_total_seconds > policy.total_timeout:
        retry = dataclasses.replace(retry, max_total_seconds=policy.total_timeout)
    try:
        with _deadline(started + policy.total_timeout):
            call_with_retries(lambda: _fetch_once(client, url, policy, result),
                              what=f"Amazon Custom download {safe_url_for_log(url)}", retry_policy=retry,
                              sleep=sleep)
    except ApiError as exc:
        raise DownloadError(str(exc)) from exc
    finally:
        if own:
            client.close()
    return result
