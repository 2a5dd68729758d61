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
| 0 4 log rotation                                 | ``dagster_maintenance_nightly`` | ``0 4 * * *``     | RUNNING |
| 0 6 ai-usage-stats                               | ``ai_usage_daily``              | ``0 6 * * *``     | RUNNING |
| */15 amazon chain                                | ``amazon_chain_every_15_min``   | ``*/15 * * * *``  | STOPPED |
| 0 */2 fix personalization                        | the ``<source>_sync`` jobs retry files; checks + alerts | | |

Business hours (``Y3D_BUSINESS_HOURS``, e.g. ``08:00-20:00`` shop time; unset = always): the 10-minute and
hourly syncs and the Amazon chain skip ticks outside the window with a SkipReason saying so, as
LibertaPhonix's hourly sync did; the nightly reconciliation, the reference data and local work ignore it.
The window is read from the settings when a tick is evaluated, so changing it needs no redeploy of the
schedules (only of the environment).

A 10-minute tick also skips a partition that is already covered: by a run of the same job created within the
last 9 minutes that is queued, running or succeeded (it fetched, or will fetch, the whole day), or, for today,
by the source's new-orders sensor having polled within those 9 minutes (it launches a run on any change). So
with a sensor on, the 10-minute schedule is the safety net that acts only when the sensor stops.

Defaults: everything that calls an external API (and may spend OpenAI money) is STOPPED, so a laptop,
``dg dev`` or CI never syncs by surprise; an operator turns the sync schedules on in the UI once the
credentials are set (the toggle is stored in the instance and survives deploys). Schedules of an
unconfigured source skip their ticks, so turning all on is safe. Local, read-only work (task-status
sync, data-quality checks, freshness, AI usage, retention) runs by default. Retention keeps the latest
materialization of every asset partition and check, so it is on by default: without it Dagster's database
grows ~16 MB an hour with all automation on.

The hourly sync runs at minute 5 (not 0) so it does not queue behind the 10-minute run of the same source.
Multi-partition ticks yield one RunRequest per partition with a stable run_key
(``<schedule>:<partition>:<tick>``): a retried tick never launches a partition twice.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg

from y3d_pipeline.defs.automation.coverage import COVERING, last_poll, outside_business_hours, partition_runs
from y3d_pipeline.defs.automation.jobs import (
    AMAZON_CHAIN_ASSETS,
    SYNC_JOBS,
    ai_usage_report_job,
    amazon_chain,
    data_quality_checks,
    freshness_checks_job,
    shipstation_catalogue,
    shipstation_reference_sync,
    shopify_products_sync,
    task_status_sync_job,
)
from y3d_pipeline.defs.constants import SHIPSTATION_WRITEBACK
from y3d_pipeline.defs.maintenance.assets import dagster_maintenance
from y3d_pipeline.defs.sources.amazon.resources import amazon_resource_from_env
from y3d_pipeline.defs.sources.shipstation.resources import shipstation_resource_from_env
from y3d_pipeline.defs.sources.shipstation_catalogue.resources import shipstation_v2_resource_from_env
from y3d_pipeline.defs.sources.shopify.resources import shopify_resource_from_env
from y3d_pipeline.runlog.tags import TAG_SOURCE, TAG_WINDOW
from y3d_pipeline.settings import Settings, load_settings

_settings = load_settings()
SHOP_TIMEZONE = _settings.Y3D_TIMEZONE
YESTERDAY_UNTIL_HOUR = 2  # the 10-minute sync also covers yesterday before 02:00 shop time
RECENT_RUN_WINDOW = dt.timedelta(minutes=9)  # a 10-minute tick skips a partition covered this recently


# A schedule asks the source's resource, as the deployment builds it from the environment at this tick.
SOURCE_RESOURCES = {"shipstation": (shipstation_resource_from_env,), "shopify": (shopify_resource_from_env,),
                    "amazon": (amazon_resource_from_env,),
                    # the catalogue reads v1 (warehouses, products) and V2 (inventory): either one is worth a run
                    "shipstation_catalogue": (shipstation_resource_from_env, shipstation_v2_resource_from_env)}


def not_configured(source: str) -> dg.SkipReason | None:
    """A SkipReason with the source's own note when it is not configured (None when it is; a source reading two
    APIs is configured when either is)."""
    resources = [build() for build in SOURCE_RESOURCES[source]]
    if any(resource.configured for resource in resources):
        return None
    return dg.SkipReason("; ".join(resource.NOT_CONFIGURED_NOTE for resource in resources))


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


def run_requests(schedule_name: str, tick: dt.datetime, keys: list[str], source: str,
                 asset_selection: list[dg.AssetKey] | None = None) -> list[dg.RunRequest]:
    stamp = _local(tick, dt.UTC).strftime("%Y-%m-%dT%H:%MZ")
    return [dg.RunRequest(run_key=f"{schedule_name}:{key}:{stamp}", partition_key=key, asset_selection=asset_selection,
                          tags={TAG_SOURCE: source, TAG_WINDOW: key}) for key in keys]


def recently_covered(instance: dg.DagsterInstance, source: str, job_name: str, partition: str,
                     tick: dt.datetime) -> bool:
    """Does something already keep ``partition`` fresh? A run of it created within RECENT_RUN_WINDOW that is
    queued, running or succeeded (it fetched, or will fetch, the whole day), or, for today, the source's
    new-orders sensor having polled within that window (it launches a run on any change)."""
    at = _local(tick, dt.UTC)
    since = at - RECENT_RUN_WINDOW
    if partition_runs(instance, job_name, partition, COVERING, created_after=since):
        return True
    polled = last_poll(instance, source)
    today = _local(tick, load_settings().timezone).date().isoformat()
    return partition == today and polled is not None and since <= polled <= at + dt.timedelta(minutes=1)


