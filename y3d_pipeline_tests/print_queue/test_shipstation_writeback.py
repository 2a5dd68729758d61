"""print_queue/shipstation_writeback against the sandbox's ShipStation over HTTP, incl. split orders."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import Order, OrderItem
from y3d_pipeline.defs.print_queue.writeback import shipstation_writeback
from y3d_pipeline.sources.shipstation.client import ShipStationClient
from y3d_pipeline_tests.resources import shipstation_resource, shop_resource

from .factories import add_task

EDITABLE = ("awaiting_shipment", "on_hold")


@pytest.fixture
def shipstation(fresh_sandbox):
    env = fresh_sandbox.env()
    with ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                           base_url=env["SHIPSTATION_BASE_URL"]) as client:
        yield env, client


@pytest.fixture(scope="module")
def sandbox_orders(sandbox) -> list[dict]:
    """The sandbox's orders as a fresh reset shows them (scanned once: the data is seeded)."""
    sandbox.reset()
    env = sandbox.env()
    with ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                           base_url=env["SHIPSTATION_BASE_URL"]) as client:
        return [f.payload for f in client.list_orders(dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
                                                      dt.datetime(2026, 3, 22, tzinfo=dt.UTC)).records]


def mirror(engine, payload: dict, *, status: str | None = None) -> tuple[int, list[int]]:
    """Our normalized copy of a ShipStation order (what the normalization assets would write)."""
    with engine.begin() as conn:
        order_id = conn.execute(sa.insert(Order.__table__).values(
            marketplace=payload["advancedOptions"].get("source"), order_number=payload["orderNumber"],
            shipstation_order_id=payload["orderId"], status=status or payload["orderStatus"],
            internal_notes=payload.get("internalNotes"),
        ).returning(Order.__table__.c.id)).scalar_one()
        item_ids = [conn.execute(sa.insert(OrderItem.__table__).values(
            order_id=order_id, shipstation_order_item_id=item["orderItemId"], line_item_key=item["lineItemKey"],
            sku=item["sku"], name=item["name"], quantity=item["quantity"], options=item["options"], position=n,
        ).returning(OrderItem.__table__.c.id)).scalar_one() for n, item in enumerate(payload["items"])]
    return order_id, item_ids


def run(database_resource, env, instance, *, writeback_enabled: bool = False, **config):
    result = dg.materialize(
        [shipstation_writeback], instance=instance,
        resources={"database": database_resource, "shipstation": shipstation_resource(env),
                   "shop": shop_resource(writeback_enabled=writeback_enabled)},
        run_config=dg.RunConfig(ops={"print_queue__shipstation_writeback": {"config": config}}) if config else None,
    )
    found = result.asset_materializations_for_node("print_queue__shipstation_writeback")
    return {k: v.value for k, v in found[0].metadata.items()} if found else None


def options_of(payload: dict) -> dict[str, dict[str, str]]:
    return {i["lineItemKey"]: {o["name"]: o["value"] for o in i["options"]} for i in payload["items"]}


@pytest.fixture
def split_pair(shipstation, clean_db, sandbox_orders):
    env, client = shipstation
    by_key = defaultdict(list)
    for payload in sandbox_orders:
        by_key[payload["orderKey"]].append(payload)
    pair = next(v for v in by_key.values() if len(v) == 2 and all(o["orderStatus"] in EDITABLE for o in v))
    for payload in pair:
        order_id, item_ids = mirror(clean_db, payload)
        for n, item_id in enumerate(item_ids):
            add_task(clean_db, order_id=order_id, item_id=item_id, custom_text=f"Name {payload['orderId']}-{n}",
                     quantity=payload["items"][n]["quantity"])
    return env, client, pair


def test_writeback_is_off_unless_enabled(split_pair, database_resource, dagster_instance):
    env, client, pair = split_pair
    assert run(database_resource, env, dagster_instance) is None  # nothing materialized
    assert client.get_order(pair[0]["orderId"]).payload["internalNotes"] == pair[0]["internalNotes"]


def test_dry_run_shows_the_diff_and_posts_nothing(split_pair, database_resource, dagster_instance):
    env, client, pair = split_pair
    metadata = run(database_resource, env, dagster_instance, dry_run=True)
    assert metadata["dry_run"] is True and len(metadata["diff"]) == 2
    assert any("Name or Text" in change for change in metadata["diff"][0]["changes"])
    assert client.get_order(pair[0]["orderId"]).payload["items"] == pair[0]["items"]


def test_split_orders_get_their_own_items_and_packing_list(split_pair, database_resource, dagster_instance):
    env, client, pair = split_pair
    metadata = run(database_resource, env, dagster_instance, writeback_enabled=True)
    assert metadata["orders_pushed"] == 2 and metadata["orders_failed"] == []

    for before in pair:
        after = client.get_order(before["orderId"]).payload
        assert after["orderId"] == before["orderId"] and after["orderKey"] == before["orderKey"]
        assert [i["lineItemKey"] for i in after["items"]] == [i["lineItemKey"] for i in before["items"]]
        for n, (key, options) in enumerate(options_of(after).items()):
            assert options["Name or Text"] == f"Name {before['orderId']}-{n}"
            # the source's own options are kept, ours added
            assert set(options_of(before)[key]) <= set(options)
        assert "PACKING LIST" in after["internalNotes"] and "sync=" in after["internalNotes"]
        assert after["customerNotes"] == before["customerNotes"]
        assert after["shipTo"] == before["shipTo"] and after["orderStatus"] == before["orderStatus"]

    again = run(database_resource, env, dagster_instance, writeback_enabled=True)
    assert again["orders_pushed"] == 0 and again["orders_unchanged"] == 2


def test_items_needing_review_are_listed_not_pushed_and_shipped_orders_skipped(
        shipstation, clean_db, database_resource, dagster_instance, sandbox_orders):
    env, client = shipstation
    orders = sandbox_orders
    editable = next(o for o in orders if o["orderStatus"] == "awaiting_shipment" and len(o["items"]) == 1)
    shipped = next(o for o in orders if o["orderStatus"] == "shipped")
    order_id, [item_id] = mirror(clean_db, editable)
    add_task(clean_db, order_id=order_id, item_id=item_id, source="placeholder", custom_text="",
             quantity=editable["items"][0]["quantity"])
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE print_tasks SET needs_review = true"))
    stale_id, [stale_item] = mirror(clean_db, shipped, status="awaiting_shipment")  # our copy is behind
    add_task(clean_db, order_id=stale_id, item_id=stale_item)

    metadata = run(database_resource, env, dagster_instance, writeback_enabled=True)
    assert metadata["orders_pushed"] == 1 and metadata["items_waiting_for_review"] == 1
    assert metadata["orders_not_editable"] == [{"order_number": shipped["orderNumber"], "status": "shipped"}]
    after = client.get_order(editable["orderId"]).payload
    key = editable["items"][0]["lineItemKey"]
    assert options_of(after)[key] == options_of(editable)[key]  # nothing pushed for an item under review
    assert "[NEEDS REVIEW]" in after["internalNotes"]
