"""The AI's answer is checked, not trusted.

For each item the model answered, before anything becomes a task:
* every text must come from what the buyer typed: its words are looked up (case, accents, curly quotes
  and "&"/"and" folded) in the item's options, the Amazon Custom text and the buyer's notes, and the
  buyer's own characters are printed (so accents and spelling are the buyer's, never the model's); a text
  that is not there is flagged "AI text 'X' not found in the order";
* the text must be printable as it stands (``buyer_text.output_problems``: no multiplier, "N/A", label,
  quotes, instruction, colour or font left in it);
* a colour must be one the order asks for (named in its options, notes or product) and in the palette;
* quantities must be possible: none above the ordered quantity (an absurd 3,000,000,000 never reaches the
  database's integer column), the total equal to it (checked in ``validation``);
* a name the buyer typed in a text field must not silently disappear ("the order also says 'Leo'"), and
  one line such as "Tom & Ann" split into two tasks is flagged, since it may be one text for each unit.
Anything that fails keeps its values for the person to see, is flagged, and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from y3d_pipeline.print_queue import buyer_text
from y3d_pipeline.print_queue import options as readers
from y3d_pipeline.print_queue.models import AiPersonalization, ItemRow, OrderRow, Personalization
from y3d_pipeline.print_queue.palette import COLOUR_ALIASES, Palette

MAX_TASK_QUANTITY = 10_000  # far below the integer column's 2,147,483,647

_FUNCTION_WORDS = {
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "from", "by", "as", "is", "are",
    "be", "it", "its", "this", "that", "i", "me", "my", "we", "our", "you", "your", "he", "she", "they", "them",
    "have", "has", "had", "do", "does", "did", "will", "would", "can", "could", "should", "shall", "may", "might",
    "must", "not", "no", "yes", "if", "then", "so", "just", "only", "also", "very", "there", "here", "what", "which",
    "who", "one", "other", "side", "sides", "each", "both", "all", "any", "some", "same", "like", "want", "need",
    "please", "thanks", "thank", "hi", "hello", "dear", "x", "pcs", "qty", "set", "pack", "get", "got", "go",
    "am", "was", "were", "been", "being", "up", "out", "into", "over", "under", "about", "too", "much", "many",
}


def _stop_words() -> set[str]:
    return (_FUNCTION_WORDS | buyer_text.INSTRUCTION_WORDS | buyer_text.FONT_WORDS
            | {w for phrase in buyer_text.FONT_NAMES for w in phrase.split()}
            | {w for phrase in buyer_text.PLACEHOLDER_VALUES for w in phrase.split()})


_STOP = _stop_words()


def _listing_blocks(order: OrderRow, item: ItemRow) -> list[str]:
    listing = (item.line_item_key or "").split("-")[0]
    return [b["text"] for b in readers.ebay_blocks(order.customer_notes) if listing and b["item"] == listing]


def input_texts(order: OrderRow, item: ItemRow) -> list[str]:
    """Everything the buyer wrote for this item: option values, Amazon Custom text, the order's notes (of
    eBay note blocks, only this listing's: another listing's name is not this item's)."""
    texts = [o["value"] for o in readers.ai_input_options(order, item) if o["value"].strip()]
    if readers.ebay_blocks(order.customer_notes):
        texts += _listing_blocks(order, item)
        outside = readers.notes_outside_blocks(order.customer_notes)
        if outside:
            texts.append(outside)
    elif order.customer_notes:
        texts.append(order.customer_notes)
    return texts


