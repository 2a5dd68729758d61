"""Deterministic readers: Amazon Custom data, structured item options, eBay buyer-note blocks.

Each reader returns personalizations only when the data is unambiguous and consistent with the ordered
quantity; otherwise ``None`` and the item goes on to the AI. No guessing here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from y3d_pipeline.personalization.models import AmazonCustom, ItemRow, OrderRow, Personalization

TEXT_KEYS = {"name or text", "name", "text", "personalization", "personalisation", "personalized text",
             "personalised text", "custom text", "custom name", "your name", "name/text", "engraving",
             "name to print", "personalization text", "personalisation text"}
COLOUR_1_KEYS = {"colour 1", "color 1", "colour", "color", "primary colour", "primary color", "main colour",
                 "main color", "colour1", "color1", "text colour", "text color", "first colour", "first color"}
COLOUR_2_KEYS = {"colour 2", "color 2", "secondary colour", "secondary color", "colour2", "color2",
                 "second colour", "second color", "background colour", "background color", "base colour",
                 "base color"}
FONT_KEYS = {"font", "font style", "font choice"}
CUSTOMIZED_URL = "customizedurl"

_SURFACE_PREFIX = re.compile(r"^\(surface \d+\)\s*", re.I)
_EBAY_BLOCK = re.compile(
    r"Personali[sz]ation:\s*\n\s*Item ID:\s*(?P<item>\d+)\s*(?:Variation:\s*(?P<variation>[^\n]*))?\n"
    r"\s*Text:\s*(?P<text>.*?)(?=\n\s*\n|\n\s*Personali[sz]ation:|\Z)",
    re.S | re.I,
)


def option_key(name: str) -> str:
    return re.sub(r"\s+", " ", _SURFACE_PREFIX.sub("", name or "").strip().lower())


def options_map(options: list[dict]) -> dict[str, str]:
    """Option name (folded) → value, ignoring private Shopify attributes (``_cart_token``)."""
    result: dict[str, str] = {}
    for option in options or []:
        name = str(option.get("name") or "")
        if not name or name.startswith("_"):
            continue
        value = option.get("value")
        result[option_key(name)] = "" if value is None else str(value)
    return result


def has_customized_url(item: ItemRow) -> bool:
    return CUSTOMIZED_URL in options_map(item.options)


def has_personalization_signal(order: OrderRow, item: ItemRow) -> bool:
    """Whether this line is something to print at all (adjustments and plain products are not)."""
    if item.amazon_custom is not None:
        return True
    opts = options_map(item.options)
    if any(k in opts for k in TEXT_KEYS | COLOUR_1_KEYS | COLOUR_2_KEYS | {CUSTOMIZED_URL}):
        return True
    if any(v.strip() for v in opts.values()):
        return True
    return bool(order.customer_notes and _EBAY_BLOCK.search(order.customer_notes))


def split_names(text: str, quantity: int) -> list[str] | None:
    """The names in ``text`` when they are one per unit, ``[text]`` for one name, None when ambiguous.

    A list only splits when its length equals the quantity: "Tom, Ann" for 2 keyrings is two tasks,
    "Tom, Ann" for 3 is a question for the AI (or a human).
    """
    text = text.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if quantity == 1:
        return [text]
    if len(lines) > 1:
        return lines if len(lines) == quantity else None
    parts = [p.strip() for p in re.split(r"\s*(?:,|;|&|\band\b|\+)\s*", text) if p.strip()]
    if len(parts) == 1:
        return [text]
    return parts if len(parts) == quantity else None


def _first(opts: dict[str, str], keys: set[str]) -> str | None:
    for key, value in opts.items():
        if key in keys:
            return value
    return None


@dataclass(slots=True)
class Resolution:
    personalizations: list[Personalization]
    annotation: str | None = None


def _per_name(names: list[str], quantity: int, color_1: str | None, color_2: str | None,
              annotation: str | None) -> list[Personalization]:
    if len(names) == 1:
        return [Personalization(names[0], color_1, color_2, quantity, annotation=annotation)]
    return [Personalization(n, color_1, color_2, 1, annotation=annotation) for n in names]


def from_amazon_custom(item: ItemRow, custom: AmazonCustom) -> Resolution | None:
    """A processed Amazon Custom file: exact buyer input, one task for the whole quantity."""
    if custom.status != "processed":
        return None
    annotation = f"Font: {custom.font}" if custom.font else None
    return Resolution([Personalization(custom.custom_text, custom.color_1, custom.color_2, item.quantity,
                                       annotation=annotation)])


def from_item_options(item: ItemRow) -> Resolution | None:
    opts = options_map(item.options)
    text = _first(opts, TEXT_KEYS)
    if text is None or not text.strip():
        return None
    names = split_names(text, item.quantity)
    if names is None:
        return None
    font = _first(opts, FONT_KEYS)
    annotation = f"Font: {font}" if font and font.strip() else None
    return Resolution(_per_name(names, item.quantity, _first(opts, COLOUR_1_KEYS), _first(opts, COLOUR_2_KEYS),
                                annotation))


def ebay_blocks(notes: str | None) -> list[dict[str, str]]:
    if not notes:
        return []
    return [m.groupdict() for m in _EBAY_BLOCK.finditer(notes.replace("\r\n", "\n"))]


def from_ebay_notes(order: OrderRow, item: ItemRow) -> Resolution | None:
    """eBay puts the text in buyer notes, one block per listing: matched on the item id in lineItemKey."""
    if not item.line_item_key:
        return None
    ebay_item_id = item.line_item_key.split("-")[0]
    matches = [b for b in ebay_blocks(order.customer_notes) if b["item"] == ebay_item_id]
    if len(matches) != 1:
        return None  # none, or the same listing twice: which block is which item is a judgement call
    block = matches[0]
    names = split_names(block["text"] or "", item.quantity)
    if not names or not names[0].strip():
        return None
    colour = None
    variation = block.get("variation") or ""
    found = re.search(r"colou?r\s*=\s*([^,;|]+)", variation, re.I)
    if found:
        colour = found.group(1).strip()
    else:
        colour = _first(options_map(item.options), COLOUR_1_KEYS)
    return Resolution(_per_name(names, item.quantity, colour, None, "From eBay buyer notes"))
