"""Fixtures for print-task runs: real PostgreSQL, a real Dagster instance, the sandbox's OpenAI over HTTP."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from y3d_pipeline.defs.print_queue.assets import print_tasks, task_status_sync
from y3d_pipeline.defs.print_queue.resources import OpenAIResource
from y3d_pipeline.defs.resources import ShopResource
from y3d_pipeline.runlog.tags import TAG_OUTCOME
from y3d_pipeline_tests.resources import openai_resource, shop_resource

from .factories import PARTITION


class Runner:
    """Materializes print_tasks for the test partition and hands back its metadata and outcome tag."""

    def __init__(self, instance: dg.DagsterInstance, database, openai: OpenAIResource, shop: ShopResource | None = None):
        self.instance = instance
        self.database = database
        self.openai = openai
        self.shop = shop or shop_resource()

    def run(self, *, partition: str | None = PARTITION, raise_on_error: bool = True, **config: Any):
        result = dg.materialize(
            [print_tasks], partition_key=partition, instance=self.instance, raise_on_error=raise_on_error,
            resources={"database": self.database, "openai": self.openai, "shop": self.shop},
            run_config=dg.RunConfig(ops={"print_queue__print_tasks": config}) if config else None,
        )
        materializations = result.asset_materializations_for_node("print_queue__print_tasks")
        metadata = {k: v.value for k, v in materializations[0].metadata.items()} if materializations else {}
        run = self.instance.get_run_by_id(result.run_id)
        return metadata, run.tags.get(TAG_OUTCOME), result

    def sync_statuses(self):
        result = dg.materialize([task_status_sync], instance=self.instance, resources={"database": self.database})
        return {k: v.value for k, v in result.asset_materializations_for_node("print_queue__task_status_sync")[0]
                .metadata.items()}


@pytest.fixture
def runner_without_ai(dagster_instance, database_resource) -> Runner:
    return Runner(dagster_instance, database_resource, openai_resource(None))


@pytest.fixture
def runner(dagster_instance, database_resource, fresh_sandbox) -> Runner:
    env = fresh_sandbox.env()
    return Runner(dagster_instance, database_resource, openai_resource(env, max_wait_seconds=0.05))


def openai_requests(sandbox) -> int:
    return sandbox.stats()["requests"].get("openai", 0)


# Filled by test_corpus.py: run name -> {"outcomes": Counter, "silently_wrong": [case ids], "total": n}.
CORPUS_REPORT: dict[str, dict] = {}
_OUTCOME_ORDER = ("resolved without AI, correct", "resolved without AI, flagged", "sent to AI: resolved, unflagged",
                  "sent to AI: flagged", "placeholder for a person", "no task yet")


def pytest_terminal_summary(terminalreporter):
    if not CORPUS_REPORT:
        return
    terminalreporter.section("personalisation corpus")
    for run, figures in CORPUS_REPORT.items():
        outcomes = figures["outcomes"]
        terminalreporter.write_line(f"{run}: {figures['total']} cases")
        for outcome in _OUTCOME_ORDER:
            if outcomes.get(outcome):
                terminalreporter.write_line(f"    {outcome:<34} {outcomes[outcome]:>4}")
        wrong = figures["silently_wrong"]
        terminalreporter.write_line(f"    {'silently wrong':<34} {len(wrong):>4}" + (f"  {wrong}" if wrong else ""))
