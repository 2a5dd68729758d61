"""Amazon Custom customisation zips: `<AmazonOrderId>_<OrderItemId>.zip` holding `<OrderItemId>.json`
in the layouts seen in the wild (see AMAZON_CUSTOM_LAYOUTS in data.py), some with a preview PNG."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
import zlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from y3d_pipeline.sandbox.core import SandboxState, with_faults
from y3d_pipeline.sandbox.data import COLOUR_VARIANTS, HEX, LineItem, RealOrder

PREFIX = "/amazon-custom"
MERCHANT_ID = "A2Y3DSANDBOX01"


def tiny_png(seed: bytes) -> bytes:
    """A valid 2x2 RGB PNG whose pixels derive from `seed`."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    pixels = hashlib.sha256(seed).digest()[:12]
    raw = b"\x00" + pixels[:6] + b"\x00" + pixels[6:12]
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _hex(label: str | None) -> str:
    canonical = COLOUR_VARIANTS.get(label, label) if label else None
    return HEX.get(canonical or "", "#7F7F7F")


def _tree(order: RealOrder, item: LineItem) -> dict:
    custom = item.amazon_custom
    assert custom is not None
    ident = item.line_item_key

    def option(name: str, value: str) -> dict:
        return {"type": "OptionCustomization", "identifier": f"{ident}-{name.replace(' ', '')}", "name": name,
                "label": name, "displayValue": value,
                "optionSelection": {"name": value, "label": value,
                                    "additionalCost": {"amount": 0, "currencyCode": "GBP"},
                                    "thumbnailImage": {"imageUrl": f"https://m.media-amazon.com/sandbox/{value}.jpg"},
                                    "overlayImage": None}}

    text_block = {
        "type": "PlacementContainerCustomization", "identifier": f"{ident}-placement", "name": "Text",
        "label": "Text", "children": [
            {"type": "TextCustomization", "identifier": f"{ident}-text", "name": "Name or Text",
             "label": "Name or Text", "inputValue": custom.text},
            {"type": "FontCustomization", "identifier": f"{ident}-font", "name": "Font", "label": "Font",
             "fontSelection": {"family": custom.font,
                               "fontUrl": f"https://m.media-amazon.com/fonts/{custom.font.replace(' ', '')}.ttf"}},
            {"type": "ColorCustomization", "identifier": f"{ident}-textcolour", "name": "Text Colour",
             "label": "Text Colour", "colorSelection": {"name": custom.colour_1_label,
                                                        "value": _hex(custom.colour_1_label), "colorModel": "RGB"}},
        ]}
    options = [option("Colour 1", custom.colour_1_label)]
    if custom.colour_2_label:
        options.append(option("Colour 2", custom.colour_2_label))
    return {
        "type": "PreviewContainerCustomization", "identifier": f"{ident}-preview", "name": "Preview",
        "label": "Preview", "baseImage": {"imageUrl": "https://m.media-amazon.com/sandbox/base.jpg"},
        "snapshot": {"imageName": f"{ident}-snapshot.png"},
        "children": [{
            "type": "PageContainerCustomization", "identifier": f"{ident}-page", "name": "Surface 1",
            "label": "Surface 1", "children": [
                {"type": "FlatContainerCustomization", "identifier": f"{ident}-flat", "name": "Design",
                 "label": "Design", "children": [text_block]},
                {"type": "FlatRatePriceDeltaContainerCustomization", "identifier": f"{ident}-colours",
                 "name": "Colours", "label": "Colours", "children": options},
            ]}],
    }


