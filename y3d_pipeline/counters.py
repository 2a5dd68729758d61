"""Reports that count what a step did: one base for them, so they add up and become metadata the same way."""

from __future__ import annotations

from collections import Counter
from dataclasses import field, fields
from typing import Any, Self


def reported(key: str | None, *, default: Any = 0, digits: int | None = None) -> Any:
    """A report field shown in metadata as ``key`` (``None``: not shown), floats rounded to ``digits``."""
    extra = {"key": key, "digits": digits}
    if callable(default):
        return field(default_factory=default, metadata=extra)
    return field(default=default, metadata=extra)


class Counters:
    """Base of the report dataclasses (``@dataclass class XReport(Counters)``).

    ``a += b`` sums numbers, extends lists and adds up ``Counter``/dict values field by field (how the reports
    of batches become the report of a run). ``as_metadata()`` gives every field under its name (or the key of
    :func:`reported`), a list as its length, a dict as a plain dict, a float rounded as asked.
    """

    def __iadd__(self, other: Self) -> Self:
        for f in fields(self):  # type: ignore[arg-type]
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, list):
                mine.extend(theirs)
            elif isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, dict):
                for key, value in theirs.items():
                    mine[key] = mine.get(key, 0) + value
            else:
                setattr(self, f.name, mine + theirs)
        return self

    def as_metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            key = f.metadata.get("key", f.name)
            if key is None:
                continue
            value = getattr(self, f.name)
            if isinstance(value, list):
                value = len(value)
            elif isinstance(value, dict):
                value = dict(value)
            elif isinstance(value, float) and f.metadata.get("digits") is not None:
                value = round(value, f.metadata["digits"])
            metadata[key] = value
        return metadata
