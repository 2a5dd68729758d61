"""``y3d demo``: the whole pipeline on sandbox data, recorded in the local Dagster instance, then the UI.

1. start (or reuse) the embedded PostgreSQL and apply migrations;
2. start the local API sandbox and point every source and OpenAI at it;
3. materialize the non-partitioned reference assets, then the ShipStation catalogue job (its phase graph, in this
   process: production's schedule launches it on its multiprocess executor, which would spend ~20 s starting
   step processes for the demo's few hundred records), then the last N days of every partitioned asset in one
   single run (the way a single-run backfill executes), recording all in the instance;
4. open the Dagster UI on 127.0.0.1 with those runs, materializations and the lineage visible.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os

from y3d_pipeline.local_instance import open_ui, prepare_local_instance
from y3d_pipeline.runlog.tags import TAG_RANGE_END, TAG_RANGE_START, TAG_TRIGGER

DEMO_RATE_LIMIT_SCALE = 50.0


@contextlib.contextmanager
def _sandbox(env: dict[str, str], days: int | None = None):
    from y3d_pipeline.sandbox.server import SandboxOptions, SandboxServer

    # Real rate limits would make the demo wait on Amazon's searchOrders plan (a page per ~180 s once its burst of
    # 20 is spent) and ShipStation's 40 requests/minute; scale them up. The shop's data covers the days the demo
    # runs plus a week before them (for the sync windows' overlap and orders changed later), not the sandbox's
    # default 60 days: every ShipStation page the sandbox serves scans all of its orders.
    extent = {"days": days + 7} if days else {}
    options = SandboxOptions(end_date=dt.datetime.now(dt.UTC).date(), rate_limit_scale=DEMO_RATE_LIMIT_SCALE,
                             **extent)
    with SandboxServer(options, host="127.0.0.1", port=0) as sb:
        print(f"API sandbox on {sb.base_url}", flush=True)
        yield {**env, **sb.env()}


@contextlib.contextmanager
def _temporary_environ(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_catalogue(definitions, instance) -> str:
    """The catalogue's phase graph in this process; prints each operation's result; returns the run id."""
    from y3d_pipeline.inprocess import execute_with_progress
    from y3d_pipeline.runlog.operations import operation_results

    job = definitions.resolve_job_def("shipstation_catalogue")
    run_id = execute_with_progress(job, instance=instance, what="ShipStation catalogue and stock",
                                   tags={TAG_TRIGGER: "demo"}).run_id
    for op in operation_results(instance, run_id):
        span = ""
        if op.started_at and op.ended_at:
            span = (f", step {op.started_at:%H:%M:%S}.{op.started_at.microsecond // 1000:03d}.."
                    f"{op.ended_at:%H:%M:%S}.{op.ended_at.microsecond // 1000:03d} "
                    f"({(op.ended_at - op.started_at).total_seconds():.2f} s)")
        error = f": {op.error}" if op.error else ""
        print(f"  {op.operation or op.step_key}: {op.status}, {op.records} records{span}{error}", flush=True)
    return run_id


def materialize_recent(days: int) -> list[str]:
    """Run the reference assets, the ShipStation catalogue job, then the last ``days`` daily partitions in one run;
    returns run ids. Each in-process run shows a progress bar of its steps (plain lines when stderr is not a
    terminal); the catalogue's operations are printed."""
    import dagster as dg

    from y3d_pipeline.definitions import defs as load_defs
    from y3d_pipeline.defs.automation.jobs import CATALOGUE_ASSETS
    from y3d_pipeline.defs.partitions import daily_partitions
    from y3d_pipeline.inprocess import execute_with_progress

    definitions = load_defs()
    graph = definitions.resolve_asset_graph()
    materializable = sorted(graph.materializable_asset_keys)
    partitioned = [k for k in materializable if graph.get(k).partitions_def is not None]
    unpartitioned = [k for k in materializable if graph.get(k).partitions_def is None and k not in CATALOGUE_ASSETS]
    job = definitions.resolve_implicit_global_asset_job_def()
    instance = dg.DagsterInstance.get()
    run_ids: list[str] = []
    if unpartitioned:
        result = execute_with_progress(job, instance=instance, what="reference and daily-report assets",
                                       asset_selection=unpartitioned, tags={TAG_TRIGGER: "demo"})
        run_ids.append(result.run_id)
    run_ids.append(run_catalogue(definitions, instance))  # before the print tasks, which read the stock
    window = daily_partitions.get_partition_keys()[-days:]
    if partitioned and window:
        result = execute_with_progress(
            job, instance=instance, what=f"{window[0]}..{window[-1]}", asset_selection=partitioned,
            tags={TAG_RANGE_START: window[0], TAG_RANGE_END: window[-1],
                  TAG_TRIGGER: "demo"})
        run_ids.append(result.run_id)
    return run_ids


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", help="run the whole pipeline on sandbox data, then open the Dagster UI")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--days", type=int, default=14, help="how many recent daily partitions to materialize")
    parser.add_argument("--no-ui", action="store_true", help="stop after the runs instead of opening the UI")
    parser.set_defaults(func=run, log_level=logging.WARNING)
    return parser


def run(args: argparse.Namespace) -> int:
    env = prepare_local_instance()
    with _sandbox(env, args.days) as demo_env:
        with _temporary_environ(demo_env):
            run_ids = materialize_recent(args.days)
        for run_id in run_ids:
            print(f"run {run_id} recorded", flush=True)
        if args.no_ui:
            return 0
        return open_ui(args.host, args.port, demo_env)
