"""``y3d status``: one screen for the operator (what ScriptRunLog's "monitor this table" gave, and more).

Per source: configured or not, its syncs (schedules and new-orders sensor) on or off, the last successful
sync and its age. The queue: open print tasks, tasks waiting for review, quarantined records, failed or
rejected Amazon Custom files of open orders. The alerts currently standing. The last run of every job with
its outcome. Whether the daemon (which runs schedules and sensors) is alive.

Read-only: the Dagster instance, the code location's definitions (for names and default on/off states) and
the application database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import InstigatorStatus

from y3d_pipeline.runlog.core import last_successful_sync, outcome_of, run_partitions
from y3d_pipeline.settings import Settings

SOURCES = ("shipstation", "shopify", "amazon")
QUEUE_SQL = """
SELECT
  (SELECT count(*) FROM print_tasks WHERE status IN ('pending', 'in_progress')) AS open_tasks,
  (SELECT count(*) FROM print_tasks WHERE status = 'pending' AND needs_review) AS review_tasks,
  (SELECT min(created_at) FROM print_tasks WHERE status = 'pending' AND needs_review) AS oldest_review,
  (SELECT count(*) FROM normalization_failures WHERE resolved_at IS NULL AND acknowledged_at IS NULL)
      AS quarantined_records,
  (SELECT count(*) FROM amazon_customizations c
     LEFT JOIN order_items oi ON oi.id = c.order_item_id LEFT JOIN orders o ON o.id = oi.order_id
     WHERE c.status IN ('failed', 'rejected') AND COALESCE(o.status, 'awaiting_shipment')
       NOT IN ('shipped', 'cancelled')) AS failed_customizations,
  (SELECT count(*) FROM orders WHERE status IN ('awaiting_shipment', 'on_hold')) AS open_orders
