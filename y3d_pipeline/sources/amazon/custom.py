"""Amazon Custom personalization files: download the zip safely and parse the buyer's choices out of it.

The ``CustomizedURL`` is untrusted input (it arrives through ShipStation item options and SP-API order
items), so the downloader is an SSRF boundary:

* scheme ``https`` only; ``http`` only with the explicit ``allow_http`` switch (the local sandbox);
* the host must equal an allowed host or be a subdomain of one; IP literals only when the allowed list
  names that exact IP; no userinfo (``https://amazon.com@evil.example/``); the scheme's default port only,
  unless the allowed entry names a port (``host:port``) or ``allow_any_port`` is set (sandbox);
* redirects are never followed automatically: each ``Location`` is checked with the same rules, at most
  ``max_redirects`` hops, and a malformed one is a customization error; no proxies from the environment, no
  credentials sent, and no cookies: none is stored, none is sent, so one download never carries state into
  the next;
* the body is streamed raw (``Accept-Encoding: identity``; a compressed transport encoding is refused so
  nothing expands before the cap) and abandoned past ``max_download_bytes``;
* ``total_timeout`` bounds the whole download (every attempt, redirect, connect, header and body byte): each
  socket operation may wait at most the time left, so headers or a body sent a byte at a time cannot hold
  it open (per-read timeouts alone would reset with every byte).

The zip is opened in memory (``zipfile`` on ``BytesIO``); nothing from the archive is ever written to the
filesystem, and archive names are only compared as strings (names with ``..``, absolute paths, drive
letters or backslashes are ignored). Declared entry count, sizes and compression ratios are checked
before anything is decompressed, and the one entry read is read in bounded chunks.

Parsing order (see ../shared/reference/external-apis.md §3.4 and legacy-y3dhub.md §7b):
1. the ``customizationData`` tree — binds each TextCustomization to the Font/Color nodes of its container;
2. the flat ``version3.0`` surfaces/areas list, at either ``["version3.0"].customizationInfo.surfaces`` or
   ``customizationInfo["version3.0"].surfaces``;
3. the legacy v2 ``customizationInfo.aspects`` list.
Fields missing from the first layout with text are filled from the later ones.

Plain module: no Dagster imports.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import http.cookiejar
import io
import ipaddress
import json
import posixpath
import re
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from pydantic import BaseModel, Field

from y3d_pipeline.db.storable import unstorable_text
from y3d_pipeline.redaction import scrub
from y3d_pipeline.sources.http import ApiError, RetryableError, RetryPolicy, call_with_retries

USER_AGENT = "y3d-pipeline/1.0 (amazon-custom-downloader)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


# ----------------------------------------------------------------------------------------------- errors


class CustomizationError(Exception):
    """Base class. ``status`` is what ``amazon_customizations.status`` records for it:
    ``rejected`` (unsafe input, never retried) or ``failed`` (retried on later runs up to a limit).
    The message is stored and logged, so it is scrubbed of secrets."""

    status = "failed"

    def __init__(self, message: str = ""):
        super().__init__(scrub(message))


class UrlRejectedError(CustomizationError):
    """The URL (or a redirect target) is not allowed: scheme, host, IP literal, userinfo or port."""

    status = "rejected"


class TooLargeError(CustomizationError):
    """The download exceeded the size cap."""

    status = "rejected"


class ZipBombError(CustomizationError):
    """Too many entries, too much uncompressed data, or a suspicious compression ratio."""

    status = "rejected"


class DownloadError(CustomizationError):
    """HTTP error, timeout or connection failure (after in-run retries)."""


class NotAZipError(CustomizationError):
    """The body is not a readable zip archive."""


class NoJsonError(CustomizationError):
    """No usable ``.json`` entry in the archive (or several, none named after the order item)."""


class UnparseableError(CustomizationError):
    """The JSON is invalid, not an object, or has no known customization layout."""


# ----------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class DownloadPolicy:
    allowed_hosts: tuple[str, ...]
    allow_http: bool = False
    allow_any_port: bool = False
    max_redirects: int = 3
    max_download_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    retry_policy: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=3, max_total_seconds=60.0,
                                                                   initial_backoff=0.5, max_backoff=5.0))

    @classmethod
    def from_settings(cls, allowed_hosts: Iterable[str], allow_http: bool, **overrides: Any) -> DownloadPolicy:
        """The production policy; ``allow_http`` (the sandbox switch) also allows non-default ports."""
        return cls(allowed_hosts=tuple(allowed_hosts), allow_http=allow_http, allow_any_port=allow_http,
                   **overrides)


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 64
    max_entry_bytes: int = 16 * 1024 * 1024  # uncompressed, any one entry
    max_total_bytes: int = 64 * 1024 * 1024  # uncompressed, all entries
    max_ratio: float = 200.0  # uncompressed / compressed, checked for entries above ratio_floor_bytes
    ratio_floor_bytes: int = 64 * 1024
    max_json_bytes: int = 4 * 1024 * 1024


def safe_url_for_log(url: str) -> str:
    """Scheme, host and path only: presigned query strings are credentials of a sort."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}{parts.path}"[:300]
    except ValueError:
        return "<unparseable url>"


