"""Amazon Custom downloads: files fetched one at a time vs ``concurrency`` at a time, with and without latency.

    uv run python benchmarks/amazon_custom.py [--days 3] [--orders-per-day 300] [--latency-ms 150] [--write]

The local sandbox (in this process, over real HTTP) serves the shop's Amazon Custom zips; the candidates are the
``CustomizedURL`` options of its ShipStation orders (read over the API as the sync would). Each row downloads,
opens, parses and stores every file with the production code (``sync_customizations`` over ``fetcher``) into an
emptied ``amazon_customizations``. With no added latency the sandbox (zipping every file on its event loop,
sharing this process's GIL) is the bottleneck; with ``--latency-ms`` (a "slow" fault on every download: what
Amazon's file host costs from a shop's server) the network wait is, which is what the concurrency is for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

RESULTS = REPO_ROOT / "benchmarks" / "RESULTS.md"
END = dt.date(2026, 3, 20)


def measure(engine, candidates, policy, concurrency: int) -> dict:
    import sqlalchemy as sa

    from y3d_pipeline.sources.amazon.custom.fetch import fetcher
    from y3d_pipeline.sources.amazon.custom.store import sync_customizations

    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE amazon_customizations"))
    started = time.perf_counter()
    with fetcher(policy) as fetch:
        report = sync_customizations(engine, candidates, fetch, partition_key=None, concurrency=concurrency)
    seconds = time.perf_counter() - started
    return {"concurrency": concurrency, "seconds": seconds, "processed": report.processed,
            "problems": len(report.problems), "files_per_s": len(candidates) / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--orders-per-day", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--quick", action="store_true", help="1 day")
    parser.add_argument("--write", action="store_true", help="append a section to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    days = 1 if args.quick else args.days

    from backfill import Databases

    from y3d_pipeline.db.engine import make_engine
    from y3d_pipeline.sandbox.options import FaultSpec, SandboxOptions
    from y3d_pipeline.sandbox.server import SandboxServer
    from y3d_pipeline.sources.amazon.custom.candidates import shipstation_candidates
    from y3d_pipeline.sources.amazon.custom.policy import DownloadPolicy
    from y3d_pipeline_tests.sandbox.helpers import all_orders, shipstation

    rows = []
    dbs = Databases()
    try:
        engine = make_engine(dbs.app())
        for latency in (0, args.latency_ms):
            faults = [FaultSpec(api="custom", kind="slow", count=None, rate=1.0, delay_ms=latency)] if latency else []
            options = SandboxOptions(seed=7, days=days + 1, orders_per_day=args.orders_per_day, end_date=END,
                                     rate_limit_scale=1000.0, faults=faults)
            with SandboxServer(options, host="127.0.0.1", port=0) as sandbox:
                with shipstation(sandbox, timeout=60) as client:
                    payloads = all_orders(client, page_size=500)
                candidates = [c for p in payloads for c in shipstation_candidates(p)]
                policy = DownloadPolicy.from_settings(("127.0.0.1",), allow_http=True)
                for concurrency in args.concurrency:
                    row = measure(engine, candidates, policy, concurrency)
                    row.update(latency=latency, files=len(candidates))
                    print(row, file=sys.stderr, flush=True)
                    rows.append(row)
        engine.dispose()
    finally:
        dbs.close()

    base = {r["latency"]: r["files_per_s"] for r in rows if r["concurrency"] == min(args.concurrency)}
    lines = ["", "## Amazon Custom downloads: one at a time vs at once", "",
             f"`uv run python benchmarks/amazon_custom.py --days {days} --orders-per-day {args.orders_per_day} "
             f"--latency-ms {args.latency_ms}` on {dt.date.today()}; {platform.machine()}, Python "
             f"{platform.python_version()}; the sandbox in this process over HTTP, every file downloaded, opened, "
             "parsed and stored with the production code into an emptied `amazon_customizations`.", "",
             "| added latency per file | files | concurrency | wall s | files/s | vs one at a time | stored | "
             "problems |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['latency']} ms | {r['files']:,} | {r['concurrency']} | {r['seconds']:.1f} | "
                     f"{r['files_per_s']:.0f} | {r['files_per_s'] / base[r['latency']]:.1f}x | {r['processed']:,} | "
                     f"{r['problems']} |")
    lines += ["", "With no added latency the sandbox, zipping every file on its one event loop in this process, "
              "decides the rate, and threads only share the GIL with it; with a network wait per file (Amazon's "
              "file host from a shop's server) the downloads overlap."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with RESULTS.open("a") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
