"""Declarative automation shared by downstream assets."""

import dagster as dg


def follows_upstream(*optional_deps: dg.AssetKey) -> dg.AutomationCondition:
    """Materialize today's partition when an upstream updates (``eager``), without waiting for upstreams
    that may never materialize: unconfigured sources and non-partitioned reference data. ``eager`` only
    acts on the latest time partition, so backfills of old days never chain downstream through it."""
    return dg.AutomationCondition.eager().replace(
        "any_deps_missing",
        dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(*optional_deps)),
    )
