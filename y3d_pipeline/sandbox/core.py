"""Shared machinery: sandbox state, fault application and JSON responses."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from y3d_pipeline.sandbox.catalogue import Catalogue
from y3d_pipeline.sandbox.clock import SimClock
from y3d_pipeline.sandbox.data import ShopData
from y3d_pipeline.sandbox.faults import RESPONSE_KINDS, FaultRegistry
from y3d_pipeline.sandbox.options import FaultSpec, SandboxOptions
from y3d_pipeline.sandbox.ratelimit import FixedWindowLimiter, LeakyCostBucket, OpenAILimiter, TokenBucket

Handler = Callable[[Request], Awaitable[Response]]
JOURNAL_SIZE = 500
JOURNAL_BODY_LIMIT = 256 * 1024


class SandboxState:
    """Everything the server knows; lives on the server's event loop thread."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        anchor, running = self._initial_clock(options)
        self.clock = SimClock(anchor, running)
        self.data = ShopData(options.seed, options.days, options.orders_per_day, options.end_date)
        self.faults = FaultRegistry(options.seed)
        self.shipstation_limiter = FixedWindowLimiter(40, self.clock.monotonic, lambda: self.rate_limit_scale)
        self.shipstation_v2_limiter = FixedWindowLimiter(200, self.clock.monotonic, lambda: self.rate_limit_scale)
        self.catalogue = Catalogue(self.data, options.seed)
        self.amazon_buckets = {
            "getOrders": TokenBucket(0.0167, 20, self.clock.monotonic, lambda: self.rate_limit_scale),
            "getOrderItems": TokenBucket(0.5, 30, self.clock.monotonic, lambda: self.rate_limit_scale),
            "getOrder": TokenBucket(0.5, 30, self.clock.monotonic, lambda: self.rate_limit_scale),
            "searchOrders": TokenBucket(0.0056, 20, self.clock.monotonic, lambda: self.rate_limit_scale),
            "getOrder (2026-01-01)": TokenBucket(0.5, 30, self.clock.monotonic, lambda: self.rate_limit_scale),
        }
        self.shopify_bucket = LeakyCostBucket(50.0, self.clock.monotonic, lambda: self.rate_limit_scale)
        self.openai_limiter = OpenAILimiter(options.openai_rpm, options.openai_tpm, self.clock.monotonic)
        self.resets = 0  # requests held by a delay fault check it: a reset meanwhile means their test is over
        self.reset(regenerate=False)

    @staticmethod
    def _initial_clock(options: SandboxOptions) -> tuple[datetime, bool]:
        real_now = datetime.now(UTC)
        if options.start_clock is not None:
            anchor = options.start_clock.astimezone(UTC)
            return anchor, bool(options.clock_running)
        if options.end_date >= real_now.date():
            running = True if options.clock_running is None else options.clock_running
            return real_now, running
        anchor = datetime.combine(options.end_date + timedelta(days=1), time.min, UTC)
        return anchor, bool(options.clock_running)

    def reset(self, regenerate: bool = True) -> None:
        options = self.options
        self.resets += 1
        self.clock.reset()
        if regenerate:
            self.data.reset()
        self.faults.clear()
        for spec in options.faults:
            self.faults.add(spec.model_copy())
        self.rate_limit_scale = options.rate_limit_scale
        self.openai_latency_ms = options.openai_latency_ms
        self.openai_rpm, self.openai_tpm = options.openai_rpm, options.openai_tpm
        self.openai_limiter.configure(self.openai_rpm, self.openai_tpm)
        self.openai_wrong_quantity_rate = options.openai_wrong_quantity_rate
        self.openai_malformed_rate = options.openai_malformed_rate
        self.amazon_token_expires_in = options.amazon_token_expires_in
        self.shopify_read_all_orders = options.shopify_read_all_orders
        self.shopify_protected_customer_data = options.shopify_protected_customer_data
        self.shipstation_limiter.reset()
        self.shipstation_v2_limiter.reset()
        if regenerate:
            self.catalogue.reset()
        for bucket in self.amazon_buckets.values():
            bucket.reset()
        self.shopify_bucket.reset()
        self.amazon_tokens: dict[str, datetime] = {}
        self.amazon_token_counter = 0
        self.requests: Counter[str] = Counter()
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        # What clients sent (for tests that hold requests to the official API definitions).
        self.journal: deque[dict] = deque(maxlen=JOURNAL_SIZE)
        self.openai_calls = 0

    def stats(self) -> dict:
        return {
            "requests": dict(self.requests),
            "throttled": {api: c.get("429", 0) for api, c in self.statuses.items()},
            "statuses": {api: dict(c) for api, c in self.statuses.items()},
            "faults": self.faults.rules(),
            # Index entries and orders the list endpoints looked at: a page should cost its window, not the shop.
            "examined": {"shipstation": self.data.ss_index.examined, "amazon": self.data.amazon_index.examined,
                         "shopify": self.data.shopify_index.examined,
                         "shipments": self.data.shipment_index.examined},
        }

    def config(self) -> dict:
        return {
            "rate_limit_scale": self.rate_limit_scale,
            "openai_latency_ms": self.openai_latency_ms,
            "openai_rpm": self.openai_rpm,
            "openai_tpm": self.openai_tpm,
            "openai_wrong_quantity_rate": self.openai_wrong_quantity_rate,
            "openai_malformed_rate": self.openai_malformed_rate,
            "amazon_token_expires_in": self.amazon_token_expires_in,
            "shopify_read_all_orders": self.shopify_read_all_orders,
            "shopify_protected_customer_data": self.shopify_protected_customer_data,
            "clock_running": self.clock.running,
        }


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        content = text.encode()
    except UnicodeEncodeError:
        # A lone UTF-16 surrogate (a truncated emoji) has no UTF-8 form: real JSON serializers send it as a
        # "\ud83d" escape, which is what the pipeline must then cope with.
        content = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


