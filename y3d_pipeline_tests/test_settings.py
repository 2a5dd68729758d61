"""Settings read exactly the contract's variables and reject bad values with clear messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from y3d_pipeline.settings import Settings


def settings(**env) -> Settings:
    return Settings(_env_file=None, **env)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)


def test_defaults_match_the_contract():
    s = settings()
    assert s.DATABASE_URL is None
    assert s.Y3D_TIMEZONE == "Europe/London"
    assert s.Y3D_START_DATE.isoformat() == "2024-01-01"
    assert s.SHIPSTATION_BASE_URL == "https://ssapi.shipstation.com"
    assert s.AMAZON_MARKETPLACE_IDS == ("A1F83G8C2ARO7P",)
    assert s.Y3D_OPENAI_MODEL == "gpt-4.1-mini"
    assert s.Y3D_WRITEBACK_ENABLED is False
    assert "amazon.co.uk" in s.AMAZON_CUSTOMIZATION_ALLOWED_HOSTS
    assert not any("amazonaws" in host for host in s.AMAZON_CUSTOMIZATION_ALLOWED_HOSTS), "any S3 bucket"
    assert s.AMAZON_CUSTOMIZATION_ALLOW_HTTP is False
    assert s.AMAZON_ORDERS_API_VERSION == "2026-01-01"
    assert not (s.shipstation_configured or s.shopify_configured or s.amazon_configured or s.openai_configured)


def test_malformed_database_url_is_rejected_with_its_name(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "not a url")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "DATABASE_URL is not a valid database URL" in str(err.value)


def test_non_postgres_database_url_is_rejected(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/shop")
    with pytest.raises(ValidationError, match="must be a PostgreSQL URL"):
        Settings()


def test_postgres_urls_get_the_psycopg2_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p%40ss@db.example:5432/shop")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgres://u@db.example/dagster")
    s = Settings()
    assert s.DATABASE_URL == "postgresql+psycopg2://u:p%40ss@db.example:5432/shop"
    assert s.DAGSTER_PG_URL == "postgresql+psycopg2://u@db.example/dagster"


def test_unknown_timezone_is_rejected(monkeypatch):
    monkeypatch.setenv("Y3D_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="Y3D_TIMEZONE 'Mars/Olympus_Mons' is not an IANA timezone"):
        Settings()


def test_bad_start_date_is_rejected(monkeypatch):
    monkeypatch.setenv("Y3D_START_DATE", "yesterday")
    with pytest.raises(ValidationError, match="Y3D_START_DATE"):
        Settings()


def test_unsupported_shopify_version_format_is_rejected(monkeypatch):
    monkeypatch.setenv("SHOPIFY_API_VERSION", "2026-02")
    with pytest.raises(ValidationError, match="SHOPIFY_API_VERSION"):
        Settings()


def test_credentials_make_sources_configured_and_stay_secret(monkeypatch):
    monkeypatch.setenv("SHIPSTATION_API_KEY", "key-123")
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "secret-456")
    monkeypatch.setenv("SHOPIFY_STORE", "shop.myshopify.com")
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "   ")
    s = Settings()
    assert s.shipstation_configured
    assert not s.shopify_configured, "a blank token means not configured"
    assert "secret-456" not in repr(s) and "secret-456" not in str(s.model_dump())
    assert s.shopify_base_url == "https://shop.myshopify.com"


@pytest.mark.parametrize(("value", "expected"), [("2026-01-01", "2026-01-01"), (" v0 ", "v0"), ("", "2026-01-01")])
def test_amazon_orders_api_version(monkeypatch, value, expected):
    monkeypatch.setenv("AMAZON_ORDERS_API_VERSION", value)
    assert Settings().AMAZON_ORDERS_API_VERSION == expected


def test_unknown_amazon_orders_api_version_is_rejected(monkeypatch):
    monkeypatch.setenv("AMAZON_ORDERS_API_VERSION", "2021-01-01")
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "AMAZON_ORDERS_API_VERSION '2021-01-01' must be one of 2026-01-01, v0" in str(err.value)


def test_comma_lists(monkeypatch):
    monkeypatch.setenv("AMAZON_MARKETPLACE_IDS", "A1F83G8C2ARO7P, A1PA6795UKMFR9")
    monkeypatch.setenv("AMAZON_CUSTOMIZATION_ALLOWED_HOSTS", "zme-caps.amazon.com")
    s = Settings()
    assert s.AMAZON_MARKETPLACE_IDS == ("A1F83G8C2ARO7P", "A1PA6795UKMFR9")
    assert s.AMAZON_CUSTOMIZATION_ALLOWED_HOSTS == ("zme-caps.amazon.com",)
    monkeypatch.setenv("AMAZON_MARKETPLACE_IDS", " , ")
    with pytest.raises(ValidationError, match="at least one"):
        Settings()


def test_boolean_flags(monkeypatch):
    monkeypatch.setenv("Y3D_WRITEBACK_ENABLED", "maybe")
    with pytest.raises(ValidationError, match="Y3D_WRITEBACK_ENABLED"):
        Settings()
    monkeypatch.setenv("Y3D_WRITEBACK_ENABLED", "true")
    assert Settings().Y3D_WRITEBACK_ENABLED is True


def test_reconcile_days_and_ui_url(monkeypatch):
    assert settings().Y3D_RECONCILE_DAYS == 14
    monkeypatch.setenv("Y3D_RECONCILE_DAYS", "0")
    with pytest.raises(ValidationError, match="Y3D_RECONCILE_DAYS"):
        Settings()
    monkeypatch.setenv("Y3D_RECONCILE_DAYS", "30")
    monkeypatch.setenv("Y3D_UI_BASE_URL", "https://dagster.shop.example/")
    s = Settings()
    assert s.Y3D_RECONCILE_DAYS == 30 and s.Y3D_UI_BASE_URL == "https://dagster.shop.example"
