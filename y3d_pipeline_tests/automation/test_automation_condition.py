"""The automation condition recommended for normalized/* and print_queue/print_tasks (owned by other modules):
a raw refresh of today's partition flows downstream; a backfill of old partitions does not chain."""


import dagster as dg

parts = dg.DailyPartitionsDefinition(start_date="2026-01-01", timezone="Europe/London", end_offset=1)
CONDITION = dg.AutomationCondition.eager().ignore(dg.AssetSelection.assets("tags"))


@dg.asset(partitions_def=parts)
def raw() -> None:
    return None


@dg.asset
def tags() -> None:
    return None


@dg.asset(partitions_def=parts, deps=[raw, tags], automation_condition=CONDITION)
def normalized() -> None:
    return None


def _requested(instance, cursor=None):
    result = dg.evaluate_automation_conditions(defs=[raw, tags, normalized], instance=instance, cursor=cursor)
    keys = {k.partition_key for r in result.results if r.key == dg.AssetKey("normalized")
            for k in r.true_subset.expensively_compute_asset_partitions()}
    return keys, result.cursor


def test_today_flows_and_backfills_do_not_chain():
    today = parts.get_last_partition_key()
    with dg.DagsterInstance.ephemeral() as instance:
        keys, cursor = _requested(instance)
        assert keys == set()
        # A backfill of old raw partitions: normalized is not requested for them.
        dg.materialize([raw], instance=instance, partition_key="2026-03-08")
        keys, cursor = _requested(instance, cursor)
        assert keys == set()
        # Today's raw partition refreshed (tags never materialized: ignored): today's normalized follows.
        dg.materialize([raw], instance=instance, partition_key=today)
        keys, cursor = _requested(instance, cursor)
        assert keys == {today}
