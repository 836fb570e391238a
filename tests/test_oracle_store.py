"""The oracle store's schema (oracle/store.py, oracle/migrations/), on a SQLite file and on the
running PostgreSQL: the migrations build exactly the tables the code writes; a store made before
the migrations, in each shape an operator could have, is stamped, brought to head and loses
nothing; and a database shared with the indexer keeps the two version tables apart."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from eth_account import Account
from sqlalchemy import Engine, insert, inspect, select, text
from test_accuracy import DOMAIN, LUMPINI, T0, _message, _record

from carbonix.sql import open_sql_engine
from indexer import db
from indexer import models as indexer_models
from oracle import store
from oracle.devices import StaticDirectory
from oracle.pipeline import Pipeline

OLD_DEVICE = "0x" + "ab" * 20
HEAD = ScriptDirectory(str(store.MIGRATIONS)).get_current_head()


def schema_differences(engine: Engine) -> list[object]:
    """What Alembic would change to make the database's oracle tables equal ``store.metadata``."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": store.VERSION_TABLE,
                "include_name": lambda name, kind, _parent: kind != "table" or name.startswith("oracle_"),
            },
        )
        return list(compare_metadata(context, store.metadata))


def head(engine: Engine, table: str) -> str:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT version_num FROM {table}")).scalar_one()


def test_the_migrations_build_exactly_the_tables_the_code_writes(database_url: str) -> None:
    engine = store.open_engine(database_url)
    try:
        assert schema_differences(engine) == []
        assert head(engine, store.VERSION_TABLE) == HEAD
    finally:
        engine.dispose()
    store.open_engine(database_url).dispose()  # a second open finds nothing to do


@pytest.mark.parametrize(
    "shape",
    [
        "0001",  # the oracle as it first shipped
        "0002",  # oracle_accuracy made by create_all, no reference_method yet
        "0003",  # create_all of the last schema before the migrations
    ],
)
def test_a_store_made_before_the_migrations_is_brought_to_head_losing_nothing(database_url: str, shape: str) -> None:
    engine = open_sql_engine(database_url, foreign_keys=True)
    store.upgrade(engine, shape)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {store.VERSION_TABLE}"))  # create_all kept no version
        conn.execute(
            text(
                "INSERT INTO oracle_devices (device, owner, project_key, project_type, sensor_type, status,"
                " approved, certified_until, history, refreshed_at)"
                " VALUES (:d, :d, :k, '', 'pm25', 'active', true, 1, '', 1)"
            ),
            {"d": OLD_DEVICE, "k": "0x" + "22" * 32},
        )
        conn.execute(
            insert(store.messages).values(
                digest="0x" + "01" * 32, device=OLD_DEVICE, topic="t", received_at=1, reading_count=0, payload="{}"
            )
        )
        assert store.unversioned_revision(conn) == shape
    engine.dispose()

    engine = store.open_engine(database_url)
    try:
        assert schema_differences(engine) == []
        assert head(engine, store.VERSION_TABLE) == HEAD
        with engine.connect() as conn:
            old = conn.execute(select(store.devices).where(store.devices.c.device == OLD_DEVICE)).one()
            assert old.reference_method is False and old.sensor_type == "pm25"
            assert conn.execute(select(store.messages.c.digest)).scalars().all() == ["0x" + "01" * 32]
        key = Account.create().key
        device = Account.from_key(key).address
        pipeline = Pipeline(engine, StaticDirectory({device: _record(device, LUMPINI, True)}), DOMAIN)
        assert pipeline.ingest([_message(key, 1, T0, 300)]).accepted_readings == 1
        with engine.connect() as conn:
            assert conn.execute(
                select(store.devices.c.reference_method).where(store.devices.c.device == device)
            ).scalar_one()
    finally:
        engine.dispose()


def test_an_empty_database_is_not_taken_for_an_old_store(database_url: str) -> None:
    engine = open_sql_engine(database_url)
    try:
        with engine.connect() as conn:
            assert store.unversioned_revision(conn) is None
    finally:
        engine.dispose()


def test_the_store_and_the_indexer_share_one_postgresql_database(postgres_url: str) -> None:
    store.open_engine(postgres_url).dispose()
    indexer = db.open_engine(postgres_url)
    oracle = store.open_engine(postgres_url)  # after the indexer: its version table is not the store's
    try:
        assert head(oracle, store.VERSION_TABLE) == HEAD
        assert head(indexer, "alembic_version") == ScriptDirectory(str(db.MIGRATIONS)).get_current_head()
        assert schema_differences(oracle) == []
        names = set(inspect(indexer).get_table_names())
        assert set(indexer_models.Base.metadata.tables) <= names
        assert set(store.metadata.tables) <= names
    finally:
        oracle.dispose()
        indexer.dispose()
