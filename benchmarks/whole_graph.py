"""The whole asset graph through real Dagster: a 365-day single-run backfill at a shop's volume, and the demo.

    uv run python benchmarks/whole_graph.py [--days 365] [--orders-per-day 300] [--write]
    uv run python benchmarks/whole_graph.py --quick          # 14 days x 100 orders/day, for a smoke run
    uv run python benchmarks/whole_graph.py --only demo      # or: --only backfill

* backfill: every partitioned asset of the definitions (raw ShipStation, Shopify and Amazon syncs,
  normalization, reconciliation, print tasks) over ``--days`` daily partitions in ONE run (what a
  ``BackfillPolicy.single_run()`` backfill launches: ``dagster/asset_partition_range_start/end`` tags), after
  the unpartitioned reference assets, on a fresh application database and a fresh PostgreSQL-backed Dagster
  instance (the repo's dagster.yaml), against the local sandbox over real HTTP with ``--orders-per-day``
  orders a day across ShipStation (every marketplace), Shopify (web orders) and Amazon (Amazon orders).
  Rate limits are scaled x1000 so the figure is our code and Dagster, not the APIs' quotas.
* demo: what ``y3d demo --no-ui`` does (embedded PostgreSQL, migrations, the demo sandbox, the reference
  assets, then the last 14 days in one run), timed phase by phase; target <= 30 s.

Where the time goes, from the run's own event log (no profiler, so no profiler overhead): per step, from
STEP_START to its first output/materialization is the asset's compute function (our code, including the
SQL and HTTP it waits on); everything else inside the run's wall time is Dagster: creating the run (one
ASSET_MATERIALIZATION_PLANNED event per asset partition), resource set-up, writing each partition's
materialization event after the compute returns, and the executor between steps.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

RESULTS = REPO_ROOT / "benchmarks" / "RESULTS.md"
SANDBOX_END = dt.date(2026, 3, 20)
END_DATE = SANDBOX_END - dt.timedelta(days=1)  # see backfill.py: the SP-API refuses a window ending at its clock
DEMO_TARGET_SECONDS = 30.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ event-log split


def split_run(instance, run_id: str, wall: float) -> dict:
    """Our compute vs Dagster's bookkeeping in one run, from its event log."""
    from dagster import DagsterEventType as T

    records = instance.get_records_for_run(run_id, limit=1_000_000).records
    entries = [r.event_log_entry for r in records]
    counts: dict[str, int] = {}
    for e in entries:
        if e.dagster_event_type is not None:
            counts[e.dagster_event_type.value] = counts.get(e.dagster_event_type.value, 0) + 1
    starts: dict[str, float] = {}
    compute_end: dict[str, float] = {}
    ends: dict[str, float] = {}
    output_types = {T.STEP_OUTPUT, T.ASSET_MATERIALIZATION, T.ASSET_CHECK_EVALUATION}
    for e in entries:
        key, kind = e.step_key, e.dagster_event_type
        if not key or kind is None:
            continue
        if kind == T.STEP_START:
            starts.setdefault(key, e.timestamp)
        elif kind in output_types and key in starts:
            compute_end.setdefault(key, e.timestamp)
        elif kind in (T.STEP_SUCCESS, T.STEP_FAILURE, T.STEP_SKIPPED):
            ends[key] = e.timestamp
    steps = {}
    for key, start in starts.items():
        end = ends.get(key, start)
        done = min(compute_end.get(key, end), end)
        steps[key] = {"compute": done - start, "after": end - done}
    first_start = min(starts.values()) if starts else None
    run_events = [e.timestamp for e in entries if e.dagster_event_type in (T.RUN_START, T.PIPELINE_START)]
    compute = sum(s["compute"] for s in steps.values())
    after = sum(s["after"] for s in steps.values())
    return {"wall": wall, "compute": compute, "after_compute": after, "steps": steps, "events": len(entries),
            "event_counts": counts, "first_step_after_run_start": (first_start - run_events[0])
            if first_start and run_events else None}


# ------------------------------------------------------------------------------------------ backfill


