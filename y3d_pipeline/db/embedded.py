"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset.

pgserver ships PostgreSQL binaries in its wheel, so a machine with only Python gets a real server under
``.y3d/pgdata``, reachable over a unix socket. It is started once and left running
(``cleanup_mode=None``) so the webserver, the daemon and every run worker share it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from y3d_pipeline.paths import state_dir
from y3d_pipeline.settings import normalize_postgres_url

APP_DATABASE = "y3d"
DAGSTER_DATABASE = "dagster"

log = logging.getLogger(__name__)
# pgserver logs every handle it opens and closes at INFO.
logging.getLogger("pgserver").setLevel(logging.WARNING)
# pgserver keeps its lock under the user runtime dir; falling back to /tmp is fine, the warning is noise.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


@dataclass(frozen=True)
class EmbeddedDatabases:
    app_url: str
    dagster_url: str
    pgdata: Path


def _database_url(server_uri: str, database: str) -> str:
    url = sa.engine.make_url(server_uri).set(database=database)
    return normalize_postgres_url(url.render_as_string(hide_password=False), variable="embedded")


def ensure_embedded_databases(pgdata: Path | None = None, *, keep_running: bool = True) -> EmbeddedDatabases:
    """Start (or reuse) the embedded server and create the app and Dagster databases if missing.

    ``keep_running=False`` stops the server when the last process using it exits (tests); the default
    leaves it up for the webserver, daemon and run workers that come and go.
    """
    import pgserver  # heavy import; only needed on the embedded path

    pgdata = pgdata or state_dir() / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    admin_uri = server.get_uri()
    engine = sa.create_engine(_database_url(admin_uri, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            existing = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
            for name in (APP_DATABASE, DAGSTER_DATABASE):
                if name not in existing:
                    log.info("creating embedded database %s", name)
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return EmbeddedDatabases(
        app_url=_database_url(admin_uri, APP_DATABASE),
        dagster_url=_database_url(admin_uri, DAGSTER_DATABASE),
        pgdata=pgdata,
    )


def stop_embedded(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it is running; returns whether one was running."""
    import pgserver
    from pgserver._commands import pg_ctl  # runs as the server's system user, as pgserver itself does

    pgdata = pgdata or state_dir() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
    return True