def _surfaces(item: LineItem, text_as_image: bool) -> list[dict]:
    custom = item.amazon_custom
    assert custom is not None
    if text_as_image:
        text_area = {"customizationType": "ImagePrinting", "name": "Name or Text", "label": "Name or Text",
                     "svgImage": f"{item.line_item_key}-text.svg", "Position": {"x": 12, "y": 40},
                     "Dimensions": {"width": 320, "height": 90}}
    else:
        text_area = {"customizationType": "TextPrinting", "name": "Name or Text", "label": "Name or Text",
                     "text": custom.text, "fontFamily": custom.font, "colorName": custom.colour_1_label,
                     "fill": _hex(custom.colour_1_label), "Position": {"x": 12, "y": 40},
                     "Dimensions": {"width": 320, "height": 90}}
    areas = [text_area, {"customizationType": "Options", "name": "Colour 1", "label": "Colour 1",
                         "optionValue": custom.colour_1_label, "optionId": "c1",
                         "priceDelta": {"currency": "GBP", "value": 0}, "optionImage": None}]
    if custom.colour_2_label:
        areas.append({"customizationType": "Options", "name": "Colour 2", "label": "Colour 2",
                      "optionValue": custom.colour_2_label, "optionId": "c2",
                      "priceDelta": {"currency": "GBP", "value": 0}, "optionImage": None})
    return [{"name": "Surface 1", "areas": areas}]


def customization_json(order: RealOrder, item: LineItem, marketplace_id: str) -> dict:
    custom = item.amazon_custom
    assert custom is not None
    layout = custom.layout
    doc: dict = {
        "orderId": order.order_number, "orderItemId": item.line_item_key,
        "legacyOrderItemId": item.line_item_key, "merchantId": MERCHANT_ID, "marketplaceId": marketplace_id,
        "asin": item.asin, "title": item.name, "quantity": item.quantity, "version": "3.0",
    }
    if layout.startswith("tree"):
        doc["customizationData"] = _tree(order, item)
    if layout in ("tree+flat_top", "flat_top_only", "tree+flat_svg"):
        doc["version3.0"] = {"customizationInfo": {"surfaces": _surfaces(item, layout == "tree+flat_svg")}}
        doc["customizationInfo"] = {"aspects": [{"title": "Name or Text", "text": {"value": custom.text}
                                                 if layout != "tree+flat_svg" else None,
                                                 "font": {"value": custom.font},
                                                 "color": {"value": custom.colour_1_label}}]}
    if layout in ("tree+flat_nested", "flat_nested_only"):
        doc["customizationInfo"] = {"version3.0": {"surfaces": _surfaces(item, False)}}
    return doc


def build_zip(order: RealOrder, item: LineItem, marketplace_id: str) -> bytes:
    custom = item.amazon_custom
    assert custom is not None
    date_time = order.ordered_at.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, payload: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, payload)

        payload = json.dumps(customization_json(order, item, marketplace_id), ensure_ascii=False, indent=2)
        add(f"{item.line_item_key}.json", payload.encode())
        if custom.with_image:
            add(f"{item.line_item_key}-snapshot.png", tiny_png(str(item.line_item_key).encode()))
        if custom.layout == "tree+flat_svg":
            svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="90"><path d="M0 0h320v90H0z" '
                   f'fill="{_hex(custom.colour_1_label)}"/></svg>')
            add(f"{item.line_item_key}-text.svg", svg.encode())
    return buffer.getvalue()


class AmazonCustomFiles:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route(PREFIX + "/{name}", self.download, methods=["GET"])]

    async def download(self, request: Request) -> Response:
        def error(status: int) -> Response:
            code = {429: "SlowDown", 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable"}[status]
            return Response(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code></Error>",
                            status_code=status, media_type="application/xml")

        path = request.url.path[len(PREFIX):]
        return await with_faults(self.state, "custom", path, request, self._download, error)

    async def _download(self, request: Request) -> Response:
        name = request.path_params["name"]
        missing = Response("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                           "<Message>The specified key does not exist.</Message></Error>",
                           status_code=404, media_type="application/xml")
        if not name.endswith(".zip") or "_" not in name:
            return missing
        order_id, _, item_id = name[:-4].partition("_")
        order = self.state.data.by_amazon_id.get(order_id)
        if order is None or order.ordered_at > self.state.clock.now():
            return missing
        item = next((i for i in order.items if i.line_item_key == item_id and i.amazon_custom), None)
        if item is None:
            return missing
        body = build_zip(order, item, self.state.options.amazon_marketplace_id)
        return Response(body, media_type="application/zip",
                        headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"',  # noqa: S324 - S3-style ETag
                                 "Content-Disposition": f'attachment; filename="{name}"'})
