"""settlement_payments.kind fits "allowance_claimed"; book, portfolio and trade-page indexes

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("settlement_payments") as batch:
        batch.alter_column("kind", existing_type=sa.String(16), type_=sa.String(24), existing_nullable=False)
    op.drop_index("ix_orders_book", table_name="orders")
    op.create_index("ix_orders_book", "orders", ["market", "status", "period", "side", "tick"])
    op.create_index("ix_orders_owner_status", "orders", ["owner", "status"])
    op.create_index("ix_trades_market_block", "trades", ["market", "block_number", "log_index"])


def downgrade() -> None:
    op.drop_index("ix_trades_market_block", table_name="trades")
    op.drop_index("ix_orders_owner_status", table_name="orders")
    op.drop_index("ix_orders_book", table_name="orders")
    op.create_index("ix_orders_book", "orders", ["market", "status", "side", "tick"])
    with op.batch_alter_table("settlement_payments") as batch:
        batch.alter_column("kind", existing_type=sa.String(24), type_=sa.String(16), existing_nullable=False)
