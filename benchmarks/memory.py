"""Peak memory of a 100,000-order day: normalizing one shop day of raw ShipStation orders.

    uv run python benchmarks/memory.py [--orders 100000] [--day 2026-03-08] [--quick]

Loads N raw ShipStation orders all modified within one shop day (payloads cloned from the sandbox's
generated orders, each with its own orderId/orderNumber, items and line-item keys, so every one is a
distinct order with 1-4 items and real options) into raw_shipstation_orders of a fresh database, then
normalizes that day exactly as the `normalized/*` assets do for one partition (the partition's window
plus the sync overlap, `normalize_shipstation_window`) in a fresh child process, which reports its peak
RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) against its RSS after imports, plus the wall time.
A second child re-runs the same day over unchanged data (a re-materialization). Markdown on stdout.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def templates(count: int = 300) -> list[dict]:
    """Rendered ShipStation order documents from the sandbox's data generator."""
    from y3d_pipeline.sandbox.data import ShopData

    end = dt.date(2026, 3, 20)
    data = ShopData(seed=11, days=2, orders_per_day=count // 2, end_date=end)
    data.generate()
    now = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)
    docs = [data.render_shipstation(o, now, "http://127.0.0.1:1") for o in data.all_ss_orders()]
    return [d for d in docs if d]


def synthetic_day(n: int, day: dt.date, tz: ZoneInfo):
    """`n` raw rows modified within `day` (shop timezone), distinct orders cloned from sandbox documents."""
    from y3d_pipeline.sources.shipstation.records import PACIFIC

    base = templates()
    start = dt.datetime.combine(day, dt.time(0, 0), tz).astimezone(dt.UTC)
    step = dt.timedelta(hours=23) / n  # stays inside the day even on a 23-hour DST day
    item_id = 900_000_000
    for i in range(n):
        doc = copy.deepcopy(base[i % len(base)])
        order_id = 300_000_000 + i
        modified = start + step * i
        doc["orderId"] = order_id
        doc["orderNumber"] = f"B{order_id}"
        doc["orderKey"] = f"bench-{order_id}"
        pacific = modified.astimezone(PACIFIC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"
        doc["modifyDate"] = pacific
        doc["createDate"] = pacific
        doc["customerEmail"] = f"customer{i % (n // 2 + 1)}@example.com"
        doc["advancedOptions"] = {**(doc.get("advancedOptions") or {}), "parentId": None, "mergedOrSplit": False}
        for item in doc.get("items") or []:
            item_id += 1
            item["orderItemId"] = item_id
            item["lineItemKey"] = str(item_id)
        yield {"shipstation_order_id": order_id, "order_number": doc["orderNumber"], "order_key": doc["orderKey"],
               "order_status": doc.get("orderStatus"), "source_modified_at": modified, "payload": doc}


def load(url: str, n: int, day: dt.date, tz: ZoneInfo) -> float:
    import sqlalchemy as sa

    from y3d_pipeline.db.engine import make_engine
    from y3d_pipeline.db.models import RawShipstationOrder
    from y3d_pipeline.sources.raw_store import upsert_raw_records

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    t0 = time.perf_counter()
    batch: list[dict] = []
    fetched = dt.datetime.now(dt.UTC)
    for row in synthetic_day(n, day, tz):
        batch.append(row)
        if len(batch) == 5000:
            with engine.begin() as conn:
                upsert_raw_records(conn, RawShipstationOrder.__table__, batch, fetched_at=fetched)
            batch = []
            log(f"  loaded {row['shipstation_order_id'] - 300_000_000 + 1}/{n}")
    if batch:
        with engine.begin() as conn:
            upsert_raw_records(conn, RawShipstationOrder.__table__, batch, fetched_at=fetched)
    engine.dispose()
    return time.perf_counter() - t0


def child(url: str, day: str, tz_name: str) -> None:
    """Normalize one partition's window in this fresh process; print JSON figures."""
    import sqlalchemy as sa

    from y3d_pipeline.db.engine import make_engine
    from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_window, partition_key_clamp
    from y3d_pipeline.sources.windows import DEFAULT_OVERLAP

    tz = ZoneInfo(tz_name)
    d = dt.date.fromisoformat(day)
    start = dt.datetime.combine(d, dt.time(0), tz)
    end = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(0), tz)
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    baseline = rss_mib()
    t0 = time.perf_counter()
    report = normalize_shipstation_window(engine, start - DEFAULT_OVERLAP, end,
                                          partition_key_for=partition_key_clamp(tz, [day]))
    wall = time.perf_counter() - t0
    with engine.connect() as conn:
        orders = conn.execute(sa.text("SELECT count(*) FROM orders")).scalar_one()
        items = conn.execute(sa.text("SELECT count(*) FROM order_items")).scalar_one()
    engine.dispose()
    print(json.dumps({"baseline_mib": baseline, "peak_mib": rss_mib(), "wall": wall, "raw": report.raw_records,
                      "quarantined": report.quarantined, "orders": orders, "items": items}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--day", default="2026-03-08", help="the shop day (default: the US DST change)")
    parser.add_argument("--quick", action="store_true", help="10,000 orders")
    parser.add_argument("--child", nargs=3, metavar=("URL", "DAY", "TZ"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.quick:
        args.orders = 10_000

    from backfill import Databases

    from y3d_pipeline.settings import load_settings

    tz = load_settings().timezone
    dbs = Databases()
    try:
        url = dbs.app()
        log(f"loading {args.orders} raw orders for {args.day} ({tz.key})")
        load_wall = load(url, args.orders, dt.date.fromisoformat(args.day), tz)
        runs = []
        for label in ("first normalization", "re-run, unchanged data"):
            log(f"{label} in a child process")
            out = subprocess.run([sys.executable, __file__, "--child", url, args.day, tz.key], check=True,
                                 capture_output=True, text=True, cwd=REPO_ROOT).stdout
            runs.append((label, json.loads(out.strip().splitlines()[-1])))
    finally:
        dbs.close()

    print(f"One shop day ({args.day}, {tz.key}) with {args.orders:,} raw ShipStation orders "
          f"(loaded in {load_wall:.0f} s), normalized as one partition of the `normalized/*` assets; "
          "each pass in a fresh process.\n")
    print("| pass | raw rows | orders | order items | quarantined | wall time | orders/s | RSS after imports | "
          "peak RSS | peak - baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in runs:
        print(f"| {label} | {r['raw']:,} | {r['orders']:,} | {r['items']:,} | {r['quarantined']} | {r['wall']:.1f} s | "
              f"{r['raw'] / r['wall']:,.0f} | {r['baseline_mib']:.0f} MiB | {r['peak_mib']:.0f} MiB | "
              f"{r['peak_mib'] - r['baseline_mib']:.0f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
