"""``y3d status`` on a real instance and database: sources, queue, alerts, automation, last run per job."""

import argparse
import datetime as dt
import json

import dagster as dg
import sqlalchemy as sa

from y3d_pipeline.db.models import NormalizationFailure, Order, OrderItem, PrintTask
from y3d_pipeline.defs.constants import RAW_SHIPSTATION_ORDERS
from y3d_pipeline.paths import PROJECT_ROOT
from y3d_pipeline.runlog import status_cli
from y3d_pipeline.runlog.status import collect_status, format_status
from y3d_pipeline.settings import load_settings


def _seed(engine) -> None:
    with engine.begin() as conn:
        order = conn.execute(sa.insert(Order.__table__).values(order_number="S-1", status="awaiting_shipment")
                             .returning(Order.__table__.c.id)).scalar_one()
        item = conn.execute(sa.insert(OrderItem.__table__).values(order_id=order, quantity=1)
                            .returning(OrderItem.__table__.c.id)).scalar_one()
        conn.execute(sa.insert(PrintTask.__table__), [
            {"order_id": order, "order_item_id": item, "task_index": i, "quantity": 1, "source": "ai",
             "status": "pending", "needs_review": i == 0} for i in range(2)])
        conn.execute(sa.insert(NormalizationFailure.__table__).values(source="shipstation", source_id="9", reason="r"))


def test_status_collects_one_screen(clean_db, pg_instance, monkeypatch):
    monkeypatch.setenv("SHIPSTATION_API_KEY", "k")
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "s")
    monkeypatch.delenv("SHOPIFY_STORE", raising=False)
    _seed(clean_db)
    pg_instance.report_runless_asset_event(dg.AssetMaterialization(RAW_SHIPSTATION_ORDERS,
                                                                   metadata={"configured": True}))
    from y3d_pipeline.definitions import defs

    status = collect_status(pg_instance, defs(), clean_db, load_settings())
    by_source = {s.source: s for s in status.sources}
    assert by_source["shipstation"].configured and not by_source["shopify"].configured
    assert by_source["shipstation"].age_minutes is not None and by_source["shipstation"].age_minutes < 5
    assert by_source["shipstation"].syncing == []  # the sync schedules are off by default
    assert status.automation["shipstation_new_orders"] == "STOPPED"
    assert status.automation["operator_alerts"] == "RUNNING"
    assert status.queue["open_tasks"] == 2 and status.queue["review_tasks"] == 1
    assert status.queue["quarantined_records"] == 1 and status.queue["open_orders"] == 1
    text = format_status(status)
    assert "shipstation  yes" in text and "waiting for review 1" in text and "quarantined records 1" in text
    assert json.loads(json.dumps(status.as_json()))["queue"]["review_tasks"] == 1


def test_status_cli_json(clean_db, app_db_url, pg_dagster_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", app_db_url)
    monkeypatch.setenv("DAGSTER_PG_URL", pg_dagster_url)
    monkeypatch.setenv("DAGSTER_HOME", str(PROJECT_ROOT))
    assert status_cli.run(argparse.Namespace(json=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert {s["source"] for s in data["sources"]} == {"shipstation", "shopify", "amazon"}
    assert dt.datetime.fromisoformat(data["now"]) and "last_runs" in data and "automation" in data
