"""``y3d runs``: the run log read from the Dagster instance (``DAGSTER_HOME``, default: the project root)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from y3d_pipeline.paths import PROJECT_ROOT


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "runs", help="the run log: what ran, when, for which partitions, with what outcome",
        description="Runs from Dagster's run storage, newest first by start time, with counts and failed order ids from "
                    "their materialization metadata.")
    parser.add_argument("--since", default="24h", help="24h, 30m, 7d, 2w or an ISO date/datetime (default 24h)")
    parser.add_argument("--status", help="outcome: queued, running, success, partial_success, "
                                         "success_no_orders, failed, canceled")
    parser.add_argument("--job", help="only this job")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="one JSON document (a list of runs)")
    parser.set_defaults(func=run, log_level=logging.WARNING)
    return parser


def run(args: argparse.Namespace) -> int:
    from y3d_pipeline.runlog.core import collect_runs, format_table, parse_since
    from y3d_pipeline.runlog.tags import Outcome

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.status and args.status not in Outcome.ALL:
        print(f"--status must be one of {', '.join(Outcome.ALL)}", file=sys.stderr)
        return 2
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    import dagster as dg

    from y3d_pipeline.settings import load_settings

    with dg.DagsterInstance.get() as instance:
        entries = collect_runs(instance, since=since, status=args.status, job=args.job, limit=args.limit)
    if args.json:
        print(json.dumps([e.as_json() for e in entries], indent=2, default=str))
    else:
        print(format_table(entries, tz=load_settings().timezone))
    return 0
