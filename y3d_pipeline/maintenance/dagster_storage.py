"""Retention for Dagster's own storage: old runs with their compute logs, old non-asset event-log rows.

Dagster 1.13 prunes schedule/sensor ticks itself (``retention:`` in dagster.yaml) but nothing else. This
module is what the ``dagster_maintenance`` job runs:

* **Runs** that finished before the cutoff are deleted with ``instance.delete_run`` (run row, tags and every
  event of the run), with their compute logs (stdout/stderr files) and asset-check execution rows, **unless
  the run holds the latest materialization or observation of some asset partition, or the latest evaluation
  of some check**: deleting that run would erase what the asset catalog shows as the asset's current state
  (Dagster's own warning: deleting materialization events changes partition status). Runs that need
  attention (failed, canceled, partial_success) get a longer cutoff of their own. Everything older is
  history nobody reads, and a sync every minute would otherwise keep ~1,400 runs a day forever. What stays
  grows with partitions (a few runs per day), not with runs.
* **Event logs** older than the cutoff are deleted except the rows the asset catalog and run history are
  built from: asset materializations/observations, check evaluations, their planned events and the run
  lifecycle events. The bulk (step events, captured-log events, ``context.log`` lines) goes. This is the
  approach Dagster's community uses (issue #4100, discussion #12047: a scheduled job deleting from the
  ``event_logs`` table through the event-log storage's own connection); Dagster has no public API for it.
* **Compute-log directories** of runs that no longer exist (deleted from the UI, say) are swept too.

Deleted rows free space that PostgreSQL reuses after VACUUM (autovacuum, or :func:`vacuum_dagster_tables`),
which is what keeps the database flat rather than shrinking it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEventType
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from y3d_pipeline.runlog.tags import ATTENTION_OUTCOMES, TAG_OUTCOME

KEPT_EVENT_TYPES = frozenset({
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_OBSERVATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    DagsterEventType.ASSET_FAILED_TO_MATERIALIZE,
    DagsterEventType.RUN_ENQUEUED,
    DagsterEventType.RUN_STARTING,
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELING,
    DagsterEventType.RUN_CANCELED,
    DagsterEventType.STEP_FAILURE,
})
LATEST_KEPT_TYPES = (DagsterEventType.ASSET_MATERIALIZATION.value, DagsterEventType.ASSET_OBSERVATION.value)
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
DAGSTER_TABLES = ("event_logs", "runs", "run_tags", "asset_check_executions", "asset_event_tags", "job_ticks",
                  "kvs", "asset_keys")
_RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")




@dataclass
class RetentionReport:
    event_rows_deleted: int = 0
    runs_deleted: int = 0
    runs_kept_latest: int = 0
    runs_kept_for_attention: int = 0
    compute_log_dirs_deleted: int = 0
    compute_log_bytes_deleted: int = 0
    dry_run: bool = False


def _event_storage(instance: dg.DagsterInstance) -> SqlEventLogStorage:
    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        raise TypeError(f"retention needs SQL event storage, not {type(storage).__name__}")
    return storage


def prune_event_logs(instance: dg.DagsterInstance, *, before: dt.datetime, dry_run: bool = False,
                     batch_size: int = 10_000) -> int:
    """Delete event-log rows older than ``before`` whose type is not in KEPT_EVENT_TYPES; returns the count."""
    storage = _event_storage(instance)
    table = SqlEventLogStorageTable
    cutoff = before.astimezone(dt.UTC).replace(tzinfo=None)  # the column is naive UTC
    kept = [t.value for t in KEPT_EVENT_TYPES]
    prunable = sa.and_(table.c.timestamp < cutoff,
                       sa.or_(table.c.dagster_event_type.is_(None), table.c.dagster_event_type.not_in(kept)))
    total = 0
    with storage.index_connection() as conn:
        if dry_run:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(prunable)).scalar_one())
        while True:
            ids = sa.select(table.c.id).where(prunable).limit(batch_size).scalar_subquery()
            deleted = conn.execute(table.delete().where(table.c.id.in_(ids))).rowcount
            total += deleted or 0
            if not deleted or deleted < batch_size:
                break
    return total


def runs_holding_latest(instance: dg.DagsterInstance) -> set[str]:
    """Runs that hold the latest materialization/observation of some (asset, partition) or the latest
    evaluation of some (check, partition): what the asset catalog shows as current."""
    storage = _event_storage(instance)
    events, checks = SqlEventLogStorageTable, AssetCheckExecutionsTable
    latest_events = (sa.select(sa.func.max(events.c.id).label("id"))
                     .where(events.c.dagster_event_type.in_(LATEST_KEPT_TYPES), events.c.asset_key.is_not(None))
                     .group_by(events.c.asset_key, events.c.partition, events.c.dagster_event_type).subquery())
    latest_checks = (sa.select(sa.func.max(checks.c.id).label("id"))
                     .group_by(checks.c.asset_key, checks.c.check_name, checks.c.partition).subquery())
    with storage.index_connection() as conn:
        held = set(conn.execute(sa.select(events.c.run_id).join(latest_events, events.c.id == latest_events.c.id))
                   .scalars())
        held |= set(conn.execute(sa.select(checks.c.run_id).join(latest_checks, checks.c.id == latest_checks.c.id))
                    .scalars())
    return {r for r in held if r}


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def compute_log_root(instance: dg.DagsterInstance) -> Path | None:
    """The local compute-log directory (None for remote compute-log managers)."""
    base = getattr(instance.compute_log_manager, "_base_dir", None)
    return Path(base) if base else None


def compute_log_bytes(instance: dg.DagsterInstance) -> int | None:
    root = compute_log_root(instance)
    return _dir_bytes(root) if root and root.exists() else (0 if root else None)


def delete_compute_logs(instance: dg.DagsterInstance, run_id: str) -> int:
    """Delete a run's captured stdout/stderr; returns the bytes freed (0 when unknown or none)."""
    root = compute_log_root(instance)
    size = _dir_bytes(root / run_id) if root and (root / run_id).exists() else 0
    try:
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    except NotImplementedError:
        return 0
    return size


