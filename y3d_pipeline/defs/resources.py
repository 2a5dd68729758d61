"""Shared resources: the application database, the shop's own settings, the alert webhooks, and how every resource keeps endpoints,
secrets and safety switches out of run config. Source and OpenAI resources live with their assets.

Run config (the Launchpad's ``resources.<key>.config``, ``dg launch --config-json``) may override any config
field of a top-level resource. So where a resource talks to (endpoint), as whom (credentials) and what it
may download (safety rules) are not config fields: they live in a nested :class:`EnvironmentBound`
resource, built from the environment when the definitions load. Dagster leaves nested resources out of the
parent's config schema, so a run config naming one of those values is refused ("unexpected config entry")
before anything runs. What stays configurable is a tunable with bounds (page sizes, overlaps, timeouts).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, ClassVar

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, PrivateAttr
from sqlalchemy.orm import Session

from y3d_pipeline.alert_conditions import OperatorLimits
from y3d_pipeline.alerts import Alert, AlertDestinations, post_alert
from y3d_pipeline.business_hours import BusinessHours
from y3d_pipeline.db.engine import make_engine
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE
from y3d_pipeline.redaction import register_secret
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.http import RetryPolicy


def env_var_if_set(name: str) -> dg.EnvVar | None:
    """``dg.EnvVar(name)`` when the variable is set, else ``None`` (the "not configured" state).

    Choosing at load time keeps optional credentials optional while the value itself is still read by
    Dagster at launch and never shown in the UI or run config.
    """
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None


class EnvironmentBound(dg.ConfigurableResource):
    """Endpoints, credentials and safety rules of one resource, from the environment only.

    Always used as a *nested* resource (a field of the resource the assets ask for), never registered under
    a key of its own: that keeps it out of every run-config schema. Build it with the subclass's
    ``from_env()`` in the definitions; tests construct it with explicit values in code.
    """


class SourceResource(dg.ConfigurableResource):
    """A source API (ShipStation, Shopify, Amazon): its connection is an :class:`EnvironmentBound` field, its
    run-config knobs are bounded fields. Without credentials the source is *not configured*: ``configured``
    is false and ``NOT_CONFIGURED_NOTE`` says which variables to set; its assets report that (see
    ``defs/sources/raw_assets.py``), its sensors and schedules skip, and ``client()`` refuses."""

    NOT_CONFIGURED_NOTE: ClassVar[str]

    # The client's request retries (run config, bounded): attempts for failures, and a budget of time for
    # failures and rate-limit waits together.
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    max_retry_seconds: float = Field(default=600.0, ge=0, le=3600)
    max_attempts: int = Field(default=6, ge=1, le=20)

    @property
    def configured(self) -> bool:
        raise NotImplementedError

    def retry_policy(self, **overrides: Any) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds, **overrides)

    def require_configured(self) -> None:
        if not self.configured:
            raise RuntimeError(self.NOT_CONFIGURED_NOTE)


class DatabaseConnection(EnvironmentBound):
    """``DATABASE_URL``; ``None`` means the embedded server under ``.y3d/``."""

    url: str | None = None

    @classmethod
    def from_env(cls) -> DatabaseConnection:
        return cls(url=env_var_if_set("DATABASE_URL"))


class DatabaseResource(dg.ConfigurableResource):
    """The application's PostgreSQL. With no URL configured it starts the embedded server under .y3d/."""

    connection: DatabaseConnection

    _engine: sa.Engine | None = PrivateAttr(default=None)

    @classmethod
    def for_url(cls, url: str | None) -> DatabaseResource:
        return cls(connection=DatabaseConnection(url=url))

    def _resolve_url(self) -> str:
        if self.connection.url:
            return self.connection.url
        from y3d_pipeline.db.embedded import ensure_embedded_databases

        return ensure_embedded_databases().app_url

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = make_engine(self._resolve_url(), pool_size=5, max_overflow=5)
        return self._engine

    @contextmanager
    def session(self):
        """A session whose transaction commits on success and rolls back on any error."""
        with Session(self.engine) as session, session.begin():
            yield session

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class ShopSettings(EnvironmentBound):
    """How this shop runs, from the environment only: whether the pipeline may write to ShipStation at all (a run
    config must never turn that on), its business hours, how stale a source may get, and the legacy print-task
    knobs (the defaults of ``print_tasks``' run config, which may override them per run). Its calendar is the
    partitions' (``SHOP_TIMEZONE``, from ``Y3D_TIMEZONE``)."""

    writeback_enabled: bool = False  # Y3D_WRITEBACK_ENABLED
    business_hours: str | None = None  # Y3D_BUSINESS_HOURS, e.g. "08:00-20:00" shop time; None: always open
    max_sync_age_minutes: int = 30  # Y3D_MAX_SYNC_AGE_MINUTES
    create_placeholders: bool = True  # CREATE_PLACEHOLDER_ON_AI_ERROR
    order_processing_limit: int | None = None  # ORDER_PROCESSING_LIMIT
    ai_call_delay_ms: int = 0  # AI_CALL_DELAY_MS

    @classmethod
    def from_env(cls) -> ShopSettings:
        settings = load_settings()  # validated: a bad value stops the load with the variable's name
        return cls(writeback_enabled=settings.Y3D_WRITEBACK_ENABLED, business_hours=settings.Y3D_BUSINESS_HOURS,
                   max_sync_age_minutes=settings.Y3D_MAX_SYNC_AGE_MINUTES,
                   create_placeholders=settings.CREATE_PLACEHOLDER_ON_AI_ERROR,
                   order_processing_limit=settings.ORDER_PROCESSING_LIMIT, ai_call_delay_ms=settings.AI_CALL_DELAY_MS)


