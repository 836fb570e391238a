"""The indexer's database: where it is, and bringing its schema up to date with Alembic.

SQLite by default (``<state>/indexer.db``), PostgreSQL through ``INDEXER_DATABASE_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Every start runs the migrations to head.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

from carbonix.config import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(option: str | None = None) -> str:
    """``option``, else ``INDEXER_DATABASE_URL``, else the SQLite file in the state folder."""
    url = option or os.environ.get("INDEXER_DATABASE_URL")
    if url:
        return "postgresql+psycopg://" + url[len("postgresql://") :] if url.startswith("postgresql://") else url
    state = get_settings().state_dir
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state}/indexer.db"


def open_engine(url: str | None = None, migrate: bool = True) -> Engine:
    """An engine on the indexer database, migrated to head; SQLite gets WAL and a busy timeout so
    the API reads while the indexer writes."""
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if migrate:
        upgrade(engine)
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
