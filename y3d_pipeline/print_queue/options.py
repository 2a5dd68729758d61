"""Deterministic readers: Amazon Custom data, structured item options, eBay buyer-note blocks.

A reader resolves an item only when its data can be read one way (``buyer_text.read_text``): a plain text
for the whole quantity, one plain text per line when the lines equal the quantity, or one field per unit
("Name 1".."Name N", Amazon Custom areas "Name 1".."Name N"). Anything else is handed on with the reason
(``NeedsAi``): the AI reads it, or a person does when the AI is not configured. No guessing here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from y3d_pipeline.print_queue import buyer_text
from y3d_pipeline.print_queue.models import (
    SOURCE_AMAZON,
    SOURCE_OPTIONS,
    AmazonCustom,
    ItemRow,
    OrderRow,
    Personalization,
)
from y3d_pipeline.print_queue.writeback import BLOCK_START, OUR_OPTIONS

TEXT_KEYS = {"name or text", "name", "text", "personalization", "personalisation", "personalized text",
             "personalised text", "custom text", "custom name", "your name", "name/text", "engraving",
             "name to print", "personalization text", "personalisation text", "custom message", "message to print",
             "wording"}
# Not here: the legacy AI write-back's "Personalized Details" ("Olivia (Pink / White), ..."), a summary for
# the AI (or a person) to read, never a text to print as it stands.
COLOUR_1_KEYS = {"colour 1", "color 1", "colour", "color", "primary colour", "primary color", "main colour",
                 "main color", "colour1", "color1", "text colour", "text color", "first colour", "first color",
                 "keyring colour", "keyring color", "filament colour", "filament color"}
COLOUR_2_KEYS = {"colour 2", "color 2", "secondary colour", "secondary color", "colour2", "color2",
                 "second colour", "second color", "background colour", "background color", "base colour",
                 "base color"}
FONT_KEYS = {"font", "font style", "font choice"}
CUSTOMIZED_URL = "customizedurl"
# Fields numbered per unit ("Name 1", "Personalisation 2", "Keyring 3 name"): one field per unit.
_UNIT_FIELD = re.compile(r"^(?:(name|text|personali[sz]ation|custom name|keyring|tag|child|child's name|name or text)"
                         r"\s*#?\s*(\d{1,2})(?:\s*name)?|(\d{1,2})(?:st|nd|rd|th)?\s+(name|keyring|personali[sz]ation))$")
# Fields numbered per line of one product ("Line 1", "Line 2").
_LINE_FIELD = re.compile(r"^(?:text\s+)?line\s*#?\s*(\d{1,2})$")
_SURFACE_PREFIX = re.compile(r"^\(surface \d+\)\s*", re.I)
# Decorations a shop puts on a field's label: "Name (optional)", "Name*", "Personalisation:".
_KEY_DECORATION = re.compile(r"\s*\((?:optional|required|max\b[^)]*|up to\b[^)]*|\d+[^)]*)\)|\s*[*:]+\s*$")
# Words that say nothing about which colour a field is: "Colour choice", "Choose your colour".
_GENERIC_KEY_WORDS = {"choice", "choose", "option", "options", "select", "selection", "your", "a", "the", "please",
                      "pick", "preferred"}
# Option keys the readers do not read but that may change what to print: a colour they cannot place
# ("Letter colour", "Colour for name 2"), a text they do not know ("Surname", "Back text"), a note to the
# seller. Fonts are not printed text.
_COLOURISH_KEY = re.compile(r"colou?rs?")
_TEXTISH_KEY = re.compile(r"\b(names?|surname|first|last|texts?|personali[sz]\w*|engrav\w*|wording|initials?|"
                          r"letters?|lines?|front|back|reverse|inscription|monogram|message to print)\b")
_NOTEISH_KEY = re.compile(r"\b(notes?|instructions?|requests?|comments?|messages?|special)\b")
_EBAY_BLOCK = re.compile(
    r"Personali[sz]ation:\s*\n\s*Item ID:\s*(?P<item>\d+)\s*(?:Variation:\s*(?P<variation>[^\n]*))?\n"
    r"\s*Text:\s*(?P<text>.*?)(?=\n\s*\n|\n\s*Personali[sz]ation:|\Z)",
    re.S | re.I,
)
# Buyer notes that talk about the personalisation (a correction, a name, a colour): only the AI or a
# person may reconcile them with the options.
_NOTE_SIGNALS = re.compile(
    r"\b(name|names|text|spell|spelt|spelling|typo|mistake|wrong|correct|correction|change|changed|instead|"
    r"should (say|read|be)|meant|font|colou?rs?|personali[sz]|engrav|print|keyrings?|keychains?|letters|capital|"
    r"caps|lower ?case|upper ?case|on the (front|back|reverse|other side)|both sides|sorry|oops|apologies|"
    r"actually)\b", re.I)
# "Eva not Ava", "EVA NOT AVA": one word put right by another.
_NOTE_CORRECTION = re.compile(r"\b[A-ZÀ-Þ][\w'’-]* (?:not|NOT|Not) [A-ZÀ-Þ][\w'’-]*")


def option_key(name: str) -> str:
    key = re.sub(r"\s+", " ", _SURFACE_PREFIX.sub("", name or "").strip().lower())
    key = _KEY_DECORATION.sub("", key).strip() or key
    words = key.split()
    colour = [w for w in words if w in ("colour", "color")]
    if len(colour) == 1 and len(words) > 1 and set(words) - set(colour) <= _GENERIC_KEY_WORDS:
        return colour[0]
    return key


def _pushed_by_us(order: OrderRow) -> bool:
    """Our write-back puts its options into ShipStation; once it has, those options are our output, not
    the buyer's input (``internal_notes`` carries the write-back's block)."""
    return BLOCK_START in (order.internal_notes or "")


def input_options(order: OrderRow, item: ItemRow) -> list[dict[str, str]]:
    """The item's options as the buyer gave them: private (``_cart_token``) and our own pushed options out."""
    ours = {o.lower() for o in OUR_OPTIONS} if _pushed_by_us(order) else set()
    result = []
    options = item.options if isinstance(item.options, list) else []
    for option in options:
        if not isinstance(option, dict):
            raise ValueError(f"item {item.id}: an option is not a {{name, value}} object: {str(option)[:80]}")
        name = str(option.get("name") or "").strip()
        if not name or name.startswith("_") or name.lower() in ours:
            continue
        value = option.get("value")
        result.append({"name": name, "value": "" if value is None else str(value)})
    if not isinstance(item.options, list) and item.options:
        raise ValueError(f"item {item.id}: options are not a list of {{name, value}} objects")
    return result


