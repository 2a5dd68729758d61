"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset.

pgserver ships PostgreSQL binaries in its wheel, so a machine with only Python gets a real server under
``.y3d/pgdata``. We run those binaries ourselves instead of through pgserver's server manager, because when
started as root that manager makes every parent directory of the data directory (and of the virtualenv)
readable by everyone, and when the data path is too long for a socket it serves a password-less superuser
from a world-writable socket directory. Here:

* The server runs as the invoking user. As root (PostgreSQL refuses to run as root) it runs as the system
  user ``pgserver`` (created without a login shell if missing; the name pgserver uses, so existing data
  directories keep working), and only if that user can already reach the data directory and the binaries:
  no permission of an existing directory is ever changed. Otherwise start-up stops with
  :class:`EmbeddedDatabaseError`, naming the directory and the alternatives: ``DATABASE_URL`` (any PostgreSQL),
  or ``Y3D_STATE_DIR`` under a directory other users may enter (e.g. ``/var/lib/y3d``).
* No TCP (``listen_addresses=''``). The only way in is a Unix socket in a directory only the server's user (and
  root) can enter: the data directory itself, or a private ``0700`` directory when that path is too long; the
  socket file is ``0700`` too. Trust authentication therefore admits the server's own user and root only.

It is started once and left running (``keep_running``) so the webserver, the daemon and every run worker share
it; tests stop it when the last process that asked for it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import grp
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from y3d_pipeline.paths import state_dir
from y3d_pipeline.settings import normalize_postgres_url

APP_DATABASE = "y3d"
DAGSTER_DATABASE = "dagster"
SERVER_USER_AS_ROOT = "pgserver"
SUPERUSER = "postgres"
PORT = 5432  # only names the socket file (.s.PGSQL.5432): there is no TCP listener
MAX_SOCKET_PATH = 100  # sun_path holds 107 bytes on Linux, 103 on macOS

log = logging.getLogger(__name__)


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server cannot be started safely here; the message says why and what to do instead."""


@dataclass(frozen=True)
class EmbeddedDatabases:
    app_url: str
    dagster_url: str
    pgdata: Path


# ------------------------------------------------------------------------------------------ binaries


def _bin_dir() -> Path:
    """The binaries in the pgserver wheel (found without importing pgserver's server manager)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise EmbeddedDatabaseError("the pgserver package (embedded PostgreSQL binaries) is not installed; "
                                    "set DATABASE_URL to a PostgreSQL server")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _run(binary: str, args: list[str], *, user: pwd.struct_passwd | None, timeout: float = 120) -> str:
    """Run a PostgreSQL binary (as ``user`` when we are root); its output in the error if it fails."""
    command = [str(_bin_dir() / binary), *args]
    with tempfile.TemporaryFile("w+") as out:  # not pipes: pg_ctl's server inherits them and never closes them
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                              user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                              extra_groups=[] if user else None, cwd="/", check=False)
        out.seek(0)
        output = out.read()
    if done.returncode != 0:
        raise EmbeddedDatabaseError(f"{binary} {' '.join(args[:2])} failed (exit {done.returncode}): "
                                    f"{output.strip()[-2000:]}")
    return output


# ------------------------------------------------------------------------------------------ who runs it


def _server_user() -> pwd.struct_passwd | None:
    """``None``: the current user runs the server. As root: the ``pgserver`` system user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER_AS_ROOT)
    except KeyError:
        pass
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SERVER_USER_AS_ROOT], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise EmbeddedDatabaseError(
            f"running as root, the embedded PostgreSQL needs the system user '{SERVER_USER_AS_ROOT}' (PostgreSQL "
            f"refuses to run as root) and could not create it ({exc}). Create it, run as an ordinary user, or "
            "set DATABASE_URL (and DAGSTER_PG_URL) to a PostgreSQL server.") from exc
    return pwd.getpwnam(SERVER_USER_AS_ROOT)


def _groups_of(user: pwd.struct_passwd) -> set[int]:
    return {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}


def _allows(path: Path, user: pwd.struct_passwd, *, owner: int, group: int, other: int) -> bool:
    info = path.stat()
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & owner)
    if info.st_gid in _groups_of(user):
        return bool(info.st_mode & group)
    return bool(info.st_mode & other)


def _closed_to(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first existing directory on the way to ``path`` that ``user`` may not enter, or None."""
    for directory in reversed([*path.parents]):
        if directory.exists() and not _allows(directory, user, owner=stat.S_IXUSR, group=stat.S_IXGRP,
                                              other=stat.S_IXOTH):
            return directory
    return None


