"""``carbonix oracle replay``: a dataset file through the oracle's pipeline, without MQTT.

Every data row becomes one signed message from its station's simulated device (see
``oracle.simulator``) and goes through ``Pipeline.ingest`` exactly as a message off the broker
would: signature, replay and unit checks, grading, storage. Rows the file reader cannot turn into
a reading (a missing station or time, a value that is not a number, a row with no measurement)
are refused with the reader's reason. Every hour is then finalized (spatial agreement), so the
grades reported are final, and the stations the file marks as a regulator's are the reference
that co-located stations' accuracy is measured against (``oracle.accuracy``). Each row ends in exactly one place:
``rows_in == accepted + sum(rejected.values())`` and ``sum(grades.values()) == accepted``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from oracle import accuracy
from oracle.datasets import RowError, read_dataset, reference_stations
from oracle.devices import DeviceRecord, StaticDirectory
from oracle.messages import Domain, sign_message
from oracle.pipeline import Incoming, Pipeline, counts_by_grade, sensor_topic
from oracle.simulator import device_address, signed_reading, station_key
from oracle.store import open_engine

REPLAY_DOMAIN = Domain(0, "0x" + "00" * 20)  # a domain of its own: replay messages count nowhere else
REPLAY_OWNER = "0x" + "00" * 19 + "01"
CHUNK = 500


def replay(
    path: str | Path,
    fmt: str,
    engine: Engine | None = None,
    seed: bytes = b"carbonix replay",
    progress: Callable[[int], None] | None = None,
    locations: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, Any]:
    """Replays a data file through the pipeline with a device per station (placed where the file,
    or ``locations``, says; a reference station where the file says so) and finalizes every hour."""
    started = time.perf_counter()
    engine = engine or open_engine("sqlite://")
    directory = StaticDirectory()
    pipeline = Pipeline(engine, directory, REPLAY_DOMAIN)
    rows_in = 0
    rejected: dict[str, int] = {}
    accepted = 0
    batch: list[Incoming] = []

    def flush() -> None:
        nonlocal accepted
        result = pipeline.ingest(batch)
        accepted += result.accepted_readings
        for reason, n in result.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + n
        batch.clear()
        if progress:
            progress(rows_in)

    keys: dict[str, bytes] = {}
    is_reference = reference_stations(path, fmt)
    places = dict(locations or {})
    stations: dict[str, str] = {}
    for item in read_dataset(path, fmt):
        rows_in += 1
        if isinstance(item, RowError):
            rejected[item.reason] = rejected.get(item.reason, 0) + 1
            continue
        key = keys.get(item.station_id)
        if key is None:
            key = keys[item.station_id] = station_key(seed, item.station_id)
            device = device_address(key)
            stations[device] = item.station_id
            latitude, longitude = places.get(item.station_id) or (item.latitude, item.longitude)
            directory.records[device] = DeviceRecord(
                device=device,
                owner=REPLAY_OWNER,
                project_key="0x" + "00" * 32,
                project_type="",
                sensor_type="pm25",
                latitude=latitude,
                longitude=longitude,
                status="active",
                approved=True,
                certified_until=2**40 - 1,
                reference_method=is_reference(item.station_id),
            )
        message = sign_message(key, [signed_reading(item)], REPLAY_DOMAIN)
        payload = json.dumps(message, separators=(",", ":")).encode()
        batch.append(Incoming(sensor_topic(message["device"]), payload, 0))
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    pipeline.finalize_hours(pipeline.provisional_hours())
    grades = {g: 0 for g in "ABCDEF"} | counts_by_grade(engine, list(directory.records))
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        compared = accuracy.pair_summaries(conn, list(directory.records))
    for pair in compared:
        pair["station"] = stations[pair["device"]]
        pair["reference_station"] = stations[pair["reference_device"]]
    return {
        "rows_in": rows_in,
        "accepted": accepted,
        "rejected": dict(sorted(rejected.items())),
        "grades": grades,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows_in / seconds, 1) if seconds else None,
        "accuracy": compared,
    }