def options_map(options: list[dict[str, str]]) -> dict[str, str]:
    """Option name (folded) → value, first occurrence wins."""
    result: dict[str, str] = {}
    for option in options:
        result.setdefault(option_key(option["name"]), option["value"])
    return result


def has_customized_url(order: OrderRow, item: ItemRow) -> bool:
    return CUSTOMIZED_URL in options_map(input_options(order, item))


def ebay_blocks(notes: str | None) -> list[dict[str, str]]:
    if not notes:
        return []
    return [m.groupdict() for m in _EBAY_BLOCK.finditer(notes.replace("\r\n", "\n"))]


def notes_outside_blocks(notes: str | None) -> str:
    return _EBAY_BLOCK.sub("", (notes or "").replace("\r\n", "\n")).strip()


def has_personalization_signal(order: OrderRow, item: ItemRow) -> bool:
    """Whether this line is something to print at all (adjustments and plain products are not)."""
    if item.amazon_custom is not None:
        return True
    opts = options_map(input_options(order, item))
    if any(k in opts for k in TEXT_KEYS | COLOUR_1_KEYS | COLOUR_2_KEYS | {CUSTOMIZED_URL}):
        return True
    if any(v.strip() for v in opts.values()):
        return True
    return bool(order.customer_notes and _EBAY_BLOCK.search(order.customer_notes))


def _first(opts: dict[str, str], keys: set[str]) -> str | None:
    for key, value in opts.items():
        if key in keys and value.strip():
            return value
    return None


@dataclass(slots=True)
class Resolution:
    """Resolved without the AI: the personalizations to validate, and where they came from."""

    personalizations: list[Personalization]
    source: str = SOURCE_OPTIONS


