"""Benchmark: print_queue/print_tasks throughput for one sandbox day, AI latency 300 ms.

Not a test. Starts the local sandbox (its ShipStation, Amazon Custom zips and rule-based OpenAI, with
300 ms simulated model latency), copies one day of its ShipStation orders into a throwaway PostgreSQL
database (as the normalization assets would), parses the day's Amazon Custom zips with the project's
client (as raw/amazon_customizations would), then runs the print-task service twice from empty tables:
at the default AI concurrency and one call at a time. Prints the figures and, with --write, appends
them under "Print tasks" in benchmarks/RESULTS.md.

    uv run python benchmarks/print_tasks.py [--day 2026-03-19] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import openai
import sqlalchemy as sa

from y3d_pipeline.db.engine import make_engine
from y3d_pipeline.db.migrate import upgrade
from y3d_pipeline.db.models import AiCall, AmazonCustomization, Order, OrderItem, PrintTask
from y3d_pipeline.print_queue.ai import PersonalizationExtractor
from y3d_pipeline.print_queue.service import DEFAULT_AI_CONCURRENCY, RunOptions, run_print_tasks
from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline.sources.amazon.custom import CustomizationError, DownloadPolicy, fetch_customization
from y3d_pipeline.sources.shipstation.client import ShipStationClient
from y3d_pipeline_tests.plugins.database import DatabaseFactory, _admin_url

LATENCY_MS = 300
RESULTS = Path(__file__).with_name("RESULTS.md")


TEXT_OPTIONS = {"personalization", "name", "name or text"}


def as_legacy_option(option: dict) -> dict:
    """The text option as the legacy AI write-back left it: one free-text "Personalized Details"."""
    if str(option.get("name", "")).lower() in TEXT_OPTIONS:
        return {"name": "Personalized Details", "value": option["value"]}
    return option


def load_day(engine: sa.Engine, env: dict[str, str], day: dt.date, *, legacy_text: bool = False) -> tuple[int, int]:
    """Copy the day's ShipStation orders (by modify date, UTC) and parse their Amazon Custom zips."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE orders, order_items, amazon_customizations, print_tasks, ai_calls CASCADE"))
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    with ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                           base_url=env["SHIPSTATION_BASE_URL"]) as client:
        payloads = [f.payload for f in client.list_orders(start, start + dt.timedelta(days=1)).records]
    host = env["SHIPSTATION_BASE_URL"].split("/")[2]
    policy = DownloadPolicy.from_settings([host], allow_http=True)
    items = 0
    with engine.begin() as conn:
        for p in payloads:
            order_id = conn.execute(sa.insert(Order.__table__).values(
                marketplace=p["advancedOptions"].get("source"), order_number=p["orderNumber"],
                shipstation_order_id=p["orderId"], status=p["orderStatus"], order_date=start + dt.timedelta(hours=12),
                modified_at=start + dt.timedelta(hours=12), customer_notes=p.get("customerNotes"),
            ).returning(Order.__table__.c.id)).scalar_one()
            for n, item in enumerate(p["items"]):
                if item.get("adjustment"):
                    continue
                items += 1
                item_id = conn.execute(sa.insert(OrderItem.__table__).values(
                    order_id=order_id, shipstation_order_item_id=item["orderItemId"],
                    line_item_key=item["lineItemKey"], sku=item["sku"], name=item["name"],
                    quantity=item["quantity"], position=n,
                    options=[as_legacy_option(o) for o in item["options"]] if legacy_text else item["options"],
                ).returning(OrderItem.__table__.c.id)).scalar_one()
                url = next((o["value"] for o in item["options"] if o["name"] == "CustomizedURL"), None)
                if url and p["orderStatus"] in ("awaiting_shipment", "on_hold"):
                    values = {"amazon_order_id": p["orderNumber"], "amazon_order_item_id": item["lineItemKey"],
                              "order_item_id": item_id, "customized_url": url}
                    try:
                        c = fetch_customization(url, policy, order_item_id=item["lineItemKey"]).customization
                        values |= {"status": "processed", "custom_text": c.custom_text, "color_1": c.color_1,
                                   "color_2": c.color_2, "font": c.font}
                    except CustomizationError as exc:
                        values |= {"status": "failed", "error": str(exc)[:300]}
                    conn.execute(sa.insert(AmazonCustomization.__table__).values(**values))
    return len(payloads), items


