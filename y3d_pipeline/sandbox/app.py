"""The Starlette application: every API plus the /_sandbox control endpoints."""

from __future__ import annotations

import json
from datetime import timedelta

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from y3d_pipeline.sandbox.amazon import AmazonApi
from y3d_pipeline.sandbox.amazon_custom import AmazonCustomFiles
from y3d_pipeline.sandbox.clock import iso_z, parse_iso_utc
from y3d_pipeline.sandbox.core import SandboxState, StatsMiddleware, json_response
from y3d_pipeline.sandbox.data import Version
from y3d_pipeline.sandbox.openai_api import OpenAIApi
from y3d_pipeline.sandbox.options import FaultSpec, SandboxOptions
from y3d_pipeline.sandbox.shipstation import ShipStationApi
from y3d_pipeline.sandbox.shipstation_v2 import ShipStationV2Api
from y3d_pipeline.sandbox.shopify import ShopifyApi

CONTROL = "/_sandbox"
CONFIG_FIELDS = {"rate_limit_scale": float, "openai_latency_ms": int, "openai_wrong_quantity_rate": float,
                 "openai_malformed_rate": float, "amazon_token_expires_in": int,
                 "shopify_read_all_orders": bool, "shopify_protected_customer_data": bool}


async def _json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


class Controls:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route(CONTROL + "/health", self.health, methods=["GET"]),
            Route(CONTROL + "/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route(CONTROL + "/clock", self.clock, methods=["GET", "POST"]),
            Route(CONTROL + "/config", self.config, methods=["GET", "POST"]),
            Route(CONTROL + "/reset", self.reset, methods=["POST"]),
            Route(CONTROL + "/stats", self.stats, methods=["GET"]),
            Route(CONTROL + "/requests", self.journal, methods=["GET"]),
            Route(CONTROL + "/truth", self.truth, methods=["GET"]),
            Route(CONTROL + "/orders/{order_id:int}/mutate", self.mutate, methods=["POST"]),
            Route(CONTROL + "/inventory", self.inventory, methods=["POST"]),
        ]

    async def health(self, request: Request) -> Response:
        return json_response({"ok": True, "now": iso_z(self.state.clock.now(), millis=True)})

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.state.faults.clear()
        elif request.method == "POST":
            try:
                raw = json.loads(await request.body())
                for spec in raw if isinstance(raw, list) else [raw]:
                    self.state.faults.add(FaultSpec.model_validate(spec))
            except (ValueError, ValidationError) as exc:
                return json_response({"error": str(exc)}, status=400)
        return json_response({"faults": self.state.faults.rules()})

    async def clock(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                if "set" in body:
                    self.state.clock.set(parse_iso_utc(body["set"]))
                if "advance_seconds" in body:
                    self.state.clock.advance(float(body["advance_seconds"]))
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, status=400)
        return json_response({"now": iso_z(self.state.clock.now(), millis=True), "running": self.state.clock.running})

    async def config(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
                for key, value in body.items():
                    if key not in CONFIG_FIELDS:
                        raise ValueError(f"unknown setting {key!r}; known: {', '.join(CONFIG_FIELDS)}")
                    setattr(self.state, key, CONFIG_FIELDS[key](value))
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, status=400)
        return json_response(self.state.config())

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return json_response({"ok": True, "now": iso_z(self.state.clock.now(), millis=True)})

    async def stats(self, request: Request) -> Response:
        return json_response(self.state.stats())

    async def journal(self, request: Request) -> Response:
        """The last requests clients sent (method, path, query, body, status), oldest first; ?api= filters."""
        api = request.query_params.get("api")
        return json_response({"requests": [dict(e) for e in self.state.journal if api in (None, e["api"])]})

    async def truth(self, request: Request) -> Response:
        marketplace = request.query_params.get("marketplace")
        orders = self.state.data.truth()
        if marketplace:
            orders = [o for o in orders if o["marketplace"] == marketplace]
        if request.query_params.get("visible") in ("1", "true"):
            now = iso_z(self.state.clock.now())
            orders = [o for o in orders if parse_iso_utc(o["ordered_at"]) <= parse_iso_utc(now)]
        return json_response({"orders": orders})

    async def inventory(self, request: Request) -> Response:
        """Set a stock level now: {"sku", "inventory_location_id", "on_hand", "allocated"?, "available"?}
        (``available`` only to make an impossible level; otherwise on hand minus allocated)."""
        try:
            body = await _json_body(request)
            level = self.state.catalogue.set_level(
                str(body["sku"]), str(body["inventory_location_id"]), int(body["on_hand"]),
                int(body.get("allocated") or 0), None if body.get("available") is None else int(body["available"]))
        except (KeyError, ValueError, TypeError) as exc:
            return json_response({"error": f"bad inventory level: {exc}"}, status=400)
        return json_response(level)

    async def mutate(self, request: Request) -> Response:
        """Change an order now: {"status"?, "patch"?: {field or "outer.inner": value},
        "item_options"?: {lineItemKey: [{name, value}]}, "marketplace"?: bool (also visible to the
        marketplace's own API), "seconds_from_now"?: float (schedule it)}."""
        ss_order = self.state.data.ss_orders.get(request.path_params["order_id"])
        if ss_order is None:
            return json_response({"error": "no such order"}, status=404)
        try:
            body = await _json_body(request)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        at = self.state.clock.now() + timedelta(seconds=float(body.get("seconds_from_now") or 0))
        current = ss_order.version_at(at) or ss_order.versions[0]
        patch = dict(body.get("patch") or {})
        if body.get("item_options"):
            patch["item_options"] = body["item_options"]
        status = body.get("status") or current.status
        marketplace = bool(body.get("marketplace"))
        self.state.data.add_version(ss_order, Version(at, at if marketplace else None, status, patch),
                                    marketplace_visible=marketplace)
        return json_response({"ok": True, "orderId": ss_order.order_id, "at": iso_z(at, millis=True),
                              "status": status})


def create_app(options: SandboxOptions | None = None) -> Starlette:
    state = SandboxState(options or SandboxOptions())
    routes: list[Route] = []
    for api in (ShipStationApi(state), ShipStationV2Api(state), ShopifyApi(state), AmazonApi(state), AmazonCustomFiles(state),
                OpenAIApi(state), Controls(state)):
        routes.extend(api.routes())
    app = Starlette(routes=routes)
    app.state.sandbox = state
    app.add_middleware(StatsMiddleware, state=state)
    return app
