"""Alembic environment of the oracle store. ``oracle.store.upgrade`` runs it on the store's own
connection; its version table is ``oracle_alembic_version``, so the store and the indexer can share
one PostgreSQL database."""

from __future__ import annotations

from alembic import context

from oracle.store import VERSION_TABLE, metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