def text_fields(order: OrderRow, item: ItemRow) -> list[str]:
    """The fields that hold the text to print (not colours, fonts or notes in general)."""
    fields = []
    for option in readers.ai_input_options(order, item):
        key = readers.option_key(option["name"])
        key = key.removeprefix("amazon custom ")
        if key in readers.TEXT_KEYS or readers._unit_number(key) is not None \
                or readers._line_number(key) is not None or option["name"].startswith("Amazon Custom ") \
                and "colour" not in key and "font" not in key:
            fields.append(option["value"])
        elif readers._TEXTISH_KEY.search(key) and not readers._COLOURISH_KEY.search(key) and "font" not in key:
            fields.append(option["value"])  # a text field the readers do not know ("Surname", "Back text")
    fields += _listing_blocks(order, item)
    return [f for f in fields if f.strip()]


def colour_mentions(order: OrderRow, item: ItemRow) -> list[str]:
    """What in the order names a colour for this item besides the text: colour fields (known or not),
    note-like fields ("Note to seller") and the buyer's notes."""
    mentions = [o["value"] for o in readers.ai_input_options(order, item)
                if readers._COLOURISH_KEY.search(readers.option_key(o["name"]))
                or readers._NOTEISH_KEY.search(readers.option_key(o["name"]))]
    notes = readers.notes_outside_blocks(order.customer_notes)
    return [m for m in [*mentions, notes] if m and m.strip()]


def colours_asked_for(texts: Iterable[str], palette: Palette) -> set[str]:
    """Palette colours the texts name (palette names and the aliases buyers use)."""
    names = {buyer_text.fold(c) for c in palette.colours} | {buyer_text.fold(a) for a in COLOUR_ALIASES}
    found = set()
    for text in texts:
        words = [t.folded for t in buyer_text.tokens(text)]
        for size in (4, 3, 2, 1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start:start + size])
                if phrase in names:
                    colour, _ = palette.normalize(phrase)
                    if colour:
                        found.add(colour)
        colour, _ = palette.normalize(text)  # "Colour: Red", "Red (matt)"
        if colour:
            found.add(colour)
    return found


def _split_of_one_line(fields: list[str], texts: list[str]) -> str | None:
    """A single-line field that the answer split in two at "&", "and", "+" or "," (maybe one text)."""
    wanted = sorted(buyer_text.fold(t) for t in texts if t)
    if len(wanted) != 2:
        return None
    for field in fields:
        lines = buyer_text.clean_lines(field)
        if len(lines) != 1:
            continue
        parts = [p.strip() for p in re.split(r"\s*(?:,|&|\+|\band\b)\s*", lines[0], flags=re.I) if p.strip()]
        if len(parts) == 2 and sorted(buyer_text.fold(p) for p in parts) == wanted:
            return lines[0]
    return None


def _uncovered(fields: list[str], printed: list[str], quantities: set[int]) -> list[str]:
    covered = {t.folded for text in printed for t in buyer_text.tokens(text)}
    missing = []
    for field in fields:
        cleaned = buyer_text._MULTIPLIER.sub(" ", buyer_text.fold(field))
        for token in buyer_text.tokens(cleaned):
            word = token.folded
            if word in covered or word in _STOP or word in missing or len(word) < 2:
                continue
            if word.isdigit() and int(word) in quantities:
                continue
            if buyer_text.colour_words(word) or word in buyer_text.SURNAME_COLOURS:
                continue
            missing.append(word)
    return missing


def _lowercase_guess(fields: list[str], text: str) -> str | None:
    """A word the buyer typed in lower case ("dj", "mckenzie") that the text prints: its capitals are a guess."""
    printed = {t.folded for t in buyer_text.tokens(text)}
    for field in fields:
        for line in buyer_text.clean_lines(field):
            acronym = buyer_text.lowercase_guess(line)
            if acronym and acronym in printed:
                return acronym
    return None


