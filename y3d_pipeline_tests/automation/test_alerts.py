"""Alerts reach local webhook servers (Slack-compatible and plain JSON), say what to do, add up, never leak a
secret, and report a condition once until it changes."""

import datetime as dt
import logging

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.alerts import AlertDestinations, CheckFailure, check_failure_alert, listing, post_alert
from y3d_pipeline.db.models import AlertState
from y3d_pipeline.defs.automation.alerting import (
    alert_on_failed_checks,
    alert_on_run_failure,
    tag_run_outcome,
)
from y3d_pipeline_tests.automation.conftest import sensor_resources

parts = dg.DailyPartitionsDefinition(start_date="2026-03-01", timezone="Europe/London")
SECRET = "ss-secret-value-123456"


@dg.asset(key=["alert_test", "sync"], partitions_def=parts)
def failing_sync() -> dg.MaterializeResult:
    raise RuntimeError(f"ShipStation answered 500 five times (echoed Authorization: Basic {SECRET})")


@dg.asset(key=["alert_test", "orders"])
def orders() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"n": 1})


FINDINGS = {"rows": 2, "orders": ["1001", "1002"]}


@dg.asset_check(asset=orders, name="alert_test_orders_without_tasks")
def orders_without_tasks() -> dg.AssetCheckResult:
    passed = not FINDINGS["orders"]
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN,
                               description=f"{FINDINGS['rows']} awaiting order(s) have no print tasks",
                               metadata={"count": FINDINGS["rows"],
                                         "offending_orders": dg.MetadataValue.json(FINDINGS["orders"])})


PRINT_RESULT = {"failed": [{"order_id": 1, "order_number": "7001", "reason": "AI error"}], "placeholders": 1}


@dg.asset(key=["alert_test", "print_tasks"], partitions_def=parts)
def print_like() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={
        "orders_processed": 3, "orders_failed": len(PRINT_RESULT["failed"]),
        "failed_orders": dg.MetadataValue.json(PRINT_RESULT["failed"]),
        "items_by_source": dg.MetadataValue.json({"item_options": 2, "placeholder": PRINT_RESULT["placeholders"]})})


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("SHIPSTATION_API_KEY", "key-abcdef")
    monkeypatch.setenv("SHIPSTATION_API_SECRET", SECRET)


