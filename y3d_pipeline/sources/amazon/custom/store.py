"""Amazon Custom files → ``amazon_customizations`` (plain module, no Dagster).

:func:`sync_customizations` downloads and parses what is due among a window's candidates and the failed files
of earlier windows (:func:`due_retries`). Processed rows with the same URL are skipped, ``rejected`` rows (unsafe
URL, oversized file, zip bomb) are never retried, ``failed`` rows are retried on later runs until the order's
ship-by date (with a growing wait), or ``retry_count`` tries when that date is unknown; a changed URL starts
over. Any error while fetching one file is that file's ``failed`` row, and a row PostgreSQL refuses is stored as
``failed`` with the reason instead: no file stops a window. :func:`link_order_items` ties each row to its
normalized order item.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.counters import Counters, reported
from y3d_pipeline.db.models import AmazonCustomization, Order, OrderItem
from y3d_pipeline.db.storable import jsonb_safe, write_isolating
from y3d_pipeline.sources.amazon.custom.candidates import Candidate
from y3d_pipeline.sources.amazon.custom.errors import CustomizationError, DownloadError
from y3d_pipeline.sources.amazon.custom.fetch import FetchedCustomization

logger = logging.getLogger(__name__)
DEFAULT_MAX_RETRIES = 3
RETRY_WAIT = dt.timedelta(minutes=5)  # before a failed file's next try from a later window, doubling per try
RETRY_WAIT_MAX = dt.timedelta(hours=6)
WRITE_BATCH = 25
# Files downloaded at once: each download mostly waits on the network (a 365-day backfill's 67,000 files took
# 138 s one at a time against the local sandbox; Amazon's file host answers in ~100-300 ms each).
DEFAULT_DOWNLOAD_CONCURRENCY = 8
_customs = AmazonCustomization.__table__


def _ship_by() -> sa.ScalarSelect:
    """The ship-by date of the order a customization's item belongs to (NULL when not linked yet)."""
    items, orders = OrderItem.__table__, Order.__table__
    return (sa.select(orders.c.ship_by_date).select_from(items.join(orders, orders.c.id == items.c.order_id))
            .where(items.c.id == _customs.c.order_item_id).scalar_subquery())


def due_retries(conn: sa.Connection, max_retries: int, *, exclude: Iterable[tuple[str, str]],
                limit: int = 200, now: dt.datetime | None = None) -> list[Candidate]:
    """Failed files of any earlier window that are due again (so a failure on a day whose partition is not
    re-run is still retried by the next run): until the order's ship-by date, since the print needs the file,
    waiting RETRY_WAIT × 2^tries (capped at RETRY_WAIT_MAX) between tries; ``max_retries`` tries when the
    ship-by date is unknown or past."""
    skip = set(exclude)
    now = now or dt.datetime.now(dt.UTC)
    wait = sa.func.least(sa.literal(RETRY_WAIT_MAX),
                         sa.literal(RETRY_WAIT) * sa.func.power(2, sa.func.least(_customs.c.retry_count, 10)))
    stmt = (sa.select(_customs.c.amazon_order_id, _customs.c.amazon_order_item_id, _customs.c.customized_url)
            .where(_customs.c.status == "failed",
                   sa.or_(_customs.c.retry_count < max_retries, _ship_by() > now),
                   sa.or_(_customs.c.last_attempt_at.is_(None), _customs.c.last_attempt_at + wait <= now))
            .order_by(_customs.c.last_attempt_at.asc().nulls_first(), _customs.c.id).limit(limit + len(skip)))
    found = [Candidate(r.amazon_order_id, r.amazon_order_item_id, r.customized_url, "retry")
             for r in conn.execute(stmt) if (r.amazon_order_id, r.amazon_order_item_id) not in skip]
    return found[:limit]


@dataclass
class CustomizationReport(Counters):
    candidates: int = 0
    candidates_by_source: dict[str, int] = reported("candidates_by_source", default=dict)
    attempted: int = 0
    processed: int = 0
    failed: int = 0
    rejected: int = 0
    skipped_processed: int = reported("skipped_already_processed")
    skipped_rejected: int = 0
    skipped_retry_limit: int = 0
    linked_to_order_items: int = 0
    bytes_downloaded: int = 0
    layouts: Counter[str] = reported("layouts", default=Counter)
    errors: Counter[str] = reported("errors_by_kind", default=Counter)  # error class -> count
    problems: list[dict[str, Any]] = reported(None, default=list)  # failed/rejected rows of this window


def same_file(stored: str | None, current: str) -> bool:
    """The same customization file: identical URLs, or identical but for the query string (pre-signed
    download links are re-signed, so their signature and expiry change between fetches)."""
    if stored is None:
        return False
    if stored == current:
        return True
    try:
        a, b = urlsplit(stored), urlsplit(current)
    except ValueError:
        return False
    return (a.scheme, a.netloc.lower(), a.path) == (b.scheme, b.netloc.lower(), b.path) and bool(a.path.strip("/"))


