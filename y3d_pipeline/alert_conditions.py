"""What the alert sensors report and when (plain module): the conditions a failed run, a run needing attention, a
failed check or an operator condition (review backlog, Amazon Custom files due, stale sources) stands for, and
the message each is posted as. The sensors (``defs/automation/alerting.py``) read Dagster's run storage and post;
``alert_state`` keeps a condition from being posted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEventType

from y3d_pipeline import alert_state, quality
from y3d_pipeline.alert_state import Condition
from y3d_pipeline.alerts import Alert, AlertEntry, CheckFailure, fingerprint, run_url, ui_url
from y3d_pipeline.business_hours import BusinessHours
from y3d_pipeline.redaction import scrub
from y3d_pipeline.runlog.core import Attention

MAX_OPEN_FAILURES_LISTED = 50

# How far back the failed-check sensor looks on its very first tick (afterwards: its cursor).
FIRST_TICK_LOOKBACK = dt.timedelta(hours=1)


MAX_EVENTS_PER_TICK = 500


CUSTOM_FILE_GRACE = dt.timedelta(minutes=30)  # a new order's file gets one Amazon chain run before it counts


def failure_condition(job: str, error: str | None) -> Condition:
    """A job failing: one condition per job, whatever the partition; its fingerprint is the error with the
    numbers taken out (ids, counts, timestamps), so the same failure every 10 minutes is one alert and a
    different failure is another."""
    text = scrub(error or "")  # stored in alert_state: never a secret an upstream echoed
    signature = re.sub(r"\d+", "#", text)[:500]
    return Condition(f"run_failure:{job}", "run_failure", fingerprint(signature), summary=text[:300])


def recovered_alert(job: str, run_id: str, base_url: str | None = None) -> Alert:
    return Alert(kind="run_recovered", severity="info", title=f"{job} succeeded again",
                 summary=f"{job} has run successfully after the failure reported earlier.", action="Nothing.",
                 key=f"run_recovered:{run_id}", url=run_url(run_id, base_url), run_id=run_id, fields={"Job": job})


def attention_conditions(job: str, run_id: str, items: Sequence[Attention],
                         open_failures: Sequence[dict]) -> list[tuple[Condition, AlertEntry]]:
    """One condition per step, partition and kind of problem; the fingerprint is what the problem is (which
    orders failed, how many records are quarantined), so later runs seeing the same problem stay quiet."""
    found = []
    for item in items:
        where = f"{job}:{item.step}:{item.partition or '-'}"
        if item.orders_failed or item.failed_orders:
            found.append((
                Condition(f"run:{where}:failed_orders", "run_attention",
                          fingerprint(sorted(item.failed_orders), item.orders_failed), sorted(item.failed_orders)),
                AlertEntry(label=f"{item.step}: orders failed", count=item.orders_failed, unit="order(s)",
                           partition=item.partition, refs=item.failed_orders, refs_total=item.orders_failed,
                           run_id=run_id)))
        if item.quarantined:
            mine = [f for f in open_failures if f["partition_key"] == item.partition] if item.partition else []
            refs = [f"{f['source']}:{f['source_id']}" for f in mine]
            found.append((
                Condition(f"run:{where}:quarantined", "run_attention", fingerprint(item.quarantined, refs), refs),
                AlertEntry(label=f"{item.step}: records quarantined", count=item.quarantined, unit="record(s)",
                           partition=item.partition, refs=refs[:MAX_OPEN_FAILURES_LISTED], refs_total=len(refs),
                           refs_unit="still open in normalization_failures",
                           detail="; ".join(f"{f['source_id']}: {f['reason']}" for f in mine[:3]) or None,
                           run_id=run_id)))
        if item.placeholders:
            found.append((
                # every run's placeholders are new tasks: reported once per run
                Condition(f"run:{where}:placeholders:{run_id}", "run_attention", str(item.placeholders)),
                AlertEntry(label=f"{item.step}: placeholder print tasks created", count=item.placeholders,
                           unit="item(s)", partition=item.partition, run_id=run_id,
                           detail="no source could read these items' personalisation; each has a placeholder "
                                  "task flagged for review")))
    return found


ATTENTION_ACTIONS = {
    "orders failed": "Failed orders: read each order's error in the run's log, fix the cause and re-run the "
                     "partition (orders that already have tasks are left alone, so only the failed ones are redone).",
    "records quarantined": "Quarantined records: fix the record at the source (the next sync picks it up), or set "
                           "acknowledged_at in normalization_failures to accept it as it is.",
    "placeholder print tasks created": "Placeholder tasks: read the item in the order and write the text and "
                                       "colours on its task in the print queue, then clear needs_review.",
}


def attention_alert(job: str, run_id: str, partition: str | None, entries: list[AlertEntry],
                    base_url: str | None = None) -> Alert:
    where = f" ({partition})" if partition else ""
    kinds = list(dict.fromkeys(e.label.split(": ", 1)[-1] for e in entries))
    return Alert(
        kind="run_needs_attention", severity="warning",
        title=f"Run needs attention: {job}{where}",
        summary="The run succeeded but left work for a person: " + "; ".join(
            f"{e.count} {e.label.split(': ', 1)[-1]}" + (f" in {e.partition}" if e.partition else "")
            for e in entries) + ".",
        action=" ".join(ATTENTION_ACTIONS[k] for k in kinds if k in ATTENTION_ACTIONS),
        key=f"run_needs_attention:{run_id}", url=run_url(run_id, base_url), run_id=run_id,
        fields={"Job": job, "Partition": partition or "-"}, entries=entries)


def _offending(metadata) -> list[str]:
    for key in ("offending_orders", "order_numbers", "amazon_order_ids", "source_ids", "orders"):
        value = metadata.get(key)
        raw = getattr(value, "value", value)
        if isinstance(raw, list):
            return [str(v) for v in raw]
        if isinstance(raw, str) and raw.strip() and raw.strip() != "none":
            return [part.strip() for part in raw.split(",") if part.strip()]
    return []


def _count(metadata, offending: list[str]) -> int:
    for key in ("count", "open_failures", "failed_or_rejected"):
        value = getattr(metadata.get(key), "value", metadata.get(key))
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return len(offending)


def collect_check_evaluations(instance: dg.DagsterInstance, cursor: str | None, now: dt.datetime | None = None
                              ) -> tuple[dict[str, tuple[bool, CheckFailure]], str | None]:
    """The latest evaluation per (asset, check, partition) after the cursor (an event storage id), and the new
    cursor. A check evaluated without a partition inside a partitioned run takes the run's partition."""
    state = json.loads(cursor) if cursor else {}
    after_id = state.get("storage_id")
    if after_id is not None:
        flt = dg.EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after_id)
    else:
        since = (now or dt.datetime.now(dt.UTC)) - FIRST_TICK_LOOKBACK
        flt = dg.EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION,
                                    after_timestamp=since.timestamp())
    records = instance.get_event_records(flt, limit=MAX_EVENTS_PER_TICK, ascending=True)
    latest: dict[str, tuple[bool, CheckFailure]] = {}
    run_partition: dict[str, str | None] = {}
    last_id = after_id
    for record in records:
        last_id = record.storage_id
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.check_name == quality.FRESHNESS_CHECK_NAME:
            continue  # stale sources are operator_alerts' (business-hours aware, once per episode)
        partition = evaluation.partition
        if partition is None:
            if record.run_id not in run_partition:
                run = instance.get_run_by_id(record.run_id)
                run_partition[record.run_id] = run.tags.get("dagster/partition") if run else None
            partition = run_partition[record.run_id]
        offending = _offending(evaluation.metadata)
        capped = getattr(evaluation.metadata.get("count_capped"), "value", False) is True
        failure = CheckFailure(
            asset=evaluation.asset_key.to_user_string(), check=evaluation.check_name,
            severity=evaluation.severity.value, run_id=record.run_id, partition=partition,
            description=evaluation.description + (" (the first 500 are listed)" if capped else "")
            if evaluation.description else None,
            offending=offending, count=_count(evaluation.metadata, offending))
        latest[failure.key] = (evaluation.passed, failure)
    return latest, json.dumps({"storage_id": last_id}) if last_id is not None else cursor


