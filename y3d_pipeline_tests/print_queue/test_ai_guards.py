"""The AI's answer is checked, not trusted.

Through the real print_tasks asset and the official openai client talking HTTP to the sandbox, which is told
(via /_sandbox/faults) to answer wrongly: each wrong answer must become a flagged task with a specific reason,
never an unflagged one, and never a database error. Plus the checks on hand-written answers (no HTTP).
"""

from __future__ import annotations

import pytest

from y3d_pipeline.print_queue import guards
from y3d_pipeline.print_queue.models import AiPersonalization, AmazonCustom, ItemRow, OrderRow
from y3d_pipeline.print_queue.palette import Palette
from y3d_pipeline.print_queue.validation import ValidationRules, build_item_tasks

from .factories import add_order, opts, tasks

THREE_NAMES = {"quantity": 3, "options": opts(Personalization="ava, leo and max", Color="Red")}


def test_a_correct_answer_is_accepted_unflagged(runner, clean_db):
    _, [item] = add_order(clean_db, items=[THREE_NAMES])
    runner.run()
    assert [(t["custom_text"], t["color_1"], t["quantity"], t["needs_review"]) for t in tasks(clean_db, item)] == [
        ("Ava", "Red", 1, False), ("Leo", "Red", 1, False), ("Max", "Red", 1, False)]


@pytest.mark.parametrize(("fault", "reason"), [
    ("invented_name", "AI text 'Bartholomew' not found in the order"),
    ("wrong_colour", "AI colour 'Black' is not asked for in the order"),
    ("wrong_quantity", "QUANTITY_MISMATCH ordered=3 parsed=4"),
    ("absurd_quantity", "AI quantity 3,000,000,000 is impossible for 3 ordered"),
    ("dropped_name", "the order also says 'max', which no task prints"),
])
def test_each_wrong_answer_is_flagged_with_its_reason(runner, clean_db, fresh_sandbox, fault, reason):
    _, [item] = add_order(clean_db, items=[THREE_NAMES])
    fresh_sandbox.set_faults("openai", fault, count=1)
    metadata, outcome, _ = runner.run()
    found = tasks(clean_db, item)
    assert outcome == "success" and found and metadata["ai_calls"] == 1
    assert any(reason in (t["review_reason"] or "") for t in found), [t["review_reason"] for t in found]
    assert all(t["needs_review"] for t in found if reason in (t["review_reason"] or "")) or fault in (
        "wrong_quantity", "dropped_name")
    if fault in ("wrong_quantity", "dropped_name", "absurd_quantity"):  # an item-level fault flags every task
        assert all(t["needs_review"] for t in found)
    assert all(0 < t["quantity"] <= 3 for t in found)  # never an overflow, never more than ordered


def answer(text, colour="Red", quantity=1, **kw) -> AiPersonalization:
    return AiPersonalization(custom_text=text, color_1=colour, color_2=kw.get("colour_2"), quantity=quantity,
                             needs_review=kw.get("needs_review", False), review_reason=kw.get("review_reason"),
                             annotation=None)


def check(options, quantity, answers, *, notes=None, custom=None):
    order = OrderRow(1, "1001", "etsy", "awaiting_shipment", None, notes, None)
    item = ItemRow(7, 1, None, "Y3D-KEY", "Keyring", quantity, options, None, amazon_custom=custom)
    return guards.check_answer(order, item, answers, palette=Palette())


def task_reasons(options, quantity, answers) -> str:
    """The review reasons of the tasks an answer becomes (guards, then the checks every task passes)."""
    order = OrderRow(1, "1001", "etsy", "awaiting_shipment", None, None, None)
    item = ItemRow(7, 1, None, "Y3D-KEY", "Keyring", quantity, options, None)
    checked = guards.check_answer(order, item, answers, palette=Palette())
    drafts = build_item_tasks(order, item, checked, source="ai", input_hash="h", rules=ValidationRules(Palette()))
    return "; ".join(d.review_reason or "" for d in drafts)


def test_printed_text_is_the_buyers_own_characters():
    [p] = check(opts(Personalization="Zoë-Mai O’Neill x2", Colour="Pink"), 2, [answer("zoe mai o'neill", "Pink", 2)])
    assert (p.custom_text, p.review_reasons) == ("Zoë-Mai O’Neill", [])


