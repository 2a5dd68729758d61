"""Simulated time, plus the Pacific wall-clock conventions of ShipStation v1."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


class SimClock:
    """`now()` = anchor + manual advances (+ real elapsed time when running).

    Rate limiters use `monotonic()`: real monotonic time plus the manual advances, so that
    advancing the clock also refills buckets and rolls rate windows deterministically."""

    def __init__(self, anchor: datetime, running: bool) -> None:
        self._lock = threading.Lock()
        self._initial = (anchor, running)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._anchor, self._running = self._initial
            self._real_start = time.monotonic()
            self._advanced = 0.0

    @property
    def running(self) -> bool:
        return self._running

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._real_start if self._running else 0.0
        return self._anchor + timedelta(seconds=elapsed + self._advanced)

    def monotonic(self) -> float:
        return time.monotonic() + self._advanced

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._advanced += seconds
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump to `when` (moving backwards is allowed; rate limiters only move forwards)."""
        with self._lock:
            delta = (when - self.now()).total_seconds()
            if delta >= 0:
                self._advanced += delta
            else:
                self._anchor += timedelta(seconds=delta)
        return self.now()


@lru_cache(maxsize=131072)
def to_pacific_string(instant: datetime) -> str:
    """ShipStation v1 response format: Pacific wall clock, 7 fractional digits, no offset."""
    return instant.astimezone(PACIFIC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


@lru_cache(maxsize=131072)
def to_pacific_item_string(instant: datetime) -> str:
    """ShipStation v1 order *item* dates: Pacific wall clock to the millisecond with trailing zeros dropped
    ("2015-07-16T14:00:34.823" in the documented Get Order example, .NET's default "FFFFFFF" fraction)."""
    wall = instant.astimezone(PACIFIC)
    fraction = f"{wall.microsecond // 1000:03d}".rstrip("0")
    return wall.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "")


@lru_cache(maxsize=131072)
def to_pacific_date(instant: datetime) -> str:
    return instant.astimezone(PACIFIC).strftime("%Y-%m-%d")


_OFFSET_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_LONG_FRACTION = re.compile(r"(?<=\.)(\d+)$")


def parse_pacific(value: str) -> datetime:
    """Read a ShipStation request date as Pacific wall-clock time.

    Like the real service, a trailing `Z` or offset is ignored rather than honoured: the
    digits are read as Pacific time (the legacy client's UTC-`Z` bug shifts windows by 7-8 h)."""
    text = _OFFSET_SUFFIX.sub("", value.strip()).replace("T", " ")
    text = _LONG_FRACTION.sub(lambda m: m.group(1)[:6], text)  # ShipStation echoes 7 digits
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return naive.replace(tzinfo=PACIFIC).astimezone(UTC)
    raise ValueError(f"unrecognised date: {value!r}")


def parse_iso_utc(value: str) -> datetime:
    """ISO-8601 with Z/offset (naive means UTC); date-only means midnight UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_z(instant: datetime, millis: bool = False) -> str:
    instant = instant.astimezone(UTC)
    if millis:
        return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
