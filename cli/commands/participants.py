"""carbonix participants: register wallets, verify them with TGO proofs, show them."""

from __future__ import annotations

import typer

from carbonix import enums
from carbonix.context import account, open_ledger
from cli.commands._common import handle_errors, print_json, tx_line
from cli.commands.tgo import store

app = typer.Typer(no_args_is_help=True, help="Participants (rules R1, R2).")


@app.command("register")
@handle_errors
def register(
    who: str = typer.Option(..., "--as", help="Participant account (number or env:VAR)."),
    org_id: str = typer.Option(..., "--org-id", help="TGO organisation id."),
    account_type: str = typer.Option(..., "--type", help="|".join(enums.members("AccountType"))),
    role: str = typer.Option("both", "--role", help="|".join(enums.members("TradeRole"))),
    sector: str = typer.Option(..., "--sector", help="|".join(enums.members("Sector"))),
) -> None:
    """Register a wallet as a participant."""
    ledger = open_ledger()
    receipt = ledger.register_participant(account(who), org_id, account_type, role, sector)
    tx_line(f"registered {account(who).address} as {org_id}", receipt)


@app.command("verify")
@handle_errors
def verify(
    who: str = typer.Option(..., "--as", help="Account sending the proof (any account may)."),
    wallet: str = typer.Option(None, "--wallet", help="Wallet to verify (default: the sender)."),
) -> None:
    """Verify a participant with its proof from the latest TGO root."""
    sender = account(who)
    entry = store().participant_proof(wallet or sender.address)
    receipt = open_ledger().verify_participant(
        sender, entry["wallet"], entry["org_id"], entry["certified_until"], entry["proof"]
    )
    tx_line(f"verified {entry['wallet']} ({entry['org_id']}, epoch {entry['epoch']})", receipt)


@app.command("show")
@handle_errors
def show(wallet: str = typer.Argument(..., help="Participant wallet.")) -> None:
    """Show a participant's on-chain record."""
    print_json(open_ledger().participant(wallet))
