"""Fixtures for fault-injection, property and bad-input tests, and the bad-input summary in the test report."""

from __future__ import annotations

from collections import Counter

import dagster as dg
import pytest

from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline_tests.resources import shipstation_resource as sandbox_shipstation_resource
from y3d_pipeline_tests.sources.shipstation.conftest import ORDER_ASSETS

# (stage, source) -> outcome ("quarantined", "rejected", "stored as inert text", ...) -> count; filled by the
# bad-input and poison-record tests and printed per stage in the test report.
BAD_INPUT_OUTCOMES: dict[tuple[str, str], Counter] = {}
STAGES = ("fetch and scan", "raw store", "normalization", "reconciliation", "candidate collection",
          "customization download and parse", "customization store", "print tasks (AI reply)")


def record_bad_input(stage: str, source: str, outcome: str) -> None:
    assert stage in STAGES, stage
    BAD_INPUT_OUTCOMES.setdefault((stage, source), Counter())[outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if not BAD_INPUT_OUTCOMES:
        return
    terminalreporter.section("bad-input corpus, per stage")
    total = 0
    for stage in STAGES:
        entries = {source: outcomes for (s, source), outcomes in BAD_INPUT_OUTCOMES.items() if s == stage}
        if not entries:
            continue
        stage_total = sum(sum(o.values()) for o in entries.values())
        total += stage_total
        terminalreporter.write_line(f"{stage:<34} {stage_total:>4} hostile/malformed inputs")
        for source, outcomes in sorted(entries.items()):
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
            terminalreporter.write_line(f"    {source:<32} {sum(outcomes.values()):>4} ({detail})")
    terminalreporter.write_line(f"{'total':<34} {total:>4}: each quarantined or rejected with a reason, or stored as "
                                "inert text; no partition failed, no valid record of a batch was lost")


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
