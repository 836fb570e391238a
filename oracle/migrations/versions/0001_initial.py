"""The oracle store as the oracle first shipped it: devices, messages, readings, rejections, flags,
the batch outbox and the operators' batch signatures

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oracle_devices",
        sa.Column("device", sa.String(42), primary_key=True),
        sa.Column("owner", sa.String(42), nullable=False),
        sa.Column("project_key", sa.String(66), nullable=False),
        sa.Column("project_type", sa.String(32), nullable=False),
        sa.Column("sensor_type", sa.String(32), nullable=False),
        sa.Column("latitude", sa.BigInteger()),
        sa.Column("longitude", sa.BigInteger()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("certified_until", sa.BigInteger(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger()),
        sa.Column("last_timestamp", sa.BigInteger()),
        sa.Column("history", sa.Text(), nullable=False),
        sa.Column("refreshed_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "oracle_messages",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(66), nullable=False, unique=True),
        sa.Column("device", sa.String(42), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("reading_count", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_table(
        "oracle_readings",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.BigInteger(), sa.ForeignKey("oracle_messages.id"), nullable=False),
        sa.Column("device", sa.String(42), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(66), nullable=False),
        sa.Column("measurements", sa.Text(), nullable=False),
        sa.Column("grams_co2e", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("factors", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("own", sa.Text(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("batch_id", sa.String(66)),
        sa.Column("leaf_index", sa.Integer()),
        sa.UniqueConstraint("device", "sequence", name="uq_oracle_readings_device_sequence"),
    )
    op.create_index("ix_oracle_readings_hour", "oracle_readings", ["hour"])
    op.create_index("ix_oracle_readings_batch", "oracle_readings", ["batch_id"])
    op.create_index("ix_oracle_readings_pending", "oracle_readings", ["provisional", "hour"])
    op.create_table(
        "oracle_rejections",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("device", sa.String(42)),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    op.create_index("ix_oracle_rejections_reason", "oracle_rejections", ["reason"])
    op.create_table(
        "oracle_flags",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reading_id", sa.BigInteger(), sa.ForeignKey("oracle_readings.id"), nullable=False),
        sa.Column("project_key", sa.String(66), nullable=False),
        sa.Column("participant", sa.String(42), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.UniqueConstraint("kind", "reading_id", name="uq_oracle_flags_kind_reading"),
    )
    op.create_table(
        "oracle_batches",
        sa.Column("batch_id", sa.String(66), primary_key=True),
        sa.Column("participant", sa.String(42), nullable=False),
        sa.Column("project_key", sa.String(66), nullable=False),
        sa.Column("flow", sa.String(8), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("reading_count", sa.Integer(), nullable=False),
        sa.Column("readings_root", sa.String(66), nullable=False),
        sa.Column("kg_co2e", sa.BigInteger(), nullable=False),
        sa.Column("quality_score", sa.Integer(), nullable=False),
        sa.Column("grade_counts", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("block_number", sa.BigInteger()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("sealed_at", sa.BigInteger(), nullable=False),
        sa.Column("committed_at", sa.BigInteger()),
        sa.UniqueConstraint(
            "participant", "project_key", "flow", "period_start", "part", name="uq_oracle_batches_part"
        ),
    )
    op.create_index("ix_oracle_batches_status", "oracle_batches", ["status"])
    op.create_table(
        "oracle_batch_signatures",
        sa.Column("batch_id", sa.String(66), primary_key=True),
        sa.Column("operator", sa.String(42), primary_key=True),
        sa.Column("digest", sa.String(66), primary_key=True),
        sa.Column("signature", sa.String(132), nullable=False),
        sa.Column("own", sa.Boolean(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "oracle_batch_signatures",
        "oracle_batches",
        "oracle_flags",
        "oracle_rejections",
        "oracle_readings",
        "oracle_messages",
        "oracle_devices",
    ):
        op.drop_table(table)
