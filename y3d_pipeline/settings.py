"""Configuration read from the environment: exactly the variables in the public contract.

Plain module (no Dagster imports). Dagster resources read secrets through ``dg.EnvVar`` so they never
reach the UI; this class is used by the CLI, by structural switches (partitions, which sources are
configured) and to validate values early with clear messages.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from y3d_pipeline.business_hours import BusinessHours

DEFAULT_SHOPIFY_API_VERSION = "2026-01"
# SP-API Orders versions the Amazon client speaks (sources.amazon.records.API_VERSIONS); v0 goes when Amazon removes it
# on 2027-03-27.
AMAZON_ORDERS_API_2026 = "2026-01-01"
AMAZON_ORDERS_API_VERSIONS = (AMAZON_ORDERS_API_2026, "v0")
# Amazon's own domains only. Not amazonaws.com: that would admit any S3 bucket, anyone's; an operator who
# sees Custom zips served from a bucket adds that bucket's exact host.
AMAZON_CUSTOMIZATION_HOSTS = (
    "amazon.com",
    "amazon.co.uk",
    "amazon.de",
    "amazon.fr",
    "amazon.it",
    "amazon.es",
    "media-amazon.com",
)


def normalize_postgres_url(url: str, *, variable: str) -> str:
    """Return ``url`` with the psycopg2 driver made explicit.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` URL to psycopg 3, which breaks dagster-postgres's
    NOTIFY statements; the project speaks psycopg2 everywhere.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"{variable} is not a valid database URL (expected postgresql://user@host/db)") from exc
    if parsed.drivername == "postgres":  # Heroku-style scheme
        parsed = parsed.set(drivername="postgresql")
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"{variable} must be a PostgreSQL URL, got backend '{parsed.get_backend_name()}'")
    if not parsed.database:
        raise ValueError(f"{variable} must name a database (postgresql://user@host:5432/DBNAME)")
    return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=True)

    DATABASE_URL: str | None = None
    DAGSTER_HOME: str | None = None
    DAGSTER_PG_URL: str | None = None
    Y3D_TIMEZONE: str = "Europe/London"
    Y3D_START_DATE: dt.date = dt.date(2024, 1, 1)

    SHIPSTATION_API_KEY: SecretStr | None = None
    SHIPSTATION_API_SECRET: SecretStr | None = None
    SHIPSTATION_BASE_URL: str = "https://ssapi.shipstation.com"
    SHIPSTATION_V2_API_KEY: SecretStr | None = None  # the V2 inventory API (catalogue and stock source)
    SHIPSTATION_V2_BASE_URL: str = "https://api.shipstation.com/v2"

    SHOPIFY_STORE: str | None = None
    SHOPIFY_ACCESS_TOKEN: SecretStr | None = None
    SHOPIFY_API_VERSION: str = DEFAULT_SHOPIFY_API_VERSION
    SHOPIFY_BASE_URL: str | None = None

    AMAZON_LWA_CLIENT_ID: str | None = None
    AMAZON_LWA_CLIENT_SECRET: SecretStr | None = None
    AMAZON_LWA_REFRESH_TOKEN: SecretStr | None = None
    AMAZON_LWA_TOKEN_URL: str = "https://api.amazon.com/auth/o2/token"
    AMAZON_SP_API_BASE_URL: str = "https://sellingpartnerapi-eu.amazon.com"
    AMAZON_MARKETPLACE_IDS: Annotated[tuple[str, ...], NoDecode] = ("A1F83G8C2ARO7P",)
    AMAZON_CUSTOMIZATION_ALLOWED_HOSTS: Annotated[tuple[str, ...], NoDecode] = AMAZON_CUSTOMIZATION_HOSTS
    AMAZON_CUSTOMIZATION_ALLOW_HTTP: bool = False
    AMAZON_ORDERS_API_VERSION: str = AMAZON_ORDERS_API_2026

    OPENAI_API_KEY: SecretStr | None = None
    OPENAI_BASE_URL: str | None = None
    Y3D_OPENAI_MODEL: str = "gpt-4.1-mini"

    # Legacy populate-print-queue knobs, read as the defaults of print-task runs (run config overrides them).
    CREATE_PLACEHOLDER_ON_AI_ERROR: bool = True
    ORDER_PROCESSING_LIMIT: int | None = Field(default=None, ge=0)
    AI_CALL_DELAY_MS: int = Field(default=0, ge=0, le=60_000)

    Y3D_ALERT_WEBHOOK_URL: str | None = None
    Y3D_UI_BASE_URL: str = "http://127.0.0.1:3000"
    Y3D_RECONCILE_DAYS: int = Field(default=14, ge=1, le=366)
    Y3D_WRITEBACK_ENABLED: bool = False

    # Operations (issue 14): alert channels and thresholds, business hours.
    Y3D_ALERT_JSON_WEBHOOK_URL: str | None = None
    Y3D_BUSINESS_HOURS: str | None = None
    Y3D_MAX_SYNC_AGE_MINUTES: int = Field(default=30, ge=5, le=7 * 24 * 60)
    Y3D_ALERT_REVIEW_BACKLOG: int = Field(default=25, ge=1)
    Y3D_ALERT_SHIP_BY_HOURS: int = Field(default=24, ge=1, le=14 * 24)

    @field_validator("Y3D_BUSINESS_HOURS")
    @classmethod
    def _business_hours(cls, value: str | None, info) -> str | None:
        if value is None or value.strip() == "":
            return None
        try:
            BusinessHours.parse(value, ZoneInfo("UTC"))
        except ValueError as exc:
            raise ValueError(f"Y3D_BUSINESS_HOURS {exc} (shop time, e.g. 08:00-20:00)") from exc
        return value.strip()

    @cached_property
    def business_hours(self) -> BusinessHours | None:
        """``Y3D_BUSINESS_HOURS`` in the shop's timezone; None: always open."""
        return BusinessHours.parse(self.Y3D_BUSINESS_HOURS, self.timezone) if self.Y3D_BUSINESS_HOURS else None

    @field_validator("DATABASE_URL", "DAGSTER_PG_URL")
    @classmethod
    def _postgres_url(cls, value: str | None, info) -> str | None:
        if value is None or value.strip() == "":
            return None
        return normalize_postgres_url(value.strip(), variable=info.field_name)

    @field_validator("Y3D_UI_BASE_URL")
    @classmethod
    def _ui_base_url(cls, value: str) -> str:
        return value.strip().rstrip("/") or "http://127.0.0.1:3000"

    @field_validator("Y3D_TIMEZONE")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"Y3D_TIMEZONE '{value}' is not an IANA timezone (e.g. Europe/London)") from exc
        return value

    @field_validator("SHOPIFY_API_VERSION")
    @classmethod
    def _shopify_version(cls, value: str) -> str:
        try:
            year, month = value.split("-")
            if len(year) != 4 or month not in {"01", "04", "07", "10"}:
                raise ValueError
        except ValueError as exc:
            raise ValueError(f"SHOPIFY_API_VERSION '{value}' must look like YYYY-01/04/07/10") from exc
        return value

    @field_validator("AMAZON_ORDERS_API_VERSION", mode="before")
    @classmethod
    def _amazon_orders_version(cls, value):
        text = str(value).strip() if value is not None else ""
        if text == "":
            return AMAZON_ORDERS_API_2026
        if text not in AMAZON_ORDERS_API_VERSIONS:
            raise ValueError(f"AMAZON_ORDERS_API_VERSION '{text}' must be one of "
                             f"{', '.join(AMAZON_ORDERS_API_VERSIONS)}")
        return text

    @field_validator("AMAZON_MARKETPLACE_IDS", "AMAZON_CUSTOMIZATION_ALLOWED_HOSTS", mode="before")
    @classmethod
    def _comma_list(cls, value):
        if isinstance(value, str):
            items = tuple(part.strip() for part in value.split(",") if part.strip())
            if not items:
                raise ValueError("must list at least one comma-separated value")
            return items
        return value

    @field_validator(
        "SHIPSTATION_API_KEY",
        "SHIPSTATION_API_SECRET",
        "SHIPSTATION_V2_API_KEY",
        "SHOPIFY_ACCESS_TOKEN",
        "AMAZON_LWA_CLIENT_SECRET",
        "AMAZON_LWA_REFRESH_TOKEN",
        "OPENAI_API_KEY",
        mode="before",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value):
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("SHOPIFY_STORE", "AMAZON_LWA_CLIENT_ID", "Y3D_ALERT_WEBHOOK_URL", "OPENAI_BASE_URL",
                     "SHOPIFY_BASE_URL", "ORDER_PROCESSING_LIMIT", "Y3D_ALERT_JSON_WEBHOOK_URL", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("CREATE_PLACEHOLDER_ON_AI_ERROR", "AI_CALL_DELAY_MS", mode="before")
    @classmethod
    def _blank_is_default(cls, value, info):
        if isinstance(value, str) and value.strip() == "":
            return cls.model_fields[info.field_name].default
        return value

    @cached_property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.Y3D_TIMEZONE)

    @property
    def shipstation_configured(self) -> bool:
        return bool(self.SHIPSTATION_API_KEY and self.SHIPSTATION_API_SECRET)

    @property
    def shipstation_v2_configured(self) -> bool:
        return bool(self.SHIPSTATION_V2_API_KEY)

    @property
    def shopify_configured(self) -> bool:
        return bool(self.SHOPIFY_STORE and self.SHOPIFY_ACCESS_TOKEN)

    @property
    def amazon_configured(self) -> bool:
        return bool(self.AMAZON_LWA_CLIENT_ID and self.AMAZON_LWA_CLIENT_SECRET and self.AMAZON_LWA_REFRESH_TOKEN)

    @property
    def openai_configured(self) -> bool:
        return bool(self.OPENAI_API_KEY)

    @property
    def shopify_base_url(self) -> str | None:
        if self.SHOPIFY_BASE_URL:
            return self.SHOPIFY_BASE_URL.rstrip("/")
        return f"https://{self.SHOPIFY_STORE}" if self.SHOPIFY_STORE else None


def load_settings() -> Settings:
    """Read and validate the environment; raises ``pydantic.ValidationError`` naming the bad variable."""
    return Settings()