@dataclass(slots=True)
class NeedsAi:
    """Not readable one way: the AI's job (or a person's), with why, and any extra input for the AI."""

    reason: str
    extra_options: list[dict[str, str]] = field(default_factory=list)
    review: str | None = None  # any answer must be checked by a person, for this reason


@dataclass(slots=True)
class Deferred:
    """Waiting for data we will get (an Amazon Custom file not downloaded yet)."""

    reason: str


@dataclass(slots=True)
class NeedsPerson:
    """Nothing any reader can do: a placeholder for review (an Amazon Custom file that failed)."""

    reason: str


Reading = Resolution | NeedsAi | Deferred | NeedsPerson


def _personalizations(reading: buyer_text.TextReading, quantity: int, color_1: str | None, color_2: str | None,
                      annotation: str | None) -> list[Personalization]:
    if reading.per_unit:
        return [Personalization(t, color_1, color_2, 1, annotation=annotation) for t in reading.texts]
    return [Personalization(reading.texts[0], color_1, color_2, quantity, annotation=annotation)]


def _unit_number(key: str) -> int | None:
    match = _UNIT_FIELD.match(key)
    if not match:
        return None
    return int(match.group(2) or match.group(3))


def _line_number(key: str) -> int | None:
    match = _LINE_FIELD.match(key)
    return int(match.group(1)) if match else None


def _each_plain(numbered: list[tuple[int, str, str]], *, regkey: bool,
                context: frozenset[str]) -> tuple[tuple[str, ...], str | None]:
    """Each numbered field read as one plain text, in number order; or why one of them is not."""
    texts = []
    for _, key, value in sorted(numbered):
        reading = buyer_text.read_text(value, 1, regkey=regkey, context=context)
        if reading.problem:
            return (), f"'{key}': {reading.problem}"
        texts.append(reading.texts[0])
    return tuple(texts), None


def _read_fields(fields: list[tuple[str, str]], quantity: int, *, regkey: bool,
                 context: frozenset[str]) -> buyer_text.TextReading:
    """Text fields of one item (key, value), in the order the source gave them."""
    fields = [(k, v) for k, v in fields if v.strip()]
    if not fields:
        return buyer_text.TextReading(problem="no personalisation text given")
    units = [(n, k, v) for k, v in fields if (n := _unit_number(k)) is not None]
    if quantity == 1 and len(units) == 1 == len(fields) and units[0][0] == 1:
        units = []  # "Name 1" on a single item is just its name
    lines = [(n, k, v) for k, v in fields if (n := _line_number(k)) is not None]
    plain = [(k, v) for k, v in fields if (_unit_number(k) is None or not units) and _line_number(k) is None]
    if units and (plain or lines):
        return buyer_text.TextReading(problem="both a per-item field and other text fields")
    if units:
        numbers = sorted(n for n, _, _ in units)
        if quantity < 2 or len(units) != quantity or numbers != list(range(1, quantity + 1)):
            return buyer_text.TextReading(problem=f"{len(units)} numbered text fields for {quantity} item(s)")
        texts, problem = _each_plain(units, regkey=regkey, context=context)
        return buyer_text.TextReading(problem=problem) if problem else buyer_text.TextReading(texts, per_unit=True)
    if lines:
        if plain:
            return buyer_text.TextReading(problem="both line fields and other text fields")
        texts, problem = _each_plain(lines, regkey=regkey, context=context)
        return buyer_text.TextReading(problem=problem) if problem else buyer_text.TextReading(("\n".join(texts),))
    distinct = list(dict.fromkeys(buyer_text.fold(v) for _, v in plain))
    if len(distinct) > 1:
        names = ", ".join(f"'{k}'" for k, _ in plain)
        return buyer_text.TextReading(problem=f"several text fields ({names}) with different values")
    return buyer_text.read_text(plain[0][1], quantity, regkey=regkey, context=context)


def _regkey(item: ItemRow) -> bool:
    from y3d_pipeline.print_queue.validation import is_regkey

    return is_regkey(item.sku, item.name)


