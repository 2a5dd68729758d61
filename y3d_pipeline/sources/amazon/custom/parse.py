"""The buyer's choices (text, font, colours, per surface) out of an Amazon Custom JSON document.

Parsing order (see ../shared/reference/external-apis.md §3.4 and legacy-y3dhub.md §7b):
1. the ``customizationData`` tree — binds each TextCustomization to the Font/Color nodes of its container;
2. the flat ``version3.0`` surfaces/areas list, at either ``["version3.0"].customizationInfo.surfaces`` or
   ``customizationInfo["version3.0"].surfaces``;
3. the legacy v2 ``customizationInfo.aspects`` list.
Fields missing from the first layout with text are filled from the later ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from y3d_pipeline.db.storable import unstorable_text
from y3d_pipeline.sources.amazon.custom.errors import UnparseableError

LAYOUT_TREE = "customizationData"
LAYOUT_FLAT_TOP = "version3.0.customizationInfo"
LAYOUT_FLAT_NESTED = "customizationInfo.version3.0"
LAYOUT_ASPECTS = "customizationInfo.aspects"
_COLOUR = re.compile(r"colou?r", re.IGNORECASE)
_MAX_NODES = 10_000
_MAX_DEPTH = 64


class TextBlock(BaseModel):
    label: str | None = None
    text: str
    font: str | None = None
    color: str | None = None
    color_hex: str | None = None


class Surface(BaseModel):
    name: str | None = None
    texts: list[TextBlock] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)  # label -> chosen value ("Colour 1" -> "Red")
    images: list[str] = Field(default_factory=list)  # labels of image areas (text that became an image)

    @property
    def fonts(self) -> list[str]:
        return [t.font for t in self.texts if t.font]

    @property
    def colors(self) -> list[str]:
        names = [t.color for t in self.texts if t.color]
        names += [v for k, v in self.options.items() if _COLOUR.search(k)]
        return names


class Customization(BaseModel):
    """What the buyer chose. ``layout`` is the view the text came from; ``layouts`` all views present."""

    layout: str | None
    layouts: list[str]
    custom_text: str | None = None
    font: str | None = None
    color_1: str | None = None
    color_2: str | None = None
    surfaces: list[Surface] = Field(default_factory=list)

    def surfaces_json(self) -> list[dict[str, Any]]:
        return [s.model_dump(mode="json") for s in self.surfaces]


def _s(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _tree_surfaces(root: dict) -> list[Surface]:
    surfaces: list[Surface] = []
    budget = [_MAX_NODES]

    def leaf_children(node: dict) -> list[dict]:
        children = node.get("children")
        return [c for c in children if isinstance(c, dict)] if isinstance(children, list) else []

    def walk(node: dict, surface: Surface, inherited: dict[str, str | None], depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > _MAX_DEPTH:
            raise UnparseableError("customizationData tree is too large or too deep")
        children = leaf_children(node)
        kind = node.get("type")
        if kind == "PageContainerCustomization" and surface.name is None and not surface.texts \
                and not surface.options:
            surface.name = _s(node.get("label")) or _s(node.get("name"))
        elif kind == "PageContainerCustomization":
            surface = Surface(name=_s(node.get("label")) or _s(node.get("name")))
            surfaces.append(surface)
        # bind font/colour to texts by container: siblings first, then the nearest ancestor's
        scope = dict(inherited)
        for child in children:
            ctype = child.get("type")
            if ctype == "FontCustomization":
                scope["font"] = _s(_get(child, "fontSelection", "family")) or scope.get("font")
            elif ctype == "ColorCustomization":
                scope["color"] = _s(_get(child, "colorSelection", "name")) or scope.get("color")
                scope["color_hex"] = _s(_get(child, "colorSelection", "value")) or scope.get("color_hex")
        for child in children:
            ctype = child.get("type")
            label = _s(child.get("label")) or _s(child.get("name"))
            if ctype == "TextCustomization":
                text = _s(child.get("inputValue"))
                if text is None:
                    text = _s(child.get("text"))
                if text is not None:
                    surface.texts.append(TextBlock(label=label, text=text, font=scope.get("font"),
                                                   color=scope.get("color"), color_hex=scope.get("color_hex")))
            elif ctype == "OptionCustomization":
                value = _s(child.get("displayValue")) or _s(_get(child, "optionSelection", "name")) \
                    or _s(_get(child, "optionSelection", "label"))
                if value is not None:
                    surface.options[label or f"Option {len(surface.options) + 1}"] = value
            elif ctype == "ImageCustomization":
                surface.images.append(label or "image")
            elif leaf_children(child):
                walk(child, surface, scope, depth + 1)

    top = Surface()
    surfaces.append(top)
    walk(root, top, {}, 0)
    return [s for s in surfaces if s.texts or s.options or s.images]


def _flat_surfaces(raw: Any) -> list[Surface]:
    surfaces = []
    for raw_surface in raw if isinstance(raw, list) else []:
        if not isinstance(raw_surface, dict):
            continue
        surface = Surface(name=_s(raw_surface.get("name")))
        areas = raw_surface.get("areas")
        for area in areas if isinstance(areas, list) else []:
            if not isinstance(area, dict):
                continue
            kind = area.get("customizationType")
            label = _s(area.get("label")) or _s(area.get("name"))
            if kind == "TextPrinting":
                text = _s(area.get("text"))
                if text is not None:
                    surface.texts.append(TextBlock(label=label, text=text, font=_s(area.get("fontFamily")),
                                                   color=_s(area.get("colorName")), color_hex=_s(area.get("fill"))))
            elif kind == "Options":
                value = _s(area.get("optionValue"))
                if value is not None:
                    surface.options[label or f"Option {len(surface.options) + 1}"] = value
            elif kind == "ImagePrinting":
                surface.images.append(label or "image")
        if surface.texts or surface.options or surface.images:
            surfaces.append(surface)
    return surfaces


def _aspect_surfaces(raw: Any) -> list[Surface]:
    surface = Surface(name=None)
    for aspect in raw if isinstance(raw, list) else []:
        if not isinstance(aspect, dict):
            continue
        title = _s(aspect.get("title"))
        text = _s(_get(aspect, "text", "value"))
        font = _s(_get(aspect, "font", "value"))
        color = _s(_get(aspect, "color", "value"))
        if text is not None and title and _COLOUR.search(title) and font is None:
            surface.options[title] = text
        elif text is not None:
            surface.texts.append(TextBlock(label=title, text=text, font=font, color=color))
        elif color is not None or font is not None:
            # the text went missing (e.g. turned into an image) but its font/colour remain
            surface.images.append(title or "text")
            surface.texts.append(TextBlock(label=title, text="", font=font, color=color))
    if surface.texts or surface.options:
        return [surface]
    return []


def _layouts(doc: dict) -> list[tuple[str, list[Surface]]]:
    found = []
    tree = doc.get("customizationData")
    if isinstance(tree, dict):
        found.append((LAYOUT_TREE, _tree_surfaces(tree)))
    top = _get(doc, "version3.0", "customizationInfo", "surfaces")
    if top is not None:
        found.append((LAYOUT_FLAT_TOP, _flat_surfaces(top)))
    nested = _get(doc, "customizationInfo", "version3.0", "surfaces")
    if nested is not None:
        found.append((LAYOUT_FLAT_NESTED, _flat_surfaces(nested)))
    aspects = _get(doc, "customizationInfo", "aspects")
    if aspects is not None:
        found.append((LAYOUT_ASPECTS, _aspect_surfaces(aspects)))
    return found


def _numbered_colour(options: dict[str, str], number: str) -> str | None:
    for label, value in options.items():
        if _COLOUR.search(label) and re.search(rf"(?<!\d){number}(?!\d)", label):
            return value
    return None


def _summary(surfaces: list[Surface]) -> dict[str, str | None]:
    texts = [t for s in surfaces for t in s.texts if t.text]
    options: dict[str, str] = {}
    for s in surfaces:
        for label, value in s.options.items():
            options.setdefault(label, value)
    colour_options = [v for k, v in options.items() if _COLOUR.search(k)]
    color_1 = _numbered_colour(options, "1")
    color_2 = _numbered_colour(options, "2")
    remaining = [v for v in colour_options if v not in (color_1, color_2)]
    text_colours = [t.color for s in surfaces for t in s.texts if t.color]
    if color_1 is None:
        color_1 = remaining.pop(0) if remaining else (text_colours[0] if text_colours else None)
    if color_2 is None and remaining:
        color_2 = remaining.pop(0)
    fonts = [t.font for s in surfaces for t in s.texts if t.font]
    return {
        "custom_text": "\n".join(t.text for t in texts) or None,
        "font": fonts[0] if fonts else None,
        "color_1": color_1,
        "color_2": color_2,
    }


def parse_customization(doc: dict) -> Customization:
    """Extract text, font and colours; raises UnparseableError when no known layout is present."""
    if not isinstance(doc, dict):
        raise UnparseableError("customization JSON is not an object")
    layouts = _layouts(doc)
    if not layouts:
        raise UnparseableError("no customizationData, version3.0 surfaces or customizationInfo.aspects found")
    summaries = [(name, surfaces, _summary(surfaces)) for name, surfaces in layouts]
    primary = next((entry for entry in summaries if entry[2]["custom_text"]), None) \
        or next((entry for entry in summaries if entry[1]), None) or summaries[0]
    merged = dict(primary[2])
    for _, _, summary in summaries:  # fill what the primary view lacks, in precedence order
        for key, value in summary.items():
            if merged.get(key) is None and value is not None:
                merged[key] = value
    customization = Customization(layout=primary[0], layouts=[name for name, _ in layouts], surfaces=primary[1],
                                  **merged)
    _refuse_unprintable(customization)
    return customization


def _refuse_unprintable(customization: Customization) -> None:
    """What the buyer chose is printed: a NUL or half an emoji in it is not a guess we make for them."""
    def strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from strings(key, where)
                yield from strings(item, f"{where}.{key}")
        elif isinstance(value, list):
            for item in value:
                yield from strings(item, where)

    for where, text in strings(customization.model_dump(), "customization"):
        problem = unstorable_text(text)
        if problem:
            raise UnparseableError(f"{where.removeprefix('customization.')} contains {problem}")
