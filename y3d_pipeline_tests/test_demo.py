"""The demo's runs (``y3d demo`` without the UI): every source from a sandbox whose data ends today, Amazon
through SP-API Orders v2026-01-01 with its Amazon Custom URLs, into real PostgreSQL."""

from __future__ import annotations

import os

import sqlalchemy as sa

from y3d_pipeline import demo


def test_demo_runs_amazon_orders_and_custom_urls_through_v2026(app_db_url, clean_db, tmp_path):
    with demo._sandbox({}) as sandbox_env:
        env = {**os.environ, **sandbox_env, "DATABASE_URL": app_db_url, "DAGSTER_HOME": str(tmp_path)}
        env.pop("AMAZON_ORDERS_API_VERSION", None)  # the default
        with demo._temporary_environ(env):
            run_ids = demo.materialize_recent(1)
    assert len(run_ids) == 3  # reference assets, the catalogue's phase graph, the daily partitions
    with clean_db.connect() as conn:
        versions = dict(conn.execute(sa.text(
            "SELECT api_version, count(*) FROM raw_amazon_orders GROUP BY 1")).all())
        custom = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM amazon_customizations GROUP BY 1")).all())
        from_sp_api = conn.execute(sa.text("""
            SELECT count(*) FROM raw_amazon_orders r, jsonb_array_elements(r.payload->'orderItems') i
            WHERE i->'product'->'customization'->>'customizedUrl' IS NOT NULL""")).scalar()
        amazon_orders = conn.execute(sa.text(
            "SELECT count(*) FROM orders WHERE marketplace = 'amazon' AND amazon_order_id IS NOT NULL")).scalar()
        stock = conn.execute(sa.text("SELECT count(*) FROM inventory_levels")).scalar()
        sold_out_tasks = conn.execute(sa.text(
            "SELECT count(*) FROM print_tasks WHERE review_reason LIKE '%No blanks in stock%'")).scalar()
    assert set(versions) == {"2026-01-01"} and versions["2026-01-01"] > 0
    assert from_sp_api > 0 and custom.get("processed", 0) >= from_sp_api and set(custom) == {"processed"}
    assert amazon_orders > 0
    assert stock > 0 and sold_out_tasks >= 0  # the catalogue ran before the print tasks (which read the stock)
