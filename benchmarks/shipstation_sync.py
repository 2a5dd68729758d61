"""Benchmark: syncing ~20,000 ShipStation orders from the local sandbox at the (scaled) rate limit.

Not a test. Starts the sandbox with ~20,000 orders over 20 days and ShipStation's fixed window of 40
requests per minute times the scale, then lists every order with the project's client (GET /orders, Pacific
modifyDate window, sortBy=ModifyDate ASC), once with the production page size (500) at ``--scale`` and once
with a small page size at ``--small-page-scale`` (more requests, so the run spans several windows). Reports
the steady-state share of the limit (requests in every rate-limit window but the last, over the limit times
the minutes those windows took, gaps included; scale-independent), 429s received, pauses and whether every
order arrived exactly once. The sandbox answers a page from its modifyDate index (issue 15), so the figure
measures the client, not the sandbox.

    uv run python benchmarks/shipstation_sync.py [--scale 1.0] [--small-page 100] [--small-page-scale 4] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

from _pacing import Recording, fixed_window_share

from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline.sources.shipstation.client import ShipStationClient

RESULTS = Path(__file__).with_name("RESULTS.md")
END_DATE = dt.date(2026, 3, 20)


def sync(server: SandboxServer, page_size: int, scale: float) -> dict:
    env = server.env()
    server.reset()
    server.set_rate_limit_scale(scale)
    start = dt.datetime.combine(END_DATE - dt.timedelta(days=40), dt.time(), dt.UTC)
    end = dt.datetime.combine(END_DATE + dt.timedelta(days=10), dt.time(), dt.UTC)
    recording = Recording()
    examined = server.stats()["examined"]["shipstation"]
    with ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                           base_url=env["SHIPSTATION_BASE_URL"], page_size=page_size, transport=recording) as client:
        began = time.monotonic()
        result = client.list_orders(start, end)
        elapsed = time.monotonic() - began
        meta = client.stats.as_metadata()
    requests = meta["requests"]
    stats = server.stats()
    return {
        "page_size": page_size, "scale": scale, "orders": len(result.records), "pages": result.pages,
        "requests": requests, "seconds": elapsed, **fixed_window_share(recording.exchanges),
        "rate_limited": meta["rate_limited_responses"], "throttle_pauses": meta["throttle_pauses"],
        "throttle_seconds": meta["throttle_wait_seconds"],
        "latency": (elapsed - meta["throttle_wait_seconds"]) / max(requests, 1),
        "complete": result.complete, "server_429": stats["throttled"].get("shipstation", 0),
        "examined_per_page": (stats["examined"]["shipstation"] - examined) / max(requests, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="rate limit = 40/min x scale (page size 500)")
    parser.add_argument("--small-page", type=int, default=100)
    parser.add_argument("--small-page-scale", type=float, default=4.0,
                        help="rate limit for the small-page run (its share is scale-independent)")
    parser.add_argument("--orders-per-day", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    options = SandboxOptions(seed=7, days=20, orders_per_day=args.orders_per_day, end_date=END_DATE,
                             rate_limit_scale=args.scale)
    with SandboxServer(options) as server:
        visible = len([o for o in server.state.data.ss_orders.values() if o.version_at(server.now())])
        runs = [sync(server, 500, args.scale), sync(server, args.small_page, args.small_page_scale)]
    for run in runs:
        print(run, flush=True)
    lines = [
        "",
        "## ShipStation sync",
        "",
        f"`uv run python benchmarks/shipstation_sync.py --scale {args.scale} --small-page {args.small_page} "
        f"--small-page-scale {args.small_page_scale}` on {dt.date.today()}; machine: {os.cpu_count()} cores visible "
        f"({platform.machine()}, Python {platform.python_version()}), shared with other work; local sandbox over "
        f"HTTP with {visible:,} ShipStation orders (20 days x ~{args.orders_per_day}/day plus split children), its "
        "fixed-window limiter at 40 x scale requests per 60 s window; one GET /orders scan of the whole range "
        "(modifyDate window, sortBy=ModifyDate ASC) per row. The client spends each window whole "
        "(X-Rate-Limit-Remaining down to 0), then waits X-Rate-Limit-Reset.",
        "",
        "| page size | limit/min | orders | requests | windows | wall s | s/request (excl. pauses) "
        "| share of limit (steady state) | 429s | pauses (s) | sandbox entries examined/request | all orders once |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        share = f"{run['share']:.1%}" if run["share"] is not None else "n/a (one window)"
        lines.append(
            f"| {run['page_size']} | {run['limit']} | {run['orders']:,} | {run['requests']} | {run['windows']} | "
            f"{run['seconds']:.1f} | {run['latency']:.2f} | {share} | {run['server_429']} | "
            f"{run['throttle_pauses']} ({run['throttle_seconds']:.0f}) | {run['examined_per_page']:.0f} | "
            f"{'yes' if run['complete'] and run['orders'] == visible else 'NO'} |")
    lines += [
        "",
        "Share = requests in every window but the last / (limit x minutes from the first window's start to the "
        "last's): what the client sustains, gaps between windows included. What it misses is the wait past each "
        "window's end (X-Rate-Limit-Reset is whole seconds, rounded up) and the last response's latency. The "
        "sandbox reads the whole window once from its modifyDate index and then serves each page from it "
        "(entries examined per request: the first page's window divided over the run).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with RESULTS.open("a") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
