"""``y3d status``: one screen for the operator (see ``y3d_pipeline.runlog.status``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from y3d_pipeline.paths import PROJECT_ROOT


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "status", help="one screen: sources and their last sync, queue, alerts, automation on/off, last runs",
        description="Per source configured or not, syncing or not, last successful sync and its age; open and "
                    "review print tasks, quarantined records, failed Amazon Custom files; standing alerts; which "
                    "schedules and sensors are on; the last run of every job with its outcome.")
    parser.add_argument("--json", action="store_true", help="one JSON document")
    parser.set_defaults(func=run, log_level=logging.WARNING)
    return parser


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    import dagster as dg

    from y3d_pipeline.db.engine import make_engine, resolve_app_database_url
    from y3d_pipeline.db.migrate import current_revision, head_revision
    from y3d_pipeline.definitions import defs
    from y3d_pipeline.runlog.status import collect_status, format_status
    from y3d_pipeline.settings import load_settings

    settings = load_settings()
    url = resolve_app_database_url()
    current, head = current_revision(url), head_revision()
    if current != head:
        print(f"the application database is at revision {current or '(empty)'}, not {head}: run `y3d db upgrade`",
              file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        with dg.DagsterInstance.get() as instance:
            status = collect_status(instance, defs(), engine, settings)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(status.as_json(), indent=2, default=str))
    else:
        print(format_status(status, tz=settings.timezone))
    return 0
