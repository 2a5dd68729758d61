"""The shop's business hours: an optional daily window in the shop's timezone (``Y3D_BUSINESS_HOURS``).

Plain module. ``08:00-20:00`` means from 08:00 up to (not including) 20:00 shop time, every day; a window
that crosses midnight (``22:00-06:00``) is allowed. The frequent syncs and the new-order sensors skip their
ticks outside it; the nightly reconciliation and everything local ignore it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _time(hour: str, minute: str) -> dt.time:
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return dt.time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"{hour}:{minute} is not a time of day")
    return dt.time(h, m)


@dataclass(frozen=True)
class BusinessHours:
    opens: dt.time
    closes: dt.time
    tz: ZoneInfo

    @classmethod
    def parse(cls, text: str, tz: ZoneInfo) -> BusinessHours:
        match = _WINDOW.match(text)
        if not match:
            raise ValueError(f"'{text}' is not a window like 08:00-20:00")
        opens, closes = _time(*match.group(1, 2)), _time(*match.group(3, 4))
        if opens == closes:
            raise ValueError(f"'{text}' opens and closes at the same time (unset the variable for always open)")
        return cls(opens, closes, tz)

    def __str__(self) -> str:
        closes = "24:00" if self.closes == dt.time.max else self.closes.strftime("%H:%M")
        return f"{self.opens:%H:%M}-{closes} {self.tz.key}"

    def is_open(self, instant: dt.datetime) -> bool:
        local = instant.astimezone(self.tz).time()
        if self.opens < self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes  # crosses midnight

    def open_minutes_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Minutes of business hours in ``[start, end)``: how long a source has really been expected to sync."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.tz).date() - dt.timedelta(days=1)
        last = end.astimezone(self.tz).date()
        while day <= last:
            opened = dt.datetime.combine(day, self.opens, tzinfo=self.tz)
            closes_day = day if self.opens < self.closes else day + dt.timedelta(days=1)
            closed = (dt.datetime.combine(closes_day + dt.timedelta(days=1), dt.time(), tzinfo=self.tz)
                      if self.closes == dt.time.max else dt.datetime.combine(closes_day, self.closes, tzinfo=self.tz))
            # in UTC: arithmetic between datetimes sharing one tzinfo ignores DST changes
            lo = max(opened.astimezone(dt.UTC), start.astimezone(dt.UTC))
            hi = min(closed.astimezone(dt.UTC), end.astimezone(dt.UTC))
            if hi > lo:
                total += (hi - lo).total_seconds() / 60
            day += dt.timedelta(days=1)
        return total
