"""ShipStation V2 inventory client (plain module, no Dagster): inventory warehouses, inventory locations and SKU
inventory levels (``/v2/inventory_warehouses``, ``/v2/inventory_locations``, ``/v2/inventory``).

Conventions of the V2 API this client hides from callers:

* **Auth.** An ``API-Key`` header (``SHIPSTATION_V2_API_KEY``), never in a URL, a log line or an error.
* **Paging.** ``page_size`` on the first request, then ``links.next.href`` until there is none. The next link is
  followed only on the configured host (the key goes with every request), at most ``max_pages`` pages, and
  never twice (a server repeating a link would otherwise loop forever).
* **Rate limit** (200 requests a minute per key): the same header-driven window as v1 (``X-Rate-Limit-Limit/
  -Remaining/-Reset``, :class:`~y3d_pipeline.sources.shipstation.client.HeaderRateLimit`); a 429 is waited out for
  its ``Retry-After`` (else the window's reset) without counting as a failure.
* **Retries.** 5xx, timeouts, dropped connections and truncated bodies: bounded retries with backoff
  (:func:`~y3d_pipeline.sources.http.call_with_retries`). A 4xx other than 429 is an ``ApiError`` with its status
  (403: the account lacks the Inventory API add-on), which no retry fixes.

The v1 half of the catalogue (warehouses, products) is :class:`~y3d_pipeline.sources.shipstation.client.
ShipStationClient`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from y3d_pipeline.redaction import register_secret
from y3d_pipeline.sources.http import (
    ApiError,
    Closing,
    RetryPolicy,
    describe,
)
from y3d_pipeline.sources.shipstation.client import HeaderRateLimit, ShipStationStats
from y3d_pipeline.sources.shipstation_catalogue.records import (
    InventoryLevel,
    InventoryLocation,
    InventoryWarehouse,
    V2Record,
    V2Scan,
    parse_v2,
)

log = logging.getLogger(__name__)

SERVICE = "ShipStation V2"
DEFAULT_BASE_URL = "https://api.shipstation.com/v2"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 2000


class ShipStationV2Client(Closing):
    """ShipStation's V2 inventory endpoints over httpx. ``sleep``/``monotonic`` are injectable for tests."""

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 30.0,
                 page_size: int = DEFAULT_PAGE_SIZE, max_pages: int = DEFAULT_MAX_PAGES,
                 retry_policy: RetryPolicy | None = None, rate_limit_reserve: int = 1,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not api_key:
            raise ValueError("ShipStation V2 needs SHIPSTATION_V2_API_KEY")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        register_secret(api_key)
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages
        self.retry_policy = retry_policy or RetryPolicy()
        self.stats = ShipStationStats()
        self._window = HeaderRateLimit(SERVICE, self.stats, reserve=rate_limit_reserve, sleep=sleep,
                                       monotonic=monotonic)
        origin = urlsplit(self.base_url)
        self._origin = (origin.scheme, origin.netloc)
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"API-Key": api_key, "Accept": "application/json", "User-Agent": "y3d-pipeline"},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    @property
    def rate_limit(self) -> int | None:
        return self._window.limit

    # -------------------------------------------------------------------- plumbing

    def _get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        what = f"{SERVICE} {describe(self._http.build_request('GET', url, params=params))}"
        return self._window.call(lambda: self._http.get(url, params=params), what=what,
                                 retry_policy=self.retry_policy)

    def _next_url(self, body: dict[str, Any], seen: set[str]) -> str | None:
        link = ((body.get("links") or {}).get("next") or {}) if isinstance(body.get("links"), dict) else {}
        href = link.get("href") if isinstance(link, dict) else None
        if not href:
            return None
        parts = urlsplit(href)
        if parts.scheme and (parts.scheme, parts.netloc) != self._origin:
            raise ApiError(f"{SERVICE}: refusing a next-page link to another host ({parts.netloc}); "
                           "the API key is sent with every request")
        if href in seen:
            raise ApiError(f"{SERVICE}: the next-page link repeats a page already read ({describe_href(href)})")
        return href

    def _scan(self, path: str, collection: str, model: type[V2Record],
              params: dict[str, Any] | None = None,
              progress: Callable[[int, int | None], None] | None = None) -> V2Scan:
        scan = V2Scan()
        url: str | None = path.lstrip("/")
        query: dict[str, Any] | None = {**(params or {}), "page_size": self.page_size}
        seen: set[str] = set()
        while url is not None:
            if scan.pages >= self.max_pages:
                raise ApiError(f"{SERVICE} GET /{path.lstrip('/')}: more than {self.max_pages} pages")
            body = self._get(url, query)
            if not isinstance(body, dict) or not isinstance(body.get(collection), list):
                raise ApiError(f"{SERVICE} GET /{path.lstrip('/')} page {scan.pages + 1}: "
                               f"response has no '{collection}' list")
            scan.pages += 1
            if scan.total is None and isinstance(body.get("total"), int):
                scan.total = body["total"]
            for position, payload in enumerate(body[collection]):
                parsed = parse_v2(model, payload, f"/{path.lstrip('/')} page {scan.pages} record {position + 1}")
                (scan.rejected if hasattr(parsed, "reason") else scan.records).append(parsed)
            if progress:
                pages = body.get("pages")
                progress(scan.pages, pages if isinstance(pages, int) else None)
            if url != path.lstrip("/"):
                seen.add(url)
            next_url = self._next_url(body, seen | {url})
            url, query = next_url, None  # the link carries the page and its size
        return scan

    # -------------------------------------------------------------------- read endpoints

    def list_inventory_warehouses(self) -> V2Scan:
        """``GET /v2/inventory_warehouses``: every inventory warehouse."""
        return self._scan("inventory_warehouses", "inventory_warehouses", InventoryWarehouse)

    def list_inventory_locations(self) -> V2Scan:
        """``GET /v2/inventory_locations``: every inventory location, with its warehouse."""
        return self._scan("inventory_locations", "inventory_locations", InventoryLocation)

    def list_inventory_levels(self, *, progress: Callable[[int, int | None], None] | None = None) -> V2Scan:
        """``GET /v2/inventory``: every SKU's on hand, allocated and available quantity per location."""
        return self._scan("inventory", "inventory", InventoryLevel, progress=progress)


def describe_href(href: str) -> str:
    """A next-page link as logged: path and query only (never a host's credentials)."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")
