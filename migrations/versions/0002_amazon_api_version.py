"""raw_amazon_orders.api_version: which SP-API Orders version fetched the stored payload

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:00:00

Rows stored before v2026-01-01 was supported were fetched with v0, hence the server default.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('raw_amazon_orders', sa.Column('api_version', sa.Text(), server_default='v0', nullable=False))


def downgrade() -> None:
    op.drop_column('raw_amazon_orders', 'api_version')