def test_a_correction_in_the_notes_is_an_input_but_the_conflict_is_shown():
    [p] = check(opts(Personalization="Eve", Color="Red"), 1, [answer("Zed")], notes="Sorry typo, should be Zed")
    # "Zed" comes from the buyer's notes; the option still says Eve, so a person confirms the model's choice
    assert (p.custom_text, p.review_reasons) == ("Zed", ["the order also says 'eve', which no task prints"])


def test_amazon_custom_text_is_an_input():
    custom = AmazonCustom("processed", "Ollie (Blue)", "Blue", None, None, None)
    [p] = check(opts(CustomizedURL="https://x"), 1, [answer("Ollie", "Blue")], custom=custom)
    assert (p.custom_text, p.review_reasons) == ("Ollie", [])


@pytest.mark.parametrize(("options", "quantity", "answers", "expected"), [
    (opts(Personalization="Olivia x2"), 2, [answer("Olivia x2", None, 2)], "it contains a quantity"),
    (opts(Personalization="N/A", Color="Red"), 1, [answer("N/A")], "is not a text to print"),
    (opts(Personalization="Name: Olivia", Color="Red"), 1, [answer("Name: Olivia")], "a label"),
    (opts(Personalization="Olivia Pink"), 1, [answer("Olivia Pink", "Pink")], "it names a colour"),
    (opts(Personalization="tom & ann", Color="Red"), 2, [answer("Tom"), answer("Ann")],
     "AI split 'tom & ann' into separate tasks"),
    (opts(Personalization="Sam", Color="Random"), 1, [answer("Sam", "Purple")],
     "AI colour 'Purple' is not asked for"),
    (opts(Personalization="Ava", Color="Red"), 1, [answer("Ava", quantity=-3)], None),
    # found by the holdout corpus: each shape an answer can take that reads right but is not
    (opts(Personalization="Ava in pink and Leo in blue"), 2, [answer("Ava", "Blue"), answer("Leo", "Pink")],
     "the buyer wrote Pink beside 'Ava' but its task is Blue"),
    (opts(Personalization="Sophie (pink)", Color="Blue"), 1, [answer("Sophie", "Blue")],
     "the buyer's text names Pink but no task is in that colour"),
    (opts(Name="Ava", Colour="Pink", **{"Letter colour": "White"}), 1, [answer("Ava", "Pink")],
     "the order names White"),
    (opts(Name="Ava", Surname="Smith", Colour="Pink"), 1, [answer("Ava", "Pink")], "the order also says 'smith'"),
    (opts(Personalization="Ava Leo Max", Color="Red"), 3, [answer("Ava Leo Max", quantity=3)],
     "AI kept 'Ava Leo Max' as one text on all 3 items"),
    (opts(Personalization="Ava\nLeo", Color="Red"), 1, [answer("Ava\nLeo")], "AI kept the 2 lines"),
    (opts(Personalization="dj mike", Color="Red"), 1, [answer("Dj Mike")], "the buyer typed 'dj' in lower case"),
    (opts(Personalization="Sophie x", Color="Red"), 1, [answer("Sophie x")], "kisses"),
    (opts(Personalization="As per message", Color="Red"), 1, [answer("As per message")], "is not a text to print"),
    (opts(Personalization="Surprise me!", Color="Red"), 1, [answer("Surprise me!")], "is not a text to print"),
    (opts(Personalization="For my daughter Ava", Color="Red"), 1, [answer("For my daughter Ava")],
     "it reads like an instruction ('for my')"),
    (opts(Personalization="Ava\nKind regards", Color="Red"), 2, [answer("Ava"), answer("Kind regards")],
     "another task of this item needs review"),
])
def test_answers_that_print_what_the_buyer_did_not_mean_are_flagged(options, quantity, answers, expected):
    reasons = task_reasons(options, quantity, answers)
    assert (expected or "Quantity -3 is not a positive number; set to 1") in reasons, reasons


def test_three_billion_never_reaches_the_integer_column(runner, clean_db, fresh_sandbox):
    _, [item] = add_order(clean_db, items=[{"quantity": 2, "options": opts(Personalization="Ava x2", Color="Red")}])
    fresh_sandbox.set_faults("openai", "absurd_quantity", count=1)
    metadata, outcome, _ = runner.run()
    [task] = tasks(clean_db, item)
    assert outcome == "success" and metadata["orders_failed"] == 0
    assert (task["custom_text"], task["quantity"], task["needs_review"]) == ("Ava", 2, True)
    assert "AI quantity 3,000,000,000 is impossible for 2 ordered" in task["review_reason"]
