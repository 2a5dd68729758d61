"""Runs a ``y3d`` command executes in its own process (demo, backfill), recorded in the instance, with progress.

The run's steps are counted from the job's plan; a thread follows the run's step events in the instance and
moves a progress bar (or prints plain lines when stderr is not a terminal), naming the step that is running.
Dagster's own per-event console lines are turned down to warnings so the bar stays readable; the full event
log is in the instance, as for any run (``y3d runs``, the UI).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.utils import make_new_run_id

from y3d_pipeline.progress import terminal_progress

_STEP_EVENTS = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
                DagsterEventType.STEP_SKIPPED}
_DONE = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED}
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _follow(instance: dg.DagsterInstance, run_id: str, total: int, bar, stop: threading.Event,
            what: str) -> None:
    while not stop.wait(0.5):
        records = instance.get_records_for_run(run_id, of_type=_STEP_EVENTS).records
        done = {r.event_log_entry.step_key for r in records if r.event_log_entry.dagster_event_type in _DONE}
        running = [r.event_log_entry.step_key for r in records
                   if r.event_log_entry.dagster_event_type == DagsterEventType.STEP_START
                   and r.event_log_entry.step_key not in done]
        bar.update(len(done), total, f"{what}: {running[-1]}" if running else what)


def execute_with_progress(job: dg.JobDefinition, *, instance: dg.DagsterInstance, what: str,
                          asset_selection: Sequence[dg.AssetKey] | None = None,
                          tags: Mapping[str, str] | None = None,
                          run_config: Mapping | None = None) -> dg.ExecuteInProcessResult:
    """``job.execute_in_process`` with a progress display of its steps; never raises on a failed run."""
    subset = job.get_subset(asset_selection=set(asset_selection)) if asset_selection else job
    total = len(subset.nodes_in_topological_order)
    run_id = make_new_run_id()
    config = {**QUIET_CONSOLE, **(run_config or {})}
    with terminal_progress(what, unit="steps", total=total) as bar:
        stop = threading.Event()
        follower = threading.Thread(target=_follow, args=(instance, run_id, total, bar, stop, what), daemon=True)
        follower.start()
        try:
            result = job.execute_in_process(run_config=config, instance=instance, asset_selection=asset_selection,
                                            tags=dict(tags or {}), run_id=run_id, raise_on_error=False)
        finally:
            stop.set()
            follower.join(timeout=5)
        finished = {e.step_key for e in result.all_events if e.event_type in _DONE and e.step_key}
        bar.update(len(finished), total, f"{what}: {'done' if result.success else 'FAILED'}")
    return result
