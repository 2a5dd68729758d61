"""Alert sensors: everything an operator must act on, one message per run or per condition, de-duplicated.

* ``alert_on_run_failure``: a failed run (job, partition, error, link), once per job and error until it
  succeeds again (then a "recovered" note from ``tag_run_outcome``).
* ``tag_run_outcome``: tags every successful run with ``y3d/outcome`` and alerts a run that left work for a
  person (failed orders, quarantined records, placeholder print tasks), once per condition: the same
  quarantined record seen by every 10-minute sync of a day is reported once, not every 10 minutes.
* ``alert_on_failed_checks``: failed asset checks, new or changed findings only, and a note when a reported
  check passes again.
* ``operator_alerts``: conditions that no run reports by itself: a growing review backlog, Amazon Custom
  files still missing close to the ship-by date, a configured source without a successful sync for too long.

All run by default: they read local storage only, and with no webhook configured they only log. Their
de-duplication state is the ``alert_state`` table (see ``y3d_pipeline.alert_state``); a condition is marked
reported only after every configured webhook accepted the message, so a failed post is tried again.
"""

import datetime as dt

import dagster as dg

from y3d_pipeline import alert_state
from y3d_pipeline.alert_conditions import (
    MAX_OPEN_FAILURES_LISTED,
    attention_alert,
    attention_conditions,
    check_conditions,
    collect_check_evaluations,
    evaluate_operator_conditions,
    failure_condition,
    recovered_alert,
)
from y3d_pipeline.alerts import (
    Alert,
    check_failure_alert,
    checks_resolved_alert,
    run_failure_alert,
)
from y3d_pipeline.db.quarantine import open_failures
from y3d_pipeline.defs.automation.quality_checks import FRESHNESS_SOURCES
from y3d_pipeline.defs.resources import AlertsResource, DatabaseResource, ShopResource
from y3d_pipeline.defs.sources.amazon.resources import AmazonResource
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline.defs.sources.shopify.resources import ShopifyResource
from y3d_pipeline.runlog.core import (
    derive_outcome,
    last_successful_sync,
    materialization_summary,
    root_error,
    run_attention,
    run_partitions,
)
from y3d_pipeline.runlog.tags import TAG_OUTCOME, TAG_SOURCE, Outcome

# ------------------------------------------------------------------------------------------ failed runs


def run_failure_payload(context: dg.RunFailureSensorContext, base_url: str | None = None) -> Alert:
    run = context.dagster_run
    errors = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        errors.append(f"{event.step_key}: {root_error(data.error if data else None) or 'failed'}")
    error = "; ".join(errors) or (context.failure_event.message or "").strip() or None
    return run_failure_alert(job=run.job_name, run_id=run.run_id, partition=run_partitions(dict(run.tags)),
                             error=error, source=run.tags.get(TAG_SOURCE), base_url=base_url)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    description="Posts a failed run (job, partition, error, what to do, link) to the alert webhooks; a job failing "
                "again with the same error is not posted again until it succeeds or fails differently (then a "
                "'recovered' note). Always logs.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def alert_on_run_failure(context: dg.RunFailureSensorContext, database: DatabaseResource,
                         alerts: AlertsResource) -> None:
    run = context.dagster_run
    context.instance.add_run_tags(run.run_id, {TAG_OUTCOME: Outcome.FAILED})
    alert = run_failure_payload(context, alerts.ui_base_url)
    condition = failure_condition(run.job_name, alert.summary)
    with database.engine.begin() as conn:
        new = alert_state.to_report(conn, [condition])
    if not new:
        context.log.info(f"{run.job_name} failed again with the error already reported; not posted")
        return
    if alerts.post(alert, logger=context.log):
        with database.engine.begin() as conn:
            alert_state.mark_reported(conn, new)


# ------------------------------------------------------------------------------ runs needing attention


