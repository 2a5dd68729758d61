"""The catalogue job as it runs in production: its assets, job (the multiprocess executor: each step a process of
its own) and resources built from the environment as the definitions build them, the repo's dagster.yaml on
PostgreSQL (its pools: one step per pool at a time), the sandbox over real HTTP. Phase 2's two branches run at the same time (their steps' start/end events overlap: an ordering
fact from the event log, not a timing), and a failed branch leaves the other's data written."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.paths import PROJECT_ROOT
from y3d_pipeline.runlog.operations import operation_results

PRODUCTS, INVENTORY = "raw__shipstation_products", "raw__shipstation_inventory"
PHASE_1 = ["raw__shipstation_warehouses", "raw__shipstation_inventory_warehouses",
           "raw__shipstation_inventory_locations"]


def catalogue_job() -> dg.JobDefinition:
    """Rebuilt in every step's process from the environment (the sandbox's and the test database's): the job, its
    assets and the resources they use, without the rest of the code location (whose loading in each of the five
    step processes would triple the test's time; test_definitions holds the job in the full definitions)."""
    from y3d_pipeline.defs.automation.jobs import shipstation_catalogue
    from y3d_pipeline.defs.resources import DatabaseConnection, DatabaseResource
    from y3d_pipeline.defs.sources.shipstation.resources import shipstation_resource_from_env
    from y3d_pipeline.defs.sources.shipstation_catalogue import assets
    from y3d_pipeline.defs.sources.shipstation_catalogue.resources import shipstation_v2_resource_from_env

    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]), jobs=[shipstation_catalogue],
        resources={"shipstation": shipstation_resource_from_env(), "shipstation_v2": shipstation_v2_resource_from_env(),
                   "database": DatabaseResource(connection=DatabaseConnection.from_env())},
    ).resolve_job_def("shipstation_catalogue")


@pytest.fixture(scope="module")
def instance(database_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PG_URL", database_factory.create("y3d_dagster_catalogue"))
        with dg.DagsterInstance.from_config(str(PROJECT_ROOT)) as instance:
            yield instance


@pytest.fixture
def env(sandbox_env, app_db_url, clean_db, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", app_db_url)
    return sandbox_env


def run(instance) -> dg.DagsterRun:
    with dg.execute_job(dg.reconstructable(catalogue_job), instance=instance, raise_on_error=False) as result:
        return result.dagster_run


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def test_phase_2_runs_both_branches_at_once_after_phase_1_in_order(instance, env, fresh_sandbox, clean_db):
    # Each branch's first page takes 3 s at the sandbox, so two steps running at once must overlap.
    fresh_sandbox.set_faults("shipstation", "slow", count=1, match="/products", delay_ms=3000)
    fresh_sandbox.set_faults("shipstation_v2", "slow", count=1, match="/v2/inventory$", delay_ms=3000)
    dagster_run = run(instance)
    assert dagster_run.status == dg.DagsterRunStatus.SUCCESS
    steps = {r.step_key: r for r in operation_results(instance, dagster_run.run_id)}
    assert all(s.status == "success" for s in steps.values()), steps
    # Phase 1 in order: each step starts after the previous one ended.
    for before, after in zip(PHASE_1, PHASE_1[1:], strict=False):
        assert steps[before].ended_at <= steps[after].started_at
    products, inventory = steps[PRODUCTS], steps[INVENTORY]
    for branch in (products, inventory):
        assert branch.started_at >= steps[PHASE_1[-1]].ended_at
    # Concurrent: each branch started before the other ended.
    assert products.started_at < inventory.ended_at and inventory.started_at < products.ended_at
    overlap = min(products.ended_at, inventory.ended_at) - max(products.started_at, inventory.started_at)
    print(f"\nphase 2: products {products.started_at:%H:%M:%S.%f}..{products.ended_at:%H:%M:%S.%f} "
          f"({(products.ended_at - products.started_at).total_seconds():.2f} s, operation "
          f"{products.duration_seconds} s, {products.records} records); inventory "
          f"{inventory.started_at:%H:%M:%S.%f}..{inventory.ended_at:%H:%M:%S.%f} "
          f"({(inventory.ended_at - inventory.started_at).total_seconds():.2f} s, operation "
          f"{inventory.duration_seconds} s, {inventory.records} records); overlap {overlap.total_seconds():.2f} s")
    # Each operation's result is in the run (the sync_logs replacement).
    assert products.operation == "products" and products.records == count(clean_db, "products")
    assert inventory.operation == "inventory" and inventory.records == count(clean_db, "inventory_levels") > 0
    assert steps[PHASE_1[0]].records == 1 and count(clean_db, "warehouses") == 2
    assert count(clean_db, "inventory_locations") == 3
    [check] = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["raw", "shipstation_inventory"]), "stock_levels_possible")]).values()
    assert check.status.value == "SUCCEEDED"


def test_a_failed_branch_leaves_the_other_branchs_data_written(instance, env, fresh_sandbox, clean_db):
    # The account lacks the Inventory API add-on for /v2/inventory (403: no retry can fix it).
    fresh_sandbox.set_faults("shipstation_v2", "403", count=None, match="/v2/inventory$")
    dagster_run = run(instance)
    assert dagster_run.status == dg.DagsterRunStatus.FAILURE
    steps = {r.step_key: r for r in operation_results(instance, dagster_run.run_id)}
    assert steps[INVENTORY].status == "failure" and "HTTP 403" in steps[INVENTORY].error
    assert steps[INVENTORY].operation == "inventory" and steps[INVENTORY].records == 0
    assert steps[INVENTORY].attempts == 1  # a 403 is not retried
    assert steps[PRODUCTS].status == "success" and steps[PRODUCTS].records > 0
    assert count(clean_db, "inventory_levels") == 0
    assert count(clean_db, "products") == steps[PRODUCTS].records
