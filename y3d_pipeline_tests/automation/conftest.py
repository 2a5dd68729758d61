"""Fixtures for the automation tests: a real Dagster instance on PostgreSQL (the repo's dagster.yaml)."""

from __future__ import annotations

import dagster as dg
import pytest

from y3d_pipeline.paths import PROJECT_ROOT


@pytest.fixture(scope="package")
def pg_dagster_url(database_factory) -> str:
    return database_factory.create("y3d_dagster_auto")


@pytest.fixture(scope="package")
def pg_instance(pg_dagster_url):
    """The project's dagster.yaml (dagster-postgres storage) on a database of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PG_URL", pg_dagster_url)
        with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
            yield instance
