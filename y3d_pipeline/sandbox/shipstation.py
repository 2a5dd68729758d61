"""ShipStation v1 under /shipstation: Basic auth, 40 requests/min per key, Pacific wall-clock dates."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import uuid
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from y3d_pipeline.sandbox.clock import PACIFIC, parse_pacific, to_pacific_date, to_pacific_string
from y3d_pipeline.sandbox.core import SandboxState, json_response, with_faults
from y3d_pipeline.sandbox.data import STORES, TAGS, Address, RealOrder, ShipStationOrder, Version

PREFIX = "/shipstation"
EDITABLE = {"awaiting_payment", "awaiting_shipment", "on_hold"}
STATUSES = {"awaiting_payment", "awaiting_shipment", "pending_fulfillment", "shipped", "on_hold",
            "cancelled", "rejected_fulfillment"}
SORT_FIELDS = {"orderdate": "order", "modifydate": "modify", "createdate": "create"}
READ_ONLY_ADVANCED = ("mergedOrSplit", "mergedIds", "parentId", "storeId")


class BadRequest(Exception):
    pass


def _error(status: int, message: str) -> Response:
    return json_response({"Message": message}, status=status)


def _store_id(ss_order: ShipStationOrder) -> int:
    return STORES.get(ss_order.real.marketplace, STORES["manual"])[0]


def _page_args(request: Request, default_size: int = 100) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("page", "1"))
        page_size = int(request.query_params.get("pageSize", str(default_size)))
    except ValueError as exc:
        raise BadRequest("The request is invalid. page and pageSize must be integers.") from exc
    if page < 1 or page_size < 1:
        raise BadRequest("The request is invalid. page and pageSize must be positive.")
    return page, min(page_size, 500)


def _date_param(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_pacific(value)
    except ValueError as exc:
        raise BadRequest(f"The request is invalid. The value '{value}' is not valid for {name}.") from exc


def _pacific_day_start(instant: datetime | None, days: int = 0) -> datetime | None:
    """The start (UTC) of the Pacific day of `instant`, `days` later."""
    if instant is None:
        return None
    day = instant.astimezone(PACIFIC).date() + timedelta(days=days)
    return datetime.combine(day, datetime.min.time(), PACIFIC).astimezone(UTC)


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


class ShipStationApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    # ------------------------------------------------------------------ plumbing
    def routes(self) -> list[Route]:
        endpoints = [
            ("/orders", self.list_orders, ["GET"]),
            ("/orders/listbytag", self.list_by_tag, ["GET"]),
            ("/orders/createorder", self.create_order, ["POST"]),
            ("/orders/createorders", self.create_orders, ["POST"]),
            ("/orders/addtag", self.add_tag, ["POST"]),
            ("/orders/removetag", self.remove_tag, ["POST"]),
            ("/orders/{order_id:int}", self.get_order, ["GET"]),
            ("/accounts/listtags", self.list_tags, ["GET"]),
            ("/stores", self.list_stores, ["GET"]),
            ("/warehouses", self.list_warehouses, ["GET"]),
            ("/products", self.list_products, ["GET"]),
            ("/shipments", self.list_shipments, ["GET"]),
        ]
        return [Route(PREFIX + path, self._guard(handler), methods=methods) for path, handler, methods in endpoints]

    def _api_key(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        options = self.state.options
        if key == options.shipstation_api_key and secret == options.shipstation_api_secret:
            return key
        return None

    def _guard(self, handler):
        async def endpoint(request: Request) -> Response:
            key = self._api_key(request)
            if key is None:
                return PlainTextResponse("401 Unauthorized", status_code=401,
                                         headers={"WWW-Authenticate": 'Basic realm="ShipStation"'})
            decision = self.state.shipstation_limiter.hit(key)
            headers = {"X-Rate-Limit-Limit": str(decision.limit),
                       "X-Rate-Limit-Remaining": str(decision.remaining),
                       "X-Rate-Limit-Reset": str(decision.reset_seconds)}
            if not decision.allowed:
                response = json_response({"message": "Too Many Requests"}, status=429)
            else:
                async def run(req: Request) -> Response:
                    try:
                        return await handler(req)
                    except BadRequest as exc:
                        return _error(400, str(exc))

                def fault_response(status: int) -> Response:
                    if status == 429:
                        headers["X-Rate-Limit-Remaining"] = "0"
                        return json_response({"message": "Too Many Requests"}, status=429)
                    return _error(status, "An error has occurred.")

                path = request.url.path[len(PREFIX):]
                response = await with_faults(self.state, "shipstation", path, request, run, fault_response)
            response.headers.update(headers)
            return response

        return endpoint

    def _visible(self, order_id: int) -> tuple[ShipStationOrder, Version] | None:
        ss_order = self.state.data.ss_orders.get(order_id)
        if ss_order is None:
            return None
        version = ss_order.version_at(self.state.clock.now())
        return None if version is None else (ss_order, version)

    def _render(self, ss_order: ShipStationOrder, request: Request) -> dict:
        doc = self.state.data.render_shipstation(ss_order, self.state.clock.now(), _base_url(request))
        assert doc is not None
        return doc

    # ------------------------------------------------------------------ orders
    def _select(self, request: Request, tag_id: int | None = None) -> list[tuple[datetime | None, int]]:
        """(modifyDate or None, orderId) of the orders a list request selects, in its sort order.

        Candidates come from the modifyDate index (only orders whose current version lies in the window are
        looked at); with no other filter and the ModifyDate sort, the window is the answer as it is, so a
        page costs its own orders, not the shop's."""
        params = request.query_params
        status = params.get("orderStatus")
        if status and status not in STATUSES:
            raise BadRequest(f"The request is invalid. '{status}' is not a valid orderStatus.")
        store_id = params.get("storeId")
        order_number = params.get("orderNumber")
        customer_name = (params.get("customerName") or "").lower()
        keyword = (params.get("itemKeyword") or "").lower()
        bounds = {name: _date_param(request, name) for name in (
            "modifyDateStart", "modifyDateEnd", "createDateStart", "createDateEnd",
            "orderDateStart", "orderDateEnd", "paymentDateStart", "paymentDateEnd")}
        now = self.state.clock.now()
        index = self.state.data.ss_index
        window = index.window(bounds["modifyDateStart"], bounds["modifyDateEnd"], now)
        sort_by = SORT_FIELDS.get((params.get("sortBy") or "").lower())
        descending = (params.get("sortDir") or "ASC").upper() == "DESC"
        filtered = (status or store_id or order_number or customer_name or keyword or tag_id is not None
                    or any(value is not None for name, value in bounds.items() if not name.startswith("modify")))
        if not filtered and sort_by == "modify":
            return window[::-1] if descending else window
        selected = []
        for _, order_id in window:
            index.examined += 1
            ss_order = self.state.data.ss_orders[order_id]
            version = ss_order.version_at(now)
            if version is None:
                continue
            if status and version.status != status:
                continue
            if store_id and str(_store_id(ss_order)) != store_id:
                continue
            if order_number and not ss_order.real.order_number.startswith(order_number):
                continue
            instants = {"create": ss_order.created_at, "order": ss_order.real.ordered_at,
                        "payment": ss_order.real.ordered_at}
            if not all(self._within(instants[kind], bounds[f"{kind}DateStart"], bounds[f"{kind}DateEnd"])
                       for kind in ("create", "order", "payment")):
                continue
            if tag_id is not None and tag_id not in (self._render_tags(ss_order, now) or []):
                continue
            if customer_name and customer_name not in ss_order.real.customer_name.lower():
                continue
            if keyword and not any(keyword in " ".join(
                    [item.sku or "", item.name, *(str(o["value"] or "") for o in item.options)]).lower()
                    for item in ss_order.items):
                continue
            selected.append((ss_order, version))
        if sort_by is None:
            selected.sort(key=lambda pair: pair[0].order_id, reverse=descending)
        else:
            def key(pair: tuple[ShipStationOrder, Version]) -> tuple[datetime, int]:
                ss_order, version = pair
                instant = {"modify": version.ss_at, "create": ss_order.created_at,
                           "order": ss_order.real.ordered_at}[sort_by]
                return instant, ss_order.order_id
            selected.sort(key=key, reverse=descending)
        return [(None, ss_order.order_id) for ss_order, _ in selected]

    @staticmethod
    def _within(instant: datetime, start: datetime | None, end: datetime | None) -> bool:
        # Parameters have whole-second precision; both bounds are inclusive.
        return (start is None or instant >= start) and (end is None or instant <= end)

    def _render_tags(self, ss_order: ShipStationOrder, now: datetime) -> list[int] | None:
        tags: set[int] = set()
        for version in ss_order.versions:
            if version.ss_at > now:
                break
            if "replace" in version.patch:
                tags = set(version.patch["replace"].get("tagIds") or [])
            if "tagIds+" in version.patch:
                tags.add(version.patch["tagIds+"])
            if "tagIds-" in version.patch:
                tags.discard(version.patch["tagIds-"])
        return sorted(tags) or None

    async def _paged_orders(self, request: Request, tag_id: int | None = None) -> Response:
        page, page_size = _page_args(request)
        selected = self._select(request, tag_id)
        total = len(selected)
        pages = math.ceil(total / page_size)
        now = self.state.clock.now()
        chunk = [(ss_order, ss_order.version_at(now)) for ss_order in (
            self.state.data.ss_orders[order_id] for _, order_id in selected[(page - 1) * page_size: page * page_size])]
        body = {"orders": [self._render(o, request) for o, _ in chunk], "total": total, "page": page,
                "pages": pages}
        response = json_response(body)
        shift = self.state.faults.take("shipstation", "/orders", {"page_shift"})
        if shift is not None and chunk:
            for ss_order, version in chunk:
                self.state.data.add_version(ss_order, Version(now, None, version.status, {}))
        return response

    async def list_orders(self, request: Request) -> Response:
        return await self._paged_orders(request)

    async def list_by_tag(self, request: Request) -> Response:
        try:
            tag_id = int(request.query_params["tagId"])
        except (KeyError, ValueError) as exc:
            raise BadRequest("The request is invalid. tagId is required.") from exc
        return await self._paged_orders(request, tag_id)

    async def get_order(self, request: Request) -> Response:
        found = self._visible(request.path_params["order_id"])
        if found is None:
            return _error(404, "Order not found")
        return json_response(self._render(found[0], request))

    async def create_order(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise BadRequest("The request is invalid. Body is not valid JSON.") from exc
        return json_response(self._upsert(body, request))

    async def create_orders(self, request: Request) -> Response:
        """Bulk form: at most 100 orders; each succeeds or fails on its own."""
        try:
            bodies = json.loads(await request.body())
        except ValueError as exc:
            raise BadRequest("The request is invalid. Body is not valid JSON.") from exc
        if not isinstance(bodies, list) or len(bodies) > 100:
            raise BadRequest("The request is invalid. Send a list of at most 100 orders.")
        results = []
        for body in bodies:
            try:
                order = self._upsert(body, request)
                results.append({"orderId": order["orderId"], "orderNumber": order["orderNumber"],
                                "orderKey": order["orderKey"], "success": True, "errorMessage": None})
            except BadRequest as exc:
                results.append({"orderId": (body or {}).get("orderId") if isinstance(body, dict) else None,
                                "orderNumber": body.get("orderNumber") if isinstance(body, dict) else None,
                                "orderKey": body.get("orderKey") if isinstance(body, dict) else None,
                                "success": False, "errorMessage": str(exc)})
        return json_response({"hasErrors": not all(r["success"] for r in results), "results": results})

    def _upsert(self, body: object, request: Request) -> dict:
        """Create, or update the order with this orderKey (orderId picks among split orders)."""
        if not isinstance(body, dict) or not body.get("orderNumber"):
            raise BadRequest("The request is invalid. orderNumber is required.")
        if len(str(body["orderNumber"])) > 50:
            raise BadRequest("The request is invalid. orderNumber must be at most 50 characters.")
        now = self.state.clock.now()
        order_key = body.get("orderKey")
        matches = []
        if order_key:
            matches = [o for o in self.state.data.ss_orders.values()
                       if o.real.order_key == order_key and o.version_at(now) is not None]
        if not matches:
            return self._create(body, now, request)
        if len(matches) > 1:
            wanted = body.get("orderId")
            matches = [m for m in matches if m.order_id == wanted]
            if not matches:
                raise BadRequest("The request is invalid. orderId is required to update an order that "
                                 "shares its orderKey with split orders.")
        ss_order = matches[0]
        current = self._render(ss_order, request)
        if current["orderStatus"] not in EDITABLE:
            raise BadRequest(f"The request is invalid. Orders in status '{current['orderStatus']}' "
                             "cannot be updated.")
        updated = self._replace(current, body, now)
        self.state.data.add_version(ss_order, Version(now, None, updated["orderStatus"], {"replace": updated}))
        return self._render(ss_order, request)

    def _replace(self, current: dict, body: dict, now: datetime) -> dict:
        """Full-resource replace: writable fields come from `body` (absent means null)."""
        doc = {key: copy.deepcopy(body.get(key)) for key in current}
        for key in ("orderId", "orderKey", "createDate", "customerId"):
            doc[key] = current[key]
        status = body.get("orderStatus") or current["orderStatus"]
        if status not in {"awaiting_payment", "awaiting_shipment", "on_hold", "cancelled", "shipped"}:
            raise BadRequest(f"The request is invalid. '{status}' is not a valid orderStatus.")
        doc["orderStatus"] = status
        advanced = dict(body.get("advancedOptions") or {})
        for key in READ_ONLY_ADVANCED:
            advanced[key] = current["advancedOptions"].get(key)
        doc["advancedOptions"] = advanced
        existing = {i["orderItemId"]: i for i in current["items"]}
        by_key = {i["lineItemKey"]: i for i in current["items"] if i["lineItemKey"]}
        items = []
        for posted in body.get("items") or []:
            item = dict(posted)
            match = existing.get(item.get("orderItemId")) or by_key.get(item.get("lineItemKey"))
            if match is not None:
                item["orderItemId"] = match["orderItemId"]
                item["createDate"] = match["createDate"]
            else:
                item["orderItemId"] = self.state.data._next_item_id()
                item["createDate"] = to_pacific_string(now)
            item["modifyDate"] = to_pacific_string(now)
            item.setdefault("adjustment", False)
            item.setdefault("options", [])
            items.append(item)
        doc["items"] = items
        total = sum(float(i.get("unitPrice") or 0) * int(i.get("quantity") or 0) for i in items)
        doc["orderTotal"] = round(total + float(doc.get("shippingAmount") or 0) + float(doc.get("taxAmount") or 0), 2)
        return doc

    def _create(self, body: dict, now: datetime, request: Request) -> dict:
        data = self.state.data
        order_id = data.next_created_order_id
        data.next_created_order_id += 1
        data.changed = True
        order_key = body.get("orderKey") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-order-{order_id}"))
        real = RealOrder(
            index=-order_id, marketplace="manual", order_number=str(body["orderNumber"]), order_key=order_key,
            ordered_at=now, import_lag=timedelta(0), customer_name=(body.get("billTo") or {}).get("name") or "",
            customer_email=body.get("customerEmail"), customer_id=0, ship_to=Address("", "", "", ""),
            customer_notes=body.get("customerNotes"), items=[], shipping_amount=0.0)
        ss_order = ShipStationOrder(order_id, real, [], [Version(now, None, "awaiting_shipment", {})])
        template = data._base_document(ss_order, _base_url(request))
        template["orderStatus"] = "awaiting_shipment"
        doc = self._replace(template, body, now)
        doc["orderKey"] = order_key
        doc["orderDate"] = body.get("orderDate") or to_pacific_string(now)
        doc["createDate"] = to_pacific_string(now)
        if body.get("advancedOptions", {}).get("storeId"):
            doc["advancedOptions"]["storeId"] = body["advancedOptions"]["storeId"]
        ss_order.versions = [Version(now, None, doc["orderStatus"], {"replace": doc})]
        data.add_ss_order(ss_order)
        return self._render(ss_order, request)

    async def _tag(self, request: Request, add: bool) -> Response:
        try:
            body = json.loads(await request.body())
            order_id, tag_id = int(body["orderId"]), int(body["tagId"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadRequest("The request is invalid. orderId and tagId are required.") from exc
        found = self._visible(order_id)
        if found is None:
            raise BadRequest(f"The request is invalid. Order {order_id} was not found.")
        if tag_id not in {t["tagId"] for t in TAGS}:
            raise BadRequest(f"The request is invalid. Tag {tag_id} was not found.")
        ss_order, version = found
        now = self.state.clock.now()
        self.state.data.add_version(ss_order, Version(now, None, version.status,
                                                      {"tagIds+" if add else "tagIds-": tag_id}))
        verb = "added" if add else "removed"
        return json_response({"success": True, "message": f"Tag {verb} successfully."})

    async def add_tag(self, request: Request) -> Response:
        return await self._tag(request, add=True)

    async def remove_tag(self, request: Request) -> Response:
        return await self._tag(request, add=False)

    # ------------------------------------------------------------------ reference data
    async def list_tags(self, request: Request) -> Response:
        return json_response(TAGS)

    async def list_stores(self, request: Request) -> Response:
        created = to_pacific_string(datetime(2023, 4, 2, 9, 30, tzinfo=UTC))
        stores = [{"storeId": store_id, "storeName": name, "marketplaceId": 100 + n, "marketplaceName": market,
                   "accountName": None, "email": None, "integrationUrl": None, "active": True,
                   "companyName": "Y3D Ltd", "phone": "", "publicEmail": "", "website": "",
                   "refreshDate": created, "lastRefreshAttempt": created, "createDate": created,
                   "modifyDate": created, "autoRefresh": True}
                  for n, (store_id, name, market) in enumerate(STORES.values())]
        return json_response(stores)

    async def list_warehouses(self, request: Request) -> Response:
        address = {"name": "Y3D Ltd", "company": "Y3D Ltd", "street1": "Unit 4, Maker Yard", "street2": "",
                   "street3": None, "city": "Leicester", "state": "", "postalCode": "LE1 1AA", "country": "GB",
                   "phone": "01160000000", "residential": False, "addressVerified": None}
        return json_response([{"warehouseId": 501001, "warehouseName": "Workshop", "originAddress": address,
                               "returnAddress": address,
                               "createDate": to_pacific_string(datetime(2023, 4, 2, 9, 0, tzinfo=UTC)),
                               "isDefault": True}])

    async def list_products(self, request: Request) -> Response:
        """``GET /products``: the catalogue, paged (``sku``, ``showInactive`` honoured; inactive ones are none)."""
        page, page_size = _page_args(request)
        sku = request.query_params.get("sku")
        rows = [p for p in self.state.catalogue.v1_products() if not sku or p["sku"] == sku]
        return json_response({"products": rows[(page - 1) * page_size: page * page_size], "total": len(rows),
                              "page": page, "pages": math.ceil(len(rows) / page_size)})

    async def list_shipments(self, request: Request) -> Response:
        page, page_size = _page_args(request)
        params = request.query_params
        ship_start = _date_param(request, "shipDateStart")
        ship_end = _date_param(request, "shipDateEnd")
        create_start = _date_param(request, "createDateStart")
        create_end = _date_param(request, "createDateEnd")
        order_id = params.get("orderId")
        order_number = params.get("orderNumber")
        now = self.state.clock.now()
        # shipDate is the label's Pacific day: its bounds are whole Pacific days; both bounds are inclusive
        starts = [b for b in (_pacific_day_start(ship_start), create_start) if b is not None]
        ends = [create_end] if create_end is not None else []
        if ship_end is not None:
            ends.append(_pacific_day_start(ship_end, days=1) - timedelta(microseconds=1))
        start, end = (max(starts) if starts else None), (min(ends) if ends else None)
        data = self.state.data
        # the window from the creation index, in (created, shipmentId) order: a page costs its window's rows
        # when filtered by order, and only its own otherwise
        window = data.shipment_index.window(start, end, now)
        if order_id or order_number:
            window = [(created, shipment_id) for created, shipment_id in window
                      if (not order_id or str(data.shipments[shipment_id][0]["orderId"]) == order_id)
                      and (not order_number or data.shipments[shipment_id][0]["orderNumber"] == order_number)]
        total = len(window)
        chunk = [(created, *data.shipments[shipment_id])
                 for created, shipment_id in window[(page - 1) * page_size: page * page_size]]
        shipments = []
        for created, shipment, order in chunk:
            shipments.append({
                "shipmentId": shipment["shipmentId"], "orderId": shipment["orderId"],
                "orderKey": shipment["orderKey"], "userId": None, "customerEmail": order.customer_email,
                "orderNumber": shipment["orderNumber"], "createDate": to_pacific_string(created),
                "shipDate": to_pacific_date(created), "shipmentCost": shipment["shipmentCost"],
                "insuranceCost": 0.0, "trackingNumber": shipment["trackingNumber"], "isReturnLabel": False,
                "batchNumber": None, "carrierCode": shipment["carrierCode"],
                "serviceCode": shipment["serviceCode"], "packageCode": "package", "confirmation": "none",
                "warehouseId": 501001, "voided": shipment["voided"],
                "voidDate": to_pacific_string(created + timedelta(minutes=10)) if shipment["voided"] else None,
                "marketplaceNotified": not shipment["voided"], "notifyErrorMessage": None,
                "shipTo": order.ship_to.as_shipstation(), "weight": {"value": 40.0, "units": "grams"},
                "dimensions": None, "insuranceOptions": None, "advancedOptions": None,
                "shipmentItems": None, "labelData": None, "formData": None,
            })
        return json_response({"shipments": shipments, "total": total, "page": page,
                              "pages": math.ceil(total / page_size)})
