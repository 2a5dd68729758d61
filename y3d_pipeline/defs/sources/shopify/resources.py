"""The Shopify resource (key ``shopify``): shop and token from the environment, knobs for the sync."""

from __future__ import annotations

import dagster as dg

from y3d_pipeline.clients.http import RetryPolicy
from y3d_pipeline.clients.shopify import DEFAULT_COST_BUDGET, ShopifyClient
from y3d_pipeline.defs.resources import env_var_if_set
from y3d_pipeline.settings import DEFAULT_SHOPIFY_API_VERSION, load_settings

NOT_CONFIGURED_NOTE = "Shopify not configured: set SHOPIFY_STORE and SHOPIFY_ACCESS_TOKEN"


class ShopifyResource(dg.ConfigurableResource):
    """Shopify Admin GraphQL. Unset store or token means "not configured": assets report it and do nothing.

    ``extended_order_fields`` asks for the buyer (``customer``), ``shippingAddress`` and the subtotal/tax/
    shipping totals; Shopify only serves customer and address fields to apps with protected customer data
    access, so turn it off for an app without it.
    """

    store: str | None = None
    access_token: str | None = None
    base_url: str | None = None  # SHOPIFY_BASE_URL; default https://{store}
    api_version: str = DEFAULT_SHOPIFY_API_VERSION
    extended_order_fields: bool = True
    overlap_minutes: int = 60
    cost_budget: int = DEFAULT_COST_BUDGET
    orders_page_size: int | None = None  # None: as many as fit the cost budget (at most 250)
    line_items_page_size: int = 5
    products_page_size: int | None = None
    timeout_seconds: float = 30.0
    max_retry_seconds: float = 600.0
    max_attempts: int = 6

    @property
    def configured(self) -> bool:
        return bool(self.store and self.access_token)

    @property
    def endpoint_base(self) -> str:
        return (self.base_url or f"https://{self.store}").rstrip("/")

    def client(self) -> ShopifyClient:
        """A new plain client (close it, or use it as a context manager)."""
        if not self.configured:
            raise RuntimeError(NOT_CONFIGURED_NOTE)
        return ShopifyClient(
            base_url=self.endpoint_base,
            access_token=self.access_token or "",
            api_version=self.api_version,
            extended_order_fields=self.extended_order_fields,
            cost_budget=self.cost_budget,
            orders_page_size=self.orders_page_size,
            line_items_page_size=self.line_items_page_size,
            products_page_size=self.products_page_size,
            timeout=self.timeout_seconds,
            policy=RetryPolicy(max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds),
        )


def shopify_resource_from_env() -> ShopifyResource:
    return ShopifyResource(
        store=env_var_if_set("SHOPIFY_STORE"),
        access_token=env_var_if_set("SHOPIFY_ACCESS_TOKEN"),
        base_url=env_var_if_set("SHOPIFY_BASE_URL"),
        api_version=load_settings().SHOPIFY_API_VERSION,  # validated YYYY-01/04/07/10
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"shopify": shopify_resource_from_env()})
