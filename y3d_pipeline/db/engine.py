"""Engines and URLs for the application database."""

from __future__ import annotations

import sqlalchemy as sa

from y3d_pipeline.settings import Settings, load_settings, normalize_postgres_url


def resolve_app_database_url(settings: Settings | None = None) -> str:
    """``DATABASE_URL`` if set, else the embedded server's application database (started on demand)."""
    settings = settings or load_settings()
    if settings.DATABASE_URL:
        return settings.DATABASE_URL
    from y3d_pipeline.db.embedded import ensure_embedded_databases

    return ensure_embedded_databases().app_url


def make_engine(url: str, **kwargs) -> sa.Engine:
    """A psycopg2 engine; connections are checked before use because runs can outlive server restarts."""
    return sa.create_engine(
        normalize_postgres_url(url, variable="database URL"),
        pool_pre_ping=True,
        **kwargs,
    )
