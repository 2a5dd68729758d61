"""Pytest fixtures for the local API sandbox.

* `sandbox` (session): one server for the whole run, small but varied data (21 days to 2026-03-20,
  spanning the US DST change on 2026-03-08), rate limits scaled x1000 so ordinary tests never wait,
  and a clock standing still at 2026-03-21T00:00:00Z. Nothing resets it automatically: tests that
  change state should use `fresh_sandbox`.
* `fresh_sandbox`: the same server, reset (data, clock, faults, rate scale, tokens, stats) before
  and after the test.
* `sandbox_env`: `fresh_sandbox`'s environment variables applied to os.environ for the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from y3d_pipeline.sandbox.options import SandboxOptions
from y3d_pipeline.sandbox.server import SandboxServer

TEST_SANDBOX_OPTIONS = SandboxOptions(seed=7, days=21, orders_per_day=40, end_date=date(2026, 3, 20),
                                      rate_limit_scale=1000.0)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(TEST_SANDBOX_OPTIONS, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def fresh_sandbox(sandbox: SandboxServer) -> Iterator[SandboxServer]:
    sandbox.reset()
    yield sandbox
    sandbox.reset()


@pytest.fixture
def sandbox_env(fresh_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = fresh_sandbox.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
