"""The ShipStation catalogue job's phase 2 (products and inventory) measured: do the two branches run at once, and
what does it save? The job as production runs it (the project's definitions, the multiprocess executor, the repo's
dagster.yaml on PostgreSQL with its pools) against the local sandbox with an API latency on every request.

    uv run python benchmarks/run_all.py --only catalogue_phases
    uv run python benchmarks/catalogue_phases.py [--runs 3] [--latency-ms 250] [--page-size 5] [--quick]

Per run, from the run's step events (``runlog.operations``): each branch's step start and end, its operation's
own duration (inside the step: requests and writes), their overlap, phase 2's wall time (first start to last end)
and what the two steps would take one after the other. Step times include starting the step's process (loading
the code location), which is the cost of running the branches at once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from backfill import Databases, pg_instance  # noqa: E402 - the shared benchmark plumbing

PRODUCTS, INVENTORY = "raw__shipstation_products", "raw__shipstation_inventory"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def catalogue_job():
    """The ``shipstation_catalogue`` job, rebuilt in each of its step processes (the multiprocess executor)."""
    from y3d_pipeline.definitions import defs as load_defs

    return load_defs().resolve_job_def("shipstation_catalogue")


def measure(instance, page_size: int) -> dict:
    import dagster as dg

    from y3d_pipeline.inprocess import QUIET_CONSOLE
    from y3d_pipeline.runlog.operations import operation_results

    config = {**QUIET_CONSOLE, "resources": {"shipstation": {"config": {"page_size": page_size}},
                                             "shipstation_v2": {"config": {"page_size": page_size}}}}
    with dg.execute_job(dg.reconstructable(catalogue_job), instance=instance, run_config=config,
                        raise_on_error=False) as result:
        run_id, success = result.run_id, result.success
    steps = {r.step_key: r for r in operation_results(instance, run_id)}
    products, inventory = steps[PRODUCTS], steps[INVENTORY]
    seconds = lambda r: (r.ended_at - r.started_at).total_seconds()  # noqa: E731
    first, last = min(products.started_at, inventory.started_at), max(products.ended_at, inventory.ended_at)
    overlap = (min(products.ended_at, inventory.ended_at) - max(products.started_at, inventory.started_at))
    return {"success": success, "products_step": seconds(products), "inventory_step": seconds(inventory),
            "products_op": products.duration_seconds, "inventory_op": inventory.duration_seconds,
            "products_records": products.records, "inventory_records": inventory.records,
            "overlap": overlap.total_seconds(), "phase2_wall": (last - first).total_seconds(),
            "sequential": seconds(products) + seconds(inventory),
            "span": f"products {products.started_at:%H:%M:%S.%f}"[:-3] + f"–{products.ended_at:%H:%M:%S.%f}"[:-3]
                    + f", inventory {inventory.started_at:%H:%M:%S.%f}"[:-3]
                    + f"–{inventory.ended_at:%H:%M:%S.%f}"[:-3]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=int, default=250, help="added by the sandbox to every request")
    parser.add_argument("--page-size", type=int, default=5, help="both APIs' page size (more pages, more requests)")
    parser.add_argument("--quick", action="store_true", help="one run")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs

    from y3d_pipeline.sandbox.options import FaultSpec, SandboxOptions
    from y3d_pipeline.sandbox.server import SandboxServer
    from y3d_pipeline_tests.plugins.sandbox import TEST_SANDBOX_OPTIONS

    dbs = Databases()
    rows = []
    try:
        faults = [FaultSpec(api=api, kind="slow", count=None, rate=1.0, delay_ms=args.latency_ms)
                  for api in ("shipstation", "shipstation_v2")] if args.latency_ms else []
        options = SandboxOptions(**{**TEST_SANDBOX_OPTIONS.model_dump(), "faults": faults})
        with SandboxServer(options) as sandbox, tempfile.TemporaryDirectory() as tmp:
            os.environ.update({**sandbox.env(), "DATABASE_URL": dbs.app(), "DAGSTER_PG_URL": dbs.dagster()})
            with pg_instance(Path(tmp)) as instance:
                for number in range(runs):
                    log(f"catalogue run {number + 1}/{runs} ...")
                    rows.append(measure(instance, args.page_size))
    finally:
        dbs.close()
    print("## ShipStation catalogue: phase 2 in parallel\n")
    print(f"`shipstation_catalogue` job, multiprocess executor (max 2), pools `shipstation` / `shipstation_v2` "
          f"(1 each); sandbox latency {args.latency_ms} ms on every request, page size {args.page_size}.\n")
    print("| run | ok | products step s (operation s, records) | inventory step s (operation s, records) | "
          "overlap s | phase 2 wall s | one after the other s | spans (UTC) |")
    print("|---|---|---|---|---|---|---|---|")
    for number, r in enumerate(rows, 1):
        print(f"| {number} | {'yes' if r['success'] else 'NO'} | {r['products_step']:.2f} ({r['products_op']:.2f}, "
              f"{r['products_records']}) | {r['inventory_step']:.2f} ({r['inventory_op']:.2f}, "
              f"{r['inventory_records']}) | {r['overlap']:.2f} | {r['phase2_wall']:.2f} | {r['sequential']:.2f} | "
              f"{r['span']} |")
    if len(rows) > 1:
        print(f"\nMedian phase 2 wall {statistics.median(r['phase2_wall'] for r in rows):.2f} s vs "
              f"{statistics.median(r['sequential'] for r in rows):.2f} s one after the other; median overlap "
              f"{statistics.median(r['overlap'] for r in rows):.2f} s.")
    return 0 if all(r["success"] and r["overlap"] > 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
