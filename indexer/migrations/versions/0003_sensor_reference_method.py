"""sensors.reference_method and its evidence: a verifier's designation of a reference station

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sensors") as batch:
        batch.add_column(sa.Column("reference_method", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reference_evidence_hash", sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sensors") as batch:
        batch.drop_column("reference_evidence_hash")
        batch.drop_column("reference_method")
