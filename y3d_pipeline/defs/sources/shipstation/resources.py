"""The ShipStation resource (key ``shipstation``): credentials from the environment, knobs for the sync."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg
from pydantic import Field

from y3d_pipeline.defs.resources import EnvironmentBound, SourceResource, env_var_if_set
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.shipstation.client import DEFAULT_BASE_URL, MAX_PAGE_SIZE, ShipStationClient


class ShipStationConnection(EnvironmentBound):
    """SHIPSTATION_API_KEY, SHIPSTATION_API_SECRET and SHIPSTATION_BASE_URL (never run config)."""

    api_key: str | None = None
    api_secret: str | None = None
    base_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_env(cls) -> ShipStationConnection:
        return cls(api_key=env_var_if_set("SHIPSTATION_API_KEY"),
                   api_secret=env_var_if_set("SHIPSTATION_API_SECRET"),
                   base_url=load_settings().SHIPSTATION_BASE_URL)


class ShipStationResource(SourceResource):
    """ShipStation v1. Unset key or secret means "not configured": assets report it and do nothing.

    Only the sync's knobs are run config; the connection is not (see ``defs/resources.py``).
    """

    NOT_CONFIGURED_NOTE: ClassVar[str] = ("ShipStation not configured: set SHIPSTATION_API_KEY and "
                                          "SHIPSTATION_API_SECRET")

    connection: ShipStationConnection
    overlap_minutes: int = Field(default=60, ge=0, le=24 * 60)
    settle_seconds: int = Field(default=0, ge=0, le=3600)
    page_size: int = Field(default=MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    initial_backoff_seconds: float = Field(default=1.0, ge=0, le=60)

    @property
    def configured(self) -> bool:
        return bool(self.connection.api_key and self.connection.api_secret)

    def client(self) -> ShipStationClient:
        """A new plain client (close it, or use it as a context manager)."""
        self.require_configured()
        return ShipStationClient(
            self.connection.api_key or "",
            self.connection.api_secret or "",
            base_url=self.connection.base_url,
            page_size=self.page_size,
            timeout=self.timeout_seconds,
            retry_policy=self.retry_policy(initial_backoff=self.initial_backoff_seconds),
        )


def shipstation_resource_from_env() -> ShipStationResource:
    return ShipStationResource(connection=ShipStationConnection.from_env())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"shipstation": shipstation_resource_from_env()})
