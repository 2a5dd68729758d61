"""The plain rules: palette, text normalisation, option readers, validation. No database."""

from __future__ import annotations

import pytest

from y3d_pipeline.personalization import options as readers
from y3d_pipeline.personalization.ai import parse_reply
from y3d_pipeline.personalization.models import AmazonCustom, ItemRow, OrderRow, Personalization
from y3d_pipeline.personalization.palette import Palette
from y3d_pipeline.personalization.validation import ValidationRules, build_item_tasks, normalize_text

from .factories import opts

PALETTE = Palette()
RULES = ValidationRules(PALETTE, max_text_length=40)


def item(quantity: int = 1, options=None, **kw) -> ItemRow:
    return ItemRow(id=7, order_id=1, product_id=None, sku=kw.pop("sku", "Y3D-KEY-NAME-S"), name=kw.pop("name", "Keyring"),
                   quantity=quantity, options=options or [], line_item_key=kw.pop("line_item_key", None), **kw)


def order(**kw) -> OrderRow:
    return OrderRow(id=1, order_number="1001", marketplace=kw.get("marketplace", "etsy"), status="awaiting_shipment",
                    shipstation_order_id=None, customer_notes=kw.get("notes"), ship_by_date=None)


@pytest.mark.parametrize(("written", "expected", "problem"), [
    ("Red", "Red", None), ("BLACK", "Black", None), ("light blue", "Light Blue", None),
    ("Navy", "Dark Blue", None), ("Gray", "Grey", None), ("Lilac", "Purple", None), ("Hot Pink", "Pink", None),
    ("Colour: Gold", "Gold", None), ("", None, None), (None, None, None),
    ("Random", None, "Colour 'Random' is not a choice: pick one from the palette"),
    ("Tartan", None, "Colour 'Tartan' is not in the palette"),
])
def test_palette_normalises_variants_and_explains_unknowns(written, expected, problem):
    assert PALETTE.normalize(written) == (expected, problem)


def test_a_configured_palette_rejects_colours_outside_it():
    assert Palette(["Black", "White"]).normalize("Red") == (None, "Colour 'Red' is not in the palette")
    assert Palette(["Black", "Dark Blue"]).normalize("navy") == ("Dark Blue", None)


@pytest.mark.parametrize(("text", "regkey", "expected"), [
    ("olivia smith", False, "Olivia Smith"), ("ana-maría o'neill", False, "Ana-María O'Neill"),
    ("DJ Max", False, "DJ Max"), ("McDonald", False, "McDonald"), ("  Mia   Rose ", False, "Mia Rose"),
    ("ab12 cde", True, "AB12 CDE"), ("harper", True, "Harper"), ("zoë", False, "Zoë"),
])
def test_text_is_title_cased_only_when_typed_in_lower_case(text, regkey, expected):
    assert normalize_text(text, regkey=regkey) == expected


@pytest.mark.parametrize(("text", "quantity", "expected"), [
    ("Ava", 3, ["Ava"]), ("Ava\nLeo", 2, ["Ava", "Leo"]), ("Ava, Leo and Max", 3, ["Ava", "Leo", "Max"]),
    ("Ava and Leo", 2, ["Ava", "Leo"]), ("Ava, Leo", 3, None), ("Ava\nLeo\nMax", 2, None),
    ("Happy Birthday, Mum", 1, ["Happy Birthday, Mum"]),
])
def test_names_split_only_when_they_match_the_quantity(text, quantity, expected):
    assert readers.split_names(text, quantity) == expected


def test_etsy_options_resolve_with_secondary_colour():
    res = readers.from_item_options(item(options=opts(Personalization="Ava", Color="Pink",
                                                      **{"Secondary color": "White"})))
    assert [(p.custom_text, p.color_1, p.color_2, p.quantity) for p in res.personalizations] == [
        ("Ava", "Pink", "White", 1)]


def test_shopify_attributes_ignore_private_keys():
    res = readers.from_item_options(item(2, options=opts(Name="Ava, Leo", **{"Colour 1": "Red", "_cart_token": "x"})))
    assert [(p.custom_text, p.quantity) for p in res.personalizations] == [("Ava", 1), ("Leo", 1)]


