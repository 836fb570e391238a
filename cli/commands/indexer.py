"""``carbonix indexer``: follow the chains into SQL (see indexer/core.py)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

import typer

from cli.commands._common import console, handle_errors, print_json
from indexer import db
from indexer.core import IndexerConfig, StepResult, count_rows
from indexer.service import chain_indexer, deployments, run

app = typer.Typer(help="The event indexer: chain events to SQL, reorg-safe.", no_args_is_help=True)

DATABASE = typer.Option(None, "--database", help="SQLAlchemy URL (default INDEXER_DATABASE_URL or .state/indexer.db).")


@app.command("run")
@handle_errors
def run_command(
    database: str = DATABASE,
    confirmations: int = typer.Option(0, "--confirmations", min=0, help="Index blocks this far below the head."),
    window: int = typer.Option(64, "--window", min=2, help="Recent blocks kept to detect reorgs (deepest handled)."),
    max_range: int = typer.Option(5000, "--max-range", min=1, help="Most blocks per eth_getLogs."),
    once: bool = typer.Option(False, "--once", help="Catch up to the head, then exit."),
    quiet: bool = typer.Option(False, "--quiet", help="No line per step."),
) -> None:
    """Index the deployment's contracts from their deployment blocks, then follow the head."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    engine = db.open_engine(database)
    config = IndexerConfig(confirmations=confirmations, window=window, max_range=max_range)
    indexers = [chain_indexer(engine, d, config) for d in deployments()]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(
        f"indexer: {engine.url.render_as_string(hide_password=True)}; chains "
        + ", ".join(f"{ix.chain_id} from block {ix.start_block}" for ix in indexers)
    )

    def report(ix, result: StepResult) -> None:  # type: ignore[no-untyped-def]
        if quiet:
            return
        if result.rolled_back_to is not None:
            console.print(f"chain {ix.chain_id}: reorg, rolled back to block {result.rolled_back_to}")
        elif result.blocks:
            console.print(
                f"chain {ix.chain_id}: blocks {result.from_block}-{result.to_block}, {result.events} events",
                highlight=False,
            )

    with contextlib.suppress(KeyboardInterrupt):
        run(indexers, stop.is_set, until_head=once, on_step=report)


@app.command("status")
@handle_errors
def status(database: str = DATABASE) -> None:
    """The cursor of each chain and the row count of each table."""
    engine = db.open_engine(database)
    from sqlalchemy import select

    from indexer import models as m

    with engine.connect() as conn:
        cursors = [
            {"chain_id": c.chain_id, "block_number": c.block_number, "block_hash": c.block_hash}
            for c in conn.execute(select(m.table_of(m.Cursor))).all()
        ]
    print_json({"cursors": cursors, "rows": count_rows(engine)})
