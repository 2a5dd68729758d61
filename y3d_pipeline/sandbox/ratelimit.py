"""The three throttling schemes: ShipStation's fixed window, Amazon's token bucket and Shopify's
leaky bucket of query-cost points. All read time from `SimClock.monotonic()`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class WindowDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class FixedWindowLimiter:
    """ShipStation v1: N requests per 60 s window per API key; the window starts at the first
    request after the previous one ended."""

    def __init__(self, per_minute: int, now: Callable[[], float], scale: Callable[[], float]) -> None:
        self.per_minute, self._now, self._scale = per_minute, now, scale
        self._windows: dict[str, tuple[float, int]] = {}

    def limit(self) -> int:
        return max(1, round(self.per_minute * self._scale()))

    def hit(self, key: str) -> WindowDecision:
        now, limit = self._now(), self.limit()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= 60:
            start, used = now, 0
        reset = max(0, math.ceil(60 - (now - start)))
        if used >= limit:
            self._windows[key] = (start, used)
            return WindowDecision(False, limit, 0, reset)
        used += 1
        self._windows[key] = (start, used)
        return WindowDecision(True, limit, limit - used, reset)

    def reset(self) -> None:
        self._windows.clear()


class TokenBucket:
    """Amazon SP-API usage plan: `rate` tokens per second refill up to `burst`."""

    def __init__(self, rate: float, burst: int, now: Callable[[], float], scale: Callable[[], float]) -> None:
        self.base_rate, self.base_burst, self._now, self._scale = rate, burst, now, scale
        self.reset()

    def reset(self) -> None:
        self._tokens: float | None = None
        self._last = self._now()

    @property
    def rate(self) -> float:
        return self.base_rate * self._scale()

    @property
    def burst(self) -> float:
        return max(1.0, math.ceil(self.base_burst * max(1.0, self._scale())))

    def take(self) -> bool:
        now = self._now()
        if self._tokens is None:
            self._tokens = self.burst
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class LeakyCostBucket:
    """Shopify GraphQL: a bucket of `maximum` points restored at `restore_rate` points/s."""

    maximum = 1000.0

    def __init__(self, restore_rate: float, now: Callable[[], float], scale: Callable[[], float]) -> None:
        self.base_restore, self._now, self._scale = restore_rate, now, scale
        self.reset()

    def reset(self) -> None:
        self._available = self.maximum
        self._last = self._now()

    @property
    def restore_rate(self) -> float:
        return self.base_restore * self._scale()

    def available(self) -> float:
        now = self._now()
        self._available = min(self.maximum, self._available + (now - self._last) * self.restore_rate)
        self._last = now
        return self._available

    def try_spend(self, cost: float) -> bool:
        if self.available() < cost:
            return False
        self._available -= cost
        return True

    def refund(self, points: float) -> None:
        self._available = min(self.maximum, self._available + points)


@dataclass
class OpenAIDecision:
    allowed: bool
    kind: str | None  # "requests" | "tokens" when refused
    headers: dict[str, str]
    wait_seconds: float  # until the refused request would fit
    used: int  # of the refused kind, for the error message
    limit: int


def go_duration(seconds: float) -> str:
    """OpenAI's reset headers, Go duration style: "12ms", "1s", "8.64s", "6m0s", "1h2m3s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{int(minutes)}m{round(secs, 3):g}s"
    return f"{int(hours)}h{text}" if hours else text


class OpenAILimiter:
    """OpenAI's per-minute limits on requests (RPM) and tokens (TPM): two buckets of `limit` that refill
    continuously at limit/60 per second. A request is admitted when one request and its estimated tokens (from
    its characters, or max_completion_tokens if more) fit, and is charged both there and then. Every answer
    carries x-ratelimit-limit/remaining/reset-requests and -tokens as OpenAI sends them."""

    def __init__(self, rpm: int, tpm: int, now: Callable[[], float]) -> None:
        self._now = now
        self.configure(rpm, tpm)

    def configure(self, rpm: int, tpm: int) -> None:
        self.rpm, self.tpm = max(1, int(rpm)), max(1, int(tpm))
        self._requests, self._tokens = float(self.rpm), float(self.tpm)
        self._last = self._now()

    def _refill(self) -> None:
        now = self._now()
        elapsed, self._last = now - self._last, now
        self._requests = min(self.rpm, self._requests + elapsed * self.rpm / 60)
        self._tokens = min(self.tpm, self._tokens + elapsed * self.tpm / 60)

    def headers(self) -> dict[str, str]:
        requests, tokens = max(0.0, self._requests), max(0.0, self._tokens)
        return {
            "x-ratelimit-limit-requests": str(self.rpm), "x-ratelimit-limit-tokens": str(self.tpm),
            "x-ratelimit-remaining-requests": str(int(requests)), "x-ratelimit-remaining-tokens": str(int(tokens)),
            "x-ratelimit-reset-requests": go_duration((self.rpm - requests) * 60 / self.rpm),
            "x-ratelimit-reset-tokens": go_duration((self.tpm - tokens) * 60 / self.tpm),
        }

    def take(self, tokens: int) -> OpenAIDecision:
        self._refill()
        if self._requests < 1:
            return OpenAIDecision(False, "requests", self.headers(), (1 - self._requests) * 60 / self.rpm,
                                  self.rpm, self.rpm)
        if self._tokens < tokens:
            return OpenAIDecision(False, "tokens", self.headers(), (tokens - self._tokens) * 60 / self.tpm,
                                  int(self.tpm - max(0.0, self._tokens)), self.tpm)
        self._requests -= 1
        self._tokens -= tokens
        return OpenAIDecision(True, None, self.headers(), 0.0, 0, 0)
