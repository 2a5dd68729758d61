"""Read the run log out of a Dagster instance: runs, their partitions, outcome, counts and failed orders.

No table of our own: runs come from ``instance.get_run_records`` and counts from the materialization
events each run wrote (their metadata). Mapping from the legacy ScriptRunLog statuses:

* ``running``            -> Dagster run status QUEUED / NOT_STARTED / STARTING / STARTED (outcome ``running``;
                             ``queued`` while waiting in the run queue)
* ``success``            -> SUCCESS (outcome tag ``success`` when the asset sets it)
* ``partial_success``    -> the ``y3d/outcome`` tag ``partial_success`` (run SUCCESS, some orders failed;
                             their ids are in the ``failed_orders`` metadata)
* ``success_no_orders``  -> the ``y3d/outcome`` tag ``success_no_orders``
* ``failed``             -> FAILURE (or the tag ``failed``); CANCELED/CANCELING show as ``canceled``
* ``order_failure``      -> no separate row: each failed order is listed in the run's ``failed_orders``
                             metadata and in ``failed_order_ids`` of the run log entry.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType

from y3d_pipeline.progress import format_duration
from y3d_pipeline.runlog.tags import (
    TAG_OUTCOME,
    TAG_PARTITION,
    TAG_RANGE_END,
    TAG_RANGE_START,
    TAG_SOURCE,
    Outcome,
)

_STATUS_OUTCOME = {
    dg.DagsterRunStatus.QUEUED: Outcome.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED: Outcome.RUNNING,
    dg.DagsterRunStatus.MANAGED: Outcome.RUNNING,
    dg.DagsterRunStatus.STARTING: Outcome.RUNNING,
    dg.DagsterRunStatus.STARTED: Outcome.RUNNING,
    dg.DagsterRunStatus.SUSPENDED: Outcome.RUNNING,
    dg.DagsterRunStatus.SUCCESS: Outcome.SUCCESS,
    dg.DagsterRunStatus.FAILURE: Outcome.FAILED,
    dg.DagsterRunStatus.CANCELING: Outcome.CANCELED,
    dg.DagsterRunStatus.CANCELED: Outcome.CANCELED,
}
_FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_LIST_KEYS = ("failed_orders", "failed_order_ids", "orders_failed_ids")


@dataclass
class RunEntry:
    run_id: str
    job: str
    status: str
    outcome: str
    start: dt.datetime | None
    end: dt.datetime | None
    duration_seconds: float | None
    partitions: str | None
    source: str | None
    counts: dict[str, dict[str, float | int]] = field(default_factory=dict)
    failed_order_ids: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("start", "end"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def parse_since(value: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``24h``, ``30m``, ``7d``, ``2w`` back from now, or an ISO date/datetime (naive = UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value.lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"m": dt.timedelta(minutes=amount), "h": dt.timedelta(hours=amount),
                 "d": dt.timedelta(days=amount), "w": dt.timedelta(weeks=amount)}[unit]
        return now - delta
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"--since '{value}': use e.g. 24h, 7d or an ISO date like 2026-03-08") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def run_partitions(tags: dict[str, str]) -> str | None:
    if tags.get(TAG_PARTITION):
        return tags[TAG_PARTITION]
    start, end = tags.get(TAG_RANGE_START), tags.get(TAG_RANGE_END)
    if start and end:
        return start if start == end else f"{start}..{end}"
    return start or end or None


def outcome_of(status: dg.DagsterRunStatus, tags: dict[str, str]) -> str:
    """The ``y3d/outcome`` tag an asset set, unless the run did not finish successfully."""
    tagged = tags.get(TAG_OUTCOME)
    if status == dg.DagsterRunStatus.FAILURE:
        return Outcome.FAILED
    if tagged and status in _FINISHED:
        return tagged
    return _STATUS_OUTCOME.get(status, status.value.lower())


_CHANGE_KEYS = ("records_new", "records_changed", "orders_processed", "tasks_created")
_FAILURE_KEYS = ("orders_failed", "records_quarantined", "quarantined")


def derive_outcome(counts: dict[str, dict[str, float | int]], failed_order_ids: list[str]) -> str:
    """The ScriptRunLog-style outcome of a successful run from its materialization counts:
    ``partial_success`` when orders failed or records were quarantined, ``success_no_orders`` when the
    run reports change counters and all are zero, else ``success``."""
    if failed_order_ids or any(n.get(k, 0) for n in counts.values() for k in _FAILURE_KEYS):
        return Outcome.PARTIAL_SUCCESS
    changes = [n[k] for n in counts.values() for k in _CHANGE_KEYS if k in n]
    if changes and not any(changes):
        return Outcome.SUCCESS_NO_ORDERS
    return Outcome.SUCCESS


def _order_ids(value: Any) -> list[str]:
    ids: list[str] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                ref = item.get("order_number") or item.get("order_id") or item.get("source_id")
                if ref is not None:
                    ids.append(str(ref))
            elif item is not None:
                ids.append(str(item))
    return ids


def materialization_summary(instance: dg.DagsterInstance, run_id: str):
    counts: dict[str, dict[str, float | int]] = {}
    failed: list[str] = []
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None:
            continue
        asset = materialization.asset_key.to_user_string()
        numbers = counts.setdefault(asset, {})
        for key, value in materialization.metadata.items():
            raw = getattr(value, "value", value)
            if isinstance(raw, bool):
                continue
            if isinstance(raw, int | float) and not key.endswith(("_seconds", "_ms")) and key != "duration":
                numbers[key] = numbers.get(key, 0) + raw
            elif key in _LIST_KEYS:
                failed.extend(_order_ids(raw))
    return {k: v for k, v in counts.items() if v}, list(dict.fromkeys(failed))


_QUARANTINE_KEYS = ("quarantined", "records_quarantined")


@dataclass
class Attention:
    """What one step of a run left for a person, per partition: failed orders, quarantined records,
    placeholder print tasks (items nobody could read)."""

    step: str
    assets: list[str]
    partition: str | None
    orders_failed: int = 0
    failed_orders: list[str] = field(default_factory=list)
    quarantined: int = 0
    placeholders: int = 0

    @property
    def needs_attention(self) -> bool:
        return bool(self.orders_failed or self.failed_orders or self.quarantined or self.placeholders)


def _int(value: Any) -> int:
    raw = getattr(value, "value", value)
    return int(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0


def run_attention(instance: dg.DagsterInstance, run_id: str) -> list[Attention]:
    """Per step and partition of the run, the counts an operator must act on (from materialization metadata).

    A multi-asset repeats its step-wide counters on every asset it materializes, so counts are taken once per
    step and partition (the largest value seen), not summed over the assets."""
    by_step: dict[tuple[str, str | None], Attention] = {}
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    for record in records:
        materialization = record.event_log_entry.asset_materialization
        if materialization is None:
            continue
        step = record.event_log_entry.step_key or materialization.asset_key.to_user_string()
        item = by_step.setdefault((step, materialization.partition),
                                  Attention(step=step, assets=[], partition=materialization.partition))
        item.assets.append(materialization.asset_key.to_user_string())
        metadata = materialization.metadata
        failed: list[str] = []
        for key in _LIST_KEYS:
            if key in metadata:
                failed.extend(_order_ids(getattr(metadata[key], "value", metadata[key])))
        item.failed_orders = list(dict.fromkeys([*item.failed_orders, *failed]))
        item.orders_failed = max(item.orders_failed, _int(metadata.get("orders_failed")), len(item.failed_orders))
        item.quarantined = max(item.quarantined, sum(_int(metadata.get(k)) for k in _QUARANTINE_KEYS))
        by_source = getattr(metadata.get("items_by_source"), "value", None)
        if isinstance(by_source, dict):
            item.placeholders = max(item.placeholders, int(by_source.get("placeholder") or 0))
    return list(by_step.values())


def last_successful_sync(instance: dg.DagsterInstance, key: dg.AssetKey) -> dt.datetime | None:
    """The latest materialization of ``key`` that actually synced (not a "not configured" no-op)."""
    records = instance.fetch_materializations(key, limit=20).records
    for record in records:
        materialization = record.asset_materialization
        configured = materialization.metadata.get("configured") if materialization else None
        if configured is not None and getattr(configured, "value", configured) is False:
            continue
        return dt.datetime.fromtimestamp(record.timestamp, tz=dt.UTC)
    return None


def root_error(error) -> str | None:
    """The innermost cause of a SerializableErrorInfo as ``Class: message`` (one line, bounded)."""
    if error is None:
        return None
    while getattr(error, "cause", None) is not None:
        error = error.cause
    message = (error.message or "").strip().splitlines()
    return (message[0] if message else error.cls_name or "error")[:300]


def error_summary(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The failed steps' root errors, else the run failure message."""
    steps = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE, limit=5).records
    parts = []
    for record in steps:
        event = record.event_log_entry.dagster_event
        data = event.step_failure_data if event else None
        parts.append(f"{event.step_key if event else '?'}: {root_error(data.error if data else None) or 'failed'}")
    if parts:
        return "; ".join(parts)[:500]
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE, ascending=False,
                                           limit=1).records
    for record in records:
        message = (record.event_log_entry.message or "").strip()
        return message.splitlines()[0][:300] if message else None
    return None


