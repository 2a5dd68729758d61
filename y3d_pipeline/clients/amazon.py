"""Amazon Selling Partner API (Orders v0) client: LWA tokens, getOrders, getOrderItems.

* **Auth.** Login with Amazon ``refresh_token`` grant → access token sent as ``x-amz-access-token``. The
  token is cached and refreshed shortly before ``expires_in`` runs out, and once more whenever the API
  answers 401/403 (revoked or expired early, e.g. a clock difference).
* **Two-minute rule.** ``LastUpdatedBefore`` must be at least two minutes before Amazon's "now"; the end of
  every window is clamped to ``now() - settle`` (settle ≥ 2 min) and floored to whole seconds, so the client
  never sends a too-recent end. The effective end (Amazon echoes ``LastUpdatedBefore``) is reported.
* **Paging.** ``NextToken`` goes back as a query parameter encoded by httpx (tokens contain ``+/=``);
  orders are de-duplicated across pages by ``AmazonOrderId`` keeping the newest ``LastUpdateDate``.
* **Rate limits.** A token bucket per operation, seeded with the documented usage plans (getOrders
  0.0167 rps burst 20, getOrderItems 0.5 rps burst 30) and re-rated from ``x-amzn-RateLimit-Limit``.
  A 429 ``QuotaExceeded`` empties the bucket and raises ``RetryableError(wait_seconds=<one token>,
  rate_limited=True)`` so ``call_with_retries`` waits it out without counting it as a failure.

Plain module: no Dagster imports. Errors never include tokens or secrets.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from y3d_pipeline.clients.http import (
    ApiError,
    RequestStats,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    parse_json,
    raise_for_status,
)
from y3d_pipeline.clients.probe import PROBE_RETRY_POLICY, ChangeProbe

log = logging.getLogger(__name__)

SERVICE = "Amazon SP-API"
TWO_MINUTES = dt.timedelta(minutes=2)
ORDERS_PATH = "/orders/v0/orders"
USER_AGENT = "y3d-pipeline/1.0 (Language=Python)"
# Documented usage plans (rate per second, burst); the x-amzn-RateLimit-Limit header overrides the rate.
DEFAULT_PLANS: dict[str, tuple[float, int]] = {"getOrders": (0.0167, 20), "getOrderItems": (0.5, 30)}


class TokenBucket:
    """Client-side mirror of one SP-API usage plan: ``acquire()`` sleeps until a request token is free."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self.tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self._last) * self.rate)
        self._last = now

    def seconds_until_token(self) -> float:
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def acquire(self, sleep: Callable[[float], None]) -> float:
        """Take one token, sleeping first if none is free; returns the seconds slept."""
        waited = 0.0
        wait = self.seconds_until_token()
        while wait > 0:
            sleep(wait)
            waited += wait
            wait = self.seconds_until_token()
        self.tokens -= 1
        return waited

    def set_rate(self, rate: float) -> None:
        if rate > 0 and not math.isclose(rate, self.rate):
            self._refill()
            self.rate = rate

    def drain(self) -> None:
        """Amazon said the quota is exhausted: assume an empty bucket from now on."""
        self._refill()
        self.tokens = min(self.tokens, 0.0)


@dataclass
class AmazonStats(RequestStats):
    token_refreshes: int = 0
    auth_retries: int = 0  # 401/403 answered by refreshing the token
    pages: int = 0
    duplicates_dropped: int = 0
    pacing_wait_seconds: float = 0.0

    def as_metadata(self) -> dict[str, float | int]:
        return {
            **super().as_metadata(),
            "token_refreshes": self.token_refreshes,
            "auth_retries": self.auth_retries,
            "pages": self.pages,
            "duplicates_dropped": self.duplicates_dropped,
            "pacing_wait_seconds": round(self.pacing_wait_seconds, 2),
        }


