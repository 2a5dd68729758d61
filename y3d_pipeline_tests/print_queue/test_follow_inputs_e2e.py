"""Tasks follow their inputs, end to end: the sandbox's ShipStation and Amazon Custom files over HTTP →
raw/shipstation_orders → normalized/* → raw/amazon_customizations → print_queue/print_tasks, real Dagster
runs on PostgreSQL. The buyer's changes are made in the sandbox (its /_sandbox mutate and fault controls),
and the run of the partition that saw the change brings the print queue along.
"""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.defs.normalized.assets import normalize_orders, reconciliation
from y3d_pipeline.defs.print_queue.assets import print_tasks
from y3d_pipeline.defs.sources.amazon.assets import raw_amazon_customizations
from y3d_pipeline.defs.sources.shipstation.assets import raw_shipstation_orders
from y3d_pipeline_tests.resources import amazon_resource, openai_resource, shipstation_resource, shop_resource

from .factories import history

DAY = "2026-03-20"  # the sandbox's last day: its orders are still waiting to be printed at the sandbox clock
NEXT_DAY = "2026-03-21"  # where the buyers' later changes land (the sandbox clock stands at its start)
PIPELINE = [raw_shipstation_orders, normalize_orders, reconciliation, raw_amazon_customizations, print_tasks]


@pytest.fixture
def pipeline(fresh_sandbox, database_resource, dagster_instance):
    env = fresh_sandbox.env()
    resources = {
        "database": database_resource,
        "shipstation": shipstation_resource(env, initial_backoff_seconds=0.01),
        "amazon": amazon_resource(env, configured=False),
        "openai": openai_resource(None),
        "shop": shop_resource(),
    }

    def run(partition: str, assets=PIPELINE) -> dict:
        result = dg.materialize(assets, partition_key=partition, instance=dagster_instance, resources=resources)
        assert result.success
        found = [e for e in result.get_asset_materialization_events()
                 if e.asset_key == dg.AssetKey(["print_queue", "print_tasks"])]
        return {k: v.value for k, v in found[0].materialization.metadata.items()} if found else {}

    return run


def queue(engine, where: str = "TRUE", **params) -> list[dict]:
    sql = f"""SELECT t.*, o.order_number, o.shipstation_order_id, o.status AS order_status, o.marketplace,
                     i.line_item_key, i.options AS item_options
              FROM print_tasks t JOIN orders o ON o.id = t.order_id LEFT JOIN order_items i ON i.id = t.order_item_id
              WHERE {where} ORDER BY t.id"""  # noqa: S608 - test-only, fixed fragments
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def single_item_tasks(engine, marketplace: str) -> list[dict]:
    """Pending, unflagged option-read tasks of one-item orders: candidates for the buyer's edits."""
    return queue(engine, """t.status = 'pending' AND NOT t.needs_review AND t.source = 'item_options'
                            AND o.marketplace = :mp AND t.quantity = 1
                            AND (SELECT count(*) FROM order_items x WHERE x.order_id = o.id) = 1""", mp=marketplace)


def edited_options(task: dict, text: str) -> dict[str, list[dict]]:
    options = [dict(o, value=text) if o["name"] in ("Personalization", "Name") else o for o in task["item_options"]]
    return {task["line_item_key"]: options}


