"""``y3d amazon refetch AMAZON_ORDER_ID...``: fetch single orders again with SP-API ``getOrder`` (v2026-01-01).

For the order a search window did not bring (Amazon's search index lags, or the order changed after its day ran)
or one Amazon support has just corrected: the order is stored in ``raw_amazon_orders`` like any fetched order
(never replacing a newer stored version), and the command names the day whose partition to re-run
(``y3d backfill``) so normalization, reconciliation and print tasks follow it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re

AMAZON_ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("amazon", help="Amazon SP-API: fetch single orders again",
                                   description="Amazon SP-API commands.")
    commands = parser.add_subparsers(dest="amazon_command", required=True)
    refetch = commands.add_parser("refetch", help="fetch orders by Amazon order id (getOrder) into raw_amazon_orders",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    refetch.add_argument("order_ids", nargs="+", metavar="AMAZON_ORDER_ID", help="e.g. 114-1234567-1234567")
    refetch.add_argument("--json", action="store_true", help="one JSON document with the outcome per order")
    refetch.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import dagster as dg

    from y3d_pipeline.defs.sources.amazon.resources import amazon_resource_from_env

    wanted = list(dict.fromkeys(o.strip() for o in args.order_ids))
    malformed = [o for o in wanted if not AMAZON_ORDER_ID.match(o)]
    if malformed:
        print(f"not Amazon order ids (expected 123-1234567-1234567): {', '.join(malformed)}")
        return 2
    # Outside a run nothing resolves the resource's EnvVar credentials: build_resources does, as a run would.
    with dg.build_resources({"amazon": amazon_resource_from_env()}) as resources:
        return _refetch(resources.amazon, wanted, as_json=args.json)


def _refetch(amazon, wanted: list[str], *, as_json: bool) -> int:
    from y3d_pipeline.db.engine import make_engine, resolve_app_database_url
    from y3d_pipeline.defs.partitions import SHOP_TIMEZONE
    from y3d_pipeline.sources.amazon import store
    from y3d_pipeline.sources.amazon.records import API_2026, OrdersPage
    from y3d_pipeline.sources.http import ApiError

    if not amazon.configured:
        print(amazon.NOT_CONFIGURED_NOTE)
        return 2
    if amazon.orders_api_version != API_2026:
        print("getOrder needs AMAZON_ORDERS_API_VERSION=2026-01-01 (v0 has no single-order read with items)")
        return 2
    outcomes: list[dict] = []
    page = OrdersPage()
    with amazon.client() as client:
        for order_id in wanted:
            try:
                order = client.get_order(order_id)
            except ApiError as exc:  # errors name the request, never a secret (sources/http.py)
                outcomes.append({"amazon_order_id": order_id, "outcome": "error", "error": str(exc)})
                continue
            if order is None:
                outcomes.append({"amazon_order_id": order_id, "outcome": "not found at Amazon"})
                continue
            page.orders.append(order)
            day = order.last_update_date.astimezone(SHOP_TIMEZONE).date().isoformat()
            outcomes.append({"amazon_order_id": order_id, "outcome": "fetched", "order_status": order.order_status,
                             "last_updated": order.last_update_date.isoformat(), "partition": day})
    if page.orders:
        engine = make_engine(resolve_app_database_url())
        try:
            with engine.begin() as conn:
                counts = store.store_orders(conn, page, fetched_at=dt.datetime.now(dt.UTC), partition_key=None)
        finally:
            engine.dispose()
        for outcome in outcomes:
            if outcome["outcome"] == "fetched" and outcome["amazon_order_id"] in counts.quarantined_ids:
                outcome["outcome"] = "quarantined (see normalization_failures)"
    if as_json:
        print(json.dumps(outcomes, indent=2))
    else:
        for o in outcomes:
            extra = (f" status {o['order_status']}, last updated {o['last_updated']}: re-run partition {o['partition']}"
                     if o["outcome"] == "fetched" else f": {o['error']}" if "error" in o else "")
            print(f"{o['amazon_order_id']}  {o['outcome']}{extra}")
    return 0 if all(o["outcome"] == "fetched" for o in outcomes) else 1
