"""Retention on a real PostgreSQL-backed instance: old runs go with their compute logs, except those holding the
latest materialization of an asset partition or the latest check evaluation; the application's raw payloads
and ai_calls follow the documented policy; the maintenance asset reports sizes before and after."""

import datetime as dt
import uuid

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.events import DagsterEventType

from y3d_pipeline.db.models import AiCall, NormalizationFailure, Order, RawShipstationOrder, RawShopifyOrder
from y3d_pipeline.defs.maintenance.assets import RETENTION, dagster_maintenance, retention
from y3d_pipeline.maintenance.app_data import AppRetentionPolicy, prune_app_data
from y3d_pipeline.maintenance.dagster_storage import (
    compute_log_root,
    prune_dagster_history,
    runs_holding_latest,
)
from y3d_pipeline_tests.e2e.dagster_servers import prepare_dagster_home

days = dg.DailyPartitionsDefinition(start_date="2026-03-01")


@dg.asset(key=["retention_test", "thing"], partitions_def=days)
def thing(context) -> dg.MaterializeResult:
    context.log.info("a log line that retention may delete")
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset(key=["retention_test", "plain"])
def plain() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


@dg.asset_check(asset=plain, name="retention_test_check")
def plain_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.op
def chatty(context) -> None:
    context.log.info("nothing but logs")


@dg.job(executor_def=dg.in_process_executor)
def chatty_job():
    chatty()


@pytest.fixture(scope="module")
def fresh_pg_instance(database_factory, tmp_path_factory):
    """An instance of its own (the project's dagster.yaml, its own database and compute-log directory):
    pruning must not touch the runs and logs other tests read."""
    home = prepare_dagster_home(tmp_path_factory.mktemp("retention_home"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_PG_URL", database_factory.create("y3d_dagster_retention"))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance


def _types(instance, run_id):
    return {r.event_log_entry.dagster_event_type for r in instance.get_records_for_run(run_id).records}


def _fake_compute_logs(instance, run_id: str) -> None:
    directory = compute_log_root(instance) / run_id / "compute_logs"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "step.out").write_text("x" * 1000)


def test_prune_keeps_the_latest_of_every_partition(fresh_pg_instance):
    instance = fresh_pg_instance
    superseded = dg.materialize([thing], instance=instance, partition_key="2026-03-08").run_id
    latest = dg.materialize([thing], instance=instance, partition_key="2026-03-08").run_id
    other_day = dg.materialize([thing], instance=instance, partition_key="2026-03-09").run_id
    checked = dg.materialize([plain, plain_check], instance=instance).run_id  # holds the latest check evaluation
    plain_again = dg.materialize([plain], instance=instance).run_id  # the latest materialization, no check
    op_run = chatty_job.execute_in_process(instance=instance).run_id
    for run_id in (superseded, latest, other_day, op_run):
        _fake_compute_logs(instance, run_id)
    orphan = str(uuid.uuid4())  # a run deleted from the UI left its logs behind
    _fake_compute_logs(instance, orphan)
    assert runs_holding_latest(instance) >= {latest, other_day, checked, plain_again}
    assert superseded not in runs_holding_latest(instance) and op_run not in runs_holding_latest(instance)
    before = _types(instance, latest)
    assert None in before and DagsterEventType.STEP_START in before  # log lines and step events exist

    # Nothing is old yet: nothing is pruned.
    now = dt.datetime.now(dt.UTC)
    report = prune_dagster_history(instance, now=now, event_log_max_age=dt.timedelta(days=14),
                                   run_max_age=dt.timedelta(days=30))
    assert (report.runs_deleted, report.event_rows_deleted, report.compute_log_dirs_deleted) == (0, 0, 0)

    # A dry run a year later counts without deleting.
    later = now + dt.timedelta(days=365)
    dry = prune_dagster_history(instance, now=later, event_log_max_age=dt.timedelta(days=14),
                                run_max_age=dt.timedelta(days=30), dry_run=True)
    assert (dry.runs_deleted, dry.runs_kept_latest) == (2, 4) and dry.event_rows_deleted > 0
    assert dry.compute_log_dirs_deleted == 3 and dry.compute_log_bytes_deleted >= 3000  # + the runs' real logs
    assert instance.get_run_by_id(op_run) is not None

    report = prune_dagster_history(instance, now=later, event_log_max_age=dt.timedelta(days=14),
                                   run_max_age=dt.timedelta(days=30))
    assert (report.runs_deleted, report.runs_kept_latest) == (2, 4)
    assert report.compute_log_dirs_deleted == 3
    assert report.compute_log_bytes_deleted == dry.compute_log_bytes_deleted
    assert 0 < report.event_rows_deleted <= dry.event_rows_deleted
    assert instance.get_run_by_id(op_run) is None and instance.get_run_by_id(superseded) is None
    for kept in (latest, other_day, checked, plain_again):
        assert instance.get_run_by_id(kept) is not None
    root = compute_log_root(instance)
    assert not (root / op_run).exists() and not (root / superseded).exists() and not (root / orphan).exists()
    assert (root / latest).exists()
    after = _types(instance, latest)
    assert DagsterEventType.STEP_START not in after and None not in after
    assert {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.RUN_SUCCESS} <= after
    key = dg.AssetKey(["retention_test", "thing"])
    assert instance.get_materialized_partitions(key) == {"2026-03-08", "2026-03-09"}
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.run_id in (latest, other_day)


@dg.op
def failing(context) -> None:
    raise RuntimeError("a source was down")


@dg.job(executor_def=dg.in_process_executor)
def failing_job():
    failing()


def test_runs_needing_attention_are_kept_longer(fresh_pg_instance):
    instance = fresh_pg_instance
    failed = failing_job.execute_in_process(instance=instance, raise_on_error=False).run_id
    quiet = chatty_job.execute_in_process(instance=instance).run_id
    now = dt.datetime.now(dt.UTC)
    policy = {"event_log_max_age": dt.timedelta(days=7), "run_max_age": dt.timedelta(days=7),
              "attention_run_max_age": dt.timedelta(days=30)}
    report = prune_dagster_history(instance, now=now + dt.timedelta(days=10), **policy)
    assert report.runs_kept_for_attention == 1
    assert instance.get_run_by_id(failed) is not None and instance.get_run_by_id(quiet) is None
    prune_dagster_history(instance, now=now + dt.timedelta(days=40), **policy)
    assert instance.get_run_by_id(failed) is None


def test_maintenance_asset_reports_sizes(fresh_pg_instance, database_resource):
    instance = fresh_pg_instance
    chatty_job.execute_in_process(instance=instance)
    job = dg.Definitions(assets=[retention], jobs=[dagster_maintenance],
                         resources={"database": database_resource}).resolve_job_def("dagster_maintenance")
    result = job.execute_in_process(instance=instance, run_config={"ops": {"maintenance__retention": {"config": {
        "event_log_max_age_days": 0, "run_max_age_days": 0, "vacuum": True}}}})
    assert result.success
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == RETENTION]
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["runs_deleted"] >= 1 and metadata["vacuumed"] is True
    for key in ("before_dagster_db_mb", "after_dagster_db_mb", "before_event_logs_mb", "before_app_db_mb",
                "after_raw_shipstation_orders_mb", "before_event_logs_rows", "after_runs", "dagster_db_mb"):
        assert key in metadata, key
    assert metadata["after_runs"] < metadata["before_runs"]
    assert metadata["raw_shipstation_orders_rows_deleted"] == 0


