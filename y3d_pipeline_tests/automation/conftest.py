"""Fixtures for the automation tests: a real Dagster instance on PostgreSQL (the repo's dagster.yaml)."""

from __future__ import annotations

import dagster as dg
import pytest

from y3d_pipeline.paths import PROJECT_ROOT


@pytest.fixture(scope="package")
def pg_dagster_url(database_factory) -> str:
    return database_factory.create("y3d_dagster_auto")


@pytest.fixture(scope="package")
def pg_instance(pg_dagster_url):
    """The project's dagster.yaml (dagster-postgres storage) on a database of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PG_URL", pg_dagster_url)
        with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
            yield instance


class _Receiver:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self, status: int = 200):
        import http.server
        import json
        import threading

        self.bodies: list[dict] = []
        self.status = status
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch):
    receiver = _Receiver()
    monkeypatch.setenv("Y3D_ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("Y3D_UI_BASE_URL", "http://dagster.example:3000/")
    yield receiver
    receiver.close()


@pytest.fixture
def json_webhook(monkeypatch):
    """The plain JSON webhook (Y3D_ALERT_JSON_WEBHOOK_URL)."""
    receiver = _Receiver()
    monkeypatch.setenv("Y3D_ALERT_JSON_WEBHOOK_URL", receiver.url.replace("secret-token", "json-token"))
    monkeypatch.setenv("Y3D_UI_BASE_URL", "http://dagster.example:3000/")
    yield receiver
    receiver.close()


def sensor_resources(database_resource) -> dict:
    """The alert sensors' resources as the deployment builds them, from the environment the test set up (the
    webhook fixtures and per-test variables), plus the test database."""
    from y3d_pipeline.defs.resources import ShopResource, ShopSettings, alerts_resource_from_env
    from y3d_pipeline.defs.sources.amazon.resources import amazon_resource_from_env
    from y3d_pipeline.defs.sources.shipstation.resources import shipstation_resource_from_env
    from y3d_pipeline.defs.sources.shopify.resources import shopify_resource_from_env

    return {"database": database_resource, "alerts": alerts_resource_from_env(),
            "shop": ShopResource(settings=ShopSettings.from_env()), "shipstation": shipstation_resource_from_env(),
            "shopify": shopify_resource_from_env(), "amazon": amazon_resource_from_env()}
