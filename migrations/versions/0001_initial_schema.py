"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 05:07:30.271800
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('customer_key', sa.Text(), nullable=False),
    sa.Column('shipstation_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('username', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('street1', sa.Text(), nullable=True),
    sa.Column('street2', sa.Text(), nullable=True),
    sa.Column('street3', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('state', sa.Text(), nullable=True),
    sa.Column('postal_code', sa.Text(), nullable=True),
    sa.Column('country_code', sa.String(length=2), nullable=True),
    sa.Column('is_residential', sa.Boolean(), nullable=True),
    sa.Column('address_verified', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('customer_key', name=op.f('uq_customers_customer_key')),
    sa.UniqueConstraint('shipstation_customer_id', name=op.f('uq_customers_shipstation_customer_id'))
    )
    op.create_index(op.f('ix_customers_email'), 'customers', ['email'], unique=False)
    op.create_table('normalization_failures',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('source_id', sa.Text(), nullable=False),
    sa.Column('partition_key', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('occurrences', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_normalization_failures')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_normalization_failures_source_source_id'))
    )
    op.create_index('ix_normalization_failures_open', 'normalization_failures', ['source'], unique=False, postgresql_where=sa.text('resolved_at IS NULL'))
    op.create_table('products',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('sku', sa.Text(), nullable=True),
    sa.Column('shipstation_product_id', sa.BigInteger(), nullable=True),
    sa.Column('shopify_product_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('name_is_placeholder', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('weight_value', sa.Numeric(precision=12, scale=4), nullable=True),
    sa.Column('weight_units', sa.Text(), nullable=True),
    sa.Column('fulfillment_sku', sa.Text(), nullable=True),
    sa.Column('upc', sa.Text(), nullable=True),
    sa.Column('warehouse_location', sa.Text(), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('sku IS NOT NULL OR shipstation_product_id IS NOT NULL OR shopify_product_id IS NOT NULL', name=op.f('ck_products_has_natural_key')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('shipstation_product_id', name=op.f('uq_products_shipstation_product_id')),
    sa.UniqueConstraint('shopify_product_id', name=op.f('uq_products_shopify_product_id')),
    sa.UniqueConstraint('sku', name=op.f('uq_products_sku'))
    )
    op.create_table('raw_amazon_orders',
    sa.Column('amazon_order_id', sa.Text(), nullable=False),
    sa.Column('order_status', sa.Text(), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_fetched_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('amazon_order_id', name=op.f('pk_raw_amazon_orders'))
    )
    op.create_index(op.f('ix_raw_amazon_orders_source_modified_at'), 'raw_amazon_orders', ['source_modified_at'], unique=False)
    op.create_table('raw_shipstation_orders',
    sa.Column('shipstation_order_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('order_number', sa.Text(), nullable=True),
    sa.Column('order_key', sa.Text(), nullable=True),
    sa.Column('order_status', sa.Text(), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_fetched_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('shipstation_order_id', name=op.f('pk_raw_shipstation_orders'))
    )
    op.create_index(op.f('ix_raw_shipstation_orders_source_modified_at'), 'raw_shipstation_orders', ['source_modified_at'], unique=False)
    op.create_table('raw_shipstation_shipments',
    sa.Column('shipstation_shipment_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('shipstation_order_id', sa.BigInteger(), nullable=True),
    sa.Column('ship_date', sa.Date(), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_fetched_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('shipstation_shipment_id', name=op.f('pk_raw_shipstation_shipments'))
    )
    op.create_index(op.f('ix_raw_shipstation_shipments_ship_date'), 'raw_shipstation_shipments', ['ship_date'], unique=False)
    op.create_index(op.f('ix_raw_shipstation_shipments_shipstation_order_id'), 'raw_shipstation_shipments', ['shipstation_order_id'], unique=False)
    op.create_table('raw_shopify_orders',
    sa.Column('shopify_order_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('order_name', sa.Text(), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_fetched_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('shopify_order_id', name=op.f('pk_raw_shopify_orders'))
    )
    op.create_index(op.f('ix_raw_shopify_orders_source_modified_at'), 'raw_shopify_orders', ['source_modified_at'], unique=False)
    op.create_table('stores',
    sa.Column('shipstation_store_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('marketplace_name', sa.Text(), nullable=True),
    sa.Column('marketplace', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('shipstation_store_id', name=op.f('pk_stores'))
    )
    op.create_table('tags',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('shipstation_tag_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('color_hex', sa.String(length=16), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('shipstation_tag_id', name=op.f('uq_tags_shipstation_tag_id'))
    )
    op.create_index(op.f('ix_tags_name'), 'tags', ['name'], unique=False)
    op.create_table('orders',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('marketplace', sa.Text(), nullable=True),
    sa.Column('order_number', sa.Text(), nullable=True),
    sa.Column('order_key', sa.Text(), nullable=True),
    sa.Column('shipstation_order_id', sa.BigInteger(), nullable=True),
    sa.Column('shopify_order_id', sa.BigInteger(), nullable=True),
    sa.Column('amazon_order_id', sa.Text(), nullable=True),
    sa.Column('shipstation_store_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('order_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ship_by_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tracking_number', sa.Text(), nullable=True),
    sa.Column('carrier_code', sa.Text(), nullable=True),
    sa.Column('service_code', sa.Text(), nullable=True),
    sa.Column('shipment_status', sa.Text(), nullable=True),
    sa.Column('requested_shipping_service', sa.Text(), nullable=True),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('customer_name', sa.Text(), nullable=True),
    sa.Column('customer_email', sa.Text(), nullable=True),
    sa.Column('customer_notes', sa.Text(), nullable=True),
    sa.Column('internal_notes', sa.Text(), nullable=True),
    sa.Column('gift', sa.Boolean(), nullable=True),
    sa.Column('gift_message', sa.Text(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('order_total', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('amount_paid', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('tax_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('shipping_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('ship_to', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('merged_or_split', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('parent_shipstation_order_id', sa.BigInteger(), nullable=True),
    sa.Column('merged_shipstation_order_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('sources', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('reconciliation_status', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('amazon_order_id', name=op.f('uq_orders_amazon_order_id')),
    sa.UniqueConstraint('shipstation_order_id', name=op.f('uq_orders_shipstation_order_id')),
    sa.UniqueConstraint('shopify_order_id', name=op.f('uq_orders_shopify_order_id'))
    )
    op.create_index(op.f('ix_orders_customer_id'), 'orders', ['customer_id'], unique=False)
    op.create_index(op.f('ix_orders_marketplace'), 'orders', ['marketplace'], unique=False)
    op.create_index(op.f('ix_orders_marketplace_order_number'), 'orders', ['marketplace', 'order_number'], unique=False)
    op.create_index(op.f('ix_orders_modified_at'), 'orders', ['modified_at'], unique=False)
    op.create_index(op.f('ix_orders_order_key'), 'orders', ['order_key'], unique=False)
    op.create_index(op.f('ix_orders_ship_by_date'), 'orders', ['ship_by_date'], unique=False)
    op.create_index(op.f('ix_orders_status'), 'orders', ['status'], unique=False)
    op.create_table('product_variants',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=False),
    sa.Column('shopify_variant_id', sa.BigInteger(), nullable=False),
    sa.Column('sku', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('source_modified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_variants_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_variants')),
    sa.UniqueConstraint('shopify_variant_id', name=op.f('uq_product_variants_shopify_variant_id'))
    )
    op.create_index(op.f('ix_product_variants_product_id'), 'product_variants', ['product_id'], unique=False)
    op.create_index(op.f('ix_product_variants_sku'), 'product_variants', ['sku'], unique=False)
    op.create_table('ai_calls',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=True),
    sa.Column('order_number', sa.Text(), nullable=True),
    sa.Column('marketplace', sa.Text(), nullable=True),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('prompt_version', sa.Text(), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('request', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('raw_response', sa.Text(), nullable=True),
    sa.Column('tokens_in', sa.Integer(), nullable=True),
    sa.Column('tokens_out', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('tasks_created', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('review_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ai_calls_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_calls'))
    )
    op.create_index(op.f('ix_ai_calls_created_at'), 'ai_calls', ['created_at'], unique=False)
    op.create_index(op.f('ix_ai_calls_input_hash'), 'ai_calls', ['input_hash'], unique=False)
    op.create_index(op.f('ix_ai_calls_order_id'), 'ai_calls', ['order_id'], unique=False)
    op.create_table('order_items',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('shipstation_order_item_id', sa.BigInteger(), nullable=True),
    sa.Column('line_item_key', sa.Text(), nullable=True),
    sa.Column('shopify_line_item_id', sa.BigInteger(), nullable=True),
    sa.Column('amazon_order_item_id', sa.Text(), nullable=True),
    sa.Column('position', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('sku', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('reconciliation_status', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_items_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_items_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_items_product_id_products'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_items')),
    sa.UniqueConstraint('amazon_order_item_id', name=op.f('uq_order_items_amazon_order_item_id')),
    sa.UniqueConstraint('shipstation_order_item_id', name=op.f('uq_order_items_shipstation_order_item_id')),
    sa.UniqueConstraint('shopify_line_item_id', name=op.f('uq_order_items_shopify_line_item_id'))
    )
    op.create_index(op.f('ix_order_items_line_item_key'), 'order_items', ['line_item_key'], unique=False)
    op.create_index(op.f('ix_order_items_order_id'), 'order_items', ['order_id'], unique=False)
    op.create_index(op.f('ix_order_items_product_id'), 'order_items', ['product_id'], unique=False)
    op.create_index(op.f('ix_order_items_sku'), 'order_items', ['sku'], unique=False)
    op.create_table('order_tags',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('tag_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_tags_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_order_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'tag_id', name=op.f('pk_order_tags'))
    )
    op.create_index(op.f('ix_order_tags_tag_id'), 'order_tags', ['tag_id'], unique=False)
    op.create_table('amazon_customizations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('amazon_order_id', sa.Text(), nullable=False),
    sa.Column('amazon_order_item_id', sa.Text(), nullable=False),
    sa.Column('order_item_id', sa.BigInteger(), nullable=True),
    sa.Column('customized_url', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('retry_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('zip_sha256', sa.String(length=64), nullable=True),
    sa.Column('raw_json', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('layout', sa.Text(), nullable=True),
    sa.Column('custom_text', sa.Text(), nullable=True),
    sa.Column('font', sa.Text(), nullable=True),
    sa.Column('color_1', sa.Text(), nullable=True),
    sa.Column('color_2', sa.Text(), nullable=True),
    sa.Column('surfaces', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('partition_key', sa.Text(), nullable=True),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'processed', 'failed', 'rejected')", name=op.f('ck_amazon_customizations_status_known')),
    sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'], name=op.f('fk_amazon_customizations_order_item_id_order_items'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_amazon_customizations')),
    sa.UniqueConstraint('amazon_order_id', 'amazon_order_item_id', name=op.f('uq_amazon_customizations_amazon_order_id_amazon_order_item_id'))
    )
    op.create_index(op.f('ix_amazon_customizations_order_item_id'), 'amazon_customizations', ['order_item_id'], unique=False)
    op.create_index(op.f('ix_amazon_customizations_status'), 'amazon_customizations', ['status'], unique=False)
    op.create_table('print_tasks',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('order_item_id', sa.BigInteger(), nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('task_index', sa.Integer(), nullable=False),
    sa.Column('custom_text', sa.Text(), nullable=True),
    sa.Column('color_1', sa.Text(), nullable=True),
    sa.Column('color_2', sa.Text(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('needs_review', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('annotation', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=True),
    sa.Column('ship_by_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source IN ('amazon_customization', 'item_options', 'ai', 'placeholder')", name=op.f('ck_print_tasks_source_known')),
    sa.CheckConstraint("status IN ('pending', 'in_progress', 'completed', 'cancelled')", name=op.f('ck_print_tasks_status_known')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_print_tasks_quantity_positive')),
    sa.CheckConstraint('task_index >= 0', name=op.f('ck_print_tasks_task_index_non_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_print_tasks_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'], name=op.f('fk_print_tasks_order_item_id_order_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_print_tasks_product_id_products'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_print_tasks')),
    sa.UniqueConstraint('order_item_id', 'task_index', name=op.f('uq_print_tasks_order_item_id_task_index'))
    )
    op.create_index(op.f('ix_print_tasks_needs_review'), 'print_tasks', ['needs_review'], unique=False)
    op.create_index(op.f('ix_print_tasks_order_id'), 'print_tasks', ['order_id'], unique=False)
    op.create_index(op.f('ix_print_tasks_ship_by_date'), 'print_tasks', ['ship_by_date'], unique=False)
    op.create_index(op.f('ix_print_tasks_status'), 'print_tasks', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_print_tasks_status'), table_name='print_tasks')
    op.drop_index(op.f('ix_print_tasks_ship_by_date'), table_name='print_tasks')
    op.drop_index(op.f('ix_print_tasks_order_id'), table_name='print_tasks')
    op.drop_index(op.f('ix_print_tasks_needs_review'), table_name='print_tasks')
    op.drop_table('print_tasks')
    op.drop_index(op.f('ix_amazon_customizations_status'), table_name='amazon_customizations')
    op.drop_index(op.f('ix_amazon_customizations_order_item_id'), table_name='amazon_customizations')
    op.drop_table('amazon_customizations')
    op.drop_index(op.f('ix_order_tags_tag_id'), table_name='order_tags')
    op.drop_table('order_tags')
    op.drop_index(op.f('ix_order_items_sku'), table_name='order_items')
    op.drop_index(op.f('ix_order_items_product_id'), table_name='order_items')
    op.drop_index(op.f('ix_order_items_order_id'), table_name='order_items')
    op.drop_index(op.f('ix_order_items_line_item_key'), table_name='order_items')
    op.drop_table('order_items')
    op.drop_index(op.f('ix_ai_calls_order_id'), table_name='ai_calls')
    op.drop_index(op.f('ix_ai_calls_input_hash'), table_name='ai_calls')
    op.drop_index(op.f('ix_ai_calls_created_at'), table_name='ai_calls')
    op.drop_table('ai_calls')
    op.drop_index(op.f('ix_product_variants_sku'), table_name='product_variants')
    op.drop_index(op.f('ix_product_variants_product_id'), table_name='product_variants')
    op.drop_table('product_variants')
    op.drop_index(op.f('ix_orders_status'), table_name='orders')
    op.drop_index(op.f('ix_orders_ship_by_date'), table_name='orders')
    op.drop_index(op.f('ix_orders_order_key'), table_name='orders')
    op.drop_index(op.f('ix_orders_modified_at'), table_name='orders')
    op.drop_index(op.f('ix_orders_marketplace_order_number'), table_name='orders')
    op.drop_index(op.f('ix_orders_marketplace'), table_name='orders')
    op.drop_index(op.f('ix_orders_customer_id'), table_name='orders')
    op.drop_table('orders')
    op.drop_index(op.f('ix_tags_name'), table_name='tags')
    op.drop_table('tags')
    op.drop_table('stores')
    op.drop_index(op.f('ix_raw_shopify_orders_source_modified_at'), table_name='raw_shopify_orders')
    op.drop_table('raw_shopify_orders')
    op.drop_index(op.f('ix_raw_shipstation_shipments_shipstation_order_id'), table_name='raw_shipstation_shipments')
    op.drop_index(op.f('ix_raw_shipstation_shipments_ship_date'), table_name='raw_shipstation_shipments')
    op.drop_table('raw_shipstation_shipments')
    op.drop_index(op.f('ix_raw_shipstation_orders_source_modified_at'), table_name='raw_shipstation_orders')
    op.drop_table('raw_shipstation_orders')
    op.drop_index(op.f('ix_raw_amazon_orders_source_modified_at'), table_name='raw_amazon_orders')
    op.drop_table('raw_amazon_orders')
    op.drop_table('products')
    op.drop_index('ix_normalization_failures_open', table_name='normalization_failures', postgresql_where=sa.text('resolved_at IS NULL'))
    op.drop_table('normalization_failures')
    op.drop_index(op.f('ix_customers_email'), table_name='customers')
    op.drop_table('customers')
