"""365-day backfill of the whole asset graph on sandbox data: one single-run backfill vs one run per partition.

    uv run python benchmarks/backfill.py [--days 365] [--orders-per-day 6] [--quick]

Both modes run the same partitioned assets (every asset with the daily partitions: raw ShipStation, Shopify
and Amazon syncs, normalization, print tasks) against a fresh application database and a fresh
PostgreSQL-backed Dagster instance (the repo's dagster.yaml storage), after the unpartitioned source assets
(stores, tags, products) have run once:

* single run: `job.execute_in_process(tags={dagster/asset_partition_range_start/end})`, what a
  `BackfillPolicy.single_run()` backfill launches;
* one run per partition: `job.execute_in_process(partition_key=day)` for each day, what a backfill under
  the default policy launches.

Runs are in-process, so the figures exclude the per-run process start a daemon-launched run adds
(~1.2-1.5 s of CPU per run on this class of machine, dagster-notes Part B §0) and the backfill daemon's 30 s
loop; the per-partition mode would pay that 365 times, the single run once. The sandbox data is scaled
down (default 6 orders a day instead of a shop's hundreds) so the comparison measures orchestration and
per-run costs. Results are printed as Markdown; the final tables of both modes must be equal.
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

SANDBOX_END = dt.date(2026, 3, 20)
# The last partition is the day before the sandbox's last day: the sandbox clock stands at its end
# (2026-03-21T00:00Z) while the assets' "now" is the real time, and the SP-API rejects a window that ends
# within two minutes of its own clock.
END_DATE = SANDBOX_END - dt.timedelta(days=1)
COUNTED_TABLES = ("raw_shipstation_orders", "raw_shipstation_shipments", "raw_shopify_orders", "raw_amazon_orders",
                  "amazon_customizations", "customers", "products", "orders", "order_items", "print_tasks",
                  "normalization_failures")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Databases:
    """Fresh databases on the test PostgreSQL (Y3D_TEST_PG_URL, else the embedded test server)."""

    def __init__(self):
        from y3d_pipeline_tests.plugins.database import DatabaseFactory, _admin_url

        self.factory = DatabaseFactory(_admin_url())

    def app(self) -> str:
        from y3d_pipeline.db.migrate import upgrade

        url = self.factory.create("y3d_bench_app")
        upgrade(url)
        return url

    def dagster(self) -> str:
        from y3d_pipeline.settings import normalize_postgres_url

        return normalize_postgres_url(self.factory.create("y3d_bench_dagster"), variable="DAGSTER_PG_URL")

    def close(self) -> None:
        self.factory.drop_all()


def pg_instance(home: Path):
    """A DagsterInstance with the repo's dagster.yaml (PostgreSQL storage from DAGSTER_PG_URL)."""
    import dagster as dg

    from y3d_pipeline_tests.e2e.dagster_servers import prepare_dagster_home

    prepare_dagster_home(home)
    return dg.DagsterInstance.from_config(str(home))


def table_counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    from y3d_pipeline.db.engine import make_engine

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()  # noqa: S608
                  for t in COUNTED_TABLES}
    engine.dispose()
    return counts


