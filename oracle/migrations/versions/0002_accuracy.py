"""oracle_accuracy: each reading measured against a co-located reference station

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
    op.create_table(
        "oracle_accuracy",
        sa.Column("reading_id", sa.BigInteger(), sa.ForeignKey("oracle_readings.id"), primary_key=True),
        sa.Column("quantity", sa.String(32), primary_key=True),
        sa.Column("device", sa.String(42), nullable=False),
        sa.Column("reference_device", sa.String(42), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("measured", sa.Float(), nullable=False),
        sa.Column("reference_value", sa.Float(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=False),
    )
    op.create_index("ix_oracle_accuracy_device", "oracle_accuracy", ["device", "hour"])


def downgrade() -> None:
    op.drop_table("oracle_accuracy")
