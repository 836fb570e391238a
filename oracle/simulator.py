"""Simulated field devices: real station series (``../shared/data``) as signed sensor messages.

Each station of a dataset becomes one device whose key is derived from a random seed kept in the
state folder (``<state>/simulator.seed``, created on first use, never in the repository) and the
station id, so the same station is the same device in every run. A reading's sequence number is
its timestamp (hourly series never repeat one), so replaying a series a second time produces the
very same signed messages, which the oracle records as duplicates.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_keys import keys
from eth_utils import keccak

from oracle.datasets import QUANTITIES, DatasetRow, RowError, read_dataset, reference_stations
from oracle.messages import MAX_READINGS, Domain, sign_message


def simulator_seed(state_dir: Path) -> bytes:
    path = state_dir / "simulator.seed"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return path.read_bytes()


def station_key(seed: bytes, station_id: str) -> bytes:
    return keccak(seed + station_id.encode())


def device_address(key: bytes) -> str:
    return keys.PrivateKey(key).public_key.to_checksum_address()


def measurement(quantity: str, amount: Decimal) -> dict[str, Any]:
    """A decimal as the fixed-point value a device signs (the decimal text is kept exactly)."""
    exponent = amount.as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return {
        "quantity": quantity,
        "unit": QUANTITIES[quantity],
        "value": int(amount.scaleb(decimals)),
        "decimals": decimals,
    }


def signed_reading(row: DatasetRow) -> dict[str, Any]:
    return {
        "sequence": row.timestamp,
        "timestamp": row.timestamp,
        "values": [measurement(q, a) for q, a in sorted(row.values.items())],
    }


@dataclass(frozen=True)
class Station:
    station_id: str
    key: bytes
    device: str
    latitude: float | None
    longitude: float | None
    rows: list[DatasetRow]
    reference: bool = False  # a regulator's reference station, by what the data file says


def load_stations(
    path: str | Path,
    fmt: str,
    seed: bytes,
    since: int | None = None,
    until: int | None = None,
    *,
    only: Collection[str] | None = None,
    locations: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[list[Station], list[RowError]]:
    """The dataset's stations (each with its rows in time order) and the rows that did not parse.

    ``only`` keeps just those station ids; ``locations`` places stations the file gives no (or
    another) position, e.g. where the regulator's own station list puts them."""
    rows: dict[str, list[DatasetRow]] = defaultdict(list)
    errors: list[RowError] = []
    for item in read_dataset(path, fmt):
        if isinstance(item, RowError):
            errors.append(item)
        elif (
            (since is None or item.timestamp >= since)
            and (until is None or item.timestamp < until)
            and (only is None or item.station_id in only)
        ):
            rows[item.station_id].append(item)
    is_reference = reference_stations(path, fmt)
    places = dict(locations or {})
    stations = []
    for station_id in sorted(rows):
        series = sorted(rows[station_id], key=lambda r: r.timestamp)
        key = station_key(seed, station_id)
        located = next((r for r in series if r.latitude is not None), None)
        lat, lon = places.get(station_id) or ((located.latitude, located.longitude) if located else (None, None))
        stations.append(Station(station_id, key, device_address(key), lat, lon, series, is_reference(station_id)))
    return stations, errors


def messages(station: Station, domain: Domain, per_message: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """(due timestamp, signed message) for a station, ``per_message`` readings each, in time order.

    Rows with the same timestamp as the previous one (duplicated feeds) are sent as they are: the
    oracle refuses them as replays, which is what a firmware bug would look like."""
    per_message = max(1, min(per_message, MAX_READINGS))
    chunk: list[dict[str, Any]] = []
    last = None
    for row in station.rows:
        if not row.values:
            continue
        if chunk and (len(chunk) == per_message or row.timestamp == last):
            yield chunk[-1]["timestamp"], sign_message(station.key, chunk, domain)
            chunk = []
        chunk.append(signed_reading(row))
        last = row.timestamp
    if chunk:
        yield chunk[-1]["timestamp"], sign_message(station.key, chunk, domain)


def schedule(
    stations: Iterable[Station], domain: Domain, per_message: int = 1
) -> list[tuple[int, str, dict[str, Any]]]:
    """Every station's messages merged in data-time order: (due, device, message)."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    for station in stations:
        out.extend((due, station.device, msg) for due, msg in messages(station, domain, per_message))
    out.sort(key=lambda t: (t[0], t[1]))
    return out


def pace(plan: list[tuple[int, str, dict[str, Any]]], speed: float) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yields the plan's messages at ``speed`` times real time (0 or less: as fast as possible)."""
    if not plan:
        return
    t0, started = plan[0][0], time.monotonic()
    for due, device, message in plan:
        if speed > 0:
            wait = (due - t0) / speed - (time.monotonic() - started)
            if wait > 0:
                time.sleep(wait)
        yield device, message
