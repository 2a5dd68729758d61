"""Real PostgreSQL for tests: the embedded server (what a user's machine has) unless Y3D_TEST_PG_URL is set.

One server per session; one freshly migrated database per session; tables truncated between tests that
ask for ``clean_db``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from y3d_pipeline.db.engine import make_engine
from y3d_pipeline.db.models import Base
from y3d_pipeline.paths import state_dir


def _admin_url() -> str:
    url = os.environ.get("Y3D_TEST_PG_URL")
    if url:
        return url
    from y3d_pipeline.db.embedded import ensure_embedded_databases

    embedded = ensure_embedded_databases(pgdata=Path(state_dir()) / "test-pgdata", keep_running=False)
    return str(sa.engine.make_url(embedded.app_url).set(database="postgres").render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A URL on the test server with the right to create databases."""
    return _admin_url()


class DatabaseFactory:
    """Creates throwaway databases on the test server and drops them at session end."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self._admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.created: list[str] = []

    def create(self, prefix: str = "y3d_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self._admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return sa.engine.make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.connect() as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def database_factory(pg_admin_url):
    factory = DatabaseFactory(pg_admin_url)
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def app_db_url(database_factory) -> str:
    """A database migrated to head, shared by the session."""
    from y3d_pipeline.db.migrate import upgrade

    url = database_factory.create()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def app_engine(app_db_url) -> sa.Engine:
    engine = make_engine(app_db_url)
    yield engine
    engine.dispose()


def truncate_all(engine: sa.Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clean_db(app_engine) -> sa.Engine:
    """The session database, emptied before the test."""
    truncate_all(app_engine)
    return app_engine


@pytest.fixture
def database_resource(clean_db, app_db_url):
    from y3d_pipeline.defs.resources import DatabaseResource

    return DatabaseResource.for_url(app_db_url)
