"""oracle_devices.reference_method: a verifier's designation of a reference station, as last read
from the SensorRegistry

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
    with op.batch_alter_table("oracle_devices") as batch:
        batch.add_column(sa.Column("reference_method", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("oracle_devices") as batch:
        batch.drop_column("reference_method")
