"""Alert sensors: a failed run (any job of this code location) or a failed asset check posts to the webhook.

Both run by default: with ``Y3D_ALERT_WEBHOOK_URL`` unset they only log, which costs nothing.
"""

import datetime as dt
import json

import dagster as dg
from dagster._core.events import DagsterEventType

from y3d_pipeline.alerts import CheckFailure, check_failure_alert, post_alert, run_failure_alert
from y3d_pipeline.runlog.core import (
    TAG_OUTCOME,
    TAG_SOURCE,
    derive_outcome,
    materialization_summary,
    root_error,
    run_partitions,
)

# How far back the failed-check sensor looks on its very first tick (afterwards: its cursor).
FIRST_TICK_LOOKBACK = dt.timedelta(hours=1)
MAX_EVENTS_PER_TICK = 200


def run_failure_payload(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        errors.append(f"{event.step_key}: {root_error(data.error if data else None) or 'failed'}")
    error = "; ".join(errors) or (context.failure_event.message or "").strip() or None
    return run_failure_alert(job=run.job_name, run_id=run.run_id, partition=run_partitions(dict(run.tags)),
                             error=error, source=run.tags.get(TAG_SOURCE))


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Posts every failed run (job, partition, error, link) to Y3D_ALERT_WEBHOOK_URL; always logs.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext) -> None:
    context.instance.add_run_tags(context.dagster_run.run_id, {TAG_OUTCOME: "failed"})
    post_alert(run_failure_payload(context), logger=context.log)


@dg.run_status_sensor(
    name="tag_run_outcome",
    run_status=dg.DagsterRunStatus.SUCCESS,
    description="Tags every successful run with y3d/outcome (success, partial_success, success_no_orders) "
                "from its materialization metadata, unless an asset already set it: filter runs by outcome "
                "in the UI, as ScriptRunLog's status column allowed.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def tag_run_outcome(context: dg.RunStatusSensorContext) -> None:
    run = context.dagster_run
    if TAG_OUTCOME in run.tags:
        return
    counts, failed = materialization_summary(context.instance, run.run_id)
    context.instance.add_run_tags(run.run_id, {TAG_OUTCOME: derive_outcome(counts, failed)})


def _offending(metadata) -> list[str]:
    for key in ("offending_orders", "order_numbers", "orders"):
        value = metadata.get(key)
        raw = getattr(value, "value", value)
        if isinstance(raw, list):
            return [str(v) for v in raw]
    return []


def collect_check_failures(instance: dg.DagsterInstance, cursor: str | None,
                           now: dt.datetime | None = None) -> tuple[list[CheckFailure], str | None]:
    """Failed check evaluations after the cursor (an event storage id) and the new cursor."""
    state = json.loads(cursor) if cursor else {}
    after_id = state.get("storage_id")
    if after_id is not None:
        flt = dg.EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after_id)
    else:
        since = (now or dt.datetime.now(dt.UTC)) - FIRST_TICK_LOOKBACK
        flt = dg.EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION,
                                    after_timestamp=since.timestamp())
    records = instance.get_event_records(flt, limit=MAX_EVENTS_PER_TICK, ascending=True)
    failures: list[CheckFailure] = []
    last_id = after_id
    for record in records:
        last_id = record.storage_id
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        failures.append(CheckFailure(
            asset=evaluation.asset_key.to_user_string(), check=evaluation.check_name,
            severity=evaluation.severity.value, run_id=record.run_id, partition=evaluation.partition,
            description=evaluation.description, offending=_offending(evaluation.metadata)))
    return failures, json.dumps({"storage_id": last_id}) if last_id is not None else cursor


@dg.sensor(
    name="alert_on_failed_checks",
    description="Posts failed asset checks (data quality: which orders need attention) to "
                "Y3D_ALERT_WEBHOOK_URL; always logs. Cursor: the last check-evaluation event seen.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
def alert_on_failed_checks(context: dg.SensorEvaluationContext):
    failures, cursor = collect_check_failures(context.instance, context.cursor)
    if cursor and cursor != context.cursor:
        context.update_cursor(cursor)
    if not failures:
        return dg.SkipReason("no failed checks since the last tick")
    post_alert(check_failure_alert(failures), logger=context.log)
    return dg.SkipReason(f"alerted {len(failures)} failed check(s)")
