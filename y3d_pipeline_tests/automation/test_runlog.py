"""``y3d runs`` shows real runs made here, on a PostgreSQL-backed Dagster instance."""


import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import dagster as dg
import pytest

from y3d_pipeline.paths import PROJECT_ROOT
from y3d_pipeline.runlog import cli as runs_cli
from y3d_pipeline.runlog.core import collect_runs, format_table, outcome_of, parse_since, run_partitions

parts = dg.DailyPartitionsDefinition(start_date="2026-03-01", timezone="Europe/London")


@dg.asset(key=["runlog_test", "orders"], partitions_def=parts, backfill_policy=dg.BackfillPolicy.single_run())
def orders_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.instance.add_run_tags(context.run_id, {"y3d/outcome": "partial_success"})
    return dg.MaterializeResult(metadata={
        "orders_processed": 7, "orders_failed": 2, "duration_seconds": 1.5, "configured": True,
        "failed_orders": dg.MetadataValue.json([{"order_id": 11, "order_number": "111-A", "reason": "x"},
                                                {"order_id": 12, "order_number": "112-B", "reason": "y"}]),
    })


@dg.asset(key=["runlog_test", "broken"])
def broken_asset() -> dg.MaterializeResult:
    raise RuntimeError("ShipStation said no")


range_job = dg.define_asset_job("runlog_range_job", selection=[orders_asset], partitions_def=parts,
                                executor_def=dg.in_process_executor)


@pytest.fixture(scope="module")
def runs(pg_instance):
    ok = dg.materialize([orders_asset], partition_key="2026-03-08", instance=pg_instance,
                        tags={"y3d/source": "shipstation"})
    bad = dg.materialize([broken_asset], instance=pg_instance, raise_on_error=False)
    rng = dg.Definitions(assets=[orders_asset], jobs=[range_job]).resolve_job_def("runlog_range_job") \
        .execute_in_process(instance=pg_instance, tags={"dagster/asset_partition_range_start": "2026-03-07",
                                                        "dagster/asset_partition_range_end": "2026-03-09"})
    assert ok.success and not bad.success and rng.success
    return {"ok": ok.run_id, "bad": bad.run_id, "range": rng.run_id}


def test_collect_runs_reads_real_runs(pg_instance, runs):
    entries = {e.run_id: e for e in collect_runs(pg_instance, since=parse_since("1h"))}
    assert set(runs.values()) <= set(entries)
    ok, bad, rng = entries[runs["ok"]], entries[runs["bad"]], entries[runs["range"]]
    assert ok.partitions == "2026-03-08" and ok.outcome == "partial_success" and ok.source == "shipstation"
    assert ok.counts["runlog_test/orders"] == {"orders_processed": 7, "orders_failed": 2}
    assert ok.failed_order_ids == ["111-A", "112-B"]
    assert ok.start and ok.end and ok.end >= ok.start and ok.duration_seconds is not None
    assert bad.outcome == "failed" and bad.status == "FAILURE" and bad.error
    assert rng.partitions == "2026-03-07..2026-03-09"
    # Filters.
    failed = collect_runs(pg_instance, since=parse_since("1h"), status="failed")
    assert runs["bad"] in {e.run_id for e in failed} and runs["ok"] not in {e.run_id for e in failed}
    by_job = collect_runs(pg_instance, job="runlog_range_job")
    assert [e.run_id for e in by_job] == [runs["range"]]
    assert len(collect_runs(pg_instance, limit=1)) == 1
    assert collect_runs(pg_instance, since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == []
    table = format_table([ok, bad])
    assert "2026-03-08" in table and "partial_success" in table and "111-A" in table and "ShipStation said no" in table


def test_cli_in_process_json(pg_dagster_url, runs, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_PG_URL", pg_dagster_url)
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    args = argparse.Namespace(since="2h", status="partial_success", job=None, limit=10, json=True)
    assert runs_cli.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["run_id"] for d in data} == {runs["ok"], runs["range"]}
    entry = next(d for d in data if d["run_id"] == runs["ok"])
    assert entry["failed_order_ids"] == ["111-A", "112-B"] and entry["partitions"] == "2026-03-08"


def test_cli_subprocess_table(pg_dagster_url, runs):
    env = {**os.environ, "DAGSTER_PG_URL": pg_dagster_url, "DAGSTER_HOME": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "y3d_pipeline.cli", "runs", "--since", "1d", "--status", "failed"],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert runs["bad"][:8] in done.stdout and "failed" in done.stdout and runs["ok"][:8] not in done.stdout
    assert done.stderr == ""  # no setup noise


def test_runs_are_sorted_by_start_time(pg_instance, runs):
    """A run queued first but started last (behind another run of its source) is listed first."""
    from dagster._core.events import DagsterEvent, DagsterEventType

    late = str(uuid.uuid4())
    pg_instance.add_run(dg.DagsterRun(job_name="runlog_sort_job", run_id=late, status=dg.DagsterRunStatus.NOT_STARTED,
                                      tags={"y3d/source": "sort"}))
    early = dg.materialize([orders_asset], partition_key="2026-03-09", instance=pg_instance).run_id
    for kind in (DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS):
        pg_instance.report_dagster_event(DagsterEvent(kind.value, job_name="runlog_sort_job"), run_id=late)
    ordered = [e.run_id for e in collect_runs(pg_instance, since=parse_since("1h"))]
    assert ordered.index(late) < ordered.index(early)
    starts = [e.start for e in collect_runs(pg_instance, since=parse_since("1h"))]
    assert starts == sorted(starts, reverse=True)


def test_cli_rejects_bad_arguments(capsys):
    args = argparse.Namespace(since="yesterday-ish", status=None, job=None, limit=10, json=False)
    assert runs_cli.run(args) == 2 and "--since" in capsys.readouterr().err
    args = argparse.Namespace(since="1h", status="done", job=None, limit=10, json=False)
    assert runs_cli.run(args) == 2 and "--status" in capsys.readouterr().err


def test_helpers():
    now = dt.datetime(2026, 3, 8, 12, tzinfo=dt.UTC)
    assert parse_since("24h", now=now) == dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC)
    assert parse_since("7d", now=now) == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert parse_since("2026-03-01") == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert run_partitions({"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "a"}) == "a"
    assert run_partitions({}) is None
    assert outcome_of(dg.DagsterRunStatus.STARTED, {"y3d/outcome": "success"}) == "running"
    assert outcome_of(dg.DagsterRunStatus.SUCCESS, {}) == "success"
    assert outcome_of(dg.DagsterRunStatus.FAILURE, {"y3d/outcome": "partial_success"}) == "failed"


def test_derive_outcome():
    from y3d_pipeline.runlog.core import derive_outcome

    assert derive_outcome({"raw/x": {"records_new": 0, "records_changed": 0, "records_unchanged": 5}}, []) == \
        "success_no_orders"
    assert derive_outcome({"raw/x": {"records_new": 2, "records_changed": 0}}, []) == "success"
    assert derive_outcome({"a": {"orders_processed": 3}}, ["111"]) == "partial_success"
    assert derive_outcome({"a": {"records_quarantined": 1, "records_new": 1}}, []) == "partial_success"
    assert derive_outcome({}, []) == "success"
