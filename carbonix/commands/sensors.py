"""carbonix sensors: register device keys, approve them (verifier), set maintenance or offline."""

from __future__ import annotations

import typer

from carbonix import enums
from carbonix.commands._common import handle_errors, print_json, tx_line
from carbonix.context import account, open_sensors
from carbonix.tgo import parse_timestamp

app = typer.Typer(no_args_is_help=True, help="Sensors whose signed readings the oracle accepts.")


@app.command("register")
@handle_errors
def register(
    device: str = typer.Argument(..., help="Device key address (secp256k1)."),
    sensor_type: str = typer.Option(..., "--type", help="|".join(enums.members("SensorType"))),
    project: str = typer.Option(None, "--project", help="Project id the sensor measures (owned by the sender)."),
    latitude: float = typer.Option(..., "--lat", help="Latitude in degrees."),
    longitude: float = typer.Option(..., "--lon", help="Longitude in degrees."),
    label: str = typer.Option("", "--label", help="Human-readable name, e.g. kiln 1 fuel meter."),
    who: str = typer.Option(..., "--as", help="Owner (a verified participant)."),
) -> None:
    """Register a sensor for the sender; it counts once a verifier approves it."""
    receipt = open_sensors().register(account(who), device, sensor_type, project, latitude, longitude, label)
    tx_line(f"registered sensor {device}", receipt)


@app.command("approve")
@handle_errors
def approve(
    device: str = typer.Argument(..., help="Device key address."),
    certificate: str = typer.Option(..., "--certificate", help="Certification or calibration document id."),
    until: str = typer.Option(..., "--until", help="Certification expiry (date or unix time)."),
    who: str = typer.Option("verifier", "--as", help="Verifier account."),
) -> None:
    """Approve a sensor with its certification (verifier)."""
    receipt = open_sensors().approve(account(who), device, certificate, parse_timestamp(until, "--until"))
    tx_line(f"approved sensor {device}", receipt)


@app.command("revoke")
@handle_errors
def revoke(
    device: str = typer.Argument(..., help="Device key address."),
    reason: str = typer.Option(..., "--reason", help="Why the approval is withdrawn."),
    who: str = typer.Option("verifier", "--as", help="Verifier account."),
) -> None:
    """Withdraw a sensor's approval (verifier)."""
    tx_line(f"revoked sensor {device}", open_sensors().revoke(account(who), device, reason))


@app.command("status")
@handle_errors
def status(
    device: str = typer.Argument(..., help="Device key address."),
    value: str = typer.Option(..., "--set", help="|".join(enums.members("SensorStatus"))),
    who: str = typer.Option(..., "--as", help="The owner or a verifier."),
) -> None:
    """Mark a sensor active, in maintenance or offline."""
    tx_line(f"sensor {device} is {value}", open_sensors().set_status(account(who), device, value))


@app.command("show")
@handle_errors
def show(device: str = typer.Argument(..., help="Device key address.")) -> None:
    """A sensor's on-chain record and whether its readings count now."""
    print_json(open_sensors().show(device))
