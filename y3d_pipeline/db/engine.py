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
    """A psycopg2 engine; connections are checked before use because runs can outlive server restarts, and run
    without PostgreSQL's JIT (see :func:`_without_jit`)."""
    engine = sa.create_engine(
        normalize_postgres_url(url, variable="database URL"),
        pool_pre_ping=True,
        **kwargs,
    )
    sa.event.listen(engine, "connect", _without_jit)
    return engine


def _without_jit(dbapi_connection, _record) -> None:
    """Turn JIT compilation off for the session. Our statements are batch-sized (thousands of rows) and wide (the
    ShipStation mapping evaluates ~300 expressions per order): on a server with JIT on (PostgreSQL's default
    where LLVM is installed, e.g. Debian's packages and the official Docker image) their planned cost crosses
    ``jit_above_cost`` and compiling them costs more than it saves: normalizing 10,000 orders took 4.8 s with JIT
    and 2.1 s without (benchmarks/RESULTS.md). Set per session, not as a startup option, which poolers such as
    PgBouncer refuse."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()
