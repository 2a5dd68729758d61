"""The ShipStation V2 resource (key ``shipstation_v2``): the inventory API's key and host from the environment,
knobs for the sync. The catalogue's v1 half (warehouses, products) uses the ``shipstation`` resource."""

from __future__ import annotations

from typing import ClassVar

import dagster as dg
from pydantic import Field

from y3d_pipeline.defs.resources import EnvironmentBound, SourceResource, env_var_if_set
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.shipstation_catalogue.client import (
    DEFAULT_BASE_URL,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ShipStationV2Client,
)


class ShipStationV2Connection(EnvironmentBound):
    """SHIPSTATION_V2_API_KEY and SHIPSTATION_V2_BASE_URL (never run config)."""

    api_key: str | None = None
    base_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_env(cls) -> ShipStationV2Connection:
        return cls(api_key=env_var_if_set("SHIPSTATION_V2_API_KEY"), base_url=load_settings().SHIPSTATION_V2_BASE_URL)


class ShipStationV2Resource(SourceResource):
    """ShipStation's V2 inventory API. An unset key means "not configured": its assets report it and do nothing."""

    NOT_CONFIGURED_NOTE: ClassVar[str] = ("ShipStation V2 (inventory) not configured: set SHIPSTATION_V2_API_KEY "
                                          "(an account with the Inventory API add-on)")

    connection: ShipStationV2Connection
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    initial_backoff_seconds: float = Field(default=1.0, ge=0, le=60)

    @property
    def configured(self) -> bool:
        return bool(self.connection.api_key)

    def client(self) -> ShipStationV2Client:
        """A new plain client (close it, or use it as a context manager)."""
        self.require_configured()
        return ShipStationV2Client(self.connection.api_key or "", base_url=self.connection.base_url,
                                   page_size=self.page_size, timeout=self.timeout_seconds,
                                   retry_policy=self.retry_policy(initial_backoff=self.initial_backoff_seconds))


def shipstation_v2_resource_from_env() -> ShipStationV2Resource:
    return ShipStationV2Resource(connection=ShipStationV2Connection.from_env())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"shipstation_v2": shipstation_v2_resource_from_env()})
