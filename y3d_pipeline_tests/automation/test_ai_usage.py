"""reports/ai_usage: numbers computed from ai_calls rows inserted here."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from y3d_pipeline.db.models import AiCall
from y3d_pipeline.defs.reports.assets import ai_usage
from y3d_pipeline.reports.ai_usage import ai_usage_report, day_window, price_for

LONDON = ZoneInfo("Europe/London")


def _call(created_at, model="gpt-4.1-mini", success=True, error=None, tasks=0, review=0, latency=1000,
          tokens_in=1000, tokens_out=200, marketplace="amazon"):
    return {"model": model, "prompt_version": "v1", "input_hash": "h" * 64, "success": success, "error": error,
            "tasks_created": tasks, "review_count": review, "latency_ms": latency, "tokens_in": tokens_in,
            "tokens_out": tokens_out, "marketplace": marketplace, "created_at": created_at}


@pytest.fixture
def calls(clean_db):
    # 2026-03-29 is the UK spring-forward day: the shop day is 23 h long, 00:00 GMT -> 23:00 UTC.
    in_day = dt.datetime(2026, 3, 29, 12, tzinfo=dt.UTC)
    rows = [
        _call(in_day, tasks=2, review=1, latency=1000),
        _call(in_day, tasks=3, review=0, latency=2000),
        _call(in_day, success=False, error="timeout", tasks=0, latency=3000),
        _call(in_day, success=False, error="timeout", tasks=5, review=5, latency=4000),  # failed: not counted
        _call(in_day, model="gpt-4.1-2025-04-14", tasks=1, review=1, latency=500, tokens_in=2_000_000,
              tokens_out=0, marketplace="shopify"),
        _call(in_day, model="mystery-model", success=False, error="bad json", latency=100, marketplace=None),
        # Outside the day (in the shop's timezone): before 00:00 GMT and at 23:00 UTC (= 00:00 BST next day).
        _call(dt.datetime(2026, 3, 28, 23, 59, tzinfo=dt.UTC)),
        _call(dt.datetime(2026, 3, 29, 23, 0, tzinfo=dt.UTC)),
    ]
    with clean_db.begin() as conn:
        conn.execute(AiCall.__table__.insert(), rows)
    return clean_db


def test_report_numbers(calls):
    report = ai_usage_report(calls, dt.date(2026, 3, 29), LONDON)
    s = report.summary
    assert (s["calls"], s["successful"], s["failed"]) == (6, 3, 3)
    assert s["success_rate"] == pytest.approx(0.5)
    assert (s["tasks_created"], s["review_count"]) == (6, 2)
    assert s["review_rate"] == pytest.approx(2 / 6)
    assert s["latency_ms_mean"] == pytest.approx((1000 + 2000 + 3000 + 4000 + 500 + 100) / 6)
    assert s["tokens_in"] == 4 * 1000 + 2_000_000 + 1000 and s["tokens_out"] == 4 * 200 + 0 + 200
    # gpt-4.1-mini: 4 calls x (1000 x 0.40 + 200 x 1.60) / 1e6; gpt-4.1 snapshot: 2M x 2.00 / 1e6; mystery unpriced.
    mini_cost = 4 * (1000 * 0.40 + 200 * 1.60) / 1e6
    assert s["estimated_cost_usd"] == pytest.approx(mini_cost + 4.0)
    assert report.unpriced_models == ["mystery-model"]
    by_model = report.by_model.set_index("model")
    assert by_model.loc["gpt-4.1-mini", "calls"] == 4 and by_model.loc["gpt-4.1-mini", "successful"] == 2
    assert by_model.loc["gpt-4.1-mini", "tasks_created"] == 5
    assert by_model.loc["gpt-4.1-mini", "review_rate"] == pytest.approx(1 / 5)
    assert by_model.loc["gpt-4.1-mini", "estimated_cost_usd"] == pytest.approx(mini_cost)
    assert by_model.loc["gpt-4.1-2025-04-14", "estimated_cost_usd"] == pytest.approx(4.0)
    assert by_model.loc["mystery-model", "estimated_cost_usd"] != by_model.loc["mystery-model", "estimated_cost_usd"]
    assert report.top_errors.to_dict("records") == [{"error": "timeout", "count": 2}, {"error": "bad json", "count": 1}]
    assert dict(zip(report.by_marketplace["marketplace"], report.by_marketplace["calls"], strict=True)) == {
        "amazon": 4, "shopify": 1, "unknown": 1}
    md = report.markdown(LONDON)
    assert "success rate 50.0%" in md and "| timeout | 2 |" in md and "mystery-model" in md


def test_empty_day_and_helpers(clean_db):
    report = ai_usage_report(clean_db, dt.date(2026, 3, 1), LONDON)
    assert report.summary["calls"] == 0 and report.summary["success_rate"] is None
    assert report.by_model.empty and "calls: 0" in report.markdown()
    assert day_window(dt.date(2026, 3, 29), LONDON) == (dt.datetime(2026, 3, 29, 0, tzinfo=dt.UTC),
                                                         dt.datetime(2026, 3, 29, 23, tzinfo=dt.UTC))
    assert price_for("gpt-4.1-mini-2025-04-14") == (0.40, 1.60) and price_for("gpt-4.1-nano") == (0.10, 0.40)
    assert price_for("claude") is None


def test_asset_materializes_table_and_markdown(calls, database_resource, dagster_instance):
    result = dg.materialize([ai_usage], resources={"database": database_resource}, instance=dagster_instance,
                            run_config={"ops": {"reports__ai_usage": {"config": {"day": "2026-03-29"}}}})
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["calls"].value == 6 and metadata["dagster/row_count"].value == 6
    assert metadata["success_rate"].value == pytest.approx(0.5)
    table = metadata["by_model"].value
    assert {r.data["model"] for r in table.records} == {"gpt-4.1-mini", "gpt-4.1-2025-04-14", "mystery-model"}
    assert "| timeout | 2 |" in metadata["report"].value
