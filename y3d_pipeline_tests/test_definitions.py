"""The code location loads, and every asset that exists matches the public contract."""

from __future__ import annotations

import dagster as dg
import pytest

from y3d_pipeline.definitions import defs as load_defs

DAILY = "daily"
NONE = None

# Contract (../shared/contract.md, and the README's additions): asset key -> (partitioning, upstream keys it must
# depend on: the lineage tells the truth about who feeds whom).
CONTRACT: dict[str, tuple[str | None, set[str]]] = {
    "raw/shipstation_orders": (DAILY, set()),
    "raw/shopify_orders": (DAILY, set()),
    "raw/amazon_orders": (DAILY, set()),
    "raw/amazon_customizations": (DAILY, {"raw/amazon_orders", "raw/shipstation_orders", "normalized/order_items"}),
    "raw/shipstation_shipments": (DAILY, set()),
    "normalized/customers": (DAILY, {"raw/shipstation_orders"}),
    "normalized/products": (DAILY, {"raw/shipstation_orders", "raw/shopify_products"}),
    "normalized/orders": (DAILY, {"raw/shipstation_orders", "raw/shipstation_shipments", "raw/shipstation_stores",
                                  "raw/shipstation_tags"}),
    "normalized/order_items": (DAILY, {"raw/shipstation_orders"}),
    "normalized/reconciliation": (DAILY, {"normalized/orders", "normalized/order_items", "raw/shopify_orders",
                                          "raw/amazon_orders"}),
    "print_queue/print_tasks": (DAILY, {"normalized/order_items", "normalized/reconciliation",
                                        "raw/amazon_customizations"}),
    "raw/shipstation_tags": (NONE, set()),
    "raw/shipstation_stores": (NONE, set()),
    "raw/shopify_products": (NONE, set()),
    "print_queue/shipstation_writeback": (NONE, {"print_queue/print_tasks"}),
    "print_queue/task_status_sync": (NONE, {"normalized/orders", "normalized/reconciliation"}),
    "reports/ai_usage": (NONE, {"print_queue/print_tasks"}),
    # additions since the contract (README): the nightly retention, its sizes as metadata
    "maintenance/retention": (NONE, set()),
    # the ShipStation catalogue and stock (issue 17): phase 1 in order, phase 2 downstream of all of phase 1
    "raw/shipstation_warehouses": (NONE, set()),
    "raw/shipstation_inventory_warehouses": (NONE, {"raw/shipstation_warehouses"}),
    "raw/shipstation_inventory_locations": (NONE, {"raw/shipstation_inventory_warehouses"}),
    "raw/shipstation_products": (NONE, {"raw/shipstation_inventory_locations"}),
    "raw/shipstation_inventory": (NONE, {"raw/shipstation_inventory_locations"}),
}
PARALLEL_JOBS = {"shipstation_catalogue"}  # its phase 2 runs two steps at once


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return load_defs()


@pytest.fixture(scope="module")
def asset_graph(definitions):
    return definitions.resolve_asset_graph()


def test_definitions_load(definitions):
    dg.Definitions.validate_loadable(definitions)
    assert "database" in definitions.resources


def test_every_asset_key_is_in_the_contract(asset_graph):
    keys = {key.to_user_string() for key in asset_graph.materializable_asset_keys}
    unknown = keys - set(CONTRACT)
    assert not unknown, f"assets not in the contract (add them to contract.md and CONTRACT): {unknown}"


@pytest.mark.parametrize("key", sorted(CONTRACT))
def test_asset_matches_contract(asset_graph, key):
    asset_key = dg.AssetKey.from_user_string(key)
    assert asset_key in asset_graph.materializable_asset_keys, f"{key} is missing"
    node = asset_graph.get(asset_key)
    partitioning, required_deps = CONTRACT[key]
    if partitioning == DAILY:
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), f"{key} must be daily-partitioned"
        assert node.partitions_def.timezone == "Europe/London"
    else:
        assert node.partitions_def is None, f"{key} must not be partitioned"
    actual_deps = {k.to_user_string() for k in node.parent_keys}
    missing = required_deps - actual_deps
    assert not missing, f"{key} should depend on {missing}"
    assert node.group_name and node.group_name != "default", f"{key} needs a group"
    assert node.description, f"{key} needs a description for the UI"


def test_partitioned_assets_backfill_in_one_run(asset_graph):
    for key in asset_graph.materializable_asset_keys:
        node = asset_graph.get(key)
        if node.partitions_def is not None:
            policy = node.backfill_policy
            assert policy is not None and policy.max_partitions_per_run is None, f"{key}: single-run backfill"


def test_jobs_use_in_process_executor(definitions):
    for job in definitions.resolve_all_job_defs():
        if job.name not in PARALLEL_JOBS:
            assert job.executor_def.name == dg.in_process_executor.name, job.name


def test_the_catalogue_job_runs_phase_2_in_parallel_with_a_pool_per_api(definitions, asset_graph):
    job = definitions.resolve_job_def("shipstation_catalogue")
    assert job.executor_def.name == "catalogue_multiprocess"  # the multiprocess executor, max_concurrent 2
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert keys == {k for k in CONTRACT if k.startswith("raw/shipstation_") and k.split("_", 1)[1] in (
        "warehouses", "inventory_warehouses", "inventory_locations", "products", "inventory")}
    products, inventory = (asset_graph.get(dg.AssetKey.from_user_string(f"raw/shipstation_{name}"))
                           for name in ("products", "inventory"))
    assert (set(products.pools), set(inventory.pools)) == ({"shipstation"}, {"shipstation_v2"})
    assert products.key not in inventory.parent_keys and inventory.key not in products.parent_keys
