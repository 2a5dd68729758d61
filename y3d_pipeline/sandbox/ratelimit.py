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
