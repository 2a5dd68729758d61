"""Every fault kind is observable from a plain httpx client; the data is a pure function of the seed."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime

import httpx
import pytest

from y3d_pipeline.sandbox import cli
from y3d_pipeline.sandbox.data import ShopData
from y3d_pipeline.sandbox.faults import parse_cli_fault
from y3d_pipeline.sandbox.options import FaultSpec, SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer
from y3d_pipeline_tests.sandbox.helpers import amazon_token, graphql, shipstation, shopify

API_REQUESTS = {
    "shipstation": lambda sb, client, token: client.get(sb.env()["SHIPSTATION_BASE_URL"] + "/orders", params={"pageSize": 5},
                                                 auth=("ss-sandbox-key", "ss-sandbox-secret")),
    "shopify": lambda sb, client, token: client.post(
        sb.env()["SHOPIFY_BASE_URL"] + "/admin/api/2025-07/graphql.json",
        json={"query": "{ orders(first: 5) { nodes { id name } } }"},
        headers={"X-Shopify-Access-Token": sb.env()["SHOPIFY_ACCESS_TOKEN"]}),
    "amazon": lambda sb, client, token: client.get(
        sb.env()["AMAZON_SP_API_BASE_URL"] + "/orders/v0/orders",
        params={"MarketplaceIds": "A1F83G8C2ARO7P", "LastUpdatedAfter": "2026-03-01T00:00:00Z",
                "MaxResultsPerPage": 5},
        headers={"x-amz-access-token": token}),
    "openai": lambda sb, client, token: client.post(
        sb.env()["OPENAI_BASE_URL"] + "/chat/completions",
        json={"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": '{"items": []}'}]},
        headers={"Authorization": f"Bearer {sb.env()['OPENAI_API_KEY']}"}),
}


def _any_zip_url(sb: SandboxServer) -> str:
    order = next(o for o in sb.truth(marketplace="amazon") if o["items"][0]["amazon_custom_layout"])
    return f"{sb.base_url}/amazon-custom/{order['order_number']}_{order['items'][0]['line_item_key']}.zip"


@pytest.mark.parametrize("api", [*sorted(API_REQUESTS), "custom"])
def test_every_fault_kind_is_observable(fresh_sandbox, api):
    token = amazon_token(fresh_sandbox)  # before any fault: LWA is part of the "amazon" API
    zip_url = _any_zip_url(fresh_sandbox)

    def request(sb, client):
        return API_REQUESTS[api](sb, client, token) if api != "custom" else client.get(zip_url)

    with httpx.Client(timeout=5) as client:
        for status in (429, 500, 502, 503):
            fresh_sandbox.set_faults(api, str(status))
            assert request(fresh_sandbox, client).status_code == status

        fresh_sandbox.set_faults(api, "slow", delay_ms=50)
        assert request(fresh_sandbox, client).status_code == 200

        fresh_sandbox.set_faults(api, "truncate")
        truncated = request(fresh_sandbox, client)
        assert int(truncated.headers["content-length"]) == len(truncated.content)
        if api == "custom":
            with pytest.raises(Exception):  # noqa: B017 - zipfile raises BadZipFile
                import io
                import zipfile

                zipfile.ZipFile(io.BytesIO(truncated.content)).testzip()
        else:
            with pytest.raises(json.JSONDecodeError):
                json.loads(truncated.content)

        fresh_sandbox.set_faults(api, "drop")
        with pytest.raises(httpx.RemoteProtocolError):
            request(fresh_sandbox, client)

    with httpx.Client(timeout=0.3) as impatient:
        fresh_sandbox.set_faults(api, "timeout", delay_ms=1500)
        with pytest.raises(httpx.ReadTimeout):
            request(fresh_sandbox, impatient)
    with httpx.Client(timeout=5) as client:
        assert request(fresh_sandbox, client).status_code == 200  # faults with a count are spent
    assert fresh_sandbox.faults() == []


def test_fault_rate_and_path_match(fresh_sandbox):
    fresh_sandbox.set_faults("shipstation", "503", count=None, match="/stores")
    with shipstation(fresh_sandbox) as client:
        assert client.get("/stores").status_code == 503
        assert client.get("/stores").status_code == 503
        assert client.get("/warehouses").status_code == 200
        fresh_sandbox.clear_faults()
        fresh_sandbox.set_faults("shipstation", "500", count=None, rate=0.5)
        statuses = [client.get("/warehouses").status_code for _ in range(40)]
    assert 0 < statuses.count(500) < 40


def test_page_shift_fault_loses_orders_while_paging(fresh_sandbox):
    fresh_sandbox.set_faults("shipstation", "page_shift", count=None)
    window = {"modifyDateStart": "2026-03-10 00:00:00", "modifyDateEnd": "2026-03-20 17:00:00",
              "sortBy": "ModifyDate", "sortDir": "ASC", "pageSize": 50}
    with shipstation(fresh_sandbox) as client:
        first = client.get("/orders", params=dict(window, page=1)).json()
        seen = {o["orderId"] for o in first["orders"]}
        for page in range(2, first["pages"] + 1):
            seen |= {o["orderId"] for o in client.get("/orders", params=dict(window, page=page)).json()["orders"]}
    assert len(seen) < first["total"]


def test_shopify_cursors_never_repeat_without_updates(fresh_sandbox):
    """Keyset cursors: pages neither repeat nor skip while nothing changes."""
    query = "query($after: String) { orders(first: 20, after: $after, sortKey: UPDATED_AT) { " \
            "pageInfo { hasNextPage endCursor } nodes { id legacyResourceId } } }"
    with shopify(fresh_sandbox) as client:
        page = graphql(client, query).json()["data"]["orders"]
        names = [n["id"] for n in page["nodes"]]
        while page["pageInfo"]["hasNextPage"]:
            page = graphql(client, query, after=page["pageInfo"]["endCursor"]).json()["data"]["orders"]
            names += [n["id"] for n in page["nodes"]]
    assert len(names) == len(set(names))


def test_same_seed_same_data_and_different_seed_different_data():
    now = datetime(2026, 3, 21, tzinfo=UTC)

    def snapshot(seed: int) -> tuple[list, list]:
        shop = ShopData(seed, 7, 30, date(2026, 3, 20))
        docs = [shop.render_shipstation(o, now, "http://sandbox") for o in shop.ss_orders.values()]
        return shop.truth(), docs

    assert snapshot(7) == snapshot(7)
    assert snapshot(7)[0] != snapshot(8)[0]


def test_two_servers_with_the_same_options_serve_identical_pages():
    options = SandboxOptions(seed=11, days=3, orders_per_day=20, end_date=date(2026, 3, 20), rate_limit_scale=100)
    bodies = []
    for _ in range(2):
        with SandboxServer(options) as sb, shipstation(sb) as client:
            body = client.get("/orders", params={"pageSize": 500}).json()
            bodies.append(json.dumps(body).replace(sb.base_url, "BASE"))
    assert bodies[0] == bodies[1]


def test_reset_restores_data_clock_and_faults(sandbox):
    start = sandbox.now()
    with shipstation(sandbox) as client:
        before = client.get("/orders", params={"pageSize": 5}).json()
        sandbox.advance_clock(86400)
        sandbox.mutate_order(before["orders"][0]["orderId"], patch={"internalNotes": "x"})
        sandbox.set_faults("shipstation", "500", count=None, match="/stores")
        sandbox.reset()
        assert sandbox.now() == start
        assert sandbox.faults() == []
        assert client.get("/orders", params={"pageSize": 5}).json() == before


def test_cli_parser_and_fault_flags():
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "--port", "0", "--days", "3", "--end-date", "2026-03-20",
                              "--fault", "shipstation:429:3", "--fault", "openai:malformed:0.25",
                              "--fault", "amazon:duplicate_page:inf"])
    options = cli.options_from_args(args)
    assert args.func is cli.run and args.host == "127.0.0.1" and args.seed == 7
    assert options.end_date == date(2026, 3, 20) and options.orders_per_day == 150
    assert options.faults == [FaultSpec(api="shipstation", kind="429", count=3),
                              FaultSpec(api="openai", kind="malformed", count=None, rate=0.25),
                              FaultSpec(api="amazon", kind="duplicate_page", count=None)]
    with pytest.raises(ValueError):
        parse_cli_fault("shipstation")
