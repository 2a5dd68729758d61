"""Dagster database growth per sync, before and after folding the task-status run into the syncs, and what
retention leaves: the figures behind "runs a minute" and "MB an hour" with all automation on.

    uv run python benchmarks/run_growth.py [--cycles 30] [--orders-per-day 40] [--quick]

Against the local sandbox (ShipStation, Shopify, Amazon, OpenAI over HTTP), a fresh application database and a
fresh PostgreSQL-backed Dagster instance (the repo's dagster.yaml storage), in-process runs of today's
partition, as a new-orders sensor tick with a change launches them:

* before: ``shipstation_sync`` as it was (raw orders and shipments → normalized → Amazon Custom → print tasks)
  and then a ``task_status_sync`` run of its own (what the automation condition launched after every sync);
* after: ``shipstation_sync`` as it is now, the task status sync one more step of the same run.

Each cycle changes one sandbox order first, so every sync has something to do. Then retention
(``maintenance/retention`` with every finished run old enough) runs, and the same number of cycles again:
the database should not grow past its size before retention, because PostgreSQL reuses the freed space.
Sizes are ``pg_database_size`` and ``pg_total_relation_size`` of Dagster's database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from backfill import Databases, pg_instance  # noqa: E402 - the shared benchmark plumbing

SANDBOX_END = dt.date(2026, 3, 20)
DAY = "2026-03-19"  # the sandbox clock stands at 03-21T00:00Z; see backfill.py on why not the last day


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sizes(instance) -> dict[str, int]:
    """Database and table sizes, plus the exact bytes of every row written so far (``pg_column_size`` of the
    event_logs, runs and run_tags rows): file sizes move in pages and with autovacuum, row bytes do not."""
    import sqlalchemy as sa

    from y3d_pipeline.maintenance.dagster_storage import dagster_sizes

    result = dagster_sizes(instance)
    with instance.event_log_storage.index_connection() as conn:
        result["row_bytes"] = int(conn.execute(sa.text(
            "SELECT (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM event_logs e)"
            " + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM runs r)"
            " + (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM run_tags t)")).scalar_one())
    return result


def change_an_order(sandbox, n: int) -> None:
    import httpx

    env = sandbox.env()
    orders = httpx.get(f"{env['SHIPSTATION_BASE_URL']}/orders", params={"pageSize": 50},
                       auth=(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"]), timeout=30).json()["orders"]
    sandbox.mutate_order(int(orders[n % len(orders)]["orderId"]), patch={"internalNotes": f"bench change {n}"})


def bytes_by_event_type(instance, after_id: int) -> list[tuple[str, int, int]]:
    """(event type, rows, bytes) of the event_logs rows with id > after_id, biggest first."""
    import sqlalchemy as sa

    with instance.event_log_storage.index_connection() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT coalesce(dagster_event_type, 'log line'), count(*), sum(pg_column_size(e.*)) FROM event_logs e "
            "WHERE id > :after GROUP BY 1 ORDER BY 3 DESC"), {"after": after_id})]


def max_event_id(instance) -> int:
    import sqlalchemy as sa

    with instance.event_log_storage.index_connection() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM event_logs")).scalar_one())


def cycles(mode: str, count: int, jobs: dict, instance, sandbox, start: int) -> dict:
    t0 = time.perf_counter()
    first_event = max_event_id(instance)
    before = sizes(instance)
    runs = 0
    for i in range(count):
        change_an_order(sandbox, start + i)
        for job in jobs[mode]:
            result = job.execute_in_process(instance=instance, partition_key=DAY if job.partitions_def else None,
                                            raise_on_error=False,
                                            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
            runs += 1
            if not result.success:
                raise SystemExit(f"{mode}: {job.name} failed")
        if (i + 1) % 10 == 0:
            log(f"  {mode}: {i + 1}/{count} cycles, {time.perf_counter() - t0:.0f} s")
    after = sizes(instance)
    return {"mode": mode, "cycles": count, "runs": runs, "wall": time.perf_counter() - t0, "before": before,
            "after": after, "by_type": bytes_by_event_type(instance, first_event)}


def retention(instance, app_url: str) -> dict:
    import dagster as dg

    from y3d_pipeline.defs.maintenance.assets import dagster_maintenance, retention
    from y3d_pipeline.defs.resources import DatabaseResource

    job = dg.Definitions(assets=[retention], jobs=[dagster_maintenance],
                         resources={"database": DatabaseResource.for_url(app_url)}) \
        .resolve_job_def("dagster_maintenance")
    result = job.execute_in_process(instance=instance, run_config={"ops": {"maintenance__retention": {"config": {
        "run_max_age_days": 0, "event_log_max_age_days": 0}}}})
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def mb(value: int) -> str:
    return f"{value / 1_048_576:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--orders-per-day", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="8 cycles, 10 orders a day")
    args = parser.parse_args(argv)
    if args.quick:
        args.cycles, args.orders_per_day = 8, 10

    import dagster as dg

    from y3d_pipeline.sandbox.options import SandboxOptions
    from y3d_pipeline.sandbox.server import SandboxServer

    options = SandboxOptions(seed=7, days=3, orders_per_day=args.orders_per_day, end_date=SANDBOX_END,
                             rate_limit_scale=1000.0)
    dbs = Databases()
    try:
        with SandboxServer(options, host="127.0.0.1", port=0) as sandbox, \
                tempfile.TemporaryDirectory(prefix="y3d-bench-growth-") as tmp:
            for key in [k for k in os.environ if k.startswith(("SHIPSTATION_", "SHOPIFY_", "AMAZON_", "OPENAI_"))]:
                del os.environ[key]
            os.environ.update(sandbox.env())
            app_url = dbs.app()
            os.environ["DATABASE_URL"] = app_url
            os.environ["DAGSTER_PG_URL"] = dbs.dagster()
            from y3d_pipeline.definitions import defs as load_defs
            from y3d_pipeline.defs.automation.jobs import source_selection
            from y3d_pipeline.defs.constants import TASK_STATUS_SYNC
            from y3d_pipeline.defs.partitions import daily_partitions

            loaded = load_defs()
            before_sync = dg.define_asset_job(
                "bench_sync_before", selection=source_selection("shipstation") - dg.AssetSelection.assets(
                    TASK_STATUS_SYNC), partitions_def=daily_partitions, executor_def=dg.in_process_executor)
            merged = dg.Definitions.merge(loaded, dg.Definitions(jobs=[before_sync]))
            jobs = {"before": [merged.resolve_job_def("bench_sync_before"), merged.resolve_job_def("task_status_sync_job")],
                    "after": [merged.resolve_job_def("shipstation_sync")]}
            with pg_instance(Path(tmp) / "home") as instance:
                merged.resolve_job_def("shipstation_reference_sync").execute_in_process(instance=instance)
                results = [cycles("before", args.cycles, jobs, instance, sandbox, 0),
                           cycles("after", args.cycles, jobs, instance, sandbox, 1000)]
                pre_retention = sizes(instance)
                log("retention")
                kept = retention(instance, app_url)
                post_retention = sizes(instance)
                results.append(cycles("after", args.cycles, jobs, instance, sandbox, 2000))
    finally:
        dbs.close()

    print(f"{args.cycles} sync cycles per phase (one changed sandbox order, then today's shipstation_sync), sandbox "
          f"{args.orders_per_day} orders/day, in-process runs on a PostgreSQL-backed instance.\n")
    print("| phase | runs | wall s | runs per cycle | DB file growth MB | row KB per cycle | event_logs rows per cycle |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = ["before: sync + task-status run", "after: task status inside the sync", "after retention: the same again"]
    per_cycle = []
    for label, r in zip(labels, results, strict=True):
        growth = r["after"]["dagster_db_bytes"] - r["before"]["dagster_db_bytes"]
        row_bytes = r["after"]["row_bytes"] - r["before"]["row_bytes"]
        rows = r["after"]["event_logs_rows"] - r["before"]["event_logs_rows"]
        per_cycle.append(row_bytes / r["cycles"])
        print(f"| {label} | {r['runs']} | {r['wall']:.0f} | {r['runs'] / r['cycles']:.0f} | {mb(growth)} | "
              f"{row_bytes / r['cycles'] / 1024:.1f} | {rows / r['cycles']:.0f} |")
    print(f"\nRetention (every finished run older than 0 days, keeping the latest materialization of every asset "
          f"partition and check): runs {kept['before_runs']} → {kept['after_runs']} "
          f"({kept['runs_deleted']} deleted, {kept['runs_kept_latest']} kept as latest), event_logs rows "
          f"{kept['before_event_logs_rows']} → {kept['after_event_logs_rows']}, compute logs "
          f"{kept.get('before_compute_logs_mb', 0)} → {kept.get('after_compute_logs_mb', 0)} MB, Dagster DB "
          f"{mb(pre_retention['dagster_db_bytes'])} → {mb(post_retention['dagster_db_bytes'])} MB (VACUUM frees "
          f"space for reuse, it does not shrink files).\n")
    last = results[-1]
    print(f"After retention, {last['cycles']} more cycles grew the database by "
          f"{mb(last['after']['dagster_db_bytes'] - last['before']['dagster_db_bytes'])} MB, against "
          f"{mb(results[1]['after']['dagster_db_bytes'] - results[1]['before']['dagster_db_bytes'])} MB for the "
          f"same cycles before retention: the freed space is reused.\n")
    print("Where a sync's event-log bytes go (the \"after\" phase, per cycle):\n")
    print("| event type | rows per cycle | KB per cycle |")
    print("|---|---:|---:|")
    for kind, rows, size in results[1]["by_type"][:10]:
        print(f"| {kind} | {rows / results[1]['cycles']:.1f} | {size / results[1]['cycles'] / 1024:.1f} |")
    print()
    cycles_per_minute = 1.1
    print(f"Rows written per sync cycle: {per_cycle[0] / 1024:.1f} KB before, {per_cycle[1] / 1024:.1f} KB after "
          f"({100 * (1 - per_cycle[1] / per_cycle[0]):.0f}% less; index entries and page slack come on top, which is "
          "what the file growth column shows). At the soak's rate of ~1.1 sync cycles a minute (2.2 runs a minute "
          f"before, {cycles_per_minute} after) that is {cycles_per_minute * 60 * per_cycle[0] / 1_048_576:.1f} vs "
          f"{cycles_per_minute * 60 * per_cycle[1] / 1_048_576:.1f} MB of rows an hour, until retention holds it "
          "flat.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
