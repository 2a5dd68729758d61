"""Tasks follow their inputs: real Dagster runs of print_queue/print_tasks on PostgreSQL.

A later partition's run (the order is outside its window) must notice what changed since the tasks were
written: pending tasks the pipeline wrote are re-resolved; tasks a person started, finished, edited or
reviewed are never rewritten, only flagged with what changed; every change lands in the history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys

import sqlalchemy as sa

from y3d_pipeline.db.models import PrintTask
from y3d_pipeline.defs.print_queue.assets import PrintTasksConfig
from y3d_pipeline.defs.resources import ShopSettings
from y3d_pipeline.print_queue import repository as repo
from y3d_pipeline.print_queue.models import OrderRow, TaskDraft
from y3d_pipeline.print_queue.validation import ON_HOLD_REASON
from y3d_pipeline_tests.resources import shop_resource

from .conftest import Runner
from .factories import (
    add_amazon_custom,
    add_order,
    history,
    opts,
    person_edits,
    tasks,
    update_item,
    update_order,
)

LATER = "2026-11-25"  # a partition whose window does not contain the test orders


def one(engine, item_id: int) -> dict:
    [task] = tasks(engine, item_id)
    return task


def test_a_buyers_edit_updates_the_pending_task_on_a_later_run(runner_without_ai, clean_db):
    _, [item] = add_order(clean_db, items=[{"options": opts(Personalization="Eve", Color="Red")}])
    runner_without_ai.run()
    first = one(clean_db, item)
    assert (first["custom_text"], first["needs_review"]) == ("Eve", False)

    metadata, _, _ = runner_without_ai.run(partition=LATER)  # nothing changed: nothing touched
    assert metadata["tasks_updated"] == 0 and one(clean_db, item) == first

    update_item(clean_db, item, options=opts(Personalization="Zed", Color="Blue"), quantity=2)
    metadata, _, _ = runner_without_ai.run(partition=LATER)
    after = one(clean_db, item)
    assert (after["id"], after["custom_text"], after["color_1"], after["quantity"]) == (first["id"], "Zed", "Blue", 2)
    assert metadata["tasks_updated"] == 1 and metadata["items_by_reason"] == {"inputs changed": 1}
    created, updated = history(clean_db, first["id"])
    assert (created["change"], created["new_custom_text"]) == ("created", "Eve")
    assert (updated["change"], updated["old_custom_text"], updated["new_custom_text"], updated["old_quantity"],
            updated["new_quantity"], updated["reason"]) == ("updated", "Eve", "Zed", 1, 2, "inputs changed")
    assert updated["run_id"] and updated["run_id"] != created["run_id"]

    again, _, _ = runner_without_ai.run(partition=LATER)  # a re-run finds nothing new
    assert again["tasks_updated"] == 0 and one(clean_db, item) == after


def test_started_work_keeps_its_text_and_is_flagged_with_what_changed(runner_without_ai, clean_db):
    _, [item] = add_order(clean_db, items=[{"options": opts(Personalization="Eve", Color="Red")}])
    runner_without_ai.run()
    task = one(clean_db, item)
    person_edits(clean_db, task["id"], status="in_progress")

    update_item(clean_db, item, options=opts(Personalization="Zed", Color="Red"))
    metadata, _, _ = runner_without_ai.run(partition=LATER)
    after = one(clean_db, item)
    assert (after["custom_text"], after["status"], after["needs_review"]) == ("Eve", "in_progress", True)
    assert after["review_reason"] == "buyer changed text from Eve to Zed after printing started: check before printing"
    assert metadata["tasks_protected"] == 1 and metadata["tasks_updated"] == 0
    changes = [h["change"] for h in history(clean_db, task["id"])]
    assert changes == ["created", "edited_outside", "flagged"]
    noticed = history(clean_db, task["id"])[1]
    assert (noticed["old_status"], noticed["new_status"]) == ("pending", "in_progress")

    again, _, _ = runner_without_ai.run(partition=LATER)  # flagged once per change, not on every run
    assert again["tasks_protected"] == 0 and len(history(clean_db, task["id"])) == 3


def test_a_reviewed_or_edited_pending_task_is_the_persons(runner_without_ai, clean_db):
    _, [item] = add_order(clean_db, items=[{"options": opts(Personalization="Eve", Color="Red")}])
    runner_without_ai.run()
    task = one(clean_db, item)
    person_edits(clean_db, task["id"], custom_text="EVE")  # the buyer phoned: capitals please

    update_item(clean_db, item, options=opts(Personalization="Eve", Color="Pink"))
    runner_without_ai.run(partition=LATER)
    after = one(clean_db, item)
    assert (after["custom_text"], after["color_1"], after["status"]) == ("EVE", "Red", "pending")
    assert after["needs_review"] and after["review_reason"].startswith(
        "colour changed from Red to Pink after a person edited or reviewed the task")


def test_a_cancelled_order_cancels_pending_tasks_and_flags_started_ones(runner_without_ai, clean_db):
    order_id, [pending_item, started_item] = add_order(clean_db, items=[
        {"options": opts(Personalization="Ava", Color="Red")}, {"options": opts(Personalization="Leo", Color="Red")}])
    runner_without_ai.run()
    person_edits(clean_db, one(clean_db, started_item)["id"], status="in_progress")

    update_order(clean_db, order_id, status="cancelled")
    metadata, _, _ = runner_without_ai.run(partition=LATER)
    assert one(clean_db, pending_item)["status"] == "cancelled"
    started = one(clean_db, started_item)
    assert started["status"] == "in_progress" and started["needs_review"]
    assert "Order cancelled after printing started" in started["review_reason"]
    assert metadata["tasks_cancelled"] == 1 and metadata["tasks_protected"] == 1
    assert [h["change"] for h in history(clean_db, one(clean_db, pending_item)["id"])] == ["created", "cancelled"]

    update_order(clean_db, order_id, status="awaiting_shipment")  # the buyer changed their mind
    runner_without_ai.run(partition=LATER)
    reopened = one(clean_db, pending_item)
    assert (reopened["status"], reopened["custom_text"]) == ("pending", "Ava")
    assert history(clean_db, reopened["id"])[-1]["change"] == "reopened"


def test_a_removed_item_cancels_its_pending_tasks(runner_without_ai, clean_db):
    _, [kept, removed] = add_order(clean_db, items=[
        {"options": opts(Personalization="Ava", Color="Red")}, {"options": opts(Personalization="Leo", Color="Red")}])
    runner_without_ai.run()
    task_id = one(clean_db, removed)["id"]
    with clean_db.begin() as conn:  # what normalization does when ShipStation drops an item from the order
        conn.execute(sa.text("DELETE FROM order_items WHERE id = :id"), {"id": removed})
    metadata, _, _ = runner_without_ai.run(partition=LATER)
    orphan = next(t for t in tasks(clean_db) if t["id"] == task_id)
    assert (orphan["order_item_id"], orphan["status"]) == (None, "cancelled")
    assert history(clean_db, task_id)[-1]["reason"] == "item removed from the order"
    assert one(clean_db, kept)["status"] == "pending" and metadata["tasks_cancelled"] == 1


def test_on_hold_orders_are_flagged_until_released(runner_without_ai, clean_db):
    order_id, [item] = add_order(clean_db, status="on_hold", items=[{"options": opts(Name="Ava", Color="Red")}])
    runner_without_ai.run()
    held = one(clean_db, item)
    assert held["needs_review"] and held["review_reason"] == ON_HOLD_REASON
    update_order(clean_db, order_id, status="awaiting_shipment")
    runner_without_ai.run(partition=LATER)
    released = one(clean_db, item)
    assert (released["custom_text"], released["needs_review"], released["review_reason"]) == ("Ava", False, None)


def test_a_late_amazon_custom_file_replaces_its_placeholder(runner_without_ai, clean_db):
    _, [item] = add_order(clean_db, marketplace="amazon", order_number="202-9-9", items=[
        {"quantity": 2, "line_item_key": "AIK-9", "options": opts(CustomizedURL="https://x/9")}])
    add_amazon_custom(clean_db, amazon_order_id="202-9-9", amazon_order_item_id="AIK-9", status="failed",
                      error="DownloadError: 503")
    runner_without_ai.run()
    placeholder = one(clean_db, item)
    assert placeholder["source"] == "placeholder" and placeholder["needs_review"]

    with clean_db.begin() as conn:  # a later raw/amazon_customizations run downloads it at last
        conn.execute(sa.text("UPDATE amazon_customizations SET status = 'processed', custom_text = 'Max', "
                             "color_1 = 'Black', font = 'Lobster', error = NULL, order_item_id = :item, "
                             "updated_at = now()"), {"item": item})
    metadata, _, _ = runner_without_ai.run(partition=LATER)
    replaced = one(clean_db, item)
    assert (replaced["id"], replaced["source"], replaced["custom_text"], replaced["color_1"], replaced["quantity"],
            replaced["needs_review"]) == (placeholder["id"], "amazon_customization", "Max", "Black", 2, False)
    assert metadata["tasks_updated"] == 1


def test_a_palette_change_rechecks_pending_tasks_only(runner_without_ai, clean_db):
    _, [mine, theirs] = add_order(clean_db, items=[{"options": opts(Name="Ava", Color="Bone White")},
                                                   {"options": opts(Name="Leo", Color="Bone White")}])
    runner_without_ai.run()
    person_edits(clean_db, one(clean_db, theirs)["id"], status="in_progress")
    palette = ["Black", "White", "Red"]
    metadata, _, _ = runner_without_ai.run(partition=LATER, config={"palette": palette})
    rechecked = one(clean_db, mine)
    assert rechecked["needs_review"] and "Colour 'Bone White' is not in the palette" in rechecked["review_reason"]
    assert not one(clean_db, theirs)["needs_review"]  # started work is never re-reviewed
    assert metadata["items_by_reason"] == {"rules changed": 1}
    metadata, _, _ = runner_without_ai.run(partition=LATER, config={"palette": palette})
    assert metadata["tasks_updated"] == 0 and metadata["orders_with_work"] == 0


def test_ai_placeholders_are_retried_with_backoff(runner_without_ai, runner, clean_db):
    _, [item] = add_order(clean_db, items=[{"quantity": 2, "options": opts(Personalization="ava & leo",
                                                                            Color="Red")}])
    runner_without_ai.run()
    placeholder = one(clean_db, item)
    assert placeholder["source"] == "placeholder" and placeholder["attempts"] == 1
    assert dt.timedelta(minutes=14) < placeholder["retry_at"] - placeholder["updated_at"] < dt.timedelta(minutes=16)

    runner.run(partition=LATER)  # the AI is configured now, but the retry is not due yet
    assert one(clean_db, item)["source"] == "placeholder"
    person_edits(clean_db, placeholder["id"], retry_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    metadata, _, _ = runner.run(partition=LATER)
    resolved = tasks(clean_db, item)
    assert [(t["custom_text"], t["source"]) for t in resolved] == [("Ava", "ai"), ("Leo", "ai")]
    assert all(t["retry_at"] is None and t["attempts"] == 0 for t in resolved)
    # "ava & leo" for two keyrings may be one couple's text on each: the split is flagged, not trusted
    assert all("AI split 'ava & leo' into separate tasks" in t["review_reason"] for t in resolved)
    assert metadata["items_by_reason"] == {"retry": 1}


def test_clear_all_rebuilds_pending_tasks_everywhere_and_keeps_started_work(runner_without_ai, clean_db):
    _, [a] = add_order(clean_db, items=[{"options": opts(Name="Ava", Color="Red")}])
    _, [b] = add_order(clean_db, items=[{"options": opts(Name="Leo", Color="Red")}])
    runner_without_ai.run()
    person_edits(clean_db, one(clean_db, b)["id"], status="in_progress")
    before = {t["id"] for t in tasks(clean_db)}

    preview, _, _ = runner_without_ai.run(partition=LATER, config={"clear_all": True, "dry_run": True})
    assert (preview["tasks_removed"], preview["tasks_created"]) == (1, 1) and {t["id"] for t in tasks(clean_db)} == before
    assert [(c["text"], c["qty"]) for c in preview["clear_all_would_delete"]] == [("Ava", 1)]

    metadata, _, _ = runner_without_ai.run(partition=LATER, config={"clear_all": True})
    assert metadata["tasks_removed"] == 1 and metadata["tasks_created"] == 1
    assert one(clean_db, a)["custom_text"] == "Ava" and one(clean_db, a)["id"] not in before
    assert one(clean_db, b)["status"] == "in_progress" and one(clean_db, b)["id"] in before


def test_a_person_editing_during_a_run_is_never_overwritten(clean_db):
    _, [item] = add_order(clean_db, items=[{"options": opts(Name="Ava")}])
    order = OrderRow(1, "X", "etsy", "awaiting_shipment", None, None, None)
    draft = TaskDraft(order_id=tasks_order(clean_db, item), order_item_id=item, product_id=None, task_index=0,
                      custom_text="Ava", color_1=None, color_2=None, quantity=1, needs_review=False, review_reason=None,
                      annotation=None, source="item_options", input_hash="h1", ship_by_date=None)
    with clean_db.begin() as conn:
        repo.TaskWriter(conn, order, "run-1").create(draft, "new item")
    with clean_db.connect() as conn:
        [loaded] = repo.load_orders(conn, [draft.order_id])[0].items[0].existing_tasks
    assert loaded.ours
    person_edits(clean_db, loaded.id, custom_text="Ava-May")  # after the run loaded the row, before it writes
    replacement = dataclasses.replace(draft, custom_text="Zoe", input_hash="h2")
    with clean_db.begin() as conn:
        writer = repo.TaskWriter(conn, order, "run-2")
        assert writer.rewrite(loaded, replacement, "inputs changed") == "protected"
    assert one(clean_db, item)["custom_text"] == "Ava-May"


def tasks_order(engine, item_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT order_id FROM order_items WHERE id = :id"), {"id": item_id}).scalar_one()


def test_legacy_knobs_are_the_run_config_defaults(monkeypatch):
    """The legacy variables reach the shop resource (as the definitions build it) and are run config's defaults."""
    monkeypatch.setenv("CREATE_PLACEHOLDER_ON_AI_ERROR", "false")
    monkeypatch.setenv("ORDER_PROCESSING_LIMIT", "10")
    monkeypatch.setenv("AI_CALL_DELAY_MS", "100")
    env = ShopSettings.from_env()
    options = PrintTasksConfig().run_options(env)
    assert (options.create_placeholders, options.limit, options.ai_call_delay_ms) == (False, 10, 100)
    overridden = PrintTasksConfig(create_placeholders=True, limit=0, ai_call_delay_ms=0).run_options(env)
    assert (overridden.create_placeholders, overridden.limit, overridden.ai_call_delay_ms) == (True, None, 0)
    monkeypatch.delenv("CREATE_PLACEHOLDER_ON_AI_ERROR")
    monkeypatch.setenv("ORDER_PROCESSING_LIMIT", "")
    monkeypatch.setenv("AI_CALL_DELAY_MS", "")
    defaults = PrintTasksConfig().run_options(ShopSettings.from_env())
    assert (defaults.create_placeholders, defaults.limit, defaults.ai_call_delay_ms) == (True, None, 0)


