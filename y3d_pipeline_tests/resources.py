"""Resources built in code from a sandbox's environment mapping (the contract's variable names).

Production builds them with ``<Connection>.from_env()``; tests point them at the sandbox with explicit
values. Either way endpoints and credentials are code, never run config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from y3d_pipeline.defs.print_queue.resources import OpenAIConnection, OpenAIResource
from y3d_pipeline.defs.resources import ShopResource, ShopSettings
from y3d_pipeline.defs.sources.amazon.resources import (
    AmazonConnection,
    AmazonCustomDownloadRules,
    AmazonResource,
)
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationConnection, ShipStationResource
from y3d_pipeline.defs.sources.shipstation_catalogue.resources import (
    ShipStationV2Connection,
    ShipStationV2Resource,
)
from y3d_pipeline.defs.sources.shopify.resources import ShopifyConnection, ShopifyResource


def shipstation_connection(env: Mapping[str, str] | None) -> ShipStationConnection:
    if env is None:
        return ShipStationConnection()
    return ShipStationConnection(api_key=env["SHIPSTATION_API_KEY"], api_secret=env["SHIPSTATION_API_SECRET"],
                                 base_url=env["SHIPSTATION_BASE_URL"])


def shipstation_resource(env: Mapping[str, str] | None, **knobs: Any) -> ShipStationResource:
    """``env=None``: not configured."""
    return ShipStationResource(connection=shipstation_connection(env), **knobs)


def shipstation_v2_resource(env: Mapping[str, str] | None, **knobs: Any) -> ShipStationV2Resource:
    """``env=None``: not configured."""
    connection = ShipStationV2Connection() if env is None else ShipStationV2Connection(
        api_key=env["SHIPSTATION_V2_API_KEY"], base_url=env["SHIPSTATION_V2_BASE_URL"])
    return ShipStationV2Resource(connection=connection, **knobs)


def shopify_resource(env: Mapping[str, str] | None, **knobs: Any) -> ShopifyResource:
    connection = ShopifyConnection() if env is None else ShopifyConnection(
        store=env["SHOPIFY_STORE"], access_token=env["SHOPIFY_ACCESS_TOKEN"], base_url=env["SHOPIFY_BASE_URL"])
    return ShopifyResource(connection=connection, **knobs)


def amazon_resource(env: Mapping[str, str], *, configured: bool = True, api_version: str = "2026-01-01",
                    **knobs: Any) -> AmazonResource:
    credentials = dict(client_id=env["AMAZON_LWA_CLIENT_ID"], client_secret=env["AMAZON_LWA_CLIENT_SECRET"],
                       refresh_token=env["AMAZON_LWA_REFRESH_TOKEN"]) if configured else {}
    connection = AmazonConnection(**credentials, token_url=env["AMAZON_LWA_TOKEN_URL"],
                                  sp_api_base_url=env["AMAZON_SP_API_BASE_URL"],
                                  marketplace_ids=env["AMAZON_MARKETPLACE_IDS"].split(","),
                                  orders_api_version=api_version)
    rules = AmazonCustomDownloadRules(allowed_hosts=env["AMAZON_CUSTOMIZATION_ALLOWED_HOSTS"].split(","),
                                      allow_http=env["AMAZON_CUSTOMIZATION_ALLOW_HTTP"] == "true")
    return AmazonResource(connection=connection, download_rules=rules, **knobs)


def openai_resource(env: Mapping[str, str] | None, **knobs: Any) -> OpenAIResource:
    """``env=None``: not configured."""
    connection = OpenAIConnection() if env is None else OpenAIConnection(api_key=env["OPENAI_API_KEY"],
                                                                         base_url=env["OPENAI_BASE_URL"])
    return OpenAIResource(connection=connection, **knobs)


def shop_resource(**settings: Any) -> ShopResource:
    """The shop's settings as a test wants them (defaults: write-back off, always open, placeholders on)."""
    return ShopResource(settings=ShopSettings(**settings))