def check_conditions(latest: dict[str, tuple[bool, CheckFailure]]) -> tuple[list[Condition], list[str]]:
    failing = [Condition(f"check:{key}", "check", fingerprint(sorted(f.offending), f.count), sorted(f.offending),
                         summary=scrub(f.description) if f.description else None)
               for key, (passed, f) in latest.items() if not passed]
    passing = [f"check:{key}" for key, (passed, _) in latest.items() if passed]
    return failing, passing


def review_backlog_condition(backlog: dict, threshold: int) -> Condition | None:
    tasks = int(backlog.get("tasks") or 0)
    if tasks < threshold:
        return None
    step = tasks // threshold  # reported again each time it grows by another `threshold`
    return Condition("review_backlog", "review_backlog", str(step), summary=f"{tasks} tasks")


def review_backlog_alert(backlog: dict, threshold: int, now: dt.datetime, base_url: str | None = None) -> Alert:
    oldest = backlog.get("oldest_created_at")
    age = f"{(now - oldest).total_seconds() / 3600:.0f} h" if oldest else "-"
    ship_by = backlog.get("earliest_ship_by")
    reasons = backlog.get("reasons") or {}
    tasks = int(backlog["tasks"])
    listed = sum(reasons.values())
    entries = [AlertEntry(label=reason, count=n, unit="task(s)") for reason, n in reasons.items()]
    if tasks > listed:
        entries.append(AlertEntry(label="other reasons", count=tasks - listed, unit="task(s)"))
    return Alert(
        kind="review_backlog", severity="warning",
        title=f"Review backlog: {tasks} print tasks wait for review",
        summary=f"{tasks} pending task(s) on {backlog['orders']} order(s) need a person's review "
                f"(alert threshold {threshold}); the oldest has waited {age}"
                + (f", the earliest ship-by is {ship_by.isoformat()}" if ship_by else "") + ".",
        action="Review the flagged tasks in the print queue (needs_review = true, earliest ship-by first): correct "
               "the text or colours and clear the flag. Reported again each time the backlog grows by another "
               f"{threshold}.",
        key="review_backlog", url=ui_url("assets/print_queue/print_tasks", base_url), entries=entries,
        fields={"Tasks": str(tasks), "Orders": str(backlog["orders"])})


