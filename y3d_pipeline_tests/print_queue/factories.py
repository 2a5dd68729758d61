"""Small builders for the rows the print-task tests need (orders, items, Amazon Custom, tasks)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.db.models import AmazonCustomization, Order, OrderItem, PrintTask

PARTITION = "2026-11-20"
IN_WINDOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_numbers = itertools.count(1000)


def opts(**pairs: str) -> list[dict[str, str]]:
    """opts(**{"Name or Text": "Ava"}) → [{"name": "Name or Text", "value": "Ava"}]."""
    return [{"name": k, "value": v} for k, v in pairs.items()]


def add_order(engine: sa.Engine, *, marketplace: str = "etsy", status: str = "awaiting_shipment",
              modified_at: dt.datetime = IN_WINDOW, customer_notes: str | None = None,
              order_number: str | None = None, shipstation_order_id: int | None = None,
              items: list[dict[str, Any]] | None = None) -> tuple[int, list[int]]:
    """Insert an order and its items; returns (order id, item ids)."""
    number = next(_numbers)
    with engine.begin() as conn:
        order_id = conn.execute(sa.insert(Order.__table__).values(
            marketplace=marketplace, order_number=order_number or f"ORD-{number}", status=status,
            order_date=modified_at, modified_at=modified_at, customer_notes=customer_notes,
            shipstation_order_id=shipstation_order_id, ship_by_date=modified_at + dt.timedelta(days=2),
        ).returning(Order.__table__.c.id)).scalar_one()
        item_ids = []
        for position, item in enumerate(items or []):
            values = {"quantity": 1, "sku": "Y3D-KEY-NAME-S", "name": "Personalised Name Keyring - Small",
                      "options": [], "position": position, **item}
            item_ids.append(conn.execute(sa.insert(OrderItem.__table__).values(order_id=order_id, **values)
                                         .returning(OrderItem.__table__.c.id)).scalar_one())
    return order_id, item_ids


def add_amazon_custom(engine: sa.Engine, *, amazon_order_id: str, amazon_order_item_id: str,
                      status: str = "processed", **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(AmazonCustomization.__table__).values(
            amazon_order_id=amazon_order_id, amazon_order_item_id=amazon_order_item_id,
            customized_url="https://custom.example/zip", status=status, **values))


def add_task(engine: sa.Engine, *, order_id: int, item_id: int, task_index: int = 0, status: str = "pending",
             custom_text: str = "Old", quantity: int = 1, source: str = "item_options") -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(PrintTask.__table__).values(
            order_id=order_id, order_item_id=item_id, task_index=task_index, status=status,
            custom_text=custom_text, quantity=quantity, source=source))


def tasks(engine: sa.Engine, item_id: int | None = None) -> list[dict[str, Any]]:
    table = PrintTask.__table__
    stmt = sa.select(table).order_by(table.c.order_item_id, table.c.task_index)
    if item_id is not None:
        stmt = stmt.where(table.c.order_item_id == item_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def table_snapshot(engine: sa.Engine) -> list[tuple]:
    table = PrintTask.__table__
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def update_item(engine: sa.Engine, item_id: int, **values: Any) -> None:
    """Change an item as a later sync would (``updated_at`` moves)."""
    table = OrderItem.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == item_id).values(**values, updated_at=sa.func.now()))


def update_order(engine: sa.Engine, order_id: int, **values: Any) -> None:
    table = Order.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == order_id).values(**values, updated_at=sa.func.now()))


def person_edits(engine: sa.Engine, task_id: int, **values: Any) -> None:
    """What the print-queue UI does when a person starts, edits or reviews a task."""
    table = PrintTask.__table__
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == task_id).values(**values))


def history(engine: sa.Engine, task_id: int | None = None) -> list[dict[str, Any]]:
    from y3d_pipeline.db.models import PrintTaskHistory

    table = PrintTaskHistory.__table__
    stmt = sa.select(table).order_by(table.c.id)
    if task_id is not None:
        stmt = stmt.where(table.c.task_id == task_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]
