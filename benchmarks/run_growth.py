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
    from y3d_pipeline.runlog.retention import dagster_sizes

    return dagster_sizes(instance)


def change_an_order(sandbox, n: int) -> None:
    import httpx

    env = sandbox.env()
    orders = httpx.get(f"{env['SHIPSTATION_BASE_URL']}/orders", params={"pageSize": 50},
                       auth=(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"]), timeout=30).json()["orders"]
    sandbox.mutate_order(int(orders[n % len(orders)]["orderId"]), patch={"internalNotes": f"bench change {n}"})


def cycles(mode: str, count: int, jobs: dict, instance, sandbox, start: int) -> dict:
    t0 = time.perf_counter()
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
            "after": after}


def retention(instance, app_url: str) -> dict:
    import dagster as dg

    from y3d_pipeline.defs.automation.maintenance import dagster_maintenance, retention
    from y3d_pipeline.defs.resources import DatabaseResource

    job = dg.Definitions(assets=[retention], jobs=[dagster_maintenance],
                         resources={"database": DatabaseResource(database_url=app_url)}) \
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
    print("| phase | runs | wall s | runs per cycle | DB growth MB | growth KB per cycle | event_logs rows per cycle |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = ["before: sync + task-status run", "after: task status inside the sync", "after retention: the same again"]
    per_cycle = []
    for label, r in zip(labels, results, strict=True):
        growth = r["after"]["dagster_db_bytes"] - r["before"]["dagster_db_bytes"]
        rows = r["after"]["event_logs_rows"] - r["before"]["event_logs_rows"]
        per_cycle.append(growth / r["cycles"])
        print(f"| {label} | {r['runs']} | {r['wall']:.0f} | {r['runs'] / r['cycles']:.0f} | {mb(growth)} | "
              f"{growth / r['cycles'] / 1024:.0f} | {rows / r['cycles']:.0f} |")
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
    before_rate, after_rate = 2.2, 1.1
    print(f"Scaled to the soak's run rate: before {before_rate} runs/min, i.e. {before_rate / 2:.1f} sync cycles "
          f"a minute of {per_cycle[0] / 1024:.0f} KB = {before_rate / 2 * 60 * per_cycle[0] / 1_048_576:.1f} MB/hour; "
          f"after, the same {before_rate / 2:.1f} cycles a minute are {after_rate} runs/min of "
          f"{per_cycle[1] / 1024:.0f} KB = {before_rate / 2 * 60 * per_cycle[1] / 1_048_576:.1f} MB/hour before "
          "retention (which then holds it flat).\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
