"""Amazon Custom downloader and parser: hostile URLs, hostile zips, every JSON layout.

Downloads are exercised over real HTTP against a tiny http.server bound to 127.0.0.1 in the test.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from y3d_pipeline.sources.amazon import custom as ac
from y3d_pipeline.sources.http import RetryPolicy

AMAZON = ac.DownloadPolicy(allowed_hosts=("amazon.com", "media-amazon.com", "amazonaws.com"))
NO_RETRY = RetryPolicy(max_attempts=2, max_total_seconds=5, initial_backoff=0.01, max_backoff=0.01)


def no_sleep(_seconds: float) -> None:
    pass


# ------------------------------------------------------------------------------------------ URL rules


@pytest.mark.parametrize("url", [
    "https://amazon.com/x.zip",
    "https://www.amazon.com/x.zip",
    "https://s3.eu-west-1.amazonaws.com/bucket/123_456.zip?X-Amz-Signature=abc",
    "https://m.media-amazon.com:443/x.zip",
    "https://AMAZON.COM./x.zip",
])
def test_allowed_urls(url: str) -> None:
    assert ac.check_url(url, AMAZON) == url


@pytest.mark.parametrize(("url", "reason"), [
    ("http://amazon.com/x.zip", "https only"),
    ("ftp://amazon.com/x.zip", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("gopher://amazon.com/", "scheme"),
    ("https://evil.example/x.zip", "not in the allowed hosts"),
    ("https://amazon.com.evil.example/x.zip", "not in the allowed hosts"),
    ("https://evilamazon.com/x.zip", "not in the allowed hosts"),
    ("https://amazon.com@evil.example/x.zip", "userinfo"),
    ("https://user:pw@amazon.com/x.zip", "userinfo"),
    ("https://evil.example#@amazon.com/x.zip", "not in the allowed hosts"),
    ("https://127.0.0.1/x.zip", "IP address"),
    ("https://169.254.169.254/latest/meta-data/", "IP address"),
    ("https://[::1]/x.zip", "IP address"),
    ("https://2130706433/x.zip", "numeric host"),
    ("https://0x7f.1/x.zip", "numeric host"),
    ("https://amazon.com:8443/x.zip", "port 8443"),
    ("https://amazon.com:0/x.zip", "port 0"),
    ("https://amazon.com\\@evil.example/", "backslash"),
    ("https://amazon.com /x.zip", "whitespace"),
    ("https://ama%7Azon.com/x.zip", "plain DNS name"),
    ("", "empty"),
    ("//amazon.com/x.zip", "scheme"),
    ("https:///x.zip", "no host"),
])
def test_hostile_urls_are_rejected(url: str, reason: str) -> None:
    with pytest.raises(ac.UrlRejectedError, match=reason):
        ac.check_url(url, AMAZON)


def test_ip_literal_only_when_listed_and_http_only_when_allowed() -> None:
    sandbox = ac.DownloadPolicy.from_settings(("127.0.0.1",), allow_http=True)
    assert ac.check_url("http://127.0.0.1:8123/amazon-custom/a_b.zip", sandbox)
    with pytest.raises(ac.UrlRejectedError, match="IP address"):
        ac.check_url("http://127.0.0.2/x.zip", sandbox)
    with pytest.raises(ac.UrlRejectedError, match="not in the allowed hosts"):
        ac.check_url("http://localhost/x.zip", sandbox)  # a name, not the listed IP
    with pytest.raises(ac.UrlRejectedError, match="numeric host|not in the allowed"):
        ac.check_url("http://x.127.0.0.1/x.zip", sandbox)  # no "subdomains" of an IP
    strict = ac.DownloadPolicy(allowed_hosts=("127.0.0.1",))
    with pytest.raises(ac.UrlRejectedError, match="https only"):
        ac.check_url("http://127.0.0.1/x.zip", strict)
    with pytest.raises(ac.UrlRejectedError, match="port"):
        ac.check_url("https://127.0.0.1:8123/x.zip", strict)
    with_port = ac.DownloadPolicy(allowed_hosts=("files.example.com:8443",))
    assert ac.check_url("https://files.example.com:8443/x.zip", with_port)


def test_log_form_drops_query_and_userinfo() -> None:
    assert ac.safe_url_for_log("https://u:p@amazon.com/a.zip?X-Amz-Signature=s") == "https://amazon.com/a.zip"


# ----------------------------------------------------------------------------------------- zip helpers


def make_zip(entries: dict[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data.encode() if isinstance(data, str) else data,
                             compress_type=compression)
    return buffer.getvalue()


TREE_DOC = {
    "orderId": "206-1", "orderItemId": "111",
    "customizationData": {
        "type": "PreviewContainerCustomization", "children": [{
            "type": "PageContainerCustomization", "label": "Surface 1", "children": [
                {"type": "FlatContainerCustomization", "children": [{
                    "type": "PlacementContainerCustomization", "label": "Text", "children": [
                        {"type": "TextCustomization", "label": "Name or Text", "inputValue": "Ada  "},
                        {"type": "FontCustomization", "fontSelection": {"family": "Pacifico"}},
                        {"type": "ColorCustomization", "colorSelection": {"name": "Red", "value": "#FF0000"}},
                    ]}]},
                {"type": "FlatRatePriceDeltaContainerCustomization", "children": [
                    {"type": "OptionCustomization", "label": "Colour 1", "displayValue": "Black",
                     "optionSelection": {"name": "Black"}},
                    {"type": "OptionCustomization", "label": "Colour 2", "optionSelection": {"name": "Gold"}},
                ]},
            ]}]},
}

FLAT_AREAS = [
    {"customizationType": "TextPrinting", "label": "Name or Text", "text": "Bob", "fontFamily": "Arial",
     "colorName": "Blue", "fill": "#0000FF"},
    {"customizationType": "Options", "label": "Colour 1", "optionValue": "White"},
    {"customizationType": "Options", "label": "Colour 2", "optionValue": "Green"},
]


def test_zip_bomb_by_ratio_is_rejected_without_expanding() -> None:
    bomb = make_zip({"111.json": b"{" + b" " * (30 * 1024 * 1024) + b"}"})
    assert len(bomb) < 100_000
    with pytest.raises(ac.ZipBombError):
        ac.read_customization_json(bomb, order_item_id="111")


def test_zip_bomb_by_total_size_and_entry_count() -> None:
    limits = ac.ZipLimits(max_entries=5, max_total_bytes=1000, max_entry_bytes=800, ratio_floor_bytes=10**9)
    many = make_zip({f"f{i}.txt": "x" for i in range(6)} | {"111.json": "{}"})
    with pytest.raises(ac.ZipBombError, match="entries"):
        ac.read_customization_json(many, limits=limits)
    big = make_zip({"a.png": b"\x00" * 700, "b.png": b"\x00" * 700, "111.json": "{}"})
    with pytest.raises(ac.ZipBombError, match="expands"):
        ac.read_customization_json(big, limits=limits)
    one = make_zip({"111.json": "{" + " " * 900 + "}"})
    with pytest.raises(ac.ZipBombError, match="entry of"):
        ac.read_customization_json(one, limits=limits)


def test_lying_header_sizes_are_still_bounded() -> None:
    """A central directory claiming a tiny size for a large stored entry must not be trusted."""
    payload = b"{" + b" " * 5000 + b"}"
    data = bytearray(make_zip({"111.json": payload}, compression=zipfile.ZIP_STORED))
    # patch the uncompressed size in the central directory entry to 10 bytes
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24:cd + 28] = (10).to_bytes(4, "little")
    limits = ac.ZipLimits(max_json_bytes=100)
    with pytest.raises((ac.ZipBombError, ac.NotAZipError)):
        ac.read_customization_json(bytes(data), limits=limits)


def test_path_traversal_names_are_ignored_and_nothing_is_written(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = make_zip({"../../111.json": json.dumps(TREE_DOC), "/etc/111.json": "{}", "C:/x/111.json": "{}",
                     "..\\111.json": "{}"})
    with pytest.raises(ac.NoJsonError, match="unsafe names ignored"):
        ac.read_customization_json(evil, order_item_id="111")
    mixed = make_zip({"../evil.json": "{}", "111.json": json.dumps(TREE_DOC)})
    picked = ac.read_customization_json(mixed, order_item_id="111")
    assert picked.name == "111.json"
    assert picked.ignored_unsafe == ["../evil.json"]
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "evil.json").exists()


def test_picks_order_item_json_skipping_macos_files() -> None:
    content = make_zip({"__MACOSX/._111.json": "garbage", "._111.json": "garbage", "other.json": "{}",
                        "111.json": json.dumps(TREE_DOC), "111-snapshot.png": b"\x89PNG"})
    assert ac.read_customization_json(content, order_item_id="111").name == "111.json"
    only = make_zip({"__MACOSX/._x.json": "garbage", "whatever.JSON": json.dumps(TREE_DOC)})
    assert ac.read_customization_json(only, order_item_id="111").name == "whatever.JSON"
    two = make_zip({"a.json": "{}", "b.json": "{}"})
    with pytest.raises(ac.NoJsonError, match="2 .json entries"):
        ac.read_customization_json(two, order_item_id="111")
    with pytest.raises(ac.NoJsonError):
        ac.read_customization_json(make_zip({"preview.png": b"x"}))


def test_not_a_zip_and_bad_json() -> None:
    with pytest.raises(ac.NotAZipError):
        ac.read_customization_json(b"<Error>AccessDenied</Error>")
    with pytest.raises(ac.UnparseableError, match="not valid JSON"):
        ac.read_customization_json(make_zip({"111.json": "{nope"}))
    with pytest.raises(ac.UnparseableError, match="list"):
        ac.read_customization_json(make_zip({"111.json": "[1]"}))
    deep = "[" * 20_000 + "]" * 20_000
    with pytest.raises(ac.UnparseableError):
        ac.read_customization_json(make_zip({"111.json": deep}))


# ---------------------------------------------------------------------------------------------- parser


def test_tree_binds_font_and_colour_to_its_text() -> None:
    result = ac.parse_customization(TREE_DOC)
    assert result.layout == ac.LAYOUT_TREE
    assert (result.custom_text, result.font, result.color_1, result.color_2) == ("Ada", "Pacifico", "Black", "Gold")
    (surface,) = result.surfaces
    assert surface.name == "Surface 1"
    assert surface.texts[0].color == "Red" and surface.texts[0].color_hex == "#FF0000"
    assert surface.options == {"Colour 1": "Black", "Colour 2": "Gold"}


def test_tree_text_colour_is_colour_1_without_options() -> None:
    doc = json.loads(json.dumps(TREE_DOC))
    doc["customizationData"]["children"][0]["children"].pop()
    result = ac.parse_customization(doc)
    assert (result.color_1, result.color_2) == ("Red", None)


def test_flat_list_at_top_level_path() -> None:
    doc = {"version3.0": {"customizationInfo": {"surfaces": [{"name": "Surface 1", "areas": FLAT_AREAS}]}}}
    result = ac.parse_customization(doc)
    assert result.layout == ac.LAYOUT_FLAT_TOP
    assert (result.custom_text, result.font, result.color_1, result.color_2) == ("Bob", "Arial", "White", "Green")
    assert result.surfaces[0].name == "Surface 1"


def test_flat_list_at_nested_path() -> None:
    doc = {"customizationInfo": {"version3.0": {"surfaces": [{"name": "S", "areas": FLAT_AREAS[:2]}]}}}
    result = ac.parse_customization(doc)
    assert result.layout == ac.LAYOUT_FLAT_NESTED
    assert (result.custom_text, result.font, result.color_1, result.color_2) == ("Bob", "Arial", "White", None)


def test_tree_wins_over_flat_and_flat_with_lost_text_falls_back() -> None:
    both = dict(TREE_DOC, **{"version3.0": {"customizationInfo": {"surfaces": [{"areas": FLAT_AREAS}]}}})
    result = ac.parse_customization(both)
    assert result.layout == ac.LAYOUT_TREE and result.custom_text == "Ada"
    assert result.layouts == [ac.LAYOUT_TREE, ac.LAYOUT_FLAT_TOP]
    svg_only = {"version3.0": {"customizationInfo": {"surfaces": [{"areas": [
        {"customizationType": "ImagePrinting", "label": "Name or Text", "svgImage": "x.svg"},
        {"customizationType": "Options", "label": "Colour 1", "optionValue": "Red"}]}]}},
        "customizationInfo": {"aspects": [{"title": "Name or Text", "text": {"value": "Zoë"},
                                           "font": {"value": "Lobster"}, "color": {"value": "Red"}}]}}
    result = ac.parse_customization(svg_only)
    assert result.layout == ac.LAYOUT_ASPECTS
    assert (result.custom_text, result.font, result.color_1) == ("Zoë", "Lobster", "Red")


def test_multi_line_text_and_multiple_surfaces() -> None:
    doc = {"version3.0": {"customizationInfo": {"surfaces": [
        {"name": "Front", "areas": [{"customizationType": "TextPrinting", "label": "Line 1", "text": "Happy"},
                                    {"customizationType": "TextPrinting", "label": "Line 2", "text": "Birthday"}]},
        {"name": "Back", "areas": [{"customizationType": "Options", "label": "Base colour",
                                    "optionValue": "Oak"}]}]}}}
    result = ac.parse_customization(doc)
    assert result.custom_text == "Happy\nBirthday"
    assert result.color_1 == "Oak"
    assert [s.name for s in result.surfaces] == ["Front", "Back"]


def test_unknown_layout_is_unparseable() -> None:
    with pytest.raises(ac.UnparseableError, match="no customizationData"):
        ac.parse_customization({"orderId": "1", "customText": "legacy R placeholder"})
    assert ac.parse_customization({"customizationData": {"children": "garbage"}}).custom_text is None


# -------------------------------------------------------------------------------------- over real HTTP


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if headers.get("Transfer-Encoding") == "chunked":
            for start in range(0, len(body), 65536):
                piece = body[start:start + 65536]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def local_policy(**overrides) -> ac.DownloadPolicy:
    return ac.DownloadPolicy.from_settings(("127.0.0.1",), allow_http=True, retry_policy=NO_RETRY, **overrides)


def test_download_and_parse_over_http(server) -> None:
    base, handler = server
    handler.routes["/c/206-1_111.zip"] = (200, {"Content-Type": "application/zip"},
                                          make_zip({"111.json": json.dumps(TREE_DOC)}))
    handler.routes["/r"] = (302, {"Location": "/c/206-1_111.zip"}, b"")
    got = ac.fetch_customization(f"{base}/r", local_policy(), order_item_id="111", sleep=no_sleep)
    assert got.customization.custom_text == "Ada"
    assert got.redirects == 1 and got.url.endswith("/c/206-1_111.zip")
    assert len(got.zip_sha256) == 64


def test_redirect_to_disallowed_host_is_not_followed(server) -> None:
    base, handler = server
    handler.routes["/r1"] = (302, {"Location": "http://evil.example/steal"}, b"")
    handler.routes["/r2"] = (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    handler.routes["/r3"] = (307, {"Location": "file:///etc/passwd"}, b"")
    handler.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    for path, reason in [("/r1", "not in the allowed"), ("/r2", "IP address"), ("/r3", "scheme"),
                         ("/loop", "redirects")]:
        with pytest.raises(ac.UrlRejectedError, match=reason):
            ac.download(f"{base}{path}", local_policy(), sleep=no_sleep)
    assert handler.hits.count("/loop") == 4  # the first request plus max_redirects hops, then stop


def test_disallowed_url_never_reaches_the_network(server) -> None:
    base, handler = server
    policy = ac.DownloadPolicy(allowed_hosts=("amazon.com",), retry_policy=NO_RETRY)
    with pytest.raises(ac.UrlRejectedError):
        ac.download(f"{base}/c/x.zip", policy, sleep=no_sleep)
    assert handler.hits == []


def test_size_cap_with_and_without_content_length(server) -> None:
    base, handler = server
    body = b"x" * 300_000
    handler.routes["/big"] = (200, {}, body)
    handler.routes["/chunked"] = (200, {"Transfer-Encoding": "chunked"}, body)
    handler.routes["/liar"] = (200, {"Content-Length": "10"}, body)
    policy = local_policy(max_download_bytes=100_000)
    for path in ("/big", "/chunked"):
        with pytest.raises(ac.TooLargeError):
            ac.download(f"{base}{path}", policy, sleep=no_sleep)
    assert len(ac.download(f"{base}/liar", policy, sleep=no_sleep).content) == 10  # httpx stops at the length


def test_transport_compression_is_refused(server) -> None:
    """A gzip Content-Encoding could expand far beyond the cap inside one chunk: not accepted."""
    import gzip

    base, handler = server
    handler.routes["/gz"] = (200, {"Content-Encoding": "gzip"}, gzip.compress(b"0" * 1_000_000))
    with pytest.raises(ac.DownloadError, match="Content-Encoding"):
        ac.download(f"{base}/gz", local_policy(), sleep=no_sleep)


def test_http_errors_are_failures_and_5xx_is_retried(server) -> None:
    base, handler = server
    handler.routes["/gone"] = (403, {}, b"<Error>AccessDenied</Error>")
    handler.routes["/down"] = (503, {}, b"busy")
    with pytest.raises(ac.DownloadError, match="HTTP 403"):
        ac.download(f"{base}/gone", local_policy(), sleep=no_sleep)
    with pytest.raises(ac.DownloadError, match="HTTP 503"):
        ac.download(f"{base}/down", local_policy(), sleep=no_sleep)
    assert handler.hits.count("/down") == 2
    assert ac.DownloadError.status == "failed" and ac.UrlRejectedError.status == "rejected"


def test_bomb_served_over_http_is_rejected(server) -> None:
    base, handler = server
    handler.routes["/bomb.zip"] = (200, {}, make_zip({"111.json": b"{" + b"0" * (20 * 1024 * 1024) + b"}"}))
    with pytest.raises(ac.ZipBombError) as caught:
        ac.fetch_customization(f"{base}/bomb.zip", local_policy(), order_item_id="111", sleep=no_sleep)
    assert caught.value.status == "rejected"
