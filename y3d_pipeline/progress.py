"""Progress of long work: log lines inside runs, a bar (or plain lines) in the ``y3d`` commands.

Plain module. Work that pages through an API or walks many rows takes an optional ``progress`` callback,
``progress(done, total)`` (``total`` None when unknown), and knows nothing else about it. The caller decides
what the callback does:

* :class:`ProgressLog` turns the calls into a log line at most every ``interval`` seconds (and once at the
  end): ``ShipStation orders: 12/40 pages (30%), 2.1 pages/s, ETA 13s``. Assets pass
  ``ProgressLog(..., log=context.log.info)``, so the lines land in the run's log.
* :func:`terminal_progress` is a rich progress bar on stderr when it is a terminal, and plain lines every few
  seconds otherwise (CI logs, ``| tee``, cron mail), for the ``y3d`` commands.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TextIO

ProgressCallback = Callable[[int, int | None], None]
DEFAULT_INTERVAL_SECONDS = 10.0


def format_duration(seconds: float) -> str:
    """``45s``, ``3m07s``, ``2h05m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def describe(what: str, unit: str, done: int, total: int | None, elapsed: float) -> str:
    """``what: done/total unit (pct%), rate unit/s, ETA t`` (the parts that are known)."""
    text = f"{what}: {done:,}" + (f"/{total:,}" if total is not None else "") + f" {unit}"
    if total:
        text += f" ({100 * done / total:.0f}%)"
    if elapsed > 0 and done:
        rate = done / elapsed
        text += f", {rate:.1f} {unit}/s"
        if total is not None and total > done:
            text += f", ETA {format_duration((total - done) / rate)}"
    return text + f", {format_duration(elapsed)} elapsed"


class ProgressLog:
    """A ``progress(done, total)`` callback that logs at most every ``interval`` seconds, and at the end."""

    def __init__(self, what: str, *, unit: str, log: Callable[[str], object],
                 interval: float = DEFAULT_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.what, self.unit, self.log, self.interval, self.clock = what, unit, log, interval, clock
        self.started = clock()
        self._last_logged: float | None = None
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done, self.total = done, total
        now = self.clock()
        finished = total is not None and done >= total
        if finished or (now - (self._last_logged or self.started)) >= self.interval:
            self._last_logged = now
            self.log(describe(self.what, self.unit, done, total, now - self.started))

    def line(self) -> str:
        return describe(self.what, self.unit, self.done, self.total, self.clock() - self.started)


class TerminalProgress(Protocol):
    def update(self, done: int, total: int | None = None, description: str | None = None) -> None: ...


class _PlainLines:
    def __init__(self, what: str, unit: str, stream: TextIO, interval: float):
        self.log = ProgressLog(what, unit=unit, log=lambda text: print(text, file=stream, flush=True),
                               interval=interval)
        self.description: str | None = None

    def update(self, done: int, total: int | None = None, description: str | None = None) -> None:
        if description and description != self.description:
            self.description = description
            self.log.what = description
        self.log(done, total)


class _RichBar:
    def __init__(self, progress, task):
        self.progress, self.task = progress, task

    def update(self, done: int, total: int | None = None, description: str | None = None) -> None:
        fields = {"completed": done, "total": total}
        if description:
            fields["description"] = description
        self.progress.update(self.task, **fields)


@contextlib.contextmanager
def terminal_progress(what: str, *, unit: str, total: int | None = None, stream: TextIO | None = None,
                      interval: float = 5.0) -> Iterator[TerminalProgress]:
    """A progress display for a ``y3d`` command: a bar when ``stream`` (stderr) is a terminal, else plain
    progress lines at most every ``interval`` seconds."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield _PlainLines(what, unit, stream, interval)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(file=stream), transient=False) as progress:
        yield _RichBar(progress, progress.add_task(what, total=total))
