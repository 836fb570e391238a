"""One way to open a SQL database for the services (oracle store, indexer): SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event


def normalize_url(url: str) -> str:
    """``postgresql://`` means the psycopg 3 driver here."""
    return "postgresql+psycopg://" + url[len("postgresql://") :] if url.startswith("postgresql://") else url


def open_sql_engine(url: str, foreign_keys: bool = False, **pool: Any) -> Engine:
    """An engine on ``url``. SQLite gets WAL, a 30 s busy timeout and normal sync, so one writer and
    several readers (or two writers, taking turns) share the file; PostgreSQL gets pre-ping."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, **pool)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def run_migrations(
    engine: Engine, migrations: Path, revision: str = "head", found: Callable[[Connection], str | None] | None = None
) -> None:
    """Runs the Alembic scripts in ``migrations`` up to ``revision`` in one transaction, on the
    engine's own connection (each ``env.py`` reads it from ``config.attributes["connection"]``).
    ``found`` names the revision a database made before its migrations is at; it is stamped first."""
    config = Config()
    config.set_main_option("script_location", str(migrations))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        stamp = found(conn) if found is not None else None
        if stamp is not None:
            command.stamp(config, stamp)
        command.upgrade(config, revision)