Fetch = Callable[[Candidate], FetchedCustomization]


def _existing(conn: sa.Connection, candidates: list[Candidate]) -> dict[tuple[str, str], Any]:
    rows: dict[tuple[str, str], Any] = {}
    keys = [(c.amazon_order_id, c.amazon_order_item_id) for c in candidates]
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        stmt = sa.select(_customs.c.amazon_order_id, _customs.c.amazon_order_item_id, _customs.c.status,
                         _customs.c.customized_url, _customs.c.retry_count, _customs.c.error,
                         _ship_by().label("ship_by_date")).where(
            sa.tuple_(_customs.c.amazon_order_id, _customs.c.amazon_order_item_id).in_(chunk))
        for row in conn.execute(stmt):
            rows[(row.amazon_order_id, row.amazon_order_item_id)] = row
    return rows


def _upsert(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """One multi-row ``INSERT ... ON CONFLICT DO UPDATE`` per set of columns (a failure row names fewer
    columns than a processed one); the same item twice in one statement is refused by PostgreSQL, and
    ``write_isolating`` then splits the batch, so the later row still wins."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in rows:
        by_columns.setdefault(tuple(values), []).append(values)
    for columns, group in by_columns.items():
        stmt = insert(_customs).values(group)
        updatable = {k: stmt.excluded[k] for k in columns if k not in ("amazon_order_id", "amazon_order_item_id")}
        updatable["updated_at"] = sa.func.now()
        conn.execute(stmt.on_conflict_do_update(index_elements=["amazon_order_id", "amazon_order_item_id"],
                                                set_=updatable))


def link_order_items(conn: sa.Connection) -> int:
    """Set ``order_item_id`` where the normalized item exists (by amazon_order_item_id, else by
    orders.order_number / amazon_order_id + line_item_key). Returns rows linked now."""
    items, orders = OrderItem.__table__, Order.__table__
    by_item_id = (sa.select(sa.func.min(items.c.id))
                  .where(items.c.amazon_order_item_id == _customs.c.amazon_order_item_id).scalar_subquery())
    by_key = (sa.select(sa.func.min(items.c.id)).select_from(items.join(orders, orders.c.id == items.c.order_id))
              .where(items.c.line_item_key == _customs.c.amazon_order_item_id,
                     sa.or_(orders.c.order_number == _customs.c.amazon_order_id,
                            orders.c.amazon_order_id == _customs.c.amazon_order_id))
              .scalar_subquery())
    match = sa.func.coalesce(by_item_id, by_key)
    result = conn.execute(sa.update(_customs)
                          .where(_customs.c.order_item_id.is_(None), match.is_not(None))
                          .values(order_item_id=match))
    return result.rowcount or 0


def sync_customizations(
    engine: sa.Engine,
    candidates: list[Candidate],
    fetch: Fetch,
    *,
    partition_key: str | None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    log: Callable[[str], None] = lambda _msg: None,
    concurrency: int = DEFAULT_DOWNLOAD_CONCURRENCY,
) -> CustomizationReport:
    """Download and parse what is due, ``concurrency`` files at a time (``fetch`` is called from that many
    threads); results are written every WRITE_BATCH items rounded up to a multiple of ``concurrency`` (a crash
    loses at most that many downloads, which the next run repeats)."""
    report = CustomizationReport(candidates=len(candidates))
    report.candidates_by_source = dict(Counter(c.source for c in candidates))
    with engine.connect() as conn:
        existing = _existing(conn, candidates)
    pending: list[dict[str, Any]] = []

    def write(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        _upsert(conn, rows)

    def flush() -> None:
        if not pending:
            return
        with engine.begin() as conn:
            _, refused = write_isolating(conn, pending, lambda rows: write(conn, list(rows)))
            for values, reason in refused:  # keep the attempt on record, as a failure saying why
                failure = {k: values[k] for k in ("amazon_order_id", "amazon_order_item_id", "customized_url",
                                                  "last_attempt_at", "partition_key") if k in values}
                failure.update(status="failed", error=reason[:1000], retry_count=values.get("retry_count", 0),
                               zip_sha256=None, raw_json=None, layout=None, custom_text=None, font=None,
                               color_1=None, color_2=None, surfaces=None, processed_at=None)
                _, still = write_isolating(conn, [failure], lambda rows: write(conn, list(rows)))
                key = (values["amazon_order_id"], values["amazon_order_item_id"])
                if values.get("status") == "processed":
                    report.processed -= 1
                    report.failed += 1
                report.problems.append({"amazon_order_id": key[0], "amazon_order_item_id": key[1],
                                        "status": "failed" if not still else "not stored", "error": reason[:300]})
        pending.clear()

    due: list[tuple[Candidate, Any, bool, int]] = []  # (candidate, existing row, same URL, retry count)
    for candidate in candidates:
        key = (candidate.amazon_order_id, candidate.amazon_order_item_id)
        row = existing.get(key)
        same_url = row is not None and same_file(row.customized_url, candidate.url)
        if same_url and row.status == "processed":
            report.skipped_processed += 1
            continue
        if same_url and row.status == "rejected":
            report.skipped_rejected += 1
            report.problems.append({"amazon_order_id": key[0], "amazon_order_item_id": key[1],
                                    "status": "rejected", "error": (row.error or "")[:300]})
            continue
        before_ship_by = row is not None and row.ship_by_date is not None and row.ship_by_date > now()
        if same_url and row.status == "failed" and row.retry_count >= max_retries and not before_ship_by:
            report.skipped_retry_limit += 1
            report.problems.append({"amazon_order_id": key[0], "amazon_order_item_id": key[1],
                                    "status": "failed", "error": (row.error or "")[:300],
                                    "retry_count": row.retry_count, "gave_up": True})
            continue
        due.append((candidate, row, same_url, row.retry_count if same_url and row is not None else 0))

    def attempt(candidate: Candidate) -> tuple[FetchedCustomization | CustomizationError, float]:
        started = time.monotonic()
        try:
            return fetch(candidate), time.monotonic() - started
        except CustomizationError as exc:
            return exc, time.monotonic() - started
        except Exception as exc:  # a bug or an unforeseen input on one file must not cost the window
            logger.exception("Amazon Custom %s/%s: unexpected error", candidate.amazon_order_id,
                             candidate.amazon_order_item_id)
            error = DownloadError(f"unexpected error while fetching ({type(exc).__name__})")
            error.__cause__ = exc
            return error, time.monotonic() - started

    def record(candidate: Candidate, row: Any, same_url: bool, retry_count: int,
               outcome: FetchedCustomization | CustomizationError, seconds: float) -> dict[str, Any]:
        """The row one attempt leaves, counted in the report."""
        key = (candidate.amazon_order_id, candidate.amazon_order_item_id)
        report.attempted += 1
        values: dict[str, Any] = {
            "amazon_order_id": key[0], "amazon_order_item_id": key[1], "customized_url": candidate.url,
            "last_attempt_at": now(),
        }
        if candidate.source != "retry" or row is None:  # a retry keeps the partition the item belongs to
            values["partition_key"] = partition_key
        if isinstance(outcome, CustomizationError):
            status = outcome.status
            error = f"{type(outcome).__name__}: {outcome}"[:1000]
            values.update(status=status, error=error,
                          retry_count=retry_count + 1 if status == "failed" else retry_count)
            if row is not None and not same_url:  # a new file: what was parsed from the old one no longer holds
                values.update(zip_sha256=None, raw_json=None, layout=None, custom_text=None, font=None,
                              color_1=None, color_2=None, surfaces=None, processed_at=None)
            report.errors[type(outcome).__name__] += 1
            if status == "rejected":
                report.rejected += 1
            else:
                report.failed += 1
            report.problems.append({"amazon_order_id": key[0], "amazon_order_item_id": key[1], "status": status,
                                    "error": error[:300], "retry_count": values["retry_count"],
                                    "source": candidate.source})
            log(f"{key[0]}/{key[1]}: {status}: {error}")
            return values
        parsed = outcome.customization
        values.update(status="processed", error=None, retry_count=retry_count, zip_sha256=outcome.zip_sha256,
                      raw_json=jsonb_safe(outcome.raw_json), layout=parsed.layout, custom_text=parsed.custom_text,
                      font=parsed.font, color_1=parsed.color_1, color_2=parsed.color_2,
                      surfaces=jsonb_safe(parsed.surfaces_json()), processed_at=now())
        report.processed += 1
        report.bytes_downloaded += outcome.zip_bytes
        report.layouts[parsed.layout or "none"] += 1
        log(f"{key[0]}/{key[1]}: {parsed.layout} in {seconds:.2f}s")
        return values

    # Downloads run `concurrency` at a time (each waits on the network); results are recorded in candidate
    # order, a write batch at a time (WRITE_BATCH rounded up to whole rounds of downloads), as one at a time would.
    concurrency = max(1, concurrency)
    batch = -(-WRITE_BATCH // concurrency) * concurrency
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="amazon-custom") as pool:
        for first in range(0, len(due), batch):
            chunk = due[first:first + batch]
            outcomes = pool.map(attempt, [candidate for candidate, *_ in chunk])
            pending.extend(record(*planned, *outcome) for planned, outcome in zip(chunk, outcomes, strict=True))
            flush()
    with engine.begin() as conn:
        report.linked_to_order_items = link_order_items(conn)
    return report
