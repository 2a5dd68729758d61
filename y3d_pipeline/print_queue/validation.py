"""Checks every print task must pass before it reaches the queue, and the reasons shown when one fails.

Review reasons are written for the person at the printer: they say what is wrong and with which value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from y3d_pipeline.print_queue.buyer_text import (
    colour_context,
    emoji_in,
    invisible_in,
    lowercase_guess,
    output_problems,
    strip_invisible,
)
from y3d_pipeline.print_queue.hashing import content_hash
from y3d_pipeline.print_queue.models import SOURCE_AI, ItemRow, OrderRow, Personalization, TaskDraft
from y3d_pipeline.print_queue.palette import Palette

DEFAULT_MAX_TEXT_LENGTH = 60
PLACEHOLDER_TEXT = None  # a placeholder has no text: the UI shows the review reason instead
# Bump when what the readers or checks accept changes: pending tasks written under other rules are re-read.
RULES_VERSION = "readers-v2"
ON_HOLD_REASON = "Order is on hold in ShipStation: check before printing"


def out_of_stock_reason(item: ItemRow) -> str:
    return (f"No blanks in stock: ShipStation inventory has {item.stock_available} available of SKU {item.sku}: "
            "check stock before printing")
MAX_TASK_QUANTITY = 10_000


@dataclass(frozen=True, slots=True)
class ValidationRules:
    palette: Palette
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH

    @property
    def fingerprint(self) -> str:
        """Changes when the palette, the length limit or the rules change: the queue is then re-checked."""
        return content_hash(RULES_VERSION, list(self.palette.colours), self.max_text_length)[:16]


def is_regkey(sku: str | None, name: str | None) -> bool:
    """Car-registration keyrings print the plate exactly, in capitals."""
    blob = f"{sku or ''} {name or ''}".upper()
    return "REGKEY" in blob or "REGISTRATION" in blob


# Small words that stay in lower case inside a title-cased text: "Tom and Ann", "The House of Smith",
# "Maria de Souza".
_LOWER_CONNECTORS = {"and", "of", "the", "in", "on", "at", "for", "to", "with", "a", "an", "or", "de", "da", "del",
                     "van", "von", "der", "den"}


def _title_word(word: str) -> str:
    # Capitalise each part of "ana-maría" / "o'neill" so that they read "Ana-María" / "O'Neill".
    return re.sub(r"(^|[-'’])(\w)", lambda m: m.group(1) + m.group(2).upper(), word)


def _title_line(line: str) -> str:
    words = line.split(" ")
    return " ".join(w if i and w in _LOWER_CONNECTORS else _title_word(w) for i, w in enumerate(words))


_PLATE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9 ]{2,10}")


def normalize_text(text: str | None, *, regkey: bool = False) -> str | None:
    """Trim, collapse spaces, and Title-Case text typed all in lower case.

    Mixed or upper case is kept as the buyer wrote it (acronyms, "McDonald", "DJ Max"), which is the
    legacy prompt's rule; registration plates (letters and digits) are always upper case.
    """
    if text is None:
        return None
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in strip_invisible(text).strip().splitlines()]
    cleaned = "\n".join(line for line in lines if line)
    if regkey and _PLATE.fullmatch(cleaned):
        return cleaned.upper()  # a plate typed in lower case; names on a plate keyring keep Title Case
    if cleaned and cleaned == cleaned.lower() and any(ch.isalpha() for ch in cleaned):
        return "\n".join(_title_line(line) for line in cleaned.split("\n"))
    return cleaned


def text_problems(text: str | None, max_length: int, quantity: int = 1,
                  colours: frozenset[str] = frozenset(), *, as_given: str | None = None) -> list[str]:
    """Why ``text`` (normalised) cannot be printed; ``as_given`` is the text before normalisation (a tab
    or a doubled space may be all that separates two names)."""
    if text is None or not text.strip():
        return ["No personalisation text found"]
    problems = [f"Text '{text}': {p}" for p in output_problems(as_given or text, quantity, colours)]
    invisible = invisible_in(as_given or text)
    if invisible:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in invisible)
        problems.append(f"Text had invisible control characters ({codes}), removed: check the text")
    emoji = emoji_in(text)
    if emoji:
        problems.append(f"Text contains emoji {''.join(emoji)} which cannot be printed")
    if len(text) > max_length:
        problems.append(f"Text is {len(text)} characters, over the printable {max_length}")
    return problems


def _join(reasons: list[str]) -> str | None:
    unique = list(dict.fromkeys(strip_invisible(r).strip() for r in reasons if r and r.strip()))
    return "; ".join(unique)[:1000] if unique else None


def build_item_tasks(order: OrderRow, item: ItemRow, personalizations: list[Personalization], *,
                     source: str, input_hash: str, rules: ValidationRules,
                     item_reasons: list[str] | None = None) -> list[TaskDraft]:
    """Validate one item's personalizations and turn them into tasks at task_index 0..n-1.

    Nothing is dropped: a problem marks the task for review and says why. A quantity that does not add
    up flags every task of the item, since any of them may be the wrong one.
    """
    regkey = is_regkey(item.sku, item.name)
    parsed_total = sum(p.quantity for p in personalizations)
    shared = list(item_reasons or [])
    if parsed_total != item.quantity:
        shared.insert(0, f"QUANTITY_MISMATCH ordered={item.quantity} parsed={parsed_total:,}")
    if order.status == "on_hold":
        shared.append(ON_HOLD_REASON)
    if item.out_of_stock:
        shared.append(out_of_stock_reason(item))

    drafts: list[TaskDraft] = []
    for index, p in enumerate(personalizations):
        reasons = list(shared)
        quantity = p.quantity
        if quantity < 1:
            reasons.append(f"Quantity {quantity} is not a positive number; set to 1")
            quantity = 1
        elif quantity > MAX_TASK_QUANTITY:
            reasons.append(f"Quantity {quantity:,} is impossible; set to {item.quantity}")
            quantity = item.quantity
        text = normalize_text(p.custom_text, regkey=regkey)
        if source != "placeholder":
            reasons.extend(text_problems(text, rules.max_text_length, item.quantity,
                                         colour_context(p.color_1, p.color_2), as_given=p.custom_text))
            guess = None if regkey or text == p.custom_text else lowercase_guess(p.custom_text or "")
            if guess:  # title-casing "dj mike" would print "Dj Mike", "mckenzie" "Mckenzie"
                reasons.append(f"Text '{p.custom_text}': '{guess}' typed in lower case, its capitals are a guess")
        colours = []
        for value in (p.color_1, p.color_2):
            colour, problem = rules.palette.normalize(value)
            colours.append(colour)
            if problem:
                reasons.append(problem)
        if source != "placeholder" and colours[0] is None and rules.palette.normalize(p.color_1)[1] is None:
            reasons.append("No colour given")  # every print needs a filament colour
        reasons.extend(p.review_reasons)
        needs_review = p.needs_review or bool(reasons)
        if needs_review and not reasons:
            reasons.append("Flagged for review by the extractor without a reason")
        drafts.append(TaskDraft(
            order_id=order.id, order_item_id=item.id, product_id=item.product_id, task_index=index,
            custom_text=text, color_1=colours[0], color_2=colours[1], quantity=quantity,
            needs_review=needs_review, review_reason=_join(reasons),
            annotation=strip_invisible(p.annotation)[:1000] if p.annotation else None,
            source=source, input_hash=input_hash, ship_by_date=order.ship_by_date, rules_hash=rules.fingerprint,
        ))
    flagged = [d for d in drafts if d.needs_review]
    if source == SOURCE_AI and flagged and len(flagged) < len(drafts):
        # The AI shared the quantity between its texts: when one of them cannot be printed as it stands
        # ("Ava" and "Kind regards" for 2 keyrings), how the units are shared is in doubt for all of them.
        other = f"another task of this item needs review ('{flagged[0].custom_text}'): check the split and quantities"
        for draft in drafts:
            if not draft.needs_review:
                draft.needs_review, draft.review_reason = True, _join([other])
    return drafts


def placeholder_tasks(order: OrderRow, item: ItemRow, reason: str, *, input_hash: str,
                      rules: ValidationRules) -> list[TaskDraft]:
    """One task for the whole quantity, needing review, so the item is visible in the queue."""
    p = Personalization(None, None, None, item.quantity, needs_review=True, review_reasons=[reason])
    return build_item_tasks(order, item, [p], source="placeholder", input_hash=input_hash, rules=rules)