def _check_reachable(pgdata: Path, user: pwd.struct_passwd) -> None:
    """As root: the server's user must reach the data directory and the binaries as things are."""
    binaries = _bin_dir()
    for target, what in ((pgdata, "the data directory"), (binaries / "postgres", "the PostgreSQL binaries")):
        closed = _closed_to(target, user)
        if closed is not None:
            raise EmbeddedDatabaseError(
                f"running as root, the embedded PostgreSQL runs as the system user '{user.pw_name}', which cannot "
                f"enter {closed} on the way to {what} ({target}). Permissions are not widened for it. Set "
                "DATABASE_URL (and DAGSTER_PG_URL) to a PostgreSQL server, or set Y3D_STATE_DIR to a directory "
                f"'{user.pw_name}' can reach (e.g. /var/lib/y3d), or run as an ordinary user.")
    postgres = binaries / "postgres"
    if not _allows(postgres, user, owner=stat.S_IXUSR, group=stat.S_IXGRP, other=stat.S_IXOTH):
        raise EmbeddedDatabaseError(f"the system user '{user.pw_name}' may not execute {postgres}; set "
                                    "DATABASE_URL to a PostgreSQL server or reinstall with readable binaries.")


# ------------------------------------------------------------------------------------------ directories


def _prepare_pgdata(pgdata: Path, user: pwd.struct_passwd | None) -> None:
    if user is not None:
        _check_reachable(pgdata, user)
    pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None and pgdata.stat().st_uid != user.pw_uid:
        if (pgdata / "PG_VERSION").exists():
            raise EmbeddedDatabaseError(f"{pgdata} holds a database owned by uid {pgdata.stat().st_uid}, not "
                                        f"'{user.pw_name}'; refusing to take it over")
        os.chown(pgdata, user.pw_uid, user.pw_gid)
    pgdata.chmod(0o700)


def _socket_dir(pgdata: Path, user: pwd.struct_passwd | None) -> Path:
    """The data directory (0700) when the socket path fits, else a private 0700 directory of the server's
    user; a directory of that name that is not exactly that (someone else's, a symlink, open) is refused."""
    if len(str(pgdata / f".s.PGSQL.{PORT}").encode()) <= MAX_SOCKET_PATH:
        return pgdata
    uid = user.pw_uid if user else os.geteuid()
    digest = hashlib.sha256(str(pgdata.resolve()).encode()).hexdigest()[:12]
    private = Path(tempfile.gettempdir()) / f"y3d-pg-{uid}-{digest}"
    with contextlib.suppress(FileExistsError):
        private.mkdir(mode=0o700)
        if user is not None:
            os.chown(private, user.pw_uid, user.pw_gid)
    info = private.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid or info.st_mode & 0o077:
        raise EmbeddedDatabaseError(f"{private} (the embedded PostgreSQL's socket directory) exists but is not a "
                                    f"private directory of uid {uid}; remove it, or use a shorter Y3D_STATE_DIR")
    return private


def _is_private(directory: Path, pgdata: Path) -> bool:
    try:
        info = directory.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077 and info.st_uid == pgdata.stat().st_uid


# ------------------------------------------------------------------------------------------ the server


@dataclass(frozen=True)
class _Running:
    pid: int
    port: int
    socket_dir: Path


