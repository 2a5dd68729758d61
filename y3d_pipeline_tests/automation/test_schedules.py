"""Schedules produce the right partition keys across midnight and DST in the shop's timezone (Europe/London)."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from y3d_pipeline.defs.automation import schedules as s

UTC = dt.UTC


@pytest.fixture
def configured(monkeypatch):
    monkeypatch.setenv("SHIPSTATION_API_KEY", "key")
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "secret")
    monkeypatch.delenv("SHOPIFY_STORE", raising=False)
    monkeypatch.delenv("Y3D_RECONCILE_DAYS", raising=False)
    monkeypatch.delenv("Y3D_BUSINESS_HOURS", raising=False)
    monkeypatch.delenv("Y3D_WRITEBACK_ENABLED", raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def repository():
    from y3d_pipeline.definitions import defs

    return defs().get_repository_def()


def _schedule(name: str) -> dg.ScheduleDefinition:
    return next(x for x in [*s.sync_schedules, *s.chain_schedules, *s.other_schedules] if x.name == name)


def _tick(name: str, when: dt.datetime, instance, repository) -> list[dg.RunRequest]:
    context = dg.build_schedule_context(scheduled_execution_time=when, instance=instance, repository_def=repository)
    data = _schedule(name).evaluate_tick(context)
    return list(data.run_requests or [])


@pytest.mark.parametrize(("when", "expected"), [
    # Winter (GMT = UTC): first two hours also sync yesterday.
    (dt.datetime(2026, 3, 8, 0, 0, tzinfo=UTC), ["2026-03-08", "2026-03-07"]),
    (dt.datetime(2026, 3, 8, 1, 50, tzinfo=UTC), ["2026-03-08", "2026-03-07"]),
    (dt.datetime(2026, 3, 8, 2, 0, tzinfo=UTC), ["2026-03-08"]),
    (dt.datetime(2026, 3, 8, 23, 50, tzinfo=UTC), ["2026-03-08"]),
    # Spring forward 2026-03-29: 01:00 GMT becomes 02:00 BST, so 01:00 UTC is already past the 2-hour window.
    (dt.datetime(2026, 3, 29, 0, 50, tzinfo=UTC), ["2026-03-29", "2026-03-28"]),
    (dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), ["2026-03-29"]),
    # Summer: 23:10 UTC is 00:10 BST on the next day; the partition follows the shop's calendar, not UTC.
    (dt.datetime(2026, 6, 30, 23, 10, tzinfo=UTC), ["2026-07-01", "2026-06-30"]),
    (dt.datetime(2026, 6, 30, 22, 50, tzinfo=UTC), ["2026-06-30"]),
    # Fall back 2026-10-25: 01:00-02:00 happens twice (BST then GMT); both passes are "before 02:00".
    (dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), ["2026-10-25", "2026-10-24"]),
    (dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC), ["2026-10-25", "2026-10-24"]),
    (dt.datetime(2026, 10, 25, 2, 0, tzinfo=UTC), ["2026-10-25"]),
])
def test_today_every_10_minutes(configured, pg_instance, repository, when, expected):
    requests = _tick("shipstation_today_every_10_min", when, pg_instance, repository)
    assert [r.partition_key for r in requests] == expected
    assert all(r.tags["y3d/source"] == "shipstation" and r.tags["y3d/window"] == r.partition_key for r in requests)
    # Stable, distinct run keys: re-evaluating the same tick gives the same keys (no double launch).
    again = _tick("shipstation_today_every_10_min", when, pg_instance, repository)
    assert [r.run_key for r in requests] == [r.run_key for r in again]
    assert len({r.run_key for r in requests}) == len(requests)


def test_last_2_days_hourly_across_midnight(configured, pg_instance, repository):
    when = dt.datetime(2026, 6, 30, 23, 5, tzinfo=UTC)
    requests = _tick("shipstation_last_2_days_hourly", when, pg_instance, repository)
    assert [r.partition_key for r in requests] == ["2026-07-01", "2026-06-30"]


def test_nightly_reconcile_is_configurable(configured, pg_instance, repository, monkeypatch):
    when = dt.datetime(2026, 3, 30, 0, 0, tzinfo=UTC)  # 01:00 BST on 2026-03-30
    keys = [r.partition_key for r in _tick("shipstation_nightly_reconcile", when, pg_instance, repository)]
    assert len(keys) == 14 and keys[0] == "2026-03-29" and keys[-1] == "2026-03-16"
    monkeypatch.setenv("Y3D_RECONCILE_DAYS", "3")
    keys = [r.partition_key for r in _tick("shipstation_nightly_reconcile", when, pg_instance, repository)]
    assert keys == ["2026-03-29", "2026-03-28", "2026-03-27"]


def test_unconfigured_source_skips(configured, pg_instance, repository):
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 3, 8, 12, tzinfo=UTC),
                                        instance=pg_instance, repository_def=repository)
    data = _schedule("shopify_today_every_10_min").evaluate_tick(context)
    assert not data.run_requests and "not configured" in data.skip_message
    data = _schedule("shopify_products_every_4h").evaluate_tick(context)
    assert not data.run_requests and "not configured" in data.skip_message


def test_partitions_before_start_date_are_dropped():
    from zoneinfo import ZoneInfo

    keys = s.reconcile_partitions(dt.datetime(2024, 1, 3, 1, tzinfo=UTC), ZoneInfo("Europe/London"),
                                  dt.date(2024, 1, 1), 14)
    assert keys == ["2024-01-02", "2024-01-01"]


def test_schedule_timezones_and_defaults():
    for schedule in [*s.sync_schedules, *s.chain_schedules, *s.other_schedules]:
        assert schedule.execution_timezone == "Europe/London", schedule.name
    defaults = {x.name: x.default_status for x in [*s.sync_schedules, *s.chain_schedules, *s.other_schedules]}
    assert defaults["amazon_chain_every_15_min"] == dg.DefaultScheduleStatus.STOPPED
    assert defaults["dagster_maintenance_nightly"] == dg.DefaultScheduleStatus.RUNNING
    assert defaults["shipstation_today_every_10_min"] == dg.DefaultScheduleStatus.STOPPED
    assert defaults["data_quality_nightly"] == dg.DefaultScheduleStatus.RUNNING
    assert defaults["ai_usage_daily"] == dg.DefaultScheduleStatus.RUNNING
    assert _schedule("shipstation_today_every_10_min").cron_schedule == "*/10 * * * *"


def test_unpartitioned_schedule_run_key(pg_instance, repository):
    requests = _tick("data_quality_nightly", dt.datetime(2026, 3, 8, 3, tzinfo=UTC), pg_instance, repository)
    assert [r.run_key for r in requests] == ["data_quality_nightly:2026-03-08T03:00Z"]


def _data(name: str, when: dt.datetime, instance, repository):
    context = dg.build_schedule_context(scheduled_execution_time=when, instance=instance, repository_def=repository)
    return _schedule(name).evaluate_tick(context)


@pytest.mark.parametrize(("name", "when", "open_"), [
    ("shipstation_today_every_10_min", dt.datetime(2026, 3, 3, 7, 50, tzinfo=UTC), False),  # 07:50 GMT
    ("shipstation_today_every_10_min", dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC), True),
    ("shipstation_today_every_10_min", dt.datetime(2026, 6, 3, 7, 10, tzinfo=UTC), True),  # 08:10 BST
    ("shipstation_today_every_10_min", dt.datetime(2026, 6, 3, 19, 0, tzinfo=UTC), False),  # 20:00 BST
    ("shipstation_last_2_days_hourly", dt.datetime(2026, 3, 3, 22, 5, tzinfo=UTC), False),
    ("shipstation_last_2_days_hourly", dt.datetime(2026, 3, 3, 12, 5, tzinfo=UTC), True),
    ("shipstation_nightly_reconcile", dt.datetime(2026, 3, 3, 1, 0, tzinfo=UTC), True),  # ignores the hours
])
def test_business_hours(configured, pg_instance, repository, name, when, open_):
    configured.setenv("Y3D_BUSINESS_HOURS", "08:00-20:00")
    data = _data(name, when, pg_instance, repository)
    if open_:
        assert data.run_requests
    else:
        assert not data.run_requests
        assert data.skip_message.startswith("outside business hours (08:00-20:00 Europe/London; now ")


def test_ten_minute_tick_skips_what_is_already_covered(configured, pg_instance, repository):
    from y3d_pipeline.defs.automation.coverage import record_poll

    # a quiet night: 00:40 GMT syncs today and yesterday
    when = dt.datetime(2026, 2, 10, 0, 40, tzinfo=UTC)
    assert [r.partition_key for r in _data("shipstation_today_every_10_min", when, pg_instance, repository)
            .run_requests] == ["2026-02-10", "2026-02-09"]
    # The new-orders sensor polled 3 minutes ago: it watches today, so only yesterday is requested.
    record_poll(pg_instance, "shipstation", when - dt.timedelta(minutes=3))
    assert [r.partition_key for r in _data("shipstation_today_every_10_min", when, pg_instance, repository)
            .run_requests] == ["2026-02-09"]
    # A poll 12 minutes ago is too old to count.
    record_poll(pg_instance, "shipstation", when - dt.timedelta(minutes=12))
    assert len(_data("shipstation_today_every_10_min", when, pg_instance, repository).run_requests) == 2
    # A run of today's partition created within 9 minutes (a sensor's launch) covers it too.
    now = dt.datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Europe/London")).date().isoformat()
    pg_instance.add_run(dg.DagsterRun(job_name="shipstation_sync", run_id=str(uuid.uuid4()),
                                      tags={"dagster/partition": today}, status=dg.DagsterRunStatus.SUCCESS))
    data = _data("shipstation_today_every_10_min", now, pg_instance, repository)
    assert today not in [r.partition_key for r in data.run_requests]
    if not data.run_requests:
        assert "already covered" in data.skip_message
    # A failed run does not cover anything.
    other = (now - dt.timedelta(days=400)).astimezone(ZoneInfo("Europe/London")).date().isoformat()
    pg_instance.add_run(dg.DagsterRun(job_name="shipstation_sync", run_id=str(uuid.uuid4()),
                                      tags={"dagster/partition": other}, status=dg.DagsterRunStatus.FAILURE))
    assert not s.recently_covered(pg_instance, "shipstation", "shipstation_sync", other, now)


def test_amazon_chain_schedule(configured, pg_instance, repository):
    when = dt.datetime(2026, 3, 8, 12, 15, tzinfo=UTC)
    [request] = _data("amazon_chain_every_15_min", when, pg_instance, repository).run_requests
    assert request.partition_key == "2026-03-08" and request.tags["y3d/source"] == "amazon"
    assert [k.to_user_string() for k in request.asset_selection] == ["raw/amazon_customizations",
                                                                     "print_queue/print_tasks"]
    configured.setenv("Y3D_WRITEBACK_ENABLED", "true")
    [request] = _data("amazon_chain_every_15_min", when, pg_instance, repository).run_requests
    assert request.asset_selection[-1].to_user_string() == "print_queue/shipstation_writeback"
    configured.setenv("Y3D_BUSINESS_HOURS", "13:00-18:00")
    assert "outside business hours" in _data("amazon_chain_every_15_min", when, pg_instance, repository).skip_message
    configured.delenv("SHIPSTATION_API_KEY")
    assert "configured" in _data("amazon_chain_every_15_min", when, pg_instance, repository).skip_message


def test_catalogue_schedules_are_off_and_skip_until_a_shipstation_api_is_configured(monkeypatch, pg_instance,
                                                                                      repository):
    crons = {"shipstation_catalogue_every_30_min": "*/30 * * * *", "shipstation_catalogue_hourly": "20 * * * *",
             "shipstation_catalogue_daily": "0 2 * * *"}
    for name, cron in crons.items():
        schedule = repository.get_schedule_def(name)
        assert (schedule.cron_schedule, schedule.job_name) == (cron, "shipstation_catalogue")
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    for variable in ("SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET", "SHIPSTATION_V2_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    when = dt.datetime(2026, 3, 8, 2, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=when, instance=pg_instance, repository_def=repository)
    skipped = repository.get_schedule_def("shipstation_catalogue_daily").evaluate_tick(context)
    assert not skipped.run_requests
    assert "SHIPSTATION_API_KEY" in skipped.skip_message and "SHIPSTATION_V2_API_KEY" in skipped.skip_message
    monkeypatch.setenv("SHIPSTATION_V2_API_KEY", "v2-key-for-the-test")  # either API is worth a run
    data = repository.get_schedule_def("shipstation_catalogue_daily").evaluate_tick(context)
    assert [r.run_key for r in data.run_requests] == ["shipstation_catalogue_daily:2026-03-08T02:00Z"]
