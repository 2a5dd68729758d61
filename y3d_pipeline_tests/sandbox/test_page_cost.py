"""A list request costs its window and its page, not the whole shop (issue 15: the sync benchmark should
measure the client, not the sandbox). Costs are counted as index entries and orders the sandbox looked at
(its `examined` statistic), never as time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline_tests.sandbox.helpers import PACIFIC, all_orders, amazon, graphql, shipstation, shopify

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
