"""Shared resources: the application database. Source and OpenAI resources live with their assets."""

from __future__ import annotations

import os
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr
from sqlalchemy.orm import Session

from y3d_pipeline.db.engine import make_engine


def env_var_if_set(name: str) -> dg.EnvVar | None:
    """``dg.EnvVar(name)`` when the variable is set, else ``None`` (the "not configured" state).

    Choosing at load time keeps optional credentials optional while the value itself is still read by
    Dagster at launch and never shown in the UI or run config.
    """
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else None


class DatabaseResource(dg.ConfigurableResource):
    """The application's PostgreSQL. With no URL configured it starts the embedded server under .y3d/."""

    database_url: str | None = None

    _engine: sa.Engine | None = PrivateAttr(default=None)

    def _resolve_url(self) -> str:
        if self.database_url:
            return self.database_url
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


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"database": DatabaseResource(database_url=env_var_if_set("DATABASE_URL"))})
