"""Each data-quality check fails on an inconsistency seeded here and passes once it is fixed."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from y3d_pipeline import quality
from y3d_pipeline.db.models import AmazonCustomization, NormalizationFailure, Order, OrderItem, PrintTask
from y3d_pipeline.defs.automation import quality_checks as qc
from y3d_pipeline_tests.resources import shipstation_resource, shop_resource

NOW = dt.datetime.now(dt.UTC)
OLD = NOW - dt.timedelta(hours=5)
PERSONALISED = [{"name": "Name", "value": "Tom"}, {"name": "Colour 1", "value": "Red"}]


def _order(conn, number, *, status="awaiting_shipment", created_at=OLD, marketplace="amazon", sources=None,
           reconciliation_status=None, amazon_order_id=None, shipstation_order_id=None) -> int:
    values = {"order_number": number, "status": status, "marketplace": marketplace, "created_at": created_at,
              "sources": sources or ["shipstation"], "reconciliation_status": reconciliation_status,
              "amazon_order_id": amazon_order_id, "shipstation_order_id": shipstation_order_id}
    return conn.execute(sa.insert(Order.__table__).values(**values).returning(Order.__table__.c.id)).scalar_one()


def _item(conn, order_id, *, quantity=1, options=None, amazon_item=None) -> int:
    return conn.execute(sa.insert(OrderItem.__table__).values(
        order_id=order_id, quantity=quantity, options=options if options is not None else PERSONALISED,
        amazon_order_item_id=amazon_item, line_item_key=amazon_item,
    ).returning(OrderItem.__table__.c.id)).scalar_one()


def _task(conn, order_id, item_id, *, index=0, quantity=1, status="pending") -> int:
    return conn.execute(sa.insert(PrintTask.__table__).values(
        order_id=order_id, order_item_id=item_id, task_index=index, quantity=quantity, status=status,
        source="item_options", custom_text="Tom",
    ).returning(PrintTask.__table__.c.id)).scalar_one()


def _check(check_fn, database_resource) -> dg.AssetCheckResult:
    return check_fn(database=database_resource)


def test_awaiting_orders_without_tasks(clean_db, database_resource):
    with clean_db.begin() as conn:
        missing = _order(conn, "111-0000001-0000001")
        item = _item(conn, missing)
        fresh = _order(conn, "111-0000002-0000002", created_at=NOW)  # inside the grace period
        _item(conn, fresh)
        plain = _order(conn, "111-0000003-0000003")  # nothing to personalise
        _item(conn, plain, options=[{"name": "_cart", "value": "x"}, {"name": "Gift wrap", "value": ""}])
        shipped = _order(conn, "111-0000004-0000004", status="shipped")
        _item(conn, shipped)
    rows = quality.awaiting_orders_without_tasks(clean_db.connect(), now=NOW)
    assert [r["order_number"] for r in rows] == ["111-0000001-0000001"]
    result = _check(qc.awaiting_orders_have_tasks, database_resource)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["offending_orders"].value == ["111-0000001-0000001"]
    assert "111-0000001-0000001" in result.metadata["findings"].value
    with clean_db.begin() as conn:
        _task(conn, missing, item)
    assert _check(qc.awaiting_orders_have_tasks, database_resource).passed


def test_open_tasks_on_closed_orders(clean_db, database_resource):
    with clean_db.begin() as conn:
        shipped = _order(conn, "1001", status="shipped", marketplace="shopify")
        t1 = _task(conn, shipped, _item(conn, shipped))
        cancelled = _order(conn, "1002", status="cancelled", marketplace="shopify")
        t2 = _task(conn, cancelled, _item(conn, cancelled), status="in_progress")
        done = _order(conn, "1003", status="shipped", marketplace="shopify")
        _task(conn, done, _item(conn, done), status="completed")
        open_order = _order(conn, "1004", marketplace="shopify")
        _task(conn, open_order, _item(conn, open_order))
    result = _check(qc.no_open_tasks_on_closed_orders, database_resource)
    assert not result.passed and result.metadata["offending_orders"].value == ["1001", "1002"]
    with clean_db.begin() as conn:
        conn.execute(sa.update(PrintTask.__table__).where(PrintTask.__table__.c.id == t1).values(status="completed"))
        conn.execute(sa.update(PrintTask.__table__).where(PrintTask.__table__.c.id == t2).values(status="cancelled"))
    assert _check(qc.no_open_tasks_on_closed_orders, database_resource).passed


def test_task_quantities_match_items(clean_db, database_resource):
    with clean_db.begin() as conn:
        order = _order(conn, "2001", marketplace="ebay")
        item = _item(conn, order, quantity=3)
        _task(conn, order, item, index=0, quantity=1)
        _task(conn, order, item, index=1, quantity=1)
        _task(conn, order, item, index=2, quantity=5, status="cancelled")  # cancelled tasks do not count
        ok = _order(conn, "2002", marketplace="ebay")
        ok_item = _item(conn, ok, quantity=2)
        _task(conn, ok, ok_item, quantity=2)
    rows = quality.task_quantity_mismatches(clean_db.connect())
    assert [(r["order_number"], r["item_quantity"], r["task_quantity"]) for r in rows] == [("2001", 3, 2)]
    assert not _check(qc.task_quantities_match_items, database_resource).passed
    with clean_db.begin() as conn:
        _task(conn, order, item, index=3, quantity=1)
    assert _check(qc.task_quantities_match_items, database_resource).passed


def test_customized_url_without_customization(clean_db, database_resource):
    url_option = [{"name": "CustomizedURL", "value": "https://zme-caps.amazon.com/t/abc.zip"}]
    with clean_db.begin() as conn:
        order = _order(conn, "205-1111111-1111111", amazon_order_id="205-1111111-1111111")
        _item(conn, order, options=url_option, amazon_item="11111111111111")
        failed = _order(conn, "205-2222222-2222222")
        failed_item = _item(conn, failed, options=[{"name": "Customized URL", "value": "https://x/y.zip"}],
                            amazon_item="22222222222222")
        conn.execute(sa.insert(AmazonCustomization.__table__).values(
            amazon_order_id="205-2222222-2222222", amazon_order_item_id="22222222222222",
            order_item_id=failed_item, customized_url="https://x/y.zip", status="failed", error="bad zip"))
        fresh = _order(conn, "205-3333333-3333333", created_at=NOW)
        _item(conn, fresh, options=url_option, amazon_item="33333333333333")
    rows = quality.customized_url_without_customization(clean_db.connect(), now=NOW)
    assert [(r["order_number"], r["customization_status"]) for r in rows] == [
        ("205-1111111-1111111", None), ("205-2222222-2222222", "failed")]
    result = _check(qc.customized_urls_parsed, database_resource)
    assert not result.passed and len(result.metadata["offending_orders"].value) == 2
    with clean_db.begin() as conn:
        conn.execute(sa.insert(AmazonCustomization.__table__).values(
            amazon_order_id="205-1111111-1111111", amazon_order_item_id="11111111111111",
            customized_url=url_option[0]["value"], status="processed", custom_text="Tom"))
        conn.execute(sa.update(AmazonCustomization.__table__)
                     .where(AmazonCustomization.__table__.c.order_item_id == failed_item)
                     .values(status="processed", error=None))
    assert _check(qc.customized_urls_parsed, database_resource).passed


def test_unreconciled_orders(clean_db, database_resource):
    with clean_db.begin() as conn:
        mismatch = _order(conn, "3001", marketplace="shopify", sources=["shipstation", "shopify"],
                          reconciliation_status="unmatched", shipstation_order_id=1)
        _order(conn, "3002", marketplace="shopify", sources=["shipstation", "shopify"],
               reconciliation_status="matched", shipstation_order_id=2)
        dup_a = _order(conn, "3003", marketplace="shopify", sources=["shipstation"], shipstation_order_id=3)
        dup_b = _order(conn, "#3003", marketplace="shopify", sources=["shopify"],
                       reconciliation_status="marketplace_only")
        # A split ShipStation order (two ShipStation rows, one number) is not a finding by itself.
        _order(conn, "3004", marketplace="ebay", shipstation_order_id=4)
        _order(conn, "3004", marketplace="ebay", shipstation_order_id=5)
    rows = quality.unreconciled_orders(clean_db.connect())
    assert sorted(r["order_number"] for r in rows) == ["#3003", "3001", "3003"]
    result = _check(qc.orders_reconciled, database_resource)
    assert not result.passed and set(result.metadata["offending_orders"].value) == {"3001", "3003", "#3003"}
    with clean_db.begin() as conn:
        t = Order.__table__
        conn.execute(sa.update(t).where(t.c.id == mismatch).values(reconciliation_status="matched"))
        conn.execute(sa.delete(t).where(t.c.id == dup_b))
        conn.execute(sa.update(t).where(t.c.id == dup_a).values(sources=["shipstation", "shopify"],
                                                                 reconciliation_status="matched"))
    assert _check(qc.orders_reconciled, database_resource).passed


def test_split_orders_reconciled_correctly_are_not_findings(clean_db, database_resource):
    """A Shopify order ShipStation split in two, every line paired by its line item key: the reconciliation
    marks both parts ambiguous (that is what it writes for a split), and that is a correct outcome."""
    def split(conn, number, first_id, statuses):
        ids = []
        for offset, status in enumerate(statuses):
            order = _order(conn, number, marketplace="web", sources=["shipstation", "shopify"],
                           reconciliation_status="ambiguous", shipstation_order_id=first_id + offset)
            conn.execute(sa.insert(OrderItem.__table__).values(order_id=order, quantity=1, options=PERSONALISED,
                                                               reconciliation_status=status))
            ids.append(order)
        return ids

    with clean_db.begin() as conn:
        clean = split(conn, "5001", 50, ["matched", "matched_by_sku"])
        guessed = split(conn, "5002", 60, ["matched", "ambiguous"])  # a line paired among several candidates
        unpaired = split(conn, "5003", 70, ["matched", None])  # a line reconciliation never paired
        lone = _order(conn, "5004", marketplace="web", sources=["shipstation", "shopify"],
                      reconciliation_status="ambiguous", shipstation_order_id=80)  # ambiguous, not a split
    with clean_db.connect() as conn:
        rows = quality.unreconciled_orders(conn)
        splits = quality.clean_split_orders(conn, [*clean, *guessed, *unpaired, lone])
    assert sorted({r["order_number"] for r in rows}) == ["5002", "5003", "5004"]
    assert splits == set(clean)
    result = _check(qc.orders_reconciled, database_resource)
    assert "5001" not in result.metadata["offending_orders"].value


def test_review_backlog_and_custom_files_due(clean_db):
    with clean_db.begin() as conn:
        order = _order(conn, "6001")
        item = _item(conn, order, options=[{"name": "CustomizedURL", "value": "https://x.amazon.com/z.zip"}],
                     amazon_item="AI-9")
        task = _task(conn, order, item)
        conn.execute(sa.update(PrintTask.__table__).where(PrintTask.__table__.c.id == task)
                     .values(needs_review=True, review_reason="Text too long: 40 > 30; No colour given"))
        conn.execute(sa.update(Order.__table__).where(Order.__table__.c.id == order)
                     .values(ship_by_date=NOW + dt.timedelta(hours=6)))
    with clean_db.connect() as conn:
        backlog = quality.review_backlog(conn)
        due = quality.customized_url_without_customization(conn, now=NOW, ship_by_before=NOW + dt.timedelta(hours=24))
        later = quality.customized_url_without_customization(conn, now=NOW, ship_by_before=NOW + dt.timedelta(hours=2))
    assert (backlog["tasks"], backlog["orders"]) == (1, 1) and backlog["reasons"] == {"Text too long: 40 > 30": 1}
    assert [r["order_number"] for r in due] == ["6001"] and due[0]["ship_by_date"] is not None
    assert later == []


def test_quarantined_records(clean_db, database_resource):
    t = NormalizationFailure.__table__
    with clean_db.begin() as conn:
        conn.execute(sa.insert(t), [
            {"source": "shipstation", "source_id": "9001", "partition_key": "2026-03-08", "reason": "no items",
             "acknowledged_at": None, "acknowledged_by": None, "resolved_at": None},
            {"source": "amazon", "source_id": "205-9", "partition_key": "2026-03-08", "reason": "bad date",
             "acknowledged_at": NOW, "acknowledged_by": "ops", "resolved_at": None},
            {"source": "shopify", "source_id": "77", "partition_key": "2026-03-07", "reason": "x",
             "acknowledged_at": None, "acknowledged_by": None, "resolved_at": NOW},
        ])
    result = _check(qc.no_quarantined_records, database_resource)
    assert not result.passed and result.metadata["offending_orders"].value == ["shipstation:9001"]
    assert len(quality.quarantined_records(clean_db.connect(), include_acknowledged=True)) == 2
    with clean_db.begin() as conn:
        conn.execute(sa.update(t).where(t.c.source_id == "9001").values(resolved_at=NOW))
    assert _check(qc.no_quarantined_records, database_resource).passed


def test_stale_sources():
    now = dt.datetime(2026, 3, 8, 12, tzinfo=dt.UTC)
    stale = quality.stale_sources({"shipstation": now - dt.timedelta(minutes=31),
                                   "shopify": now - dt.timedelta(minutes=5), "amazon": None}, now=now)
    assert [(s["source"], s["age_minutes"]) for s in stale] == [("amazon", None), ("shipstation", 31.0)]


def test_freshness_check_reads_the_instance():
    from y3d_pipeline.defs.constants import RAW_SHIPSTATION_ORDERS

    configured = {"shipstation": shipstation_resource({"SHIPSTATION_API_KEY": "k", "SHIPSTATION_API_SECRET": "s",
                                                       "SHIPSTATION_BASE_URL": "http://127.0.0.1:9"}),
                  "shop": shop_resource()}
    check = next(c for c in qc.freshness_checks if any(k.asset_key == RAW_SHIPSTATION_ORDERS for k in c.check_keys))
    with dg.DagsterInstance.ephemeral() as instance:
        def evaluate(resources=configured) -> dg.AssetCheckEvaluation:
            """A real run of the check with these resources (the way the freshness job runs it)."""
            job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(check))
            defs = dg.Definitions(assets=[dg.AssetSpec(RAW_SHIPSTATION_ORDERS)], asset_checks=[check], jobs=[job],
                                  resources=resources)
            [evaluation] = defs.resolve_job_def("freshness").execute_in_process(
                instance=instance).get_asset_check_evaluations()
            return evaluation

        assert not evaluate().passed  # never synced
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_SHIPSTATION_ORDERS,
                                                                    metadata={"configured": False}))
        assert not evaluate().passed  # a no-op is not a sync
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_SHIPSTATION_ORDERS,
                                                                    metadata={"configured": True}))
        result = evaluate()
        assert result.passed and result.metadata["configured"].value is True
        # not configured: nothing to check
        assert evaluate({"shipstation": shipstation_resource(None), "shop": shop_resource()}).passed
