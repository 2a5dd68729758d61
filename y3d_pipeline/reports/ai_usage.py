"""Daily AI usage from ``ai_calls``: calls, success rate, tasks, review rate, latency, tokens and cost.

The successor of the legacy ``ai-usage-stats.ts`` (which reported yesterday in UTC): here the day is the
shop's calendar day (``Y3D_TIMEZONE``). Cost is an *estimate* from :data:`PRICES_PER_MILLION_TOKENS`
(USD per 1M input/output tokens, OpenAI list prices for standard processing); a model not in the table is
reported with an unknown cost rather than a wrong one. Update the table when prices or models change.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from y3d_pipeline.db.models import AiCall

# model (or model-family prefix) -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES_PER_MILLION_TOKENS: dict[str, tuple[float, float]] = {
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}
TOP_ERRORS = 5


def price_for(model: str, prices: dict[str, tuple[float, float]] = PRICES_PER_MILLION_TOKENS):
    """Exact match, else the longest known prefix (dated snapshots like ``gpt-4.1-mini-2025-04-14``)."""
    if model in prices:
        return prices[model]
    candidates = [name for name in prices if model.startswith(name + "-")]
    return prices[max(candidates, key=len)] if candidates else None


def day_window(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[00:00, next 00:00) of ``day`` in the shop's timezone, as aware UTC datetimes (23 h or 25 h on DST days)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def load_calls(engine: sa.Engine, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    t = AiCall.__table__
    query = (sa.select(t.c.model, t.c.marketplace, t.c.success, t.c.error, t.c.tasks_created, t.c.review_count,
                       t.c.latency_ms, t.c.tokens_in, t.c.tokens_out, t.c.created_at)
             .where(t.c.created_at >= start, t.c.created_at < end))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    columns = ["model", "marketplace", "success", "error", "tasks_created", "review_count", "latency_ms",
               "tokens_in", "tokens_out", "created_at"]
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


@dataclass
class AiUsageReport:
    start: dt.datetime
    end: dt.datetime
    summary: dict[str, float | int | None]
    by_model: pd.DataFrame
    by_marketplace: pd.DataFrame
    top_errors: pd.DataFrame
    unpriced_models: list[str] = field(default_factory=list)

    def markdown(self, tz: ZoneInfo | None = None) -> str:
        s = self.summary
        tz = tz or ZoneInfo("UTC")
        lines = [
            f"**AI usage {self.start.astimezone(tz):%Y-%m-%d %H:%M} → {self.end.astimezone(tz):%Y-%m-%d %H:%M} "
            f"({tz.key})**",
            "",
            f"* calls: {s['calls']} (successful {s['successful']}, failed {s['failed']}, "
            f"success rate {_pct(s['success_rate'])})",
            f"* tasks created: {s['tasks_created']}, flagged for review: {s['review_count']} "
            f"(review rate {_pct(s['review_rate'])})",
            f"* latency: mean {_num(s['latency_ms_mean'])} ms, p95 {_num(s['latency_ms_p95'])} ms",
            f"* tokens: {s['tokens_in']} in / {s['tokens_out']} out; estimated cost ${_money(s['estimated_cost_usd'])}",
        ]
        if self.unpriced_models:
            lines.append(f"* no price known for: {', '.join(self.unpriced_models)} (not in the cost estimate)")
        lines += ["", "| model | calls | success | tasks | review | mean ms | tokens in | tokens out | est. $ |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in self.by_model.to_dict("records"):
            lines.append(f"| {r['model']} | {r['calls']} | {_pct(r['success_rate'])} | {r['tasks_created']} | "
                         f"{_pct(r['review_rate'])} | {_num(r['latency_ms_mean'])} | {r['tokens_in']} | "
                         f"{r['tokens_out']} | {_money(r['estimated_cost_usd'])} |")
        if not self.top_errors.empty:
            lines += ["", "| top errors | count |", "|---|---|"]
            for r in self.top_errors.to_dict("records"):
                lines.append(f"| {str(r['error']).replace('|', '/')[:200]} | {r['count']} |")
        return "\n".join(lines)


def _none_if_nan(value):
    if value is None:
        return None
    try:
        return None if math.isnan(value) else value
    except TypeError:
        return value


def _pct(value) -> str:
    return "-" if _none_if_nan(value) is None else f"{value * 100:.1f}%"


def _num(value) -> str:
    return "-" if _none_if_nan(value) is None else f"{value:.0f}"


def _money(value) -> str:
    return "?" if _none_if_nan(value) is None else f"{value:.4f}"


def _cost(row, prices) -> float | None:
    price = price_for(row["model"], prices)
    if price is None:
        return None
    return (row["tokens_in"] * price[0] + row["tokens_out"] * price[1]) / 1_000_000


def build_report(calls: pd.DataFrame, start: dt.datetime, end: dt.datetime,
                 prices: dict[str, tuple[float, float]] = PRICES_PER_MILLION_TOKENS) -> AiUsageReport:
    """Tasks and review counts are summed over successful calls only (as the legacy report did);
    review rate = tasks flagged for review / tasks created."""
    df = calls.copy()
    for column in ("tokens_in", "tokens_out", "tasks_created", "review_count"):
        df[column] = pd.to_numeric(df[column], errors="coerce").fillna(0).astype(int)
    df["latency_ms"] = pd.to_numeric(df["latency_ms"], errors="coerce")
    df["success"] = df["success"].astype(bool)
    df["ok_tasks"] = df["tasks_created"].where(df["success"], 0)
    df["ok_review"] = df["review_count"].where(df["success"], 0)
    df["cost"] = df.apply(lambda r: _cost(r, prices), axis=1) if len(df) else pd.Series(dtype=float)

    by_model = (df.groupby("model", sort=True)
                .agg(calls=("success", "size"), successful=("success", "sum"), tasks_created=("ok_tasks", "sum"),
                     review_count=("ok_review", "sum"), latency_ms_mean=("latency_ms", "mean"),
                     latency_ms_p95=("latency_ms", lambda s: s.quantile(0.95)), tokens_in=("tokens_in", "sum"),
                     tokens_out=("tokens_out", "sum"), estimated_cost_usd=("cost", lambda s: s.sum(min_count=1)))
                .reset_index())
    by_model["successful"] = by_model["successful"].astype(int)
    by_model["success_rate"] = by_model["successful"] / by_model["calls"]
    by_model["review_rate"] = (by_model["review_count"] / by_model["tasks_created"]).where(
        by_model["tasks_created"] > 0)
    unpriced = sorted({m for m in df["model"].unique() if price_for(m, prices) is None})
    by_model.loc[by_model["model"].isin(unpriced), "estimated_cost_usd"] = float("nan")
    by_model = by_model[["model", "calls", "successful", "success_rate", "tasks_created", "review_count",
                         "review_rate", "latency_ms_mean", "latency_ms_p95", "tokens_in", "tokens_out",
                         "estimated_cost_usd"]].sort_values(["calls", "model"], ascending=[False, True])

    by_marketplace = (df.assign(marketplace=df["marketplace"].fillna("unknown"))
                      .groupby("marketplace").size().rename("calls").reset_index()
                      .sort_values(["calls", "marketplace"], ascending=[False, True]))
    errors = df.loc[~df["success"], "error"].fillna("(no message)")
    top_errors = (errors.value_counts().rename_axis("error").rename("count").reset_index()
                  .sort_values(["count", "error"], ascending=[False, True]).head(TOP_ERRORS))

    calls_n = int(len(df))
    successful = int(df["success"].sum())
    tasks = int(df["ok_tasks"].sum())
    review = int(df["ok_review"].sum())
    priced_cost = df.loc[~df["model"].isin(unpriced), "cost"]
    summary = {
        "calls": calls_n,
        "successful": successful,
        "failed": calls_n - successful,
        "success_rate": successful / calls_n if calls_n else None,
        "tasks_created": tasks,
        "review_count": review,
        "review_rate": review / tasks if tasks else None,
        "latency_ms_mean": _none_if_nan(float(df["latency_ms"].mean())) if calls_n else None,
        "latency_ms_p95": _none_if_nan(float(df["latency_ms"].quantile(0.95))) if calls_n else None,
        "tokens_in": int(df["tokens_in"].sum()),
        "tokens_out": int(df["tokens_out"].sum()),
        "estimated_cost_usd": round(float(priced_cost.sum()), 6) if calls_n else 0.0,
    }
    return AiUsageReport(start=start, end=end, summary=summary, by_model=by_model.reset_index(drop=True),
                         by_marketplace=by_marketplace.reset_index(drop=True),
                         top_errors=top_errors.reset_index(drop=True), unpriced_models=unpriced)


def ai_usage_report(engine: sa.Engine, day: dt.date, tz: ZoneInfo, days: int = 1) -> AiUsageReport:
    """The report for ``days`` shop-calendar days ending with ``day`` (inclusive)."""
    start, _ = day_window(day - dt.timedelta(days=days - 1), tz)
    _, end = day_window(day, tz)
    return build_report(load_calls(engine, start, end), start, end)