def _parse_allowed(entry: str) -> tuple[str, int | None]:
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("[") and "]" in entry:  # [::1]:8443
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, policy: DownloadPolicy) -> str:
    """Return ``url`` if it may be fetched under ``policy``; raise UrlRejectedError saying why otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise UrlRejectedError("empty CustomizedURL")
    url = url.strip()
    if len(url) > 4096:
        raise UrlRejectedError("URL longer than 4096 characters")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        raise UrlRejectedError("URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRejectedError(f"unparseable URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not policy.allow_http:
            raise UrlRejectedError(f"{safe_url_for_log(url)}: http is not allowed (https only)")
    elif scheme != "https":
        raise UrlRejectedError(f"scheme '{scheme}' is not allowed (https only)")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise UrlRejectedError(f"{safe_url_for_log(url)}: URLs with userinfo are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRejectedError("URL has no host")
    default_port = 443 if scheme == "https" else 80
    ip = _ip(host)
    allowed = [_parse_allowed(entry) for entry in policy.allowed_hosts if entry and entry.strip()]
    matched_port: list[int | None] = []
    if ip is not None:
        for allowed_host, allowed_port in allowed:
            allowed_ip = _ip(allowed_host)
            if allowed_ip is not None and allowed_ip == ip:
                matched_port.append(allowed_port)
        if not matched_port:
            raise UrlRejectedError(f"{safe_url_for_log(url)}: IP address hosts are not allowed")
    else:
        labels = host.split(".")
        if not all(_LABEL.match(label) for label in labels):
            raise UrlRejectedError(f"{safe_url_for_log(url)}: host '{host}' is not a plain DNS name")
        if labels[-1].isdigit() or re.fullmatch(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*", host):
            raise UrlRejectedError(f"{safe_url_for_log(url)}: numeric host '{host}' is not allowed")
        for allowed_host, allowed_port in allowed:
            if _ip(allowed_host) is None and (host == allowed_host or host.endswith("." + allowed_host)):
                matched_port.append(allowed_port)
        if not matched_port:
            raise UrlRejectedError(f"{safe_url_for_log(url)}: host '{host}' is not in the allowed hosts")
    effective_port = port if port is not None else default_port
    if effective_port != default_port and not policy.allow_any_port and effective_port not in matched_port:
        raise UrlRejectedError(f"{safe_url_for_log(url)}: port {effective_port} is not allowed")
    return url


# --------------------------------------------------------------------------------------------- deadline

# The monotonic time by which the current download must be done (per thread and context).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("download_deadline", default=None)


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the download's deadline; ``error`` once nothing is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the download's total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _time_left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket layer with every connect, read and write bounded by the download's deadline."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(host, port, _time_left(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, _time_left(timeout, httpcore.ConnectTimeout),
                                                               socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@contextmanager
def _deadline(at: float) -> Iterator[None]:
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class _RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


# --------------------------------------------------------------------------------------------- download


@dataclass
class Download:
    url: str  # the final URL after (checked) redirects
    content: bytes
    redirects: int = 0
    attempts: int = 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _redirect_target(current: str, response: httpx.Response, policy: DownloadPolicy) -> str:
    """The checked URL a redirect points to; a missing, malformed or disallowed Location is an error."""
    try:
        location = response.headers.get("Location")
    except (UnicodeDecodeError, ValueError):
        raise UrlRejectedError(f"GET {safe_url_for_log(current)}: redirect with an undecodable Location") from None
    if not location or not location.strip():
        raise DownloadError(f"GET {safe_url_for_log(current)}: redirect without Location")
    try:
        target = urljoin(current, location.strip())
    except ValueError as exc:
        raise UrlRejectedError(f"redirect rejected: malformed Location ({exc})") from exc
    try:
        return check_url(target, policy)
    except UrlRejectedError as exc:
        raise UrlRejectedError(f"redirect rejected: {exc}") from exc


def _fetch_once(client: httpx.Client, url: str, policy: DownloadPolicy, result: Download) -> None:
    current = check_url(url, policy)
    redirects = 0
    result.attempts += 1
    while True:
        client.cookies.clear()  # a cookie set by one download never goes out with another request
        try:
            request = client.build_request("GET", current, headers={"User-Agent": USER_AGENT,
                                                                    "Accept": "application/zip, */*",
                                                                    "Accept-Encoding": "identity"})
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise UrlRejectedError(f"{safe_url_for_log(current)}: not a usable URL ({type(exc).__name__})") from exc
        try:
            response = client.send(request, stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            _raise_if_deadline_passed(current, policy)
            raise RetryableError(f"GET {safe_url_for_log(current)} failed: {type(exc).__name__}") from exc
        except (httpx.InvalidURL, ValueError) as exc:  # httpx parses a redirect's Location even when not following
            raise UrlRejectedError(f"GET {safe_url_for_log(current)}: redirect rejected: malformed Location "
                                   f"({type(exc).__name__})") from exc
        try:
            if response.status_code in REDIRECT_STATUSES:
                redirects += 1
                if redirects > policy.max_redirects:
                    raise UrlRejectedError(f"more than {policy.max_redirects} redirects")
                current = _redirect_target(current, response, policy)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryableError(f"GET {safe_url_for_log(current)} returned HTTP {response.status_code}",
                                     rate_limited=response.status_code == 429)
            if response.status_code != 200:
                raise DownloadError(f"GET {safe_url_for_log(current)} returned HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > policy.max_download_bytes:
                raise TooLargeError(f"download declares {declared} bytes (cap {policy.max_download_bytes})")
            encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                # never let a transport-level gzip/br stream expand in memory before the size cap applies
                raise DownloadError(f"GET {safe_url_for_log(current)}: unexpected Content-Encoding '{encoding}'")
            buffer = bytearray()
            try:
                for chunk in response.iter_raw():
                    buffer += chunk
                    if len(buffer) > policy.max_download_bytes:
                        raise TooLargeError(f"download exceeded {policy.max_download_bytes} bytes; abandoned")
            except httpx.TransportError as exc:
                _raise_if_deadline_passed(current, policy)
                raise RetryableError(f"GET {safe_url_for_log(current)} failed mid-body: "
                                     f"{type(exc).__name__}") from exc
            result.url = current
            result.content = bytes(buffer)
            result.redirects = redirects
            return
        finally:
            response.close()


def _raise_if_deadline_passed(current: str, policy: DownloadPolicy) -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() >= deadline:
        raise DownloadError(f"GET {safe_url_for_log(current)} did not finish within the "
                            f"{policy.total_timeout:g} s total deadline (slow or stalled server)")


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # httpx builds its httpcore pool without a way to pass a network backend: wrap the one it made.
        pool = self._pool
        pool._network_backend = _DeadlineBackend(pool._network_backend)  # noqa: SLF001


def make_http_client(policy: DownloadPolicy) -> httpx.Client:
    """An HTTP client for many downloads (keep-alive): no redirects, no environment proxies or netrc, no
    cookies, and every socket operation bounded by the current download's deadline."""
    return httpx.Client(
        timeout=httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        follow_redirects=False,
        trust_env=False,
        cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
        transport=_DeadlineTransport(trust_env=False),
    )


