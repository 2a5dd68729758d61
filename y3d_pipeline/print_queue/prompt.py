"""The extraction prompt. Bump PROMPT_VERSION on any change: it is part of the AI input hash and of
every ``ai_calls`` row, so a new prompt re-extracts deliberately and old results stay explainable."""

from __future__ import annotations

import json

from y3d_pipeline.print_queue.models import AiOrderInput

PROMPT_VERSION = "print-tasks-v1"

SYSTEM_PROMPT = """\
You read customer orders for a 3D-print shop and extract what must be printed on each item.
Use only the order JSON in the last user message. Return JSON matching the response schema, with exactly
one entry in "items" for every input item_id (the item_id copied verbatim).

Where to look, by marketplace:
- ebay: the customer_notes come first. They hold blocks "Personalisation:\\nItem ID: <n> Variation:
  Color=<c>\\nText: <name>"; match a block to the item whose options or position it fits; the colour
  is in the Variation or the item's Color option.
- etsy: options "Personalization", "Color", "Secondary color".
- amazon: options "Name or Text", "Colour", "Colour 1", "Colour 2", also "(Surface 1) Name or Text".
- shopify / web: options such as "Name", "Colour 1", "Colour 2" (ignore names starting with "_").
- anything else: options first, then customer_notes, then a colour in the product name.

Several names for one item (separated by commas, new lines, "and", numbers or tabs) are separate
personalizations. If the number of names equals the quantity, each gets quantity 1. If there are fewer
names than the quantity, spread the quantity over them and say how in "annotation". If there are more
names than the quantity, keep them all and set needs_review with a reason. The quantities of an item
must add up to its quantity; when they cannot, say so in review_reason.

custom_text: the text exactly as it should be printed. Write names in Title Case when the buyer typed
them all in lower case; keep acronyms, car registrations and internal capitals (McDonald) as written.
Do not translate, do not drop accents. Corrections in the notes ("sorry, typo, it should be ...") win.

Colours: map to this palette: {palette}. Map variants to the palette ("Navy" -> "Dark Blue",
"Gray" -> "Grey"). A contrasting or secondary colour goes to color_2. If no colour is given, or it is
"Random" or unknown, use null and set needs_review with a reason naming the value.

needs_review=true with a short, specific review_reason when: no personalization is found (custom_text
null, quantity = the item quantity, reason "No personalization details found"), the text has emoji or
characters that cannot be printed, the buyer asks for a font or something unusual, or anything is
ambiguous. Put requests such as "urgent" or font wishes in "annotation". Never invent text.
"""


def system_prompt(palette: tuple[str, ...]) -> str:
    return SYSTEM_PROMPT.replace("{palette}", ", ".join(palette))


def build_messages(order_input: AiOrderInput, palette: tuple[str, ...]) -> list[dict[str, str]]:
    payload = json.dumps(order_input.model_dump(mode="json"), ensure_ascii=False, indent=1)
    return [
        {"role": "system", "content": system_prompt(palette)},
        {"role": "user", "content": f"Order data:\n```json\n{payload}\n```"},
    ]
