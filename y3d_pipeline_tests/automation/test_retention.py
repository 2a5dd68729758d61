"""Retention on a real PostgreSQL-backed instance: old runs and non-asset events go, asset history stays."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from y3d_pipeline.defs.automation.maintenance import dagster_maintenance
from y3d_pipeline.paths import PROJECT_ROOT
from y3d_pipeline.runlog.retention import prune_dagster_history


@dg.asset(key=["retention_test", "thing"])
def thing(context) -> dg.MaterializeResult:
    context.log.info("a log line that retention may delete")
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.op
def chatty(context) -> None:
    context.log.info("nothing but logs")


@dg.job(executor_def=dg.in_process_executor)
def chatty_job():
    chatty()


@pytest.fixture(scope="module")
def fresh_pg_instance(database_factory):
    """An instance of its own: pruning must not touch the runs other tests read."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PG_URL", database_factory.create("y3d_dagster_retention"))
        with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
            yield instance


def _types(instance, run_id):
    return {r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run_id).records}


def test_prune_keeps_asset_history(fresh_pg_instance):
    instance = fresh_pg_instance
    asset_run = dg.materialize([thing], instance=instance).run_id
    op_run = chatty_job.execute_in_process(instance=instance).run_id
    before = _types(instance, asset_run)
    assert None in before and DagsterEventType.STEP_START in before  # log lines and step events exist

    # Nothing is old yet: nothing is pruned.
    now = dt.datetime.now(dt.UTC)
    report = prune_dagster_history(instance, now=now, event_log_max_age=dt.timedelta(days=30),
                                   run_max_age=dt.timedelta(days=180))
    assert (report.runs_deleted, report.event_rows_deleted) == (0, 0)

    # A dry run a year later counts without deleting.
    later = now + dt.timedelta(days=365)
    dry = prune_dagster_history(instance, now=later, event_log_max_age=dt.timedelta(days=30),
                                run_max_age=dt.timedelta(days=180), dry_run=True)
    assert dry.runs_deleted == 1 and dry.runs_kept_with_asset_events == 1 and dry.event_rows_deleted > 0
    assert instance.get_run_by_id(op_run) is not None

    report = prune_dagster_history(instance, now=later, event_log_max_age=dt.timedelta(days=30),
                                   run_max_age=dt.timedelta(days=180))
    assert report.runs_deleted == 1 and report.runs_kept_with_asset_events == 1
    assert 0 < report.event_rows_deleted <= dry.event_rows_deleted
    assert instance.get_run_by_id(op_run) is None and instance.get_run_by_id(asset_run) is not None
    after = _types(instance, asset_run)
    assert DagsterEventType.STEP_START not in after and None not in after
    assert {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.RUN_SUCCESS} <= after
    event = instance.get_latest_materialization_event(dg.AssetKey(["retention_test", "thing"]))
    assert event is not None and event.run_id == asset_run


def test_maintenance_job_runs_with_config(fresh_pg_instance):
    instance = fresh_pg_instance
    chatty_job.execute_in_process(instance=instance)
    result = dagster_maintenance.execute_in_process(instance=instance, run_config={"ops": {
        "prune_dagster_storage": {"config": {"event_log_max_age_days": 0, "run_max_age_days": 0,
                                             "dry_run": True}}}})
    assert result.success
    assert any("retention:" in (r.event_log_entry.user_message or "")
               for r in instance.get_records_for_run(result.run_id).records)
