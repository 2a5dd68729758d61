"""orders: index order numbers first (order_number, marketplace) instead of (marketplace, order_number).

The data-quality check ``orders_reconciled`` looks up, for each ambiguous order, the other ShipStation rows with
the same order number and ``marketplace IS NOT DISTINCT FROM`` its own, which cannot use the marketplace-first
index as an index condition: each lookup scanned the whole index (34 s for the check after a 365-day backfill
of ~117,000 orders). Order number first serves that lookup and every query that names both columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_orders_order_number_marketplace"), "orders", ["order_number", "marketplace"],
                    unique=False)
    op.drop_index(op.f("ix_orders_marketplace_order_number"), table_name="orders")


def downgrade() -> None:
    op.create_index(op.f("ix_orders_marketplace_order_number"), "orders", ["marketplace", "order_number"],
                    unique=False)
    op.drop_index(op.f("ix_orders_order_number_marketplace"), table_name="orders")
