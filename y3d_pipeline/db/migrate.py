"""Apply the Alembic migrations in ``migrations/`` programmatically (used by ``y3d db upgrade`` and tests)."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config

from y3d_pipeline.paths import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("postgresql://unused/unused")).get_current_head()


def pending_revisions(database_url: str, revision: str = "head") -> list[str]:
    """The revisions ``upgrade`` would apply, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(database_url))
    current = current_revision(database_url)
    target = script.get_current_head() if revision == "head" else revision
    revisions = list(script.iterate_revisions(target, current))
    return [r.revision for r in reversed(revisions)]


def upgrade(database_url: str, revision: str = "head",
            progress: Callable[[int, int | None], None] | None = None) -> None:
    """Apply migrations up to ``revision``; with ``progress``, one revision at a time, reporting
    ``progress(applied, pending)`` after each."""
    config = alembic_config(database_url)
    if progress is None:
        command.upgrade(config, revision)
        return
    pending = pending_revisions(database_url, revision)
    progress(0, len(pending))
    for number, step in enumerate(pending, start=1):
        command.upgrade(config, step)
        progress(number, len(pending))


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    from y3d_pipeline.db.engine import make_engine

    engine = make_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
