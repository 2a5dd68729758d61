"""The plain rules: palette, text normalisation, option readers, validation. No database."""

from __future__ import annotations

import pytest

from y3d_pipeline.print_queue import options as readers
from y3d_pipeline.print_queue.ai import parse_reply
from y3d_pipeline.print_queue.models import AmazonCustom, ItemRow, OrderRow, Personalization
from y3d_pipeline.print_queue.palette import Palette
from y3d_pipeline.print_queue.validation import ValidationRules, build_item_tasks, normalize_text

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
    ("tom and ann", False, "Tom and Ann"), ("the house of smith", False, "The House of Smith"),
    ("happy birthday\ngrandad", False, "Happy Birthday\nGrandad"),
])
def test_text_is_title_cased_only_when_typed_in_lower_case(text, regkey, expected):
    assert normalize_text(text, regkey=regkey) == expected


@pytest.mark.parametrize(("text", "quantity", "expected"), [
    ("Ava", 3, ("Ava",)), ("Ava\nLeo", 2, ("Ava", "Leo")), ("Happy Birthday Mum", 1, ("Happy Birthday Mum",)),
    ("Tom & Ann", 1, ("Tom & Ann",)),  # one couple's text for one keyring
    # lists are never split by a reader: the AI (or a person) decides whether they are one text or several
    ("Ava, Leo and Max", 3, None), ("Ava and Leo", 2, None), ("Ava, Leo", 3, None), ("Ava\nLeo\nMax", 2, None),
    ("Tom & Ann", 2, None), ("Smith, John", 1, None), ("Happy Birthday, Mum", 1, None),
    # found by the holdout corpus: never a plain text, whatever it looks like
    ("Ava Leo Max", 3, None), ("Sophie x", 1, None), ("Sophie xx", 1, None), ("Ava Rose twice", 2, None),
    ("Ava.", 1, None), ("dj mike", 1, None), ("mckenzie", 1, None), ("Plain", 1, None), ("Leave it blank", 1, None),
    ("As per message", 1, None), ("Surprise me!", 1, None), ("Ava\nKind regards", 2, None),
    ("Jack R.", 1, ("Jack R.",)), ("St. Ives", 1, ("St. Ives",)), ("Mr & Mrs Patel", 1, ("Mr & Mrs Patel",)),
])
def test_text_splits_only_one_name_per_line_matching_the_quantity(text, quantity, expected):
    reading = readers.buyer_text.read_text(text, quantity)
    assert (reading.texts if not reading.problem else None) == expected


def resolved(reading) -> list[tuple]:
    assert isinstance(reading, readers.Resolution), reading
    return [(p.custom_text, p.color_1, p.color_2, p.quantity) for p in reading.personalizations]


def test_etsy_options_resolve_with_secondary_colour():
    res = readers.from_item_options(order(), item(options=opts(Personalization="Ava", Color="Pink",
                                                               **{"Secondary color": "White"})))
    assert resolved(res) == [("Ava", "Pink", "White", 1)]


def test_shopify_attributes_ignore_private_keys_and_fields_per_unit_split():
    res = readers.from_item_options(order(), item(2, options=opts(**{"Name 1": "Ava", "Name 2": "Leo",
                                                                     "Colour 1": "Red", "_cart_token": "x"})))
    assert resolved(res) == [("Ava", "Red", None, 1), ("Leo", "Red", None, 1)]


def test_ambiguous_names_are_left_for_the_ai():
    assert isinstance(readers.from_item_options(order(), item(3, options=opts(Personalization="Ava, Leo"))),
                      readers.NeedsAi)
    assert readers.from_item_options(order(), item(1, options=opts(Color="Red"))) is None
    assert isinstance(readers.read_item(order(), item(1, options=opts(Color="Red"))), readers.NeedsAi)


def test_notes_about_the_personalisation_send_clean_options_to_the_ai():
    clean = item(options=opts(Personalization="Eve", Color="Red"))
    assert isinstance(readers.read_item(order(notes="Please deliver to the back door"), clean), readers.Resolution)
    assert isinstance(readers.read_item(order(notes="Sorry, typo: the name should be Zed"), clean), readers.NeedsAi)


def test_amazon_surface_prefixed_options_are_read():
    res = readers.from_item_options(order(), item(options=opts(**{"(Surface 1) Name or Text": "Leo",
                                                                  "Colour": "Blue"})))
    assert res.personalizations[0].custom_text == "Leo"