def accuracy(engine: sa.Engine, truth: list[dict]) -> dict[str, int]:
    """Items compared with the sandbox's ground truth (text, colours, quantity, as a multiset): correct and
    unflagged, flagged for a person, and silently wrong (unflagged but not what the truth says, or unflagged
    where the truth says only a person can tell)."""
    truth_items = {i["line_item_key"]: i for o in truth for i in o["items"] if i["line_item_key"]}
    got: dict[str, list] = {}
    task_t, item_t = PrintTask.__table__, OrderItem.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(item_t.c.line_item_key, task_t.c.custom_text, task_t.c.color_1,
                                      task_t.c.color_2, task_t.c.quantity, task_t.c.needs_review)
                            .join(task_t, task_t.c.order_item_id == item_t.c.id))
        for key, *task in rows:
            got.setdefault(key, []).append(tuple(task))
    counts = {"items": len(got), "correct_unflagged": 0, "flagged": 0, "silently_wrong": 0}
    for key, found in got.items():
        item = truth_items.get(key) or {"personalisations": [], "needs_person": True}
        expected = sorted((p["text"], p["color_1"], p["color_2"], p["quantity"]) for p in item["personalisations"])
        unflagged = [t[:4] for t in found if not t[4]]
        if not unflagged:
            counts["flagged"] += 1
        elif item.get("needs_person") or any(t not in expected for t in unflagged) or (
                len(unflagged) == len(found) and sorted(unflagged) != expected):
            counts["silently_wrong"] += 1
            if counts["silently_wrong"] <= 5:
                print(f"  silently wrong: item {key}: ours {sorted(found)} truth {expected}")
        elif len(unflagged) == len(found):
            counts["correct_unflagged"] += 1
        else:
            counts["flagged"] += 1
    return counts


