"""ShipStation V2 inventory under /shipstation-v2 (base URL ``.../shipstation-v2/v2``): ``API-Key`` header, 200
requests a minute per key (``X-Rate-Limit-*`` headers, 429 with ``Retry-After``), pages of ``page_size`` linked by
``links.next.href``, errors in V2's ``{"request_id", "errors": [...]}`` shape, faults as every API (api
``shipstation_v2``).

The stock belongs to the generated shop (``catalogue.py``): the v1 ``/products`` and these levels share its SKUs.
"""

from __future__ import annotations

import math
import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from y3d_pipeline.sandbox.core import SandboxState, json_response, with_faults

PREFIX = "/shipstation-v2"
API = "shipstation_v2"
MAX_PAGE_SIZE = 500


def v2_error(status: int, code: str, message: str, error_type: str = "validation") -> Response:
    return json_response({"request_id": str(uuid.uuid4()), "errors": [
        {"error_source": "shipstation", "error_type": error_type, "error_code": code, "message": message}]},
        status=status)


class ShipStationV2Api:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        endpoints = [("/v2/inventory", self.inventory), ("/v2/inventory_warehouses", self.warehouses),
                     ("/v2/inventory_locations", self.locations)]
        return [Route(PREFIX + path, self._guard(handler), methods=["GET"]) for path, handler in endpoints]

    def _guard(self, handler):
        async def endpoint(request: Request) -> Response:
            key = request.headers.get("api-key")
            if key != self.state.options.shipstation_v2_api_key:
                return v2_error(401, "unauthorized", "The API key is invalid. Please see https://www.shipstation.com",
                                "security")
            decision = self.state.shipstation_v2_limiter.hit(key)
            headers = {"X-Rate-Limit-Limit": str(decision.limit), "X-Rate-Limit-Remaining": str(decision.remaining),
                       "X-Rate-Limit-Reset": str(decision.reset_seconds)}
            if not decision.allowed:
                response = v2_error(429, "rate_limit_exceeded", "You have exceeded the rate limit.", "system")
                headers["Retry-After"] = str(decision.reset_seconds)
            else:
                def fault_response(status: int) -> Response:
                    if status == 429:
                        headers.update({"X-Rate-Limit-Remaining": "0", "Retry-After": "1"})
                        return v2_error(429, "rate_limit_exceeded", "You have exceeded the rate limit.", "system")
                    if status == 403:
                        return v2_error(403, "unauthorized", "The Inventory API add-on is not enabled for this "
                                        "account.", "security")
                    return v2_error(status, "unspecified", "An unexpected error occurred.", "system")

                async def run(req: Request) -> Response:
                    return await handler(req)

                path = request.url.path[len(PREFIX):]
                response = await with_faults(self.state, API, path, request, run, fault_response)
            response.headers.update(headers)
            return response

        return endpoint

    def _page(self, request: Request, collection: str, rows: list[dict]) -> Response:
        try:
            page = int(request.query_params.get("page", "1"))
            page_size = int(request.query_params.get("page_size", "25"))
        except ValueError:
            return v2_error(400, "invalid_field_value", "page and page_size must be integers.")
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            return v2_error(400, "invalid_field_value", f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}.")
        pages = max(1, math.ceil(len(rows) / page_size))
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"

        def link(number: int | None) -> dict | None:
            return None if number is None else {"href": f"{base}?page={number}&page_size={page_size}"}

        return json_response({
            collection: rows[(page - 1) * page_size: page * page_size], "total": len(rows), "page": page,
            "pages": pages, "links": {"first": link(1), "last": link(pages),
                                      "prev": link(page - 1 if page > 1 else None),
                                      "next": link(page + 1 if page < pages else None)}})

    async def inventory(self, request: Request) -> Response:
        params = request.query_params
        rows = [dict(level) for level in self.state.catalogue.levels()
                if (not params.get("sku") or level["sku"] == params["sku"])
                and (not params.get("inventory_warehouse_id")
                     or level["inventory_warehouse_id"] == params["inventory_warehouse_id"])
                and (not params.get("inventory_location_id")
                     or level["inventory_location_id"] == params["inventory_location_id"])]
        return self._page(request, "inventory", rows)

    async def warehouses(self, request: Request) -> Response:
        return self._page(request, "inventory_warehouses", self.state.catalogue.inventory_warehouses())

    async def locations(self, request: Request) -> Response:
        return self._page(request, "inventory_locations", self.state.catalogue.inventory_locations())
