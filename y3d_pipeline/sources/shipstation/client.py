"""ShipStation v1 REST client (plain module, no Dagster): orders, shipments, tags, stores, warehouses, products,
write-back.

Conventions of the v1 API this client hides from callers:

* **Time zone.** Every date ShipStation v1 sends or accepts is a US Pacific wall-clock string without an
  offset (responses ``"2026-03-08T01:30:00.0000000"``, requests ``"2026-03-08 01:30:00"``). Callers pass
  and receive timezone-aware ``datetime``s; :func:`to_pacific_param` and :func:`parse_pacific` convert.
  A UTC ``Z`` string is never sent (the legacy bug shifted every window by 7-8 hours).
* **DST.** On the autumn fall-back night the Pacific hour 01:00-02:00 happens twice and the strings do
  not say which. We read such a string as the *first* occurrence (``fold=0``, PDT). For request bounds
  the window is only ever widened: a start bound is sent as-is (the server's reading is never later
  than ours) and an end bound that the server would read an hour early is pushed forward an hour.
  Spring-forward strings that do not exist (02:xx) are read with the pre-transition offset (PST).
* **Rate limit** (40 requests/minute per key): driven by ``X-Rate-Limit-Remaining`` / ``-Reset``. When
  ``Remaining`` falls to ``rate_limit_reserve`` the client sleeps until the window resets *before*
  sending; a 429 raises ``RetryableError(wait_seconds=Reset, rate_limited=True)`` which
  :func:`~y3d_pipeline.sources.http.call_with_retries` waits out without counting it as a failure.
* **Retries.** 5xx, timeouts, dropped connections and truncated bodies are retried with exponential
  backoff and jitter up to a bounded number of attempts and total time; errors name the request
  (method, path, query), never the credentials.
* **Paging.** ``GET /orders`` is paged by page number over ``sortBy=ModifyDate&sortDir=ASC`` with
  ``pageSize=500`` until the last page (``page < pages``, or an empty page). Because page-number paging
  over a mutable sort can skip rows when orders are modified mid-scan, a scan whose ``total`` changed,
  or that saw fewer distinct orders than the final ``total``, is repeated (bounded) and the union kept.

Other engineers use :meth:`ShipStationClient.get_order` and :meth:`ShipStationClient.create_or_update_order`
for the print-task write-back (GET the full order, modify it, POST it back: createorder has no partial
updates; split orders need ``orderId`` because they share ``orderKey``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from y3d_pipeline.counters import reported
from y3d_pipeline.redaction import register_basic_auth
from y3d_pipeline.sources.http import (
    ApiError,
    Closing,
    InvalidRecord,
    RequestStats,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    describe,
    parse_json,
    raise_for_status,
    retry_after_seconds,
)
from y3d_pipeline.sources.probe import PROBE_RETRY_POLICY, ChangeProbe
from y3d_pipeline.sources.shipstation.records import (
    PACIFIC,
    Fetched,
    Order,
    Product,
    RecordModel,
    ScanResult,
    Shipment,
    Store,
    Tag,
    Warehouse,
    newer_or_same,
    parse_pacific,
    parse_record,
    valid_only,
)

log = logging.getLogger(__name__)

SERVICE = "ShipStation"
DEFAULT_BASE_URL = "https://ssapi.shipstation.com"
MAX_PAGE_SIZE = 500
REQUEST_FORMAT = "%Y-%m-%d %H:%M:%S"


def to_pacific_param(instant: dt.datetime, *, bound: str = "start") -> str:
    """An aware datetime as a ShipStation request date (``YYYY-MM-DD HH:MM:SS`` Pacific wall clock).

    ``bound="start"`` floors to the second; ``bound="end"`` rounds up to the second and, when the wall
    time is ambiguous (fall-back hour) so that the server would read it an hour early, moves it one hour
    later. Both choices only widen the window; the overlap and idempotent upserts absorb the extra rows.
    """
    if instant.tzinfo is None:
        raise ValueError("ShipStation request dates need a timezone-aware datetime")
    if bound not in ("start", "end"):
        raise ValueError("bound must be 'start' or 'end'")
    utc = instant.astimezone(dt.UTC)
    if bound == "end" and utc.microsecond:
        utc = utc.replace(microsecond=0) + dt.timedelta(seconds=1)
    else:
        utc = utc.replace(microsecond=0)
    wall = utc.astimezone(PACIFIC).replace(tzinfo=None)
    if bound == "end":
        server_reads = wall.replace(tzinfo=PACIFIC, fold=0).astimezone(dt.UTC)
        if server_reads < utc:
            wall += utc - server_reads
    return wall.strftime(REQUEST_FORMAT)


# ------------------------------------------------------------------------------------------ client


@dataclass
class ShipStationStats(RequestStats):
    throttle_pauses: int = 0  # waits for the rate-limit window to reset before sending
    throttle_wait_seconds: float = reported("throttle_wait_seconds", default=0.0, digits=2)


class HeaderRateLimit:
    """ShipStation's fixed request window as its ``X-Rate-Limit-Limit/-Remaining/-Reset`` headers describe it (v1:
    40 a minute; V2: 200 a minute): when ``Remaining`` falls to ``reserve`` the next request first sleeps until the
    window resets. Shared by the v1 and V2 clients."""

    def __init__(self, service: str, stats: ShipStationStats, *, reserve: int = 1,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self.service = service
        self.stats = stats
        self.reserve = reserve
        self.limit: int | None = None
        self._sleep = sleep
        self._monotonic = monotonic
        self._remaining: int | None = None
        self._reset_at: float | None = None

    def wait(self) -> None:
        """Before a request: sleep until the window resets when it is (nearly) used up."""
        if self._remaining is None or self._reset_at is None or self._remaining > self.reserve:
            return
        wait = self._reset_at - self._monotonic()
        self._remaining = None
        if wait > 0:
            self.stats.throttle_pauses += 1
            self.stats.throttle_wait_seconds += wait
            log.info("%s rate limit nearly used; pausing %.1fs until the window resets", self.service, wait)
            self._sleep(wait)

    def note(self, response: httpx.Response) -> float | None:
        """After a response: the window's state from its headers; returns the seconds until it resets, if said."""
        headers = response.headers
        reset: float | None = None
        try:
            if "X-Rate-Limit-Limit" in headers:
                self.limit = int(headers["X-Rate-Limit-Limit"])
            if "X-Rate-Limit-Reset" in headers:
                reset = max(0.0, float(headers["X-Rate-Limit-Reset"]))
            if "X-Rate-Limit-Remaining" in headers:
                self._remaining = int(headers["X-Rate-Limit-Remaining"])
                self._reset_at = self._monotonic() + (reset if reset is not None else 60.0)
        except ValueError:
            log.warning("%s sent unreadable rate-limit headers; ignoring them", self.service)
        return reset

    def call(self, send: Callable[[], httpx.Response], *, what: str, retry_policy: RetryPolicy) -> Any:
        """One request through the window with retries: ``send()`` the request, a 429 waited out for its
        ``Retry-After`` (V2), else the window's reset (v1), without counting as a failure; 5xx and transport
        errors retried; the JSON body returned."""

        def attempt() -> Any:
            self.wait()
            self.stats.requests += 1
            response = send()
            reset = self.note(response)
            if response.status_code == 429:
                self._remaining = None  # the wait below covers the window
                hint = retry_after_seconds(response)
                wait = hint if hint is not None else reset if reset is not None else 60.0
                raise RetryableError(f"{what} returned HTTP 429 (rate limited; retrying in {wait:.0f}s)",
                                     wait_seconds=max(1.0, wait), rate_limited=True)
            raise_for_status(self.service, response)
            return parse_json(self.service, response)

        return call_with_retries(attempt, what=what, retry_policy=retry_policy, stats=self.stats, sleep=self._sleep)


