"""The embedded PostgreSQL serves both databases, and the repo's dagster.yaml runs on PostgreSQL storage."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import sqlalchemy as sa
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from y3d_pipeline.db.embedded import APP_DATABASE, DAGSTER_DATABASE, ensure_embedded_databases
from y3d_pipeline.db.engine import make_engine
from y3d_pipeline.paths import PROJECT_ROOT, state_dir


def test_embedded_server_serves_app_and_dagster_databases():
    embedded = ensure_embedded_databases(pgdata=state_dir() / "test-pgdata", keep_running=False)
    assert embedded.app_url.startswith("postgresql+psycopg2://")
    for url, name in ((embedded.app_url, APP_DATABASE), (embedded.dagster_url, DAGSTER_DATABASE)):
        engine = make_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == name
            assert conn.execute(sa.text("SHOW server_version_num")).scalar() >= "150000"
        engine.dispose()
    # Idempotent: a second call reuses the running server.
    assert ensure_embedded_databases(pgdata=state_dir() / "test-pgdata", keep_running=False) == embedded


@dg.asset
def _probe() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"ok": True})


def test_repo_dagster_yaml_runs_on_postgres(database_factory, monkeypatch):
    url = database_factory.create("y3d_dagster")
    # A bare postgresql:// URL is the pitfall case: SQLAlchemy 2.1 would pick psycopg 3 for it.
    monkeypatch.setenv("DAGSTER_PG_URL", url.replace("postgresql+psycopg2://", "postgresql://"))
    with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        result = dg.materialize([_probe], instance=instance)
        assert result.success
        # The event-log NOTIFY path is what breaks with the wrong driver; reading events back proves it.
        event = instance.get_latest_materialization_event(dg.AssetKey("_probe"))
        assert event is not None and event.run_id == result.run_id
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        limits = config.run_queue_config.tag_concurrency_limits
        assert {"key": "y3d/source", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def _y3d(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "y3d_pipeline.cli", *args], capture_output=True, text=True,
                          env=env, cwd=PROJECT_ROOT, timeout=120)


def test_cli_db_upgrade_applies_migrations(database_factory):
    import os

    from alembic.script import ScriptDirectory

    from y3d_pipeline.db.migrate import alembic_config

    url = database_factory.create("y3d_cli")
    done = _y3d("db", "upgrade", env={**os.environ, "DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert f"database at revision {head}" in done.stdout
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    assert "print_tasks" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_cli_reports_bad_configuration_clearly():
    import os

    done = _y3d("db", "upgrade", env={**os.environ, "DATABASE_URL": "postgresql://host:notaport/db"})
    assert done.returncode == 2
    assert "DATABASE_URL" in done.stderr and "Traceback" not in done.stderr
