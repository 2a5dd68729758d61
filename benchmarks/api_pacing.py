"""Benchmark: how much of Shopify's GraphQL cost budget and Amazon's searchOrders usage plan the project's
clients use, and the 429s they get, syncing a large shop from the local sandbox at the real limits.

Not a test. Starts the sandbox with ``--days`` x ``--orders-per-day`` orders (Shopify gets ~15% of them, Amazon
~45%), its limits at the documented values (scale 1.0: Shopify's bucket of 1,000 points restored at 50/s;
searchOrders 0.0056 requests/s after a burst of 20), and fetches every order of the range with each client.
Waits are simulated: when a client sleeps, its clock and the sandbox's advance together instead, so the run
takes seconds of real time while the figures are those of the real limits (both buckets refill from the same
clock, real time included). ShipStation's fixed window is measured in real time by shipstation_sync.py.

* Shopify: share = cost points spent beyond the bucket's initial fill (actualQueryCost summed, less the drop
  in currentlyAvailable from the first to the last answer) / (restoreRate x seconds): how much of the
  restore budget the client turned into queries.
* Amazon: share = searchOrders requests beyond the burst / (rate x seconds).

    uv run python benchmarks/api_pacing.py [--days 20] [--orders-per-day 1000] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

import httpx
from _pacing import Recording

from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline.sources.amazon.client import DEFAULT_PLANS, AmazonClient
from y3d_pipeline.sources.shopify.client import ShopifyClient

RESULTS = Path(__file__).with_name("RESULTS.md")
END_DATE = dt.date(2026, 3, 20)


class SimulatedTime:
    """A client clock that the sandbox's clock follows: sleeping advances both instead of waiting."""

    def __init__(self, server: SandboxServer) -> None:
        self.server, self.slept = server, 0.0

    def clock(self) -> float:
        return time.monotonic() + self.slept

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.server.advance_clock(seconds)


def shopify(server: SandboxServer, start: dt.datetime, end: dt.datetime) -> dict:
    server.reset()
    env, simulated = server.env(), SimulatedTime(server)
    recording = Recording(clock=simulated.clock)
    with ShopifyClient(base_url=env["SHOPIFY_BASE_URL"], access_token=env["SHOPIFY_ACCESS_TOKEN"],
                       transport=recording, sleep=simulated.sleep, monotonic=simulated.clock) as client:
        orders = client.fetch_orders(start, end)
        meta = client.stats.as_metadata()
    ended = simulated.clock()
    spent, throttled, first_available, last_available, restore = 0.0, 0, None, None, None
    for exchange in recording.exchanges:
        body = json.loads(exchange.body)
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if exchange.status == 429 or any((e.get("extensions") or {}).get("code") == "THROTTLED"
                                         for e in body.get("errors") or [] if isinstance(e, dict)):
            throttled += 1
        spent += cost.get("actualQueryCost") or 0
        if "currentlyAvailable" in status:
            available = float(status["currentlyAvailable"])
            if first_available is None:  # the bucket before the first query: what it showed after, plus its cost
                first_available = available + (cost.get("actualQueryCost") or 0)
            last_available, restore = available, float(status["restoreRate"])
    seconds = ended - recording.exchanges[0].sent
    restored = spent - (first_available - last_available)
    return {"api": "Shopify GraphQL (cost points)", "orders": len(orders), "requests": len(recording.exchanges),
            "seconds": seconds, "limit": f"{restore:g} points/s, bucket 1,000", "share": restored / (restore * seconds),
            "throttled": throttled, "server_429": server.stats()["throttled"].get("shopify", 0),
            "waited": meta["throttle_wait_seconds"]}


def amazon(server: SandboxServer, start: dt.datetime) -> dict:
    server.reset()
    env, simulated = server.env(), SimulatedTime(server)
    recording = Recording(clock=simulated.clock)
    with httpx.Client(transport=recording, timeout=30) as http, AmazonClient(
            client_id=env["AMAZON_LWA_CLIENT_ID"], client_secret=env["AMAZON_LWA_CLIENT_SECRET"],
            refresh_token=env["AMAZON_LWA_REFRESH_TOKEN"], token_url=env["AMAZON_LWA_TOKEN_URL"],
            base_url=env["AMAZON_SP_API_BASE_URL"], marketplace_ids=["A1F83G8C2ARO7P"], http=http, now=server.now,
            clock=simulated.clock, sleep=simulated.sleep) as client:
        page = client.fetch_orders(start, server.now() - dt.timedelta(minutes=3))
        meta = client.stats.as_metadata()
    ended = simulated.clock()
    searches = [e for e in recording.exchanges if e.path.endswith("/orders/2026-01-01/orders")]
    rate, burst = DEFAULT_PLANS["searchOrders"]
    seconds = ended - searches[0].sent
    return {"api": "Amazon searchOrders (usage plan)", "orders": len(page.orders), "requests": len(searches),
            "seconds": seconds, "limit": f"{rate:g} requests/s, burst {burst}",
            "share": (len(searches) - burst) / (rate * seconds) if len(searches) > burst else None,
            "throttled": sum(1 for e in searches if e.status == 429),
            "server_429": server.stats()["throttled"].get("amazon", 0), "waited": meta["pacing_wait_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--orders-per-day", type=int, default=1000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    # The clock stands a month after the data (every order settled): waits of hours see the same orders.
    options = SandboxOptions(seed=7, days=args.days, orders_per_day=args.orders_per_day, end_date=END_DATE,
                             rate_limit_scale=1.0, clock_running=False,
                             start_clock=dt.datetime.combine(END_DATE + dt.timedelta(days=30), dt.time(), dt.UTC))
    start = dt.datetime.combine(END_DATE - dt.timedelta(days=args.days + 7), dt.time(), dt.UTC)
    began = time.monotonic()
    with SandboxServer(options) as server:
        runs = [shopify(server, start, server.now()), amazon(server, start)]
    wall = time.monotonic() - began
    for run in runs:
        print(run, flush=True)
    lines = [
        "",
        "## API pacing: Shopify cost budget and Amazon usage plan",
        "",
        f"`uv run python benchmarks/api_pacing.py --days {args.days} --orders-per-day {args.orders_per_day}` on "
        f"{dt.date.today()} ({wall:.0f} s of real time); machine: {os.cpu_count()} cores visible "
        f"({platform.machine()}, Python {platform.python_version()}), shared with other work; local sandbox over "
        "HTTP at the documented limits (scale 1.0), one fetch of every order in the range per client, waits "
        "simulated (client and sandbox clocks advance together), so `limited time` is what the same sync takes "
        "against the real limits.",
        "",
        "| API | limit | orders | requests | limited time | client waits | share of limit | throttled / 429s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        share = f"{run['share']:.1%}" if run["share"] is not None else "n/a (within the burst)"
        lines.append(f"| {run['api']} | {run['limit']} | {run['orders']:,} | {run['requests']} | "
                     f"{run['seconds'] / 60:.1f} min | {run['waited'] / 60:.1f} min | {share} | "
                     f"{run['throttled']} / {run['server_429']} |")
    lines += [
        "",
        "Shopify: share = points spent beyond the bucket's first fill / (restoreRate x time); the client waits "
        "until its estimate of the bucket (last currentlyAvailable + restoreRate x elapsed) covers the query's "
        "requestedQueryCost, so what it leaves is the gap between requested and actual cost while it waits. "
        "Amazon: share = searchOrders requests beyond the burst / (rate x time); the client's token bucket adds a "
        "margin of min(1 s, 0.05/rate) per wait so a token is whole at Amazon when the request arrives.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with RESULTS.open("a") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
