"""Shared fixtures: real PostgreSQL, one Dagster instance per session, the local API sandbox."""

from __future__ import annotations

import dagster as dg
import pytest

pytest_plugins = ["y3d_pipeline_tests.plugins.database", "y3d_pipeline_tests.plugins.sandbox"]

# The longest tests (real webserver + daemon, hypothesis over real runs, step-retry delays, subprocess runs),
# longest first. Under pytest-xdist (`make test`, `--dist load --maxschedchunk 1`) they start first, one per
# worker, while the short ones fill the other workers; the run then ends on short tests instead of waiting
# for one long test started last. Order only: every test still runs, in its own fixtures.
SLOWEST_FIRST = (
    "e2e/test_webserver_e2e.py::",
    "faults/test_properties.py::test_window_overlap",
    "faults/test_properties.py::test_any_sequence",
    "faults/test_shipstation_faults.py::test_persistent_faults",
    "faults/test_shipstation_faults.py::test_a_run_killed",
    "security/test_control_plane.py::test_dg_launch",
    "test_demo.py::",
    "security/test_secrets_never_leak.py::test_a_real_run",
    "sources/shipstation/test_assets.py::test_two_week",
    "automation/test_backfill_cli.py::",
    "faults/test_shipstation_faults.py::test_transient_faults",
)


def _rank(item: pytest.Item) -> int:
    node = item.nodeid.removeprefix("y3d_pipeline_tests/")
    return next((i for i, prefix in enumerate(SLOWEST_FIRST) if node.startswith(prefix)), len(SLOWEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = getattr(config.option, "numprocesses", None)
    if not workers or config.option.dist != "load":
        return
    slow = sorted((i for i in items if _rank(i) < len(SLOWEST_FIRST)), key=_rank)
    rest = [i for i in items if _rank(i) == len(SLOWEST_FIRST)]
    # `--dist load` hands each worker two tests to start with (positions 0-1, 2-3, ...): one slow, one short.
    head = [t for pair in zip(slow, rest[:len(slow)], strict=False) for t in pair][:2 * int(workers)]
    items[:] = head + [i for i in slow + rest if i not in head]


@pytest.fixture(scope="session")
def dagster_instance() -> dg.DagsterInstance:
    """One in-memory instance for the session: building one per test costs ~50-300 ms each."""
    return dg.DagsterInstance.ephemeral()