def _sense_checks(instance, database_resource, cursor=None):
    """One tick of alert_on_failed_checks; returns (result, the context's cursor afterwards)."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=sensor_resources(database_resource)) as ctx:
        result = alert_on_failed_checks(ctx)
        return result, ctx.cursor


def _alert_rows(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["key"]: dict(r) for r in conn.execute(sa.select(AlertState.__table__)).mappings()}


def _fail_and_sense(instance, database_resource) -> str:
    job = dg.define_asset_job("alert_test_job", selection=[failing_sync], partitions_def=parts)
    resolved = dg.Definitions(assets=[failing_sync], jobs=[job]).resolve_job_def("alert_test_job")
    result = resolved.execute_in_process(instance=instance, partition_key="2026-03-08",
                                         raise_on_error=False, tags={"y3d/source": "shipstation"})
    assert not result.success
    with dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(), resources=sensor_resources(database_resource)) as context:
        alert_on_run_failure(context.for_run_failure())
    return result.run_id


def test_run_failure_reaches_both_webhooks_without_the_secret(dagster_instance, database_resource, webhook,
                                                              json_webhook, secret_env):
    run_id = _fail_and_sense(dagster_instance, database_resource)
    assert dagster_instance.get_run_by_id(run_id).tags["y3d/outcome"] == "failed"
    link = f"http://dagster.example:3000/runs/{run_id}"

    [slack] = webhook.bodies
    assert slack["text"].startswith("y3d error: Run failed: alert_test_job (2026-03-08)")
    assert "ShipStation answered 500 five times" in slack["text"] and "What to do:" in slack["text"]
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for b in slack["blocks"] if "fields" in b
              for f in b["fields"]}
    assert fields == {"*Job*": "alert_test_job", "*Partition*": "2026-03-08", "*Source*": "shipstation"}
    assert slack["blocks"][-1]["elements"][0]["url"] == link

    [plain] = json_webhook.bodies
    assert plain["schema"] == "y3d.alert/1" and plain["kind"] == "run_failure" and plain["severity"] == "error"
    assert plain["run_id"] == run_id and plain["url"] == link and plain["fields"]["Partition"] == "2026-03-08"
    assert plain["action"].startswith("Open the run")
    assert plain == slack["y3d"]  # the Slack payload carries the same document
    for body in (slack, plain):
        assert SECRET not in str(body) and "[redacted]" in str(body)


def test_a_job_failing_the_same_way_is_reported_once_until_it_recovers(dagster_instance, database_resource,
                                                                       clean_db, webhook):
    _fail_and_sense(dagster_instance, database_resource)
    _fail_and_sense(dagster_instance, database_resource)  # the next tick's run fails the same way
    assert [b["y3d"]["kind"] for b in webhook.bodies] == ["run_failure"]

    job = dg.define_asset_job("alert_test_job", selection=[orders])
    ok = dg.Definitions(assets=[orders], jobs=[job]).resolve_job_def("alert_test_job").execute_in_process(
        instance=dagster_instance)
    with dg.build_run_status_sensor_context(
            sensor_name="tag_run_outcome", dagster_instance=dagster_instance, dagster_run=ok.dagster_run,
            dagster_event=ok.get_run_success_event(), resources=sensor_resources(database_resource)) as context:
        tag_run_outcome(context)
    assert [b["y3d"]["kind"] for b in webhook.bodies] == ["run_failure", "run_recovered"]
    _fail_and_sense(dagster_instance, database_resource)  # failing again after recovering is news
    assert [b["y3d"]["kind"] for b in webhook.bodies] == ["run_failure", "run_recovered", "run_failure"]


def test_needs_attention_runs_alert_once_per_condition(dagster_instance, database_resource, webhook):
    def run_and_sense() -> str:
        result = dg.materialize([print_like], instance=dagster_instance, partition_key="2026-03-08")
        with dg.build_run_status_sensor_context(
                sensor_name="tag_run_outcome", dagster_instance=dagster_instance, dagster_run=result.dagster_run,
                dagster_event=result.get_run_success_event(), resources=sensor_resources(database_resource)) as context:
            tag_run_outcome(context)
        return result.run_id

    first = run_and_sense()
    assert dagster_instance.get_run_by_id(first).tags["y3d/outcome"] == "partial_success"
    [body] = webhook.bodies
    doc = body["y3d"]
    assert doc["kind"] == "run_needs_attention" and doc["run_id"] == first
    entries = {e["label"].split(": ", 1)[1]: e for e in doc["entries"]}
    assert entries["orders failed"]["count"] == 1 and entries["orders failed"]["refs"] == ["7001"]
    assert entries["orders failed"]["partition"] == "2026-03-08"
    assert entries["placeholder print tasks created"]["count"] == 1
    assert "Placeholder tasks:" in doc["action"] and "re-run the partition" in doc["action"]
    assert "Quarantined" not in doc["action"]  # advice for what happened only

    # The next run fails on the same order and creates a new placeholder: only the placeholder is news.
    webhook.bodies.clear()
    second = run_and_sense()
    [body] = webhook.bodies
    assert [e["label"] for e in body["y3d"]["entries"]] == ["alert_test__print_tasks: placeholder print tasks created"]
    assert body["y3d"]["run_id"] == second

    # Nothing new at all: no message.
    webhook.bodies.clear()
    PRINT_RESULT["placeholders"] = 0
    try:
        run_and_sense()
        assert webhook.bodies == []
        # Another order fails too: the failed-orders condition changed, so it is posted again with both.
        PRINT_RESULT["failed"] = [*PRINT_RESULT["failed"], {"order_id": 2, "order_number": "7002", "reason": "x"}]
        run_and_sense()
        [body] = webhook.bodies
        [entry] = body["y3d"]["entries"]
        assert entry["count"] == 2 and entry["refs"] == ["7001", "7002"]
    finally:
        PRINT_RESULT.update(failed=PRINT_RESULT["failed"][:1], placeholders=1)


def test_failed_checks_are_posted_once_until_they_change(pg_instance, database_resource, webhook, clean_db):
    FINDINGS.update(rows=2, orders=["1001", "1002"])
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    result, cursor = _sense_checks(pg_instance, database_resource)
    assert isinstance(result, dg.SkipReason)
    ours = [b for b in webhook.bodies if any(e["label"].startswith("alert_test/orders / alert_test_orders")
                                             for e in b["y3d"]["entries"])]
    assert len(ours) == 1
    entry = next(e for e in ours[0]["y3d"]["entries"] if "alert_test_orders_without_tasks" in e["label"])
    assert entry["count"] == 2 and entry["refs"] == ["1001", "1002"] and entry["refs_total"] == 2
    assert entry["run_url"].startswith("http://dagster.example:3000/runs/")
    assert "1001, 1002" in ours[0]["text"]
    assert cursor

    # The same findings evaluated again (the next sync run): nothing is posted.
    webhook.bodies.clear()
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    _, cursor2 = _sense_checks(pg_instance, database_resource, cursor)
    assert webhook.bodies == [] and cursor2 != cursor

    # A new offending order: posted again, with both.
    FINDINGS.update(rows=3, orders=["1001", "1002", "1003"])
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    _, cursor3 = _sense_checks(pg_instance, database_resource, cursor2)
    [body] = webhook.bodies
    assert body["y3d"]["entries"][0]["refs"] == ["1001", "1002", "1003"]

    # Fixed: one "passes again" note, and the condition is forgotten.
    webhook.bodies.clear()
    FINDINGS.update(rows=0, orders=[])
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    _sense_checks(pg_instance, database_resource, cursor3)
    [body] = webhook.bodies
    assert body["y3d"]["kind"] == "check_resolved"
    assert not [k for k in _alert_rows(clean_db) if "alert_test_orders_without_tasks" in k]


def test_a_failed_post_is_tried_again(pg_instance, database_resource, webhook, clean_db):
    FINDINGS.update(rows=1, orders=["2001"])
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    _, start = _sense_checks(pg_instance, database_resource)  # everything up to now, reported
    webhook.bodies.clear()
    FINDINGS.update(rows=1, orders=["2002"])
    assert dg.materialize([orders, orders_without_tasks], instance=pg_instance).success
    webhook.status = 500
    result, after_failure = _sense_checks(pg_instance, database_resource, start)
    assert "retrying" in result.skip_message and after_failure == start
    webhook.status = 200
    webhook.bodies.clear()
    _sense_checks(pg_instance, database_resource, start)
    [body] = webhook.bodies
    assert body["y3d"]["entries"][0]["refs"] == ["2002"]
    FINDINGS.update(rows=2, orders=["1001", "1002"])


def test_counts_add_up_when_lists_are_cut():
    refs = [f"{1000 + i}" for i in range(128)]
    alert = check_failure_alert([CheckFailure(asset="normalized/orders", check="orders_reconciled", severity="WARN",
                                              run_id="r" * 36, partition="2026-03-08", offending=refs, count=256)])
    [entry] = alert.entries
    line = entry.line("http://ui")
    assert "partition 2026-03-08" in line and "256 finding(s)" in line
    assert "128 orders/records: " in line and line.count(",") == 19 and "(+108 more)" in line
    assert listing(["a", "b"], 5) == "a, b (+3 more)" and listing(["a"]) == "a"


def test_post_alert_never_raises_and_never_logs_the_url(caplog):
    alert = check_failure_alert([CheckFailure(asset="a", check="c", severity="WARN", run_id="r" * 36)])
    with caplog.at_level(logging.INFO):
        assert post_alert(alert, AlertDestinations()) is True  # not configured: logging is the delivery
        unreachable = AlertDestinations(webhook_url="http://127.0.0.1:9/hooks/secret-token")
        assert post_alert(alert, unreachable, timeout=0.5) is False
    assert "ALERT" in caplog.text and "secret-token" not in caplog.text


def test_post_alert_reports_http_errors(webhook, caplog):
    webhook.status = 500
    alert = check_failure_alert([CheckFailure(asset="a", check="c", severity="WARN", run_id=None)])
    with caplog.at_level(logging.INFO):
        assert post_alert(alert, AlertDestinations(webhook_url=webhook.url)) is False
    assert "HTTP 500" in caplog.text and "secret-token" not in caplog.text


def test_tag_run_outcome_sensor(dagster_instance, database_resource):
    @dg.asset(key=["alert_test", "quiet_sync"])
    def quiet_sync() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"records_new": 0, "records_changed": 0, "records_unchanged": 4})

    result = dg.materialize([quiet_sync], instance=dagster_instance)
    with dg.build_run_status_sensor_context(
            sensor_name="tag_run_outcome", dagster_instance=dagster_instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_success_event(), resources=sensor_resources(database_resource)) as context:
        tag_run_outcome(context)
    assert dagster_instance.get_run_by_id(result.run_id).tags["y3d/outcome"] == "success_no_orders"


def test_alert_state_forgets_conditions_nobody_sees(clean_db):
    from y3d_pipeline import alert_state
    from y3d_pipeline.alert_state import Condition

    now = dt.datetime.now(dt.UTC)
    with clean_db.begin() as conn:
        alert_state.mark_reported(conn, [Condition("check:x:y:2026-01-01", "check", "f")])
        assert alert_state.forget_unseen(conn, now=now + dt.timedelta(days=8)) == 1
