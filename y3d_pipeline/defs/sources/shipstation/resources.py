"""The ShipStation resource (key ``shipstation``): credentials from the environment, knobs for the sync."""

from __future__ import annotations

import dagster as dg

from y3d_pipeline.clients.http import RetryPolicy
from y3d_pipeline.clients.shipstation import DEFAULT_BASE_URL, MAX_PAGE_SIZE, ShipStationClient
from y3d_pipeline.defs.resources import env_var_if_set
from y3d_pipeline.settings import load_settings


class ShipStationResource(dg.ConfigurableResource):
    """ShipStation v1. Unset key or secret means "not configured": assets report it and do nothing."""

    api_key: str | None = None
    api_secret: str | None = None
    base_url: str = DEFAULT_BASE_URL
    overlap_minutes: int = 60
    settle_seconds: int = 0
    page_size: int = MAX_PAGE_SIZE
    timeout_seconds: float = 30.0
    max_retry_seconds: float = 600.0
    max_attempts: int = 6
    initial_backoff_seconds: float = 1.0

    @property
    def configured(self) -> bool:
        return bool(self.api_key and self.api_secret)

    def client(self) -> ShipStationClient:
        """A new plain client (close it, or use it as a context manager)."""
        if not self.configured:
            raise RuntimeError("ShipStation is not configured: set SHIPSTATION_API_KEY and SHIPSTATION_API_SECRET")
        return ShipStationClient(
            self.api_key or "",
            self.api_secret or "",
            base_url=self.base_url,
            page_size=self.page_size,
            timeout=self.timeout_seconds,
            retry_policy=RetryPolicy(max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds,
                                     initial_backoff=self.initial_backoff_seconds),
        )


NOT_CONFIGURED_NOTE = "ShipStation not configured: set SHIPSTATION_API_KEY and SHIPSTATION_API_SECRET"


def shipstation_resource_from_env() -> ShipStationResource:
    return ShipStationResource(
        api_key=env_var_if_set("SHIPSTATION_API_KEY"),
        api_secret=env_var_if_set("SHIPSTATION_API_SECRET"),
        base_url=load_settings().SHIPSTATION_BASE_URL,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"shipstation": shipstation_resource_from_env()})
