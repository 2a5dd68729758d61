"""The shop's daily partitions: one per calendar day in ``Y3D_TIMEZONE``, today included."""

from zoneinfo import ZoneInfo

import dagster as dg

from y3d_pipeline.settings import load_settings

_settings = load_settings()

# end_offset=1 makes today's (still open) day a partition, so the 10-minute schedule can sync it.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.Y3D_START_DATE.isoformat(),
    timezone=_settings.Y3D_TIMEZONE,
    end_offset=1,
)
# The shop's calendar: what a day, a window's local times and a quarantine row's partition are read in.
SHOP_TIMEZONE = ZoneInfo(daily_partitions.timezone)


def partition_label(context: dg.AssetExecutionContext) -> str:
    """The run's partition (``2026-03-12``) or range (``2026-03-01..2026-03-31``): what quarantine rows record."""
    keys = context.partition_key_range
    return keys.start if keys.start == keys.end else f"{keys.start}..{keys.end}"