def _amazon_fields(custom: AmazonCustom) -> list[tuple[str, str]]:
    """The Custom file's text areas as (label, text), in file order; the parsed summary when there are none."""
    fields: list[tuple[str, str]] = []
    for surface in custom.surfaces or []:
        if not isinstance(surface, dict):
            continue
        for block in surface.get("texts") or []:
            if isinstance(block, dict) and str(block.get("text") or "").strip():
                fields.append((option_key(str(block.get("label") or "text")), str(block["text"])))
    if not fields and custom.custom_text:
        fields.append(("text", custom.custom_text))
    return fields


def _amazon_text_areas(custom: AmazonCustom) -> list[tuple[str, str]]:
    """Areas on one product (Front/Back, Line 1/Line 2) read as lines of one text; unit-numbered kept."""
    fields = _amazon_fields(custom)
    if len(fields) <= 1 or any(_unit_number(k) is not None for k, _ in fields):
        return fields
    return [(f"line {n}", v) for n, (_, v) in enumerate(fields, start=1)]


def amazon_ai_options(custom: AmazonCustom) -> list[dict[str, str]]:
    """What the Custom file says, as options the AI can read (it cannot open the file)."""
    options = [{"name": f"Amazon Custom {label}", "value": text} for label, text in _amazon_fields(custom)]
    for name, value in (("Amazon Custom Colour 1", custom.color_1), ("Amazon Custom Colour 2", custom.color_2),
                        ("Amazon Custom Font", custom.font)):
        if value:
            options.append({"name": name, "value": value})
    return options


def from_amazon_custom(item: ItemRow, custom: AmazonCustom) -> Reading:
    """A processed Amazon Custom file: the buyer's exact input, read like any other text field."""
    context = buyer_text.colour_context(custom.color_1, custom.color_2)
    fields = _amazon_text_areas(custom)
    if not fields:
        return NeedsPerson("Amazon Custom file has no text (an image, or the text became an image)")
    reading = _read_fields(fields, item.quantity, regkey=_regkey(item), context=context)
    if reading.problem:
        return NeedsAi(f"Amazon Custom text: {reading.problem}", amazon_ai_options(custom))
    annotation = None
    areas = _amazon_fields(custom)
    if len(areas) > 1 and not reading.per_unit:
        annotation = "Areas: " + "; ".join(f"{k}: {v}" for k, v in areas)
    if custom.font:
        annotation = "; ".join(a for a in (annotation, f"Font: {custom.font}") if a)
    return Resolution(_personalizations(reading, item.quantity, custom.color_1, custom.color_2, annotation),
                      SOURCE_AMAZON)


def from_item_options(order: OrderRow, item: ItemRow) -> Reading | None:
    """Structured options (Etsy, Shopify line-item properties, Amazon plain options). None: no text field."""
    options = input_options(order, item)
    opts = options_map(options)
    text_fields = [(option_key(o["name"]), o["value"]) for o in options
                   if option_key(o["name"]) in TEXT_KEYS or _unit_number(option_key(o["name"])) is not None
                   or _line_number(option_key(o["name"])) is not None]
    if not any(v.strip() for _, v in text_fields):
        return None
    unknown = _unknown_field(options, text_fields)
    if unknown:
        return NeedsAi(unknown)
    color_1, color_2 = _first(opts, COLOUR_1_KEYS), _first(opts, COLOUR_2_KEYS)
    colour_fields = [v for k, v in opts.items() if k in COLOUR_1_KEYS | COLOUR_2_KEYS and v.strip()]
    if sum(1 for k in opts if k in COLOUR_1_KEYS and opts[k].strip()) > 1 and len(
            {buyer_text.fold(v) for k, v in opts.items() if k in COLOUR_1_KEYS and v.strip()}) > 1:
        return NeedsAi("several different colour fields",
                       review="the order's colour fields disagree: check the colour chosen")
    reading = _read_fields(text_fields, item.quantity, regkey=_regkey(item), context=buyer_text.colour_context(*colour_fields))
    if reading.problem:
        conflict = reading.problem.startswith("several text fields")
        return NeedsAi(reading.problem, review="the order's text fields disagree: check the text chosen"
                       if conflict else None)
    if color_2 and reading.per_unit and any(_unit_number(k) is not None for k, _ in text_fields):
        # "Name 1", "Name 2" next to "Colour 1", "Colour 2": a colour for each item, or two on each?
        return NeedsAi("a text field for each item next to numbered colours (one colour per item, or two on each?)")
    font = _first(opts, FONT_KEYS)
    annotation = f"Font: {font.strip()}" if font else None
    return Resolution(_personalizations(reading, item.quantity, color_1, color_2, annotation))


