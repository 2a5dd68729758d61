"""Amazon LWA token exchange and SP-API Orders (v2026-01-01 and the deprecated v0) under /amazon.

Strict where Amazon is, per the published models (``orders_2026-01-01.json``, ``ordersV0.json``):

* v2026 ``searchOrders`` accepts only the model's parameters (comma-separated arrays, enums checked), exactly one
  of ``createdAfter``/``lastUpdatedAfter`` with its own family, an end at least two minutes before now, and a
  ``paginationToken`` only together with the same values of every other parameter that produced it (except
  ``maxResultsPerPage`` and ``includedData``); tokens expire after 24 hours. Orders carry only the datasets
  ``includedData`` asks for; items and their product (price, Amazon Custom URL) always come.
* v0 serves no restricted data: ``BuyerInfo`` (the buyer's email, and the items' ``BuyerCustomizedInfo
  .CustomizedURL``) needs a Restricted Data Token, which this sandbox, like the pipeline, does not issue.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from y3d_pipeline.sandbox.clock import iso_z, parse_iso_utc
from y3d_pipeline.sandbox.core import SandboxState, json_response, with_faults
from y3d_pipeline.sandbox.data import RealOrder, ShopData

PREFIX = "/amazon"
STATUS_NAMES = {"pending": "Pending", "awaiting_shipment": "Unshipped", "on_hold": "Unshipped", "shipped": "Shipped",
                "cancelled": "Canceled"}
V2026 = "/orders/2026-01-01/orders"
GET_ORDER_2026 = "getOrder (2026-01-01)"  # its own usage plan, apart from v0's getOrder
FULFILLMENT_STATUSES = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "Shipped": "SHIPPED", "Canceled": "CANCELLED"}
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT", "PACKAGES",
                 "TAX", "PAYMENT", "FULFILLMENT_ORDERS")
ALL_FULFILLMENT_STATUSES = ("PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
                            "UNFULFILLABLE")
SEARCH_PARAMETERS = ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses",
                     "marketplaceIds", "fulfilledBy", "maxResultsPerPage", "paginationToken", "includedData")
# What a pagination token must be repeated with (the model: all but maxResultsPerPage and includedData).
REPEATED_WITH_TOKEN = ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses",
                       "marketplaceIds", "fulfilledBy")
TOKEN_LIFETIME = timedelta(hours=24)
# Leading bytes chosen so every token starts with "+/" and needs URL-encoding in a query string.
TOKEN_PREFIX = b"\xfb\xff"


def _errors(status: int, code: str, message: str, details: str = "", headers: dict | None = None) -> Response:
    return json_response({"errors": [{"code": code, "message": message, "details": details}]}, status=status,
                         headers=headers)


class InvalidInput(Exception):
    pass


def _seconds(instant: datetime) -> datetime:
    return instant.replace(microsecond=0)


def encode_token(state: dict) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode()
    if len(TOKEN_PREFIX + raw) % 3 == 0:  # keep a "=" pad in every token
        raw += b" "
    return base64.b64encode(TOKEN_PREFIX + raw).decode()


def decode_token(token: str) -> dict:
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("Invalid NextToken") from exc
    if not raw.startswith(TOKEN_PREFIX):
        raise InvalidInput("Invalid NextToken")
    try:
        return json.loads(raw[len(TOKEN_PREFIX):])
    except ValueError as exc:
        raise InvalidInput("Invalid NextToken") from exc


class AmazonApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route(PREFIX + "/auth/o2/token", self.token, methods=["POST"]),
            Route(PREFIX + "/orders/v0/orders", self._guard("getOrders", self.get_orders), methods=["GET"]),
            Route(PREFIX + "/orders/v0/orders/{order_id}", self._guard("getOrder", self.get_order),
                  methods=["GET"]),
            Route(PREFIX + "/orders/v0/orders/{order_id}/orderItems",
                  self._guard("getOrderItems", self.get_order_items), methods=["GET"]),
            Route(PREFIX + V2026, self._guard("searchOrders", self.search_orders), methods=["GET"]),
            Route(PREFIX + V2026 + "/{order_id}", self._guard(GET_ORDER_2026, self.get_order_2026),
                  methods=["GET"]),
        ]

    # ------------------------------------------------------------------ LWA
    async def token(self, request: Request) -> Response:
        async def issue(req: Request) -> Response:
            # application/x-www-form-urlencoded (python-multipart is not a dependency)
            form = dict(parse_qsl((await req.body()).decode("utf-8", "replace"), keep_blank_values=True))
            options = self.state.options
            if form.get("client_id") != options.amazon_lwa_client_id or \
                    form.get("client_secret") != options.amazon_lwa_client_secret:
                return json_response({"error": "invalid_client",
                                      "error_description": "Client authentication failed"}, status=401)
            if form.get("grant_type") != "refresh_token":
                return json_response({"error": "unsupported_grant_type",
                                      "error_description": "The authorization grant type is not supported"},
                                     status=400)
            if form.get("refresh_token") != options.amazon_lwa_refresh_token:
                return json_response({"error": "invalid_grant", "error_description":
                                      "The request has an invalid grant parameter : refresh_token"}, status=400)
            self.state.amazon_token_counter += 1
            digest = hashlib.sha256(f"{options.seed}:{self.state.amazon_token_counter}".encode()).hexdigest()
            access_token = f"Atza|IwEB{digest}"
            expires_in = self.state.amazon_token_expires_in
            self.state.amazon_tokens[access_token] = self.state.clock.now() + timedelta(seconds=expires_in)
            return json_response({"access_token": access_token, "refresh_token": options.amazon_lwa_refresh_token,
                                  "token_type": "bearer", "expires_in": expires_in})

        return await with_faults(self.state, "amazon", "/auth/o2/token", request, issue, self._fault_response)

    # ------------------------------------------------------------------ plumbing
    def _fault_response(self, status: int, operation: str | None = None) -> Response:
        if status == 429:
            return _errors(429, "QuotaExceeded", "You exceeded your quota for the requested resource.",
                           headers=self._limit_header(operation))
        if status == 503:
            return _errors(503, "ServiceUnavailable", "Service temporarily unavailable.")
        return _errors(status, "InternalFailure", "We encountered an internal error. Please try again.")

    def _limit_header(self, operation: str | None) -> dict[str, str]:
        bucket = self.state.amazon_buckets.get(operation or "")
        return {"x-amzn-RateLimit-Limit": f"{bucket.rate:g}"} if bucket else {}

    def _guard(self, operation: str, handler):
        async def endpoint(request: Request) -> Response:
            request_id = hashlib.md5(  # noqa: S324 - a request id, not security
                f"{request.url}{self.state.requests['amazon']}".encode()).hexdigest()
            headers = {"x-amzn-RequestId": request_id}
            token = request.headers.get("x-amz-access-token")
            expiry = self.state.amazon_tokens.get(token or "")
            if expiry is None:
                return _errors(403, "Unauthorized", "Access to requested resource is denied.",
                               "The access token you provided is revoked, malformed or invalid.", headers)
            if self.state.clock.now() >= expiry:
                return _errors(403, "Unauthorized", "Access to requested resource is denied.",
                               "The access token you provided has expired.", headers)
            bucket_name = operation if operation in self.state.amazon_buckets else "getOrderItems"
            headers.update(self._limit_header(bucket_name))
            if not self.state.amazon_buckets[bucket_name].take():
                response = self._fault_response(429, bucket_name)
            else:
                async def run(req: Request) -> Response:
                    try:
                        return await handler(req)
                    except InvalidInput as exc:
                        return _errors(400, "InvalidInput", str(exc))

                path = request.url.path[len(PREFIX):]
                response = await with_faults(self.state, "amazon", path, request, run,
                                             lambda status: self._fault_response(status, bucket_name))
            response.headers.update(headers)
            return response

        return endpoint

    # ------------------------------------------------------------------ orders
    def _order_json(self, order: RealOrder, last_update: datetime, status: str) -> dict:
        amazon_status = STATUS_NAMES.get(status, "Unshipped")
        items = [i for i in order.items if not i.adjustment]
        units = sum(i.quantity for i in items)
        total = sum(i.unit_price * i.quantity for i in items) + order.shipping_amount
        shipped = units if amazon_status == "Shipped" else 0
        purchase = _seconds(order.ordered_at)
        body = {
            "AmazonOrderId": order.order_number,
            "SellerOrderId": order.order_number,
            "PurchaseDate": iso_z(purchase),
            "LastUpdateDate": iso_z(_seconds(last_update)),
            "OrderStatus": amazon_status,
            "FulfillmentChannel": "MFN",
            "SalesChannel": "Amazon.co.uk",
            "ShipServiceLevel": "Std UK Dom_1",
            "OrderTotal": {"CurrencyCode": "GBP", "Amount": f"{total:.2f}"},
            "NumberOfItemsShipped": shipped,
            "NumberOfItemsUnshipped": 0 if amazon_status == "Canceled" else units - shipped,
            "PaymentMethod": "Other",
            "PaymentMethodDetails": ["Standard"],
            "MarketplaceId": self.state.options.amazon_marketplace_id,
            "ShipmentServiceLevelCategory": "Standard",
            "OrderType": "StandardOrder",
            "EarliestShipDate": iso_z(purchase + timedelta(days=1)),
            "LatestShipDate": iso_z(purchase + timedelta(days=3)),
            "IsBusinessOrder": False,
            "IsPrime": False,
            "IsPremiumOrder": False,
            "IsGlobalExpressEnabled": False,
            "IsReplacementOrder": "false",
            "IsSoldByAB": False,
            "IsISPU": False,
            "IsAccessPointOrder": False,
            "HasRegulatedItems": False,
            # Without a Restricted Data Token Amazon leaves out BuyerInfo and the address's PII.
            "ShippingAddress": {"City": order.ship_to.city.upper(), "PostalCode": order.ship_to.postal_code,
                                "CountryCode": order.ship_to.country, "StateOrRegion": ""},
        }
        if amazon_status in ("Canceled", "Pending"):
            del body["OrderTotal"]
        return body

    def _visible_orders(self, now: datetime, updated: tuple[datetime, datetime] | None = None
                        ) -> list[tuple[datetime, RealOrder, str]]:
        """(last update to the second, order, status) of the orders visible at `now`; with `updated`, only
        (at least) those last updated in that window, read from the index (the window's orders, not all)."""
        data = self.state.data
        if updated is None:
            orders = list(data.by_amazon_id.values())
        else:
            after, before = updated
            orders = [data.by_amazon_id[number] for _, number in data.amazon_index.window(
                after, before + timedelta(microseconds=999_999), now)]
        rows = []
        for order in orders:
            data.amazon_index.examined += 1
            state = ShopData.mp_state(order, now)
            if state is not None:
                rows.append((_seconds(state[0]), order, state[1]))
        return rows

    @staticmethod
    def _param_time(params, name: str) -> datetime | None:
        value = params.get(name)
        if not value:
            return None
        try:
            return parse_iso_utc(value)
        except ValueError as exc:
            raise InvalidInput(f"Invalid {name}: {value} is not a valid ISO 8601 date time.") from exc

    async def get_orders(self, request: Request) -> Response:
        params = request.query_params
        marketplace_ids = [m for m in (params.get("MarketplaceIds") or "").split(",") if m]
        if not marketplace_ids:
            raise InvalidInput("Missing required parameter: MarketplaceIds")
        if len(marketplace_ids) > 50:
            raise InvalidInput("MarketplaceIds must contain at most 50 values")
        now = self.state.clock.now()
        two_minutes_ago = now - timedelta(minutes=2)
        next_token = params.get("NextToken")
        if next_token:
            query = decode_token(next_token)
        else:
            query = self._new_query(params, two_minutes_ago)
        query["markets"] = marketplace_ids
        max_results = query["max"]
        after = parse_iso_utc(query["after"])
        before = parse_iso_utc(query["before"])
        statuses = set(query.get("statuses") or [])
        field = query["field"]
        wanted = self.state.options.amazon_marketplace_id in marketplace_ids
        rows = []
        visible = self._visible_orders(now, (after, before) if field == "updated" else None) if wanted else []
        for last_update, order, status in visible:
            instant = last_update if field in ("updated", "ids") else _seconds(order.ordered_at)
            if field == "ids":
                if order.order_number not in query["ids"]:
                    continue
            elif not after <= instant <= before:
                continue
            amazon_status = STATUS_NAMES.get(status, "Unshipped")
            if statuses and amazon_status not in statuses:
                continue
            rows.append((instant, order.order_number, last_update, order, status))
        rows.sort(key=lambda r: (r[0], r[1]))
        start = 0
        if "pos" in query:
            position = (parse_iso_utc(query["pos"][0]), query["pos"][1])
            start = bisect.bisect_right(rows, position, key=lambda r: (r[0], r[1]))
            if self.state.faults.take("amazon", "/orders/v0/orders", {"duplicate_page"}) is not None:
                start = max(0, start - max(1, max_results // 4))
        page = rows[start:start + max_results]
        payload: dict = {"Orders": [self._order_json(r[3], r[2], r[4]) for r in page]}
        if start + max_results < len(rows):
            last = page[-1]
            payload["NextToken"] = encode_token(dict(query, pos=[iso_z(last[0]), last[1]]))
        if field == "updated":
            payload["LastUpdatedBefore"] = query["before"]
        elif field == "created":
            payload["CreatedBefore"] = query["before"]
        return json_response({"payload": payload})

    def _time_window(self, params, two_minutes_ago: datetime, created: tuple[str, str],
                     updated: tuple[str, str]) -> tuple[str, datetime, datetime]:
        """("created"|"updated", after, before) of a request naming exactly one family of bounds (both versions
        share the rules; only the parameter names' case differs). A missing end is now - 2 minutes."""
        created_after = self._param_time(params, created[0])
        updated_after = self._param_time(params, updated[0])
        if (created_after is None) == (updated_after is None):
            raise InvalidInput(f"Exactly one of {created[0]} and {updated[0]} must be provided.")
        if created_after is not None and params.get(updated[1]):
            raise InvalidInput(f"{updated[1]} cannot be used with {created[0]}.")
        if updated_after is not None and params.get(created[1]):
            raise InvalidInput(f"{created[1]} cannot be used with {updated[0]}.")
        field, (after_name, before_name) = ("updated", updated) if updated_after is not None else ("created", created)
        after = updated_after if updated_after is not None else created_after
        assert after is not None
        before = self._param_time(params, before_name)
        if before is None:
            before = _seconds(two_minutes_ago)
        elif before > two_minutes_ago:
            raise InvalidInput(f"{before_name} must be at least two minutes before the time of the request.")
        if before < after:
            raise InvalidInput(f"{before_name} must be equal to or after {after_name}.")
        return field, after, before

    def _new_query(self, params, two_minutes_ago: datetime) -> dict:
        order_ids = [i for i in (params.get("AmazonOrderIds") or "").split(",") if i]
        if order_ids:
            if len(order_ids) > 50:
                raise InvalidInput("AmazonOrderIds must contain at most 50 values")
            return {"field": "ids", "ids": order_ids, "after": "1970-01-01T00:00:00Z",
                    "before": iso_z(two_minutes_ago), "max": 100, "statuses": []}
        field, after, before = self._time_window(params, two_minutes_ago, ("CreatedAfter", "CreatedBefore"),
                                                 ("LastUpdatedAfter", "LastUpdatedBefore"))
        if field == "created" and after > two_minutes_ago:
            raise InvalidInput("CreatedAfter must be no later than two minutes before the current time.")
        try:
            max_results = int(params.get("MaxResultsPerPage", "100"))
        except ValueError as exc:
            raise InvalidInput("MaxResultsPerPage must be an integer between 1 and 100.") from exc
        if not 1 <= max_results <= 100:
            raise InvalidInput("MaxResultsPerPage must be between 1 and 100.")
        statuses = [s for s in (params.get("OrderStatuses") or "").split(",") if s]
        return {"field": field, "after": iso_z(after), "before": iso_z(before), "max": max_results,
                "statuses": statuses}

    def _find(self, order_id: str) -> tuple[RealOrder, datetime, str] | None:
        order = self.state.data.by_amazon_id.get(order_id)
        if order is None:
            return None
        state = ShopData.mp_state(order, self.state.clock.now())
        return None if state is None else (order, state[0], state[1])

    async def get_order(self, request: Request) -> Response:
        found = self._find(request.path_params["order_id"])
        if found is None:
            return _errors(404, "NotFound", "Requested order not found")
        order, last_update, status = found
        return json_response({"payload": self._order_json(order, last_update, status)})

    async def get_order_items(self, request: Request) -> Response:
        found = self._find(request.path_params["order_id"])
        if found is None:
            return _errors(404, "NotFound", "Requested order not found")
        order, _, status = found
        shipped = STATUS_NAMES.get(status) == "Shipped"
        pending = status == "pending"
        items = []
        for item in order.items:
            if item.adjustment:
                continue
            body: dict = {
                "ASIN": item.asin,
                "OrderItemId": item.line_item_key,
                "Title": item.name,
                "QuantityOrdered": item.quantity,
                "QuantityShipped": item.quantity if shipped else 0,
                "ProductInfo": {"NumberOfItems": "1"},
                "ItemPrice": {"CurrencyCode": "GBP", "Amount": f"{item.unit_price * item.quantity:.2f}"},
                "ItemTax": {"CurrencyCode": "GBP", "Amount": f"{item.unit_price * item.quantity / 6:.2f}"},
                "ShippingPrice": {"CurrencyCode": "GBP", "Amount": "0.00"},
                "PromotionDiscount": {"CurrencyCode": "GBP", "Amount": "0.00"},
                "IsGift": "false",
                "ConditionId": "New",
                "ConditionSubtypeId": "New",
                "IsTransparency": False,
                "SerialNumberRequired": False,
                "BuyerRequestedCancel": {"IsBuyerRequestedCancel": "false", "BuyerCancelReason": ""},
            }
            if pending:  # Amazon leaves out prices, taxes and gift data until the order is Unshipped
                for key in ("ItemPrice", "ItemTax", "ShippingPrice", "PromotionDiscount", "IsGift"):
                    del body[key]
            if item.sku:
                body["SellerSKU"] = item.sku
            # BuyerInfo (BuyerCustomizedInfo.CustomizedURL, gift messages) is restricted data: only with an RDT.
            items.append(body)
        return json_response({"payload": {"OrderItems": items, "AmazonOrderId": order.order_number}})

    # ------------------------------------------------------------------ orders, v2026-01-01
    def _order_2026(self, order: RealOrder, last_update: datetime, status: str, included: set[str],
                    base_url: str) -> dict:
        amazon_status = STATUS_NAMES.get(status, "Unshipped")
        priced = amazon_status != "Pending"  # like v0: no prices while payment is not authorised
        items = [i for i in order.items if not i.adjustment]
        total = sum(i.unit_price * i.quantity for i in items) + order.shipping_amount
        purchase = _seconds(order.ordered_at)
        market = self.state.options.amazon_marketplace_id
        body: dict = {
            "orderId": order.order_number,
            "orderAliases": [{"aliasId": order.order_number, "aliasType": "SELLER_ORDER_ID"}],
            "createdTime": iso_z(purchase),
            "lastUpdatedTime": iso_z(_seconds(last_update)),
            "programs": [],
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": market, "marketplaceName": "Amazon.co.uk"},
        }
        if "BUYER" in included:
            body["buyer"] = {"buyerName": order.customer_name}
            if order.customer_email:
                body["buyer"]["buyerEmail"] = order.customer_email
        if "RECIPIENT" in included:
            body["recipient"] = {"deliveryAddress": {
                "name": order.ship_to.name, "addressLine1": order.ship_to.street1, "city": order.ship_to.city,
                "postalCode": order.ship_to.postal_code, "countryCode": order.ship_to.country,
                "addressType": "RESIDENTIAL", **({"phone": order.ship_to.phone} if order.ship_to.phone else {})}}
        if "PROCEEDS" in included and amazon_status not in ("Pending", "Canceled"):
            body["proceeds"] = {"grandTotal": _money_2026(total), "breakdowns": [
                {"type": "ITEM", "subtotal": _money_2026(total - order.shipping_amount)},
                {"type": "SHIPPING", "subtotal": _money_2026(order.shipping_amount)}]}
        if "FULFILLMENT" in included:
            body["fulfillment"] = {
                "fulfillmentStatus": FULFILLMENT_STATUSES[amazon_status], "fulfilledBy": "MERCHANT",
                "fulfillmentServiceLevel": "STANDARD",
                "shipByWindow": {"earliestDateTime": iso_z(purchase + timedelta(days=1)),
                                 "latestDateTime": iso_z(purchase + timedelta(days=3))}}
        if "PACKAGES" in included:
            body["packages"] = []
        order_items = []
        for item in items:
            product: dict = {"asin": item.asin, "title": item.name,
                             "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"}}
            if item.sku:
                product["sellerSku"] = item.sku
            if priced:
                product["price"] = {"unitPrice": _money_2026(item.unit_price)}
            if item.amazon_custom is not None:
                product["customization"] = {"customizedUrl": self.state.data.customized_url(order, item, base_url)}
            entry: dict = {"orderItemId": item.line_item_key, "quantityOrdered": item.quantity, "programs": [],
                           "product": product}
            if "PROCEEDS" in included and priced and amazon_status != "Canceled":
                entry["proceeds"] = {"proceedsTotal": _money_2026(item.unit_price * item.quantity)}
            if "FULFILLMENT" in included:
                shipped = item.quantity if amazon_status == "Shipped" else 0
                entry["fulfillment"] = {"quantityFulfilled": shipped,
                                        "quantityUnfulfilled": 0 if amazon_status == "Canceled" else
                                        item.quantity - shipped}
            order_items.append(entry)
        body["orderItems"] = order_items
        return body

    @staticmethod
    def _single_values(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            if name not in allowed:
                raise InvalidInput(f"Unknown parameter: {name}.")
            if name in values:
                raise InvalidInput(f"{name} was given more than once; arrays are comma-separated.")
            values[name] = value
        return values

    @staticmethod
    def _csv(values: dict[str, str], name: str, allowed: tuple[str, ...] | None = None,
             max_items: int | None = None) -> list[str]:
        items = [v for v in (values.get(name) or "").split(",") if v]
        if name in values and not items:
            raise InvalidInput(f"{name} must not be empty.")
        if allowed is not None:
            bad = [v for v in items if v not in allowed]
            if bad:
                raise InvalidInput(f"Invalid {name}: {', '.join(bad)}. Allowed values: {', '.join(allowed)}.")
        if max_items is not None and len(items) > max_items:
            raise InvalidInput(f"{name} must contain at most {max_items} values.")
        return items

    def _search_query(self, values: dict[str, str], now: datetime) -> dict:
        """The canonical query of a first searchOrders request (what a token must be repeated with)."""
        field, after, before = self._time_window(values, now - timedelta(minutes=2), ("createdAfter", "createdBefore"),
                                                 ("lastUpdatedAfter", "lastUpdatedBefore"))
        return {"field": field, "after": iso_z(after), "before": iso_z(before),
                "statuses": self._csv(values, "fulfillmentStatuses", ALL_FULFILLMENT_STATUSES),
                "markets": self._csv(values, "marketplaceIds", max_items=50),
                "by": self._csv(values, "fulfilledBy", ("MERCHANT", "AMAZON"))}

    async def search_orders(self, request: Request) -> Response:
        values = self._single_values(request, SEARCH_PARAMETERS)
        now = self.state.clock.now()
        try:
            max_results = int(values.get("maxResultsPerPage", "100"))
        except ValueError as exc:
            raise InvalidInput("maxResultsPerPage must be an integer between 1 and 100.") from exc
        if not 1 <= max_results <= 100:
            raise InvalidInput("maxResultsPerPage must be between 1 and 100.")
        included = set(self._csv(values, "includedData", INCLUDED_DATA))
        token = values.get("paginationToken")
        if token:
            state = decode_token(token)
            repeated = {name: values[name] for name in REPEATED_WITH_TOKEN if name in values}
            if repeated != state.get("params"):
                raise InvalidInput("paginationToken must be used with the same values of every other parameter "
                                   "(except maxResultsPerPage and includedData) as the request that returned it.")
            if now - parse_iso_utc(state["issued"]) > TOKEN_LIFETIME:
                raise InvalidInput("The paginationToken has expired.")
            query = state["query"]
            position = (parse_iso_utc(state["pos"][0]), state["pos"][1])
        else:
            query = self._search_query(values, now)
            position = None
        rows = self._search_rows(query, now)
        start = 0
        if position is not None:
            start = bisect.bisect_right(rows, position, key=lambda r: (r[0], r[1]))
            if self.state.faults.take("amazon", V2026, {"duplicate_page"}) is not None:
                start = max(0, start - max(1, max_results // 4))
        page = rows[start:start + max_results]
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        body: dict = {"orders": [self._order_2026(r[3], r[2], r[4], included, base_url) for r in page]}
        if start + max_results < len(rows):
            last = page[-1]
            body["pagination"] = {"nextToken": encode_token({
                "params": {name: values[name] for name in REPEATED_WITH_TOKEN if name in values},
                "query": query, "pos": [iso_z(last[0]), last[1]], "issued": iso_z(now)})}
        body["lastUpdatedBefore" if query["field"] == "updated" else "createdBefore"] = query["before"]
        return json_response(body)

    def _search_rows(self, query: dict, now: datetime) -> list[tuple]:
        """(instant, order number, last update, order, status) of the orders a search selects, in its order."""
        after, before = parse_iso_utc(query["after"]), parse_iso_utc(query["before"])
        statuses = set(query["statuses"])
        wanted = (not query["markets"] or self.state.options.amazon_marketplace_id in query["markets"]) and \
            (not query["by"] or "MERCHANT" in query["by"])
        if not wanted:
            return []
        window = (after, before) if query["field"] == "updated" else None

        def search() -> list[tuple]:
            rows = []
            for last_update, order, status in self._visible_orders(now, window):
                instant = last_update if query["field"] == "updated" else _seconds(order.ordered_at)
                if not after <= instant <= before:
                    continue
                if statuses and FULFILLMENT_STATUSES[STATUS_NAMES.get(status, "Unshipped")] not in statuses:
                    continue
                rows.append((instant, order.order_number, last_update, order, status))
            rows.sort(key=lambda r: (r[0], r[1]))
            return rows

        if window is None:
            return search()
        return self.state.data.amazon_index.derived(after, before + timedelta(microseconds=999_999), now,
                                                    ("searchOrders", frozenset(statuses)), search)

    async def get_order_2026(self, request: Request) -> Response:
        values = self._single_values(request, ("includedData",))
        included = set(self._csv(values, "includedData", INCLUDED_DATA))
        found = self._find(request.path_params["order_id"])
        if found is None:
            return _errors(404, "NotFound", "Requested order not found")
        order, last_update, status = found
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        return json_response({"order": self._order_2026(order, last_update, status, included, base_url)})


def _money_2026(amount: float) -> dict:
    return {"amount": f"{amount:.2f}", "currencyCode": "GBP"}