class ShipStationClient(Closing):
    """ShipStation v1 over httpx with Basic auth, header-driven rate limiting and bounded retries.

    ``sleep`` and ``monotonic`` are injectable (tests advance a simulated clock instead of waiting).
    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        retry_policy: RetryPolicy | None = None,
        rate_limit_reserve: int = 1,
        max_rescans: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("ShipStation needs SHIPSTATION_API_KEY and SHIPSTATION_API_SECRET")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        register_basic_auth(api_key, api_secret)
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.retry_policy = retry_policy or RetryPolicy()
        self.max_rescans = max_rescans
        self.stats = ShipStationStats()
        self._window = HeaderRateLimit(SERVICE, self.stats, reserve=rate_limit_reserve, sleep=sleep,
                                       monotonic=monotonic)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(api_key, api_secret),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": "y3d-pipeline"},
            transport=transport,
        )

    # -------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._http.close()


    # -------------------------------------------------------------------- plumbing

    @property
    def rate_limit(self) -> int | None:
        """The requests per window ShipStation last said this key has (``X-Rate-Limit-Limit``)."""
        return self._window.limit

    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json: Any = None, retry_policy: RetryPolicy | None = None) -> Any:
        what = f"{SERVICE} {describe(self._http.build_request(method, path, params=params))}"
        return self._window.call(lambda: self._http.request(method, path, params=params, json=json), what=what,
                                 retry_policy=retry_policy or self.retry_policy)

    def _scan(self, path: str, params: dict[str, Any], collection: str, model: type[RecordModel], id_field: str,
              modified: Callable[[Any], dt.datetime | None] | None = None,
              progress: Callable[[int, int | None], None] | None = None) -> ScanResult:
        """Page through ``path`` until the last page; repeat if the result set moved under us."""
        result = ScanResult()
        seen: dict[Any, Fetched] = {}
        rejected: dict[str, InvalidRecord] = {}  # by id: a rescan sees the same unusable records again
        for attempt in range(self.max_rescans + 1):
            totals: set[int] = set()
            ids_this_scan: set[Any] = set()
            rejected_this_scan: set[str] = set()
            page, pages = 1, 1
            while True:
                body = self._request("GET", path, params={**params, "page": page, "pageSize": self.page_size})
                if not isinstance(body, dict) or not isinstance(body.get(collection), list):
                    raise ApiError(f"{SERVICE} GET {path} page {page}: response has no '{collection}' list")
                result.pages += 1
                rows = body[collection]
                totals.add(int(body.get("total") or 0))
                pages = int(body.get("pages") or 0)
                for position, payload in enumerate(rows):
                    record = parse_record(model, payload, id_field)
                    if isinstance(record, InvalidRecord):
                        record.reason = f"{path} page {page} record {position + 1}: {record.reason}"
                        rejected.setdefault(record.source_id, record)
                        rejected_this_scan.add(record.source_id)
                        continue
                    key = getattr(record.model, id_field)
                    ids_this_scan.add(key)
                    current = seen.get(key)
                    if current is None or modified is None or newer_or_same(modified(record.model),
                                                                             modified(current.model)):
                        seen[key] = record
                if progress:
                    progress(page, max(pages, page))
                if not rows or page >= pages:
                    break
                page += 1
            final_total = int(body.get("total") or 0)
            if len(totals) == 1 and len(ids_this_scan) + len(rejected_this_scan) >= final_total:
                result.complete = True
                break
            result.complete = False
            if attempt < self.max_rescans:
                result.rescans += 1
                log.warning("%s GET %s: the result set changed while paging (totals %s, saw %d of %d); "
                            "scanning again", SERVICE, path, sorted(totals), len(ids_this_scan), final_total)
        result.records = list(seen.values())
        result.rejected = list(rejected.values())
        return result

    # -------------------------------------------------------------------- read endpoints

    def list_orders(self, modified_start: dt.datetime, modified_end: dt.datetime, *,
                    progress: Callable[[int, int | None], None] | None = None, **filters: Any) -> ScanResult:
        """Orders modified in ``[modified_start, modified_end]`` (both inclusive at the API, to the second).

        Sends ``modifyDateStart/End`` as Pacific wall clock, ``sortBy=ModifyDate&sortDir=ASC``,
        ``pageSize`` 500, and pages to the end. Extra ``filters`` (e.g. ``orderStatus``, ``storeId``) are
        passed through. Records are ``Fetched(Order, payload)``, one per ``orderId`` (newest kept).
        ``progress(page, pages)`` after each page.
        """
        params = {
            "modifyDateStart": to_pacific_param(modified_start, bound="start"),
            "modifyDateEnd": to_pacific_param(modified_end, bound="end"),
            "sortBy": "ModifyDate",
            "sortDir": "ASC",
            **filters,
        }
        return self._scan("/orders", params, "orders", Order, "order_id", modified=lambda o: o.modify_date,
                          progress=progress)

    def changed_since(self, since: dt.datetime, *, now: dt.datetime | None = None) -> ChangeProbe:
        """One small request: how many orders changed since ``since`` (``modifyDateStart``, inclusive, to the
        second) and the oldest of them (``sortBy=ModifyDate&sortDir=ASC&pageSize=1``)."""
        checked_until = now or dt.datetime.now(dt.UTC)
        body = self._request("GET", "/orders", params={
            "modifyDateStart": to_pacific_param(since, bound="start"), "sortBy": "ModifyDate", "sortDir": "ASC",
            "pageSize": 1, "page": 1}, retry_policy=PROBE_RETRY_POLICY)
        if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
            raise ApiError(f"{SERVICE} GET /orders: response has no 'orders' list")
        total = int(body.get("total") or 0)
        oldest = body["orders"][0] if body["orders"] else None
        if not total or oldest is None:
            return ChangeProbe(0, False, None, None, checked_until)
        return ChangeProbe(total, False, str(oldest.get("orderId")), parse_pacific(oldest.get("modifyDate")),
                           checked_until)

    def get_order(self, order_id: int) -> Fetched:
        """One order by ``orderId`` (``GET /orders/{orderId}``): parsed plus the full payload to edit."""
        payload = self._request("GET", f"/orders/{int(order_id)}")
        return Fetched(Order.model_validate(payload), payload)

    def list_shipments(self, ship_date_start: dt.date, ship_date_end: dt.date, **filters: Any) -> ScanResult:
        """Shipments whose ship date (Pacific calendar day) is in ``[ship_date_start, ship_date_end]``,
        voided ones included (their ``voided`` flag says so)."""
        params = {
            "shipDateStart": ship_date_start.isoformat(),
            "shipDateEnd": ship_date_end.isoformat(),
            "includeShipmentItems": "false",
            "sortBy": "ShipDate",
            "sortDir": "ASC",
            **filters,
        }
        return self._scan("/shipments", params, "shipments", Shipment, "shipment_id")

    def list_tags(self) -> list[Fetched]:
        """All account tags (``GET /accounts/listtags``)."""
        body = self._request("GET", "/accounts/listtags")
        if not isinstance(body, list):
            raise ApiError(f"{SERVICE} GET /accounts/listtags: expected a list")
        return valid_only("/accounts/listtags", [parse_record(Tag, t, "tag_id") for t in body])

    def list_stores(self, *, show_inactive: bool = True) -> list[Fetched]:
        """All stores (``GET /stores``), inactive ones included by default."""
        body = self._request("GET", "/stores", params={"showInactive": str(show_inactive).lower()})
        if not isinstance(body, list):
            raise ApiError(f"{SERVICE} GET /stores: expected a list")
        return valid_only("/stores", [parse_record(Store, s, "store_id") for s in body])

    def list_warehouses(self) -> list[Fetched]:
        """All ship-from locations (``GET /warehouses``)."""
        body = self._request("GET", "/warehouses")
        if not isinstance(body, list):
            raise ApiError(f"{SERVICE} GET /warehouses: expected a list")
        return valid_only("/warehouses", [parse_record(Warehouse, w, "warehouse_id") for w in body])

    def list_products(self, *, show_inactive: bool = True,
                      progress: Callable[[int, int | None], None] | None = None) -> ScanResult:
        """The whole product catalogue (``GET /products``, inactive products included), paged by page number
        (``pageSize`` up to 500), one record per ``productId`` (newest ``modifyDate`` kept)."""
        params = {"showInactive": str(show_inactive).lower(), "sortBy": "CreateDate", "sortDir": "ASC"}
        return self._scan("/products", params, "products", Product, "product_id",
                          modified=lambda p: p.modify_date, progress=progress)

    # -------------------------------------------------------------------- write endpoints

    def create_or_update_order(self, order: dict[str, Any]) -> Fetched:
        """``POST /orders/createorder``: creates, or fully replaces the order with the same ``orderKey``.

        Send the *whole* order (GET it with :meth:`get_order`, change ``payload``, post it back); missing
        fields are cleared by ShipStation. Split orders share ``orderKey``, so keep ``orderId`` in the body.
        Only ``awaiting_payment``/``awaiting_shipment``/``on_hold`` orders can be updated (else HTTP 400 →
        ``ApiError``). Retried on 429/5xx/transport errors: safe because the call is keyed by orderKey.
        """
        if not order.get("orderNumber"):
            raise ValueError("createorder needs orderNumber")
        if len(str(order["orderNumber"])) > 50:
            raise ValueError("ShipStation orderNumber is at most 50 characters")
        payload = self._request("POST", "/orders/createorder", json=order)
        return Fetched(Order.model_validate(payload), payload)
