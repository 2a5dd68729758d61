"""Fixtures for print-task runs: real PostgreSQL, a real Dagster instance, the sandbox's OpenAI over HTTP."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from y3d_pipeline.defs.constants import TAG_OUTCOME
from y3d_pipeline.defs.print_queue.assets import print_tasks, task_status_sync
from y3d_pipeline.defs.print_queue.resources import OpenAIResource
from y3d_pipeline_tests.resources import openai_resource

from .factories import PARTITION


class Runner:
    """Materializes print_tasks for the test partition and hands back its metadata and outcome tag."""

    def __init__(self, instance: dg.DagsterInstance, database, openai: OpenAIResource):
        self.instance = instance
        self.database = database
        self.openai = openai

    def run(self, *, partition: str | None = PARTITION, raise_on_error: bool = True, **config: Any):
        result = dg.materialize(
            [print_tasks], partition_key=partition, instance=self.instance, raise_on_error=raise_on_error,
            resources={"database": self.database, "openai": self.openai},
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
