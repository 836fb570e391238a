"""carbonix registry: import credits that already exist in another registry."""

from __future__ import annotations

from pathlib import Path

import typer

from carbonix.context import account, open_ledger
from cli.commands._common import console, handle_errors, print_json, progress

app = typer.Typer(no_args_is_help=True, help="Import registry exports (Verra, Gold Standard, T-VER).")


@app.command("import")
@handle_errors
def import_(
    path: Path = typer.Argument(..., help="Registry export (CSV)."),
    fmt: str = typer.Option(..., "--format", help="verra | gold-standard | tver"),
    buffer_bps: int = typer.Option(0, "--buffer-bps", help="Buffer-pool share withheld, basis points."),
    issuer: str = typer.Option("tgo", "--as", help="Issuer account (TGO)."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Tokenize a registry export: all rows or none. Exit 1 when any row is refused."""
    from carbonix.importer import import_file

    with progress(f"importing {path.name}", quiet=as_json) as update:
        summary = import_file(open_ledger(), account(issuer), path, fmt, buffer_bps, progress=update)
    if as_json:
        print_json(summary.as_dict())
    else:
        console.print(
            f"{summary.status}: {summary.rows} rows, {summary.batches_issued} batches, "
            f"{summary.credits_issued:,} credits issued, {summary.buffer_withheld:,} withheld, "
            f"{len(summary.skipped)} skipped (retired at source), {len(summary.refused)} refused"
        )
        for r in summary.refused[:50]:
            console.print(f"  [red]row {r['row']}[/] {r['reason']}: {r['detail']}")
    if summary.status != "imported":
        raise typer.Exit(1)