def run_backfill(days: int, orders_per_day: int) -> dict:
    import dagster as dg
    from backfill import Databases, pg_instance, table_counts

    from y3d_pipeline.sandbox.options import SandboxOptions
    from y3d_pipeline.sandbox.server import SandboxServer

    keys = [(END_DATE - dt.timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    options = SandboxOptions(seed=7, days=days + 1, orders_per_day=orders_per_day, end_date=SANDBOX_END,
                             rate_limit_scale=1000.0)
    dbs = Databases()
    try:
        t0 = time.perf_counter()
        with SandboxServer(options, host="127.0.0.1", port=0) as sandbox, \
                tempfile.TemporaryDirectory(prefix="y3d-bench-graph-") as tmp:
            generated = time.perf_counter() - t0
            truth = sandbox.truth()
            by_marketplace: dict[str, int] = {}
            for order in truth:
                by_marketplace[order["marketplace"]] = by_marketplace.get(order["marketplace"], 0) + 1
            log(f"sandbox: {len(truth)} orders generated in {generated:.1f} s: {by_marketplace}")
            for key in [k for k in os.environ if k.startswith(("SHIPSTATION_", "SHOPIFY_", "AMAZON_", "OPENAI_"))]:
                del os.environ[key]
            os.environ.update(sandbox.env())
            os.environ.setdefault("Y3D_START_DATE", "2024-01-01")
            app_url = dbs.app()
            os.environ["DATABASE_URL"] = app_url
            os.environ["DAGSTER_PG_URL"] = dbs.dagster()
            from y3d_pipeline.definitions import defs as load_defs

            loaded = load_defs()
            graph = loaded.resolve_asset_graph()
            partitioned = [n.key for n in graph.asset_nodes if n.is_materializable and n.partitions_def is not None]
            roots = [n.key for n in graph.asset_nodes if n.is_materializable and n.partitions_def is None
                     and not (graph.get_ancestor_asset_keys(n.key) & set(partitioned))]
            jobs = [dg.define_asset_job("bench_partitioned", selection=dg.AssetSelection.assets(*partitioned)),
                    dg.define_asset_job("bench_roots", selection=dg.AssetSelection.assets(*roots))]
            merged = dg.Definitions.merge(loaded, dg.Definitions(jobs=jobs))
            quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            with pg_instance(Path(tmp) / "home") as instance:
                t1 = time.perf_counter()
                roots_result = merged.resolve_job_def("bench_roots").execute_in_process(
                    instance=instance, run_config=quiet, raise_on_error=False)
                roots_wall = time.perf_counter() - t1
                log(f"reference assets: {roots_wall:.1f} s, success={roots_result.success}")
                job = merged.resolve_job_def("bench_partitioned")
                log(f"single run over {days} partitions {keys[0]}..{keys[-1]} ({len(partitioned)} assets)")
                t2 = time.perf_counter()
                result = job.execute_in_process(instance=instance, run_config=quiet, raise_on_error=False, tags={
                    "dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]})
                wall = time.perf_counter() - t2
                log(f"single run: {wall:.1f} s, success={result.success}")
                split = split_run(instance, result.run_id, wall)
            counts = table_counts(app_url)
    finally:
        dbs.close()
    return {"days": days, "keys": keys, "orders_per_day": orders_per_day, "truth": len(truth),
            "by_marketplace": by_marketplace, "generated": generated, "roots_wall": roots_wall,
            "success": result.success and roots_result.success, "assets": len(partitioned), "split": split,
            "counts": counts}


# ------------------------------------------------------------------------------------------ demo


def run_demo(days: int) -> dict:
    """`y3d demo --no-ui`'s steps, timed (the local instance: DAGSTER_HOME = the repo, embedded PostgreSQL)."""
    import dagster as dg

    from y3d_pipeline import demo
    from y3d_pipeline.local_instance import prepare_local_instance

    phases = {}
    t0 = time.perf_counter()
    env = prepare_local_instance()
    phases["database and migrations"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    with demo._sandbox(env, days) as demo_env:
        phases["sandbox start (data generated)"] = time.perf_counter() - t1
        with demo._temporary_environ(demo_env):
            t2 = time.perf_counter()
            run_ids = demo.materialize_recent(days)
            phases["runs (reference assets + the days in one run)"] = time.perf_counter() - t2
            instance = dg.DagsterInstance.get()
            runs = [instance.get_run_by_id(r) for r in run_ids]
            statuses = [r.status.value for r in runs]
            for run in runs:
                run_stats = instance.get_run_stats(run.run_id)
                label = run.tags.get("dagster/partition_range_start") or run.tags.get(
                    "dagster/asset_partition_range_start")
                name = f"run {run.job_name}" + (f" ({label}..)" if label else "")
                phases[f"  {name}"] = (run_stats.end_time or 0) - (run_stats.start_time or 0)
            last = runs[-1]
            stats = instance.get_run_stats(last.run_id)
            last_wall = (stats.end_time or 0) - (stats.launch_time or stats.start_time or 0)
            split = split_run(instance, last.run_id, last_wall)
    total = time.perf_counter() - t0
    return {"days": days, "phases": phases, "total": total, "statuses": statuses, "split": split}


# ------------------------------------------------------------------------------------------ report


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def backfill_markdown(r: dict) -> list[str]:
    s = r["split"]
    wall, compute = s["wall"], s["compute"]
    dagster_share = wall - compute
    counts = s["event_counts"]
    lines = [
        f"Single-run backfill of {r['days']} daily partitions ({r['keys'][0]}..{r['keys'][-1]}), "
        f"{r['assets']} partitioned assets, sandbox at {r['orders_per_day']} orders/day: {r['truth']:,} orders "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(r['by_marketplace'].items()))}; generated in "
        f"{r['generated']:.0f} s), rate limits x1000, in-process run on a PostgreSQL-backed Dagster instance. "
        f"Run {'succeeded' if r['success'] else '**FAILED**'}; reference assets first: {r['roots_wall']:.1f} s.",
        "",
        "| | seconds | share of the run |",
        "|---|---:|---:|",
        f"| run wall time | {wall:.1f} | 100% |",
        f"| our code (asset compute functions, incl. their SQL and HTTP) | {compute:.1f} | {_pct(compute, wall)} |",
        f"| Dagster bookkeeping (everything else) | {dagster_share:.1f} | {_pct(dagster_share, wall)} |",
        f"| ... of which after the compute returned (materialization events per partition, checks) | "
        f"{s['after_compute']:.1f} | {_pct(s['after_compute'], wall)} |",
        "",
        f"Events in the run: {s['events']:,} (ASSET_MATERIALIZATION_PLANNED "
        f"{counts.get('ASSET_MATERIALIZATION_PLANNED', 0):,}, ASSET_MATERIALIZATION "
        f"{counts.get('ASSET_MATERIALIZATION', 0):,}).",
        "",
        "| step | compute s | Dagster after compute s |",
        "|---|---:|---:|",
    ]
    for key, step in sorted(s["steps"].items(), key=lambda kv: -kv[1]["compute"]):
        lines.append(f"| {key} | {step['compute']:.1f} | {step['after']:.1f} |")
    lines += ["", "| table | rows |", "|---|---:|"]
    lines += [f"| {t} | {n:,} |" for t, n in r["counts"].items()]
    return lines


def demo_markdown(r: dict) -> list[str]:
    s = r["split"]
    ok = r["total"] <= DEMO_TARGET_SECONDS
    lines = [f"`y3d demo --no-ui`'s steps for the last {r['days']} days, timed in one process (embedded "
             f"PostgreSQL already initialised; runs: {', '.join(r['statuses'])}): **{r['total']:.1f} s** "
             f"(target {DEMO_TARGET_SECONDS:.0f} s: {'met' if ok else 'NOT met'}).", "",
             "| phase | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in r["phases"].items()]
    lines += ["", f"The {r['days']}-day run: {s['wall']:.1f} s, of which our compute {s['compute']:.1f} s "
              f"({_pct(s['compute'], s['wall'])}) and Dagster {s['wall'] - s['compute']:.1f} s; "
              f"{s['events']:,} events.", "", "| step | compute s | Dagster after compute s |", "|---|---:|---:|"]
    lines += [f"| {key} | {step['compute']:.1f} | {step['after']:.1f} |"
              for key, step in sorted(s["steps"].items(), key=lambda kv: -kv[1]["compute"])]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=300)
    parser.add_argument("--demo-days", type=int, default=14)
    parser.add_argument("--only", choices=["backfill", "demo"])
    parser.add_argument("--quick", action="store_true", help="backfill of 14 days at 100 orders/day")
    parser.add_argument("--write", action="store_true", help="append a section to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.orders_per_day = 14, 100

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## The whole graph: {args.days}-day single-run backfill and the demo ({started})", "",
             f"`uv run python benchmarks/whole_graph.py {' '.join(sys.argv[1:])}` ({args.days} days x "
             f"{args.orders_per_day} orders/day); "
             f"{os.cpu_count()} CPUs, load average at start {load}.", ""]
    ok = True
    if args.only in (None, "demo"):
        log(f"demo: last {args.demo_days} days")
        with contextlib.redirect_stdout(sys.stderr):
            demo_result = run_demo(args.demo_days)
        lines += ["### Demo", "", *demo_markdown(demo_result), ""]
        ok &= all(s == "SUCCESS" for s in demo_result["statuses"])
    if args.only in (None, "backfill"):
        backfill = run_backfill(args.days, args.orders_per_day)
        lines += [f"### {args.days}-day single-run backfill", "", *backfill_markdown(backfill), ""]
        ok &= backfill["success"]
    lines.append(f"Load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
        RESULTS.write_text(existing.rstrip("\n") + "\n\n" + text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
