"""carbonix oracle: the sensor oracle daemon, proofs, replay of dataset files, stored data."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import and_, func, select

from carbonix.config import get_settings
from carbonix.context import account, open_sensors
from carbonix.exceptions import CarbonixValueError
from carbonix.ids import wallet_address
from cli.commands._common import console, handle_errors, print_json, station_locations
from oracle import accuracy, store
from oracle.broker import ensure_broker, mqtt_url
from oracle.daemon import Committer, DaemonConfig, OracleDaemon
from oracle.datasets import FORMATS, detect_format
from oracle.devices import ChainDirectory
from oracle.messages import Domain
from oracle.metrics import OracleMetrics
from oracle.outbox import GRADES, PERIODS, prove
from oracle.pipeline import Pipeline, counts_by_grade
from oracle.replay import replay as run_replay

app = typer.Typer(no_args_is_help=True, help="The sensor oracle: MQTT ingest, grading, batches, proofs.")


def open_store(option: str | None):  # type: ignore[no-untyped-def]
    get_settings().state_dir.mkdir(parents=True, exist_ok=True)
    return store.open_engine(store.database_url(option))


def grade_option(value: str) -> str:
    letter = value.strip().upper()
    if len(letter) != 1 or letter not in GRADES:
        raise CarbonixValueError("--min-grade must be a letter A-F")
    return letter


LOCATE = typer.Option(None, "--locate", help="STATION=LAT,LON: place a station the file does not (repeatable).")
DATABASE = typer.Option(None, "--database", help="SQLAlchemy URL (default ORACLE_DATABASE_URL or .state/oracle.db).")


@app.command("run")
@handle_errors
def run(
    database: str = DATABASE,
    broker_url: str = typer.Option(None, "--mqtt-url", help="Broker (default MQTT_URL or mqtt://127.0.0.1:1883)."),
    embedded: bool = typer.Option(False, "--embedded-broker", help="Start an in-process broker if none answers."),
    sender: str = typer.Option("oracle", "--as", help="Operator account that signs and commits batches."),
    period: str = typer.Option("day", "--period", help="Batch period: hour or day (Thai time)."),
    min_grade: str = typer.Option("C", "--min-grade", help="Worst grade whose CO2e counts in a batch."),
    lateness: int = typer.Option(900, "--lateness", help="Seconds an hour stays open for late readings."),
    settle: float = typer.Option(2.0, "--settle", help="Quiet seconds before closed hours are finalized."),
    metrics_port: int = typer.Option(9464, "--metrics-port", help="Prometheus metrics port (0: none)."),
    no_commit: bool = typer.Option(False, "--no-commit", help="Grade and seal, but commit nothing."),
    exit_when_idle: float = typer.Option(None, "--exit-when-idle", help="Stop after this many idle seconds."),
    client_id: str = typer.Option(None, "--client-id", help="MQTT client id (default: per reporter)."),
    takeover: float = typer.Option(
        60.0, "--takeover", help="Quorum >= 2: seconds before a signer other than the first sends a batch."
    ),
) -> None:
    """Subscribe to sensor readings, verify, grade and store them, commit batches to the data log."""
    if period not in PERIODS:
        raise CarbonixValueError(f"--period must be one of {', '.join(PERIODS)}")
    min_grade = grade_option(min_grade)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sensors = open_sensors()
    reporter = account(sender)
    engine = open_store(database)
    if embedded:
        address, broker = ensure_broker(broker_url)
    else:
        from oracle.broker import parse_url

        address, broker = parse_url(broker_url or mqtt_url()), None
    domain = Domain(sensors.ledger.w3.eth.chain_id, sensors.ledger.datalog.address)
    metrics = OracleMetrics()
    pipeline = Pipeline(engine, ChainDirectory(sensors), domain)
    config = DaemonConfig(
        client_id=client_id or f"carbonix-oracle-{reporter.address.lower()}",
        period_seconds=PERIODS[period],
        min_grade=min_grade,
        settle_seconds=settle,
        lateness_seconds=lateness,
        commit=not no_commit,
        takeover_seconds=takeover,
    )
    daemon = OracleDaemon(pipeline, address, config, Committer(sensors.ledger, reporter), metrics)
    if metrics_port:
        metrics.serve(metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(
        f"oracle: broker {address.url}, database {engine.url.render_as_string(hide_password=True)}, "
        f"data log {domain.verifying_contract}" + (f", metrics :{metrics_port}/metrics" if metrics_port else "")
    )
    try:
        daemon.run(stop, exit_when_idle)
    except KeyboardInterrupt:
        pass
    finally:
        if broker:
            broker.stop()


@app.command("prove")
@handle_errors
def prove_reading(
    reading_id: int = typer.Argument(..., help="Reading id (oracle database)."),
    database: str = DATABASE,
    as_json: bool = typer.Option(False, "--json", help="Print only the proof as JSON."),
) -> None:
    """Print the Merkle proof that a reading is in a committed batch, and check it on-chain."""
    proof = prove(open_store(database), reading_id)
    ledger = open_sensors().ledger
    proof["verified_on_chain"] = bool(
        ledger.datalog.functions.verifyReading(
            bytes.fromhex(proof["batch_id"][2:]),
            bytes.fromhex(proof["reading_hash"][2:]),
            [bytes.fromhex(p[2:]) for p in proof["proof"]],
        ).call()
    )
    proof["check_with"] = (
        f"cast call {ledger.datalog.address} 'verifyReading(bytes32,bytes32,bytes32[])(bool)' "
        f"{proof['batch_id']} {proof['reading_hash']} '[{','.join(proof['proof'])}]'"
    )
    if as_json:
        print_json(proof)
        return
    print_json(proof)
    mark = "[green]✓ verified on-chain[/]" if proof["verified_on_chain"] else "[red]✗ NOT verified on-chain[/]"
    console.print(f"{mark}: reading {reading_id} is in batch {proof['batch_id']}")


@app.command("replay")
@handle_errors
def replay(
    file: Path = typer.Argument(..., help="Dataset CSV (Air4Thai, DustBoy, AirBKK)."),
    fmt: str = typer.Option(None, "--format", help="|".join(FORMATS) + " (default: from the header)."),
    database: str = typer.Option(None, "--database", help="Keep the graded readings here (default: in memory)."),
    locate: list[str] = LOCATE,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run a dataset through verification and grading without MQTT and summarize the outcome."""
    fmt = fmt or detect_format(file)
    if fmt not in FORMATS:
        raise CarbonixValueError(f"--format must be one of {', '.join(FORMATS)}")
    places = station_locations(locate)
    engine = store.open_engine(database) if database else None
    summary = run_replay(file, fmt, engine, locations=places)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console.print(
        f"{summary['rows_in']:,} rows: {summary['accepted']:,} accepted, rejected {summary['rejected']}, "
        f"grades {summary['grades']} in {summary['seconds']} s ({summary['rows_per_second']:,} rows/s)"
    )
    for pair in summary["accuracy"]:
        console.print(_accuracy_line(pair, pair["station"], pair["reference_station"]), soft_wrap=True, highlight=False)


