"""The inventory asset (in-process, sandbox over HTTP) and its stock check."""

from __future__ import annotations

import dagster as dg

from y3d_pipeline.defs.sources.shipstation_catalogue.assets import STOCK_CHECK, raw_shipstation_inventory
from y3d_pipeline_tests.resources import shipstation_v2_resource


def sync_inventory(sandbox, database_resource, instance, env=True) -> dg.ExecuteInProcessResult:
    return dg.materialize([raw_shipstation_inventory], instance=instance, resources={
        "shipstation_v2": shipstation_v2_resource(sandbox.env() if env else None),
        "database": database_resource})


def check_result(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == STOCK_CHECK
    return evaluation


def test_impossible_stock_fails_the_check_and_not_configured_passes_it(fresh_sandbox, database_resource,
                                                                        dagster_instance):
    result = sync_inventory(fresh_sandbox, database_resource, dagster_instance)
    assert check_result(result).passed
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["operation"].value == "inventory" and metadata["skus_none_available"].value == 3
    fresh_sandbox.state.catalogue.set_level("BLANK-KEYRING-40MM", "se-loc-1101", on_hand=5, available=8)
    fresh_sandbox.state.catalogue.set_level("Y3D-KEY-NAME-M", "se-loc-1101", on_hand=3, allocated=-1)
    failed = check_result(sync_inventory(fresh_sandbox, database_resource, dagster_instance))
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
    found = {(level["sku"], level["problem"]) for level in failed.metadata["levels"].value}
    assert found == {("BLANK-KEYRING-40MM", "available exceeds on hand"), ("Y3D-KEY-NAME-M", "negative quantity")}
    unconfigured = sync_inventory(fresh_sandbox, database_resource, dagster_instance, env=False)
    assert check_result(unconfigured).passed
    assert unconfigured.get_asset_materialization_events()[0].materialization.metadata["configured"].value is False