def _running(pgdata: Path) -> _Running | None:
    """The server of ``pgdata`` from its postmaster.pid, if it is up and ready."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    pid = int(lines[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return _Running(pid, int(lines[3]), Path(lines[4].strip()))


def _start(pgdata: Path, user: pwd.struct_passwd | None) -> _Running:
    if not (pgdata / "PG_VERSION").exists():
        log.info("initialising the embedded PostgreSQL in %s", pgdata)
        _run("initdb", ["-D", str(pgdata), "-U", SUPERUSER, "--encoding=utf8", "--auth-local=trust",
                        "--auth-host=reject"], user=user)
    socket_dir = _socket_dir(pgdata, user)
    if "'" in str(socket_dir):
        raise EmbeddedDatabaseError(f"{socket_dir}: a quote in the path; set Y3D_STATE_DIR to a plain path")
    options = f"-c listen_addresses='' -k '{socket_dir}' -p {PORT} -c unix_socket_permissions=0700"
    _run("pg_ctl", ["-D", str(pgdata), "-w", "-t", "60", "-l", str(pgdata / "log"), "-o", options, "start"],
         user=user)
    running = _running(pgdata)
    if running is None:
        raise EmbeddedDatabaseError(f"the embedded PostgreSQL did not come up; see {pgdata / 'log'}")
    return running


def _stop(pgdata: Path) -> None:
    owner = pwd.getpwuid(pgdata.stat().st_uid) if os.geteuid() == 0 and pgdata.stat().st_uid != 0 else None
    _run("pg_ctl", ["-D", str(pgdata), "-w", "-m", "fast", "stop"], user=owner)


@contextlib.contextmanager
def _locked(pgdata: Path) -> Iterator[None]:
    """One process at a time starts, stops or counts users of a data directory."""
    lock = pgdata.parent / f".{pgdata.name}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _handles(pgdata: Path) -> Path:
    return pgdata.parent / f".{pgdata.name}.users.json"


def _register_user(pgdata: Path) -> None:
    """Note this process as a user; at exit the last user stops the server (``keep_running=False``)."""
    path = _handles(pgdata)
    pids = set(json.loads(path.read_text())) if path.exists() else set()
    if os.getpid() not in pids:
        path.write_text(json.dumps(sorted(pids | {os.getpid()})))
        atexit.register(_release, pgdata)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _release(pgdata: Path) -> None:
    with contextlib.suppress(Exception), _locked(pgdata):
        path = _handles(pgdata)
        pids = {p for p in (json.loads(path.read_text()) if path.exists() else []) if p != os.getpid() and _alive(p)}
        path.write_text(json.dumps(sorted(pids)))
        if not pids and _running(pgdata) is not None:
            _stop(pgdata)


def _database_url(running: _Running, database: str) -> str:
    url = sa.engine.URL.create("postgresql+psycopg2", username=SUPERUSER, database=database,
                               query={"host": str(running.socket_dir), "port": str(running.port)})
    return normalize_postgres_url(url.render_as_string(hide_password=False), variable="embedded")


def ensure_embedded_databases(pgdata: Path | None = None, *, keep_running: bool = True) -> EmbeddedDatabases:
    """Start (or reuse) the embedded server and create the app and Dagster databases if missing.

    ``keep_running=False`` stops the server when the last process using it exits (tests); the default
    leaves it up for the webserver, daemon and run workers that come and go.
    """
    pgdata = (pgdata or state_dir() / "pgdata").absolute()
    user = _server_user()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _locked(pgdata):
        _prepare_pgdata(pgdata, user)
        running = _running(pgdata)
        if running is not None and not _is_private(running.socket_dir, pgdata):
            log.warning("the embedded PostgreSQL in %s serves a socket directory others can enter (%s); restarting "
                        "it privately", pgdata, running.socket_dir)
            _stop(pgdata)
            running = None
        if running is None:
            running = _start(pgdata, user)
        if not keep_running:
            _register_user(pgdata)
    engine = sa.create_engine(_database_url(running, "postgres"), isolation_level="AUTOCOMMIT",
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            existing = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
            for name in (APP_DATABASE, DAGSTER_DATABASE):
                if name not in existing:
                    log.info("creating embedded database %s", name)
                    # another process created it meanwhile: PostgreSQL says DuplicateDatabase, or a unique
                    # violation on pg_database when both CREATEs ran at once (parallel test workers, fresh machine)
                    with contextlib.suppress(sa.exc.ProgrammingError, sa.exc.IntegrityError):
                        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return EmbeddedDatabases(app_url=_database_url(running, APP_DATABASE),
                             dagster_url=_database_url(running, DAGSTER_DATABASE), pgdata=pgdata)


def stop_embedded(pgdata: Path | None = None) -> bool:
    """Stop the embedded server if it is running; returns whether one was running."""
    pgdata = (pgdata or state_dir() / "pgdata").absolute()
    if not pgdata.exists():
        return False
    with _locked(pgdata):
        if _running(pgdata) is None:
            return False
        _stop(pgdata)
    time.sleep(0.1)
    return True