def _unsplit_names(fields: list[str], checked: list[Personalization], quantity: int) -> str | None:
    """One text kept whole where its words or lines may be one name per item: "Ava Leo Max" for three
    keyrings, or "Ava" and "Leo" on two lines of one keyring's box."""
    for p in checked:
        lines = buyer_text.clean_lines(p.custom_text or "")
        if len(lines) > 1 and any(len(buyer_text.clean_lines(f)) == len(lines) and
                                  [buyer_text.fold(x) for x in buyer_text.clean_lines(f)] ==
                                  [buyer_text.fold(x) for x in lines] for f in fields):
            return (f"AI kept the {len(lines)} lines '{' / '.join(lines)}' as one text: check they are not "
                    "one text for each item")
    if len(checked) == 1 and quantity > 1 and checked[0].quantity == quantity and checked[0].custom_text:
        words = buyer_text.tokens(checked[0].custom_text)
        if len(words) == quantity and len(buyer_text.clean_lines(checked[0].custom_text)) == 1:
            return (f"AI kept '{checked[0].custom_text}' as one text on all {quantity} items: check it is not "
                    "one name for each item")
    return None


def _colours_in_text_not_printed(fields: list[str], checked: list[Personalization], palette: Palette) -> list[str]:
    """Palette colours the buyer named inside the text fields ("Sophie (pink)") that no task uses: the text
    and the colour option disagree, or a per-name colour was lost."""
    used = {palette.normalize(c)[0] for p in checked for c in (p.color_1, p.color_2)}
    context = buyer_text.colour_context(*[c for p in checked for c in (p.color_1, p.color_2)])
    named: list[str] = []
    for field in fields:
        for phrase in buyer_text.colour_words(field, context):
            colour, _ = palette.normalize(phrase)
            if colour and colour not in used and colour not in named:
                named.append(colour)
    return named


def _span(words: list[str], wanted: list[str]) -> tuple[int, int] | None:
    for start in range(len(words) - len(wanted) + 1):
        if wanted and words[start:start + len(wanted)] == wanted:
            return start, start + len(wanted) - 1
    return None


def _colour_pairing(fields: list[str], checked: list[Personalization], palette: Palette) -> list[str]:
    """Where one text field gives each name its colour ("Ava in pink and Leo in blue", "pink Ava, blue
    Leo"), each task must have the colour written beside its own name, not a neighbour's."""
    problems: list[str] = []
    context = buyer_text.colour_context(*[c for p in checked for c in (p.color_1, p.color_2)])
    for field in fields:
        found = buyer_text.tokens(field)
        words = [t.folded for t in found]
        spans = {i: _span(words, [t.folded for t in buyer_text.tokens(p.custom_text or "")])
                 for i, p in enumerate(checked)}
        inside = {k for span in spans.values() if span for k in range(span[0], span[1] + 1)}
        colours: list[tuple[int, str]] = []  # (token index, palette colour), outside the names
        phrases = set(buyer_text.colour_words(field, context))
        for size in (3, 2, 1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start:start + size])
                taken = any(start <= k < start + size for k, _ in colours)
                if phrase in phrases and not taken and not inside & set(range(start, start + size)):
                    colour, _ = palette.normalize(phrase)
                    if colour:
                        colours.append((start, colour))
        colours.sort()
        named = [span for span in spans.values() if span]
        if len({c for _, c in colours}) < 2 or len(named) < 2:
            continue
        after = colours[0][0] > min(span[0] for span in named)  # "name colour" or "colour name"
        for i, p in enumerate(checked):
            span, task_colour = spans[i], palette.normalize(p.color_1)[0]
            if not span or not task_colour:
                continue
            near = [c for k, c in colours if k > span[1]] if after else [c for k, c in colours if k < span[0]]
            beside = (near[0] if after else near[-1]) if near else None
            if beside and beside != task_colour:
                problems.append(f"the buyer wrote {beside} beside '{p.custom_text}' but its task is {task_colour}")
    return problems


def _stated_counts(fields: list[str]) -> set[int]:
    """Numbers the buyer wrote as counts ("x2", "2 of", "3x")."""
    counts = set()
    for field in fields:
        for match in buyer_text._MULTIPLIER.finditer(buyer_text.fold(field)):
            counts.update(int(n) for n in re.findall(r"\d+", match.group(0)))
    return counts


