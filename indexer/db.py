"""The indexer's database: where it is, and bringing its schema up to date with Alembic.

SQLite by default (``<state>/indexer.db``), PostgreSQL through ``INDEXER_DATABASE_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Every start runs the migrations to head.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from carbonix.config import get_settings
from carbonix.sql import normalize_url, open_sql_engine, run_migrations

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(option: str | None = None) -> str:
    """``option``, else ``INDEXER_DATABASE_URL``, else the SQLite file in the state folder."""
    url = option or os.environ.get("INDEXER_DATABASE_URL")
    if url:
        return normalize_url(url)
    state = get_settings().state_dir
    state.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{state}/indexer.db"


def open_engine(url: str | None = None, migrate: bool = True) -> Engine:
    """An engine on the indexer database, migrated to head; SQLite in WAL mode, so the API reads
    while the indexer writes."""
    engine = open_sql_engine(database_url(url), pool_size=10, max_overflow=20)
    if migrate:
        upgrade(engine)
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    run_migrations(engine, MIGRATIONS, revision)