def test_ebay_note_blocks_match_items_by_listing_id():
    notes = ("Personalisation:\nItem ID: 1101 Variation: Color=Navy\nText: Ava\nLeo\n\n"
             "Personalisation:\nItem ID: 1102 Variation: Color=Red\nText: Max")
    o = order(marketplace="ebay", notes=notes)
    first = readers.from_ebay_notes(o, item(2, options=opts(Color="Navy"), line_item_key="1101-555"))
    second = readers.from_ebay_notes(o, item(1, options=opts(Color="Red"), line_item_key="1102-556"))
    assert resolved(first) == [("Ava", "Navy", None, 1), ("Leo", "Navy", None, 1)]
    assert second.personalizations[0].custom_text == "Max"
    assert isinstance(readers.from_ebay_notes(o, item(1, line_item_key="9999-1")), readers.NeedsAi)


def test_amazon_custom_gives_one_task_for_the_whole_quantity():
    custom = AmazonCustom("processed", "Leo", "Blue", None, "Pacifico", None)
    res = readers.from_amazon_custom(item(3), custom)
    assert [(p.custom_text, p.quantity, p.annotation) for p in res.personalizations] == [("Leo", 3, "Font: Pacifico")]
    assert res.source == "amazon_customization"
    pending = item(3, options=opts(CustomizedURL="https://x"))
    pending.amazon_custom = AmazonCustom("pending", None, None, None, None, None)
    assert isinstance(readers.read_item(order(marketplace="amazon"), pending), readers.Deferred)


def test_amazon_custom_areas_per_unit_and_messy_text():
    per_unit = AmazonCustom("processed", "Ava\nLeo", "Pink", None, None, None, surfaces=[
        {"name": "Surface 1", "texts": [{"label": "Name 1", "text": "Ava"}, {"label": "Name 2", "text": "Leo"}]}])
    assert resolved(readers.from_amazon_custom(item(2), per_unit)) == [("Ava", "Pink", None, 1),
                                                                        ("Leo", "Pink", None, 1)]
    messy = AmazonCustom("processed", "Olivia x2", "Pink", None, None, None)
    reading = readers.from_amazon_custom(item(2), messy)
    assert isinstance(reading, readers.NeedsAi) and reading.reason == "Amazon Custom text: a quantity in the text"
    assert {"name": "Amazon Custom text", "value": "Olivia x2"} in reading.extra_options


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


def test_options_our_write_back_pushed_are_not_buyer_input():
    from y3d_pipeline.print_queue.service import item_input_hash

    buyer = opts(Personalization="olivia x2", Color="Pink")
    pushed = buyer + opts(**{"Name or Text": "Olivia", "Colour 1": "Pink", "Colour 2": ""})
    before, after = order(), order()
    after.internal_notes = "[y3d packing list]\nPACKING LIST (Order #1001):\n1. ...\n[/y3d packing list sync=ab12]"
    assert item_input_hash(before, item(2, options=buyer)) == item_input_hash(after, item(2, options=pushed))
    # no write-back block: "Name or Text" is the buyer's (Amazon's own option name), and it disagrees
    assert isinstance(readers.read_item(before, item(2, options=pushed)), readers.NeedsAi)


@pytest.mark.parametrize("options", [
    opts(Name="Ava", Colour="Pink", **{"Letter colour": "White"}),  # a colour field the readers cannot place
    opts(Name="Ava", Surname="Smith", Colour="Pink"),  # a text field they do not know
    opts(Personalisation="Ava", **{"Back text": "Love Mum"}, Colour="Pink"),
    opts(Name="Ava", Colour="Pink", **{"Note to seller": "Actually can I have it in blue"}),
])
def test_fields_the_readers_do_not_know_are_handed_on(options):
    assert isinstance(readers.from_item_options(order(), item(options=options)), readers.NeedsAi)


def test_field_labels_lose_their_decorations():
    res = readers.from_item_options(order(), item(options=opts(**{"Name (optional)": "Ava", "Colour choice": "Pink",
                                                                  "Gift message": "Love Nan xx"})))
    assert resolved(res) == [("Ava", "Pink", None, 1)]


def test_numbered_colours_beside_a_name_per_item_are_handed_on():
    options = opts(**{"Name 1": "Ava", "Name 2": "Leo", "Colour 1": "Pink", "Colour 2": "Blue"})
    assert isinstance(readers.from_item_options(order(), item(options=options, quantity=2)), readers.NeedsAi)


def test_a_text_is_not_trusted_when_another_item_of_the_order_has_none():
    """'Multiple items, one text field': "Ava & Leo" on the first keyring, nothing on the second."""
    first = item(options=opts(Personalization="Ava & Leo", Color="Pink"))
    second = ItemRow(id=8, order_id=1, product_id=None, sku="Y3D-KEY-NAME-S", name="Keyring", quantity=1,
                     options=opts(Personalization="see above", Color="Blue"), line_item_key=None)
    both = order()
    both.items = [first, second]
    reading = readers.read_item(both, first)
    assert isinstance(reading, readers.NeedsAi) and "has no text of its own" in reading.reason
    second.options = opts(Personalization="Max", Color="Blue")
    assert resolved(readers.read_item(both, first)) == [("Ava & Leo", "Pink", None, 1)]