def _unknown_field(options: list[dict[str, str]], text_fields: list[tuple[str, str]]) -> str | None:
    """An option the readers do not read that may change what to print, said as the reason to hand on."""
    known = TEXT_KEYS | COLOUR_1_KEYS | COLOUR_2_KEYS | FONT_KEYS | {CUSTOMIZED_URL}
    text_words = {t.folded for _, v in text_fields for t in buyer_text.tokens(v)
                  if len(t.folded) > 1 and t.folded not in _COMMON_WORDS}
    for option in options:
        key, value = option_key(option["name"]), option["value"].strip()
        if not value or key in known or _unit_number(key) is not None or _line_number(key) is not None:
            continue
        if _COLOURISH_KEY.search(key):
            return f"a colour field the readers cannot place ('{option['name']}')"
        if "font" in key:
            continue
        if _TEXTISH_KEY.search(key):
            return f"a text field the readers do not know ('{option['name']}')"
        if _NOTEISH_KEY.search(key):
            word = note_signal(value, text_words)
            if word:
                return f"'{option['name']}' mentions the personalisation ('{word}')"
    return None


def from_ebay_notes(order: OrderRow, item: ItemRow) -> Reading | None:
    """eBay puts the text in buyer notes, one block per listing: matched on the item id in lineItemKey."""
    blocks = ebay_blocks(order.customer_notes)
    if not blocks:
        return None
    if not item.line_item_key:
        return NeedsAi("eBay note blocks but the item has no listing id to match them")
    ebay_item_id = item.line_item_key.split("-")[0]
    matches = [b for b in blocks if b["item"] == ebay_item_id]
    if len(matches) != 1:
        return NeedsAi(f"{len(matches)} eBay note blocks for this listing",
                       review=f"the buyer's notes have {len(matches)} blocks for this listing: check which is "
                              "this item's" if matches else None)
    block = matches[0]
    variation = block.get("variation") or ""
    found = re.search(r"colou?r\s*=\s*([^,;|]+)", variation, re.I)
    colour = found.group(1).strip() if found else _first(options_map(input_options(order, item)), COLOUR_1_KEYS)
    reading = buyer_text.read_text(block["text"], item.quantity, regkey=_regkey(item),
                                   context=buyer_text.colour_context(colour))
    if reading.problem:
        return NeedsAi(f"eBay note text: {reading.problem}")
    return Resolution(_personalizations(reading, item.quantity, colour, None, "From eBay buyer notes"))


# Words too common to tie a note to the text to print.
_COMMON_WORDS = buyer_text.INSTRUCTION_WORDS | {"the", "and", "a", "an", "of", "to", "at", "from", "by", "as", "mr",
                                                "mrs", "ms", "dr", "st", "love", "happy", "birthday", "best", "x"}


def note_signal(note: str, text_words: set[str] = frozenset()) -> str | None:
    """The word that shows a note talks about the personalisation (a correction, a colour, the name)."""
    signal = _NOTE_SIGNALS.search(note) or _NOTE_CORRECTION.search(note)
    if signal:
        return signal.group(0)
    colours = buyer_text.colour_words(note)
    if colours and re.search(r"\w", note):
        return colours[0]
    # "Eva not Ava!!", "Ava's birthday is Saturday": the note names the text itself
    return next((t.folded for t in buyer_text.tokens(note)
                 if re.sub(r"['’]s$", "", t.folded) in text_words), None)


def item_text_words(order: OrderRow, item: ItemRow) -> set[str]:
    """The distinctive words of what this item prints (its text fields, Custom text, eBay block)."""
    values = [o["value"] for o in ai_input_options(order, item)
              if (key := option_key(o["name"]).removeprefix("amazon custom ")) in TEXT_KEYS
              or _unit_number(key) is not None or _line_number(key) is not None
              or (o["name"].startswith("Amazon Custom ") and "colour" not in key and "font" not in key)]
    values += _listing_texts(order, item)
    return {t.folded for v in values for t in buyer_text.tokens(v)
            if len(t.folded) > 1 and t.folded not in _COMMON_WORDS and not t.folded.isdigit()}


