"""Readers for the real public sensor series the oracle is tested, benchmarked and demonstrated on.

``read_dataset(path, fmt)`` streams one ``DatasetRow`` or one ``RowError`` per data line of a CSV
file (a blank line is not a data line), so ``rows + errors`` always equals the file's data lines.
It never raises on a bad row; it raises ``CarbonixValueError`` only when the file is missing or its
header matches no format. ``detect_format(path)`` names the format from the header.

=================  ==================================================  ===================================
format             file                                                coordinates
=================  ==================================================  ===================================
``air4thai``       air4thai_raw_hourly_15stations_2023-12_2024-02.csv  ``lat``/``lon`` columns (may be empty)
``dustboy``        dustboy_4473_hourly.csv                             ``lat``/``lon`` columns
``airbkk``         airbkk_pm25_hourly_2024_2025_JanApr.csv             "(lat,lon)" in ``stations.csv`` beside it
``air4thai-north`` air4thai_north_2026-01_04_hourly.csv                ``lat``/``long`` in ``stations.csv``
=================  ==================================================  ===================================

All four files are in local time (UTC+7); ``DatasetRow.timestamp`` is unix seconds UTC. Values keep
their decimal text exactly (``Decimal("32.0")``), keyed by the canonical quantity of ``QUANTITIES``.
An empty cell is simply absent from ``values``; the Air4Thai "not reported" sentinels (-1, -999) are
passed through as values, because grading must see them, except in air4thai-north's secondary
pollutant columns, where -1 means the station has no analyser for it (see ``_SECONDARY``).
Row errors (``RowError.reason``):

- ``missing_field``: no station id or no timestamp;
- ``bad_field``: a timestamp that does not parse, or bad coordinates;
- ``bad_value``: a cell that is not a finite decimal ("abc", "nan", "inf", "3,571");
- ``empty``: a row without any measurement (the AirBKK gap rows).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from carbonix.exceptions import CarbonixValueError

QUANTITIES: dict[str, str] = {
    "pm25": "ug/m3",
    "pm10": "ug/m3",
    "o3": "ppb",
    "co": "ppm",
    "no2": "ppb",
    "so2": "ppb",
    "wind_speed": "m/s",
    "wind_direction": "deg",
    "temperature": "degC",
    "humidity": "%",
    "co2": "ppm",
    "ch4": "ppm",
    "co2_flux": "kg/h",
    "ch4_flux": "kg/h",
    "diesel": "L",
    "gasoline": "L",
    "lpg": "kg",
    "natural_gas": "GJ",
    "electricity": "kWh",
    "aqi": "index",
}

FORMATS = ("air4thai", "dustboy", "airbkk", "air4thai-north")
ROW_ERRORS = ("missing_field", "bad_field", "bad_value", "empty")
UTC_OFFSET = 7 * 3600  # every file is in Thai local time

# Measurement column -> canonical quantity, per format. Columns not listed (per-pollutant AQI,
# DustBoy us_aqi/th_aqi, first_seen_snapshot_utc) are not read.
COLUMNS: dict[str, dict[str, str]] = {
    "air4thai": {
        "PM25": "pm25",
        "PM10": "pm10",
        "O3": "o3",
        "CO": "co",
        "NO2": "no2",
        "SO2": "so2",
        "WS": "wind_speed",
        "TEMP": "temperature",
        "RH": "humidity",
        "WD": "wind_direction",
    },
    "dustboy": {"pm25": "pm25", "pm10": "pm10", "temp": "temperature", "humid": "humidity"},
    "airbkk": {"pm25_ugm3": "pm25"},
    "air4thai-north": {
        "pm25_value": "pm25",
        "pm10_value": "pm10",
        "o3_value": "o3",
        "co_value": "co",
        "no2_value": "no2",
        "so2_value": "so2",
        "aqi": "aqi",
    },
}

# Format -> (station column, timestamp columns, (latitude, longitude) columns or None = stations.csv).
_KEYS: dict[str, tuple[str, tuple[str, ...], tuple[str, str] | None]] = {
    "air4thai": ("station_id", ("DATETIMEDATA",), ("lat", "lon")),
    "dustboy": ("station_id", ("datetime",), ("lat", "lon")),
    "airbkk": ("station_id", ("datetime_local",), None),
    "air4thai-north": ("station_id", ("date", "time"), None),
}

_EPOCH = date(1970, 1, 1)
# Air4Thai's AQI feed (air4thai-north) writes -1 for every pollutant a station has no analyser
# for: three quarters of its rows carry -1 in PM10, O3, CO, NO2 or SO2. Those are dropped, as a
# device would not send a quantity it does not measure. PM2.5, which every station measures, keeps
# its -1: there it is a missed hour, and grading must see it.
_NOT_MEASURED = frozenset({Decimal(-1), Decimal(-999)})
_SECONDARY = {"air4thai-north": frozenset({"pm10", "o3", "co", "no2", "so2", "aqi"})}
_COORDINATES_IN_TEXT = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)")


@dataclass(frozen=True)
class DatasetRow:
    line: int
    station_id: str
    latitude: float | None
    longitude: float | None
    timestamp: int
    values: dict[str, Decimal]


@dataclass(frozen=True)
class RowError:
    line: int
    station_id: str | None
    reason: str
    detail: str


def _required(fmt: str) -> set[str]:
    station, times, coordinates = _KEYS[fmt]
    return {station, *times, *(coordinates or ()), *COLUMNS[fmt]}


def _header(path: Path) -> list[str]:
    if not path.is_file():
        raise CarbonixValueError(f"{path}: no such data file")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [c.strip() for c in next(csv.reader(f), [])]


def detect_format(path: str | Path) -> str:
    """The format whose columns the file's header holds; ``CarbonixValueError`` if none does."""
    header = set(_header(Path(path)))
    for fmt in FORMATS:
        if _required(fmt) <= header:
            return fmt
    raise CarbonixValueError(f"{path}: header matches none of {', '.join(FORMATS)}")


