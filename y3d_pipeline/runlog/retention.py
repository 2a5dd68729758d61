"""Retention for Dagster's own storage: old run history and old non-asset event-log rows.

Dagster 1.13 prunes schedule/sensor ticks itself (``retention:`` in dagster.yaml) but nothing else. This
module is what the ``dagster_maintenance`` job runs:

* **Event logs** older than the cutoff are deleted except the rows the asset catalog and run history are
  built from: asset materializations/observations, check evaluations, their planned events and the run
  lifecycle events. The bulk (step events, captured-log events, ``context.log`` lines) goes. This is the
  approach Dagster's community uses (issue #4100, discussion #12047: a scheduled job deleting from the
  ``event_logs`` table through the event-log storage's own connection); Dagster has no public API for it.
* **Runs** that finished before the cutoff are deleted with ``instance.delete_run`` (run row, tags and all
  its events). Runs that recorded asset events are kept unless ``keep_runs_with_asset_events=False``,
  because deleting them would also erase the assets' materialization history (``delete_run`` drops every
  event of the run).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEventType
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

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
ASSET_EVENT_TYPES = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION,
                     DagsterEventType.ASSET_CHECK_EVALUATION}
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass
class RetentionReport:
    event_rows_deleted: int = 0
    runs_deleted: int = 0
    runs_kept_with_asset_events: int = 0
    dry_run: bool = False


def prune_event_logs(instance: dg.DagsterInstance, *, before: dt.datetime, dry_run: bool = False,
                     batch_size: int = 10_000) -> int:
    """Delete event-log rows older than ``before`` whose type is not in KEPT_EVENT_TYPES; returns the count."""
    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        raise TypeError(f"event-log pruning needs SQL event storage, not {type(storage).__name__}")
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


def _has_asset_events(instance: dg.DagsterInstance, run_id: str) -> bool:
    return bool(instance.get_records_for_run(run_id, of_type=set(ASSET_EVENT_TYPES), limit=1).records)


def prune_runs(instance: dg.DagsterInstance, *, before: dt.datetime, keep_runs_with_asset_events: bool = True,
               dry_run: bool = False, max_runs: int = 1000) -> tuple[int, int]:
    """Delete finished runs created before ``before``; returns (deleted, kept because of asset events)."""
    deleted = kept = 0
    cursor = None
    while deleted < max_runs:
        records = instance.get_run_records(dg.RunsFilter(statuses=FINISHED, created_before=before), limit=200,
                                           cursor=cursor)
        if not records:
            break
        for record in records:
            run_id = record.dagster_run.run_id
            if keep_runs_with_asset_events and _has_asset_events(instance, run_id):
                kept += 1
                continue
            if not dry_run:
                instance.delete_run(run_id)
            deleted += 1
            if deleted >= max_runs:
                break
        cursor = records[-1].dagster_run.run_id
    return deleted, kept


def prune_dagster_history(instance: dg.DagsterInstance, *, now: dt.datetime, event_log_max_age: dt.timedelta,
                          run_max_age: dt.timedelta, keep_runs_with_asset_events: bool = True,
                          dry_run: bool = False, max_runs: int = 1000) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    report.runs_deleted, report.runs_kept_with_asset_events = prune_runs(
        instance, before=now - run_max_age, keep_runs_with_asset_events=keep_runs_with_asset_events,
        dry_run=dry_run, max_runs=max_runs)
    report.event_rows_deleted = prune_event_logs(instance, before=now - event_log_max_age, dry_run=dry_run)
    return report