def test_ambiguous_names_are_left_for_the_ai():
    assert readers.from_item_options(item(3, options=opts(Personalization="Ava, Leo"))) is None
    assert readers.from_item_options(item(1, options=opts(Color="Red"))) is None


def test_amazon_surface_prefixed_options_are_read():
    res = readers.from_item_options(item(options=opts(**{"(Surface 1) Name or Text": "Leo", "Colour": "Blue"})))
    assert res.personalizations[0].custom_text == "Leo"


def test_ebay_note_blocks_match_items_by_listing_id():
    notes = ("Personalisation:\nItem ID: 1101 Variation: Color=Navy\nText: Ava\nLeo\n\n"
             "Personalisation:\nItem ID: 1102 Variation: Color=Red\nText: Max")
    o = order(marketplace="ebay", notes=notes)
    first = readers.from_ebay_notes(o, item(2, options=opts(Color="Navy"), line_item_key="1101-555"))
    second = readers.from_ebay_notes(o, item(1, options=opts(Color="Red"), line_item_key="1102-556"))
    assert [(p.custom_text, p.color_1, p.quantity) for p in first.personalizations] == [("Ava", "Navy", 1),
                                                                                        ("Leo", "Navy", 1)]
    assert second.personalizations[0].custom_text == "Max"
    assert readers.from_ebay_notes(o, item(1, line_item_key="9999-1")) is None


def test_amazon_custom_gives_one_task_for_the_whole_quantity():
    custom = AmazonCustom("processed", "Leo", "Blue", None, "Pacifico", None)
    res = readers.from_amazon_custom(item(3), custom)
    assert [(p.custom_text, p.quantity, p.annotation) for p in res.personalizations] == [("Leo", 3, "Font: Pacifico")]
    assert readers.from_amazon_custom(item(3), AmazonCustom("pending", None, None, None, None, None)) is None


def build(quantity, personalizations, **kw):
    return build_item_tasks(order(), item(quantity, **kw), personalizations, source="ai", input_hash="h",
                            rules=RULES)


def test_quantity_mismatch_flags_every_task_and_drops_none():
    drafts = build(3, [Personalization("Ava", "Red", None, 1), Personalization("Leo", "Red", None, 1)])
    assert len(drafts) == 2
    assert all(d.needs_review and d.review_reason.startswith("QUANTITY_MISMATCH ordered=3 parsed=2")
               for d in drafts)


def test_review_reasons_are_specific():
    drafts = build(3, [Personalization("Mia 🦄", "Tartan", None, 1), Personalization("", "Red", None, 1),
                       Personalization("x" * 41, "Red", None, 1)])
    reasons = [d.review_reason for d in drafts]
    assert "Text contains emoji 🦄 which cannot be printed" in reasons[0]
    assert "Colour 'Tartan' is not in the palette" in reasons[0]
    assert drafts[0].color_1 is None
    assert reasons[1] == "No personalisation text found"
    [no_colour] = build(1, [Personalization("Ava", None, None, 1)])
    assert no_colour.needs_review and no_colour.review_reason == "No colour given"
    assert reasons[2] == "Text is 41 characters, over the printable 40"


def test_clean_personalization_needs_no_review_and_normalises():
    [draft] = build(2, [Personalization("olivia", "navy", "Gray", 2)])
    assert (draft.custom_text, draft.color_1, draft.color_2, draft.needs_review, draft.review_reason) == (
        "Olivia", "Dark Blue", "Grey", False, None)


def test_regkey_text_is_upper_case():
    [draft] = build(1, [Personalization("ab12 cde", "Black", None, 1)], sku="Y3D-REGKEY-S")
    assert draft.custom_text == "AB12 CDE"


def test_ai_reply_parses_with_or_without_a_fence_and_rejects_garbage():
    body = ('{"items":[{"item_id":"7","personalizations":[{"custom_text":"Ava","color_1":"Red","color_2":null,'
            '"quantity":1,"needs_review":false,"review_reason":null,"annotation":null}]}]}')
    assert parse_reply(body).items[0].item_id == "7"
    assert parse_reply(f"```json\n{body}\n```").items[0].personalizations[0].custom_text == "Ava"
    with pytest.raises(ValueError):
        parse_reply('{"items": [{"item_id": "7"')
