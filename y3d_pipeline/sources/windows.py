"""Which source modification times a partition's sync asks for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DEFAULT_OVERLAP = dt.timedelta(hours=1)


@dataclass(frozen=True)
class SyncWindow:
    """A closed-open interval of source modification times, timezone-aware."""

    start: dt.datetime
    end: dt.datetime

    @property
    def is_empty(self) -> bool:
        return self.end <= self.start

    def describe(self, tz: dt.tzinfo) -> dict[str, str]:
        return {
            "window_start_utc": self.start.astimezone(dt.UTC).isoformat(),
            "window_end_utc": self.end.astimezone(dt.UTC).isoformat(),
            "window_start_local": self.start.astimezone(tz).isoformat(),
            "window_end_local": self.end.astimezone(tz).isoformat(),
        }


def sync_window(
    partition_start: dt.datetime,
    partition_end: dt.datetime,
    *,
    now: dt.datetime,
    overlap: dt.timedelta = DEFAULT_OVERLAP,
    settle: dt.timedelta = dt.timedelta(0),
) -> SyncWindow:
    """The partition's interval widened by ``overlap`` before its start (late writes, the DST hour) and cut
    at ``now - settle`` (a source's "as of" lag, e.g. Amazon's two minutes)."""
    if partition_start.tzinfo is None or partition_end.tzinfo is None or now.tzinfo is None:
        raise ValueError("sync windows need timezone-aware datetimes")
    return SyncWindow(start=partition_start - overlap, end=min(partition_end, now - settle))
