"""The local Dagster instance the ``y3d`` commands run on: the application schema migrated (the embedded
PostgreSQL started when ``DATABASE_URL`` is unset), ``DAGSTER_HOME`` defaulting to the project root (its
``dagster.yaml``), and the Dagster UI on it."""

from __future__ import annotations

import os
import subprocess
import sys

from y3d_pipeline.paths import PROJECT_ROOT


def prepare_local_instance() -> dict[str, str]:
    """Migrations applied (starting the embedded database if DATABASE_URL is unset); returns the env for
    Dagster processes, with DAGSTER_HOME defaulting to the project root and its dagster.yaml."""
    from y3d_pipeline.db.engine import resolve_app_database_url
    from y3d_pipeline.db.migrate import upgrade

    upgrade(resolve_app_database_url())
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    return env


def dagster_ui_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(PROJECT_ROOT / "workspace.yaml"),
        "-h", host, "-p", str(port),
    ]


def open_ui(host: str, port: int, env: dict[str, str]) -> int:
    """Serve the Dagster UI (webserver and daemon) until Ctrl-C; returns its exit code."""
    print(f"Dagster UI on http://{host}:{port} (Ctrl-C to stop)", flush=True)
    return subprocess.call(dagster_ui_command(host, port), env=env, cwd=PROJECT_ROOT)