def test_app_retention_policy(clean_db):
    now = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    old, recent = now - dt.timedelta(days=500), now - dt.timedelta(days=30)
    payload = {"x": 1}
    with clean_db.begin() as conn:
        orders = Order.__table__
        conn.execute(sa.insert(orders), [
            {"order_number": "A", "marketplace": "web", "status": "shipped", "shipstation_order_id": 1,
             "shopify_order_id": None},
            {"order_number": "B", "marketplace": "web", "status": "on_hold", "shipstation_order_id": 2,
             "shopify_order_id": None},
            {"order_number": "C", "marketplace": "web", "status": "cancelled", "shipstation_order_id": None,
             "shopify_order_id": 30},
        ])
        ids = dict(conn.execute(sa.select(orders.c.order_number, orders.c.id)).all())
        raw = RawShipstationOrder.__table__
        conn.execute(sa.insert(raw), [
            {"shipstation_order_id": sid, "source_modified_at": at, "payload": payload, "payload_sha256": "h",
             "fetched_at": at} for sid, at in ((1, old), (2, old), (3, old), (4, recent))])
        conn.execute(sa.insert(RawShopifyOrder.__table__), [
            {"shopify_order_id": 30, "source_modified_at": old, "payload": payload, "payload_sha256": "h",
             "fetched_at": old}])
        conn.execute(sa.insert(AiCall.__table__), [
            {"order_id": ids[n], "model": "m", "prompt_version": "v", "input_hash": "h", "success": True,
             "created_at": at} for n, at in (("A", old), ("B", old), ("A", recent))])
        conn.execute(sa.insert(NormalizationFailure.__table__), [
            {"source": "shipstation", "source_id": "9", "reason": "r", "resolved_at": old},
            {"source": "shipstation", "source_id": "10", "reason": "r", "resolved_at": None}])
        conn.execute(sa.insert(RawShopifyOrder.__table__), [
            {"shopify_order_id": 31, "source_modified_at": old, "payload": payload, "payload_sha256": "h",
             "fetched_at": old}])  # no order row at all
    policy = AppRetentionPolicy()
    dry = prune_app_data(clean_db, policy, now=now, dry_run=True)
    done = prune_app_data(clean_db, policy, now=now)
    assert dry == done
    # old + closed (1), old + no order (3) go; old + on hold (2) and recent (4) stay
    assert done["raw_shipstation_orders"] == 2 and done["raw_shopify_orders"] == 2
    assert done["ai_calls"] == 1 and done["normalization_failures"] == 1
    with clean_db.connect() as conn:
        assert sorted(conn.execute(sa.select(RawShipstationOrder.__table__.c.shipstation_order_id)).scalars()) == [2, 4]
        assert conn.execute(sa.select(sa.func.count()).select_from(Order.__table__)).scalar_one() == 3
