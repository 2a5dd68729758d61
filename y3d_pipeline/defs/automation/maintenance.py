"""``dagster_maintenance``: prunes Dagster's run history and non-asset event logs (nightly schedule)."""

import dataclasses
import datetime as dt

import dagster as dg

from y3d_pipeline.runlog.retention import prune_dagster_history


class RetentionConfig(dg.Config):
    """How much of Dagster's own history to keep. Tick retention is in dagster.yaml (``retention:``)."""

    event_log_max_age_days: float = 30
    """Step/log events older than this are deleted (asset events and run status events are kept)."""
    run_max_age_days: float = 180
    """Finished runs older than this are deleted..."""
    keep_runs_with_asset_events: bool = True
    """...except those that materialized assets or evaluated checks (deleting them erases asset history)."""
    max_runs: int = 1000
    """At most this many runs per execution (the rest go next night)."""
    dry_run: bool = False
    """Only count what would be deleted."""


@dg.op(description="Deletes old runs and old non-asset event-log rows from Dagster's storage.")
def prune_dagster_storage(context: dg.OpExecutionContext, config: RetentionConfig) -> None:
    report = prune_dagster_history(
        context.instance, now=dt.datetime.now(dt.UTC),
        event_log_max_age=dt.timedelta(days=config.event_log_max_age_days),
        run_max_age=dt.timedelta(days=config.run_max_age_days),
        keep_runs_with_asset_events=config.keep_runs_with_asset_events, dry_run=config.dry_run,
        max_runs=config.max_runs)
    context.log.info(f"retention: {dataclasses.asdict(report)}")


@dg.job(name="dagster_maintenance", executor_def=dg.in_process_executor,
        description="Retention for Dagster's own storage: old runs and non-asset event logs.",
        tags={"y3d/source": "maintenance"})
def dagster_maintenance():
    prune_dagster_storage()
