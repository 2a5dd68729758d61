"""The embedded PostgreSQL is safe when started as root (issue 12, item 6): no permission of an existing
directory is widened for it, its socket is never in a directory others can enter, and where it cannot run
safely it refuses with the documented alternative. The test machine runs as root, as many containers do."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from y3d_pipeline.db.embedded import EmbeddedDatabaseError, ensure_embedded_databases, stop_embedded

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="what happens when started as root")


@pytest.fixture
def base():
    """A scratch directory others may enter (as /var/lib or /srv are); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="y3d-root-"))
    path.chmod(0o755)
    yield path
    for pgdata in path.rglob("PG_VERSION"):
        stop_embedded(pgdata.parent)
    shutil.rmtree(path, ignore_errors=True)


def _modes(*paths: Path) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in paths}


def test_refuses_rather_than_opening_a_private_parent(base):
    home = base / "home"
    home.mkdir(mode=0o700)
    pgdata = home / "project" / ".y3d" / "pgdata"
    before = _modes(base, home)
    with pytest.raises(EmbeddedDatabaseError) as refused:
        ensure_embedded_databases(pgdata, keep_running=False)
    message = str(refused.value)
    assert str(home) in message and "DATABASE_URL" in message and "Y3D_STATE_DIR" in message
    assert _modes(base, home) == before, "a parent directory was opened up"
    assert not (pgdata / "postmaster.pid").exists()


def test_a_long_data_path_gets_a_private_socket_and_nothing_is_widened(base):
    pgdata = base / ("a" * 45) / ("b" * 45) / "pgdata"  # too long for a socket inside it
    pgdata.parent.mkdir(parents=True)
    pgdata.parent.chmod(0o755)
    pgdata.parent.parent.chmod(0o755)
    before = _modes(base, pgdata.parent, pgdata.parent.parent, Path(tempfile.gettempdir()))
    embedded = ensure_embedded_databases(pgdata, keep_running=False)
    engine = sa.create_engine(embedded.app_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        socket_dir = Path(conn.execute(sa.text("SHOW unix_socket_directories")).scalar())
        assert conn.execute(sa.text("SHOW unix_socket_permissions")).scalar() == "0700"
        assert conn.execute(sa.text("SHOW listen_addresses")).scalar() == ""
        hba = [line.split() for line in conn.execute(sa.text(
            "SELECT type || ' ' || auth_method FROM pg_hba_file_rules")).scalars()]
    engine.dispose()
    assert socket_dir != pgdata
    info = socket_dir.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700, f"socket directory {socket_dir} is {oct(info.st_mode)}"
    assert info.st_uid == pgdata.stat().st_uid != 0
    assert all(method != "trust" for kind, method in hba if kind != "local"), hba
    assert _modes(base, pgdata.parent, pgdata.parent.parent, Path(tempfile.gettempdir())) == before
    assert stop_embedded(pgdata)


def test_a_server_left_on_an_open_socket_directory_is_restarted_privately(base):
    """Data directories started by pgserver's own manager (the previous code) may be serving a socket from a
    world-writable directory; the next start moves the server to a private one."""
    import pgserver

    pgdata = base / ("c" * 45) / ("d" * 45) / "pgdata"
    pgdata.mkdir(parents=True)
    for directory in (pgdata.parent, pgdata.parent.parent):
        directory.chmod(0o755)
    legacy = pgserver.get_server(pgdata, cleanup_mode=None)
    open_dir = Path(sa.engine.make_url(legacy.get_uri()).query["host"])
    try:
        assert stat.S_IMODE(open_dir.stat().st_mode) == 0o777  # the state this start must not keep
        embedded = ensure_embedded_databases(pgdata, keep_running=False)
        socket_dir = Path(sa.engine.make_url(embedded.app_url).query["host"])
        assert socket_dir != open_dir and stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        assert not (open_dir / ".s.PGSQL.5432").exists()
        assert ensure_embedded_databases(pgdata, keep_running=False) == embedded  # reused, not restarted
    finally:
        shutil.rmtree(open_dir, ignore_errors=True)
