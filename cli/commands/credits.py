"""carbonix credits: issue batches, transfer, retire with certificates."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import typer

from carbonix import enums
from carbonix.context import account, open_ledger
from carbonix.ledger import Certificate, IssueRequest
from carbonix.tgo import parse_timestamp
from cli.commands._common import console, err_console, handle_errors, print_json, tx_line

app = typer.Typer(no_args_is_help=True, help="Carbon credits: issuance, transfer, retirement (R6).")


def _batch_id(value: str) -> int:
    return int(value, 0)


@app.command("issue")
@handle_errors
def issue(
    project_id: str = typer.Option(..., "--project", help="Certified project id."),
    vintage: int = typer.Option(..., "--vintage", help="Vintage year."),
    credit_type: str = typer.Option("reduction", "--type", help="|".join(enums.members("CreditType"))),
    serial_prefix: str = typer.Option(..., "--serial-prefix", help="Serial namespace, e.g. TVER-<project>-<vintage>."),
    first: int = typer.Option(..., "--first", help="First serial number of the range."),
    last: int = typer.Option(..., "--last", help="Last serial number of the range (inclusive)."),
    buffer_bps: int = typer.Option(0, "--buffer-bps", help="Buffer-pool share withheld, basis points."),
    issuer: str = typer.Option("tgo", "--as", help="Issuer account (TGO)."),
    as_json: bool = typer.Option(False, "--json", help="Print the issued batch as JSON."),
) -> None:
    """Issue one batch to the project's owner."""
    request = IssueRequest(project_id, vintage, credit_type, serial_prefix, first, last, buffer_bps)
    (batch,) = open_ledger().issue_batches(account(issuer), [request])
    if as_json:
        print_json({**batch.__dict__, "batch_id": hex(batch.batch_id), "minted": batch.minted})
        return
    console.print(
        f"[green]✓[/] issued batch [cyan]{hex(batch.batch_id)}[/]: {batch.minted:,} t to {batch.owner}, "
        f"{batch.buffer:,} t buffer, serials {batch.serial_prefix} {batch.serial_start}-{batch.serial_end}  "
        f"tx {batch.tx_hash}"
    )


@app.command("transfer")
@handle_errors
def transfer(
    batch_id: str = typer.Argument(..., help="Batch (token) id."),
    to: str = typer.Option(..., "--to", help="Receiving wallet (verified participant)."),
    amount: int = typer.Option(..., "--tonnes", help="Whole tonnes CO2e."),
    who: str = typer.Option(..., "--as", help="Sending account."),
) -> None:
    """Transfer credits to a verified participant."""
    receipt = open_ledger().transfer(account(who), to, _batch_id(batch_id), amount)
    tx_line(f"transferred {amount:,} t to {to}", receipt)


@app.command("retire")
@handle_errors
def retire(
    batch_id: str = typer.Argument(..., help="Batch (token) id."),
    amount: int = typer.Option(..., "--tonnes", help="Whole tonnes CO2e to retire."),
    beneficiary: str = typer.Option(..., "--beneficiary", help="Who the retirement is for."),
    purpose: str = typer.Option("voluntary_offset", "--purpose", help="|".join(enums.members("RetirementPurpose"))),
    claim_start: str = typer.Option(..., "--claim-start", help="Claimed period start (ISO date)."),
    claim_end: str = typer.Option(..., "--claim-end", help="Claimed period end (ISO date)."),
    who: str = typer.Option(..., "--as", help="Holder retiring the credits."),
    as_json: bool = typer.Option(False, "--json", help="Print the certificate as JSON."),
) -> None:
    """Retire credits for good and print the certificate."""
    cert = open_ledger().retire(
        account(who),
        _batch_id(batch_id),
        amount,
        beneficiary,
        purpose,
        parse_timestamp(claim_start, "--claim-start"),
        parse_timestamp(claim_end, "--claim-end"),
    )
    print_json(cert.as_dict()) if as_json else _print_certificate(cert.as_dict())


@app.command("certificate")
@handle_errors
def certificate(
    tx_hash: str = typer.Argument(..., help="Retirement transaction hash."),
    pdf: Path = typer.Option(None, "--pdf", help="Also write the certificate(s) as a PDF with a QR code."),
) -> None:
    """Rebuild a retirement certificate from its transaction alone (no indexer needed); a
    transaction that retired several times prints a list."""
    from indexer.certificates import certificates_from_receipt, render_pdf, transaction_url

    certs = certificates_from_receipt(open_ledger(), tx_hash)
    # the fields `credits retire` prints, whatever the certificate class adds
    shown = [Certificate(**{f.name: getattr(c, f.name) for f in fields(Certificate)}).as_dict() for c in certs]
    print_json(shown[0] if len(shown) == 1 else shown)
    if pdf is not None:
        pdf.write_bytes(render_pdf(certs, transaction_url(certs[0].tx_hash)))
        err_console.print(f"wrote {pdf}")


@app.command("balance")
@handle_errors
def balance(
    wallet: str = typer.Argument(..., help="Wallet."),
    batch_id: str = typer.Argument(..., help="Batch (token) id."),
) -> None:
    """Credits of one batch held by a wallet."""
    console.print(f"{open_ledger().balance(wallet, _batch_id(batch_id)):,} t")


@app.command("batch")
@handle_errors
def batch(batch_id: str = typer.Argument(..., help="Batch (token) id.")) -> None:
    """Show a batch: project, vintage, serial range, retired, buffer."""
    print_json(open_ledger().batch(_batch_id(batch_id)))


def _print_certificate(c: dict) -> None:
    console.print("[bold]Retirement certificate[/]")
    for key in (
        "tx_hash",
        "block_number",
        "beneficiary",
        "purpose",
        "tonnes",
        "project_id",
        "vintage",
        "credit_type",
        "serial_prefix",
        "serial_first",
        "serial_last",
        "claim_start",
        "claim_end",
        "holder",
    ):
        console.print(f"  {key:<14} {c[key]}")
