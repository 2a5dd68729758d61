"""print_queue/shipstation_writeback: off unless Y3D_WRITEBACK_ENABLED=true (a dry run always works)."""

# No "from __future__ import annotations": Dagster reads the Config and resource annotations at runtime.

import dagster as dg

from y3d_pipeline.defs.constants import (
    GROUP_PRINT_QUEUE,
    POOL_SHIPSTATION,
    PRINT_TASKS,
    SHIPSTATION_WRITEBACK,
)
from y3d_pipeline.defs.resources import DatabaseResource, ShopResource
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline.print_queue import repository
from y3d_pipeline.print_queue.writeback import run_writeback


class WritebackConfig(dg.Config):
    dry_run: bool = False
    """GET the orders and show the diff of what would be pushed; post nothing."""
    order_ids: list[str] = []
    """Only these orders (our id, order number or ShipStation order id)."""
    limit: int | None = None


@dg.asset(
    key=SHIPSTATION_WRITEBACK,
    deps=[PRINT_TASKS],
    group_name=GROUP_PRINT_QUEUE,
    pool=POOL_SHIPSTATION,
    kinds={"postgres", "shipstation"},
    output_required=False,
    description=(
        "Pushes resolved personalization to ShipStation: item options 'Name or Text', 'Colour 1', 'Colour 2' "
        "and a packing list in the order's internal notes (GET, then full-order POST /orders/createorder keeping "
        "orderId for split orders). Editable statuses only; orders whose pushed content is unchanged are "
        "skipped. Off unless Y3D_WRITEBACK_ENABLED=true, in which case it materializes nothing; dry_run shows "
        "the diff."
    ),
)
def shipstation_writeback(context: dg.AssetExecutionContext, config: WritebackConfig, database: DatabaseResource,
                          shipstation: ShipStationResource, shop: ShopResource):
    if not shop.settings.writeback_enabled and not config.dry_run:
        context.log.info("ShipStation write-back is off (Y3D_WRITEBACK_ENABLED is not true): nothing pushed")
        return
    if not shipstation.configured:
        context.log.warning(f"{shipstation.NOT_CONFIGURED_NOTE}: nothing pushed")
        return
    with database.engine.connect() as conn:
        orders = repository.load_writeback_orders(conn, order_refs=config.order_ids, limit=config.limit)
    with shipstation.client() as client:
        report = run_writeback(orders, client, dry_run=config.dry_run)
    for failure in report.orders_failed:
        context.log.error(f"write-back of order {failure['order_number']} failed: {failure['reason']}")
    metadata = {
        "dry_run": report.dry_run,
        "orders_considered": report.orders_considered,
        "orders_pushed": report.orders_pushed,
        "orders_unchanged": report.orders_unchanged,
        "orders_not_editable": dg.MetadataValue.json(report.orders_not_editable),
        "orders_failed": dg.MetadataValue.json(report.orders_failed),
        "items_pushed": report.items_pushed,
        "items_waiting_for_review": report.items_waiting_for_review,
    }
    if report.dry_run:
        metadata["diff"] = dg.MetadataValue.json(report.diff)
    yield dg.MaterializeResult(metadata=metadata)
