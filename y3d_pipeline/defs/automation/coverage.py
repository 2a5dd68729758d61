"""What the syncing schedules and sensors ask before launching: is the shop open, is the day already covered?

Shared by schedules.py and new_orders.py (no definitions here).
"""

import datetime as dt

import dagster as dg

from y3d_pipeline.business_hours import BusinessHours

WAITING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
COVERING = [*WAITING, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS]


def _utc(instant: dt.datetime) -> dt.datetime:
    return (instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def outside_business_hours(hours: BusinessHours | None, tick: dt.datetime) -> dg.SkipReason | None:
    """A SkipReason when ``tick`` is outside the business hours (None when inside, or when there are none)."""
    if hours is None or hours.is_open(_utc(tick)):
        return None
    return dg.SkipReason(f"outside business hours ({hours}; now {_utc(tick).astimezone(hours.tz):%H:%M}): "
                         "Y3D_BUSINESS_HOURS")


def partition_runs(instance: dg.DagsterInstance, job_name: str, partition: str, statuses,
                   created_after: dt.datetime | None = None) -> bool:
    """Is there a run of ``job_name`` for ``partition`` in one of ``statuses`` (created after ...)?"""
    return bool(instance.get_run_records(dg.RunsFilter(job_name=job_name, tags={"dagster/partition": partition},
                                                       statuses=statuses, created_after=created_after), limit=1))


def poll_key(source: str) -> str:
    return f"y3d/new_orders/{source}/last_poll"


def last_poll(instance: dg.DagsterInstance, source: str) -> dt.datetime | None:
    """When the source's new-orders sensor last polled successfully (None: never, or not recorded)."""
    value = instance.daemon_cursor_storage.get_cursor_values({poll_key(source)}).get(poll_key(source))
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def record_poll(instance: dg.DagsterInstance, source: str, now: dt.datetime) -> None:
    instance.daemon_cursor_storage.set_cursor_values({poll_key(source): _utc(now).isoformat()})
