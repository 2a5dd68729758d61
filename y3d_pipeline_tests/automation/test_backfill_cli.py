"""``y3d backfill``: a source's sync over a range, run in this process against the sandbox, recorded in the
instance, with progress lines on stderr (not a terminal here)."""

import argparse
import datetime as dt

import dagster as dg

from y3d_pipeline import backfill_cli
from y3d_pipeline.paths import PROJECT_ROOT


def test_backfill_runs_the_sync_job_per_chunk(sandbox_env, clean_db, app_db_url, pg_dagster_url, pg_instance,
                                             monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", app_db_url)
    monkeypatch.setenv("DAGSTER_PG_URL", pg_dagster_url)
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    args = argparse.Namespace(source="shipstation", start=dt.date(2026, 3, 15), end=dt.date(2026, 3, 16),
                              days_per_run=1)
    assert backfill_cli.run(args) == 0
    captured = capsys.readouterr()
    assert captured.out.count(": success") == 2
    assert "shipstation 2026-03-15..2026-03-15" in captured.err and "steps (100%)" in captured.err
    records = pg_instance.get_run_records(dg.RunsFilter(job_name="shipstation_sync",
                                                        tags={"y3d/trigger": "y3d backfill"}), limit=2)
    assert sorted(r.dagster_run.tags["dagster/asset_partition_range_start"] for r in records) == \
        ["2026-03-15", "2026-03-16"]
    with clean_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM orders").scalar_one() > 0


def test_backfill_refuses_a_bad_range(capsys):
    args = argparse.Namespace(source="shopify", start=dt.date(2026, 3, 16), end=dt.date(2026, 3, 15), days_per_run=1)
    assert backfill_cli.run(args) == 2 and "before --from" in capsys.readouterr().err
