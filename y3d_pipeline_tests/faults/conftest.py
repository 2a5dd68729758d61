"""Fixtures for fault-injection, property and bad-input tests, and the bad-input summary in the test report."""

from __future__ import annotations

from collections import Counter

import dagster as dg
import pytest

from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline_tests.resources import shipstation_resource as sandbox_shipstation_resource
from y3d_pipeline_tests.sources.shipstation.conftest import ORDER_ASSETS

# source -> outcome ("quarantined", "flagged", "accepted") -> count; filled by the bad-input tests.
BAD_INPUT_OUTCOMES: dict[str, Counter] = {}


def record_bad_input(source: str, outcome: str) -> None:
    BAD_INPUT_OUTCOMES.setdefault(source, Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not BAD_INPUT_OUTCOMES:
        return
    terminalreporter.section("bad-input corpus")
    total = known = 0
    for source, outcomes in sorted(BAD_INPUT_OUTCOMES.items()):
        n = sum(outcomes.values())
        total += n
        known += sum(v for k, v in outcomes.items() if k.startswith("KNOWN"))
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
        terminalreporter.write_line(f"{source:<24} {n:>3} hostile/malformed inputs ({detail})")
    terminalreporter.write_line(f"{'total':<24} {total:>3}; {total - known} quarantined, rejected or stored as inert text "
                                f"(no partition crashed, no valid record lost); {known} known issue(s) marked xfail")


def shipstation_resource(sandbox, **overrides) -> ShipStationResource:
    knobs = {"initial_backoff_seconds": 0.01, "max_retry_seconds": 30.0, **overrides}
    return sandbox_shipstation_resource(sandbox.env(), **knobs)


@pytest.fixture
def run_orders(fresh_sandbox, database_resource, dagster_instance):
    """`run_orders(partition_key, **resource_overrides)`: raw ShipStation orders + normalization, in process."""

    def run(partition_key: str, raise_on_error: bool = True, **overrides) -> dg.ExecuteInProcessResult:
        resources = {"shipstation": shipstation_resource(fresh_sandbox, **overrides), "database": database_resource}
        return dg.materialize(ORDER_ASSETS, resources=resources, partition_key=partition_key,
                              instance=dagster_instance, raise_on_error=raise_on_error)

    return run
