"""The jobs the automation launches: the Amazon chain runs its steps in order and a failed step stops the ones
after it; every source sync closes tasks in the same run, and no second run is requested for that."""

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import OrderItem
from y3d_pipeline.defs.automation.jobs import AMAZON_CHAIN_ASSETS, SYNC_JOBS, amazon_chain
from y3d_pipeline.defs.conditions import after_upstream_runs_without_it
from y3d_pipeline.defs.constants import (
    PRINT_TASKS,
    RAW_AMAZON_CUSTOMIZATIONS,
    SHIPSTATION_WRITEBACK,
    TASK_STATUS_SYNC,
)
from y3d_pipeline.defs.print_queue.assets import task_status_sync
from y3d_pipeline_tests.print_queue.factories import PARTITION, add_order, opts, tasks


@pytest.fixture(scope="module")
def definitions():
    from y3d_pipeline.definitions import defs

    return defs()


def _chain(monkeypatch, app_db_url) -> dg.JobDefinition:
    """The real amazon_chain job of the code location, its resources read from this environment."""
    from y3d_pipeline.definitions import defs

    monkeypatch.setenv("DATABASE_URL", app_db_url)
    for name in ("OPENAI_API_KEY", "SHIPSTATION_API_KEY", "AMAZON_LWA_CLIENT_ID", "Y3D_WRITEBACK_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    return defs().resolve_job_def(amazon_chain.name)


def _steps(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    events = {}
    for event in result.all_events:
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED") and event.step_key:
            events[event.step_key] = event.event_type_value
    return events


def test_amazon_chain_is_ordered_by_its_dependencies(definitions):
    graph = definitions.resolve_asset_graph()
    assert PRINT_TASKS in graph.get(SHIPSTATION_WRITEBACK).parent_keys
    assert RAW_AMAZON_CUSTOMIZATIONS in graph.get(PRINT_TASKS).parent_keys
    job = definitions.resolve_job_def("amazon_chain")
    assert set(job.asset_layer.selected_asset_keys) == set(AMAZON_CHAIN_ASSETS)
    assert job.executor_def.name == "in_process"


def test_a_failed_step_stops_the_ones_after_it(clean_db, app_db_url, dagster_instance, monkeypatch):
    _, [item] = add_order(clean_db, items=[{"options": {"Name": "not a list"}}])  # every order with work fails
    job = _chain(monkeypatch, app_db_url)
    failed = job.execute_in_process(partition_key=PARTITION, instance=dagster_instance, raise_on_error=False)
    assert not failed.success
    steps = _steps(failed)
    assert steps["raw__amazon_customizations"] == "STEP_SUCCESS"
    assert steps["print_queue__print_tasks"] == "STEP_FAILURE"
    assert steps.get("print_queue__shipstation_writeback", "STEP_SKIPPED") == "STEP_SKIPPED"
    assert not [e for e in failed.get_asset_materialization_events() if e.asset_key == SHIPSTATION_WRITEBACK]

    # Fixed at the source: the chain completes; write-back is off, so it pushes nothing.
    with clean_db.begin() as conn:
        conn.execute(sa.update(OrderItem.__table__).where(OrderItem.__table__.c.id == item)
                     .values(options=opts(Name="Ava")))
    done = job.execute_in_process(partition_key=PARTITION, instance=dagster_instance)
    assert done.success and _steps(done)["print_queue__shipstation_writeback"] == "STEP_SUCCESS"
    assert [t["custom_text"] for t in tasks(clean_db)] == ["Ava"]


def test_source_syncs_close_tasks_in_the_same_run(definitions):
    for source, job in SYNC_JOBS.items():
        resolved = definitions.resolve_job_def(job.name)
        assert TASK_STATUS_SYNC in resolved.asset_layer.selected_asset_keys, source


def test_task_status_sync_is_not_requested_again_after_a_sync_run():
    parts = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)

    @dg.asset(partitions_def=parts, key=["jobs_test", "orders"])
    def orders() -> None:
        return None

    real = next(spec for spec in task_status_sync.specs if spec.key == TASK_STATUS_SYNC).automation_condition

    @dg.asset(deps=[orders], key=["jobs_test", "status"], automation_condition=real)
    def status() -> None:
        return None

    def requested(instance, cursor):
        result = dg.evaluate_automation_conditions(defs=[orders, status], instance=instance, cursor=cursor)
        return result.get_num_requested(status.key), result.cursor

    today = parts.get_last_partition_key()
    with dg.DagsterInstance.ephemeral() as instance:
        _, cursor = requested(instance, None)
        dg.materialize([orders, status], instance=instance, partition_key=today)  # a sync run: both
        count, cursor = requested(instance, cursor)
        assert count == 0
        dg.materialize([orders], instance=instance, partition_key=today)  # orders alone (a manual run)
        count, cursor = requested(instance, cursor)
        assert count == 1
    assert str(real) == str(after_upstream_runs_without_it("30 2 * * *"))
