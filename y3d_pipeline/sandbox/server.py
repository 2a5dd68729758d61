"""Run the sandbox in a background thread (`SandboxServer`) and talk to its control endpoints."""

from __future__ import annotations

import json as _json
import socket
import threading
import time
from datetime import datetime
from typing import Any

import httpx
import uvicorn

from y3d_pipeline.sandbox.app import create_app
from y3d_pipeline.sandbox.clock import parse_iso_utc
from y3d_pipeline.sandbox.options import SandboxOptions


def sandbox_env(base_url: str, options: SandboxOptions) -> dict[str, str]:
    """The pipeline's environment variables pointing every source and OpenAI at the sandbox."""
    return {
        "SHIPSTATION_BASE_URL": f"{base_url}/shipstation",
        "SHIPSTATION_API_KEY": options.shipstation_api_key,
        "SHIPSTATION_API_SECRET": options.shipstation_api_secret,
        "SHIPSTATION_V2_BASE_URL": f"{base_url}/shipstation-v2/v2",
        "SHIPSTATION_V2_API_KEY": options.shipstation_v2_api_key,
        "SHOPIFY_STORE": options.shopify_store,
        "SHOPIFY_BASE_URL": f"{base_url}/shopify",
        "SHOPIFY_ACCESS_TOKEN": options.shopify_access_token,
        "AMAZON_LWA_CLIENT_ID": options.amazon_lwa_client_id,
        "AMAZON_LWA_CLIENT_SECRET": options.amazon_lwa_client_secret,
        "AMAZON_LWA_REFRESH_TOKEN": options.amazon_lwa_refresh_token,
        "AMAZON_LWA_TOKEN_URL": f"{base_url}/amazon/auth/o2/token",
        "AMAZON_SP_API_BASE_URL": f"{base_url}/amazon",
        "AMAZON_MARKETPLACE_IDS": options.amazon_marketplace_id,
        "AMAZON_CUSTOMIZATION_ALLOWED_HOSTS": "127.0.0.1",
        "AMAZON_CUSTOMIZATION_ALLOW_HTTP": "true",
        "OPENAI_API_KEY": options.openai_api_key,
        "OPENAI_BASE_URL": f"{base_url}/openai/v1",
    }


class SandboxServer:
    """`with SandboxServer(SandboxOptions(...), port=0) as sb:` serves on a free loopback port."""

    def __init__(self, options: SandboxOptions | None = None, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        self.options = options or SandboxOptions()
        self.host = host
        self.app = create_app(self.options)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(self.app, log_level=log_level, lifespan="off", access_log=False,
                                timeout_graceful_shutdown=1, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self):
        """The live state object (same process only; prefer the HTTP control methods)."""
        return self.app.state.sandbox

    def env(self) -> dict[str, str]:
        return sandbox_env(self.base_url, self.options)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server failed to start")
            time.sleep(0.01)
        self._client = httpx.Client(base_url=self.base_url + "/_sandbox", timeout=30)
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ control endpoints
    def _call(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        assert self._client is not None, "the sandbox is not running"
        # ASCII JSON: a test may hand the sandbox a lone surrogate (half an emoji), which has no UTF-8 form.
        content = None if json is None else _json.dumps(json).encode()
        headers = None if json is None else {"Content-Type": "application/json"}
        response = self._client.request(method, path, content=content, headers=headers, params=params)
        response.raise_for_status()
        return response.json()

    def set_faults(self, api: str, kind: str, count: int | None = 1, rate: float | None = None,
                   match: str | None = None, delay_ms: int | None = None) -> list[dict]:
        """Add a fault rule (see faults.py for kinds); count=None means until cleared."""
        spec = {"api": api, "kind": kind, "count": count, "rate": rate, "match": match, "delay_ms": delay_ms}
        return self._call("POST", "/faults", json=spec)["faults"]

    add_fault = set_faults

    def faults(self) -> list[dict]:
        return self._call("GET", "/faults")["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def now(self) -> datetime:
        return parse_iso_utc(self._call("GET", "/clock")["now"])

    def requests(self, api: str | None = None) -> list[dict]:
        """The last requests clients sent to ``api`` (method, path, query, body, status), oldest first."""
        return self._call("GET", "/requests", params={"api": api} if api else None)["requests"]

    def advance_clock(self, seconds: float) -> datetime:
        return parse_iso_utc(self._call("POST", "/clock", json={"advance_seconds": seconds})["now"])

    def set_clock(self, when: datetime) -> datetime:
        return parse_iso_utc(self._call("POST", "/clock", json={"set": when.isoformat()})["now"])

    def config(self, **settings: Any) -> dict:
        return self._call("POST", "/config", json=settings) if settings else self._call("GET", "/config")

    def set_rate_limit_scale(self, scale: float) -> dict:
        return self.config(rate_limit_scale=scale)

    def set_openai(self, latency_ms: int | None = None, wrong_quantity_rate: float | None = None,
                   malformed_rate: float | None = None) -> dict:
        settings = {"openai_latency_ms": latency_ms, "openai_wrong_quantity_rate": wrong_quantity_rate,
                    "openai_malformed_rate": malformed_rate}
        return self.config(**{k: v for k, v in settings.items() if v is not None})

    def set_amazon_token_expiry(self, seconds: int) -> dict:
        return self.config(amazon_token_expires_in=seconds)

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def truth(self, marketplace: str | None = None, visible_only: bool = False) -> list[dict]:
        params: dict[str, str] = {}
        if marketplace:
            params["marketplace"] = marketplace
        if visible_only:
            params["visible"] = "true"
        return self._call("GET", "/truth", params=params)["orders"]

    def mutate_order(self, order_id: int, status: str | None = None, patch: dict | None = None,
                     item_options: dict[str, list[dict]] | None = None, marketplace: bool = False,
                     seconds_from_now: float = 0) -> dict:
        """Record a change to a ShipStation order at the clock (bumps modifyDate; with
        marketplace=True also the marketplace API's last-update time and status)."""
        body: dict[str, Any] = {"marketplace": marketplace, "seconds_from_now": seconds_from_now}
        if status:
            body["status"] = status
        if patch:
            body["patch"] = patch
        if item_options:
            body["item_options"] = item_options
        return self._call("POST", f"/orders/{order_id}/mutate", json=body)