def custom_files_condition(rows: list[dict]) -> Condition | None:
    if not rows:
        return None
    orders = sorted({str(r["order_number"] or r["order_id"]) for r in rows})
    return Condition("custom_files_due", "custom_files_due", fingerprint(orders), orders, only_new_members=True)


def custom_files_alert(rows: list[dict], hours: int, base_url: str | None = None) -> Alert:
    by_order: dict[str, list[dict]] = {}
    for row in rows:
        by_order.setdefault(str(row["order_number"] or row["order_id"]), []).append(row)
    entries = []
    for order, items in sorted(by_order.items(), key=lambda kv: (kv[1][0]["ship_by_date"] is None,
                                                                   kv[1][0]["ship_by_date"] or dt.datetime.max)):
        first = items[0]
        statuses = sorted({i["customization_status"] or "not downloaded" for i in items})
        ship_by = first["ship_by_date"].isoformat() if first["ship_by_date"] else "no ship-by date"
        entries.append(AlertEntry(
            label=f"order {order} (ship by {ship_by})", count=len(items), unit="item(s) without a parsed file",
            detail=", ".join(statuses) + ("; " + first["customization_error"] if first.get("customization_error")
                                         else "")))
    return Alert(
        kind="custom_files_due", severity="warning",
        title=f"Amazon Custom files missing for {len(by_order)} order(s) due within {hours} h",
        summary=f"{len(rows)} item(s) on {len(by_order)} Amazon order(s) that must ship within {hours} h have a "
                "CustomizedURL but no parsed customization file, so their print tasks cannot be right.",
        action="Open the order in Seller Central (Manage Orders → the order → personalisation) and check the file; "
               "re-run raw/amazon_customizations for the order's day (failed files are retried; rejected ones need "
               "a person). If the file cannot be had, write the print task by hand and mark it reviewed.",
        key="custom_files_due", url=ui_url("assets/raw/amazon_customizations", base_url), entries=entries)


