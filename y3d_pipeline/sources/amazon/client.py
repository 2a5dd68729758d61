"""Amazon Selling Partner API Orders client: v2026-01-01 (``searchOrders``, ``getOrder``) and the deprecated v0
(``getOrders`` + ``getOrderItems``, removed by Amazon on 2027-03-27), with LWA tokens.

* **Versions.** ``api_version="2026-01-01"`` (the default) reads orders with ``searchOrders``, whose orders carry
  their items (``orderItems[].product.customization.customizedUrl`` included) so there is no per-order call;
  ``includedData`` asks for exactly the datasets the pipeline reads (``INCLUDED_DATA``: BUYER for the buyer,
  FULFILLMENT for status, ship-by window and service level, PROCEEDS for the order total; items and products
  always come). ``api_version="v0"`` keeps the old path until Amazon removes it: without a Restricted Data Token
  (which this client does not request) v0 leaves out ``BuyerInfo`` and with it ``CustomizedURL``, so on v0 the
  Amazon Custom files come only from ShipStation's copy of the URL.
* **Records.** Payloads are kept verbatim in their version's shape (v0 with ``OrderItems`` merged in); an
  ``AmazonOrder`` says which version fetched it (``api_version``), and ``reconcile.marketplace.map_amazon``
  reads either shape into the same record. An order that fails validation becomes an ``InvalidRecord``.
* **Auth.** Login with Amazon ``refresh_token`` grant → access token sent as ``x-amz-access-token``. The
  token is cached and refreshed shortly before ``expires_in`` runs out, and once more whenever the API
  answers 401/403 (revoked or expired early, e.g. a clock difference).
* **Two-minute rule.** ``LastUpdatedBefore`` must be at least two minutes before Amazon's "now"; the end of
  every window is clamped to ``now() - settle`` (settle ≥ 2 min) and floored to whole seconds, so the client
  never sends a too-recent end. The effective end (Amazon echoes ``LastUpdatedBefore``) is reported.
* **Paging (v2026).** ``pagination.nextToken`` goes back as ``paginationToken`` with every other parameter
  repeated unchanged, as the model requires; a token expires after 24 hours, so one older than that is not
  used (the run fails clearly instead of paging on an expired token).
* **Paging (v0).** ``NextToken`` goes back as a query parameter encoded by httpx (tokens contain ``+/=``);
  orders are de-duplicated across pages by ``AmazonOrderId`` keeping the newest ``LastUpdateDate``.
* **Rate limits.** A token bucket per operation, seeded with the documented usage plans (searchOrders 0.0056 rps
  burst 20, getOrder 0.5/30; v0 getOrders 0.0167/20, getOrderItems 0.5/30) and re-rated from
  ``x-amzn-RateLimit-Limit``. A 429 ``QuotaExceeded`` empties the bucket and raises
  ``RetryableError(wait_seconds=<one token>, rate_limited=True)`` so ``call_with_retries`` waits it out without
  counting it as a failure.
* **Change probe.** ``changed_since(T)`` is the cheap "did anything change since T" question for sensors: one
  request asking for one order and no datasets. It spends the same quota as the sync (searchOrders sustains one
  request per ~180 s), so poll it no more often than ``MIN_CHANGE_POLL_SECONDS`` (the new-orders sensor's
  interval and cooldown).

Plain module: no Dagster imports. Errors never include tokens or secrets.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from y3d_pipeline.counters import reported
from y3d_pipeline.sources.amazon.records import (
    API_2026,
    API_VERSIONS,
    AmazonOrder,
    OrdersPage,
    invalid_order,
    utc_timestamp,
)
from y3d_pipeline.sources.http import (
    ApiError,
    Closing,
    InvalidRecord,
    RequestStats,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    parse_json,
    raise_for_status,
)
from y3d_pipeline.sources.probe import PROBE_RETRY_POLICY, ChangeProbe

log = logging.getLogger(__name__)

SERVICE = "Amazon SP-API"
TWO_MINUTES = dt.timedelta(minutes=2)
ORDERS_PATH = "/orders/v0/orders"
SEARCH_ORDERS_PATH = "/orders/2026-01-01/orders"
USER_AGENT = "y3d-pipeline/1.0 (Language=Python)"
# Documented usage plans (rate per second, burst); the x-amzn-RateLimit-Limit header overrides the rate.
DEFAULT_PLANS: dict[str, tuple[float, int]] = {
    "searchOrders": (0.0056, 20), "getOrder": (0.5, 30),  # v2026-01-01
    "getOrders": (0.0167, 20), "getOrderItems": (0.5, 30),  # v0
}
# The v2026 datasets the pipeline reads (reconcile.marketplace.map_amazon): BUYER (buyer name and email),
# FULFILLMENT (status, ship-by window, service level), PROCEEDS (order total). Items with their product, price
# and Amazon Custom URL come without asking. Not RECIPIENT: the delivery address is PII nothing here reads
# (ShipStation carries the address the label is printed with).
INCLUDED_DATA = ("BUYER", "FULFILLMENT", "PROCEEDS")
PAGINATION_TOKEN_LIFETIME = dt.timedelta(hours=24)
# The change probe at most once per this many seconds, and not while a sync launched by it may still be the
# last call (the amazon_new_orders sensor's cooldown): a poll and a sync per 10 minutes at most, 12 of
# searchOrders' 20 requests an hour (0.0056 rps), the rest for the hourly and nightly syncs.
MIN_CHANGE_POLL_SECONDS = 300


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

    @property
    def margin(self) -> float:
        """Extra wait once the bucket ran dry: Amazon counts from when our requests arrive, not from when we
        measured, so a token that is just whole here may not be there yet; a 429 would cost a whole refill."""
        return min(1.0, 0.05 / self.rate)

    def acquire(self, sleep: Callable[[float], None]) -> float:
        """Take one token, sleeping first if none is free; returns the seconds slept."""
        waited = 0.0
        wait = self.seconds_until_token()
        while wait > 0:
            sleep(wait + self.margin)
            waited += wait + self.margin
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
    pacing_wait_seconds: float = reported("pacing_wait_seconds", default=0.0, digits=2)


def iso_z(value: dt.datetime) -> str:
    """``2026-03-08T12:00:00Z`` (whole seconds, UTC) — the form Amazon documents."""
    return value.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class AmazonClient(Closing):
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
        retry_policy: RetryPolicy | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        settle: dt.timedelta = TWO_MINUTES,
        timeout: float = 30.0,
        api_version: str = API_2026,
    ) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"unknown Orders API version {api_version!r}; use one of {', '.join(API_VERSIONS)}")
        self.api_version = api_version
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
        self.retry_policy = retry_policy or RetryPolicy()
        self.now, self.clock, self.sleep, self.settle = now, clock, sleep, settle
        self.stats = AmazonStats()
        self.buckets = {op: TokenBucket(rate, burst, clock=clock) for op, (rate, burst) in DEFAULT_PLANS.items()}
        self._token: str | None = None
        self._token_expires_at = 0.0

    def close(self) -> None:
        if self._own_http:
            self.http.close()


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
        body = call_with_retries(attempt, what="Amazon LWA token exchange", retry_policy=self.retry_policy,
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
             retry_policy: RetryPolicy | None = None) -> dict[str, Any]:
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

        return call_with_retries(attempt, what=f"{SERVICE} {operation}",
                                 retry_policy=retry_policy or self.retry_policy, stats=self.stats, sleep=self.sleep)

    # ------------------------------------------------------------------------------------------ orders
    def _keep_newest(self, order: AmazonOrder, by_id: dict[str, AmazonOrder]) -> None:
        """One order per id across pages (pages can repeat orders): the newest modification wins."""
        current = by_id.get(order.amazon_order_id)
        if current is not None:
            self.stats.duplicates_dropped += 1
            if current.last_update_date > order.last_update_date:
                return
        by_id[order.amazon_order_id] = order

    def clamp_end(self, end: dt.datetime) -> tuple[dt.datetime, bool]:
        """``end`` cut to ``now - settle`` and floored to a whole second; (value, whether it was cut)."""
        latest = self.now().astimezone(dt.UTC) - self.settle
        clamped = end.astimezone(dt.UTC) > latest
        value = min(end.astimezone(dt.UTC), latest).replace(microsecond=0)
        return value, clamped

    def _window(self, what: str, updated_after: dt.datetime, updated_before: dt.datetime
                ) -> tuple[dt.datetime, dt.datetime, OrdersPage]:
        """(start, end, an empty page recording the end): whole seconds, the end clamped by the two-minute rule."""
        if updated_after.tzinfo is None or updated_before.tzinfo is None:
            raise ValueError(f"{what} needs timezone-aware datetimes")
        end, clamped = self.clamp_end(updated_before)
        start = updated_after.astimezone(dt.UTC).replace(microsecond=0)
        return start, end, OrdersPage(requested_end=updated_before, effective_end=end, clamped=clamped)

    def get_orders(self, updated_after: dt.datetime, updated_before: dt.datetime) -> OrdersPage:
        """All orders with ``updated_after <= LastUpdateDate <= updated_before`` (both inclusive per Amazon),
        the end clamped by the two-minute rule; de-duplicated across pages."""
        start, end, result = self._window("get_orders", updated_after, updated_before)
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
                    result.effective_end = utc_timestamp(payload["LastUpdatedBefore"])
                except ValueError:
                    pass
            orders = payload.get("Orders") or []
            if not isinstance(orders, list):
                raise ApiError(f"{SERVICE} getOrders returned Orders that is not a list")
            for raw in orders:
                try:
                    if not isinstance(raw, dict):
                        raise TypeError(f"the order is a {type(raw).__name__}, not an object")
                    order = AmazonOrder.from_api(raw)
                except (ValidationError, ValueError, TypeError, AttributeError) as exc:
                    result.invalid.append(invalid_order(raw, exc))
                    continue
                self._keep_newest(order, by_id)
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

    def get_order_items(self, amazon_order_id: str) -> list[dict[str, Any]]:
        """All items of one order (getOrderItems, following its own NextToken)."""
        path = f"{ORDERS_PATH}/{quote(amazon_order_id, safe='')}/orderItems"
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        seen_tokens: set[str] = set()
        while True:
            body = self._get("getOrderItems", path, params)
            payload = body.get("payload") or {}
            page_items = payload.get("OrderItems") or [] if isinstance(payload, dict) else None
            if not isinstance(page_items, list):
                raise InvalidOrderItems(f"getOrderItems returned OrderItems that is not a list for {amazon_order_id}")
            items.extend(item for item in page_items if isinstance(item, dict))
            token = payload.get("NextToken")
            if not token or token in seen_tokens:
                break
            seen_tokens.add(token)
            params = {"NextToken": token}
        return items

    def get_orders_with_items(self, updated_after: dt.datetime, updated_before: dt.datetime,
                              progress: Callable[[int, int | None], None] | None = None) -> OrdersPage:
        """getOrders, then getOrderItems per order; items land in ``payload["OrderItems"]``. ``progress(orders
        done, orders)`` after each order (getOrderItems is paced at 0.5/s: the slow part)."""
        page = self.get_orders(updated_after, updated_before)
        usable = []
        for number, order in enumerate(page.orders, start=1):
            if progress:
                progress(number - 1, len(page.orders))
            try:
                order.payload = {**order.payload, "OrderItems": self.get_order_items(order.amazon_order_id)}
            except InvalidOrderItems as exc:
                page.invalid.append(InvalidRecord(order.amazon_order_id, str(exc), order.payload))
                continue
            usable.append(order)
        if progress and page.orders:
            progress(len(page.orders), len(page.orders))
        page.orders = usable
        return page

    # -------------------------------------------------------------------------------- orders, v2026-01-01
    def _window_params(self, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        return {"lastUpdatedAfter": iso_z(start), "lastUpdatedBefore": iso_z(end),
                "marketplaceIds": ",".join(self.marketplace_ids)}

    def _add_order(self, raw: Any, by_id: dict[str, AmazonOrder], result: OrdersPage) -> None:
        try:
            if not isinstance(raw, dict):
                raise ValueError(f"an order is a {type(raw).__name__}, not an object")
            order = AmazonOrder.from_v2026(raw)
        except (ValidationError, ValueError, TypeError, AttributeError) as exc:
            result.invalid.append(invalid_order(raw, exc, id_field="orderId"))
            return
        self._keep_newest(order, by_id)

    def search_orders(self, updated_after: dt.datetime, updated_before: dt.datetime,
                      progress: Callable[[int, int | None], None] | None = None) -> OrdersPage:
        """v2026 searchOrders: every order with ``updated_after <= lastUpdatedTime <= updated_before`` (the end
        clamped by the two-minute rule), items included, de-duplicated across pages; ``progress(orders so far,
        None)`` after each page (pages are paced at ~1 per 180 s once the burst is spent)."""
        start, end, result = self._window("search_orders", updated_after, updated_before)
        if end < start:
            return result
        base = {**self._window_params(start, end), "includedData": ",".join(INCLUDED_DATA),
                "maxResultsPerPage": 100}
        params: dict[str, Any] = dict(base)
        by_id: dict[str, AmazonOrder] = {}
        seen_tokens: set[str] = set()
        token_issued_at = 0.0
        bucket = self.buckets["searchOrders"]
        while True:
            # The token's age when it will be sent, after the pacing wait (searchOrders sustains ~1 request/180 s).
            if "paginationToken" in params and self.clock() - token_issued_at + bucket.seconds_until_token() >= \
                    PAGINATION_TOKEN_LIFETIME.total_seconds():
                raise ApiError(f"{SERVICE} searchOrders: the pagination token would be older than 24 hours when "
                               "sent (Amazon expires it); run a shorter window")
            body = self._get("searchOrders", SEARCH_ORDERS_PATH, params)
            self.stats.pages += 1
            if body.get("lastUpdatedBefore"):
                try:
                    result.effective_end = utc_timestamp(body["lastUpdatedBefore"])
                except ValueError:
                    pass
            orders = body.get("orders")
            if not isinstance(orders, list):
                raise ApiError(f"{SERVICE} searchOrders returned no orders list")
            for raw in orders:
                self._add_order(raw, by_id, result)
            if progress:
                progress(len(by_id), None)
            token = (body.get("pagination") or {}).get("nextToken") if isinstance(body.get("pagination"),
                                                                                  dict) else None
            if not token:
                break
            if token in seen_tokens:
                raise ApiError(f"{SERVICE} searchOrders returned the same nextToken twice; stopping")
            seen_tokens.add(token)
            token_issued_at = self.clock()
            # The model: every other parameter repeated with the values that produced the token.
            params = {**base, "paginationToken": token}
        result.orders = list(by_id.values())
        return result

    def get_order(self, amazon_order_id: str) -> AmazonOrder | None:
        """v2026 getOrder: one order with its items and the pipeline's datasets; None when Amazon has no such
        order (404). An order Amazon sends but the pipeline cannot read raises ``ApiError``."""
        path = f"{SEARCH_ORDERS_PATH}/{quote(amazon_order_id, safe='')}"
        try:
            body = self._get("getOrder", path, {"includedData": ",".join(INCLUDED_DATA)})
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return AmazonOrder.from_v2026(body.get("order"))
        except (ValidationError, ValueError, TypeError) as exc:
            raise ApiError(f"{SERVICE} getOrder returned an order the pipeline cannot read: {exc}"[:500]) from exc

    # ------------------------------------------------------------------------------------- either version
    def fetch_orders(self, updated_after: dt.datetime, updated_before: dt.datetime,
                     progress: Callable[[int, int | None], None] | None = None) -> OrdersPage:
        """Every order changed in the window with its items, through the configured API version."""
        if self.api_version == API_2026:
            return self.search_orders(updated_after, updated_before, progress)
        return self.get_orders_with_items(updated_after, updated_before, progress)

    def changed_since(self, since: dt.datetime) -> ChangeProbe:
        """Whether any order changed at or after ``since`` (up to now minus the settle time, where the answer's
        ``checked_until`` is): one request for one order and no datasets (1 changed, or 0; Amazon names no order
        here). Spends the sync's quota: see ``MIN_CHANGE_POLL_SECONDS``. Fails fast (a sensor tick has a 60 s
        deadline): a 429 whose wait is beyond PROBE_RETRY_POLICY's budget ends it at once."""
        if since.tzinfo is None:
            raise ValueError("changed_since needs a timezone-aware datetime")
        end, _ = self.clamp_end(self.now())
        start = since.astimezone(dt.UTC).replace(microsecond=0)
        if end < start:
            return ChangeProbe(0, False, None, None, since)
        if self.api_version == API_2026:
            body = self._get("searchOrders", SEARCH_ORDERS_PATH,
                             {**self._window_params(start, end), "maxResultsPerPage": 1}, retry_policy=PROBE_RETRY_POLICY)
            changed = bool(body.get("orders"))
        else:
            body = self._get("getOrders", ORDERS_PATH, {
                "MarketplaceIds": ",".join(self.marketplace_ids), "LastUpdatedAfter": iso_z(start),
                "LastUpdatedBefore": iso_z(end), "MaxResultsPerPage": 1}, retry_policy=PROBE_RETRY_POLICY)
            changed = bool((body.get("payload") or {}).get("Orders"))
        return ChangeProbe(int(changed), False, None, None, max(end, since))


class InvalidOrderItems(ValueError):
    """getOrderItems answered for one order with something that is not a list of items."""
