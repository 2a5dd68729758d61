"""The filament palette and the mapping of how buyers and listings spell colours onto it."""

from __future__ import annotations

import re

# The shop's standard filament colours (legacy prompt list, with Bone White added later).
DEFAULT_PALETTE: tuple[str, ...] = (
    "Black", "Grey", "Light Blue", "Blue", "Dark Blue", "Brown", "Orange", "Matt Orange", "Silk Orange",
    "Red", "Fire Engine Red", "Rose Gold", "Magenta", "White", "Yellow", "Silver", "Silk Silver", "Purple",
    "Pink", "Gold", "Skin", "Peak Green", "Green", "Olive Green", "Pine Green", "Cold White", "Matt Pink",
    "Silk Pink", "Glow in the Dark", "Bronze", "Beige", "Turquoise", "Bone White",
)

# Spellings seen in orders that mean a palette colour. Keys are compared after _key() folding.
COLOUR_ALIASES: dict[str, str] = {
    "navy": "Dark Blue", "navy blue": "Dark Blue", "royal blue": "Blue", "sky blue": "Light Blue",
    "baby blue": "Light Blue", "pale blue": "Light Blue", "gray": "Grey", "light grey": "Grey",
    "light gray": "Grey", "dark grey": "Grey", "dark gray": "Grey", "hot pink": "Pink", "baby pink": "Pink",
    "light pink": "Pink", "lilac": "Purple", "violet": "Purple", "lavender": "Purple", "teal": "Turquoise",
    "aqua": "Turquoise", "cream": "Beige", "ivory": "Bone White", "glow": "Glow in the Dark",
    "glow in dark": "Glow in the Dark", "gitd": "Glow in the Dark", "golden": "Gold", "lime": "Green",
    "lime green": "Green", "dark green": "Pine Green", "forest green": "Pine Green", "khaki": "Olive Green",
    "scarlet": "Red", "crimson": "Red", "fuchsia": "Magenta",
}

# Values that mean "the buyer did not choose": never guess a colour for them.
NO_CHOICE = {"random", "any", "surprise me", "mixed", "assorted", "your choice", "n/a", "na", "-"}
EMPTY = {"", "none", "null", "no", "no colour", "no color"}


def _key(value: str) -> str:
    return re.sub(r"[\s_]+", " ", value.strip().lower())


class Palette:
    """Maps a written colour to its palette name; ``normalize`` says why when it cannot."""

    def __init__(self, colours: tuple[str, ...] | list[str] = DEFAULT_PALETTE,
                 aliases: dict[str, str] | None = None):
        self.colours = tuple(colours)
        self._exact = {_key(c): c for c in self.colours}
        merged = dict(COLOUR_ALIASES)
        merged.update(aliases or {})
        # An alias only counts if it points at a colour this palette has.
        self._aliases = {_key(k): v for k, v in merged.items() if _key(v) in self._exact}

    def normalize(self, value: str | None) -> tuple[str | None, str | None]:
        """(palette colour or None, review reason or None). Blank input is simply no colour."""
        if value is None:
            return None, None
        raw = value.strip()
        key = _key(raw)
        if key in EMPTY:
            return None, None
        if key in self._exact:
            return self._exact[key], None
        if key in self._aliases:
            return self._exact[_key(self._aliases[key])], None
        # "Colour: Red", "Red (matt)" and similar decorations around a known colour.
        stripped = _key(re.sub(r"^(colou?r\s*\d?\s*[:=-]\s*)|\s*\(.*?\)\s*$", "", raw, flags=re.I))
        if stripped in self._exact:
            return self._exact[stripped], None
        if stripped in self._aliases:
            return self._exact[_key(self._aliases[stripped])], None
        if key in NO_CHOICE:
            return None, f"Colour '{raw}' is not a choice: pick one from the palette"
        return None, f"Colour '{raw}' is not in the palette"