"""


@dataclass
class SourceStatus:
    source: str
    configured: bool
    syncing: list[str]  # the schedules/sensors of this source that are on
    last_success_at: dt.datetime | None
    age_minutes: float | None


@dataclass
class JobStatus:
    job: str
    run_id: str
    outcome: str
    partitions: str | None
    start: dt.datetime | None
    end: dt.datetime | None


@dataclass
class Status:
    now: dt.datetime
    timezone: str
    business_hours: str | None
    daemon_heartbeat_age_seconds: float | None
    sources: list[SourceStatus] = field(default_factory=list)
    automation: dict[str, str] = field(default_factory=dict)  # schedule/sensor name -> RUNNING/STOPPED
    queue: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    last_runs: list[JobStatus] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def convert(value):
            if isinstance(value, dt.datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: convert(v) for k, v in value.items()}
            if isinstance(value, list):
                return [convert(v) for v in value]
            return value

        return convert(asdict(self))


def automation_states(instance: dg.DagsterInstance, definitions: dg.Definitions) -> dict[str, str]:
    """Every schedule and sensor of the code location: RUNNING or STOPPED, as the daemon sees it (the state
    stored when someone toggled it, else its default)."""
    repository = definitions.get_repository_def()
    stored: dict[str, str] = {}
    for kind in (InstigatorType.SCHEDULE, InstigatorType.SENSOR):
        for state in instance.all_instigator_state(instigator_type=kind):
            if state.status in (InstigatorStatus.RUNNING, InstigatorStatus.STOPPED):
                stored[state.instigator_name] = state.status.value
    states = {}
    for schedule in repository.schedule_defs:
        states[schedule.name] = stored.get(schedule.name, schedule.default_status.value)
    for sensor in repository.sensor_defs:
        states[sensor.name] = stored.get(sensor.name, sensor.default_status.value)
    return dict(sorted(states.items()))


def daemon_heartbeat_age(instance: dg.DagsterInstance, now: dt.datetime) -> float | None:
    try:
        heartbeats = instance.get_daemon_heartbeats()
    except Exception:  # noqa: BLE001 - status must show even if this storage call is unsupported
        return None
    stamps = [hb.timestamp for hb in heartbeats.values() if hb is not None]
    return round(now.timestamp() - max(stamps), 1) if stamps else None


def collect_status(instance: dg.DagsterInstance, definitions: dg.Definitions, engine: sa.Engine,
                   settings: Settings, *, now: dt.datetime | None = None) -> Status:
    from y3d_pipeline.alert_state import counts_by_kind
    from y3d_pipeline.defs.automation.quality_checks import FRESHNESS_SOURCES

    now = now or dt.datetime.now(dt.UTC)
    status = Status(now=now, timezone=settings.Y3D_TIMEZONE,
                    business_hours=str(settings.business_hours) if settings.business_hours else None,
                    daemon_heartbeat_age_seconds=daemon_heartbeat_age(instance, now))
    status.automation = automation_states(instance, definitions)
    for source in SOURCES:
        key, flag = FRESHNESS_SOURCES[source]
        last = last_successful_sync(instance, key)
        status.sources.append(SourceStatus(
            source=source, configured=bool(getattr(settings, flag)),
            syncing=[name for name, state in status.automation.items()
                     if name.startswith(f"{source}_") and state == "RUNNING"],
            last_success_at=last, age_minutes=round((now - last).total_seconds() / 60, 1) if last else None))
    with engine.connect() as conn:
        status.queue = dict(conn.execute(sa.text(QUEUE_SQL)).mappings().one())
        status.alerts = dict(counts_by_kind(conn))
    job_names = sorted(j.name for j in definitions.get_repository_def().get_all_jobs() if not j.name.startswith("__"))
    # Materializations launched from the UI's "Materialize" button or `dg launch --assets` run as the implicit
    # asset job: shown as "(ad hoc)" so an operator sees them too.
    for job_name in [*job_names, AD_HOC_JOB]:
        records = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=1)
        if not records:
            continue
        record = records[0]
        run = record.dagster_run
        status.last_runs.append(JobStatus(
            job="(ad hoc)" if job_name == AD_HOC_JOB else job_name, run_id=run.run_id, outcome=outcome_of(run.status, dict(run.tags)),
            partitions=run_partitions(dict(run.tags)),
            start=_ts(record.start_time) or _ts(record.create_timestamp), end=_ts(record.end_time)))
    return status


AD_HOC_JOB = "__ASSET_JOB"


def _ts(value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def _age(minutes: float | None) -> str:
    if minutes is None:
        return "never"
    if minutes < 90:
        return f"{minutes:.0f} min ago"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h ago"
    return f"{minutes / 1440:.1f} days ago"


def _table(header: tuple[str, ...], rows: list[tuple]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


def format_status(status: Status, tz: dt.tzinfo = dt.UTC) -> str:
    def local(value: dt.datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "-"

    daemon = status.daemon_heartbeat_age_seconds
    lines = [f"y3d status at {local(status.now)} ({status.timezone})"
             + (f", business hours {status.business_hours}" if status.business_hours else ""),
             "daemon: " + ("no heartbeat: schedules and sensors are not running (start dagster-daemon or y3d dev)"
                           if daemon is None else f"alive (heartbeat {daemon:.0f} s ago)"
                           + (": STALE, check the daemon" if daemon > 120 else "")), "", "sources"]
    lines += ["  " + line for line in _table(
        ("source", "configured", "syncing (on)", "last successful sync", "age"),
        [(s.source, "yes" if s.configured else "no", ", ".join(n.removeprefix(f"{s.source}_") for n in s.syncing)
          or "nothing on", local(s.last_success_at), _age(s.age_minutes)) for s in status.sources])]
    q = status.queue
    oldest = q.get("oldest_review")
    lines += ["", "queue",
              f"  open orders {q.get('open_orders', 0)}, open print tasks {q.get('open_tasks', 0)}",
              f"  waiting for review {q.get('review_tasks', 0)}"
              + (f" (oldest since {local(oldest)})" if oldest else ""),
              f"  quarantined records {q.get('quarantined_records', 0)}, failed/rejected Amazon Custom files "
              f"{q.get('failed_customizations', 0)}",
              "", "standing alerts: " + (", ".join(f"{k} {v}" for k, v in sorted(status.alerts.items())) or "none"),
              "", "automation (on)"]
    on = [name for name, state in status.automation.items() if state == "RUNNING"]
    off = [name for name, state in status.automation.items() if state != "RUNNING"]
    lines += [f"  {', '.join(on) or 'nothing'}", f"  off: {', '.join(off) or 'nothing'}", "", "last run per job"]
    lines += ["  " + line for line in _table(
        ("job", "outcome", "partition(s)", "start", "end", "run"),
        [(j.job, j.outcome, j.partitions or "-", local(j.start), local(j.end), j.run_id[:8])
         for j in status.last_runs])] if status.last_runs else ["  no runs yet"]
    return "\n".join(lines)
