"""carbonix chain: start, stop and inspect the local L1 and L2 anvil chains."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from carbonix import chain
from carbonix.config import get_settings
from carbonix.exceptions import ChainError
from cli import services

app = typer.Typer(no_args_is_help=True, help="Run the local L1 and L2 chains (anvil).")
console = Console()

L1Port = Annotated[int | None, typer.Option("--l1-port", help="L1 port [default: CARBONIX_L1_PORT or 8545]")]
L2Port = Annotated[int | None, typer.Option("--l2-port", help="L2 port [default: CARBONIX_L2_PORT or 9545]")]
SERVICE_OUTCOMES = {
    "stopped": "stopped (pid {pid})",
    "killed": "killed (pid {pid} did not exit on SIGTERM)",
    "not_running": "was not running (stale pid file removed)",
    "not_ours": "was not running (pid {pid} is another program now; stale pid file removed)",
}


@app.command()
def up(l1_port: L1Port = None, l2_port: L2Port = None) -> None:
    """Start both chains (their state persists under the state folder); no-op if running."""
    settings = get_settings()
    for spec in chain.chains(settings, l1_port, l2_port):
        current = chain.status(spec)
        if current.running:
            console.print(f"{spec.label} already running at {current.url} (pid {current.pid})")
            continue
        try:
            with console.status(f"Starting {spec.label} on {spec.url} ..."):
                started = chain.start(spec, settings)
        except ChainError as err:
            console.print(f"[red]error:[/] {err}")
            raise typer.Exit(1) from err
        console.print(
            f"[green]started[/] {spec.label} at {started.url}"
            f" (chain id {started.chain_id}, block {started.block}, pid {started.pid})"
        )


@app.command()
def down() -> None:
    """Stop the services of the state folder (the demo's indexer and API), then both chains;
    anvil writes their state to disk as it exits."""
    settings = get_settings()
    with console.status("Stopping the services ..."):
        ended = services.stop_services(settings.state_dir)
    for service in ended:
        console.print(f"{service.name}: {SERVICE_OUTCOMES[service.outcome].format(pid=service.pid)}")
    for spec in chain.chains(settings):
        with console.status(f"Stopping {spec.label} ..."):
            stopped = chain.stop(spec)
        console.print(f"{spec.label}: {'stopped' if stopped else 'was not running'}")


@app.command()
def status() -> None:
    """Show URL, chain id, block number, pid and state of both chains."""
    table = Table("chain", "url", "chain id", "block", "pid", "state")
    for spec in chain.chains(get_settings()):
        st = chain.status(spec)
        table.add_row(
            spec.label,
            st.url,
            str(st.chain_id if st.running else spec.chain_id),
            "-" if st.block is None else str(st.block),
            "-" if st.pid is None else str(st.pid),
            "[green]running[/]" if st.running else "[red]stopped[/]",
        )
    console.print(table)