def test_a_late_amazon_custom_file_replaces_its_placeholder(pipeline, fresh_sandbox, clean_db):
    truth = {(o["order_number"], i["line_item_key"]): i for o in fresh_sandbox.truth(marketplace="amazon")
             for i in o["items"] if i["amazon_custom_layout"] and i["amazon_custom_text"] and not i["messy_shape"]
             and i["amazon_custom_layout"] != "tree+flat_svg"}
    pipeline(DAY, [raw_shipstation_orders, normalize_orders])
    with clean_db.connect() as conn:
        rows = conn.execute(sa.text("""SELECT o.order_number, i.line_item_key FROM order_items i
                                       JOIN orders o ON o.id = i.order_id
                                       WHERE o.status = 'awaiting_shipment' AND o.marketplace = 'amazon'
                                       ORDER BY o.id""")).all()
    order_number, item_key = next((r.order_number, r.line_item_key) for r in rows
                                  if (r.order_number, r.line_item_key) in truth)
    # The buyer's file is not downloadable yet (Amazon answers 503 however often we ask)...
    fresh_sandbox.set_faults("custom", "503", count=None, match=f"/{order_number}_{item_key}.zip")
    pipeline(DAY)
    [placeholder] = queue(clean_db, "i.line_item_key = :key", key=item_key)
    assert (placeholder["source"], placeholder["needs_review"], placeholder["custom_text"]) == (
        "placeholder", True, None)
    assert placeholder["review_reason"].startswith("Amazon customization not parsed yet")

    # ...then it is: the next runs of the day download it and replace the placeholder in place.
    fresh_sandbox.clear_faults()
    metadata = pipeline(DAY, [raw_amazon_customizations, print_tasks])
    [task] = queue(clean_db, "i.line_item_key = :key", key=item_key)
    expected = truth[(order_number, item_key)]
    assert (task["id"], task["source"], task["custom_text"]) == (
        placeholder["id"], "amazon_customization", expected["amazon_custom_text"])
    assert task["quantity"] == expected["personalisations"][0]["quantity"]
    assert metadata["tasks_updated"] == 1
    assert [h["change"] for h in history(clean_db, task["id"])] == ["created", "updated"]


def test_buyer_edits_started_work_and_cancellations_follow_through(pipeline, fresh_sandbox, clean_db):
    pipeline(DAY)
    edited, started = single_item_tasks(clean_db, "etsy")[:2]
    cancelled = single_item_tasks(clean_db, "web")[0]
    assert len({edited["order_id"], started["order_id"], cancelled["order_id"]}) == 3
    with clean_db.begin() as conn:  # a person starts printing one of them in the print-queue UI
        conn.execute(sa.text("UPDATE print_tasks SET status = 'in_progress' WHERE id = :id"), {"id": started["id"]})

    fresh_sandbox.advance_clock(120)
    fresh_sandbox.mutate_order(edited["shipstation_order_id"], item_options=edited_options(edited, "Zed"))
    fresh_sandbox.mutate_order(started["shipstation_order_id"], item_options=edited_options(started, "Zed"))
    fresh_sandbox.mutate_order(cancelled["shipstation_order_id"], status="cancelled")
    metadata = pipeline(NEXT_DAY)  # the day the changes were made: its partition sees them

    after = {t["id"]: t for t in queue(clean_db, "t.id IN :ids", ids=(edited["id"], started["id"],
                                                                     cancelled["id"]))}
    assert (after[edited["id"]]["custom_text"], after[edited["id"]]["status"]) == ("Zed", "pending")
    assert not after[edited["id"]]["needs_review"]
    kept = after[started["id"]]
    assert (kept["custom_text"], kept["status"], kept["needs_review"]) == (started["custom_text"], "in_progress", True)
    assert kept["review_reason"] == (f"buyer changed text from {started['custom_text']} to Zed after printing "
                                     "started: check before printing")
    assert after[cancelled["id"]]["status"] == "cancelled"
    assert (metadata["tasks_updated"], metadata["tasks_protected"], metadata["tasks_cancelled"]) == (1, 1, 1)

    assert [h["change"] for h in history(clean_db, edited["id"])] == ["created", "updated"]
    assert [h["change"] for h in history(clean_db, started["id"])] == ["created", "edited_outside", "flagged"]
    assert [h["change"] for h in history(clean_db, cancelled["id"])] == ["created", "cancelled"]

    again = pipeline(NEXT_DAY)  # re-running the partition changes nothing more
    assert (again["tasks_updated"], again["tasks_protected"], again["tasks_cancelled"]) == (0, 0, 0)
