"""Alert sensors post Slack-compatible JSON to a local receiver; posting never raises and never logs the URL."""

import logging

import dagster as dg
import pytest

from y3d_pipeline.alerts import CheckFailure, check_failure_alert, post_alert
from y3d_pipeline.defs.automation.alerting import alert_on_failed_checks, alert_on_run_failure

parts = dg.DailyPartitionsDefinition(start_date="2026-03-01", timezone="Europe/London")


@dg.asset(key=["alert_test", "sync"], partitions_def=parts)
def failing_sync() -> dg.MaterializeResult:
    raise RuntimeError("ShipStation answered 500 five times")


@dg.asset(key=["alert_test", "orders"])
def orders() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"n": 1})


@dg.asset_check(asset=orders, name="alert_test_orders_without_tasks")
def orders_without_tasks() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                               description="2 awaiting orders have no print tasks",
                               metadata={"offending_orders": dg.MetadataValue.json(["1001", "1002"])})


def test_run_failure_sensor_posts_job_partition_error_and_link(dagster_instance, webhook):
    job = dg.define_asset_job("alert_test_job", selection=[failing_sync], partitions_def=parts)
    resolved = dg.Definitions(assets=[failing_sync], jobs=[job]).resolve_job_def("alert_test_job")
    result = resolved.execute_in_process(instance=dagster_instance, partition_key="2026-03-08",
                                         raise_on_error=False, tags={"y3d/source": "shipstation"})
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=dagster_instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event()).for_run_failure()
    alert_on_run_failure(context)
    assert dagster_instance.get_run_by_id(result.run_id).tags["y3d/outcome"] == "failed"
    assert len(webhook.bodies) == 1
    body = webhook.bodies[0]
    run_id = result.run_id
    assert body["text"].startswith("y3d run failed: alert_test_job (2026-03-08)")
    assert "ShipStation answered 500 five times" in body["text"]
    assert body["y3d"] == {"kind": "run_failure", "job": "alert_test_job", "run_id": run_id,
                           "partition": "2026-03-08", "url": f"http://dagster.example:3000/runs/{run_id}"}
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in body["blocks"][1]["fields"]}
    assert fields["*Job*"] == "alert_test_job" and fields["*Partition*"] == "2026-03-08"
    assert fields["*Source*"] == "shipstation"
    assert "RuntimeError" not in body["blocks"][2]["text"]["text"] or "five times" in body["blocks"][2]["text"]["text"]
    assert body["blocks"][3]["elements"][0]["url"] == f"http://dagster.example:3000/runs/{run_id}"


def test_failed_check_sensor_posts_once_per_evaluation(pg_instance, webhook):
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    context = dg.build_sensor_context(instance=pg_instance)
    result = alert_on_failed_checks(context)
    assert isinstance(result, dg.SkipReason)
    ours = [b for b in webhook.bodies if any(c["check"] == "alert_test_orders_without_tasks"
                                             for c in b["y3d"]["checks"])]
    assert len(ours) == 1
    check = next(c for c in ours[0]["y3d"]["checks"] if c["check"] == "alert_test_orders_without_tasks")
    assert check["asset"] == "alert_test/orders" and check["severity"] == "WARN"
    assert check["offending"] == ["1001", "1002"]
    assert "1001, 1002" in ours[0]["blocks"][1]["text"]["text"]
    assert "/runs/" in ours[0]["blocks"][1]["text"]["text"]
    cursor = context.cursor
    assert cursor
    # The cursor dedups: the next tick posts nothing new.
    webhook.bodies.clear()
    again = dg.build_sensor_context(instance=pg_instance, cursor=cursor)
    alert_on_failed_checks(again)
    assert webhook.bodies == [] and again.cursor == cursor
    # A new failed evaluation is posted on the next tick, and the cursor advances.
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    third = dg.build_sensor_context(instance=pg_instance, cursor=cursor)
    alert_on_failed_checks(third)
    assert len(webhook.bodies) == 1 and third.cursor != cursor


def test_post_alert_never_raises_and_never_logs_the_url(caplog, monkeypatch):
    monkeypatch.delenv("Y3D_ALERT_WEBHOOK_URL", raising=False)
    payload = check_failure_alert([CheckFailure(asset="a", check="c", severity="WARN", run_id="r" * 36)])
    with caplog.at_level(logging.INFO):
        assert post_alert(payload) is False  # not configured: log only
        assert post_alert(payload, url="http://127.0.0.1:9/hooks/secret-token", timeout=0.5) is False
    assert "ALERT" in caplog.text and "secret-token" not in caplog.text


@pytest.mark.parametrize("status", [500])
def test_post_alert_reports_http_errors(status, webhook, caplog):
    webhook.status = status
    with caplog.at_level(logging.INFO):
        assert post_alert({"text": "x"}) is False
    assert "HTTP 500" in caplog.text and "secret-token" not in caplog.text


def test_tag_run_outcome_sensor(dagster_instance):
    from y3d_pipeline.defs.automation.alerting import tag_run_outcome

    @dg.asset(key=["alert_test", "quiet_sync"])
    def quiet_sync() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"records_new": 0, "records_changed": 0, "records_unchanged": 4})

    result = dg.materialize([quiet_sync], instance=dagster_instance)
    context = dg.build_run_status_sensor_context(
        sensor_name="tag_run_outcome", dagster_instance=dagster_instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event())
    tag_run_outcome(context)
    assert dagster_instance.get_run_by_id(result.run_id).tags["y3d/outcome"] == "success_no_orders"
