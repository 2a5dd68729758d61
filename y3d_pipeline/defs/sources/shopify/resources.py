"""The Shopify resource (key ``shopify``): shop and token from the environment, knobs for the sync."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg
from pydantic import Field

from y3d_pipeline.defs.resources import EnvironmentBound, SourceResource, env_var_if_set
from y3d_pipeline.redaction import register_secret
from y3d_pipeline.settings import DEFAULT_SHOPIFY_API_VERSION, load_settings
from y3d_pipeline.sources.shopify.client import DEFAULT_COST_BUDGET, ShopifyClient


class ShopifyConnection(EnvironmentBound):
    """SHOPIFY_STORE, SHOPIFY_ACCESS_TOKEN, SHOPIFY_BASE_URL and SHOPIFY_API_VERSION (never run config)."""

    store: str | None = None
    access_token: str | None = None
    base_url: str | None = None  # SHOPIFY_BASE_URL; default https://{store}
    api_version: str = DEFAULT_SHOPIFY_API_VERSION

    @classmethod
    def from_env(cls) -> ShopifyConnection:
        return cls(store=env_var_if_set("SHOPIFY_STORE"), access_token=env_var_if_set("SHOPIFY_ACCESS_TOKEN"),
                   base_url=env_var_if_set("SHOPIFY_BASE_URL"),
                   api_version=load_settings().SHOPIFY_API_VERSION)  # validated YYYY-01/04/07/10


class ShopifyResource(SourceResource):
    """Shopify Admin GraphQL. Unset store or token means "not configured": assets report it and do nothing.

    ``extended_order_fields`` asks for the buyer (``customer``), ``shippingAddress`` and the subtotal/tax/
    shipping totals; Shopify only serves customer and address fields to apps with protected customer data
    access, so turn it off for an app without it. Only these knobs are run config; the connection is not
    (see ``defs/resources.py``).
    """

    NOT_CONFIGURED_NOTE: ClassVar[str] = "Shopify not configured: set SHOPIFY_STORE and SHOPIFY_ACCESS_TOKEN"

    connection: ShopifyConnection
    extended_order_fields: bool = True
    overlap_minutes: int = Field(default=60, ge=0, le=24 * 60)
    cost_budget: int = Field(default=DEFAULT_COST_BUDGET, ge=1, le=1000)
    orders_page_size: int | None = Field(default=None, ge=1, le=250)  # None: as many as fit the cost budget
    line_items_page_size: int = Field(default=5, ge=1, le=250)
    products_page_size: int | None = Field(default=None, ge=1, le=250)

    @property
    def configured(self) -> bool:
        return bool(self.connection.store and self.connection.access_token)

    @property
    def api_version(self) -> str:
        return self.connection.api_version

    @property
    def endpoint_base(self) -> str:
        return (self.connection.base_url or f"https://{self.connection.store}").rstrip("/")

    def client(self) -> ShopifyClient:
        """A new plain client (close it, or use it as a context manager)."""
        self.require_configured()
        register_secret(self.connection.access_token)
        return ShopifyClient(
            base_url=self.endpoint_base,
            access_token=self.connection.access_token or "",
            api_version=self.api_version,
            extended_order_fields=self.extended_order_fields,
            cost_budget=self.cost_budget,
            orders_page_size=self.orders_page_size,
            line_items_page_size=self.line_items_page_size,
            products_page_size=self.products_page_size,
            timeout=self.timeout_seconds,
            retry_policy=self.retry_policy(),
        )


def shopify_resource_from_env() -> ShopifyResource:
    return ShopifyResource(connection=ShopifyConnection.from_env())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"shopify": shopify_resource_from_env()})
