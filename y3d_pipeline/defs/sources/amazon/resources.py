"""The Amazon resource (key ``amazon``): SP-API credentials from the environment, Amazon Custom download rules.

Without the three LWA variables the SP-API side is "not configured" (``raw/amazon_orders`` reports it and does
nothing). Amazon Custom downloads need no LWA credentials (the CustomizedURL is a pre-signed file link), so
``raw/amazon_customizations`` still runs from the URLs ShipStation copies into item options.
"""

from __future__ import annotations

from typing import ClassVar

import dagster as dg
from pydantic import Field

from y3d_pipeline.defs.resources import EnvironmentBound, SourceResource, env_var_if_set
from y3d_pipeline.redaction import register_secret
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.amazon.client import AmazonClient
from y3d_pipeline.sources.amazon.custom.policy import DownloadPolicy
from y3d_pipeline.sources.amazon.custom.store import DEFAULT_DOWNLOAD_CONCURRENCY
from y3d_pipeline.sources.amazon.records import API_2026

MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024


class AmazonConnection(EnvironmentBound):
    """AMAZON_LWA_* credentials, the LWA token URL, the SP-API host and the marketplaces (never run config)."""

    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None
    token_url: str = "https://api.amazon.com/auth/o2/token"
    sp_api_base_url: str = "https://sellingpartnerapi-eu.amazon.com"
    marketplace_ids: list[str] = ["A1F83G8C2ARO7P"]
    orders_api_version: str = API_2026  # AMAZON_ORDERS_API_VERSION: "2026-01-01" or "v0"

    @classmethod
    def from_env(cls) -> AmazonConnection:
        settings = load_settings()
        return cls(client_id=env_var_if_set("AMAZON_LWA_CLIENT_ID"),
                   client_secret=env_var_if_set("AMAZON_LWA_CLIENT_SECRET"),
                   refresh_token=env_var_if_set("AMAZON_LWA_REFRESH_TOKEN"),
                   token_url=settings.AMAZON_LWA_TOKEN_URL, sp_api_base_url=settings.AMAZON_SP_API_BASE_URL,
                   marketplace_ids=list(settings.AMAZON_MARKETPLACE_IDS),
                   orders_api_version=settings.AMAZON_ORDERS_API_VERSION)


class AmazonCustomDownloadRules(EnvironmentBound):
    """Where Amazon Custom zips may come from (AMAZON_CUSTOMIZATION_ALLOWED_HOSTS / _ALLOW_HTTP) and how big
    they may be: an SSRF boundary, so never run config."""

    allowed_hosts: list[str] = []
    allow_http: bool = False  # the sandbox exception; also allows non-default ports
    max_download_bytes: int = MAX_DOWNLOAD_BYTES

    @classmethod
    def from_env(cls) -> AmazonCustomDownloadRules:
        settings = load_settings()
        return cls(allowed_hosts=list(settings.AMAZON_CUSTOMIZATION_ALLOWED_HOSTS),
                   allow_http=settings.AMAZON_CUSTOMIZATION_ALLOW_HTTP)


class AmazonResource(SourceResource):
    """Amazon SP-API Orders (v2026-01-01, or v0 until Amazon removes it) and Amazon Custom file downloads. Only the
    knobs below are run config. "Not configured" is about the SP-API: Custom downloads need no credentials."""

    NOT_CONFIGURED_NOTE: ClassVar[str] = ("Amazon SP-API not configured: set AMAZON_LWA_CLIENT_ID, "
                                          "AMAZON_LWA_CLIENT_SECRET and AMAZON_LWA_REFRESH_TOKEN")

    connection: AmazonConnection
    download_rules: AmazonCustomDownloadRules
    overlap_minutes: int = Field(default=60, ge=0, le=24 * 60)
    settle_seconds: int = Field(default=180, ge=120, le=3600)  # Amazon needs >= 120 s; the rest is margin
    customization_max_retries: int = Field(default=3, ge=0, le=10)
    customization_download_concurrency: int = Field(default=DEFAULT_DOWNLOAD_CONCURRENCY, ge=1, le=32)

    @property
    def configured(self) -> bool:
        c = self.connection
        return bool(c.client_id and c.client_secret and c.refresh_token)

    @property
    def orders_api_version(self) -> str:
        return self.connection.orders_api_version

    @property
    def marketplace_ids(self) -> list[str]:
        return list(self.connection.marketplace_ids)

    def client(self) -> AmazonClient:
        """A new plain SP-API client (close it, or use it as a context manager)."""
        self.require_configured()
        c = self.connection
        register_secret(c.client_secret, c.refresh_token)
        return AmazonClient(
            client_id=c.client_id or "", client_secret=c.client_secret or "",
            refresh_token=c.refresh_token or "", token_url=c.token_url, base_url=c.sp_api_base_url,
            marketplace_ids=c.marketplace_ids, timeout=self.timeout_seconds, api_version=c.orders_api_version,
            retry_policy=self.retry_policy(),
        )

    def download_policy(self) -> DownloadPolicy:
        rules = self.download_rules
        return DownloadPolicy.from_settings(rules.allowed_hosts, rules.allow_http,
                                            max_download_bytes=rules.max_download_bytes)


def amazon_resource_from_env() -> AmazonResource:
    return AmazonResource(connection=AmazonConnection.from_env(), download_rules=AmazonCustomDownloadRules.from_env())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"amazon": amazon_resource_from_env()})