def notes_need_reading(order: OrderRow, item: ItemRow | None = None) -> str | None:
    """Why the buyer's notes must be read by the AI or a person before any option is trusted."""
    notes = notes_outside_blocks(order.customer_notes)
    if not notes:
        return None
    word = note_signal(notes, item_text_words(order, item) if item is not None else set())
    if word:
        return f"the buyer's notes mention the personalisation ('{word}')"
    return None


def has_own_text(order: OrderRow, item: ItemRow) -> bool:
    """Whether the item carries a text of its own (not empty, not "N/A" or "see above")."""
    custom = item.amazon_custom
    if custom is not None and custom.status != "processed" or has_customized_url(order, item) and custom is None:
        return True  # its own Amazon Custom file: not downloaded or not parsed yet, but its own
    if custom is not None and _amazon_fields(custom):
        return True
    values = [o["value"] for o in input_options(order, item)
              if (key := option_key(o["name"])) in TEXT_KEYS or _unit_number(key) is not None
              or _line_number(key) is not None]
    values += _listing_texts(order, item)
    return any(v.strip() and not buyer_text.placeholder_word(v) for v in values)


def _listing_texts(order: OrderRow, item: ItemRow) -> list[str]:
    listing = (item.line_item_key or "").split("-")[0]
    return [b["text"] for b in ebay_blocks(order.customer_notes) if listing and b["item"] == listing]


def sibling_without_text(order: OrderRow, item: ItemRow) -> str | None:
    """Another line of the order to personalise that has no text of its own: the buyer may have typed
    both items' texts into this one ("Ava & Leo" for two different keyrings)."""
    for other in order.items or []:
        if other.id != item.id and has_personalization_signal(order, other) and not has_own_text(order, other):
            return f"another item of the order ({other.name or other.sku or other.id}) has no text of its own: " \
                   "this item's text may be for both"
    return None


def read_item(order: OrderRow, item: ItemRow) -> Reading:
    """Resolution order: Amazon Custom file → item options → eBay note blocks → the AI."""
    reading = _read_item(order, item)
    shared = sibling_without_text(order, item) if isinstance(reading, Resolution) else None
    if shared:
        return NeedsAi(shared, review="the order's texts may be shared between its items: check each item's")
    notes_reason = notes_need_reading(order, item)
    if notes_reason and isinstance(reading, Resolution | NeedsAi):
        reason = notes_reason if isinstance(reading, Resolution) else f"{reading.reason}; {notes_reason}"
        extra = reading.extra_options if isinstance(reading, NeedsAi) else []
        return NeedsAi(reason, extra, review="the buyer's notes talk about the personalisation: check the answer "
                                             "follows them")
    return reading


def _read_item(order: OrderRow, item: ItemRow) -> Reading:
    custom = item.amazon_custom
    if custom is not None and custom.status == "processed":
        return from_amazon_custom(item, custom)
    from_options = from_item_options(order, item)
    if from_options is None and "ebay" in (order.marketplace or "").lower():
        from_options = from_ebay_notes(order, item)
    if isinstance(from_options, Resolution):
        return from_options
    if has_customized_url(order, item) or custom is not None:
        # Amazon Custom: the file is the truth and the AI cannot read it; wait for it to be parsed.
        if custom is not None and custom.status in ("failed", "rejected"):
            reason = "Amazon customization not parsed yet"
            return NeedsPerson(f"{reason}: {custom.error[:200]}" if custom.error else reason)
        return Deferred("Amazon Custom file not downloaded yet")
    if from_options is not None:
        return from_options
    return NeedsAi("no personalisation field the readers know")


def ai_input_options(order: OrderRow, item: ItemRow) -> list[dict[str, Any]]:
    """The item's options as the AI sees them (Amazon Custom text included, the URL left out)."""
    options = [o for o in input_options(order, item) if option_key(o["name"]) != CUSTOMIZED_URL]
    if item.amazon_custom is not None and item.amazon_custom.status == "processed":
        options += amazon_ai_options(item.amazon_custom)
    return options
