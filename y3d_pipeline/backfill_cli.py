"""``y3d backfill SOURCE --from DAY --to DAY``: one source's sync over a date range, run here with progress.

The source's sync job (raw records, then everything daily they feed, then the task status sync) over the
range as single runs (every daily asset backfills a range in one run), ``--days-per-run`` days each, recorded
in the Dagster instance like any run (``y3d runs``, the UI), with a progress bar of the run's steps. The same
as selecting the partitions of ``<source>_sync`` in the UI, without needing the daemon.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os

from y3d_pipeline.paths import PROJECT_ROOT

SOURCES = ("shipstation", "shopify", "amazon")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "backfill", help="sync one source over a date range, in this process, with progress",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""))
    parser.add_argument("source", choices=SOURCES)
    parser.add_argument("--from", dest="start", required=True, type=dt.date.fromisoformat,
                        help="first day (YYYY-MM-DD, shop calendar)")
    parser.add_argument("--to", dest="end", required=True, type=dt.date.fromisoformat, help="last day, included")
    parser.add_argument("--days-per-run", type=int, default=31,
                        help="split the range into runs of at most this many days (default 31)")
    parser.set_defaults(func=run, log_level=logging.WARNING)
    return parser


def chunks(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i:i + size] for i in range(0, len(keys), max(1, size))]


def run(args: argparse.Namespace) -> int:
    import sys

    if args.end < args.start:
        print("--to is before --from", file=sys.stderr)
        return 2
    from y3d_pipeline.local_instance import prepare_local_instance
    from y3d_pipeline.runlog.tags import TAG_RANGE_END, TAG_RANGE_START, TAG_SOURCE, TAG_TRIGGER

    os.environ.update(prepare_local_instance())
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    import dagster as dg

    from y3d_pipeline.definitions import defs
    from y3d_pipeline.defs.automation.jobs import SYNC_JOBS
    from y3d_pipeline.defs.partitions import daily_partitions
    from y3d_pipeline.inprocess import execute_with_progress
    from y3d_pipeline.settings import load_settings

    if not getattr(load_settings(), f"{args.source}_configured"):
        print(f"{args.source} is not configured (see the README's configuration table)", file=sys.stderr)
        return 2
    wanted = {(args.start + dt.timedelta(days=i)).isoformat() for i in range((args.end - args.start).days + 1)}
    keys = [k for k in daily_partitions.get_partition_keys() if k in wanted]
    if not keys:
        print("no partitions in that range (before Y3D_START_DATE, or in the future)", file=sys.stderr)
        return 2
    job = defs().resolve_job_def(SYNC_JOBS[args.source].name)
    failed = 0
    with dg.DagsterInstance.get() as instance:
        for part in chunks(keys, args.days_per_run):
            result = execute_with_progress(job, instance=instance, what=f"{args.source} {part[0]}..{part[-1]}",
                                           tags={TAG_RANGE_START: part[0], TAG_RANGE_END: part[-1],
                                                 TAG_SOURCE: args.source, TAG_TRIGGER: "y3d backfill"})
            print(f"run {result.run_id} {part[0]}..{part[-1]}: {'success' if result.success else 'FAILED'}",
                  flush=True)
            failed += not result.success
    return 1 if failed else 0