def run_mode(mode: str, days: list[str], dbs: Databases, tmp: Path, sandbox) -> dict:
    import dagster as dg

    from y3d_pipeline.definitions import defs as load_defs

    sandbox.reset()
    app_url = dbs.app()
    os.environ["DATABASE_URL"] = app_url
    os.environ["DAGSTER_PG_URL"] = dbs.dagster()
    loaded = load_defs()
    graph = loaded.resolve_asset_graph()
    partitioned = [n.key for n in graph.asset_nodes if n.is_materializable and n.partitions_def is not None]
    roots = [n.key for n in graph.asset_nodes if n.is_materializable and n.partitions_def is None
             and not (graph.get_ancestor_asset_keys(n.key) & set(partitioned))]
    jobs = [dg.define_asset_job("bench_partitioned", selection=dg.AssetSelection.assets(*partitioned))]
    if roots:
        jobs.append(dg.define_asset_job("bench_roots", selection=dg.AssetSelection.assets(*roots)))
    merged = dg.Definitions.merge(loaded, dg.Definitions(jobs=jobs))
    with pg_instance(tmp / f"home-{mode}") as instance:
        if roots:
            result = merged.resolve_job_def("bench_roots").execute_in_process(instance=instance)
            assert result.success, "unpartitioned source assets failed"
        job = merged.resolve_job_def("bench_partitioned")
        t0 = time.perf_counter()
        runs = failed = 0
        if mode == "single run":
            result = job.execute_in_process(instance=instance, tags={
                "dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]})
            runs, failed = 1, int(not result.success)
        else:
            for i, day in enumerate(days, 1):
                result = job.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
                runs += 1
                failed += int(not result.success)
                if i % 30 == 0:
                    log(f"  {mode}: {i}/{len(days)} partitions, {time.perf_counter() - t0:.0f} s")
        wall = time.perf_counter() - t0
        events = len(instance.get_records_for_run(result.run_id, limit=100000).records)
    counts = table_counts(app_url)
    return {"mode": mode, "wall": wall, "runs": runs, "failed": failed, "assets": len(partitioned),
            "events_last_run": events, "counts": counts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--orders-per-day", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="30 days, 4 orders a day")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.orders_per_day = 30, 4

    from y3d_pipeline.sandbox.options import SandboxOptions
    from y3d_pipeline.sandbox.server import SandboxServer

    options = SandboxOptions(seed=7, days=args.days + 1, orders_per_day=args.orders_per_day, end_date=SANDBOX_END,
                             rate_limit_scale=1000.0)
    days = [(END_DATE - dt.timedelta(days=args.days - 1 - i)).isoformat() for i in range(args.days)]
    dbs = Databases()
    results = []
    try:
        with SandboxServer(options, host="127.0.0.1", port=0) as sandbox, \
                tempfile.TemporaryDirectory(prefix="y3d-bench-backfill-") as tmp:
            for key in [k for k in os.environ if k.startswith(("SHIPSTATION_", "SHOPIFY_", "AMAZON_", "OPENAI_"))]:
                del os.environ[key]
            os.environ.update(sandbox.env())
            os.environ.setdefault("Y3D_START_DATE", "2024-01-01")
            for mode in ("single run", "one run per partition"):
                log(f"{mode}: {len(days)} partitions {days[0]}..{days[-1]}")
                results.append(run_mode(mode, days, dbs, Path(tmp), sandbox))
                log(f"{mode}: {results[-1]['wall']:.1f} s")
    finally:
        dbs.close()

    single, per = results
    print(f"Backfill of {args.days} daily partitions ({days[0]}..{days[-1]}), sandbox data scaled "
          f"down to {args.orders_per_day} orders/day, {single['assets']} partitioned assets, in-process runs on a "
          "PostgreSQL-backed Dagster instance.\n")
    print("| policy | runs | failed runs | wall time | per partition | Dagster events (last run) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['mode']} | {r['runs']} | {r['failed']} | {r['wall']:.1f} s | "
              f"{r['wall'] / args.days * 1000:.0f} ms | {r['events_last_run']} |")
    print(f"\nSingle run is {per['wall'] / single['wall']:.1f}x faster in-process; a daemon-launched per-partition "
          f"backfill adds ~1.2-1.5 s of process start per run (~{1.35 * args.days / 60:.0f} min more for "
          f"{args.days} runs) and the backfill daemon's 30 s loop.\n")
    same = single["counts"] == per["counts"]
    print(f"Final tables equal in both modes: **{'yes' if same else 'NO'}**\n")
    print("| table | single run | one run per partition |")
    print("|---|---:|---:|")
    for table in COUNTED_TABLES:
        print(f"| {table} | {single['counts'][table]} | {per['counts'][table]} |")
    return 0 if same and not single["failed"] and not per["failed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