def _accuracy_line(pair: dict[str, Any], station: str, reference: str) -> str:
    return (
        f"accuracy of {station} against reference {reference} ({pair['distance_m']} m, {pair['quantity']}): "
        f"{pair['accuracy_percent']} % over {pair['comparisons']:,} hours, "
        f"{pair['share_at_target']:.1%} of them at or above {pair['target_percent']} %"
    )


@app.command("accuracy")
@handle_errors
def accuracy_report(
    device: str = typer.Option(None, "--device", help="Only this measured device."),
    database: str = DATABASE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Accuracy of sensors against co-located reference stations (the business plan's formula)."""
    engine = open_store(database)
    with engine.connect() as conn:
        pairs = accuracy.pair_summaries(conn, None if device is None else [wallet_address(device)])
    if as_json:
        print_json(pairs)
        return
    if not pairs:
        console.print("no comparisons: no sensor has a reference station within "
                      f"{accuracy.RADIUS_KM:g} km reporting in the same hours")  # fmt: skip
    for pair in pairs:
        console.print(_accuracy_line(pair, pair["device"], pair["reference_device"]), soft_wrap=True, highlight=False)


@app.command("status")
@handle_errors
def status(database: str = DATABASE) -> None:
    """Counts of stored readings by grade, refusals by reason, and the outbox."""
    engine = open_store(database)
    r, j, b = store.readings.c, store.rejections.c, store.batches.c
    with engine.connect() as conn:
        provisional = conn.execute(select(func.count()).where(r.provisional.is_(True))).scalar_one()
        rejected = dict(conn.execute(select(j.reason, func.count()).group_by(j.reason)).all())
        batches = dict(conn.execute(select(b.status, func.count()).group_by(b.status)).all())
        flags = conn.execute(select(func.count()).select_from(store.flags)).scalar_one()
    grades = counts_by_grade(engine)
    print_json(
        {
            "readings_by_grade": {g: grades.get(g, 0) for g in GRADES},
            "provisional": provisional,
            "rejected": rejected,
            "batches": batches,
            "open_burning_flags": flags,
        }
    )


@app.command("emissions")
@handle_errors
def emissions(
    participant: str = typer.Option(None, "--participant", help="Owner wallet."),
    project_key: str = typer.Option(None, "--project-key", help="Project key (0x bytes32)."),
    min_grade: str = typer.Option("C", "--min-grade", help="Worst grade counted."),
    database: str = DATABASE,
) -> None:
    """kg CO2e per participant, project and hour, from readings graded min-grade or better."""
    min_grade = grade_option(min_grade)
    engine = open_store(database)
    r, d = store.readings.c, store.devices.c
    accepted = GRADES[: GRADES.index(min_grade) + 1]
    query = (
        select(d.owner, d.project_key, r.hour, func.sum(r.grams_co2e), func.count())
        .join(store.devices, d.device == r.device)
        .where(and_(r.grade.in_(list(accepted)), r.provisional.is_(False), r.grams_co2e != 0))
        .group_by(d.owner, d.project_key, r.hour)
        .order_by(r.hour)
    )
    if participant:
        query = query.where(func.lower(d.owner) == participant.lower())
    if project_key:
        query = query.where(d.project_key == project_key.lower())
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    print_json(
        [
            {"participant": o, "project_key": k, "hour": h, "kg_co2e": int(g) / 1000, "readings": n}
            for o, k, h, g, n in rows
        ]
    )


@app.command("flags")
@handle_errors
def flags(database: str = DATABASE) -> None:
    """Open-burning flags raised for agriculture projects (PM2.5)."""
    engine = open_store(database)
    f = store.flags.c
    with engine.connect() as conn:
        rows = conn.execute(select(store.flags).order_by(f.hour, f.id)).all()
    print_json([dict(row._mapping) for row in rows])
