"""The ``y3d`` console script: demo, sandbox, database migrations, the run log, status and backfills.

Everything else is Dagster's own CLI (``dg dev``, ``dg check defs``, ``dg launch``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from pydantic import ValidationError


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from y3d_pipeline.db.engine import resolve_app_database_url
    from y3d_pipeline.db.migrate import current_revision, upgrade
    from y3d_pipeline.progress import terminal_progress

    url = resolve_app_database_url()
    with terminal_progress("migrations", unit="revisions") as bar:
        upgrade(url, args.revision, progress=lambda done, total: bar.update(done, total))
    print(f"database at revision {current_revision(url)}")
    return 0


def _cmd_db_current(args: argparse.Namespace) -> int:
    from y3d_pipeline.db.engine import resolve_app_database_url
    from y3d_pipeline.db.migrate import current_revision

    print(current_revision(resolve_app_database_url()) or "(empty database)")
    return 0


def _cmd_db_stop(args: argparse.Namespace) -> int:
    from y3d_pipeline.db.embedded import stop_embedded

    print("embedded PostgreSQL stopped" if stop_embedded() else "embedded PostgreSQL was not running")
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    from y3d_pipeline.local_instance import open_ui, prepare_local_instance

    return open_ui(args.host, args.port, prepare_local_instance())


# Commands that live with their part of the project: each module has add_parser(subparsers) and run(args); a
# parser may set_defaults(log_level=logging.WARNING) to keep library INFO lines off stderr.
REGISTERED_COMMANDS = (
    ("y3d_pipeline.demo", "demo"),
    ("y3d_pipeline.sandbox.cli", "sandbox"),
    ("y3d_pipeline.runlog.cli", "runs"),
    ("y3d_pipeline.runlog.status_cli", "status"),
    ("y3d_pipeline.backfill_cli", "backfill"),
    ("y3d_pipeline.print_queue.cli", "tasks"),
    ("y3d_pipeline.sources.amazon.cli", "amazon"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="y3d", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="application database").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations to DATABASE_URL (or the embedded database)")
    up.add_argument("--revision", default="head")
    up.set_defaults(func=_cmd_db_upgrade, log_level=logging.WARNING)
    db.add_parser("current", help="print the applied migration revision").set_defaults(func=_cmd_db_current)
    db.add_parser("stop", help="stop the embedded PostgreSQL server").set_defaults(func=_cmd_db_stop)

    dev = commands.add_parser("dev", help="open the Dagster UI on the local instance")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=_cmd_dev)

    # Commands owned by other parts of the project register themselves: (module, command name).
    for module_name, command in REGISTERED_COMMANDS:
        module = importlib.import_module(module_name)
        module.add_parser(commands)
        sub = commands.choices[command]
        if sub.get_default("func") is None:
            sub.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else getattr(args, "log_level", logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    if not args.verbose:  # one INFO line per HTTP request (with its URL) is noise on a terminal
        logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    try:
        code = args.func(args)
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
        print("configuration error:\n" + "\n".join(lines), file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main(os.sys.argv[1:])
