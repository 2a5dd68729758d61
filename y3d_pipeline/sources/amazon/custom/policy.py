"""Which ``CustomizedURL`` may be fetched: the SSRF boundary of the Amazon Custom download.

The URL is untrusted input (it arrives through ShipStation item options and SP-API order items):

* scheme ``https`` only; ``http`` only with the explicit ``allow_http`` switch (the local sandbox);
* the host must equal an allowed host or be a subdomain of one; IP literals only when the allowed list
  names that exact IP; no userinfo (``https://amazon.com@evil.example/``); the scheme's default port only,
  unless the allowed entry names a port (``host:port``) or ``allow_any_port`` is set (sandbox);
* every redirect's ``Location`` is checked with the same rules (``download.py``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from y3d_pipeline.sources.amazon.custom.errors import UrlRejectedError
from y3d_pipeline.sources.http import RetryPolicy

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


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
