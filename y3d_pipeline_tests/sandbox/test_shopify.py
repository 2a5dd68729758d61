"""Contract tests: Shopify Admin GraphQL orders/products, cursors, search filters and query cost."""

from __future__ import annotations

import httpx

from y3d_pipeline_tests.sandbox.helpers import SHOPIFY_VERSION, all_orders, graphql, shipstation, shopify

ORDERS = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId name createdAt updatedAt cancelledAt displayFinancialStatus
            displayFulfillmentStatus email }
  }
}
"""


def _all_orders(client: httpx.Client, page_size: int = 50, query: str | None = None) -> list[dict]:
    nodes, cursor = [], None
    while True:
        body = graphql(client, ORDERS, first=page_size, after=cursor, query=query).json()
        assert "errors" not in body, body
        page = body["data"]["orders"]
        nodes.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        cursor = page["pageInfo"]["endCursor"]


def test_access_token_is_required(sandbox):
    url = f"{sandbox.env()['SHOPIFY_BASE_URL']}/admin/api/{SHOPIFY_VERSION}/graphql.json"
    response = httpx.post(url, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": "nope"})
    assert response.status_code == 401


def test_cursor_paging_sees_every_web_order_once(sandbox):
    with shopify(sandbox) as client:
        nodes = _all_orders(client, page_size=13)
    names = [n["name"] for n in nodes]
    web = {f"#{o['order_number']}" for o in sandbox.truth(marketplace="web", visible_only=True)}
    assert len(names) == len(set(names)) and set(names) == web
    updated = [n["updatedAt"] for n in nodes]
    assert updated == sorted(updated)


def test_updated_at_search_filter(sandbox):
    start, end = "2026-03-08T00:00:00Z", "2026-03-12T00:00:00Z"
    with shopify(sandbox) as client:
        everything = _all_orders(client, page_size=100)
        window = _all_orders(client, page_size=100, query=f"updated_at:>='{start}' updated_at:<'{end}'")
    expected = {n["id"] for n in everything if start <= n["updatedAt"] < end}
    assert expected and {n["id"] for n in window} == expected


def test_query_cost_and_throttle_status(sandbox):
    with shopify(sandbox) as client:
        body = graphql(client, ORDERS, first=10).json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * 1
    assert cost["actualQueryCost"] <= cost["requestedQueryCost"]
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 1000 and status["restoreRate"] == 50 * 1000.0
    assert 0 <= status["currentlyAvailable"] <= 1000


def test_query_over_max_cost_is_refused(sandbox):
    query = "{ orders(first: 250) { nodes { id lineItems(first: 100) { nodes { id } } } } }"
    with shopify(sandbox) as client:
        body = graphql(client, query).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_throttled_when_the_bucket_is_empty(fresh_sandbox):
    fresh_sandbox.set_rate_limit_scale(0.001)  # restores 0.05 points/s
    query = "{ orders(first: 30) { nodes { id lineItems(first: 9) { nodes { id sku } } } } }"  # 2 + 30 * 12
    with shopify(fresh_sandbox) as client:
        bodies = []
        while len(bodies) < 20 and "errors" not in (bodies[-1].json() if bodies else {}):
            bodies.append(graphql(client, query))
        fresh_sandbox.set_faults("shopify", "429")
        as_429 = graphql(client, "{ shop { name } }")
    requested = bodies[0].json()["extensions"]["cost"]["requestedQueryCost"]
    assert requested == 362
    # the unused part of the requested cost is refunded, so the bucket lasts several queries
    assert bodies[0].json()["extensions"]["cost"]["actualQueryCost"] < requested
    throttled = [b for b in bodies if "errors" in b.json()]
    assert throttled and all(b.status_code == 200 for b in throttled)
    error = throttled[0].json()
    assert error["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert error["extensions"]["cost"]["actualQueryCost"] is None
    assert error["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < requested
    assert as_429.status_code == 429 and as_429.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


LINE_ITEMS = """
query Items($id: ID!, $after: String) {
  order(id: $id) { name lineItems(first: 40, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id sku name quantity variant { id legacyResourceId product { id } }
                          customAttributes { key value } originalUnitPriceSet { shopMoney { amount currencyCode } } } }
  } }
}
"""


def test_line_item_paging_on_a_large_order(sandbox):
    bulk = next(o for o in sandbox.truth(marketplace="web") if len(o["items"]) > 100)
    items, cursor = [], None
    with shopify(sandbox) as client:
        while True:
            body = graphql(client, LINE_ITEMS, id=f"gid://shopify/Order/{bulk['shopify_order_id']}", after=cursor).json()
            connection = body["data"]["order"]["lineItems"]
            items.extend(e["node"] for e in connection["edges"])
            if not connection["pageInfo"]["hasNextPage"]:
                break
            cursor = connection["pageInfo"]["endCursor"]
    assert len(items) == len(bulk["items"]) == len({i["id"] for i in items})
    assert {i["id"].rsplit("/", 1)[1] for i in items} == {i["line_item_key"] for i in bulk["items"]}


def test_web_orders_match_shipstation(sandbox):
    query = """query($q: String) { orders(first: 5, query: $q) { nodes { name legacyResourceId
               lineItems(first: 5) { nodes { id sku quantity customAttributes { key value } } } } } }"""
    with shipstation(sandbox) as ss, shopify(sandbox) as client:
        stores = {s["marketplaceName"]: s["storeId"] for s in ss.get("/stores").json()}
        web = [o for o in all_orders(ss, storeId=stores["Shopify"], orderDateStart="2026-03-18 00:00:00")
               if len(o["items"]) <= 5 and not o["advancedOptions"]["mergedOrSplit"]][:5]
        assert web
        for order in web:
            body = graphql(client, query, q=f"name:#{order['orderNumber']}").json()
            (node,) = body["data"]["orders"]["nodes"]
            assert node["name"] == f"#{order['orderNumber']}"
            by_key = {n["id"].rsplit("/", 1)[1]: n for n in node["lineItems"]["nodes"]}
            for item in order["items"]:
                line = by_key[item["lineItemKey"]]
                assert line["quantity"] == item["quantity"] and line["sku"] == item["sku"]
                assert {(a["key"], a["value"]) for a in line["customAttributes"]} == \
                    {(o["name"], o["value"]) for o in item["options"]}


def test_products_with_variants(sandbox):
    query = """{ products(first: 3, query: "updated_at:>='2025-01-01T00:00:00Z'") {
                  pageInfo { hasNextPage endCursor }
                  nodes { id legacyResourceId title updatedAt variants(first: 10) { nodes { id sku price } } } } }"""
    with shopify(sandbox) as client:
        body = graphql(client, query).json()
    products = body["data"]["products"]
    assert products["pageInfo"]["hasNextPage"] and len(products["nodes"]) == 3
    assert all(p["variants"]["nodes"] and p["id"].startswith("gid://shopify/Product/") for p in products["nodes"])


def test_graphql_errors_are_graphql_shaped(sandbox):
    with shopify(sandbox) as client:
        unknown_field = graphql(client, "{ orders(first: 1) { nodes { nope } } }").json()
        no_first = graphql(client, "{ orders { nodes { id } } }").json()
    assert unknown_field["errors"][0]["message"]
    assert "first or last" in no_first["errors"][0]["message"]


def test_api_version_falls_forward_and_read_all_orders_scope(fresh_sandbox):
    with shopify(fresh_sandbox) as client:
        old = client.post("/admin/api/2023-10/graphql.json", json={"query": "{ shop { name } }"})
        bad = client.post("/admin/api/2025-05/graphql.json", json={"query": "{ shop { name } }"})
        everything = _all_orders(client, page_size=100)
        fresh_sandbox.config(shopify_read_all_orders=False)
        fresh_sandbox.advance_clock(45 * 86400)
        recent = _all_orders(client, page_size=100)
    assert old.status_code == 200 and old.headers["X-Shopify-API-Version"] == "2025-04"
    assert bad.status_code == 404
    assert 0 < len(recent) < len(everything)
    assert min(n["createdAt"] for n in recent) >= "2026-03-06"


def test_page_shift_fault_makes_updated_orders_reappear(fresh_sandbox):
    fresh_sandbox.set_faults("shopify", "page_shift", count=1)
    with shopify(fresh_sandbox) as client:
        nodes = _all_orders(client, page_size=20)
    names = [n["name"] for n in nodes]
    assert len(names) == len(set(names)) + 20


def test_edges_and_nodes_cost_the_same(sandbox):
    with shopify(sandbox) as client:
        nodes = graphql(client, "{ orders(first: 5) { nodes { id lineItems(first: 3) { nodes { id } } } } }").json()
        edges = graphql(client, "{ orders(first: 5) { edges { cursor node { id "
                                "lineItems(first: 3) { edges { node { id } } } } } } }").json()
    assert nodes["extensions"]["cost"]["requestedQueryCost"] == edges["extensions"]["cost"]["requestedQueryCost"] \
        == 2 + 5 * (1 + 2 + 3)
    assert nodes["extensions"]["cost"]["actualQueryCost"] == edges["extensions"]["cost"]["actualQueryCost"]