def _delete_check_executions(instance: dg.DagsterInstance, run_id: str) -> None:
    with _event_storage(instance).index_connection() as conn:
        conn.execute(AssetCheckExecutionsTable.delete().where(AssetCheckExecutionsTable.c.run_id == run_id))


def needs_attention(run: dg.DagsterRun) -> bool:
    """A run an operator may still be looking into: failed, canceled, or successful with failed orders."""
    if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return True
    return run.tags.get(TAG_OUTCOME) in ATTENTION_OUTCOMES


def prune_runs(instance: dg.DagsterInstance, *, before: dt.datetime, dry_run: bool = False,
               max_runs: int = 5000, report: RetentionReport | None = None,
               attention_before: dt.datetime | None = None) -> RetentionReport:
    """Delete finished runs created before ``before`` except those holding the latest state of some asset
    partition or check (see :func:`runs_holding_latest`) and, until ``attention_before``, runs that need
    attention (:func:`needs_attention`); oldest first, at most ``max_runs``."""
    report = report or RetentionReport(dry_run=dry_run)
    protected = runs_holding_latest(instance)
    cursor = None
    while report.runs_deleted < max_runs:
        records = instance.get_run_records(dg.RunsFilter(statuses=FINISHED, created_before=before), limit=500,
                                           cursor=cursor, ascending=True)
        if not records:
            break
        for record in records:
            run_id = record.dagster_run.run_id
            if run_id in protected:
                report.runs_kept_latest += 1
                continue
            created = record.create_timestamp
            if attention_before and needs_attention(record.dagster_run) and created and \
                    created.replace(tzinfo=created.tzinfo or dt.UTC) >= attention_before:
                report.runs_kept_for_attention += 1
                continue
            if dry_run:
                root = compute_log_root(instance)
                report.compute_log_bytes_deleted += _dir_bytes(root / run_id) if root else 0
            else:
                report.compute_log_bytes_deleted += delete_compute_logs(instance, run_id)
                _delete_check_executions(instance, run_id)
                instance.delete_run(run_id)
            report.compute_log_dirs_deleted += 1
            report.runs_deleted += 1
            if report.runs_deleted >= max_runs:
                break
        cursor = records[-1].dagster_run.run_id
    return report


