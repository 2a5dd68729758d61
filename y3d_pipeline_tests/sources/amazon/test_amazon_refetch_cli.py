"""``y3d amazon refetch``: single orders fetched again with getOrder land in raw_amazon_orders."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa

from y3d_pipeline.db.models import RawAmazonOrder


def _refetch(env: dict[str, str], app_db_url: str, *order_ids: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "y3d_pipeline.cli", "amazon", "refetch", *order_ids, "--json"],
                          capture_output=True, text=True, timeout=120,
                          env={**env, "DATABASE_URL": app_db_url, "PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def test_refetch_stores_the_order_and_names_its_partition(fresh_sandbox, clean_db, app_db_url) -> None:
    order_id = fresh_sandbox.truth(marketplace="amazon", visible_only=True)[-1]["amazon_order_id"]
    done = _refetch(fresh_sandbox.env(), app_db_url, order_id, "206-0000000-0000000")
    assert done.returncode == 1, done.stderr  # one order Amazon does not know
    assert done.stdout.startswith("["), done.stderr[-3000:]
    outcomes = {o["amazon_order_id"]: o for o in json.loads(done.stdout)}
    assert outcomes[order_id]["outcome"] == "fetched" and outcomes[order_id]["partition"].startswith("2026-")
    assert outcomes["206-0000000-0000000"]["outcome"] == "not found at Amazon"
    raw = RawAmazonOrder.__table__
    with clean_db.connect() as conn:
        row = conn.execute(sa.select(raw.c.api_version, raw.c.payload).where(raw.c.amazon_order_id == order_id)).one()
    assert row.api_version == "2026-01-01" and row.payload["orderId"] == order_id and row.payload["orderItems"]
    again = _refetch(fresh_sandbox.env(), app_db_url, order_id)
    assert again.returncode == 0 and json.loads(again.stdout)[0]["outcome"] == "fetched"
    with clean_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(raw)).scalar_one() == 1


def test_refetch_refuses_what_is_not_an_amazon_order_id_and_an_unconfigured_source(fresh_sandbox, app_db_url) -> None:
    bad = _refetch(fresh_sandbox.env(), app_db_url, "114-1234567-1234567", "../../etc/passwd")
    assert bad.returncode == 2 and "../../etc/passwd" in bad.stdout
    unconfigured = {k: v for k, v in fresh_sandbox.env().items() if not k.startswith("AMAZON_LWA_CLIENT_SECRET")}
    done = _refetch(unconfigured, app_db_url, "114-1234567-1234567")
    assert done.returncode == 2 and "AMAZON_LWA_CLIENT_SECRET" in done.stdout