def stale_source_alert(stale: dict, max_age_minutes: int, business_hours: str | None,
                       base_url: str | None = None) -> Alert:
    source = stale["source"]
    last = stale["last_success_at"] or "never"
    age = f"{stale['age_minutes'] / 60:.1f} h ago" if stale["age_minutes"] is not None else "never"
    return Alert(
        kind="stale_source", severity="warning", title=f"{source}: no successful sync for too long",
        summary=f"{source} last synced successfully at {last} ({age}); the limit is {max_age_minutes} minutes"
                + (f" of business hours ({business_hours})" if business_hours else "") + ".",
        action=f"Check that {source}_new_orders or {source}_today_every_10_min is on (Automation tab), then look "
               f"at the latest {source}_sync runs for errors; expired credentials and a source outage are the usual "
               "causes.",
        key=f"stale_source:{source}", url=ui_url(f"jobs/{source}_sync", base_url),
        entries=[AlertEntry(label=source, detail=f"last success {last}")])


def source_recovered_alert(sources: Sequence[str], base_url: str | None = None) -> Alert:
    return Alert(kind="stale_source_resolved", severity="info",
                 title=f"{', '.join(sources)}: syncing again", summary="A successful sync has happened since the "
                 "stale-source alert.", action="Nothing.", key="stale_source_resolved:" + ",".join(sources),
                 url=ui_url("runs", base_url), entries=[AlertEntry(label=s) for s in sources])


@dataclass(frozen=True)
class OperatorLimits:
    """When a standing condition is worth a message (from the ``alerts`` and ``shop`` resources)."""

    review_backlog: int = 25  # Y3D_ALERT_REVIEW_BACKLOG: tasks waiting for review
    ship_by_hours: int = 24  # Y3D_ALERT_SHIP_BY_HOURS: Custom files missing this close to ship-by
    max_sync_age_minutes: int = 30  # Y3D_MAX_SYNC_AGE_MINUTES, business hours only
    business_hours: BusinessHours | None = None  # Y3D_BUSINESS_HOURS; None: always open
    ui_base_url: str | None = None  # Y3D_UI_BASE_URL, for the links


def evaluate_operator_conditions(conn: sa.Connection, latest_syncs: Mapping[str, dt.datetime | None],
                                 limits: OperatorLimits, now: dt.datetime) -> tuple[list[tuple[Condition, Alert]], list[Alert]]:
    """(new or changed conditions with their alerts, "resolved" notes) for the backlog, Custom files and
    stale sources (``latest_syncs``: each configured source's last successful sync). Clears conditions that no
    longer hold."""
    base_url = limits.ui_base_url
    found: list[tuple[Condition, Alert]] = []
    resolved: list[Alert] = []

    backlog = quality.review_backlog(conn)
    condition = review_backlog_condition(backlog, limits.review_backlog)
    if condition:
        found.append((condition, review_backlog_alert(backlog, limits.review_backlog, now, base_url)))
    elif int(backlog.get("tasks") or 0) < limits.review_backlog // 2 + 1:
        alert_state.clear(conn, ["review_backlog"])  # hysteresis: a backlog hovering at the limit stays quiet

    rows = quality.customized_url_without_customization(
        conn, now=now, grace=CUSTOM_FILE_GRACE,
        ship_by_before=now + dt.timedelta(hours=limits.ship_by_hours))
    condition = custom_files_condition(rows)
    if condition:
        found.append((condition, custom_files_alert(rows, limits.ship_by_hours, base_url)))
    else:
        alert_state.clear(conn, ["custom_files_due"])

    stale = quality.stale_sources(latest_syncs, now=now, max_age=dt.timedelta(minutes=limits.max_sync_age_minutes),
                                  business_hours=limits.business_hours)
    for item in stale:
        found.append((Condition(f"stale_source:{item['source']}", "stale_source", "stale"),
                      stale_source_alert(item, limits.max_sync_age_minutes,
                                         str(limits.business_hours) if limits.business_hours else None, base_url)))
    recovered = alert_state.clear_absent(conn, "stale_source", [f"stale_source:{s['source']}" for s in stale])
    if recovered:
        resolved.append(source_recovered_alert([k.removeprefix("stale_source:") for k in recovered], base_url))
    return found, resolved
