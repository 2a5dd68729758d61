"""What every API client shares: retrying a request with backoff, and errors that name the request.

Each client owns its rate limiting (ShipStation headers, Shopify cost bucket, Amazon token buckets) and
signals "try again" by raising ``RetryableError`` (optionally with the server's wait hint); this module
decides how long to wait and when to give up. Errors name the service, method and path, never headers
or credentials, and their texts are scrubbed of secrets (an upstream or proxy may echo the request in its
error body): see ``y3d_pipeline.redaction``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import httpx
import tenacity

from y3d_pipeline.counters import Counters, reported
from y3d_pipeline.db.storable import payload_sha256
from y3d_pipeline.redaction import scrub

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class InvalidRecord:
    """A record an API returned that cannot be used as it is: the caller quarantines it with ``reason``
    (ids and field names, never payload values) and its ``payload``, and goes on with the rest."""

    source_id: str
    reason: str
    payload: Any

    @classmethod
    def without_id(cls, payload: Any, reason: str) -> InvalidRecord:
        """A record with no usable id: keyed by its content (``unreadable:<hash>``), so a repeat is one row."""
        wrapped = payload if isinstance(payload, dict) else {"value": payload}
        return cls(f"unreadable:{payload_sha256(wrapped)[:16]}", reason, wrapped)


class ApiError(Exception):
    """A request failed for good (non-retryable status, or retries exhausted). The message is scrubbed."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(scrub(message))
        self.status = status


class RetryableError(Exception):
    """A transient failure. ``wait_seconds`` is the server's hint (Retry-After, rate-limit reset)."""

    def __init__(self, message: str, *, wait_seconds: float | None = None, rate_limited: bool = False):
        super().__init__(scrub(message))
        self.wait_seconds = wait_seconds
        self.rate_limited = rate_limited


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for failures; server hints for rate limits; a bound on both."""

    max_attempts: int = 6  # failures other than rate limiting
    max_total_seconds: float = 600.0
    initial_backoff: float = 1.0
    max_backoff: float = 60.0


@dataclass
class RequestStats(Counters):
    """What a client's requests cost. Every client has one as ``stats`` (its subclass adds the source's own
    figures); ``stats.as_metadata()`` goes into the asset's metadata."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = reported("rate_limited_responses")
    rate_limit_wait_seconds: float = reported("rate_limit_wait_seconds", default=0.0, digits=2)


def describe(request: httpx.Request) -> str:
    """``GET /orders?page=2`` — safe to log: auth lives in headers, which are never included."""
    query = f"?{request.url.query.decode()}" if request.url.query else ""
    return f"{request.method} {request.url.path}{query}"


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for_status(service: str, response: httpx.Response) -> None:
    """Map a response to RetryableError (429/5xx) or ApiError (other 4xx); return on success."""
    if response.status_code < 400:
        return
    what = f"{service} {describe(response.request)} returned HTTP {response.status_code}"
    if response.status_code in RETRYABLE_STATUS:
        raise RetryableError(what, wait_seconds=retry_after_seconds(response),
                             rate_limited=response.status_code == 429)
    body = response.text[:300].replace("\n", " ")
    raise ApiError(f"{what}: {body}", status=response.status_code)


def parse_json(service: str, response: httpx.Response) -> Any:
    """The body as JSON; a truncated or garbled body is transient (a proxy cut it), so retry it."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RetryableError(f"{service} {describe(response.request)} returned an unreadable body: {exc}") from exc


class _ServerHintOrBackoff(tenacity.wait.wait_base):
    def __init__(self, retry_policy: RetryPolicy):
        self.policy = retry_policy
        self._backoff = tenacity.wait_exponential_jitter(initial=retry_policy.initial_backoff,
                                                        max=retry_policy.max_backoff)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(exc, "wait_seconds", None)
        wait = float(hint) if hint is not None else self._backoff(retry_state)
        remaining = self.policy.max_total_seconds - retry_state.seconds_since_start
        return max(0.0, min(wait, remaining))


class _StopPolicy(tenacity.stop.stop_base):
    """Give up after ``max_attempts`` real failures or ``max_total_seconds``; rate limits only count time."""

    def __init__(self, retry_policy: RetryPolicy):
        self.policy = retry_policy
        self.failures = 0

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if not getattr(exc, "rate_limited", False):
            self.failures += 1
        elapsed = retry_state.seconds_since_start
        # A server asking us to wait past the budget: give up now rather than sleep and fail anyway.
        hint = getattr(exc, "wait_seconds", None) or 0.0
        return (self.failures >= self.policy.max_attempts
                or elapsed >= self.policy.max_total_seconds
                or elapsed + hint > self.policy.max_total_seconds)


def call_with_retries(
    fn: Callable[[], T],
    *,
    what: str,
    retry_policy: RetryPolicy,
    stats: RequestStats | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn`` until it succeeds, retrying RetryableError and transport errors (timeouts, drops)."""
    stats = stats if stats is not None else RequestStats()

    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception()
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        stats.retries += 1
        if getattr(exc, "rate_limited", False):
            stats.rate_limited += 1
            stats.rate_limit_wait_seconds += wait
        log.warning("%s: %s; retrying in %.1fs", what, scrub(exc), wait)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((RetryableError, httpx.TransportError)),
        wait=_ServerHintOrBackoff(retry_policy),
        stop=_StopPolicy(retry_policy),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=False,
    )
    try:
        return retrying(fn)
    except tenacity.RetryError as exc:
        last = exc.last_attempt.exception()
        raise ApiError(f"{what} gave up after {exc.last_attempt.attempt_number} attempts: {last}") from last


class Closing:
    """``with client:`` closes it at the end: every client and transport here has a ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ScrubbingTransport(Closing):
    """Wraps an httpx-style transport so that error bodies (status >= 400) reach the client scrubbed of
    secrets: for SDKs that build exception texts from the body themselves (the openai SDK, on httpx2), where
    our own ApiError never sees the text. Works with any transport of httpx's interface."""

    def __init__(self, inner: Any):
        self.inner = inner

    def handle_request(self, request: Any) -> Any:
        response = self.inner.handle_request(request)
        if response.status_code < 400:
            return response
        try:
            body = response.read()
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
        return type(response)(response.status_code, headers=headers,
                              content=scrub(body.decode("utf-8", "replace")).encode(),
                              request=request, extensions=response.extensions)

    def close(self) -> None:
        self.inner.close()

