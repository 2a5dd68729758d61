"""Secrets never leave the process as text: :func:`scrub` removes them from anything about to be raised,
logged, stored or alerted.

Upstreams and proxies echo requests back in their error bodies (an ``Authorization`` header, a form body with
the refresh token, an API key in a JSON error), so an error text is scrubbed before it goes anywhere. Two
nets:

* every configured secret, in the forms it takes on the wire (as is, URL-encoded, JSON-escaped, and the
  ``Basic`` header value of a key and secret), whether it came from the environment (the contract's
  variables) or was handed to a client in code (:func:`register_secret`, :func:`register_basic_auth`);
* the shapes of credentials we may not know the value of: ``Authorization: Basic/Bearer ...``, token headers,
  ``api_key=``/``client_secret``/``refresh_token``/``access_token``/``password`` fields, Amazon LWA tokens
  (``Atza|``/``Atzr|``), passwords in URLs, OpenAI keys (``sk-...``) and Shopify tokens (``shpat_...``).

Plain module, no Dagster imports. Alerts and anything else that sends text out of the process call
:func:`scrub` last.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from urllib.parse import quote, quote_plus, urlsplit

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8  # shorter values would mangle ordinary words; real keys and tokens are far longer

SECRET_VARIABLES = ("SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET", "SHIPSTATION_V2_API_KEY", "SHOPIFY_ACCESS_TOKEN",
                    "AMAZON_LWA_CLIENT_SECRET", "AMAZON_LWA_REFRESH_TOKEN", "OPENAI_API_KEY",
                    "Y3D_ALERT_WEBHOOK_URL", "Y3D_ALERT_JSON_WEBHOOK_URL")
URL_VARIABLES = ("DATABASE_URL", "DAGSTER_PG_URL", "Y3D_ALERT_WEBHOOK_URL",
                 "Y3D_ALERT_JSON_WEBHOOK_URL")  # their passwords are secrets

_NAMED = r"(?:proxy-)?authorization|x-amz-access-token|x-shopify-access-token|x-api-key|api[_-]?key|" \
         r"api[_-]?secret|client[_-]?secret|refresh[_-]?token|access[_-]?token|password|secret"
_PATTERNS = (
    # "Authorization: Basic abc=", "'authorization': 'Bearer x'", "api_key=...", '"refresh_token": "..."'
    re.compile(rf"(?i)((?:{_NAMED})[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer)\s+)?+)(?!\[redacted\])[^\s\"'&,;}}\]]+"),
    re.compile(r"(://[^:/\s@]+:)(?!\[redacted\])[^@\s/]+(?=@)"),  # the password in a URL
    re.compile(r"\bAtz[ar]\|[^\s\"'&,;}\]]+"),  # Amazon LWA access / refresh tokens
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI keys
    re.compile(r"\bshp(?:at|ca|pa|ss)_[A-Za-z0-9]{16,}"),  # Shopify tokens
)

_lock = threading.Lock()
_registered: set[str] = set()


def _forms(value: str) -> set[str]:
    """The ways a secret appears in text sent over the wire."""
    return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}


def register_secret(*values: str | None) -> None:
    """Remember secrets handed to a client in code (not only from the environment) so that scrub knows them."""
    found = {form for value in values if value and len(value.strip()) >= MIN_SECRET_LENGTH
             for form in _forms(value.strip())}
    if found:
        with _lock:
            _registered.update(found)


def register_basic_auth(username: str, password: str) -> None:
    """A key and secret sent as HTTP Basic auth: the parts and the encoded header value."""
    register_secret(username, password,
                    base64.b64encode(f"{username}:{password}".encode()).decode())


def _environment_secrets() -> set[str]:
    found: set[str] = set()
    for name in SECRET_VARIABLES:
        value = os.environ.get(name, "").strip()
        if len(value) >= MIN_SECRET_LENGTH:
            found |= _forms(value)
    for name in URL_VARIABLES:
        value = os.environ.get(name, "").strip()
        try:
            password = urlsplit(value).password if value else None
        except ValueError:
            password = None
        if password and len(password) >= MIN_SECRET_LENGTH:
            found |= _forms(password)
    key, secret = os.environ.get("SHIPSTATION_API_KEY", ""), os.environ.get("SHIPSTATION_API_SECRET", "")
    if key.strip() and secret.strip():
        found.add(base64.b64encode(f"{key.strip()}:{secret.strip()}".encode()).decode())
    return found


def scrub(text: object) -> str:
    """``text`` with every known secret and every credential-shaped value replaced by ``[redacted]``."""
    result = str(text)
    with _lock:
        known = _registered | _environment_secrets()
    for secret in sorted(known, key=len, reverse=True):
        if secret in result:
            result = result.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        result = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, result)
    return result