def test_create_placeholder_on_ai_error_false_leaves_the_order_failed(runner_without_ai, clean_db):
    runner = Runner(runner_without_ai.instance, runner_without_ai.database, runner_without_ai.openai,
                    shop_resource(create_placeholders=False))
    add_order(clean_db, order_number="NEEDS-AI", items=[{"quantity": 3, "options": opts(Personalization="Ava, Leo")}])
    _, outcome, _ = runner.run(raise_on_error=False)
    assert outcome == "failed" and tasks(clean_db) == []


def test_task_history_from_the_command_line(runner_without_ai, clean_db, app_db_url):
    order_id, [item] = add_order(clean_db, order_number="HIST-1",
                                 items=[{"options": opts(Personalization="Eve", Color="Red")}])
    runner_without_ai.run()
    update_item(clean_db, item, options=opts(Personalization="Zed", Color="Red"))
    runner_without_ai.run(partition=LATER)
    out = subprocess.run([sys.executable, "-m", "y3d_pipeline.cli", "tasks", "history", "HIST-1"],
                         capture_output=True, text=True, env={"DATABASE_URL": app_db_url, "PATH": "/usr/bin:/bin"},
                         check=True).stdout
    assert "created" in out and "updated" in out and "text Eve → Zed" in out and "why: inputs changed" in out
    with clean_db.connect() as conn:
        assert [r["change"] for r in repo.task_history(conn, [str(order_id)])] == ["created", "updated"]
    assert PrintTask.__table__.c.order_item_id.nullable


