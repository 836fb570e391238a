"""carbonix tgo: publish TGO certification roots and hand out proofs."""

from __future__ import annotations

from pathlib import Path

import typer

from carbonix import tgo
from carbonix.config import get_settings
from carbonix.context import account, open_ledger
from cli.commands._common import console, handle_errors, print_json, progress

app = typer.Typer(no_args_is_help=True, help="TGO certification roots and proofs.")


def store() -> tgo.CertificationStore:
    return tgo.CertificationStore(get_settings().state_dir / "tgo")


@app.command("publish")
@handle_errors
def publish(
    orgs: Path = typer.Option(None, "--orgs", help="Certified organisations (CSV or JSON)."),
    projects: Path = typer.Option(None, "--projects", help="Certified projects (CSV or JSON)."),
    sender: str = typer.Option("oracle", "--as", help="Account posting the roots (oracle role)."),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
) -> None:
    """Build the TGO Merkle roots, post them, re-certify who is still listed, save the proofs."""
    if orgs is None and projects is None:
        raise typer.BadParameter("give --orgs, --projects or both")
    org_list = tgo.load_organisations(orgs) if orgs else None
    project_list = tgo.load_projects(projects) if projects else None
    ledger = open_ledger()
    with progress("publishing TGO roots", quiet=as_json) as update:
        result = tgo.publish(
            ledger,
            account("oracle" if sender == "oracle" else sender),
            store(),
            org_list,
            project_list,
            update,
        )
    if as_json:
        print_json(result.__dict__)
        return
    if result.participant_root:
        console.print(
            f"participant root [cyan]{result.participant_root}[/] epoch {result.participant_epoch}, "
            f"re-certified {len(result.recertified_participants)}"
        )
    if result.project_root:
        console.print(
            f"project root [cyan]{result.project_root}[/] epoch {result.project_epoch}, "
            f"re-certified {len(result.recertified_projects)}"
        )
    for tx in result.tx_hashes:
        console.print(f"  tx {tx}")


@app.command("proof")
@handle_errors
def proof(
    org_id: str = typer.Argument(..., help="TGO organisation id, or a project id with --project."),
    project: bool = typer.Option(False, "--project", help="Print a project proof instead."),
) -> None:
    """Print the Merkle proof(s) for an organisation (or a project) from the latest root."""
    print_json(store().project_proof(org_id) if project else store().participant_proofs(org_id))
