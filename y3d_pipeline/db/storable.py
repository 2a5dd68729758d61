"""What a value from outside must be before PostgreSQL stores it: the one place every stage asks.

Real systems emit values our columns cannot hold, and one of them in a multi-row statement fails the whole
batch: a NUL or a lone UTF-16 surrogate (a truncated emoji, which psycopg2 cannot even encode) in any text,
NaN in JSON, an id beyond bigint, a count beyond integer, .NET's ``DateTime.MaxValue`` (9999-12-31) as a date.
:func:`jsonb_safe` makes text and JSON storable (the raw payload is kept, marked where it had to change);
the ``check_*`` functions raise ``ValueError`` naming the field, so the record is quarantined with that reason
and the rest of its batch is written. Whatever still gets past them, :func:`write_isolating` isolates: a batch
PostgreSQL refuses is split until the record it cannot store is found, and only that one is set aside, with
what PostgreSQL said (:func:`database_error_reason`: no SQL, no parameters, which carry customer data).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")
R = TypeVar("R")

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1
# Source timestamps outside these bounds are not dates but sentinels (DateTime.MinValue/MaxValue, 0001-01-01,
# 9999-12-31) or garbage; kept, one would win every "newest version" comparison forever.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
REPLACEMENT = "\ufffd"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable_text(text: str) -> str:
    # NUL is dropped (it never carries meaning); a lone surrogate becomes U+FFFD, so the place stays visible
    # (print-task validation flags it like any other unprintable symbol).
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else REPLACEMENT, text)


def jsonb_safe(value: Any) -> Any:
    """``value`` made storable as PostgreSQL text/jsonb: NUL characters removed from every string, lone UTF-16
    surrogates replaced by U+FFFD, non-finite floats (NaN, Infinity: not JSON) replaced by their text; the
    same object when nothing changes."""
    if isinstance(value, str):
        return _storable_text(value) if _UNSTORABLE.search(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        cleaned = {jsonb_safe(k): jsonb_safe(v) for k, v in value.items()}
        return value if all(a is b for a, b in zip(cleaned.values(), value.values(), strict=True)) \
            and all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    if isinstance(value, list):
        cleaned_list = [jsonb_safe(v) for v in value]
        return value if all(a is b for a, b in zip(cleaned_list, value, strict=True)) else cleaned_list
    return value


def payload_sha256(payload: Any) -> str:
    """The hash of a payload's canonical JSON: what raw tables compare versions by, and the key of a record
    without a usable id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def unstorable_text(text: str) -> str | None:
    """Why ``text`` cannot be stored (or printed) as it is, or ``None``."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else \
        "a broken character (a lone UTF-16 surrogate: half of an emoji)"


def check_bigint(value: int, what: str) -> int:
    if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
        raise ValueError(f"{what} {value} is beyond the 64-bit id range")
    return value


def check_integer(value: int, what: str) -> int:
    if not -INTEGER_MAX - 1 <= value <= INTEGER_MAX:
        raise ValueError(f"{what} {value} is beyond the 32-bit integer range")
    return value


def check_timestamp(value: dt.datetime, what: str) -> dt.datetime:
    """An aware timestamp within [2000, 2100), else ValueError (9999-12-31 is .NET's DateTime.MaxValue)."""
    if value.tzinfo is None:
        raise ValueError(f"{what} has no time zone")
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"{what} {value.date().isoformat()} is outside {EARLIEST.year}-{LATEST.year - 1} "
                         "(a placeholder such as .NET's DateTime.MaxValue, not a date)")
    return value


def database_error_reason(exc: BaseException) -> str:
    """The first line of what PostgreSQL said (``integer out of range``), without SQL or parameters."""
    origin = getattr(exc, "orig", None) or exc
    text = str(origin).strip().splitlines()
    return f"{type(origin).__name__}: {text[0][:300]}" if text else type(origin).__name__


# Errors that one record's values can cause: the value does not fit (DataError), breaks a constraint
# (IntegrityError) or cannot even be encoded for the wire (a lone surrogate that slipped past jsonb_safe).
RECORD_LEVEL_ERRORS = (sa.exc.DataError, sa.exc.IntegrityError, UnicodeEncodeError)


def write_isolating(conn: sa.Connection, records: Sequence[T],
                    write: Callable[[Sequence[T]], R]) -> tuple[list[R], list[tuple[T, str]]]:
    """``write(records)`` in a savepoint of ``conn``'s transaction; if PostgreSQL refuses the batch, each half
    is tried again, down to single records. Returns the results of the writes that succeeded and the records
    that could not be stored with the reason, for the caller to quarantine. One pass when nothing is wrong."""
    results: list[R] = []
    refused: list[tuple[T, str]] = []

    def attempt(chunk: Sequence[T]) -> None:
        try:
            with conn.begin_nested():
                results.append(write(chunk))
        except RECORD_LEVEL_ERRORS as exc:
            if len(chunk) == 1:
                refused.append((chunk[0], f"cannot be stored: {database_error_reason(exc)}"))
                return
            middle = len(chunk) // 2
            attempt(chunk[:middle])
            attempt(chunk[middle:])

    if records:
        attempt(list(records))
    return results, refused
