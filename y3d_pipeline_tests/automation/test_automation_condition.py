"""The automation condition recommended for normalized/* and print_queue/print_tasks (owned by other modules):
a raw refresh of today's partition flows downstream, even when an optional source (not configured) or a
non-partitioned reference asset was never materialized; a backfill of old partitions does not chain."""

import dagster as dg

from y3d_pipeline.defs.conditions import follows_upstream

parts = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="Europe/London", end_offset=1)
CONDITION = follows_upstream(dg.AssetKey("tags"), dg.AssetKey("shopify_raw"))


@dg.asset(partitions_def=parts)
def raw() -> None:
    return None


@dg.asset(partitions_def=parts)
def shopify_raw() -> None:
    return None


@dg.asset
def tags() -> None:
    return None


@dg.asset(partitions_def=parts, deps=[raw, shopify_raw, tags], automation_condition=CONDITION)
def normalized() -> None:
    return None


def _requested(instance, cursor=None):
    result = dg.evaluate_automation_conditions(defs=[raw, shopify_raw, tags, normalized], instance=instance,
                                               cursor=cursor)
    keys = {k.partition_key for r in result.results if r.key == dg.AssetKey("normalized")
            for k in r.true_subset.expensively_compute_asset_partitions()}
    return keys, result.cursor


def test_today_flows_and_backfills_do_not_chain():
    today = parts.get_last_partition_key()
    with dg.DagsterInstance.ephemeral() as instance:
        keys, cursor = _requested(instance)
        assert keys == set()  # raw (required) is missing: wait
        # A backfill of old raw partitions: normalized is not requested for them.
        dg.materialize([raw], instance=instance, partition_key="2026-03-08")
        keys, cursor = _requested(instance, cursor)
        assert keys == set()
        # Today's raw partition refreshed (tags and the unconfigured source never materialized): today follows.
        dg.materialize([raw], instance=instance, partition_key=today)
        keys, cursor = _requested(instance, cursor)
        assert keys == {today}
        dg.materialize([normalized], instance=instance, partition_key=today)
        keys, cursor = _requested(instance, cursor)
        assert keys == set()
        # An update of the optional source still triggers.
        dg.materialize([shopify_raw], instance=instance, partition_key=today)
        keys, cursor = _requested(instance, cursor)
        assert keys == {today}
