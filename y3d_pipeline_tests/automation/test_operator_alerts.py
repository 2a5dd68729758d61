"""operator_alerts: review backlog, Amazon Custom files due soon and stale sources, each reported once per
change to a local webhook, from the real database and a real Dagster instance."""

import datetime as dt

import dagster as dg
import pytest
import sqlalchemy as sa

from y3d_pipeline.db.models import AmazonCustomization, Order, OrderItem, PrintTask
from y3d_pipeline.defs.automation.alerting import operator_alerts
from y3d_pipeline.defs.constants import RAW_SHIPSTATION_ORDERS
from y3d_pipeline_tests.automation.conftest import sensor_resources

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def env(monkeypatch):
    for name in ("SHOPIFY_STORE", "AMAZON_LWA_CLIENT_ID", "Y3D_BUSINESS_HOURS", "SHIPSTATION_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("Y3D_ALERT_REVIEW_BACKLOG", "3")
    monkeypatch.setenv("Y3D_ALERT_SHIP_BY_HOURS", "24")
    return monkeypatch


def _tick(instance, database_resource) -> dg.SkipReason:
    with dg.build_sensor_context(instance=instance, resources=sensor_resources(database_resource)) as context:
        return operator_alerts(context)


def _order(conn, number: str, *, ship_by: dt.datetime | None = None, created: dt.datetime = NOW) -> int:
    return conn.execute(sa.insert(Order.__table__).values(
        order_number=number, marketplace="amazon", status="awaiting_shipment", ship_by_date=ship_by,
        created_at=created).returning(Order.__table__.c.id)).scalar_one()


def _item(conn, order_id: int, options=None, amazon_item: str | None = None) -> int:
    return conn.execute(sa.insert(OrderItem.__table__).values(
        order_id=order_id, quantity=1, options=options or [], amazon_order_item_id=amazon_item,
        line_item_key=amazon_item).returning(OrderItem.__table__.c.id)).scalar_one()


def _review_tasks(engine, n: int, start: int = 0) -> None:
    with engine.begin() as conn:
        for i in range(start, start + n):
            order = _order(conn, f"R-{i}")
            item = _item(conn, order)
            conn.execute(sa.insert(PrintTask.__table__).values(
                order_id=order, order_item_id=item, task_index=0, quantity=1, status="pending", source="ai",
                needs_review=True, review_reason="No colour given; text too long" if i % 2 else "Text is empty"))


def _kinds(webhook) -> list[str]:
    return [b["y3d"]["kind"] for b in webhook.bodies]


def test_review_backlog_alerts_as_it_grows(env, clean_db, database_resource, dagster_instance, webhook):
    _review_tasks(clean_db, 2)
    _tick(dagster_instance, database_resource)
    assert _kinds(webhook) == []  # under the threshold of 3
    _review_tasks(clean_db, 1, start=2)
    _tick(dagster_instance, database_resource)
    [body] = webhook.bodies
    doc = body["y3d"]
    assert doc["kind"] == "review_backlog" and doc["fields"] == {"Tasks": "3", "Orders": "3"}
    assert sum(e["count"] for e in doc["entries"]) == 3  # the reasons add up to the backlog
    assert {e["label"] for e in doc["entries"]} == {"No colour given", "Text is empty"}
    assert "print queue" in doc["action"]

    webhook.bodies.clear()
    _tick(dagster_instance, database_resource)
    _review_tasks(clean_db, 2, start=3)  # 5: still the same step of 3
    _tick(dagster_instance, database_resource)
    assert _kinds(webhook) == []
    _review_tasks(clean_db, 1, start=5)  # 6: grew by another 3
    _tick(dagster_instance, database_resource)
    assert _kinds(webhook) == ["review_backlog"] and webhook.bodies[0]["y3d"]["fields"]["Tasks"] == "6"

    # Worked down to 1 (under half the threshold): forgotten, so 3 again is news.
    with clean_db.begin() as conn:
        t = PrintTask.__table__
        conn.execute(sa.update(t).where(t.c.id.in_(sa.select(t.c.id).order_by(t.c.id).limit(5)))
                     .values(needs_review=False))
    webhook.bodies.clear()
    _tick(dagster_instance, database_resource)
    _review_tasks(clean_db, 2, start=10)
    _tick(dagster_instance, database_resource)
    assert _kinds(webhook) == ["review_backlog"]


def test_custom_files_missing_before_ship_by(env, clean_db, database_resource, dagster_instance, webhook):
    url = [{"name": "CustomizedURL", "value": "https://zme-caps.amazon.com/t/x.zip"}]
    with clean_db.begin() as conn:
        due = _order(conn, "205-0000001-0000001", ship_by=NOW + dt.timedelta(hours=10), created=NOW - dt.timedelta(hours=2))
        _item(conn, due, url, "AI-1")
        later = _order(conn, "205-0000002-0000002", ship_by=NOW + dt.timedelta(days=3), created=NOW - dt.timedelta(hours=2))
        _item(conn, later, url, "AI-2")
        new = _order(conn, "205-0000003-0000003", ship_by=NOW + dt.timedelta(hours=5), created=NOW)
        _item(conn, new, url, "AI-3")  # minutes old: the Amazon chain has not had its turn yet
    _tick(dagster_instance, database_resource)
    [body] = webhook.bodies
    doc = body["y3d"]
    assert doc["kind"] == "custom_files_due" and "within 24 h" in doc["title"]
    [entry] = doc["entries"]
    assert entry["label"].startswith("order 205-0000001-0000001 (ship by ") and entry["count"] == 1
    assert entry["detail"].startswith("not downloaded")
    assert "Seller Central" in doc["action"]

    webhook.bodies.clear()
    _tick(dagster_instance, database_resource)
    assert webhook.bodies == []  # same order, already reported
    with clean_db.begin() as conn:  # the file arrives: the condition clears
        conn.execute(sa.insert(AmazonCustomization.__table__).values(
            amazon_order_id="205-0000001-0000001", amazon_order_item_id="AI-1", customized_url=url[0]["value"],
            status="processed"))
    _tick(dagster_instance, database_resource)
    assert webhook.bodies == []


def test_stale_source_once_per_episode_and_business_hours(env, clean_db, database_resource, webhook):
    env.setenv("SHIPSTATION_API_KEY", "k")
    env.setenv("SHIPSTATION_API_SECRET", "s")
    with dg.DagsterInstance.ephemeral() as instance:
        _tick(instance, database_resource)
        [body] = webhook.bodies
        assert body["y3d"]["kind"] == "stale_source" and "never" in body["y3d"]["summary"]
        assert "shipstation_new_orders or shipstation_today_every_10_min is on" in body["y3d"]["action"]
        webhook.bodies.clear()
        _tick(instance, database_resource)
        assert webhook.bodies == []
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_SHIPSTATION_ORDERS,
                                                                    metadata={"configured": True}))
        _tick(instance, database_resource)
        assert _kinds(webhook) == ["stale_source_resolved"]


def test_stale_sources_count_business_hours_only():
    from zoneinfo import ZoneInfo

    from y3d_pipeline import quality
    from y3d_pipeline.business_hours import BusinessHours

    hours = BusinessHours.parse("08:00-20:00", ZoneInfo("Europe/London"))
    now = dt.datetime(2026, 3, 9, 8, 10, tzinfo=dt.UTC)  # Monday 08:10 GMT
    synced = {"shipstation": dt.datetime(2026, 3, 8, 19, 55, tzinfo=dt.UTC)}  # last night before closing
    assert quality.stale_sources(synced, now=now, business_hours=hours) == []  # 15 open minutes
    assert [s["source"] for s in quality.stale_sources(synced, now=now)] == ["shipstation"]  # 12 h without hours
    later = dt.datetime(2026, 3, 9, 8, 40, tzinfo=dt.UTC)
    assert [s["age_minutes"] for s in quality.stale_sources(synced, now=later, business_hours=hours)] == [765.0]