class DeliberateConnectionDrop(Exception):
    """Raised inside a response to make uvicorn abort the connection mid-body."""


class DroppedResponse(Response):
    """Promises the whole body in Content-Length, sends part of it, then aborts."""

    def __init__(self, original: Response) -> None:
        super().__init__(original.body, status_code=original.status_code,
                         headers={k: v for k, v in original.headers.items() if k != "content-length"},
                         media_type=original.media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: max(1, len(self.body) // 2)],
                    "more_body": True})
        await asyncio.sleep(0.01)
        raise DeliberateConnectionDrop()


class _HideDeliberateDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DeliberateConnectionDrop)


logging.getLogger("uvicorn.error").addFilter(_HideDeliberateDrops())


def truncated(original: Response) -> Response:
    body = original.body
    cut = body[: max(1, len(body) * 2 // 3)]
    headers = {k: v for k, v in original.headers.items() if k != "content-length"}
    return Response(cut, status_code=original.status_code, headers=headers, media_type=original.media_type)


async def with_faults(state: SandboxState, api: str, path: str, request: Request, handler: Handler,
                      error_response: Callable[[int], Response]) -> Response:
    """Run `handler` unless a fault rule for this API and path says otherwise."""
    fault: FaultSpec | None = state.faults.take(api, path, RESPONSE_KINDS)
    if fault is not None:
        if fault.kind in ("403", "429", "500", "502", "503"):
            return error_response(int(fault.kind))
        if fault.kind in ("slow", "timeout"):
            resets = state.resets
            await asyncio.sleep((fault.delay_ms if fault.delay_ms is not None else
                                 1500 if fault.kind == "slow" else 30000) / 1000)
            if state.resets != resets:  # its client gave up long ago: it must not act on the next test's state
                return error_response(503)
    response = await handler(request)
    if fault is not None and fault.kind == "truncate":
        return truncated(response)
    if fault is not None and fault.kind == "drop":
        return DroppedResponse(response)
    return response


class StatsMiddleware:
    """Counts requests and response statuses per API (by path prefix)."""

    prefixes = {"shipstation": "shipstation", "shipstation-v2": "shipstation_v2", "shopify": "shopify", "amazon": "amazon",
                "amazon-custom": "custom", "openai": "openai"}

    def __init__(self, app, state: SandboxState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first = scope["path"].strip("/").split("/", 1)[0]
        api = self.prefixes.get(first)
        if api is None:
            await self.app(scope, receive, send)
            return
        state = self.state
        state.requests[api] += 1
        entry = {"api": api, "method": scope["method"], "path": scope["path"],
                 "query": scope.get("query_string", b"").decode("latin-1"), "body": "", "status": None}
        state.journal.append(entry)
        body = bytearray()

        async def recording_receive():
            message = await receive()
            if message["type"] == "http.request" and len(body) < JOURNAL_BODY_LIMIT:
                body.extend(message.get("body", b"")[:JOURNAL_BODY_LIMIT - len(body)])
                entry["body"] = body.decode("utf-8", "replace")
            return message

        async def counting_send(message) -> None:
            if message["type"] == "http.response.start":
                state.statuses[api][str(message["status"])] += 1
                entry["status"] = message["status"]
            await send(message)

        await self.app(scope, recording_receive, counting_send)
