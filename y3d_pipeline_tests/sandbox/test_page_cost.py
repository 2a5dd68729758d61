"""A list request costs its window and its page, not the whole shop (issue 15: the sync benchmark should
measure the client, not the sandbox). Costs are counted as index entries and orders the sandbox looked at
(its `examined` statistic), never as time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from y3d_pipeline.sandbox.clock import parse_pacific
from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline_tests.sandbox.helpers import (
    PACIFIC,
    all_orders,
    amazon,
    graphql,
    shipstation,
    shopify,
)

END = date(2026, 3, 20)
DAY = datetime(2026, 3, 18, tzinfo=UTC)  # a day inside both shops, settled by the clock


def _pacific(instant: datetime) -> str:
    return instant.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def shops():
    small = SandboxServer(SandboxOptions(seed=3, days=5, orders_per_day=60, end_date=END, rate_limit_scale=1000.0))
    large = SandboxServer(SandboxOptions(seed=3, days=40, orders_per_day=60, end_date=END, rate_limit_scale=1000.0))
    with small, large:
        yield small, large


def _examined(server: SandboxServer, api: str) -> int:
    return server.stats()["examined"][api]


def _shipstation_page_costs(server: SandboxServer) -> tuple[int, list[int], int]:
    """(orders in a one-day window, examined per page of 20, ShipStation orders in the shop)."""
    params = {"modifyDateStart": _pacific(DAY), "modifyDateEnd": _pacific(DAY + timedelta(days=1)),
              "sortBy": "ModifyDate", "sortDir": "ASC", "pageSize": 20}
    costs, page, total = [], 1, 0
    with shipstation(server) as client:
        while True:
            before = _examined(server, "shipstation")
            body = client.get("/orders", params={**params, "page": page}).raise_for_status().json()
            costs.append(_examined(server, "shipstation") - before)
            total = body["total"]
            if page >= body["pages"]:
                break
            page += 1
    return total, costs, len(server.state.data.ss_orders)


def test_a_shipstation_page_costs_its_window_not_the_shop(shops):
    small, large = shops
    (small_window, small_costs, small_shop), (large_window, large_costs, large_shop) = (
        _shipstation_page_costs(small), _shipstation_page_costs(large))
    assert large_shop > 6 * small_shop and len(large_costs) > 2
    # The first page reads the window from the index: a few entries per order in it (an order's versions),
    # however many orders the shop holds.
    for window, costs in ((small_window, small_costs), (large_window, large_costs)):
        assert window <= costs[0] <= 4 * window
    assert large_costs[0] < large_shop / 5
    # Later pages of the same query, the clock standing still: nothing more to look at.
    assert large_costs[1:] == [0] * (len(large_costs) - 1)


def test_a_moving_clock_costs_only_what_changed_meanwhile(shops):
    _, large = shops
    large.reset()
    params = {"modifyDateStart": _pacific(DAY - timedelta(days=3)), "sortBy": "ModifyDate", "pageSize": 50}
    with shipstation(large) as client:
        client.get("/orders", params={**params, "page": 1}).raise_for_status()
        large.advance_clock(600)
        before = _examined(large, "shipstation")
        client.get("/orders", params={**params, "page": 2}).raise_for_status()
        cost = _examined(large, "shipstation") - before
    now = large.now()
    changed = sum(1 for o in large.state.data.ss_orders.values()
                  if any(now - timedelta(seconds=600) < v.ss_at <= now for v in o.versions))
    assert cost == changed
    large.reset()


def test_the_kept_window_matches_a_full_scan_as_the_clock_moves(shops):
    """The window brought forward step by step answers what a scan of every order answers."""
    _, large = shops
    large.reset()
    start = DAY - timedelta(days=2)
    with shipstation(large) as client:
        for step in range(4):
            if step:
                large.advance_clock(6 * 3600)
                order_id = next(iter(large.state.data.ss_orders))
                if step == 2:
                    large.mutate_order(order_id, status="on_hold")
            now = large.now()
            served = [o["orderId"] for o in all_orders(client, page_size=200, modifyDateStart=_pacific(start),
                                                        sortBy="ModifyDate")]
            expected = sorted(
                (v.ss_at, o.order_id) for o in large.state.data.ss_orders.values()
                if (v := o.version_at(now)) is not None and v.ss_at >= start)
            assert served == [order_id for _, order_id in expected]
    large.reset()


def test_amazon_and_shopify_windows_cost_the_window(shops):
    small, large = shops
    after, before = DAY, DAY + timedelta(days=1)
    costs = {}
    for server in (small, large):
        with amazon(server) as client:
            start = _examined(server, "amazon")
            response = client.get("/orders/2026-01-01/orders", params={
                "lastUpdatedAfter": after.isoformat().replace("+00:00", "Z"),
                "lastUpdatedBefore": before.isoformat().replace("+00:00", "Z"),
                "marketplaceIds": server.options.amazon_marketplace_id})
            assert response.status_code == 200, response.text
            amazon_cost = _examined(server, "amazon") - start
        with shopify(server) as client:
            start = _examined(server, "shopify")
            response = graphql(client, "query($q: String) { orders(first: 50, query: $q, sortKey: UPDATED_AT) "
                                       "{ nodes { id } } }",
                               q=f"updated_at:>='{after.isoformat()}' updated_at:<'{before.isoformat()}'")
            assert "errors" not in response.json(), response.text
            shopify_cost = _examined(server, "shopify") - start
        costs[server] = (amazon_cost, shopify_cost)
    marketplace_orders = len(large.state.data.by_amazon_id) + len(large.state.data.by_shopify_id)
    assert 0 < sum(costs[large]) < marketplace_orders / 5
    assert all(0 < cost for cost in costs[small])


def _z(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def test_later_pages_of_one_search_cost_nothing_more(shops):
    """Amazon's searchOrders, Shopify's orders search and ShipStation's /shipments: the first page reads the
    window, the following pages of the same search are served from it while the clock stands still."""
    _, large = shops
    large.reset()
    after, before = DAY - timedelta(days=3), DAY + timedelta(days=1)
    costs: dict[str, list[int]] = {"amazon": [], "shopify": [], "shipments": []}
    with amazon(large) as client:
        params = {"lastUpdatedAfter": _z(after), "lastUpdatedBefore": _z(before), "maxResultsPerPage": 20,
                  "marketplaceIds": large.options.amazon_marketplace_id}
        while True:
            start = _examined(large, "amazon")
            body = client.get("/orders/2026-01-01/orders", params=params).raise_for_status().json()
            costs["amazon"].append(_examined(large, "amazon") - start)
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                break
            params["paginationToken"] = token
    with shopify(large) as client:
        cursor = None
        while True:
            start = _examined(large, "shopify")
            body = graphql(client, "query($q: String, $after: String) { orders(first: 20, after: $after, query: $q, "
                                   "sortKey: UPDATED_AT) { nodes { id } pageInfo { hasNextPage endCursor } } }",
                           q=f"updated_at:>='{after.isoformat()}' updated_at:<'{before.isoformat()}'",
                           after=cursor).json()
            costs["shopify"].append(_examined(large, "shopify") - start)
            info = body["data"]["orders"]["pageInfo"]
            if not info["hasNextPage"]:
                break
            cursor = info["endCursor"]
    with shipstation(large) as client:
        page = 1
        while True:
            start = _examined(large, "shipments")
            body = client.get("/shipments", params={"shipDateStart": _pacific(after)[:10], "pageSize": 20,
                                                    "shipDateEnd": _pacific(before)[:10], "page": page}).json()
            costs["shipments"].append(_examined(large, "shipments") - start)
            if page >= body["pages"]:
                break
            page += 1
    for api, pages in costs.items():
        assert len(pages) > 2 and pages[0] > 0, (api, pages)
        assert pages[1:] == [0] * (len(pages) - 1), (api, pages)
    assert costs["shipments"][0] < len(large.state.data.shipments) / 5


def test_the_shipments_window_matches_a_full_scan(shops):
    """/shipments from the creation index answers what a scan of every order's labels answers: shipDate as the
    label's Pacific day, createDate to the second, both bounds inclusive, (created, shipmentId) order."""
    _, large = shops
    large.reset()
    now = large.now()
    queries = [{"shipDateStart": "2026-03-10", "shipDateEnd": "2026-03-12"},
               {"shipDateStart": "2026-03-10"},
               {"shipDateEnd": "2026-02-20"},
               {"createDateStart": "2026-03-11 09:30:00", "createDateEnd": "2026-03-13 17:00:00",
                "shipDateEnd": "2026-03-12"},
               {}]
    with shipstation(large) as client:
        for query in queries:
            served, page = [], 1
            while True:
                body = client.get("/shipments", params={**query, "pageSize": 500, "page": page}).json()
                served += [s["shipmentId"] for s in body["shipments"]]
                if page >= body["pages"]:
                    break
                page += 1
            create_start = parse_pacific(query["createDateStart"]) if "createDateStart" in query else None
            create_end = parse_pacific(query["createDateEnd"]) if "createDateEnd" in query else None
            expected = sorted(
                (s["created_at"], s["shipmentId"]) for o in large.state.data.orders for s in o.shipments
                if s["created_at"] <= now
                and query.get("shipDateStart", "0") <= s["created_at"].astimezone(PACIFIC).strftime("%Y-%m-%d")
                <= query.get("shipDateEnd", "9")
                and (create_start is None or s["created_at"] >= create_start)
                and (create_end is None or s["created_at"] <= create_end))
            assert served == [shipment_id for _, shipment_id in expected], query
            assert expected or query == {"shipDateEnd": "2026-02-20"}
