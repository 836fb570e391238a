"""The oracle's database: raw signed messages, graded readings, rejections, flags and the outbox.

Nothing is deleted. Every message whose signature checks out is kept verbatim (the seed's D1,
raw emission data) with its readings; each reading carries its 0-100 score, A-F grade, the five
factor scores and the reasons. Every refused message is kept too, with the reason it was refused.
The outbox (``oracle_batches``) holds each batch from the moment it is sealed until its commit is
mined, so a restart after a crash at any point neither loses a reading nor commits a batch twice.
Under an operator quorum, ``oracle_batch_signatures`` keeps the operators' signatures of each batch.

One schema serves SQLite (the embedded default, a file in the state folder) and PostgreSQL
(``ORACLE_DATABASE_URL``, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). The tables
below are the head of the Alembic migrations in ``oracle/migrations/``, which every open applies.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    inspect,
)

from carbonix.config import get_settings
from carbonix.sql import open_sql_engine, run_migrations

metadata = MetaData()

# The sensors the oracle has looked up in the SensorRegistry, and each one's replay and grading
# state. `history` is the grader's per-device trailing state (JSON), written in the same
# transaction as the readings it reflects.
devices = Table(
    "oracle_devices",
    metadata,
    Column("device", String(42), primary_key=True),
    Column("owner", String(42), nullable=False),
    Column("project_key", String(66), nullable=False),
    Column("project_type", String(32), nullable=False, default=""),
    Column("sensor_type", String(32), nullable=False),
    Column("latitude", BigInteger),  # degrees x 1e6, from the SensorRegistered event
    Column("longitude", BigInteger),
    Column("status", String(16), nullable=False),
    Column("approved", Boolean, nullable=False),
    Column("certified_until", BigInteger, nullable=False),
    Column("reference_method", Boolean, nullable=False, server_default=false()),  # a verifier's designation
    Column("last_sequence", BigInteger),
    Column("last_timestamp", BigInteger),
    Column("history", Text, nullable=False, default=""),
    Column("refreshed_at", BigInteger, nullable=False),
)

# Verbatim messages that passed the signature check (one row per signed message).
messages = Table(
    "oracle_messages",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("digest", String(66), nullable=False, unique=True),
    Column("device", String(42), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("received_at", BigInteger, nullable=False),  # unix milliseconds
    Column("reading_count", Integer, nullable=False),
    Column("payload", Text, nullable=False),
)

readings = Table(
    "oracle_readings",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("oracle_messages.id"), nullable=False),
    Column("device", String(42), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("hour", BigInteger, nullable=False),  # timestamp rounded down to the hour (UTC)
    Column("content_hash", String(66), nullable=False),  # EIP-712 hashStruct(Reading), signed
    Column("measurements", Text, nullable=False),  # JSON [[quantity, unit, value, decimals], ...]
    Column("grams_co2e", BigInteger, nullable=False),  # signed: removals are negative
    Column("score", Integer, nullable=False),
    Column("grade", String(1), nullable=False),
    Column("factors", Text, nullable=False),  # JSON {factor: 0-100}
    Column("reasons", Text, nullable=False),  # JSON [str]
    Column("own", Text, nullable=False),  # JSON of the own-series grade, kept to finalize the grade
    Column("provisional", Boolean, nullable=False),  # True until the hour's spatial check has run
    Column("batch_id", String(66)),
    Column("leaf_index", Integer),
    UniqueConstraint("device", "sequence", name="uq_oracle_readings_device_sequence"),
)
Index("ix_oracle_readings_hour", readings.c.hour)
Index("ix_oracle_readings_batch", readings.c.batch_id)
Index("ix_oracle_readings_pending", readings.c.provisional, readings.c.hour)

rejections = Table(
    "oracle_rejections",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", BigInteger, nullable=False),
    Column("topic", String(255), nullable=False),
    Column("device", String(42)),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # the first MAX_KEPT_PAYLOAD bytes, as text (lossy for binary)
)
Index("ix_oracle_rejections_reason", rejections.c.reason)

# Open-burning flags: a PM2.5 reading above the threshold on an agriculture project's sensor.
flags = Table(
    "oracle_flags",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("reading_id", BigInteger, ForeignKey("oracle_readings.id"), nullable=False),
    Column("project_key", String(66), nullable=False),
    Column("participant", String(42), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    UniqueConstraint("kind", "reading_id", name="uq_oracle_flags_kind_reading"),
)

# The outbox: one row per sealed batch, from sealing to the mined commit.
batches = Table(
    "oracle_batches",
    metadata,
    Column("batch_id", String(66), primary_key=True),
    Column("participant", String(42), nullable=False),
    Column("project_key", String(66), nullable=False),
    Column("flow", String(8), nullable=False),
    Column("period_start", BigInteger, nullable=False),
    Column("period_end", BigInteger, nullable=False),
    Column("part", Integer, nullable=False),  # 0, then 1, 2, ... for readings that arrived late
    Column("reading_count", Integer, nullable=False),
    Column("readings_root", String(66), nullable=False),
    Column("kg_co2e", BigInteger, nullable=False),
    Column("quality_score", Integer, nullable=False),
    Column("grade_counts", Text, nullable=False),  # JSON [A, B, C, D, E, F]
    Column("status", String(12), nullable=False),  # pending | committed | failed
    Column("tx_hash", String(66)),
    Column("block_number", BigInteger),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("sealed_at", BigInteger, nullable=False),
    Column("committed_at", BigInteger),
    UniqueConstraint("participant", "project_key", "flow", "period_start", "part", name="uq_oracle_batches_part"),
)
Index("ix_oracle_batches_status", batches.c.status)

# Each reading of a sensor measured against a co-located reference station when its hour was
# finalized (oracle.accuracy): one row per reading and quantity, written once, never updated.
accuracy = Table(
    "oracle_accuracy",
    metadata,
    Column("reading_id", BigInteger, ForeignKey("oracle_readings.id"), primary_key=True),
    Column("quantity", String(32), primary_key=True),
    Column("device", String(42), nullable=False),
    Column("reference_device", String(42), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("measured", Float, nullable=False),
    Column("reference_value", Float, nullable=False),  # median of the reference's values that hour
    Column("distance_m", Integer, nullable=False),
    Column("accuracy", Float, nullable=False),  # percent, 0-100
)
Index("ix_oracle_accuracy_device", accuracy.c.device, accuracy.c.hour)

# Operator signatures of batch digests under an m-of-n quorum (oracle.cosign): this operator's own
# (``own``; ``published`` once the broker has it) and every other operator's that verified. A
# signature over a digest other than this operator's own is kept as evidence and never counted.
batch_signatures = Table(
    "oracle_batch_signatures",
    metadata,
    Column("batch_id", String(66), primary_key=True),
    Column("operator", String(42), primary_key=True),
    Column("digest", String(66), primary_key=True),
    Column("signature", String(132), nullable=False),  # 0x + r || s || v
    Column("own", Boolean, nullable=False),
    Column("published", Boolean, nullable=False),
    Column("received_at", BigInteger, nullable=False),  # unix milliseconds
)

MAX_KEPT_PAYLOAD = 16_384


def default_url(state_dir: str) -> str:
    return f"sqlite:///{state_dir}/oracle.db"


def database_url(option: str | None = None) -> str:
    """``option``, else ORACLE_DATABASE_URL, else the embedded SQLite file in the state folder."""
    return option or os.environ.get("ORACLE_DATABASE_URL") or default_url(str(get_settings().state_dir))


def existing_database_url(option: str | None = None) -> str | None:
    """The store's URL as ``database_url`` finds it, or None when that is the embedded SQLite file
    and it does not exist (a reader must not create an empty store)."""
    url = database_url(option)
    if option or os.environ.get("ORACLE_DATABASE_URL"):
        return url
    return url if (get_settings().state_dir / "oracle.db").is_file() else None


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "oracle_alembic_version"
# A store made before the migrations (by create_all) has no version table; its revision is read
# from what it holds, newest first: (revision, table, column or None).
UNVERSIONED = (
    ("0003", "oracle_devices", "reference_method"),
    ("0002", "oracle_accuracy", None),
    ("0001", "oracle_messages", None),
)


def open_engine(url: str) -> Engine:
    """An engine on the store, migrated to head; SQLite gets WAL and a busy timeout for two writers."""
    engine = open_sql_engine(url, foreign_keys=True)
    upgrade(engine)
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Runs the store's Alembic migrations up to ``revision`` in one transaction."""
    run_migrations(engine, MIGRATIONS, revision, found=unversioned_revision)


def unversioned_revision(conn: Connection) -> str | None:
    """The revision a store without a version table is at, or None (versioned, or empty)."""
    tables = inspect(conn)
    names = set(tables.get_table_names())
    if VERSION_TABLE in names:
        return None
    for revision, table, column in UNVERSIONED:
        if table in names and (column is None or column in {c["name"] for c in tables.get_columns(table)}):
            return revision
    return None
