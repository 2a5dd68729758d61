"""``maintenance/retention``: the nightly retention of Dagster's storage and of the application's raw data.

An asset rather than an op so that every night's sizes before and after, and what was deleted, are metadata
the UI plots over time (Asset → maintenance/retention → Plots): a database that is not flat shows at once.
"""

import dataclasses
import datetime as dt

import dagster as dg

from y3d_pipeline.defs.automation.jobs import asset_job
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.maintenance.app_data import AppRetentionPolicy, app_sizes, prune_app_data, vacuum_app_tables
from y3d_pipeline.maintenance.dagster_storage import (
    dagster_sizes,
    prune_dagster_history,
    vacuum_dagster_tables,
)

RETENTION = dg.AssetKey(["maintenance", "retention"])


class RetentionConfig(dg.Config):
    """How much history to keep. Tick retention is in dagster.yaml (``retention:``)."""

    run_max_age_days: float = 7
    """Finished runs older than this are deleted with their compute logs, except a run holding the latest
    materialization of some asset partition or the latest evaluation of some check."""
    attention_run_max_age_days: float = 30
    """...and except failed, canceled and partial_success runs younger than this."""
    event_log_max_age_days: float = 7
    """Step events and log lines of the runs kept are deleted after this (asset and run events stay)."""
    max_runs: int = 20_000
    """At most this many runs per night (the rest go the next night); a sync a minute makes ~1,500 a day."""
    raw_max_age_days: int = 400
    """Raw payloads of closed orders last changed longer ago than this are deleted."""
    ai_calls_max_age_days: int = 400
    """ai_calls rows of closed orders older than this are deleted."""
    resolved_failures_max_age_days: int = 90
    """Quarantine rows resolved longer ago than this are deleted."""
    vacuum: bool = True
    """VACUUM (ANALYZE) the pruned tables afterwards, so PostgreSQL reuses the space at once."""
    dry_run: bool = False
    """Only count what would be deleted."""


def _mb(value: int) -> float:
    return round(value / 1_048_576, 2)


def size_metadata(prefix: str, sizes: dict[str, int]) -> dict[str, float | int]:
    return {f"{prefix}{k.removesuffix('_bytes')}_mb" if k.endswith("_bytes") else f"{prefix}{k}":
            _mb(v) if k.endswith("_bytes") else v for k, v in sizes.items()}


@dg.asset(
    key=RETENTION,
    group_name="maintenance",
    kinds={"postgres"},
    description="Nightly retention: deletes finished runs older than run_max_age_days (7; failed, canceled and "
                "partial_success runs after 30) with their compute logs, keeping every run that holds the latest "
                "materialization of an asset partition or the latest check evaluation; step events and log lines "
                "older than event_log_max_age_days (7); raw payloads and ai_calls of closed orders older than "
                "400 days; resolved quarantine rows after 90 days. Metadata: sizes before/after (MB) and what was "
                "deleted.",
)
def retention(context: dg.AssetExecutionContext, config: RetentionConfig,
              database: DatabaseResource) -> dg.MaterializeResult:
    now = dt.datetime.now(dt.UTC)
    instance = context.instance
    before = {**dagster_sizes(instance), **app_sizes(database.engine)}
    report = prune_dagster_history(
        instance, now=now, event_log_max_age=dt.timedelta(days=config.event_log_max_age_days),
        run_max_age=dt.timedelta(days=config.run_max_age_days),
        attention_run_max_age=dt.timedelta(days=config.attention_run_max_age_days), dry_run=config.dry_run,
        max_runs=config.max_runs)
    app_deleted = prune_app_data(
        database.engine, AppRetentionPolicy(config.raw_max_age_days, config.ai_calls_max_age_days,
                                            config.resolved_failures_max_age_days), now=now, dry_run=config.dry_run)
    vacuumed = False
    if config.vacuum and not config.dry_run:
        vacuumed = vacuum_dagster_tables(instance)
        vacuum_app_tables(database.engine, [t for t, n in app_deleted.items() if n])
    after = {**dagster_sizes(instance), **app_sizes(database.engine)}
    context.log.info(f"retention: {dataclasses.asdict(report)}; app rows deleted {app_deleted}")
    return dg.MaterializeResult(metadata={
        "dry_run": config.dry_run,
        "vacuumed": vacuumed,
        **{k: v for k, v in dataclasses.asdict(report).items() if k != "dry_run"},
        "compute_log_mb_deleted": _mb(report.compute_log_bytes_deleted),
        **{f"{table}_rows_deleted": n for table, n in app_deleted.items()},
        **size_metadata("before_", before),
        **size_metadata("after_", after),
        "dagster_db_mb": _mb(after.get("dagster_db_bytes", 0)),
        "app_db_mb": _mb(after.get("app_db_bytes", 0)),
    })


dagster_maintenance = asset_job(
    "dagster_maintenance", dg.AssetSelection.assets(RETENTION), "maintenance",
    "Retention for Dagster's storage and the application's raw data (see maintenance/retention).")
