"""Run tags: the one home of their names and of the outcome values (what ``y3d runs``, the UI's run filters,
the alerts, retention and dagster.yaml's run queue read)."""

from __future__ import annotations

TAG_SOURCE = "y3d/source"  # the source a run syncs; dagster.yaml admits one concurrent run per value
TAG_OUTCOME = "y3d/outcome"  # an Outcome: set by the asset that knows, else by the outcome sensors
TAG_WINDOW = "y3d/window"  # the partition a schedule or sensor asked for
TAG_TRIGGER = "y3d/trigger"  # a run a y3d command started itself (demo, backfill)
# Dagster's own
TAG_PARTITION = "dagster/partition"
TAG_RANGE_START = "dagster/asset_partition_range_start"
TAG_RANGE_END = "dagster/asset_partition_range_end"


class Outcome:
    """The values of a run's ``y3d/outcome``: the legacy ScriptRunLog statuses read from Dagster's run storage.
    Plain strings (a tag value and metadata must be ``str``; Dagster does not serialize our enums)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL_SUCCESS = "partial_success"  # some orders failed, or records were quarantined
    SUCCESS_NO_ORDERS = "success_no_orders"  # nothing new, changed or created
    FAILED = "failed"
    CANCELED = "canceled"
    ALL = (QUEUED, RUNNING, SUCCESS, PARTIAL_SUCCESS, SUCCESS_NO_ORDERS, FAILED, CANCELED)


# Runs whose outcome a person should look at (kept longer by retention).
ATTENTION_OUTCOMES = frozenset({Outcome.FAILED, Outcome.PARTIAL_SUCCESS, Outcome.CANCELED})
