"""``reports/ai_usage``: the daily AI usage report (thin wrapper over ``y3d_pipeline.reports.ai_usage``)."""

import datetime as dt
import math

import dagster as dg

from y3d_pipeline.defs.constants import AI_USAGE_REPORT, GROUP_REPORTS, PRINT_TASKS
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE
from y3d_pipeline.defs.resources import DatabaseResource
from y3d_pipeline.reports.ai_usage import PRICES_PER_MILLION_TOKENS, ai_usage_report


class AiUsageConfig(dg.Config):
    """Which shop-calendar days the report covers."""

    day: str | None = None
    """Last day reported (YYYY-MM-DD in Y3D_TIMEZONE). Default: yesterday."""
    days: int = 1
    """How many days, ending with ``day``."""


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def _table(frame, types: dict[str, str]) -> dg.MetadataValue:
    columns = [dg.TableColumn(name, types.get(name, "string")) for name in frame.columns]
    records = [dg.TableRecord({k: _clean(v) for k, v in row.items()}) for row in frame.to_dict("records")]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=columns))


@dg.asset(
    key=AI_USAGE_REPORT,
    deps=[PRINT_TASKS],  # reads ai_calls, which print tasks write
    group_name=GROUP_REPORTS,
    kinds={"postgres", "pandas"},
    description=(
        "Daily AI usage from ai_calls for the previous shop-calendar day: calls, success rate, tasks created, "
        "review rate, latency, tokens and estimated cost (documented per-model price table) by model and "
        "marketplace, and the top errors. Replaces the legacy ai-usage-stats cron report."
    ),
)
def ai_usage(context: dg.AssetExecutionContext, config: AiUsageConfig,
             database: DatabaseResource) -> dg.MaterializeResult:
    day = (dt.date.fromisoformat(config.day) if config.day
           else dt.datetime.now(SHOP_TIMEZONE).date() - dt.timedelta(days=1))
    report = ai_usage_report(database.engine, day, SHOP_TIMEZONE, days=max(config.days, 1))
    summary = {k: _clean(v) for k, v in report.summary.items()}
    context.log.info(f"AI usage {day} ({config.days} day(s)): {summary}")
    metadata = {
        "day": day.isoformat(),
        "days": config.days,
        "window": f"{report.start.isoformat()} → {report.end.isoformat()}",
        "dagster/row_count": summary["calls"],
        **{k: (v if v is not None else "-") for k, v in summary.items()},
        "by_model": _table(report.by_model, {"calls": "int", "successful": "int", "tasks_created": "int",
                                             "review_count": "int", "tokens_in": "int", "tokens_out": "int",
                                             "success_rate": "float", "review_rate": "float",
                                             "latency_ms_mean": "float", "latency_ms_p95": "float",
                                             "estimated_cost_usd": "float"}),
        "by_marketplace": _table(report.by_marketplace, {"calls": "int"}),
        "top_errors": _table(report.top_errors, {"count": "int"}),
        "unpriced_models": dg.MetadataValue.json(report.unpriced_models),
        "price_table_usd_per_1m_tokens": dg.MetadataValue.json(
            {m: {"input": p[0], "output": p[1]} for m, p in PRICES_PER_MILLION_TOKENS.items()}),
        "report": dg.MetadataValue.md(report.markdown(SHOP_TIMEZONE)),
    }
    return dg.MaterializeResult(metadata=metadata)
