"""Schedules replacing the legacy crontab, in the shop's timezone (``Y3D_TIMEZONE``).

| crontab (legacy)                                | schedule                        | cron (shop time)  | default |
|-------------------------------------------------|---------------------------------|-------------------|---------|
| */10 sync-recent --hours=2, populate-queue       | ``<source>_today_every_10_min`` | ``*/10 * * * *``  | STOPPED |
| 0 * sync-recent --days=2                         | ``<source>_last_2_days_hourly`` | ``5 * * * *``     | STOPPED |
| 0 1 sync-all                                     | ``<source>_nightly_reconcile``  | ``0 1 * * *``     | STOPPED |
| 30 1 sync-tags                                   | ``shipstation_reference_daily`` | ``30 1 * * *``    | STOPPED |
| (new) Shopify products                           | ``shopify_products_every_4h``   | ``15 */4 * * *``  | STOPPED |
| 0 2 cleanup fix-pending-tasks                    | ``task_status_sync_nightly``    | ``0 2 * * *``     | RUNNING |
| 0 3 find-inconsistencies                         | ``data_quality_nightly``        | ``0 3 * * *``     | RUNNING |
| (new) freshness                                  | ``freshness_every_30_min``      | ``*/30 * * * *``  | RUNNING |
| 0 4 log rotation                                 | ``dagster_maintenance_nightly`` | ``0 4 * * *``     | STOPPED |
| 0 6 ai-usage-stats                               | ``ai_usage_daily``              | ``0 6 * * *``     | RUNNING |
| */15 amazon chain, 0 */2 fix personalization     | the ``<source>_sync`` jobs + automation + checks   | | |

Defaults: everything that calls an external API (and may spend OpenAI money) is STOPPED, so a laptop,
``dg dev`` or CI never syncs by surprise; an operator turns the sync schedules on in the UI once the
credentials are set (the toggle is stored in the instance and survives deploys). Schedules of an
unconfigured source skip their ticks, so turning all on is safe. Local, read-only work (task-status
sync, data-quality checks, freshness, AI usage) runs by default. Maintenance deletes history, so it is
turned on deliberately.

The hourly sync runs at minute 5 (not 0) so it does not queue behind the 10-minute run of the same source.
Multi-partition ticks yield one RunRequest per partition with a stable run_key
(``<schedule>:<partition>:<tick>``): a retried tick never launches a partition twice.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

from y3d_pipeline.defs.automation.jobs import (
    SYNC_JOBS,
    ai_usage_report_job,
    data_quality_checks,
    freshness_checks_job,
    shipstation_reference_sync,
    shopify_products_sync,
    task_status_sync_job,
)
from y3d_pipeline.defs.automation.maintenance import dagster_maintenance
from y3d_pipeline.defs.constants import TAG_SOURCE, TAG_WINDOW
from y3d_pipeline.settings import load_settings

_settings = load_settings()
SHOP_TIMEZONE = _settings.Y3D_TIMEZONE
YESTERDAY_UNTIL_HOUR = 2  # the 10-minute sync also covers yesterday before 02:00 shop time


def source_configured(source: str) -> bool:
    return bool(getattr(load_settings(), f"{source}_configured"))


def reconcile_days() -> int:
    return load_settings().Y3D_RECONCILE_DAYS


def _local(tick: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    if tick.tzinfo is None:
        tick = tick.replace(tzinfo=dt.UTC)
    return tick.astimezone(tz)


def _keys(days: list[dt.date], start: dt.date) -> list[str]:
    return [d.isoformat() for d in days if d >= start]


def today_partitions(tick: dt.datetime, tz: ZoneInfo, start: dt.date) -> list[str]:
    """Today's shop-calendar day, and yesterday's too before 02:00 (late changes to yesterday's orders)."""
    local = _local(tick, tz)
    days = [local.date()]
    if local.hour < YESTERDAY_UNTIL_HOUR:
        days.append(local.date() - dt.timedelta(days=1))
    return _keys(days, start)


def last_days_partitions(tick: dt.datetime, tz: ZoneInfo, start: dt.date, days: int = 2) -> list[str]:
    local = _local(tick, tz).date()
    return _keys([local - dt.timedelta(days=i) for i in range(days)], start)


def reconcile_partitions(tick: dt.datetime, tz: ZoneInfo, start: dt.date, days: int) -> list[str]:
    """The ``days`` days before today (today itself is the 10-minute schedule's)."""
    local = _local(tick, tz).date()
    return _keys([local - dt.timedelta(days=i) for i in range(1, days + 1)], start)


def run_requests(schedule_name: str, tick: dt.datetime, keys: list[str], source: str) -> list[dg.RunRequest]:
    stamp = _local(tick, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    return [dg.RunRequest(run_key=f"{schedule_name}:{key}:{stamp}", partition_key=key,
                          tags={TAG_SOURCE: source, TAG_WINDOW: key}) for key in keys]


def partitioned_sync_schedule(source: str, name: str, cron: str, description: str,
                              partitions: Callable[[dt.datetime], list[str]]) -> dg.ScheduleDefinition:
    @dg.schedule(name=name, cron_schedule=cron, job=SYNC_JOBS[source], execution_timezone=SHOP_TIMEZONE,
                 default_status=dg.DefaultScheduleStatus.STOPPED, description=description,
                 tags={TAG_SOURCE: source})
    def _schedule(context: dg.ScheduleEvaluationContext):
        if not source_configured(source):
            return dg.SkipReason(f"{source} is not configured")
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        return run_requests(name, tick, partitions(tick), source)

    return _schedule


def _tz() -> ZoneInfo:
    return load_settings().timezone


def _start() -> dt.date:
    return load_settings().Y3D_START_DATE


sync_schedules = []
for _source in SYNC_JOBS:
    sync_schedules += [
        partitioned_sync_schedule(
            _source, f"{_source}_today_every_10_min", "*/10 * * * *",
            f"{_source}: today's partition every 10 minutes (and yesterday's before 02:00).",
            lambda tick: today_partitions(tick, _tz(), _start())),
        partitioned_sync_schedule(
            _source, f"{_source}_last_2_days_hourly", "5 * * * *",
            f"{_source}: today's and yesterday's partitions every hour.",
            lambda tick: last_days_partitions(tick, _tz(), _start(), 2)),
        partitioned_sync_schedule(
            _source, f"{_source}_nightly_reconcile", "0 1 * * *",
            f"{_source}: the last Y3D_RECONCILE_DAYS (default 14) days before today, "
            "nightly (late edits, status changes, shipments).",
            lambda tick: reconcile_partitions(tick, _tz(), _start(), reconcile_days())),
    ]


def unpartitioned_schedule(name: str, cron: str, job, description: str, *, source: str | None = None,
                           default_status=dg.DefaultScheduleStatus.RUNNING) -> dg.ScheduleDefinition:
    @dg.schedule(name=name, cron_schedule=cron, job=job, execution_timezone=SHOP_TIMEZONE,
                 default_status=default_status, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext):
        if source and not source_configured(source):
            return dg.SkipReason(f"{source} is not configured")
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        return dg.RunRequest(run_key=f"{name}:{_local(tick, dt.UTC):%Y-%m-%dT%H:%MZ}")

    return _schedule


other_schedules = [
    unpartitioned_schedule("shipstation_reference_daily", "30 1 * * *", shipstation_reference_sync,
                           "ShipStation tags and stores, daily.", source="shipstation",
                           default_status=dg.DefaultScheduleStatus.STOPPED),
    unpartitioned_schedule("shopify_products_every_4h", "15 */4 * * *", shopify_products_sync,
                           "Shopify products every 4 hours.", source="shopify",
                           default_status=dg.DefaultScheduleStatus.STOPPED),
    unpartitioned_schedule("task_status_sync_nightly", "0 2 * * *", task_status_sync_job,
                           "Close print tasks of shipped/cancelled orders (nightly backup)."),
    unpartitioned_schedule("data_quality_nightly", "0 3 * * *", data_quality_checks,
                           "The data-quality checks, nightly (failed checks alert)."),
    unpartitioned_schedule("freshness_every_30_min", "*/30 * * * *", freshness_checks_job,
                           "Freshness of every configured source's raw orders."),
    unpartitioned_schedule("dagster_maintenance_nightly", "0 4 * * *", dagster_maintenance,
                           "Prune old runs and event logs (see the job's config).",
                           default_status=dg.DefaultScheduleStatus.STOPPED),
    unpartitioned_schedule("ai_usage_daily", "0 6 * * *", ai_usage_report_job, "Yesterday's AI usage report."),
]
