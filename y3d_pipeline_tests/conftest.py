"""Shared fixtures: real PostgreSQL, one Dagster instance per session, the local API sandbox."""

from __future__ import annotations

import dagster as dg
import pytest

pytest_plugins = ["y3d_pipeline_tests.plugins.database", "y3d_pipeline_tests.plugins.sandbox"]


@pytest.fixture(scope="session")
def dagster_instance() -> dg.DagsterInstance:
    """One in-memory instance for the session: building one per test costs ~50-300 ms each."""
    return dg.DagsterInstance.ephemeral()
