"""Fixtures for ShipStation tests: the resource pointed at the sandbox, materialize helpers, table snapshots."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.defs.normalized.assets import normalize_orders
from y3d_pipeline.defs.sources.shipstation.assets import (
    raw_shipstation_orders,
    raw_shipstation_shipments,
    raw_shipstation_stores,
    raw_shipstation_tags,
)
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline_tests.resources import shipstation_resource as sandbox_shipstation_resource

ORDER_ASSETS = [raw_shipstation_orders, normalize_orders]
ALL_ASSETS = [raw_shipstation_tags, raw_shipstation_stores, raw_shipstation_orders, raw_shipstation_shipments,
              normalize_orders]


@pytest.fixture
def shipstation_resource(fresh_sandbox) -> ShipStationResource:
    env = fresh_sandbox.env()
    return sandbox_shipstation_resource(env, initial_backoff_seconds=0.05)


@pytest.fixture
def resources(shipstation_resource, database_resource) -> dict:
    return {"shipstation": shipstation_resource, "database": database_resource}


@pytest.fixture
def run_partition(resources, dagster_instance):
    def run(partition_key: str, assets=None) -> dg.ExecuteInProcessResult:
        result = dg.materialize(assets or ORDER_ASSETS, resources=resources, partition_key=partition_key,
                                instance=dagster_instance)
        assert result.success
        return result

    return run


def materialization_metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == key:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


TABLES = ("customers", "products", "orders", "order_items", "order_tags", "tags", "stores")


def snapshot(engine: sa.Engine, tables=TABLES) -> dict[str, set[tuple]]:
    """Full row sets of the normalized tables (every column, ids and timestamps included)."""
    out = {}
    with engine.connect() as conn:
        for table in tables:
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()  # noqa: S608 - fixed table names
            out[table] = {tuple(_hashable(v) for v in row) for row in rows}
    return out


def content_snapshot(engine: sa.Engine) -> dict[str, set[tuple]]:
    """Row sets by natural keys, surrogate ids and bookkeeping timestamps left out (for comparing runs
    that may insert in a different order)."""
    queries = {
        "customers": "SELECT customer_key, shipstation_customer_id, email, name, username, phone, street1, city, "
                     "postal_code, country_code FROM customers",
        "products": "SELECT sku, shipstation_product_id, name, name_is_placeholder, image_url, weight_value, "
                    "source_modified_at FROM products",
        "orders": "SELECT o.shipstation_order_id, o.marketplace, o.order_number, o.order_key, o.status, "
                  "o.order_date, o.payment_date, o.modified_at, o.ship_by_date, o.customer_name, o.customer_email, "
                  "o.order_total, o.ship_to::text, o.merged_or_split, o.parent_shipstation_order_id, "
                  "o.merged_shipstation_order_ids::text, o.sources::text, c.customer_key "
                  "FROM orders o LEFT JOIN customers c ON c.id = o.customer_id",
        "order_items": "SELECT i.shipstation_order_item_id, o.shipstation_order_id, i.line_item_key, i.position, "
                       "i.sku, i.name, p.sku, i.quantity, i.unit_price, i.options::text FROM order_items i "
                       "JOIN orders o ON o.id = i.order_id LEFT JOIN products p ON p.id = i.product_id",
        "order_tags": "SELECT o.shipstation_order_id, t.shipstation_tag_id FROM order_tags ot "
                      "JOIN orders o ON o.id = ot.order_id JOIN tags t ON t.id = ot.tag_id",
        "normalization_failures": "SELECT source, source_id, reason, resolved_at IS NULL "
                                  "FROM normalization_failures",
    }
    out = {}
    with engine.connect() as conn:
        for name, query in queries.items():
            out[name] = {tuple(_hashable(v) for v in row) for row in conn.execute(sa.text(query)).all()}
    return out


def _hashable(value):
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True)
    return value
