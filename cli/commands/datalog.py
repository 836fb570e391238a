"""carbonix datalog: commit emission batches and single records to the data log (R10)."""

from __future__ import annotations

from pathlib import Path

import typer

from carbonix.context import account, open_ledger
from carbonix.readings import build_batch, load_readings
from carbonix.tgo import parse_timestamp
from cli.commands._common import console, handle_errors, tx_line

app = typer.Typer(no_args_is_help=True, help="Emission data log (R10).")


@app.command("commit")
@handle_errors
def commit(
    readings: Path = typer.Argument(..., help="Graded readings CSV (sensor_id,sequence,timestamp,kg_co2e,grade)."),
    participant: str = typer.Option(..., "--participant", help="Accountable participant wallet."),
    project_id: str = typer.Option(None, "--project", help="Project id, if the readings belong to one."),
    flow: str = typer.Option("emission", "--flow", help="emission | removal"),
    reporter: str = typer.Option("oracle", "--as", help="Reporter account."),
) -> None:
    """Commit one batch: Merkle root of the readings, count, kg CO2e, grade histogram."""
    batch, tree = build_batch(participant, load_readings(readings), project_id, flow)
    receipt = open_ledger().commit_emission_batch(account(reporter), batch)
    tx_line(
        f"committed batch 0x{batch.batch_id.hex()}: {batch.reading_count} readings, {batch.kg_co2e:,} kg CO2e, "
        f"score {batch.quality_score}, root {tree.root}",
        receipt,
    )


@app.command("log")
@handle_errors
def log(
    participant: str = typer.Option(..., "--participant", help="Accountable participant wallet."),
    kg_co2e: int = typer.Option(..., "--kg", help="kg CO2e."),
    score: int = typer.Option(..., "--score", help="Verification score 0-100."),
    at: str = typer.Option(..., "--at", help="Time of the measurement (ISO or unix)."),
    latitude: float = typer.Option(0.0, "--lat"),
    longitude: float = typer.Option(0.0, "--lon"),
    project_id: str = typer.Option(None, "--project"),
    reporter: str = typer.Option("oracle", "--as", help="Reporter account."),
) -> None:
    """Log one measurement (the paper's logEmission)."""
    receipt = open_ledger().log_emission(
        account(reporter),
        participant,
        project_id,
        latitude,
        longitude,
        kg_co2e,
        score,
        parse_timestamp(at, "--at"),
    )
    tx_line(f"logged {kg_co2e:,} kg CO2e for {participant}", receipt)


@app.command("total")
@handle_errors
def total(
    participant: str = typer.Argument(..., help="Participant wallet."),
    year: int = typer.Option(..., "--year"),
    quarter: int = typer.Option(..., "--quarter", min=1, max=4),
    flow: str = typer.Option("emission", "--flow"),
) -> None:
    """Verified kg CO2e of a participant in a TGO quarter."""
    console.print(f"{open_ledger().emission_total(participant, year, quarter, flow):,} kg CO2e")
