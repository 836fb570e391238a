"""carbonix projects: register carbon projects and certify them with TGO proofs."""

from __future__ import annotations

import typer

from carbonix import enums
from carbonix.context import account, open_ledger
from carbonix.exceptions import CarbonixValueError
from cli.commands._common import handle_errors, print_json, tx_line
from cli.commands.tgo import store

app = typer.Typer(no_args_is_help=True, help="Carbon projects (T-VER, Verra, Gold Standard).")


@app.command("register")
@handle_errors
def register(
    who: str = typer.Option(..., "--as", help="Owner account (a verified participant)."),
    project_id: str = typer.Option(..., "--id", help="Project id, e.g. TH-CCEP-2025-0001."),
    standard: str = typer.Option("t_ver", "--standard", help="|".join(enums.members("Standard"))),
    project_type: str = typer.Option(..., "--type", help="|".join(enums.members("ProjectType"))),
    methodology: str = typer.Option(..., "--methodology", help="Methodology, e.g. T-VER-S-METH-13-01."),
    latitude: float = typer.Option(..., "--lat", help="Latitude in degrees."),
    longitude: float = typer.Option(..., "--lon", help="Longitude in degrees."),
) -> None:
    """Register a project the sender owns, proving TGO lists it (registration certifies it too)."""
    owner = account(who)
    entry = store().project_proof(project_id)
    if entry["owner"].lower() != owner.address.lower():
        raise CarbonixValueError(
            f"TGO lists project {project_id} as owned by {entry['owner']}, not {owner.address}: "
            "only the listed owner can register it"
        )
    receipt = open_ledger().register_project(
        owner,
        project_id,
        standard,
        project_type,
        methodology,
        latitude,
        longitude,
        entry["additional"],
        entry["proof"],
    )
    tx_line(
        f"registered project {project_id} (certified, additional={entry['additional']}, epoch {entry['epoch']})",
        receipt,
    )


@app.command("certify")
@handle_errors
def certify(
    project_id: str = typer.Argument(..., help="Project id."),
    who: str = typer.Option("oracle", "--as", help="Account sending the proof (any account may)."),
) -> None:
    """Re-certify a registered project with its proof from the latest TGO project root."""
    entry = store().project_proof(project_id)
    receipt = open_ledger().certify_project(account(who), project_id, entry["additional"], entry["proof"])
    tx_line(
        f"certified {project_id} (additional={entry['additional']}, epoch {entry['epoch']})",
        receipt,
    )


@app.command("show")
@handle_errors
def show(project_id: str = typer.Argument(..., help="Project id.")) -> None:
    """Show a project's on-chain record."""
    print_json(open_ledger().project(project_id))
