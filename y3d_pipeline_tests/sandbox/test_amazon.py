"""Contract tests: LWA, SP-API Orders v2026-01-01 and v0, and the Amazon Custom zips."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import httpx

from y3d_pipeline_tests.sandbox.helpers import all_orders, amazon, amazon_token, shipstation

MARKETPLACE = "A1F83G8C2ARO7P"


def _iso(instant) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _all_amazon_orders(client: httpx.Client, **params) -> list[dict]:
    body = client.get("/orders/v0/orders", params={"MarketplaceIds": MARKETPLACE, **params})
    payload = body.raise_for_status().json()["payload"]
    orders = list(payload["Orders"])
    while payload.get("NextToken"):
        # httpx URL-encodes the token ("+", "/", "=") the way a correct client must
        payload = client.get("/orders/v0/orders", params={
            "MarketplaceIds": MARKETPLACE, "NextToken": payload["NextToken"]}).raise_for_status().json()["payload"]
        orders.extend(payload["Orders"])
    return orders


def test_lwa_token_exchange(sandbox):
    env = sandbox.env()
    form = {"grant_type": "refresh_token", "refresh_token": env["AMAZON_LWA_REFRESH_TOKEN"],
            "client_id": env["AMAZON_LWA_CLIENT_ID"], "client_secret": env["AMAZON_LWA_CLIENT_SECRET"]}
    good = httpx.post(env["AMAZON_LWA_TOKEN_URL"], data=form).json()
    assert good["token_type"] == "bearer" and good["expires_in"] == 3600 and good["access_token"]
    assert httpx.post(env["AMAZON_LWA_TOKEN_URL"], data=dict(form, client_secret="x")).status_code == 401
    bad_grant = httpx.post(env["AMAZON_LWA_TOKEN_URL"], data=dict(form, refresh_token="x"))
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "invalid_grant"


def test_missing_or_bad_access_token_is_403(sandbox):
    base = sandbox.env()["AMAZON_SP_API_BASE_URL"]
    response = httpx.get(base + "/orders/v0/orders", params={"MarketplaceIds": MARKETPLACE})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "Unauthorized"


def test_two_minute_rule(sandbox):
    now = sandbox.now()
    with amazon(sandbox) as client:
        too_recent = client.get("/orders/v0/orders", params={
            "MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": _iso(now - timedelta(days=1)),
            "LastUpdatedBefore": _iso(now - timedelta(seconds=60))})
        fine = client.get("/orders/v0/orders", params={
            "MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": _iso(now - timedelta(days=1)),
            "LastUpdatedBefore": _iso(now - timedelta(minutes=3))})
        missing_marketplace = client.get("/orders/v0/orders", params={"LastUpdatedAfter": _iso(now - timedelta(days=1))})
    assert too_recent.status_code == 400
    assert too_recent.json()["errors"][0]["code"] == "InvalidInput"
    assert fine.status_code == 200
    assert fine.json()["payload"]["LastUpdatedBefore"] == _iso(now - timedelta(minutes=3))
    assert missing_marketplace.status_code == 400


def test_next_token_paging_inclusive_and_url_encoded(sandbox):
    after = "2026-03-01T00:00:00Z"
    with amazon(sandbox) as client:
        big_pages = _all_amazon_orders(client, LastUpdatedAfter=after, MaxResultsPerPage=100)
        small_pages = _all_amazon_orders(client, LastUpdatedAfter=after, MaxResultsPerPage=7)
        first = client.get("/orders/v0/orders", params={"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": after,
                                                        "MaxResultsPerPage": 7}).json()["payload"]
        token = first["NextToken"]
        raw_url = f"{sandbox.env()['AMAZON_SP_API_BASE_URL']}/orders/v0/orders?MarketplaceIds={MARKETPLACE}" \
                  f"&NextToken={token}"
        unencoded = client.get(httpx.URL(raw_url))
        boundary = big_pages[0]["LastUpdateDate"]
        inclusive = _all_amazon_orders(client, LastUpdatedAfter=boundary, LastUpdatedBefore=boundary)
    ids = [o["AmazonOrderId"] for o in small_pages]
    assert len(ids) == len(set(ids)) == len(big_pages) > 100
    assert set(ids) == {o["AmazonOrderId"] for o in big_pages}
    assert all(o["LastUpdateDate"] >= after for o in big_pages)
    assert "+" in token and "/" in token and token.endswith("=")
    assert unencoded.status_code == 400 and unencoded.json()["errors"][0]["code"] == "InvalidInput"
    assert boundary in {o["LastUpdateDate"] for o in inclusive}


def test_token_expiry_then_refresh(fresh_sandbox):
    fresh_sandbox.set_amazon_token_expiry(60)
    token = amazon_token(fresh_sandbox)
    params = {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": "2026-03-19T00:00:00Z"}
    with amazon(fresh_sandbox, token) as client:
        assert client.get("/orders/v0/orders", params=params).status_code == 200
        fresh_sandbox.advance_clock(61)
        expired = client.get("/orders/v0/orders", params=params)
    assert expired.status_code == 403
    assert "expired" in expired.json()["errors"][0]["details"]
    with amazon(fresh_sandbox) as client:
        assert client.get("/orders/v0/orders", params=params).status_code == 200


def test_get_orders_quota_exceeded(fresh_sandbox):
    fresh_sandbox.set_rate_limit_scale(1.0)
    params = {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": "2026-03-19T00:00:00Z"}
    with amazon(fresh_sandbox) as client:
        statuses = [client.get("/orders/v0/orders", params=params) for _ in range(21)]
        items_ok = client.get(f"/orders/v0/orders/{statuses[0].json()['payload']['Orders'][0]['AmazonOrderId']}"
                              "/orderItems")
    assert [r.status_code for r in statuses[:20]] == [200] * 20
    assert statuses[20].status_code == 429
    assert statuses[20].json()["errors"][0]["code"] == "QuotaExceeded"
    assert statuses[20].headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert items_ok.status_code == 200  # separate bucket per operation
    assert items_ok.headers["x-amzn-RateLimit-Limit"] == "0.5"


def test_order_items_match_shipstation(sandbox):
    """v2026 items (orderItemId == lineItemKey) carry the same Amazon Custom URL as ShipStation's item option;
    v0 items carry none (restricted data without an RDT)."""
    with shipstation(sandbox) as ss, amazon(sandbox) as sp:
        stores = {s["marketplaceName"]: s["storeId"] for s in ss.get("/stores").json()}
        ss_orders = all_orders(ss, storeId=stores["Amazon"], orderDateStart="2026-03-15 00:00:00")
        checked = 0
        for ss_order in ss_orders[:15]:
            if ss_order["advancedOptions"]["parentId"]:
                continue
            order = sp.get(f"/orders/2026-01-01/orders/{ss_order['orderNumber']}").json()["order"]
            v0_items = sp.get(f"/orders/v0/orders/{ss_order['orderNumber']}/orderItems").json()["payload"]
            assert order["orderId"] == v0_items["AmazonOrderId"] == ss_order["orderNumber"]
            assert not any("BuyerInfo" in i for i in v0_items["OrderItems"])
            sp_items = {i["orderItemId"]: i for i in order["orderItems"]}
            for item in ss_order["items"]:
                sp_item = sp_items[item["lineItemKey"]]
                assert sp_item["quantityOrdered"] == item["quantity"]
                url = next(o["value"] for o in item["options"] if o["name"] == "CustomizedURL")
                assert sp_item["product"]["customization"]["customizedUrl"] == url
                checked += 1
    assert checked >= 10


def _search(client: httpx.Client, **params) -> list[dict]:
    body = client.get("/orders/2026-01-01/orders", params=params).raise_for_status().json()
    orders = list(body["orders"])
    while body.get("pagination"):
        body = client.get("/orders/2026-01-01/orders", params={**params, "paginationToken": body["pagination"][
            "nextToken"]}).raise_for_status().json()
        orders.extend(body["orders"])
    return orders


def test_search_orders_paging_datasets_and_rules(fresh_sandbox):
    now = fresh_sandbox.now()
    after = "2026-03-01T00:00:00Z"
    with amazon(fresh_sandbox) as client:
        small = _search(client, lastUpdatedAfter=after, maxResultsPerPage=7, marketplaceIds=MARKETPLACE)
        big = _search(client, lastUpdatedAfter=after, includedData="BUYER,RECIPIENT,FULFILLMENT")
        first = client.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": after, "maxResultsPerPage": 7})
        token = first.json()["pagination"]["nextToken"]
        # maxResultsPerPage and includedData may change with a token; nothing else may
        allowed = client.get("/orders/2026-01-01/orders", params={
            "lastUpdatedAfter": after, "maxResultsPerPage": 50, "includedData": "BUYER", "paginationToken": token})
        changed = client.get("/orders/2026-01-01/orders", params={
            "lastUpdatedAfter": after, "fulfillmentStatuses": "SHIPPED", "paginationToken": token})
        bad = {name: client.get("/orders/2026-01-01/orders", params=params) for name, params in {
            "no after": {"marketplaceIds": MARKETPLACE},
            "both afters": {"lastUpdatedAfter": after, "createdAfter": after},
            "mixed families": {"lastUpdatedAfter": after, "createdBefore": "2026-03-02T00:00:00Z"},
            "too recent": {"lastUpdatedAfter": after, "lastUpdatedBefore": _iso(now - timedelta(seconds=60))},
            "unknown dataset": {"lastUpdatedAfter": after, "includedData": "BUYER,EVERYTHING"},
            "v0 parameter": {"LastUpdatedAfter": after, "MarketplaceIds": MARKETPLACE},
            "repeated array": [("lastUpdatedAfter", after), ("includedData", "BUYER"), ("includedData", "TAX")],
            "page size": {"lastUpdatedAfter": after, "maxResultsPerPage": 101},
        }.items()}
    fresh_sandbox.advance_clock(24 * 3600 + 1)
    with amazon(fresh_sandbox) as client:  # a new access token: the first one lived an hour
        expired = client.get("/orders/2026-01-01/orders", params={
            "lastUpdatedAfter": after, "maxResultsPerPage": 7, "paginationToken": token})
    assert [o["orderId"] for o in small] == [o["orderId"] for o in big] and len(big) > 100
    assert len({o["orderId"] for o in small}) == len(small)
    assert all(o["lastUpdatedTime"] >= after for o in big)
    assert first.json()["lastUpdatedBefore"] == _iso(now - timedelta(minutes=2))
    assert all("buyer" not in o and "fulfillment" not in o and "proceeds" not in o for o in small)
    assert all("buyer" in o and "recipient" in o and "fulfillment" in o and "proceeds" not in o for o in big)
    assert all(i["product"]["title"] for o in small for i in o["orderItems"])  # items always come
    assert allowed.status_code == 200 and len(allowed.json()["orders"]) == 50
    assert changed.status_code == 400 and "same values" in changed.json()["errors"][0]["message"]
    for name, response in bad.items():
        assert response.status_code == 400, name
        assert response.json()["errors"][0]["code"] == "InvalidInput", name
    assert expired.status_code == 400 and "expired" in expired.json()["errors"][0]["message"]


def test_search_orders_quota_is_its_own(fresh_sandbox):
    fresh_sandbox.set_rate_limit_scale(1.0)
    params = {"lastUpdatedAfter": "2026-03-19T00:00:00Z"}
    with amazon(fresh_sandbox) as client:
        responses = [client.get("/orders/2026-01-01/orders", params=params) for _ in range(21)]
        order_id = responses[0].json()["orders"][0]["orderId"]
        single = client.get(f"/orders/2026-01-01/orders/{order_id}", params={"includedData": "FULFILLMENT"})
        missing = client.get("/orders/2026-01-01/orders/206-0000000-0000000")
    assert [r.status_code for r in responses[:20]] == [200] * 20
    assert responses[20].status_code == 429 and responses[20].json()["errors"][0]["code"] == "QuotaExceeded"
    assert responses[20].headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert single.status_code == 200 and single.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert single.json()["order"]["fulfillment"]["fulfillmentStatus"] in {"PENDING", "UNSHIPPED", "SHIPPED",
                                                                          "CANCELLED"}
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NotFound"


def test_duplicate_page_fault_repeats_orders(fresh_sandbox):
    fresh_sandbox.set_faults("amazon", "duplicate_page", count=None)
    with amazon(fresh_sandbox) as client:
        orders = _all_amazon_orders(client, LastUpdatedAfter="2026-03-10T00:00:00Z", MaxResultsPerPage=20)
    ids = [o["AmazonOrderId"] for o in orders]
    assert len(ids) > len(set(ids))


def _zip_json(url: str) -> tuple[dict, list[str], zipfile.ZipFile]:
    response = httpx.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = archive.namelist()
    document = json.loads(archive.read(next(n for n in names if n.endswith(".json"))))
    return document, names, archive


def _tree_values(node: dict, found: dict) -> dict:
    kind = node.get("type")
    if kind == "TextCustomization":
        found["text"] = node["inputValue"]
    elif kind == "FontCustomization":
        found["font"] = node["fontSelection"]["family"]
    elif kind == "OptionCustomization":
        found[node["label"]] = node["optionSelection"]["name"]
    for child in node.get("children", []):
        _tree_values(child, found)
    return found


def test_customization_zip_layouts(sandbox):
    truth = [o for o in sandbox.truth(marketplace="amazon")]
    by_layout: dict[str, tuple[dict, dict]] = {}
    for order in truth:
        for item in order["items"]:
            if item["amazon_custom_layout"]:
                by_layout.setdefault(item["amazon_custom_layout"], (order, item))
    assert set(by_layout) == {"tree+flat_top", "tree+flat_nested", "tree_only", "flat_top_only",
                              "flat_nested_only", "tree+flat_svg"}
    with_images = 0
    for layout, (order, item) in by_layout.items():
        url = f"{sandbox.base_url}/amazon-custom/{order['order_number']}_{item['line_item_key']}.zip"
        document, names, archive = _zip_json(url)
        expected_text = item["personalisations"][0]["text"]
        assert f"{item['line_item_key']}.json" in names
        assert document["orderId"] == order["order_number"] and document["orderItemId"] == item["line_item_key"]
        has_tree = "customizationData" in document
        top = document.get("version3.0", {}).get("customizationInfo", {}).get("surfaces")
        nested = document.get("customizationInfo", {}).get("version3.0", {}).get("surfaces")
        assert has_tree == layout.startswith("tree")
        assert bool(top) == (layout in ("tree+flat_top", "flat_top_only", "tree+flat_svg"))
        assert bool(nested) == (layout in ("tree+flat_nested", "flat_nested_only"))
        if has_tree:
            values = _tree_values(document["customizationData"], {})
            assert values["text"] == expected_text and values["font"] and values["Colour 1"]
        surfaces = top or nested
        if surfaces:
            areas = surfaces[0]["areas"]
            texts = [a["text"] for a in areas if a["customizationType"] == "TextPrinting"]
            options = {a["label"]: a["optionValue"] for a in areas if a["customizationType"] == "Options"}
            assert "Colour 1" in options
            if layout == "tree+flat_svg":
                assert not texts and any(a["customizationType"] == "ImagePrinting" for a in areas)
            else:
                assert texts == [expected_text]
        for name in names:
            if name.endswith(".png"):
                with_images += 1
                assert archive.read(name).startswith(b"\x89PNG\r\n\x1a\n")
    assert with_images >= 1
    assert httpx.get(f"{sandbox.base_url}/amazon-custom/nope_1.zip").status_code == 404


def test_pending_orders_have_no_prices_and_are_not_in_shipstation_yet(fresh_sandbox):
    from datetime import datetime

    token = amazon_token(fresh_sandbox)
    with amazon(fresh_sandbox, token) as sp, shipstation(fresh_sandbox) as ss:
        for order in fresh_sandbox.truth(marketplace="amazon")[:80]:
            fresh_sandbox.set_clock(datetime.fromisoformat(order["ordered_at"]) + timedelta(seconds=90))
            found = sp.get(f"/orders/v0/orders/{order['order_number']}").json()["payload"]
            if found["OrderStatus"] == "Pending":
                break
        else:
            raise AssertionError("no pending Amazon order")
        items = sp.get(f"/orders/v0/orders/{order['order_number']}/orderItems").json()["payload"]["OrderItems"]
        v2026 = sp.get(f"/orders/2026-01-01/orders/{order['order_number']}",
                       params={"includedData": "PROCEEDS,FULFILLMENT"}).json()["order"]
        in_shipstation = ss.get("/orders", params={"orderNumber": order["order_number"]}).json()["total"]
    assert "OrderTotal" not in found and all("ItemPrice" not in i for i in items)
    assert v2026["fulfillment"]["fulfillmentStatus"] == "PENDING" and "proceeds" not in v2026
    assert all("price" not in i["product"] for i in v2026["orderItems"])
    assert in_shipstation == 0


def test_marketplace_mutation_shows_up_as_an_update(fresh_sandbox):
    order = next(o for o in fresh_sandbox.truth(marketplace="amazon") if len(o["shipstation_order_ids"]) == 1)
    changed_at = fresh_sandbox.now()
    fresh_sandbox.mutate_order(order["shipstation_order_ids"][0], status="cancelled", marketplace=True)
    fresh_sandbox.advance_clock(180)
    with amazon(fresh_sandbox) as client:
        updated = _all_amazon_orders(client, LastUpdatedAfter=_iso(changed_at))
    with shipstation(fresh_sandbox) as ss:
        ss_order = ss.get(f"/orders/{order['shipstation_order_ids'][0]}").json()
    assert [(o["AmazonOrderId"], o["OrderStatus"]) for o in updated] == [(order["order_number"], "Canceled")]
    assert ss_order["orderStatus"] == "cancelled"