def read_dataset(path: str | Path, fmt: str) -> Iterator[DatasetRow | RowError]:
    """One ``DatasetRow`` or ``RowError`` per data line, streamed in file order."""
    path = Path(path)
    if fmt not in FORMATS:
        raise CarbonixValueError(f"unknown dataset format {fmt!r}; one of {', '.join(FORMATS)}")
    header = _header(path)
    missing = _required(fmt) - set(header)
    if missing:
        raise CarbonixValueError(f"{path}: not an {fmt} file (no column {', '.join(sorted(missing))})")
    return _rows(path, fmt, header)


def _rows(path: Path, fmt: str, header: list[str]) -> Iterator[DatasetRow | RowError]:
    index = {name: i for i, name in enumerate(header)}
    station_name, time_names, coordinate_names = _KEYS[fmt]
    station_col = index[station_name]
    time_cols = [index[c] for c in time_names]
    measured = [(index[c], c, q) for c, q in COLUMNS[fmt].items()]
    unmeasured = _SECONDARY.get(fmt, frozenset())
    stations = _station_coordinates(path.parent / "stations.csv", fmt) if coordinate_names is None else {}
    lat_col, lon_col = (index[coordinate_names[0]], index[coordinate_names[1]]) if coordinate_names else (-1, -1)
    stamps: dict[str, int | None] = {}  # the same hour repeats once per station: parse it once
    places: dict[tuple[str, str], tuple[float | None, float | None] | None] = {}
    width = len(header)
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) < width:
                row = row + [""] * (width - len(row))
            station = row[station_col].strip()
            if not station:
                yield RowError(line, None, "missing_field", f"no {station_name}")
                continue
            stamp = " ".join(row[c].strip() for c in time_cols).strip()
            if any(not row[c].strip() for c in time_cols):
                yield RowError(line, station, "missing_field", f"no {' / '.join(time_names)}")
                continue
            if stamp not in stamps:
                if len(stamps) > 100_000:
                    stamps.clear()
                stamps[stamp] = _local_timestamp(stamp)
            timestamp = stamps[stamp]
            if timestamp is None:
                yield RowError(line, station, "bad_field", f"timestamp {stamp!r} is not YYYY-MM-DD HH:MM[:SS]")
                continue
            if lat_col >= 0:
                key = (row[lat_col].strip(), row[lon_col].strip())
                if key not in places:
                    places[key] = _coordinates(*key)
                place = places[key]
                if place is None:
                    yield RowError(line, station, "bad_field", f"coordinates {key[0]!r}, {key[1]!r} are not lat/lon")
                    continue
            else:
                place = stations.get(station, (None, None))
            values: dict[str, Decimal] = {}
            bad: list[str] = []
            for col, name, quantity in measured:
                text = row[col]
                if not text:
                    continue
                try:
                    value = Decimal(text)  # exact; surrounding blanks are allowed
                except InvalidOperation:
                    if text.strip():
                        bad.append(f"{name} = {text!r}")
                    continue
                if value.is_finite():
                    if value in _NOT_MEASURED and quantity in unmeasured:
                        continue  # the station does not measure this pollutant at all
                    values[quantity] = value
                else:
                    bad.append(f"{name} = {text!r}")
            if bad:
                yield RowError(line, station, "bad_value", f"not a finite decimal: {', '.join(bad)}")
            elif not values:
                yield RowError(line, station, "empty", "no measurement in the row")
            else:
                yield DatasetRow(line, station, place[0], place[1], timestamp, values)