def _utc(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone")
    return parsed.astimezone(dt.UTC)


def iso_z(value: dt.datetime) -> str:
    """``2026-03-08T12:00:00Z`` (whole seconds, UTC) — the form Amazon documents."""
    return value.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class AmazonOrder(BaseModel):
    """One order from getOrders; ``payload`` keeps Amazon's JSON verbatim (plus ``OrderItems`` once fetched)."""

    model_config = ConfigDict(frozen=False)

    amazon_order_id: str
    last_update_date: dt.datetime
    order_status: str | None = None
    payload: dict[str, Any]

    @field_validator("amazon_order_id")
    @classmethod
    def _non_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("AmazonOrderId is blank")
        return value

    @field_validator("last_update_date", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> dt.datetime:
        return _utc(value)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> AmazonOrder:
        return cls(amazon_order_id=raw.get("AmazonOrderId"), last_update_date=raw.get("LastUpdateDate"),
                   order_status=raw.get("OrderStatus"), payload=raw)

    @property
    def order_items(self) -> list[dict[str, Any]]:
        return list(self.payload.get("OrderItems") or [])


class AmazonOrderItem(BaseModel):
    order_item_id: str
    customized_url: str | None = None
    payload: dict[str, Any]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> AmazonOrderItem:
        url = ((raw.get("BuyerInfo") or {}).get("BuyerCustomizedInfo") or {}).get("CustomizedURL")
        return cls(order_item_id=raw.get("OrderItemId"), customized_url=url or None, payload=raw)


@dataclass
class InvalidRecord:
    source_id: str
    reason: str
    payload: dict[str, Any]


@dataclass
class OrdersPage:
    orders: list[AmazonOrder] = field(default_factory=list)
    invalid: list[InvalidRecord] = field(default_factory=list)
    requested_end: dt.datetime | None = None
    effective_end: dt.datetime | None = None  # Amazon's echoed LastUpdatedBefore
    clamped: bool = False


class AmazonClient:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_url: str,
        base_url: str,
        marketplace_ids: Iterable[str],
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        settle: dt.timedelta = TWO_MINUTES,
        timeout: float = 30.0,
    ) -> None:
        if settle < TWO_MINUTES:
            raise ValueError("settle must be at least two minutes (Amazon rejects a more recent end)")
        self._client_id, self._client_secret, self._refresh_token = client_id, client_secret, refresh_token
        self.token_url = token_url
        self.base_url = base_url.rstrip("/")
        self.marketplace_ids = tuple(marketplace_ids)
        if not self.marketplace_ids:
            raise ValueError("at least one marketplace id is required")
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})
        self.policy = policy or RetryPolicy()
        self.now, self.clock, self.sleep, self.settle = now, clock, sleep, settle
        self.stats = AmazonStats()
        self.buckets = {op: TokenBucket(rate, burst, clock=clock) for op, (rate, burst) in DEFAULT_PLANS.items()}
        self._token: str | None = None
        self._token_expires_at = 0.0

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> AmazonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------- auth
    def _fetch_token(self) -> None:
        def attempt() -> dict[str, Any]:
            response = self.http.post(self.token_url, data={
                "grant_type": "refresh_token", "refresh_token": self._refresh_token,
                "client_id": self._client_id, "client_secret": self._client_secret,
            }, headers={"Accept": "application/json"})
            self.stats.requests += 1
            if response.status_code in (400, 401):
                try:
                    error = response.json().get("error", "")
                except ValueError:
                    error = ""
                raise ApiError(f"Amazon LWA token exchange refused (HTTP {response.status_code} {error}): "
                               "check AMAZON_LWA_CLIENT_ID, AMAZON_LWA_CLIENT_SECRET and "
                               "AMAZON_LWA_REFRESH_TOKEN",
                               status=response.status_code)
            raise_for_status("Amazon LWA", response)
            return parse_json("Amazon LWA", response)

        started = self.clock()
        body = call_with_retries(attempt, what="Amazon LWA token exchange", policy=self.policy,
                                 stats=self.stats, sleep=self.sleep)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise ApiError("Amazon LWA token exchange returned no access_token")
        expires_in = float(body.get("expires_in") or 3600)
        margin = max(1.0, min(60.0, expires_in / 10))  # refresh a little before Amazon would reject it
        self._token = token
        self._token_expires_at = started + expires_in - margin
        self.stats.token_refreshes += 1

    def access_token(self) -> str:
        if self._token is None or self.clock() >= self._token_expires_at:
            self._fetch_token()
        assert self._token is not None
        return self._token

    def invalidate_token(self) -> None:
        self._token = None

    # ---------------------------------------------------------------------------------------- requests
    def _get(self, operation: str, path: str, params: dict[str, Any],
             policy: RetryPolicy | None = None) -> dict[str, Any]:
        bucket = self.buckets[operation]
        url = self.base_url + path

        def attempt() -> dict[str, Any]:
            for auth_try in range(2):
                self.stats.pacing_wait_seconds += bucket.acquire(self.sleep)
                response = self.http.get(url, params=params, headers={"x-amz-access-token": self.access_token(),
                                                                      "Accept": "application/json"})
                self.stats.requests += 1
                limit = response.headers.get("x-amzn-RateLimit-Limit")
                if limit:
                    try:
                        bucket.set_rate(float(limit))
                    except ValueError:
                        pass
                if response.status_code in (401, 403) and auth_try == 0:
                    self.stats.auth_retries += 1
                    self.invalidate_token()
                    continue
                break
            if response.status_code == 429:
                bucket.drain()
                raise RetryableError(f"{SERVICE} {operation} returned 429 QuotaExceeded",
                                     wait_seconds=max(bucket.seconds_until_token(), 0.0), rate_limited=True)
            raise_for_status(SERVICE, response)
            body = parse_json(SERVICE, response)
            if not isinstance(body, dict):
                raise ApiError(f"{SERVICE} {operation} returned a non-object body")
            return body

        return call_with_retries(attempt, what=f"{SERVICE} {operation}", policy=policy or self.policy,
                                 stats=self.stats, sleep=self.sleep)

    # ------------------------------------------------------------------------------------------ orders
    def clamp_end(self, end: dt.datetime) -> tuple[dt.datetime, bool]:
        """``end`` cut to ``now - settle`` and floored to a whole second; (value, whether it was cut)."""
        latest = self.now().astimezone(dt.UTC) - self.settle
        clamped = end.astimezone(dt.UTC) > latest
        value = min(end.astimezone(dt.UTC), latest).replace(microsecond=0)
        return value, clamped

    def get_orders(self, updated_after: dt.datetime, updated_before: dt.datetime) -> OrdersPage:
        """All orders with ``updated_after <= LastUpdateDate <= updated_before`` (both inclusive per Amazon),
        the end clamped by the two-minute rule; de-duplicated across pages."""
        if updated_after.tzinfo is None or updated_before.tzinfo is None:
            raise ValueError("get_orders needs timezone-aware datetimes")
        end, clamped = self.clamp_end(updated_before)
        result = OrdersPage(requested_end=updated_before, effective_end=end, clamped=clamped)
        start = updated_after.astimezone(dt.UTC).replace(microsecond=0)
        if end < start:
            return result
        by_id: dict[str, AmazonOrder] = {}
        params: dict[str, Any] = {
            "MarketplaceIds": ",".join(self.marketplace_ids),
            "LastUpdatedAfter": iso_z(start),
            "LastUpdatedBefore": iso_z(end),
            "MaxResultsPerPage": 100,
        }
        seen_tokens: set[str] = set()
        while True:
            body = self._get("getOrders", ORDERS_PATH, params)
            self.stats.pages += 1
            payload = body.get("payload") or {}
            if payload.get("LastUpdatedBefore"):
                try:
                    result.effective_end = _utc(payload["LastUpdatedBefore"])
                except ValueError:
                    pass
            for raw in payload.get("Orders") or []:
                try:
                    order = AmazonOrder.from_api(raw)
                except (ValidationError, ValueError, TypeError) as exc:
                    source_id = str((raw or {}).get("AmazonOrderId") or "<missing AmazonOrderId>")
                    result.invalid.append(InvalidRecord(source_id, f"invalid SP-API order: {exc}"[:1000],
                                                        raw if isinstance(raw, dict) else {"value": raw}))
                    continue
                current = by_id.get(order.amazon_order_id)
                if current is not None:
                    self.stats.duplicates_dropped += 1
                    if current.last_update_date > order.last_update_date:
                        continue
                by_id[order.amazon_order_id] = order
            token = payload.get("NextToken")
            if not token:
                break
            if token in seen_tokens:
                raise ApiError(f"{SERVICE} getOrders returned the same NextToken twice; stopping")
            seen_tokens.add(token)
            # Amazon: with NextToken the other filters are ignored; MarketplaceIds stays required.
            params = {"MarketplaceIds": ",".join(self.marketplace_ids), "NextToken": token}
        result.orders = list(by_id.values())
        return result

    def changed_since(self, since: dt.datetime) -> ChangeProbe:
        """One getOrders request for a single order: did any order change between ``since`` and Amazon's
        latest allowed end (now minus the settle time, minus a minute for a clock that runs ahead of Amazon's)?
        ``checked_until`` is that end (the next cursor). Shares getOrders' usage plan with the sync; the
        sensor's interval is chosen for that."""
        end = (self.now() - self.settle - dt.timedelta(minutes=1)).astimezone(dt.UTC).replace(microsecond=0)
        start = since.astimezone(dt.UTC).replace(microsecond=0)
        if end <= start:
            return ChangeProbe(0, False, None, None, start)
        body = self._get("getOrders", ORDERS_PATH, {
            "MarketplaceIds": ",".join(self.marketplace_ids), "LastUpdatedAfter": iso_z(start),
            "LastUpdatedBefore": iso_z(end), "MaxResultsPerPage": 1}, policy=PROBE_RETRY_POLICY)
        payload = body.get("payload") or {}
        orders = [o for o in payload.get("Orders") or [] if isinstance(o, dict)]
        if not orders:
            return ChangeProbe(0, False, None, None, end)
        first = orders[0]
        try:
            modified = _utc(first.get("LastUpdateDate"))
        except (TypeError, ValueError):
            modified = None
        return ChangeProbe(len(orders), bool(payload.get("NextToken")), str(first.get("AmazonOrderId") or ""),
                           modified, end)

    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        """All items of one order (getOrderItems, following its own NextToken)."""
        path = f"{ORDERS_PATH}/{quote(amazon_order_id, safe='')}/orderItems"
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        seen_tokens: set[str] = set()
        while True:
            body = self._get("getOrderItems", path, params)
            payload = body.get("payload") or {}
            items.extend(item for item in payload.get("OrderItems") or [] if isinstance(item, dict))
            token = payload.get("NextToken")
            if not token or token in seen_tokens:
                break
            seen_tokens.add(token)
            params = {"NextToken": token}
        return items

    def get_orders_with_items(self, updated_after: dt.datetime, updated_before: dt.datetime,
                              progress: Callable[[int, int | None], None] | None = None) -> OrdersPage:
        """getOrders, then getOrderItems per order; items land in ``payload["OrderItems"]``. ``progress(orders
        with items, orders)`` after each order (getOrderItems is paced at 0.5/s: the slow part)."""
        page = self.get_orders(updated_after, updated_before)
        for number, order in enumerate(page.orders, start=1):
            order.payload = {**order.payload, "OrderItems": self.get_order_items(order.amazon_order_id)}
            if progress:
                progress(number, len(page.orders))
        return page
