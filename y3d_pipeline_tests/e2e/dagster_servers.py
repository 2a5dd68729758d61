"""Start the real `dagster-webserver` and `dagster-daemon` (workspace.yaml) on loopback, for end-to-end tests.

`DagsterServers(home, env).start()` runs both as subprocesses (own process groups, cwd = repo root, logs in
`home`), waits for GET /server_info, and `.stop()` kills both process groups (code servers and run workers
included). `prepare_dagster_home(tmp, ...)` writes a copy of the repository's dagster.yaml whose
artifact and compute-log directories point into the temporary home instead of the checkout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_dagster_home(home: Path) -> Path:
    """`home`/dagster.yaml = the repo's dagster.yaml with absolute, temporary artifact/log directories.

    The repo's paths (.y3d/dagster) are relative to the process's cwd, which is the repo root for the
    servers; left as they are, the test would write into the checkout's shared state directory.
    """
    home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    config["local_artifact_storage"]["config"]["base_dir"] = str(home / "storage")
    config["compute_logs"]["config"]["base_dir"] = str(home / "compute_logs")
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class DagsterServers:
    def __init__(self, home: Path, env: Mapping[str, str], port: int | None = None):
        self.home = home
        self.env = dict(env)
        self.port = port or free_port()
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            args, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def start(self, timeout: float = 120) -> DagsterServers:
        self._spawn("webserver", [str(BIN_DIR / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port),
                                  "-w", "workspace.yaml"])
        self._spawn("daemon", [str(BIN_DIR / "dagster-daemon"), "run", "-w", "workspace.yaml"])
        wait_until(self._ready, timeout=timeout, what=f"dagster-webserver on {self.url}\n{self.logs()}")
        return self

    def _ready(self) -> bool:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}\n{self.logs()}")
        try:
            return httpx.get(f"{self.url}/server_info", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self, tail: int = 4000) -> str:
        out = []
        for name in self.processes:
            path = self.home / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            out.append(f"--- {name}.log (tail)\n{text[-tail:]}")
        return "\n".join(out)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                              timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Whatever is left of the group (code servers, run workers) goes too.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
