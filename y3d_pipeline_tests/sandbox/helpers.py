"""Plain-httpx helpers for talking to the sandbox the way the pipeline's clients do."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from y3d_pipeline.sandbox.server import SandboxServer

PACIFIC = ZoneInfo("America/Los_Angeles")
SHOPIFY_VERSION = "2025-07"


def shipstation(sb: SandboxServer, timeout: float = 10) -> httpx.Client:
    env = sb.env()
    return httpx.Client(base_url=env["SHIPSTATION_BASE_URL"], timeout=timeout,
                        auth=(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"]))


def all_orders(client: httpx.Client, page_size: int = 500, **params) -> list[dict]:
    orders, page = [], 1
    while True:
        body = client.get("/orders", params={**params, "page": page, "pageSize": page_size}).raise_for_status().json()
        orders.extend(body["orders"])
        if page >= body["pages"]:
            return orders
        page += 1


def pacific_to_utc(value: str) -> datetime:
    """ShipStation response string (Pacific, 7 fractional digits, no offset) -> aware UTC."""
    naive = datetime.strptime(value[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return naive.replace(tzinfo=PACIFIC).astimezone(UTC)


def amazon_token(sb: SandboxServer) -> str:
    env = sb.env()
    response = httpx.post(env["AMAZON_LWA_TOKEN_URL"], data={
        "grant_type": "refresh_token", "refresh_token": env["AMAZON_LWA_REFRESH_TOKEN"],
        "client_id": env["AMAZON_LWA_CLIENT_ID"], "client_secret": env["AMAZON_LWA_CLIENT_SECRET"]})
    return response.raise_for_status().json()["access_token"]


def amazon(sb: SandboxServer, token: str | None = None) -> httpx.Client:
    env = sb.env()
    return httpx.Client(base_url=env["AMAZON_SP_API_BASE_URL"], timeout=10,
                        headers={"x-amz-access-token": token or amazon_token(sb)})


def shopify(sb: SandboxServer) -> httpx.Client:
    env = sb.env()
    return httpx.Client(base_url=env["SHOPIFY_BASE_URL"], timeout=10,
                        headers={"X-Shopify-Access-Token": env["SHOPIFY_ACCESS_TOKEN"]})


def graphql(client: httpx.Client, document: str, **variables) -> httpx.Response:
    return client.post(f"/admin/api/{SHOPIFY_VERSION}/graphql.json", json={"query": document, "variables": variables})