def run_once(engine: sa.Engine, env: dict[str, str], day: dt.date, concurrency: int, *, fresh: bool = True) -> dict:
    """One print-task run over the day: from empty tasks (``fresh``), or over what the last run left (a re-run:
    the inputs are unchanged, so it should cost a fraction of the first)."""
    if fresh:
        with engine.begin() as conn:
            conn.execute(sa.delete(PrintTask.__table__))
            conn.execute(sa.delete(AiCall.__table__))
    client = openai.OpenAI(api_key=env["OPENAI_API_KEY"], base_url=env["OPENAI_BASE_URL"], max_retries=0)
    extractor = PersonalizationExtractor(client, "gpt-4.1-mini")
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    began = time.perf_counter()
    report = run_print_tasks(engine, RunOptions(ai_concurrency=concurrency), extractor=extractor,
                             window=(start, start + dt.timedelta(days=1)))
    seconds = time.perf_counter() - began
    items = sum(report.items_by_source.values())
    return {"concurrency": concurrency, "seconds": seconds, "items": items, "items_per_s": items / seconds,
            "ai_calls": report.ai_calls, "by_source": dict(report.items_by_source),
            "deferred": report.items_deferred, "orders": report.orders_with_work,
            "flagged": report.items_flagged_for_review, "reasons": dict(report.review_reasons),
            "outcome": report.outcome}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 19))
    parser.add_argument("--write", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()

    options = SandboxOptions(seed=7, days=21, end_date=dt.date(2026, 3, 20), rate_limit_scale=1000.0,
                             openai_latency_ms=LATENCY_MS)  # default orders_per_day (150)
    factory = DatabaseFactory(_admin_url())
    try:
        url = factory.create("y3d_bench")
        upgrade(url)
        engine = make_engine(url)
        with SandboxServer(options, host="127.0.0.1", port=0) as sandbox:
            env = sandbox.env()
            orders, items = load_day(engine, env, args.day)
            print(f"day {args.day}: {orders} ShipStation orders, {items} items loaded")
            mix = run_once(engine, env, args.day, DEFAULT_AI_CONCURRENCY)
            judged = accuracy(engine, sandbox.truth())
            rerun = run_once(engine, env, args.day, DEFAULT_AI_CONCURRENCY, fresh=False)
            load_day(engine, env, args.day, legacy_text=True)
            runs = [run_once(engine, env, args.day, DEFAULT_AI_CONCURRENCY), run_once(engine, env, args.day, 1)]
        engine.dispose()
    finally:
        factory.drop_all()

    without_ai = mix["items"] - mix["by_source"].get("ai", 0)
    share = without_ai / mix["items"] if mix["items"] else 0.0
    print(f"sandbox mix: {mix['items']} items in {mix['seconds']:.2f} s, by source {mix['by_source']}, "
          f"{mix['ai_calls']} AI calls; resolved without AI {without_ai}/{mix['items']} = {share:.0%}; "
          f"against the ground truth: {judged}")
    rerun_share = rerun["seconds"] / mix["seconds"]
    print(f"re-run over unchanged inputs: {rerun['seconds']:.2f} s = {rerun_share:.0%} of the first run "
          f"({rerun['ai_calls']} AI calls); load average {os.getloadavg()}")
    for r in runs:
        print(f"concurrency {r['concurrency']}: {r['items']} items in {r['seconds']:.2f} s = "
              f"{r['items_per_s']:.1f} items/s, {r['ai_calls']} AI calls, by source {r['by_source']}, "
              f"deferred {r['deferred']}, flagged {r['flagged']}, outcome {r['outcome']}")
    first = runs[0]

    if args.write:
        machine = f"{os.cpu_count()} cores visible ({platform.machine()}, Python {platform.python_version()})"
        lines = [
            "", "## Print tasks", "",
            f"`uv run python benchmarks/print_tasks.py --day {args.day} --write` on {dt.date.today()}; "
            f"machine: 2 cores shared with other work ({machine}); sandbox OpenAI latency {LATENCY_MS} ms; "
            f"{orders} ShipStation orders / {items} items modified that day ({mix['items']} items of "
            f"{mix['orders']} awaiting/on-hold orders to print), embedded PostgreSQL.", "",
            f"* Sandbox mix as-is: resolved without AI {without_ai}/{mix['items']} = {share:.0%} "
            f"(by source {mix['by_source']}), {mix['ai_calls']} AI calls, {mix['seconds']:.2f} s "
            f"({mix['items_per_s']:.0f} items/s); against the sandbox ground truth ({judged['items']} items): "
            f"{judged['correct_unflagged']} correct and unflagged, {judged['flagged']} flagged for a person, "
            f"{judged['silently_wrong']} silently wrong; review reasons {mix['reasons']}.",
            f"* Re-run over the same day, inputs unchanged: {rerun['seconds']:.2f} s = {rerun_share:.0%} of the "
            f"first run, {rerun['ai_calls']} AI calls.",
            "* AI throughput: the same day with every text option rewritten as the legacy free-text "
            "\"Personalized Details\" option, so Etsy/Shopify items need the model (Amazon Custom and eBay "
            "note blocks still resolve without it):", "",
            "| AI concurrency | items | AI calls | wall s | items/s |", "|---|---|---|---|---|",
            *[f"| {r['concurrency']} | {r['items']} | {r['ai_calls']} | {r['seconds']:.2f} | {r['items_per_s']:.1f} |"
              for r in runs],
            "", f"Items by source at default concurrency: {first['by_source']}. A second run over the same day "
            "makes 0 AI calls (tested; input hashes unchanged).", "",
        ]
        existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
        RESULTS.write_text(existing.rstrip("\n") + "\n" + "\n".join(lines))
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
