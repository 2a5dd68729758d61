"""The answer of a source's cheap "anything changed since?" request, used by the new-order sensors."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx

from y3d_pipeline.sources.http import ApiError, RetryPolicy

# A probe runs inside a sensor tick (60 s gRPC deadline): two tries, 20 s at most, then the tick skips.
PROBE_RETRY_POLICY = RetryPolicy(max_attempts=2, max_total_seconds=20.0, initial_backoff=1.0, max_backoff=5.0)
# What a failed probe raises (a transport error, a refused request, an answer of the wrong shape): the tick
# keeps its cursor and tries again.
PROBE_ERRORS = (httpx.HTTPError, ApiError, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class ChangeProbe:
    changed: int
    """Records changed in ``[since, checked_until]``; a lower bound when ``more`` is true."""
    more: bool
    oldest_id: str | None
    """One changed record (the oldest change, where the source can sort by it): names the run to launch, so
    a tick evaluated twice from the same cursor launches it once."""
    oldest_modified: dt.datetime | None
    checked_until: dt.datetime
    """The end of the interval the answer covers (now, or Amazon's now minus two minutes): the next cursor."""
