"""A run's operations as the legacy ``sync_logs`` row listed them (``results``: one entry per operation, with its
records, duration and error), read from the run's own step events: no table of our own.

For the ShipStation catalogue job each step is one operation (warehouses, inventory warehouses, inventory
locations, products, inventory); ``y3d_pipeline.defs.sources.shipstation_catalogue.assets`` puts ``operation``,
``records`` and ``duration_seconds`` in a materialization's metadata and, on failure, ``error`` in the failure's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType

_EVENTS = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
           DagsterEventType.STEP_SKIPPED, DagsterEventType.ASSET_MATERIALIZATION}


@dataclass
class OperationResult:
    step_key: str
    status: str = "not started"  # success, failure, skipped, running
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    operation: str | None = None
    records: int | None = None
    duration_seconds: float | None = None  # the operation's own (the step's is ended_at - started_at)
    error: str | None = None
    attempts: int = 0


def _value(metadata: dict[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def operation_results(instance: dg.DagsterInstance, run_id: str) -> list[OperationResult]:
    """Every step of the run in order of its first start: status, start and end (the last attempt's), the
    operation's records and duration, and a failed one's error."""
    results: dict[str, OperationResult] = {}
    for record in instance.get_records_for_run(run_id, of_type=_EVENTS).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        result = results.setdefault(event.step_key, OperationResult(event.step_key))
        at = dt.datetime.fromtimestamp(entry.timestamp, dt.UTC)
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            result.attempts += 1
            result.started_at, result.status = result.started_at or at, "running"
        elif kind == DagsterEventType.STEP_SKIPPED:
            result.status, result.ended_at = "skipped", at
        elif kind == DagsterEventType.STEP_SUCCESS:
            result.status, result.ended_at, result.error = "success", at, None
        elif kind == DagsterEventType.STEP_FAILURE:
            result.status, result.ended_at = "failure", at
            data = event.step_failure_data
            metadata = dict(getattr(data.user_failure_data, "metadata", None) or {}) if data else {}
            result.error = _value(metadata, "error") or (data.error.message.strip() if data and data.error else None)
            result.operation = _value(metadata, "operation") or result.operation
            result.records = _value(metadata, "records")
            result.duration_seconds = _value(metadata, "duration_seconds")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = dict(event.event_specific_data.materialization.metadata)
            result.operation = _value(metadata, "operation") or result.operation
            result.records = _value(metadata, "records")
            result.duration_seconds = _value(metadata, "duration_seconds")
    return sorted(results.values(), key=lambda r: (r.started_at is None, r.started_at or dt.datetime.max))
