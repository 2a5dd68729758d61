"""print_queue/print_tasks end to end: real PostgreSQL, real Dagster runs, the sandbox's OpenAI over HTTP."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from y3d_pipeline.db.models import AiCall, PrintTask
from y3d_pipeline.defs.print_queue.assets import print_tasks
from y3d_pipeline.print_queue.prompt import PROMPT_VERSION

from .conftest import openai_requests
from .factories import IN_WINDOW, add_amazon_custom, add_order, add_task, count, opts, table_snapshot, tasks


def ai_calls(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(AiCall.__table__).order_by(AiCall.__table__.c.id)).mappings()]


# ------------------------------------------------------------------------------ deterministic paths, no AI


def test_each_deterministic_path_and_placeholders_without_ai(runner_without_ai, clean_db):
    _, [etsy_item] = add_order(clean_db, marketplace="etsy", items=[
        {"quantity": 2, "options": opts(Personalization="ava\nleo", Color="Navy")}])
    _, [amazon_item, waiting_item, failed_item] = add_order(clean_db, marketplace="amazon", order_number="202-1-1",
                                                            items=[
        {"quantity": 2, "line_item_key": "AIK-1", "options": opts(CustomizedURL="https://x/1")},
        {"quantity": 1, "line_item_key": "AIK-2", "options": opts(CustomizedURL="https://x/2")},
        {"quantity": 1, "line_item_key": "AIK-3", "options": opts(CustomizedURL="https://x/3")},
    ])
    add_amazon_custom(clean_db, amazon_order_id="202-1-1", amazon_order_item_id="AIK-1", custom_text="Max",
                      color_1="Gray", font="Pacifico")
    add_amazon_custom(clean_db, amazon_order_id="202-1-1", amazon_order_item_id="AIK-2", status="pending")
    add_amazon_custom(clean_db, amazon_order_id="202-1-1", amazon_order_item_id="AIK-3", status="failed",
                      error="zip had no JSON")
    _, [ai_item] = add_order(clean_db, marketplace="etsy", items=[
        {"quantity": 3, "options": opts(Personalization="Ava, Leo", Color="Red")}])
    add_order(clean_db, status="shipped", items=[{"options": opts(Personalization="Shipped")}])
    add_order(clean_db, modified_at=IN_WINDOW.replace(day=10), items=[{"options": opts(Personalization="Old")}])

    metadata, outcome, _ = runner_without_ai.run()

    assert [(t["custom_text"], t["color_1"], t["quantity"], t["source"], t["needs_review"])
            for t in tasks(clean_db, etsy_item)] == [("Ava", "Dark Blue", 1, "item_options", False),
                                                     ("Leo", "Dark Blue", 1, "item_options", False)]
    [amazon] = tasks(clean_db, amazon_item)
    assert (amazon["custom_text"], amazon["color_1"], amazon["quantity"], amazon["source"], amazon["annotation"]) == (
        "Max", "Grey", 2, "amazon_customization", "Font: Pacifico")
    assert tasks(clean_db, waiting_item) == []  # not parsed yet: left for the next run, no AI
    [failed] = tasks(clean_db, failed_item)
    assert (failed["source"], failed["needs_review"], failed["review_reason"]) == (
        "placeholder", True, "Amazon customization not parsed yet: zip had no JSON")
    [placeholder] = tasks(clean_db, ai_item)
    assert (placeholder["source"], placeholder["quantity"], placeholder["needs_review"]) == ("placeholder", 3, True)
    # "Ava, Leo" for 3 keyrings cannot be read one way: the reason says why, and that no AI could help
    assert placeholder["review_reason"] == ("Not readable without the AI (a list separator ','); "
                                            "AI extraction is not configured (OPENAI_API_KEY unset)")

    assert outcome == metadata["outcome"] == "success"
    assert metadata["orders_considered"] == 3
    assert metadata["items_by_source"] == {"item_options": 1, "amazon_customization": 1, "placeholder": 2}
    assert metadata["items_deferred_amazon_custom"] == 1
    assert metadata["tasks_created"] == 5
    assert metadata["items_flagged_for_review"] == 2
    assert metadata["ai_configured"] is False and metadata["ai_calls"] == 0


def test_no_orders_in_the_window(runner_without_ai, clean_db):
    metadata, outcome, _ = runner_without_ai.run()
    assert outcome == "success_no_orders" and metadata["orders_considered"] == 0


def test_dry_run_writes_nothing_and_previews(runner_without_ai, clean_db):
    add_order(clean_db, items=[{"options": opts(Personalization="Ava", Color="Tartan")}])
    metadata, _, _ = runner_without_ai.run(config={"dry_run": True})
    assert count(clean_db, PrintTask.__table__) == 0 and count(clean_db, AiCall.__table__) == 0
    assert metadata["dry_run"] is True and metadata["tasks_created"] == 1
    assert "Colour 'Tartan' is not in the palette" in metadata["preview"]


def test_order_ids_select_outside_the_window_and_explain_skips(runner_without_ai, clean_db):
    add_order(clean_db, order_number="WANTED", modified_at=IN_WINDOW.replace(month=1),
              items=[{"options": opts(Name="Ava")}])
    add_order(clean_db, order_number="DONE", status="shipped", items=[{"options": opts(Name="Leo")}])
    add_order(clean_db, order_number="OTHER", items=[{"options": opts(Name="Max")}])
    metadata, _, _ = runner_without_ai.run(config={"order_ids": ["WANTED", "DONE", "NOPE"]})
    assert [t["custom_text"] for t in tasks(clean_db)] == ["Ava"]
    assert set(metadata["order_ids_skipped"]) == {"DONE", "NOPE"}


def test_one_broken_order_does_not_block_the_others(runner_without_ai, clean_db):
    add_order(clean_db, order_number="BROKEN", items=[{"options": {"Name": "not a list"}}])
    add_order(clean_db, order_number="FINE", items=[{"options": opts(Name="Ava")}])
    metadata, outcome, _ = runner_without_ai.run()
    assert outcome == metadata["outcome"] == "partial_success"
    assert [f["order_number"] for f in metadata["failed_orders"]] == ["BROKEN"]
    assert [t["custom_text"] for t in tasks(clean_db)] == ["Ava"]


def test_force_recreate_replaces_pending_only(runner_without_ai, clean_db):
    order_id, [pending_item, started_item] = add_order(clean_db, items=[
        {"options": opts(Name="New"), "quantity": 1}, {"options": opts(Name="New"), "quantity": 1}])
    add_task(clean_db, order_id=order_id, item_id=pending_item, custom_text="Old")
    add_task(clean_db, order_id=order_id, item_id=pending_item, task_index=1, custom_text="Surplus")
    add_task(clean_db, order_id=order_id, item_id=started_item, custom_text="Old", status="in_progress")

    # Rows the pipeline did not write (no fingerprint) are a person's: left alone, however their item reads.
    metadata, _, _ = runner_without_ai.run()
    assert metadata["tasks_kept"] == 3 and metadata["tasks_created"] == 0

    metadata, _, _ = runner_without_ai.run(config={"force_recreate": True})
    assert [t["custom_text"] for t in tasks(clean_db, pending_item)] == ["New"]
    assert [(t["custom_text"], t["status"]) for t in tasks(clean_db, started_item)] == [("Old", "in_progress")]
    assert metadata["tasks_updated"] == 1 and metadata["tasks_removed"] == 1
    assert metadata["tasks_kept"] == 1


def test_task_status_sync_closes_tasks_of_orders_that_left(runner_without_ai, clean_db):
    shipped, [s_item] = add_order(clean_db, status="shipped", items=[{"quantity": 2}])
    cancelled, [c_item] = add_order(clean_db, status="cancelled", items=[{}])
    waiting, [w_item] = add_order(clean_db, items=[{}])
    add_task(clean_db, order_id=shipped, item_id=s_item, status="in_progress")
    add_task(clean_db, order_id=shipped, item_id=s_item, task_index=1, status="pending")
    add_task(clean_db, order_id=cancelled, item_id=c_item, status="pending")
    add_task(clean_db, order_id=waiting, item_id=w_item, status="pending")
    started, [started_item] = add_order(clean_db, status="cancelled", items=[{}])
    add_task(clean_db, order_id=started, item_id=started_item, status="in_progress", custom_text="Half done")
    assert runner_without_ai.sync_statuses() == {"tasks_completed": 2, "tasks_cancelled": 1,
                                                 "tasks_flagged_started_on_cancelled_orders": 1}
    assert [t["status"] for t in tasks(clean_db)] == ["completed", "completed", "cancelled", "pending", "in_progress"]
    [half_done] = tasks(clean_db, started_item)  # a person's work in progress is flagged, never silently closed
    assert half_done["needs_review"] and "Order cancelled after printing started" in half_done["review_reason"]
    assert runner_without_ai.sync_statuses() == {"tasks_completed": 0, "tasks_cancelled": 0,
                                                 "tasks_flagged_started_on_cancelled_orders": 0}


# ------------------------------------------------------------------------------ the AI path (sandbox)


def ambiguous_orders(engine) -> tuple[int, int]:
    _, [etsy_item] = add_order(engine, marketplace="etsy", items=[
        {"quantity": 3, "options": opts(Personalization="ava, leo", Color="Red")}])
    notes = "Personalisation:\nItem ID: 1101 Variation: Color=Pink\nText: Mia\n\nSorry, typo above"
    _, [other_item] = add_order(engine, marketplace="web", customer_notes=notes, items=[
        {"quantity": 1, "options": opts(Colour="Blue")}])
    return etsy_item, other_item


def test_ai_resolves_what_options_cannot_and_logs_the_call(runner, clean_db, fresh_sandbox):
    etsy_item, other_item = ambiguous_orders(clean_db)
    metadata, outcome, result = runner.run()

    assert [(t["custom_text"], t["quantity"], t["source"]) for t in tasks(clean_db, etsy_item)] == [
        ("Ava", 2, "ai"), ("Leo", 1, "ai")]
    [from_notes] = tasks(clean_db, other_item)  # text only in free-form notes: the model reads it
    assert (from_notes["custom_text"], from_notes["color_1"], from_notes["source"]) == ("Mia", "Blue", "ai")

    calls = ai_calls(clean_db)
    assert len(calls) == 2 and all(c["success"] for c in calls)
    assert {c["prompt_version"] for c in calls} == {PROMPT_VERSION}
    assert all(c["tokens_in"] > 0 and c["tokens_out"] > 0 and c["raw_response"] for c in calls)
    assert all(c["run_id"] == result.run_id and c["model"] == "gpt-4.1-mini" for c in calls)
    assert sorted(c["tasks_created"] for c in calls) == [1, 2]
    assert metadata["ai_calls"] == 2 and metadata["ai_tokens_in"] > 0 and outcome == "success"
    assert openai_requests(fresh_sandbox) == 2


def test_second_run_makes_no_calls_and_no_changes(runner, clean_db, fresh_sandbox):
    ambiguous_orders(clean_db)
    runner.run()
    before, calls_before = table_snapshot(clean_db), openai_requests(fresh_sandbox)
    metadata, _, _ = runner.run()
    assert openai_requests(fresh_sandbox) == calls_before
    assert table_snapshot(clean_db) == before
    assert metadata["ai_calls"] == 0 and metadata["tasks_created"] == 0 and metadata["tasks_updated"] == 0

    # Forced, with unchanged inputs: the logged reply is reused, nothing is paid for or changed.
    metadata, _, _ = runner.run(config={"force_recreate": True})
    assert openai_requests(fresh_sandbox) == calls_before
    assert metadata["ai_cache_hits"] == 2 and metadata["tasks_updated"] == 0
    assert table_snapshot(clean_db) == before


def test_quantity_mismatch_from_the_model_flags_every_task(runner, clean_db, fresh_sandbox):
    _, [item] = add_order(clean_db, items=[{"quantity": 2, "options": opts(Personalization="Ava, Leo, Max")}])
    fresh_sandbox.set_faults("openai", "wrong_quantity", count=1)
    runner.run()
    found = tasks(clean_db, item)
    assert len(found) == 3  # never dropped
    assert all(t["needs_review"] and "QUANTITY_MISMATCH ordered=2 parsed=4" in t["review_reason"] for t in found)


def test_malformed_reply_gives_placeholders_not_a_crash(runner, clean_db, fresh_sandbox):
    _, [item] = add_order(clean_db, items=[{"quantity": 2, "options": opts(Personalization="Ava, Leo, Max")}])
    fresh_sandbox.set_openai(malformed_rate=1.0)
    metadata, outcome, _ = runner.run()
    [placeholder] = tasks(clean_db, item)
    assert placeholder["source"] == "placeholder" and placeholder["quantity"] == 2 and placeholder["needs_review"]
    assert "AI extraction failed: malformed reply" in placeholder["review_reason"]
    [call] = ai_calls(clean_db)
    assert call["success"] is False and call["raw_response"] and call["error"].startswith("malformed reply")
    assert metadata["ai_calls_failed"] == 1 and outcome == "success"


def test_rate_limits_are_retried(runner, clean_db, fresh_sandbox):
    _, [item] = add_order(clean_db, items=[{"quantity": 2, "options": opts(Personalization="Ava, Leo, Max")}])
    fresh_sandbox.set_faults("openai", "429", count=2)
    runner.run()
    [call] = ai_calls(clean_db)
    assert call["success"] and call["request"]["attempts"] == 3
    assert {t["source"] for t in tasks(clean_db, item)} == {"ai"}


def test_dry_run_makes_no_paid_calls_unless_asked(runner, clean_db, fresh_sandbox):
    ambiguous_orders(clean_db)
    metadata, _, _ = runner.run(config={"dry_run": True})
    assert openai_requests(fresh_sandbox) == 0 and metadata["items_awaiting_ai"] == 2
    metadata, _, _ = runner.run(config={"dry_run": True, "dry_run_calls_ai": True})
    assert openai_requests(fresh_sandbox) == 2 and metadata["tasks_created"] == 3
    assert count(clean_db, PrintTask.__table__) == 0 and count(clean_db, AiCall.__table__) == 0


def test_limit_caps_the_orders_with_work(runner_without_ai, clean_db):
    for name in ("Ava", "Leo", "Max"):
        add_order(clean_db, items=[{"options": opts(Name=name)}])
    metadata, _, _ = runner_without_ai.run(config={"limit": 2})
    assert metadata["orders_processed"] == 2 and len(tasks(clean_db)) == 2
    metadata, _, _ = runner_without_ai.run(config={"limit": 2})  # the next run picks up the rest
    assert metadata["orders_processed"] == 1 and len(tasks(clean_db)) == 3


def test_all_orders_failing_fails_the_run_with_its_outcome_tag(runner_without_ai, clean_db):
    add_order(clean_db, order_number="BROKEN", items=[{"options": {"Name": "not a list"}}])
    _, outcome, result = runner_without_ai.run(raise_on_error=False)
    assert not result.success and outcome == "failed"


def test_a_backfill_range_runs_once_over_the_whole_window(runner_without_ai, clean_db):
    add_order(clean_db, modified_at=IN_WINDOW.replace(day=18), items=[{"options": opts(Name="Ava")}])
    add_order(clean_db, modified_at=IN_WINDOW.replace(day=19), items=[{"options": opts(Name="Leo")}])
    add_order(clean_db, modified_at=IN_WINDOW.replace(day=21), items=[{"options": opts(Name="Max")}])
    result = dg.materialize(
        [print_tasks], instance=runner_without_ai.instance,
        resources={"database": runner_without_ai.database, "openai": runner_without_ai.openai,
                   "shop": runner_without_ai.shop},
        tags={"dagster/asset_partition_range_start": "2026-11-18", "dagster/asset_partition_range_end": "2026-11-20"},
    )
    assert result.success
    assert sorted(t["custom_text"] for t in tasks(clean_db)) == ["Ava", "Leo"]
