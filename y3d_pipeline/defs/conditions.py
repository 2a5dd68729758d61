"""Declarative automation shared by downstream assets."""

from collections.abc import Sequence

import dagster as dg


def follows_upstream(*optional_deps: dg.AssetKey, not_triggering: Sequence[dg.AssetKey] = ()) -> dg.AutomationCondition:
    """Materialize today's partition when an upstream updates (``eager``), without waiting for upstreams
    that may never materialize: unconfigured sources and non-partitioned reference data. ``eager`` only
    acts on the latest time partition, so backfills of old days never chain downstream through it.

    ``not_triggering``: upstreams that write the same table rather than feed this asset (shipments fill
    orders, Shopify's catalogue fills products): an update of theirs needs no run of this one."""
    condition = dg.AutomationCondition.eager().replace(
        "any_deps_missing",
        dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(*optional_deps)),
    )
    if not_triggering:
        condition = condition.replace(
            "any_deps_updated",
            dg.AutomationCondition.any_deps_updated().ignore(dg.AssetSelection.assets(*not_triggering)),
        )
    return condition


def after_upstream_runs_without_it(*cron_backups: str) -> dg.AutomationCondition:
    """For a small non-partitioned asset that the sync jobs already run after its upstream: requested only when
    an upstream updated in a run that did not also update it (a manual materialization, a backfill), or on
    the backup cron ticks. ``since_last_handled`` is what keeps a sync run that updated both from launching a
    second run for it (the soak measured one such extra run per sync)."""
    condition = dg.AutomationCondition.any_deps_updated().since_last_handled()
    for cron in cron_backups:
        condition = condition | dg.AutomationCondition.cron_tick_passed(cron)
    return condition & ~dg.AutomationCondition.in_progress()
