"""Checks every print task must pass before it reaches the queue, and the reasons shown when one fails.

Review reasons are written for the person at the printer: they say what is wrong and with which value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from y3d_pipeline.personalization.models import ItemRow, OrderRow, Personalization, TaskDraft
from y3d_pipeline.personalization.palette import Palette

DEFAULT_MAX_TEXT_LENGTH = 60
PLACEHOLDER_TEXT = None  # a placeholder has no text: the UI shows the review reason instead


@dataclass(frozen=True, slots=True)
class ValidationRules:
    palette: Palette
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH


def is_regkey(sku: str | None, name: str | None) -> bool:
    """Car-registration keyrings print the plate exactly, in capitals."""
    blob = f"{sku or ''} {name or ''}".upper()
    return "REGKEY" in blob or "REGISTRATION" in blob


def _title_word(word: str) -> str:
    # Capitalise each part of "ana-maría" / "o'neill" so that they read "Ana-María" / "O'Neill".
    return re.sub(r"(^|[-'’])(\w)", lambda m: m.group(1) + m.group(2).upper(), word)


_PLATE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9 ]{2,10}")


def normalize_text(text: str | None, *, regkey: bool = False) -> str | None:
    """Trim, collapse spaces, and Title-Case text typed all in lower case.

    Mixed or upper case is kept as the buyer wrote it (acronyms, "McDonald", "DJ Max"), which is the
    legacy prompt's rule; registration plates (letters and digits) are always upper case.
    """
    if text is None:
        return None
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.strip().splitlines()]
    cleaned = "\n".join(line for line in lines if line)
    if regkey and _PLATE.fullmatch(cleaned):
        return cleaned.upper()  # a plate typed in lower case; names on a plate keyring keep Title Case
    if cleaned and cleaned == cleaned.lower() and any(ch.isalpha() for ch in cleaned):
        return " ".join(_title_word(w) for w in cleaned.split(" "))
    return cleaned


_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xFE00, 0xFE0F), (0x200D, 0x200D))


def emoji_in(text: str) -> list[str]:
    found = []
    for ch in text:
        code = ord(ch)
        if any(lo <= code <= hi for lo, hi in _EMOJI_RANGES) or unicodedata.category(ch) == "So":
            if ch not in found and code not in (0xFE0F, 0x200D):
                found.append(ch)
    return found


def text_problems(text: str | None, max_length: int) -> list[str]:
    if text is None or not text.strip():
        return ["No personalisation text found"]
    problems = []
    emoji = emoji_in(text)
    if emoji:
        problems.append(f"Text contains emoji {''.join(emoji)} which cannot be printed")
    if len(text) > max_length:
        problems.append(f"Text is {len(text)} characters, over the printable {max_length}")
    return problems


def _join(reasons: list[str]) -> str | None:
    unique = list(dict.fromkeys(r.strip() for r in reasons if r and r.strip()))
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
        shared.insert(0, f"QUANTITY_MISMATCH ordered={item.quantity} parsed={parsed_total}")

    drafts: list[TaskDraft] = []
    for index, p in enumerate(personalizations):
        reasons = list(shared)
        quantity = p.quantity
        if quantity < 1:
            reasons.append(f"Quantity {quantity} is not a positive number; set to 1")
            quantity = 1
        text = normalize_text(p.custom_text, regkey=regkey)
        if source != "placeholder":
            reasons.extend(text_problems(text, rules.max_text_length))
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
            needs_review=needs_review, review_reason=_join(reasons), annotation=p.annotation,
            source=source, input_hash=input_hash, ship_by_date=order.ship_by_date,
        ))
    return drafts


def placeholder_tasks(order: OrderRow, item: ItemRow, reason: str, *, input_hash: str,
                      rules: ValidationRules) -> list[TaskDraft]:
    """One task for the whole quantity, needing review, so the item is visible in the queue."""
    p = Personalization(None, None, None, item.quantity, needs_review=True, review_reasons=[reason])
    return build_item_tasks(order, item, [p], source="placeholder", input_hash=input_hash, rules=rules)