def partitioned_sync_schedule(source: str, name: str, cron: str, description: str,
                              partitions: Callable[[dt.datetime], list[str]], *, business_hours: bool = True,
                              skip_recently_covered: bool = False) -> dg.ScheduleDefinition:
    job = SYNC_JOBS[source]

    @dg.schedule(name=name, cron_schedule=cron, job=job, execution_timezone=SHOP_TIMEZONE,
                 default_status=dg.DefaultScheduleStatus.STOPPED, description=description,
                 tags={TAG_SOURCE: source})
    def _schedule(context: dg.ScheduleEvaluationContext):
        if skip := not_configured(source):
            return skip
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        if business_hours and (closed := outside_business_hours(load_settings().business_hours, tick)):
            return closed
        keys = partitions(tick)
        if skip_recently_covered:
            covered = [k for k in keys if recently_covered(context.instance, source, job.name, k, tick)]
            keys = [k for k in keys if k not in covered]
            if not keys:
                return dg.SkipReason(f"{', '.join(covered)} already covered: a run created within the last "
                                     f"{int(RECENT_RUN_WINDOW.total_seconds() // 60)} minutes, or {source}_new_orders "
                                     "polling")
        return run_requests(name, tick, keys, source)

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
            f"{_source}: today's partition every 10 minutes (and yesterday's before 02:00), within business hours; "
            "a partition a run covered in the last 9 minutes is skipped.",
            lambda tick: today_partitions(tick, _tz(), _start()), skip_recently_covered=True),
        partitioned_sync_schedule(
            _source, f"{_source}_last_2_days_hourly", "5 * * * *",
            f"{_source}: today's and yesterday's partitions every hour, within business hours.",
            lambda tick: last_days_partitions(tick, _tz(), _start(), 2)),
        partitioned_sync_schedule(
            _source, f"{_source}_nightly_reconcile", "0 1 * * *",
            f"{_source}: the last Y3D_RECONCILE_DAYS (default 14) days before today, "
            "nightly (late edits, status changes, shipments), whatever the business hours.",
            lambda tick: reconcile_partitions(tick, _tz(), _start(), reconcile_days()), business_hours=False),
    ]


def chain_selection(settings: Settings) -> list[dg.AssetKey]:
    """The Amazon chain's steps; the ShipStation write-back only when Y3D_WRITEBACK_ENABLED."""
    return [k for k in AMAZON_CHAIN_ASSETS if k != SHIPSTATION_WRITEBACK or settings.Y3D_WRITEBACK_ENABLED]


@dg.schedule(name="amazon_chain_every_15_min", cron_schedule="*/15 * * * *", job=amazon_chain,
             execution_timezone=SHOP_TIMEZONE, default_status=dg.DefaultScheduleStatus.STOPPED,
             description="The legacy */15 Amazon chain: today's Amazon Custom files (and yesterday's before 02:00) → "
                         "print tasks → ShipStation write-back (only when Y3D_WRITEBACK_ENABLED), within business "
                         "hours; a failed step stops the ones after it.",
             tags={TAG_SOURCE: "amazon"})
def amazon_chain_every_15_min(context: dg.ScheduleEvaluationContext):
    settings = load_settings()
    if not_configured("amazon") and not_configured("shipstation"):
        return dg.SkipReason("neither Amazon nor ShipStation is configured: no CustomizedURL can be known")
    tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    if closed := outside_business_hours(settings.business_hours, tick):
        return closed
    return run_requests("amazon_chain_every_15_min", tick, today_partitions(tick, settings.timezone, _start()),
                        "amazon", asset_selection=chain_selection(settings))


def unpartitioned_schedule(name: str, cron: str, job, description: str, *, source: str | None = None,
                           default_status=dg.DefaultScheduleStatus.RUNNING) -> dg.ScheduleDefinition:
    @dg.schedule(name=name, cron_schedule=cron, job=job, execution_timezone=SHOP_TIMEZONE,
                 default_status=default_status, description=description)
    def _schedule(context: dg.ScheduleEvaluationContext):
        if source and (skip := not_configured(source)):
            return skip
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        return dg.RunRequest(run_key=f"{name}:{_local(tick, dt.UTC):%Y-%m-%dT%H:%MZ}")

    return _schedule


chain_schedules = [amazon_chain_every_15_min]

# The legacy background sync's three cadences (Heroku Scheduler: every 30 minutes, hourly, daily at 02:00 UTC);
# turn on the one that fits the shop's volume. Off by default, like every API-calling schedule.
catalogue_schedules = [
    unpartitioned_schedule(name, cron, shipstation_catalogue, f"ShipStation catalogue and stock, {when}.",
                           source="shipstation_catalogue", default_status=dg.DefaultScheduleStatus.STOPPED)
    for name, cron, when in (("shipstation_catalogue_every_30_min", "*/30 * * * *", "every 30 minutes"),
                             ("shipstation_catalogue_hourly", "20 * * * *", "hourly"),
                             ("shipstation_catalogue_daily", "0 2 * * *", "daily at 02:00"))]

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
                           "Retention: prune old runs (keeping the latest materialization of every asset partition), "
                           "their compute logs, old event-log rows, raw payloads and ai_calls; sizes in the "
                           "maintenance/retention asset's metadata."),
    unpartitioned_schedule("ai_usage_daily", "0 6 * * *", ai_usage_report_job, "Yesterday's AI usage report."),
]
