"""What every source's raw assets share: one decorator, one way to report "not configured" and quarantined
records. No definitions here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from y3d_pipeline.defs.constants import SOURCE_RETRY_POLICY
from y3d_pipeline.defs.partitions import daily_partitions
from y3d_pipeline.defs.resources import SourceResource
from y3d_pipeline.sources.windows import SyncWindow, sync_window


def raw_asset(key: dg.AssetKey, *, source: str, description: str, daily: bool = True, pool: str | None = None,
              **kwargs: Any) -> Callable:
    """``@dg.asset`` for a raw asset of ``source``: the source's group and pool (both named after it: one step
    per API at a time; ``pool`` names the API when a source reads two, as the ShipStation catalogue does), kinds
    ``{source, postgres}``, step retries on top of the client's own request retries, and for a daily asset the
    shop's partitions with single-run backfills."""
    daily_args: dict[str, Any] = {"partitions_def": daily_partitions,
                                  "backfill_policy": dg.BackfillPolicy.single_run()} if daily else {}
    return dg.asset(key=key, group_name=source, pool=pool or source, kinds={source, "postgres"},
                    retry_policy=SOURCE_RETRY_POLICY, description=description, **daily_args, **kwargs)


def partition_sync_window(context: dg.AssetExecutionContext, *, overlap_minutes: int,
                          settle_seconds: int = 0) -> tuple[dt.datetime, SyncWindow]:
    """(now, the source modification times the run's partitions ask for): their days widened by the overlap
    before them, cut at now minus the source's settle time (see ``sources/windows.py``)."""
    now = dt.datetime.now(dt.UTC)
    days = context.partition_time_window
    return now, sync_window(days.start, days.end, now=now, overlap=dt.timedelta(minutes=overlap_minutes),
                            settle=dt.timedelta(seconds=settle_seconds))


def not_configured(context: dg.AssetExecutionContext, resource: SourceResource, *,
                   check_names: Sequence[str] = ()) -> dg.MaterializeResult:
    """The result of a source asset whose source is not configured: no rows, the note in the log and metadata,
    and its checks passing with the same note (there is nothing to check)."""
    note = resource.NOT_CONFIGURED_NOTE
    context.log.warning(note)
    checks = [dg.AssetCheckResult(check_name=name, passed=True, metadata={"note": note}) for name in check_names]
    return dg.MaterializeResult(metadata={"configured": False, "note": note}, check_results=checks or None)


def warn_quarantined(context: dg.AssetExecutionContext, what: str, source_ids: Sequence[str]) -> None:
    """Records set aside in normalization_failures: their ids in the log (the reasons are in the table and may
    quote customer data)."""
    if source_ids:
        context.log.warning(f"{what}: {len(source_ids)} record(s) quarantined in normalization_failures: "
                            + ", ".join(source_ids[:20]))