@dg.run_status_sensor(
    name="tag_run_outcome",
    run_status=dg.DagsterRunStatus.SUCCESS,
    description="Tags every successful run with y3d/outcome (success, partial_success, success_no_orders) from its "
                "materialization metadata unless an asset set it, and alerts a run that left failed orders, "
                "quarantined records or placeholder tasks (once per condition, not per run).",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def tag_run_outcome(context: dg.RunStatusSensorContext, database: DatabaseResource, alerts: AlertsResource) -> None:
    run = context.dagster_run
    if TAG_OUTCOME not in run.tags:
        counts, failed = materialization_summary(context.instance, run.run_id)
        context.instance.add_run_tags(run.run_id, {TAG_OUTCOME: derive_outcome(counts, failed)})
    with database.engine.begin() as conn:
        recovered = alert_state.clear(conn, [f"run_failure:{run.job_name}"])
    if recovered:
        alerts.post(recovered_alert(run.job_name, run.run_id, alerts.ui_base_url), logger=context.log)
    items = [i for i in run_attention(context.instance, run.run_id) if i.needs_attention]
    if not items:
        return
    with database.engine.begin() as conn:
        failures = open_failures(conn, sorted({i.partition for i in items if i.partition and i.quarantined}),
                                 limit=MAX_OPEN_FAILURES_LISTED + 1)
        found = attention_conditions(run.job_name, run.run_id, items, failures)
        new = {c.key for c in alert_state.to_report(conn, [c for c, _ in found])}
    report = [(c, e) for c, e in found if c.key in new]
    if not report:
        context.log.info(f"run {run.run_id[:8]}: {len(found)} condition(s) already reported")
        return
    alert = attention_alert(run.job_name, run.run_id, run_partitions(dict(run.tags)), [e for _, e in report],
                            alerts.ui_base_url)
    if alerts.post(alert, logger=context.log):
        with database.engine.begin() as conn:
            alert_state.mark_reported(conn, [c for c, _ in report])


# ------------------------------------------------------------------------------------------ failed checks


@dg.sensor(
    name="alert_on_failed_checks",
    description="Posts failed asset checks (which orders or records need attention, per partition) to the alert "
                "webhooks when their findings are new or changed, and notes checks that pass again; always logs. "
                "Cursor: the last check-evaluation event seen.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
def alert_on_failed_checks(context: dg.SensorEvaluationContext, database: DatabaseResource, alerts: AlertsResource):
    latest, cursor = collect_check_evaluations(context.instance, context.cursor)
    failing, passing = check_conditions(latest)
    with database.engine.begin() as conn:
        changed = alert_state.to_report(conn, failing)
        resolved = alert_state.clear(conn, passing)
    changed_keys = {c.key for c in changed}
    delivered = True
    if changed:
        failures = [f for key, (passed, f) in latest.items() if f"check:{key}" in changed_keys]
        delivered = alerts.post(check_failure_alert(failures, base_url=alerts.ui_base_url), logger=context.log)
        if delivered:
            with database.engine.begin() as conn:
                alert_state.mark_reported(conn, changed)
    if resolved:
        alerts.post(checks_resolved_alert((k.removeprefix("check:") for k in resolved), base_url=alerts.ui_base_url),
                    logger=context.log)
    if delivered and cursor and cursor != context.cursor:
        context.update_cursor(cursor)  # a failed post keeps the cursor: the same evaluations are tried again
    unchanged = len(failing) - len(changed)
    return dg.SkipReason(f"{len(latest)} evaluation(s): {len(changed)} failure(s) alerted, {unchanged} already "
                         f"reported, {len(resolved)} resolved" + ("" if delivered else "; webhook failed, retrying"))


# ------------------------------------------------------------------------------------ operator conditions


@dg.sensor(
    name="operator_alerts",
    description="Every 5 minutes, from the database and run history: a review backlog of "
                "Y3D_ALERT_REVIEW_BACKLOG+ tasks (again each time it grows by as many), Amazon Custom files missing "
                "for orders due within Y3D_ALERT_SHIP_BY_HOURS, configured sources without a successful sync for "
                "Y3D_MAX_SYNC_AGE_MINUTES of business hours. One message per condition, again only when it changes.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=300,
)
def operator_alerts(context: dg.SensorEvaluationContext, database: DatabaseResource, alerts: AlertsResource,
                    shop: ShopResource, shipstation: ShipStationResource, shopify: ShopifyResource,
                    amazon: AmazonResource):
    now = dt.datetime.now(dt.UTC)
    configured = {"shipstation": shipstation.configured, "shopify": shopify.configured, "amazon": amazon.configured}
    with database.engine.begin() as conn:
        latest = {source: last_successful_sync(context.instance, key)
                  for source, (key, _) in FRESHNESS_SOURCES.items() if configured[source]}
        found, resolved = evaluate_operator_conditions(conn, latest, alerts.operator_limits(shop), now)
        alert_state.forget_unseen(conn, now=now)
        new = {c.key for c in alert_state.to_report(conn, [c for c, _ in found])}
    posted = []
    for condition, alert in found:
        if condition.key in new and alerts.post(alert, logger=context.log):
            posted.append(condition)
    for alert in resolved:
        alerts.post(alert, logger=context.log)
    if posted:
        with database.engine.begin() as conn:
            alert_state.mark_reported(conn, posted)
    return dg.SkipReason(f"{len(found)} condition(s) hold: {len(posted)} alerted, {len(found) - len(new)} already "
                         f"reported; {len(resolved)} resolved note(s)")