def _local_timestamp(text: str) -> int | None:
    """Unix seconds UTC of a UTC+7 "YYYY-MM-DD HH:MM[:SS]" (or "T" separated); None if malformed."""
    day_text, _, clock = text.replace("T", " ", 1).partition(" ")
    parts = clock.strip().split(":")
    if len(day_text) != 10 or len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        return None
    try:
        day = (date.fromisoformat(day_text) - _EPOCH).days * 86400
    except ValueError:
        return None
    hour, minute, second = int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return day + hour * 3600 + minute * 60 + second - UTC_OFFSET


def _coordinates(lat_text: str, lon_text: str) -> tuple[float | None, float | None] | None:
    """(lat, lon), (None, None) when both are empty, None when they are malformed or out of range."""
    if not lat_text and not lon_text:
        return (None, None)
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


# Which stations of a file are a regulator's reference method (Pollution Control Department
# analysers): every station of the Air4Thai raw file; in air4thai-north, the PCD ground and mobile
# stations (not Bangkok's own "BKK" network); in AirBKK, the stations named "(สถานี คพ.)" (PCD
# station); DustBoy is a low-cost sensor network.
_PCD_TAG = "(สถานี คพ.)"
_PCD_TYPES = frozenset({"GROUND", "MOBILE"})


def reference_stations(path: str | Path, fmt: str) -> Callable[[str], bool]:
    """Whether a station of the data file ``path`` is a reference station, by what the file says."""
    if fmt == "air4thai":
        return lambda station: True
    if fmt == "dustboy":
        return lambda station: False
    if fmt not in FORMATS:
        raise CarbonixValueError(f"unknown dataset format {fmt!r}; one of {', '.join(FORMATS)}")
    listing = Path(path).parent / "stations.csv"
    found: set[str] = set()
    if listing.is_file():
        with listing.open(encoding="utf-8-sig", newline="") as f:
            for record in csv.DictReader(f):
                station = (record.get("station_id") or "").strip()
                if fmt == "airbkk":
                    pcd = _PCD_TAG in (record.get("station_name_th") or "")
                else:
                    pcd = (record.get("station_type") or "").strip() in _PCD_TYPES
                if station and pcd:
                    found.add(station)
    return found.__contains__


def _station_coordinates(path: Path, fmt: str) -> dict[str, tuple[float | None, float | None]]:
    """Station id -> coordinates from the stations.csv beside a data file; {} if there is none.

    AirBKK's file holds only an inferred candidate like "bkp114t (13.732225,100.5448381) - name
    match"; a station whose candidate has no "(lat,lon)" gets no coordinates.
    """
    if not path.is_file():
        return {}
    out: dict[str, tuple[float | None, float | None]] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for record in csv.DictReader(f):
            station = (record.get("station_id") or "").strip()
            if fmt == "airbkk":
                found = _COORDINATES_IN_TEXT.search(record.get("candidate_air4thai_station_INFERRED") or "")
                place = _coordinates(found.group(1), found.group(2)) if found else None
            else:
                place = _coordinates((record.get("lat") or "").strip(), (record.get("long") or "").strip())
            if station and place is not None and place[0] is not None:
                out[station] = place
    return out