class ShopResource(dg.ConfigurableResource):
    """The shop's settings for assets and sensors (key ``shop``); tests swap it instead of editing the
    environment. Nothing of it is run config."""

    settings: ShopSettings

    @property
    def business_hours(self) -> BusinessHours | None:
        hours = self.settings.business_hours
        return BusinessHours.parse(hours, SHOP_TIMEZONE) if hours else None


class AlertSettings(EnvironmentBound):
    """Where alerts go and when a standing condition is worth one, from the environment only: a webhook URL is a
    credential (Slack's carries its token), so it is an ``EnvVar``, never run config or UI-visible."""

    webhook_url: str | None = None  # Y3D_ALERT_WEBHOOK_URL (Slack-compatible)
    json_webhook_url: str | None = None  # Y3D_ALERT_JSON_WEBHOOK_URL
    ui_base_url: str = "http://127.0.0.1:3000"  # Y3D_UI_BASE_URL, what the links point at
    review_backlog: int = 25  # Y3D_ALERT_REVIEW_BACKLOG
    ship_by_hours: int = 24  # Y3D_ALERT_SHIP_BY_HOURS

    @classmethod
    def from_env(cls) -> AlertSettings:
        settings = load_settings()  # validated: a bad value stops the load with the variable's name
        return cls(webhook_url=env_var_if_set("Y3D_ALERT_WEBHOOK_URL"),
                   json_webhook_url=env_var_if_set("Y3D_ALERT_JSON_WEBHOOK_URL"),
                   ui_base_url=settings.Y3D_UI_BASE_URL, review_backlog=settings.Y3D_ALERT_REVIEW_BACKLOG,
                   ship_by_hours=settings.Y3D_ALERT_SHIP_BY_HOURS)


class AlertsResource(dg.ConfigurableResource):
    """The alert sensors' webhooks and thresholds (key ``alerts``); tests swap it. Nothing of it is run config."""

    settings: AlertSettings

    @property
    def destinations(self) -> AlertDestinations:
        s = self.settings
        register_secret(s.webhook_url, s.json_webhook_url)
        return AlertDestinations(webhook_url=s.webhook_url, json_webhook_url=s.json_webhook_url,
                                 ui_base_url=s.ui_base_url)

    @property
    def ui_base_url(self) -> str:
        return self.settings.ui_base_url

    def post(self, alert: Alert, logger=None) -> bool:
        """:func:`y3d_pipeline.alerts.post_alert` to this deployment's webhooks (never raises)."""
        return post_alert(alert, self.destinations, logger=logger)

    def operator_limits(self, shop: ShopResource) -> OperatorLimits:
        return OperatorLimits(review_backlog=self.settings.review_backlog, ship_by_hours=self.settings.ship_by_hours,
                              max_sync_age_minutes=shop.settings.max_sync_age_minutes,
                              business_hours=shop.business_hours, ui_base_url=self.settings.ui_base_url)


def alerts_resource_from_env() -> AlertsResource:
    return AlertsResource(settings=AlertSettings.from_env())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"database": DatabaseResource(connection=DatabaseConnection.from_env()),
                                     "shop": ShopResource(settings=ShopSettings.from_env()),
                                     "alerts": alerts_resource_from_env()})
