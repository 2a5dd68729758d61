"""Hostile and malformed personalisation at the print-task stage: no crash, no lost order, never an
unflagged task for garbage. Real print_tasks runs on PostgreSQL (the AI ones against the sandbox over HTTP)."""

from __future__ import annotations

import pytest

from .factories import add_order, opts, tasks

HOSTILE_TEXTS = {
    "100k characters": "A" * 100_000,
    "right-to-left override": "Ava\u202eevil",
    "zero-width space": "Av\u200ba",
    "markup": "<script>alert(1)</script>",
    "sql": "Robert'); DROP TABLE print_tasks;--",
    "template": "{{7*7}} ${jndi:ldap://x}",
    "only spaces": "   \t  ",
    "emoji ZWJ sequence": "👨‍👩‍👧",
    "combining overload": "Z" + "\u0301" * 200,
}


@pytest.mark.parametrize("label", list(HOSTILE_TEXTS))
def test_hostile_text_options_are_flagged_never_printed_as_is(runner_without_ai, clean_db, label):
    _, [item] = add_order(clean_db, items=[{"options": opts(Personalization=HOSTILE_TEXTS[label], Color="Red")}])
    _, [control] = add_order(clean_db, items=[{"options": opts(Personalization="Ava", Color="Red")}])
    metadata, outcome, _ = runner_without_ai.run()
    assert outcome == "success" and metadata["orders_failed"] == 0
    found = tasks(clean_db, item)
    assert found and all(t["needs_review"] for t in found), [(t["custom_text"], t["review_reason"]) for t in found]
    assert all("\u202e" not in (t["custom_text"] or "") and "\x00" not in (t["review_reason"] or "") for t in found)
    assert [t["custom_text"] for t in tasks(clean_db, control)] == ["Ava"]  # the rest of the run goes through


@pytest.mark.parametrize("options", [
    [{"name": "Personalization", "value": 12345}, {"name": "Color", "value": "Red"}],
    [{"name": "Personalization", "value": ["Ava", "Leo"]}, {"name": "Color", "value": "Red"}],
    [{"name": None, "value": "Ava"}, {"name": "Color", "value": None}],
    [{"name": "Personalization", "value": {"nested": "Ava"}}],
])
def test_odd_option_values_are_read_as_text_and_flagged(runner_without_ai, clean_db, options):
    _, [item] = add_order(clean_db, items=[{"options": options}])
    _, outcome, _ = runner_without_ai.run()
    assert outcome == "success"
    assert all(t["needs_review"] for t in tasks(clean_db, item))


def test_options_that_are_not_a_list_fail_their_order_with_a_reason(runner_without_ai, clean_db):
    add_order(clean_db, order_number="NOT-A-LIST", items=[{"options": {"Personalization": "Ava"}}])
    add_order(clean_db, order_number="FINE", items=[{"options": opts(Personalization="Leo", Color="Red")}])
    metadata, outcome, _ = runner_without_ai.run()
    assert outcome == "partial_success"
    [failure] = metadata["failed_orders"]
    assert failure["order_number"] == "NOT-A-LIST" and "not a list" in failure["reason"]


@pytest.mark.parametrize("fault", ["absurd_quantity", "invented_name"])
def test_a_hostile_ai_answer_never_reaches_the_queue_unflagged(runner, clean_db, fresh_sandbox, fault):
    _, [item] = add_order(clean_db, items=[{"quantity": 2, "options": opts(Personalization="ava x2", Color="Red")}])
    fresh_sandbox.set_faults("openai", fault, count=1)
    metadata, outcome, _ = runner.run()
    assert outcome == "success" and metadata["orders_failed"] == 0
    found = tasks(clean_db, item)
    assert found and all(t["needs_review"] and 0 < t["quantity"] <= 2 for t in found)
