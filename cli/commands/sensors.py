"""carbonix sensors: register device keys, approve them (verifier), set maintenance or offline."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
import typer

from carbonix import enums
from carbonix.config import get_settings
from carbonix.context import account, open_sensors
from carbonix.exceptions import CarbonixValueError
from carbonix.sensors import ZERO
from carbonix.tgo import parse_timestamp
from cli.commands._common import console, handle_errors, print_json, progress, station_locations, tx_line
from oracle import simulator
from oracle.broker import mqtt_url, parse_url
from oracle.datasets import FORMATS, detect_format
from oracle.messages import Domain
from oracle.pipeline import sensor_topic

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


@app.command("reference")
@handle_errors
def reference(
    device: str = typer.Argument(..., help="Device key address."),
    evidence: str = typer.Option("", "--evidence", help="What the designation rests on (kept as its hash)."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Withdraw the designation instead."),
    who: str = typer.Option("verifier", "--as", help="Verifier account."),
) -> None:
    """Designate a sensor a reference method that co-located sensors are measured against (verifier)."""
    receipt = open_sensors().set_reference(account(who), device, not withdraw, evidence)
    tx_line(f"sensor {device} is {'no longer ' if withdraw else ''}a reference method", receipt)


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


@app.command("simulate")
@handle_errors
def simulate(
    dataset: Path = typer.Option(..., "--dataset", help="A station series from ../shared/data (CSV)."),
    fmt: str = typer.Option(None, "--format", help="|".join(FORMATS) + " (default: from the header)."),
    speed: float = typer.Option(3600.0, "--speed", help="Times real time (3600: an hour of data per second)."),
    since: str = typer.Option(None, "--from", help="First reading time (date or unix time)."),
    until: str = typer.Option(None, "--to", help="Stop before this time (date or unix time)."),
    per_message: int = typer.Option(1, "--readings-per-message", help="Readings per signed message (1-64)."),
    register_as: str = typer.Option(None, "--register-as", help="Register unknown stations for this owner."),
    project: str = typer.Option(None, "--project", help="Project the registered stations measure."),
    only: str = typer.Option(None, "--stations", help="Only these station ids (comma-separated)."),
    locate: list[str] = typer.Option(None, "--locate", help="STATION=LAT,LON: place a station the file does not."),
    broker_url: str = typer.Option(None, "--mqtt-url", help="Broker (default MQTT_URL or mqtt://127.0.0.1:1883)."),
) -> None:
    """Publish a real dataset as signed messages from simulated devices, at N times real time."""
    fmt = fmt or detect_format(dataset)
    sensors = open_sensors()
    seed = simulator.simulator_seed(get_settings().state_dir)
    start = parse_timestamp(since, "--from") if since else None
    end = parse_timestamp(until, "--to") if until else None
    chosen = None if only is None else {s.strip() for s in only.split(",") if s.strip()}
    places = station_locations(locate)
    stations, errors = simulator.load_stations(dataset, fmt, seed, start, end, only=chosen, locations=places)
    unknown = sorted(((chosen or set()) | set(places)) - {st.station_id for st in stations})
    if unknown:
        raise CarbonixValueError(f"{dataset}: no readings of station {', '.join(unknown)} in the chosen window")
    if not stations:
        raise CarbonixValueError(f"{dataset}: no readings in the chosen window")
    registered = {st.device for st in stations if sensors.contract.functions.sensor(st.device).call()[0] != ZERO}
    if register_as:
        owner, verifier = account(register_as), account("verifier")
        for station in stations:
            if station.device in registered:
                continue
            if station.latitude is None or station.longitude is None:
                console.print(f"[yellow]skipped[/] station {station.station_id}: no coordinates to register")
                continue
            label = f"{fmt}:{station.station_id}"
            sensors.register(owner, station.device, "pm25", project, station.latitude, station.longitude, label)
            # a year from the chain's clock, which judges the expiry (the machine's may differ)
            certified_until = int(sensors.contract.w3.eth.get_block("latest")["timestamp"]) + 365 * 86400
            sensors.approve(verifier, station.device, f"simulated {label}", certified_until)
            registered.add(station.device)
            console.print(f"registered and approved {station.station_id} as {station.device}")
            if station.reference:
                sensors.set_reference(
                    verifier, station.device, True, f"{label}: a Pollution Control Department station"
                )
                console.print(f"  {station.station_id} is a reference station (Pollution Control Department)")
    known = [st for st in stations if st.device in registered]
    for station in stations:
        if station.device not in registered:
            console.print(f"[yellow]not published[/] station {station.station_id}: {station.device} is not registered")
    domain = Domain(sensors.ledger.w3.eth.chain_id, sensors.ledger.datalog.address)
    plan = simulator.schedule(known, domain, per_message)
    address = parse_url(broker_url or mqtt_url())
    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    client.max_queued_messages_set(0)
    client.connect(address.host, address.port, keepalive=30)
    client.loop_start()
    sent = 0
    with progress(f"publishing {len(plan):,} messages from {len(known)} devices at {speed:g}x") as update:
        infos = []
        for device, message in simulator.pace(plan, speed):
            infos.append(client.publish(sensor_topic(device), json.dumps(message, separators=(",", ":")), qos=1))
            sent += 1
            if sent % 100 == 0:
                update(f"{sent:,}")
        for info in infos:
            info.wait_for_publish(30)
    client.loop_stop()
    client.disconnect()
    console.print(
        f"published {sent:,} signed messages from {len(known)} devices to {address.url}"
        + (f"; {len(errors)} rows could not be read" if errors else "")
    )