def _timestamp(value: float | dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def _started(record) -> dt.datetime:
    return _timestamp(record.start_time) or _timestamp(record.create_timestamp) or dt.datetime.min.replace(tzinfo=dt.UTC)


def collect_runs(instance: dg.DagsterInstance, *, since: dt.datetime | None = None, status: str | None = None,
                 job: str | None = None, limit: int = 50, now: dt.datetime | None = None,
                 scan_limit: int = 10_000) -> list[RunEntry]:
    """Runs newest first by start time (a queued run by its creation), at most ``limit``. ``status`` filters on
    the outcome (see Outcome).

    Run storage orders by creation, and a run can start long after it was created (queued behind another run
    of its source), so every run of the window (at most ``scan_limit``; without ``since``, the newest
    ``limit * 4``) is read first and sorted by start; materialization summaries are read for those shown only.
    """
    filters = dg.RunsFilter(job_name=job or None, created_after=since)
    now = now or dt.datetime.now(dt.UTC)
    records = list(instance.get_run_records(filters=filters, limit=scan_limit if since else max(limit * 4, 200)))
    records.sort(key=lambda r: (_started(r), r.dagster_run.run_id), reverse=True)
    entries: list[RunEntry] = []
    for record in records:
        if len(entries) >= limit:
            break
        run = record.dagster_run
        tags = dict(run.tags)
        outcome = outcome_of(run.status, tags)
        if status and outcome != status and not (outcome == Outcome.SUCCESS and TAG_OUTCOME not in tags):
            continue  # the tag is the outcome; only an untagged success may turn out to be something else
        counts, failed = materialization_summary(instance, run.run_id)
        if outcome == Outcome.SUCCESS and TAG_OUTCOME not in tags:
            outcome = derive_outcome(counts, failed)
        if status and outcome != status:
            continue
        start = _timestamp(record.start_time) or _timestamp(record.create_timestamp)
        end = _timestamp(record.end_time)
        duration = ((end or now) - start).total_seconds() if start else None
        entries.append(RunEntry(
            run_id=run.run_id, job=run.job_name, status=run.status.value, outcome=outcome, start=start,
            end=end, duration_seconds=round(duration, 1) if duration is not None else None,
            partitions=run_partitions(tags), source=tags.get(TAG_SOURCE), counts=counts,
            failed_order_ids=failed,
            error=error_summary(instance, run.run_id) if run.status == dg.DagsterRunStatus.FAILURE else None,
        ))
    return entries


def _fmt_counts(counts: dict[str, dict[str, float | int]], width: int = 80) -> str:
    parts = []
    for asset, numbers in counts.items():
        shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(numbers.items())[:6])
        parts.append(f"{asset}: {shown}")
    text = "; ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(entries: list[RunEntry], tz: dt.tzinfo = dt.UTC) -> str:
    if not entries:
        return "no runs"
    header = ("start", "end", "duration", "job", "partition(s)", "outcome", "counts", "failed orders", "run")
    rows = []
    for e in entries:
        rows.append((
            e.start.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if e.start else "-",
            e.end.astimezone(tz).strftime("%H:%M:%S") if e.end else "-",
            "-" if e.duration_seconds is None else format_duration(e.duration_seconds), e.job, e.partitions or "-", e.outcome,
            _fmt_counts(e.counts) or "-",
            ", ".join(e.failed_order_ids[:10]) + (" …" if len(e.failed_order_ids) > 10 else "") or "-",
            e.run_id[:8],
        ))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    errors = [f"  {e.run_id[:8]} {e.job}: {e.error}" for e in entries if e.error]
    if errors:
        lines += ["", "errors:", *errors]
    return "\n".join(lines)
