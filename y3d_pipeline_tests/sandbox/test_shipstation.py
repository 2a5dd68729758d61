"""Contract tests: the sandbox speaks ShipStation v1 the way the reference describes it."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from y3d_pipeline_tests.sandbox.helpers import PACIFIC, all_orders, pacific_to_utc, shipstation

PACIFIC_FORMAT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$")


def test_basic_auth_is_required(sandbox):
    url = sandbox.env()["SHIPSTATION_BASE_URL"] + "/orders"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=("ss-sandbox-key", "wrong")).status_code == 401


def test_paging_returns_every_order_exactly_once(sandbox):
    with shipstation(sandbox) as client:
        reference = all_orders(client, page_size=500)
        first = client.get("/orders", params={"pageSize": 37}).json()
        paged = all_orders(client, page_size=37)
    ids = [o["orderId"] for o in paged]
    assert len(ids) == len(set(ids)) == first["total"] == len(reference)
    assert set(ids) == {o["orderId"] for o in reference}
    assert first["pages"] == math.ceil(first["total"] / 37) > 10
    assert first["page"] == 1 and len(first["orders"]) == 37


def test_page_size_is_capped_at_500(sandbox):
    with shipstation(sandbox) as client:
        body = client.get("/orders", params={"pageSize": 2000}).json()
    assert len(body["orders"]) == 500
    assert body["pages"] == math.ceil(body["total"] / 500)


def test_dates_are_pacific_wall_clock_without_offset_across_dst(sandbox):
    truth = {o["order_number"]: o for o in sandbox.truth()}
    with shipstation(sandbox) as client:
        orders = all_orders(client)
    offsets = set()
    for order in orders:
        for field in ("orderDate", "createDate", "modifyDate"):
            assert PACIFIC_FORMAT.match(order[field]), order[field]
        ordered_at = datetime.fromisoformat(truth[order["orderNumber"]]["ordered_at"])
        assert pacific_to_utc(order["orderDate"]) == ordered_at
        offsets.add(ordered_at.astimezone(PACIFIC).utcoffset())
    assert offsets == {timedelta(hours=-8), timedelta(hours=-7)}  # PST before 2026-03-08, PDT after


def _ids(orders: list[dict]) -> set[int]:
    return {o["orderId"] for o in orders}


def test_modify_date_filter_is_inclusive_pacific_time_across_dst(sandbox):
    start, end = "2026-03-07 12:00:00", "2026-03-09 12:00:00"
    with shipstation(sandbox) as client:
        everything = all_orders(client)
        filtered = all_orders(client, modifyDateStart=start, modifyDateEnd=end)
        with_z = all_orders(client, modifyDateStart="2026-03-07T12:00:00Z", modifyDateEnd="2026-03-09T12:00:00Z")
        # The window a client gets when it (wrongly) sends UTC digits for this Pacific window
        utc_digits = all_orders(client, modifyDateStart="2026-03-07 20:00:00", modifyDateEnd="2026-03-09 19:00:00")
    start_utc = datetime(2026, 3, 7, 20, tzinfo=UTC)  # 12:00 PST
    end_utc = datetime(2026, 3, 9, 19, tzinfo=UTC)  # 12:00 PDT
    expected = {o["orderId"] for o in everything if start_utc <= pacific_to_utc(o["modifyDate"]) <= end_utc}
    assert expected and _ids(filtered) == expected
    assert _ids(with_z) == expected  # a trailing Z is ignored, not honoured
    assert _ids(utc_digits) != expected


def test_create_and_order_date_filters_and_sorting(sandbox):
    with shipstation(sandbox) as client:
        by_order_date = all_orders(client, orderDateStart="2026-03-08 00:00:00", orderDateEnd="2026-03-08 23:59:59",
                                   sortBy="OrderDate", sortDir="DESC")
        by_create = all_orders(client, createDateStart="2026-03-08 00:00:00", sortBy="CreateDate")
    dates = [o["orderDate"] for o in by_order_date]
    assert dates and dates == sorted(dates, reverse=True)
    assert all(d.startswith("2026-03-08") for d in dates)
    created = [o["createDate"] for o in by_create]
    assert created == sorted(created) and created[0] >= "2026-03-08"


def test_status_and_store_filters(sandbox):
    with shipstation(sandbox) as client:
        stores = {s["marketplaceName"]: s["storeId"] for s in client.get("/stores").json()}
        cancelled = all_orders(client, orderStatus="cancelled")
        etsy = all_orders(client, storeId=stores["Etsy"])
        assert client.get("/orders", params={"orderStatus": "bogus"}).status_code == 400
    assert cancelled and all(o["orderStatus"] == "cancelled" for o in cancelled)
    assert etsy and all(o["advancedOptions"]["storeId"] == stores["Etsy"] for o in etsy)
    assert {"Amazon", "Etsy", "eBay", "Shopify"} <= set(stores)


def test_rate_limit_headers_and_429(fresh_sandbox):
    fresh_sandbox.set_rate_limit_scale(0.1)  # 4 requests per minute
    with shipstation(fresh_sandbox) as client:
        remaining = []
        for _ in range(4):
            response = client.get("/orders", params={"pageSize": 1})
            assert response.status_code == 200
            assert response.headers["X-Rate-Limit-Limit"] == "4"
            remaining.append(int(response.headers["X-Rate-Limit-Remaining"]))
        limited = client.get("/orders", params={"pageSize": 1})
        assert remaining == [3, 2, 1, 0]
        assert limited.status_code == 429
        assert limited.headers["X-Rate-Limit-Remaining"] == "0"
        assert 0 < int(limited.headers["X-Rate-Limit-Reset"]) <= 60
        fresh_sandbox.advance_clock(int(limited.headers["X-Rate-Limit-Reset"]))
        assert client.get("/orders", params={"pageSize": 1}).status_code == 200
    assert fresh_sandbox.stats()["throttled"]["shipstation"] == 1


def test_get_order_by_id_and_404(sandbox):
    with shipstation(sandbox) as client:
        order = client.get("/orders", params={"pageSize": 1}).json()["orders"][0]
        assert client.get(f"/orders/{order['orderId']}").json() == order
        assert client.get("/orders/1").status_code == 404


def _awaiting(client: httpx.Client) -> list[dict]:
    return [o for o in all_orders(client, orderStatus="awaiting_shipment")
            if not o["advancedOptions"]["mergedOrSplit"]]


def test_createorder_replaces_the_whole_order_and_bumps_modify_date(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        order = _awaiting(client)[0]
        order["internalNotes"] = "PACKING LIST(Order #x):\n1. Emily (Red)"
        order["items"][0]["options"] = [{"name": "Name or Text", "value": "Emily"}]
        order.pop("customerNotes")  # no partial updates: an absent field is cleared
        response = client.post("/orders/createorder", json=order)
        assert response.status_code == 200, response.text
        updated = client.get(f"/orders/{order['orderId']}").json()
    assert response.json()["orderId"] == order["orderId"]
    assert updated["internalNotes"].startswith("PACKING LIST")
    assert updated["items"][0]["options"] == [{"name": "Name or Text", "value": "Emily"}]
    assert updated["items"][0]["orderItemId"] == order["items"][0]["orderItemId"]
    assert updated["customerNotes"] is None
    assert pacific_to_utc(updated["modifyDate"]) == fresh_sandbox.now()
    assert updated["createDate"] == order["createDate"]


def test_createorder_refuses_shipped_orders(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        shipped = client.get("/orders", params={"orderStatus": "shipped", "pageSize": 1}).json()["orders"][0]
        response = client.post("/orders/createorder", json=shipped)
    assert response.status_code == 400


def test_createorder_with_a_new_key_creates_an_order(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        created = client.post("/orders/createorder", json={
            "orderNumber": "MANUAL-1", "orderKey": "manual-key-1", "orderStatus": "awaiting_shipment",
            "items": [{"lineItemKey": "m1", "sku": "Y3D-KEY-NAME-S", "name": "Keyring", "quantity": 1,
                       "unitPrice": 6.99}]}).json()
        fetched = client.get(f"/orders/{created['orderId']}").json()
    assert fetched["orderKey"] == "manual-key-1" and fetched["items"][0]["orderItemId"]


def test_split_orders_share_order_key_and_need_order_id(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        children = [o for o in all_orders(client) if o["advancedOptions"]["parentId"]]
        assert children
        for child in children:
            # Go back to just after the split, while both halves are still awaiting shipment.
            fresh_sandbox.set_clock(pacific_to_utc(child["createDate"]) + timedelta(seconds=1))
            child_now = client.get(f"/orders/{child['orderId']}").json()
            parent = client.get(f"/orders/{child['advancedOptions']['parentId']}").json()
            if {child_now["orderStatus"], parent["orderStatus"]} == {"awaiting_shipment"}:
                break
        else:
            pytest.fail("no split pair awaiting shipment")
        assert parent["orderKey"] == child_now["orderKey"] and parent["orderNumber"] == child_now["orderNumber"]
        assert parent["advancedOptions"]["mergedOrSplit"] and child_now["advancedOptions"]["mergedOrSplit"]
        assert not {i["orderItemId"] for i in parent["items"]} & {i["orderItemId"] for i in child_now["items"]}

        edit = dict(child_now, internalNotes="child only")
        without_id = {k: v for k, v in edit.items() if k != "orderId"}
        assert client.post("/orders/createorder", json=without_id).status_code == 400
        assert client.post("/orders/createorder", json=edit).status_code == 200
        assert client.get(f"/orders/{child['orderId']}").json()["internalNotes"] == "child only"
        assert client.get(f"/orders/{parent['orderId']}").json()["internalNotes"] is None


def test_tags(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        tags = client.get("/accounts/listtags").json()
        assert {"tagId", "name", "color"} <= set(tags[0])
        order = client.get("/orders", params={"pageSize": 1}).json()["orders"][0]
        added = client.post("/orders/addtag", json={"orderId": order["orderId"], "tagId": tags[1]["tagId"]})
        assert added.json() == {"success": True, "message": "Tag added successfully."}
        assert tags[1]["tagId"] in client.get(f"/orders/{order['orderId']}").json()["tagIds"]
        tagged = client.get("/orders/listbytag", params={"tagId": tags[1]["tagId"]}).json()
        assert order["orderId"] in _ids(tagged["orders"])


def test_warehouses_and_shipments(sandbox):
    with shipstation(sandbox) as client:
        assert client.get("/warehouses").json()[0]["isDefault"] is True
        first = client.get("/shipments", params={"shipDateStart": "2026-03-08", "shipDateEnd": "2026-03-09",
                                                 "pageSize": 50}).json()
        shipments = first["shipments"]
        for page in range(2, first["pages"] + 1):
            shipments += client.get("/shipments", params={"shipDateStart": "2026-03-08", "shipDateEnd": "2026-03-09",
                                                          "pageSize": 50, "page": page}).json()["shipments"]
        shipped = client.get(f"/orders/{shipments[0]['orderId']}").json()
    assert len(shipments) == first["total"] > 0
    assert {s["shipDate"] for s in shipments} <= {"2026-03-08", "2026-03-09"}
    assert all(s["trackingNumber"] and s["carrierCode"] for s in shipments)
    assert shipped["orderStatus"] == "shipped"


def test_real_world_shapes_are_present(sandbox):
    with shipstation(sandbox) as client:
        orders = all_orders(client)
    items = [i for o in orders for i in o["items"]]
    options = {o["name"] for i in items for o in i["options"]}
    assert any(i["adjustment"] and i["lineItemKey"] is None for i in items)
    assert any(i["sku"] is None and not i["adjustment"] for i in items)
    assert any(o["customerEmail"] is None for o in orders)
    assert {"CustomizedURL", "Name or Text", "Colour 1", "Personalization", "Color", "Secondary color",
            "Name"} <= options
    urls = [o["value"] for i in items for o in i["options"] if o["name"] == "CustomizedURL"]
    assert all(u.startswith(sandbox.base_url + "/amazon-custom/") and u.endswith(".zip") for u in urls)
    notes = [o["customerNotes"] for o in orders if o["customerNotes"] and "Personalisation:" in o["customerNotes"]]
    assert notes and re.search(r"Personalisation:\nItem ID: \d+ Variation: Color=[^\n]+\nText: .+", notes[0])
    texts = [o["value"] for i in items for o in i["options"] if o["name"] in ("Personalization", "Name or Text")]
    assert any(not t.isascii() for t in texts) and any(len(t) > 100 for t in texts)
    assert any(i["quantity"] > 1 and "\n" in (o["value"] or "") for i in items for o in i["options"])


def test_orders_change_as_the_clock_moves(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        before = {o["orderId"]: o for o in all_orders(client, orderStatus="awaiting_shipment")}
        fresh_sandbox.advance_clock(5 * 86400)
        after = {o["orderId"]: o for o in all_orders(client, modifyDateStart="2026-03-20 17:00:00")}
    moved = [after[i] for i in before if i in after]
    assert moved and all(o["orderStatus"] in ("shipped", "cancelled", "on_hold", "awaiting_shipment") for o in moved)
    assert any(o["orderStatus"] == "shipped" for o in moved)


def test_mutate_order_bumps_modify_date(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        order = client.get("/orders", params={"pageSize": 1}).json()["orders"][0]
        fresh_sandbox.advance_clock(3600)
        fresh_sandbox.mutate_order(order["orderId"], patch={"internalNotes": "changed"})
        changed = client.get(f"/orders/{order['orderId']}").json()
    assert changed["internalNotes"] == "changed"
    assert pacific_to_utc(changed["modifyDate"]) == fresh_sandbox.now()


def test_createorders_bulk_reports_each_result(fresh_sandbox):
    with shipstation(fresh_sandbox) as client:
        awaiting = _awaiting(client)[0]
        shipped = client.get("/orders", params={"orderStatus": "shipped", "pageSize": 1}).json()["orders"][0]
        body = client.post("/orders/createorders", json=[dict(awaiting, internalNotes="bulk"), shipped]).json()
        assert client.get(f"/orders/{awaiting['orderId']}").json()["internalNotes"] == "bulk"
    assert body["hasErrors"] is True
    assert [r["success"] for r in body["results"]] == [True, False]
    assert body["results"][0]["orderId"] == awaiting["orderId"]
