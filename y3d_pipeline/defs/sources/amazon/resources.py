"""The Amazon resource (key ``amazon``): SP-API credentials from the environment, Amazon Custom download rules.

Without the three LWA variables the SP-API side is "not configured" (``raw/amazon_orders`` reports it and does
nothing). Amazon Custom downloads need no LWA credentials (the CustomizedURL is a pre-signed file link), so
``raw/amazon_customizations`` still runs from the URLs ShipStation copies into item options.
"""

from __future__ import annotations

import dagster as dg

from y3d_pipeline.clients.amazon import API_2026, AmazonClient
from y3d_pipeline.clients.amazon_custom import DownloadPolicy
from y3d_pipeline.clients.http import RetryPolicy
from y3d_pipeline.defs.resources import env_var_if_set
from y3d_pipeline.settings import load_settings


class AmazonResource(dg.ConfigurableResource):
    """Amazon SP-API Orders (v2026-01-01, or v0 until Amazon removes it) and Amazon Custom file downloads."""

    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    token_url: str = "https://api.amazon.com/auth/o2/token"
    sp_api_base_url: str = "https://sellingpartnerapi-eu.amazon.com"
    marketplace_ids: list[str] = ["A1F83G8C2ARO7P"]
    orders_api_version: str = API_2026  # AMAZON_ORDERS_API_VERSION: "2026-01-01" or "v0"
    overlap_minutes: int = 60
    settle_seconds: int = 180  # Amazon needs >= 120 s; the rest is margin for clock differences
    timeout_seconds: float = 30.0
    max_retry_seconds: float = 600.0
    max_attempts: int = 6
    customization_allowed_hosts: list[str] = []
    customization_allow_http: bool = False  # the sandbox exception; also allows non-default ports
    customization_max_download_bytes: int = 10 * 1024 * 1024
    customization_max_retries: int = 3

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token)

    def client(self) -> AmazonClient:
        """A new plain SP-API client (close it, or use it as a context manager)."""
        if not self.configured:
            raise RuntimeError("Amazon SP-API is not configured: set AMAZON_LWA_CLIENT_ID, "
                               "AMAZON_LWA_CLIENT_SECRET and AMAZON_LWA_REFRESH_TOKEN")
        return AmazonClient(
            client_id=self.client_id or "", client_secret=self.client_secret or "",
            refresh_token=self.refresh_token or "", token_url=self.token_url, base_url=self.sp_api_base_url,
            marketplace_ids=self.marketplace_ids, timeout=self.timeout_seconds,
            api_version=self.orders_api_version,
            policy=RetryPolicy(max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds),
        )

    def download_policy(self) -> DownloadPolicy:
        return DownloadPolicy.from_settings(self.customization_allowed_hosts, self.customization_allow_http,
                                            max_download_bytes=self.customization_max_download_bytes)


def amazon_resource_from_env() -> AmazonResource:
    settings = load_settings()
    return AmazonResource(
        client_id=env_var_if_set("AMAZON_LWA_CLIENT_ID"),
        client_secret=env_var_if_set("AMAZON_LWA_CLIENT_SECRET"),
        refresh_token=env_var_if_set("AMAZON_LWA_REFRESH_TOKEN"),
        token_url=settings.AMAZON_LWA_TOKEN_URL,
        sp_api_base_url=settings.AMAZON_SP_API_BASE_URL,
        marketplace_ids=list(settings.AMAZON_MARKETPLACE_IDS),
        orders_api_version=settings.AMAZON_ORDERS_API_VERSION,
        customization_allowed_hosts=list(settings.AMAZON_CUSTOMIZATION_ALLOWED_HOSTS),
        customization_allow_http=settings.AMAZON_CUSTOMIZATION_ALLOW_HTTP,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"amazon": amazon_resource_from_env()})
