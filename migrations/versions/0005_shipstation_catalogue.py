"""ShipStation catalogue and stock: raw_shipstation_catalogue, warehouses, inventory_locations, inventory_levels,
inventory_level_history, and the catalogue's columns on products

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "raw_shipstation_catalogue",
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source_modified_at", TZ, nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("fetched_at", TZ, nullable=False),
        sa.Column("first_fetched_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("record_key", name=op.f("pk_raw_shipstation_catalogue")),
    )
    op.create_index(op.f("ix_raw_shipstation_catalogue_kind"), "raw_shipstation_catalogue", ["kind"], unique=False)
    op.create_table(
        "warehouses",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.Text(), nullable=True),
        sa.Column("source_created_at", TZ, nullable=True),
        sa.Column("source_updated_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('ship_from', 'inventory')", name=op.f("ck_warehouses_kind_known")),
        sa.PrimaryKeyConstraint("kind", "source_id", name=op.f("pk_warehouses")),
    )
    op.create_table(
        "inventory_locations",
        sa.Column("inventory_location_id", sa.Text(), nullable=False),
        sa.Column("inventory_warehouse_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("source_created_at", TZ, nullable=True),
        sa.Column("source_updated_at", TZ, nullable=True),
        sa.Column("updated_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("inventory_location_id", name=op.f("pk_inventory_locations")),
    )
    op.create_index(op.f("ix_inventory_locations_inventory_warehouse_id"), "inventory_locations",
                    ["inventory_warehouse_id"], unique=False)
    op.create_table(
        "inventory_levels",
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("inventory_location_id", sa.Text(), nullable=False),
        sa.Column("inventory_warehouse_id", sa.Text(), nullable=True),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("average_cost", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("average_cost_currency", sa.Text(), nullable=True),
        sa.Column("synced_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("sku", "inventory_location_id", name=op.f("pk_inventory_levels")),
    )
    op.create_table(
        "inventory_level_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("inventory_location_id", sa.Text(), nullable=False),
        sa.Column("inventory_warehouse_id", sa.Text(), nullable=True),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("old_on_hand", sa.Integer(), nullable=True),
        sa.Column("new_on_hand", sa.Integer(), nullable=True),
        sa.Column("old_allocated", sa.Integer(), nullable=True),
        sa.Column("new_allocated", sa.Integer(), nullable=True),
        sa.Column("old_available", sa.Integer(), nullable=True),
        sa.Column("new_available", sa.Integer(), nullable=True),
        sa.Column("observed_at", TZ, nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.CheckConstraint("change IN ('new', 'changed', 'removed')",
                           name=op.f("ck_inventory_level_history_change_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_level_history")),
    )
    op.create_index(op.f("ix_inventory_level_history_sku_observed_at"), "inventory_level_history",
                    ["sku", "observed_at"], unique=False)
    op.add_column("products", sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True))
    op.add_column("products", sa.Column("default_cost", sa.Numeric(precision=12, scale=2), nullable=True))
    op.add_column("products", sa.Column("active", sa.Boolean(), nullable=True))
    op.add_column("products", sa.Column("category", sa.Text(), nullable=True))
    op.add_column("products", sa.Column("product_type", sa.Text(), nullable=True))
    op.add_column("products", sa.Column("catalogue_modified_at", TZ, nullable=True))


def downgrade() -> None:
    for column in ("catalogue_modified_at", "product_type", "category", "active", "default_cost", "price"):
        op.drop_column("products", column)
    op.drop_index(op.f("ix_inventory_level_history_sku_observed_at"), table_name="inventory_level_history")
    op.drop_table("inventory_level_history")
    op.drop_table("inventory_levels")
    op.drop_index(op.f("ix_inventory_locations_inventory_warehouse_id"), table_name="inventory_locations")
    op.drop_table("inventory_locations")
    op.drop_table("warehouses")
    op.drop_index(op.f("ix_raw_shipstation_catalogue_kind"), table_name="raw_shipstation_catalogue")
    op.drop_table("raw_shipstation_catalogue")
