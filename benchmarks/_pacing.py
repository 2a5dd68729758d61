"""Shared by the API pacing benchmarks: a transport that records every exchange, and the share of a rate limit
that a recorded run achieved. Not a benchmark itself (run_all.py skips modules starting with "_")."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Exchange:
    sent: float  # the client's clock when the request left
    path: str
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass
class Recording(httpx.HTTPTransport):
    """An HTTP transport that keeps (time sent, status, headers, body) of every exchange."""

    clock: Callable[[], float] = time.monotonic
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = self.clock()
        response = super().handle_request(request)
        body = response.read()
        self.exchanges.append(Exchange(sent, request.url.path, response.status_code, response.headers, body))
        return response


def fixed_window_share(exchanges: list[Exchange]) -> dict:
    """ShipStation's fixed window: a window opens with the response whose X-Rate-Limit-Remaining is limit - 1.
    Share = requests in every window but the last / (limit x minutes from the first window's start to the last
    window's start): the steady-state rate, counting any wait past a window's end and any window not filled."""
    starts: list[tuple[float, int]] = []  # (time, requests so far)
    limit = 0
    for n, exchange in enumerate(exchanges):
        try:
            limit = int(exchange.headers["X-Rate-Limit-Limit"])
            remaining = int(exchange.headers["X-Rate-Limit-Remaining"])
        except (KeyError, ValueError):
            continue
        if exchange.status != 429 and remaining == limit - 1:
            starts.append((exchange.sent, n))
    if len(starts) < 2:
        return {"limit": limit, "windows": len(starts), "share": None}
    (first, first_n), (last, last_n) = starts[0], starts[-1]
    return {"limit": limit, "windows": len(starts), "share": (last_n - first_n) / (limit * (last - first) / 60)}
