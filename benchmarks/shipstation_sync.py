"""Benchmark: syncing ~20,000 ShipStation orders from the local sandbox at a (scaled) rate limit.

Not a test. Starts the sandbox with ~20,000 orders over 20 days and ShipStation's limit of 40 requests per
minute times ``--scale``, then lists every order with the project's client (GET /orders, Pacific
modifyDate window, sortBy=ModifyDate ASC), once with the production page size (500) and once with a small
page size so the run spans several rate-limit windows. Reports achieved requests/minute as a share of the
limit, 429s received, throttle pauses and whether every order arrived exactly once.

    uv run python benchmarks/shipstation_sync.py [--scale 1.0] [--small-page 100] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline.sources.shipstation.client import ShipStationClient

RESULTS = Path(__file__).with_name("RESULTS.md")
END_DATE = dt.date(2026, 3, 20)


def sync(server: SandboxServer, page_size: int) -> dict:
    env = server.env()
    server.reset()
    start = dt.datetime.combine(END_DATE - dt.timedelta(days=40), dt.time(), dt.UTC)
    end = dt.datetime.combine(END_DATE + dt.timedelta(days=10), dt.time(), dt.UTC)
    with ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                           base_url=env["SHIPSTATION_BASE_URL"], page_size=page_size) as client:
        began = time.monotonic()
        result = client.list_orders(start, end)
        elapsed = time.monotonic() - began
        meta = client.stats.as_metadata()
        limit = client.rate_limit
    requests = meta["requests"]
    return {
        "page_size": page_size, "orders": len(result.records), "pages": result.pages, "requests": requests,
        "seconds": elapsed, "limit": limit, "rpm": requests / elapsed * 60,
        "rate_limited": meta["rate_limited_responses"], "throttle_pauses": meta["throttle_pauses"],
        "throttle_seconds": meta["throttle_wait_seconds"],
        "latency": (elapsed - meta["throttle_wait_seconds"]) / max(requests, 1),
        "complete": result.complete, "server_429": server.stats()["throttled"].get("shipstation", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="rate limit = 40/min x scale")
    parser.add_argument("--small-page", type=int, default=100)
    parser.add_argument("--orders-per-day", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    options = SandboxOptions(seed=7, days=20, orders_per_day=args.orders_per_day, end_date=END_DATE,
                             rate_limit_scale=args.scale)
    with SandboxServer(options) as server:
        visible = len([o for o in server.state.data.ss_orders.values() if o.version_at(server.now())])
        runs = [sync(server, 500), sync(server, args.small_page)]
    for run in runs:
        print(run, flush=True)
    lines = [
        "",
        "## ShipStation sync",
        "",
        f"`uv run python benchmarks/shipstation_sync.py --scale {args.scale} --small-page {args.small_page}` on "
        f"{dt.date.today()}; machine: 2 cores shared with other work ({os.cpu_count()} cores visible, "
        f"{platform.machine()}, 24 GiB RAM, Python {platform.python_version()}); local sandbox over HTTP with "
        f"{visible:,} ShipStation orders (20 days x ~{args.orders_per_day}/day plus split children), its "
        f"fixed-window limiter at 40 x {args.scale} = {round(40 * args.scale)} requests/minute; one "
        "GET /orders scan of the whole range (modifyDate window, sortBy=ModifyDate ASC). The client pauses "
        "when X-Rate-Limit-Remaining reaches 1 (so at most limit-1 requests per window) and would wait "
        "X-Rate-Limit-Reset on a 429.",
        "",
        "| page size | orders | requests | wall s | s/request (excl. pauses) | achieved req/min | share of limit "
        "| 429s | pauses (s) | all orders once |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['page_size']} | {run['orders']:,} | {run['requests']} | {run['seconds']:.1f} | "
            f"{run['latency']:.2f} | {run['rpm']:.1f} | {run['rpm'] / run['limit']:.0%} | {run['server_429']} | "
            f"{run['throttle_pauses']} ({run['throttle_seconds']:.0f}) | "
            f"{'yes' if run['complete'] and run['orders'] == visible else 'NO'} |")
    lines += [
        "",
        "The client's ceiling is (limit - 1)/limit per window (it keeps one request in reserve). Below that, "
        "the share is bounded by the time each page takes to come back: when s/request x limit > 60 s the "
        "run is latency-bound, not rate-limit-bound.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with RESULTS.open("a") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
