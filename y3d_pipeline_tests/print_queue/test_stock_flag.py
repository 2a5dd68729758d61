"""Print tasks of a SKU that ShipStation's inventory tracks with nothing available need review, with the reason,
until stock is back; a SKU the inventory does not know is never flagged (real runs, sandbox stock over HTTP)."""

from __future__ import annotations

from y3d_pipeline.print_queue.validation import ON_HOLD_REASON
from y3d_pipeline_tests.sources.shipstation_catalogue.test_inventory_check import sync_inventory

from .factories import add_order, opts, tasks


def test_print_tasks_of_a_sold_out_sku_need_review_until_stock_is_back(fresh_sandbox, database_resource,
                                                                        dagster_instance, runner_without_ai,
                                                                        clean_db):
    sync_inventory(fresh_sandbox, database_resource, dagster_instance)  # Y3D-PET-TAG-S: none on hand
    _, [sold_out, in_stock, untracked] = add_order(clean_db, items=[
        {"sku": "Y3D-PET-TAG-S", "name": "Personalised Pet Tag - Small", "options": opts(Name="Rex", Color="Red")},
        {"sku": "Y3D-KEY-NAME-S", "options": opts(Name="Ava", Color="Blue")},
        {"sku": "HANDMADE-ONE-OFF", "options": opts(Name="Eve", Color="Black")}])
    _, [held] = add_order(clean_db, status="on_hold", items=[
        {"sku": "Y3D-DOOR-SGN-L", "name": "Door Sign", "options": opts(Name="No 7", Color="Black")}])
    runner_without_ai.run()
    [flagged] = tasks(clean_db, sold_out)
    assert flagged["custom_text"] == "Rex" and flagged["needs_review"]
    assert flagged["review_reason"] == ("No blanks in stock: ShipStation inventory has 0 available of SKU "
                                        "Y3D-PET-TAG-S: check stock before printing")
    for item in (in_stock, untracked):  # in stock, and a SKU the inventory does not know: no flag
        [task] = tasks(clean_db, item)
        assert (task["needs_review"], task["review_reason"]) == (False, None)
    [both] = tasks(clean_db, held)  # everything allocated is nothing available; the reasons add up
    assert both["review_reason"].startswith(ON_HOLD_REASON) and "SKU Y3D-DOOR-SGN-L" in both["review_reason"]

    fresh_sandbox.state.catalogue.set_level("Y3D-PET-TAG-S", "se-loc-1101", on_hand=30, allocated=2)
    sync_inventory(fresh_sandbox, database_resource, dagster_instance)
    runner_without_ai.run()
    [restocked] = tasks(clean_db, sold_out)
    assert (restocked["id"], restocked["needs_review"], restocked["review_reason"]) == (flagged["id"], False, None)