def check_answer(order: OrderRow, item: ItemRow, answer: list[AiPersonalization], *,
                 palette: Palette, must_review: str | None = None) -> list[Personalization]:
    """The model's personalizations for ``item``, traced to the buyer's input and flagged where they fail."""
    sources = input_texts(order, item)
    fields = text_fields(order, item)
    colour_sources = [*sources, item.name or "", item.sku or ""]
    asked = colours_asked_for(colour_sources, palette)
    checked: list[Personalization] = []
    shared: list[str] = []
    for p in answer:
        reasons: list[str] = []
        text = p.custom_text.strip() if p.custom_text and p.custom_text.strip() else None
        if text is not None:
            spans = [buyer_text.find_span(line, sources) for line in buyer_text.clean_lines(text)]
            if all(spans):
                text = "\n".join(s for s in spans if s)
            else:
                reasons.append(f"AI text '{text}' not found in the order")
            acronym = None if readers._regkey(item) else _lowercase_guess(fields, text)
            if acronym:  # "dj mike": whether the buyer means DJ or Dj is a guess, the model's too
                reasons.append(f"the buyer typed '{acronym}' in lower case: its capitals are a guess")
            # whether the text is printable as it stands is checked for every source in validation
        colours: list[str | None] = []
        for value in (p.color_1, p.color_2):
            colour, _problem = palette.normalize(value)
            if colour is not None and colour not in asked:
                reasons.append(f"AI colour '{value}' is not asked for in the order")
            colours.append(value)
        quantity = p.quantity
        if quantity > item.quantity or quantity > MAX_TASK_QUANTITY:
            # the whole answer for the item is suspect: every task of it is flagged
            shared.append(f"AI quantity {quantity:,} is impossible for {item.quantity} ordered")
            quantity = item.quantity if len(answer) == 1 else 1
        checked.append(Personalization(
            text, colours[0], colours[1], quantity, needs_review=p.needs_review,
            review_reasons=[*([p.review_reason] if p.review_reason else []), *reasons], annotation=p.annotation))

    printed = [p.custom_text for p in checked if p.custom_text]
    split = _split_of_one_line(fields, printed) if len(checked) > 1 else None
    if split:
        shared.append(f"AI split '{split}' into separate tasks: check it is not one text for each item")
    missing = _uncovered(fields, printed, {item.quantity} | {p.quantity for p in checked})
    if missing:
        shared.append("the order also says " + ", ".join(f"'{m}'" for m in missing[:5]) + ", which no task prints")
    unsplit = _unsplit_names(fields, checked, item.quantity)
    if unsplit:
        shared.append(unsplit)
    ignored = _colours_in_text_not_printed(fields, checked, palette)
    if ignored:
        shared.append("the buyer's text names " + ", ".join(ignored) + " but no task is in that colour: check "
                      "which colour the buyer wants")
    shared.extend(_colour_pairing(fields, checked, palette))
    unused = [c for c in _colours_in_text_not_printed(colour_mentions(order, item), checked, palette)
              if c not in ignored]
    if unused:
        shared.append("the order names " + ", ".join(unused) + " (a colour field or a note) but no task is in "
                      "that colour: check which colour the buyer wants")
    counts = _stated_counts(fields)
    quantities = [p.quantity for p in checked]
    if counts - set(quantities) - {item.quantity}:
        shared.append(f"the buyer wrote a count of {', '.join(map(str, sorted(counts)))} but {item.quantity} "
                      f"{'was' if item.quantity == 1 else 'were'} ordered")
    if len(set(quantities)) > 1 and not counts:
        shared.append("AI shared the quantity unevenly (" + ", ".join(
            f"{p.custom_text or '?'} x{p.quantity}" for p in checked) + "): check how many of each")
    if must_review:
        shared.append(must_review)
    for p in checked:
        p.review_reasons.extend(shared)
    return checked
