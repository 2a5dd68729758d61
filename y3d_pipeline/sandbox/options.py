from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, Field

APIS = ("shipstation", "shipstation_v2", "shopify", "amazon", "custom", "openai")


class FaultSpec(BaseModel):
    """One fault rule. `count` faults are served then the rule is spent; `rate` (0..1) applies
    to that fraction of matching requests (deterministically) until cleared."""

    api: str
    kind: str
    count: int | None = 1
    rate: float | None = None
    match: str | None = None  # path prefix below the API root, e.g. "/orders"; "/v2/inventory$": that path only
    delay_ms: int | None = None


class SandboxOptions(BaseModel):
    seed: int = 7
    days: int = 60
    orders_per_day: int = 150
    end_date: date = Field(default_factory=lambda: datetime.now(UTC).date())
    rate_limit_scale: float = 1.0
    openai_latency_ms: int = 0
    openai_wrong_quantity_rate: float = 0.0
    openai_malformed_rate: float = 0.0
    amazon_token_expires_in: int = 3600
    shopify_read_all_orders: bool = True  # False: Shopify shows only the last 60 days of orders
    # False: the app lacks Shopify's protected customer data approval; protected fields answer ACCESS_DENIED
    shopify_protected_customer_data: bool = True
    # Simulated "now" at start. None: real now if end_date is today or later (and the clock
    # runs with real time), else midnight UTC after end_date (and the clock stands still).
    start_clock: datetime | None = None
    clock_running: bool | None = None
    faults: list[FaultSpec] = Field(default_factory=list)

    shipstation_api_key: str = "ss-sandbox-key"
    shipstation_api_secret: str = "ss-sandbox-secret"
    shipstation_v2_api_key: str = "ssv2-sandbox-key-0000"
    shopify_store: str = "y3d-sandbox.myshopify.com"
    shopify_access_token: str = "shpat_sandbox0000000000000000000000"
    amazon_lwa_client_id: str = "amzn1.application-oa2-client.sandbox"
    amazon_lwa_client_secret: str = "amzn1.oa2-cs.v1.sandbox-secret"
    amazon_lwa_refresh_token: str = "Atzr|sandbox-refresh-token"
    amazon_marketplace_id: str = "A1F83G8C2ARO7P"
    openai_api_key: str = "sk-sandbox-0000000000000000"