def test_amazon_custom_downloads_keep_trying_until_the_ship_by_date(clean_db):
    from y3d_pipeline.db.models import AmazonCustomization
    from y3d_pipeline.sources.amazon.custom import store

    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    customs = AmazonCustomization.__table__
    for name, ship_in_days, last_try_hours_ago in (("due", 2, 7), ("waiting", 2, 0.1), ("too-late", -1, 7)):
        order_id, [item] = add_order(clean_db, marketplace="amazon", order_number=f"206-{name}",
                                     items=[{"line_item_key": name}])
        update_order(clean_db, order_id, ship_by_date=now + dt.timedelta(days=ship_in_days))
        with clean_db.begin() as conn:
            conn.execute(sa.insert(customs).values(
                amazon_order_id=f"206-{name}", amazon_order_item_id=name, order_item_id=item, status="failed",
                customized_url=f"https://x/{name}.zip", retry_count=8,
                last_attempt_at=now - dt.timedelta(hours=last_try_hours_ago)))
    with clean_db.connect() as conn:
        due = store.due_retries(conn, store.DEFAULT_MAX_RETRIES, exclude=[], now=now)
    # eight failures already: still tried while the order can ship, after a wait that grew to 6 h
    assert [c.amazon_order_item_id for c in due] == ["due"]