def sweep_orphan_compute_logs(instance: dg.DagsterInstance, *, before: dt.datetime, dry_run: bool = False,
                              report: RetentionReport | None = None) -> RetentionReport:
    """Delete compute-log directories older than ``before`` whose run no longer exists."""
    report = report or RetentionReport(dry_run=dry_run)
    root = compute_log_root(instance)
    if not root or not root.exists():
        return report
    cutoff = before.timestamp()
    for entry in root.iterdir():
        if not entry.is_dir() or not _RUN_ID.match(entry.name) or entry.stat().st_mtime >= cutoff:
            continue
        if instance.has_run(entry.name):
            continue
        report.compute_log_bytes_deleted += _dir_bytes(entry)
        report.compute_log_dirs_deleted += 1
        if not dry_run:
            shutil.rmtree(entry, ignore_errors=True)
    return report


def prune_dagster_history(instance: dg.DagsterInstance, *, now: dt.datetime, event_log_max_age: dt.timedelta,
                          run_max_age: dt.timedelta, attention_run_max_age: dt.timedelta | None = None,
                          dry_run: bool = False, max_runs: int = 5000) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    attention_before = now - attention_run_max_age if attention_run_max_age and attention_run_max_age > run_max_age \
        else None
    prune_runs(instance, before=now - run_max_age, dry_run=dry_run, max_runs=max_runs, report=report,
               attention_before=attention_before)
    sweep_orphan_compute_logs(instance, before=now - run_max_age, dry_run=dry_run, report=report)
    report.event_rows_deleted = prune_event_logs(instance, before=now - event_log_max_age, dry_run=dry_run)
    return report


# ------------------------------------------------------------------------------------------ sizes


def dagster_sizes(instance: dg.DagsterInstance) -> dict[str, int]:
    """Bytes of Dagster's database, its biggest tables and the local compute logs; rows of event_logs/runs."""
    storage = _event_storage(instance)
    sizes: dict[str, int] = {}
    with storage.index_connection() as conn:
        if conn.dialect.name == "postgresql":
            sizes["dagster_db_bytes"] = int(conn.execute(sa.text("SELECT pg_database_size(current_database())"))
                                            .scalar_one())
            present = set(sa.inspect(conn).get_table_names())
            for name in DAGSTER_TABLES:
                if name in present:
                    sizes[f"{name}_bytes"] = int(conn.execute(
                        sa.text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": name}).scalar_one())
        sizes["event_logs_rows"] = int(conn.execute(sa.select(sa.func.count()).select_from(SqlEventLogStorageTable))
                                       .scalar_one())
    sizes["runs"] = instance.get_runs_count()
    logs = compute_log_bytes(instance)
    if logs is not None:
        sizes["compute_logs_bytes"] = logs
    return sizes


def vacuum_dagster_tables(instance: dg.DagsterInstance) -> bool:
    """VACUUM (ANALYZE) the tables retention deletes from, so the freed space is reused at once instead of
    whenever autovacuum gets to it. Returns False where that is not possible (not PostgreSQL)."""
    url = getattr(instance.event_log_storage, "postgres_url", None)
    if not url:
        return False
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            for name in ("event_logs", "runs", "run_tags", "asset_check_executions", "asset_event_tags"):
                if name in present:
                    conn.execute(sa.text(f'VACUUM (ANALYZE) "{name}"'))
    finally:
        engine.dispose()
    return True