def download(
    url: str,
    policy: DownloadPolicy,
    *,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Download:
    """GET ``url`` under ``policy``; retries transient failures a few times, never unsafe ones, all within
    ``policy.total_timeout``. Use a client from :func:`make_http_client` (the deadline lives in its sockets)."""
    own = client is None
    if client is None:
        client = make_http_client(policy)
    result = Download(url=url, content=b"")
    started = time.monotonic()
    retry = policy.retry_policy
    if retry.max_total_seconds > policy.total_timeout:
        retry = dataclasses.replace(retry, max_total_seconds=policy.total_timeout)
    try:
        with _deadline(started + policy.total_timeout):
            call_with_retries(lambda: _fetch_once(client, url, policy, result),
                              what=f"Amazon Custom download {safe_url_for_log(url)}", retry_policy=retry,
                              sleep=sleep)
    except ApiError as exc:
        raise DownloadError(str(exc)) from exc
    finally:
        if own:
            client.close()
    return result


# -------------------------------------------------------------------------------------------------- zip


def _unsafe_name(name: str) -> bool:
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[a-zA-Z]:", name):
        return True
    return any(part == ".." for part in name.split("/"))


def _hidden(name: str) -> bool:
    return name.startswith("__MACOSX/") or posixpath.basename(name).startswith("._") or \
        posixpath.basename(name).startswith(".")


@dataclass
class ZipJson:
    name: str
    data: Any
    entries: list[str]
    ignored_unsafe: list[str]


def read_customization_json(content: bytes, *, order_item_id: str | None = None,
                            limits: ZipLimits = ZipLimits()) -> ZipJson:  # noqa: B008 - frozen dataclass
    """Pick ``<OrderItemId>.json`` (else the only JSON) from an in-memory zip and decode it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise NotAZipError(f"not a readable zip archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise ZipBombError(f"zip has {len(infos)} entries (cap {limits.max_entries})")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > limits.max_entry_bytes:
                raise ZipBombError(f"zip entry of {info.file_size} bytes uncompressed "
                                   f"(cap {limits.max_entry_bytes})")
            if info.file_size > limits.ratio_floor_bytes and \
                    info.file_size / max(info.compress_size, 1) > limits.max_ratio:
                raise ZipBombError(f"zip entry compression ratio {info.file_size / max(info.compress_size, 1):.0f}"
                                   f" exceeds {limits.max_ratio:.0f}")
        if total > limits.max_total_bytes:
            raise ZipBombError(f"zip expands to {total} bytes (cap {limits.max_total_bytes})")

        unsafe = [i.filename for i in infos if _unsafe_name(i.filename)]
        candidates = [i for i in infos if not i.is_dir() and not _unsafe_name(i.filename)
                      and not _hidden(i.filename) and i.filename.lower().endswith(".json")]
        chosen = None
        if order_item_id:
            wanted = f"{order_item_id}.json".lower()
            chosen = next((i for i in candidates if posixpath.basename(i.filename).lower() == wanted), None)
        if chosen is None:
            if len(candidates) == 1:
                chosen = candidates[0]
            elif not candidates:
                raise NoJsonError("zip holds no usable .json entry"
                                  + (f" ({len(unsafe)} entries with unsafe names ignored)" if unsafe else ""))
            else:
                raise NoJsonError(f"zip holds {len(candidates)} .json entries and none is "
                                  f"'{order_item_id}.json'")
        if chosen.file_size > limits.max_json_bytes:
            raise ZipBombError(f"JSON entry of {chosen.file_size} bytes (cap {limits.max_json_bytes})")
        try:
            with archive.open(chosen) as handle:
                raw = handle.read(limits.max_json_bytes + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError,
                zipfile.LargeZipFile) as exc:
            raise NotAZipError(f"cannot read {chosen.filename!r} from the zip: {exc}") from exc
        if len(raw) > limits.max_json_bytes:
            raise ZipBombError(f"JSON entry expands beyond {limits.max_json_bytes} bytes")
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnparseableError(f"{chosen.filename!r} is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise UnparseableError(f"{chosen.filename!r} holds a JSON {type(data).__name__}, not an object")
    return ZipJson(name=chosen.filename, data=data, entries=[i.filename for i in infos], ignored_unsafe=unsafe)


def _not_json(constant: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and "nan" would become a buyer's text.
    raise ValueError(f"{constant} is not a JSON value")


# ---------------------------------------------------------------------------------------------- parsing

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


# ------------------------------------------------------------------------------------------------ facade


@dataclass
class FetchedCustomization:
    url: str
    zip_sha256: str
    json_name: str
    raw_json: dict[str, Any]
    customization: Customization
    zip_bytes: int
    redirects: int
    attempts: int
    ignored_entries: list[str]


def fetch_customization(
    url: str,
    policy: DownloadPolicy,
    *,
    order_item_id: str | None = None,
    limits: ZipLimits = ZipLimits(),  # noqa: B008 - frozen dataclass
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchedCustomization:
    """Download, open and parse one customization zip. Raises a CustomizationError subclass."""
    got = download(url, policy, client=client, sleep=sleep)
    picked = read_customization_json(got.content, order_item_id=order_item_id, limits=limits)
    return FetchedCustomization(
        url=got.url, zip_sha256=got.sha256, json_name=picked.name, raw_json=picked.data,
        customization=parse_customization(picked.data), zip_bytes=len(got.content), redirects=got.redirects,
        attempts=got.attempts, ignored_entries=picked.ignored_unsafe,
    )
