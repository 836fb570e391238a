"""oracle.datasets on the real sensor series in ../shared/data and on broken files: every data line
becomes one row or one named error, local time becomes UTC, decimal text is kept exactly."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from carbonix.exceptions import CarbonixValueError
from oracle.datasets import FORMATS, QUANTITIES, ROW_ERRORS, DatasetRow, RowError, detect_format, read_dataset

DATA = Path(__file__).parents[1].parent / "shared" / "data"
EAST = DATA / "air4thai-east-raw-hourly" / "air4thai_raw_hourly_15stations_2023-12_2024-02.csv"
DUSTBOY = DATA / "dustboy-sakon-4473" / "dustboy_4473_hourly.csv"
AIRBKK = DATA / "airbkk-bangkok-raw-hourly" / "airbkk_pm25_hourly_2024_2025_JanApr.csv"
NORTH = DATA / "air4thai-north-2026" / "air4thai_north_2026-01_04_hourly.csv"
EAST_HEADER = "station_id,lat,lon,DATETIMEDATA,PM25,PM10,O3,CO,NO2,SO2,WS,TEMP,RH,WD"


def data_lines(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as f:
        return sum(1 for line in f if line.strip()) - 1


def read_all(path: Path, fmt: str) -> tuple[list[DatasetRow], list[RowError]]:
    rows: list[DatasetRow] = []
    errors: list[RowError] = []
    for item in read_dataset(path, fmt):
        if isinstance(item, DatasetRow):
            rows.append(item)
        else:
            errors.append(item)
    return rows, errors


def utc(year: int, month: int, day: int, hour: int) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("path", "fmt", "rows", "errors"),
    [
        (EAST, "air4thai", 29_520, {}),
        (DUSTBOY, "dustboy", 2_376, {}),
        (AIRBKK, "airbkk", 45_645, {"empty": 899}),
        (NORTH, "air4thai-north", 44_132, {}),
    ],
)
def test_read_dataset_real_file_every_line_accounted(path: Path, fmt: str, rows: int, errors: dict[str, int]) -> None:
    assert detect_format(path) == fmt
    parsed, refused = read_all(path, fmt)
    assert len(parsed) + len(refused) == data_lines(path)
    assert len(parsed) == rows
    assert Counter(e.reason for e in refused) == Counter(errors)
    assert all(set(r.values) <= set(QUANTITIES) and r.values for r in parsed)
    assert [r.line for r in parsed] == sorted(r.line for r in parsed)


def test_read_dataset_counts_match_the_data_readme() -> None:
    assert data_lines(EAST) == 29_520
    assert data_lines(DUSTBOY) == 2_376
    assert data_lines(AIRBKK) == 46_544
    assert data_lines(NORTH) == 44_132


def test_read_dataset_local_time_to_utc() -> None:
    first = next(read_dataset(EAST, "air4thai"))
    assert isinstance(first, DatasetRow)
    # "100t,...,2023-12-01 00:00:00" in UTC+7 is 2023-11-30 17:00 UTC.
    assert (first.line, first.station_id, first.timestamp) == (2, "100t", utc(2023, 11, 30, 17))
    dust = next(read_dataset(DUSTBOY, "dustboy"))
    assert isinstance(dust, DatasetRow) and dust.timestamp == utc(2026, 4, 11, 13)  # 2026-04-11 20:00:00
    north = next(read_dataset(NORTH, "air4thai-north"))
    assert isinstance(north, DatasetRow) and north.timestamp == utc(2025, 12, 31, 17)  # 2026-01-01, 00:00
    bkk = next(read_dataset(AIRBKK, "airbkk"))
    assert isinstance(bkk, DatasetRow) and bkk.timestamp == utc(2023, 12, 31, 17)  # 2024-01-01 00:00:00
    hours = [r.timestamp for r in read_all(EAST, "air4thai")[0] if r.station_id == "29t"]
    assert len(hours) == 1968 and all(b - a == 3600 for a, b in pairwise(hours))


def test_read_dataset_keeps_decimal_text_and_maps_quantities() -> None:
    first = next(read_dataset(EAST, "air4thai"))
    assert isinstance(first, DatasetRow)
    assert (first.latitude, first.longitude) == (12.6095704, 102.1040804)
    assert first.values == {
        "pm25": Decimal("18.9"),
        "pm10": Decimal("32.0"),
        "o3": Decimal("22.0"),
        "co": Decimal("0.31"),
        "no2": Decimal("6.0"),
        "so2": Decimal("1.0"),
        "wind_speed": Decimal("1"),
        "temperature": Decimal("28"),
        "humidity": Decimal("67"),
        "wind_direction": Decimal("323"),
    }
    assert str(first.values["pm10"]) == "32.0"  # the exponent survives: a simulator scales it exactly
    dust = next(read_dataset(DUSTBOY, "dustboy"))
    assert isinstance(dust, DatasetRow)
    assert dust.values == {
        "pm25": Decimal("54"),
        "pm10": Decimal("61"),
        "temperature": Decimal("31.40"),
        "humidity": Decimal("37.02"),
    }
    assert str(dust.values["temperature"]) == "31.40"


def test_read_dataset_empty_cells_absent() -> None:
    rows = read_all(EAST, "air4thai")[0]
    second = rows[1]  # 100t,...,2023-12-01 01:00:00,19.4,30.0,24.0,,,,1,28,66,332
    assert second.line == 3
    assert set(second.values) == {"pm25", "pm10", "o3", "wind_speed", "temperature", "humidity", "wind_direction"}
    missing = Counter(q for r in rows for q in QUANTITIES if q not in r.values and q in ("pm25", "no2"))
    assert missing == {"pm25": 226, "no2": 22_089}
    o21 = [r for r in rows if r.station_id == "o21"]
    assert len(o21) == 1968 and all(r.latitude is None and r.longitude is None for r in o21)


def test_read_dataset_airbkk_coordinates_from_stations_csv() -> None:
    rows, errors = read_all(AIRBKK, "airbkk")
    places = {r.station_id: (r.latitude, r.longitude) for r in rows}
    assert places["114"] == (13.732225, 100.5448381)  # "bkp114t (13.732225,100.5448381) - name match"
    assert all(place == (None, None) for station, place in places.items() if station != "114")
    assert len(places) == 9
    assert {e.reason for e in errors} == {"empty"} and all(e.station_id for e in errors)


def test_read_dataset_north_pm25_sentinels_passed_through_unmeasured_pollutants_dropped() -> None:
    rows = read_all(NORTH, "air4thai-north")[0]
    first = rows[0]
    assert first.station_id == "35t" and first.latitude == 18.840732 and first.longitude == 98.96978
    assert first.values["pm25"] == Decimal("30.6") and first.values["aqi"] == Decimal("73")
    assert "pm10" not in first.values and "co" not in first.values  # -1: no analyser at 35t
    sentinels = Counter(q for r in rows for q, v in r.values.items() if v == -1)
    assert sentinels == {"pm25": 120}  # a missed PM2.5 hour stays, for grading to see
    assert len({r.station_id for r in rows}) == 24 and all(r.latitude is not None for r in rows)


def test_read_dataset_bad_rows_each_reason(tmp_path: Path) -> None:
    good = "28t,12.97,101.21,2023-12-01 00:00:00,18.9,32.0,,,,,1,28,67,323"
    lines = [
        good,
        "28t,12.97,101.21,2023-12-01 01:00:00,abc,32.0,,,,,1,28,67,323",  # bad_value
        "28t,12.97,101.21,2023-12-01 02:00:00,nan,,,,,,,,,",  # bad_value
        "28t,12.97,101.21,2023-12-01 03:00:00,18.9,inf,,,,,,,,",  # bad_value
        '28t,12.97,101.21,2023-12-01 04:00:00,"3,571",,,,,,,,,',  # bad_value
        "28t,12.97,101.21,2023-13-01 05:00:00,18.9,,,,,,,,,",  # bad_field: month 13
        "28t,12.97,101.21,2023-12-01 24:00:00,18.9,,,,,,,,,",  # bad_field: hour 24
        "28t,12.97,101.21,yesterday,18.9,,,,,,,,,",  # bad_field
        "28t,north,101.21,2023-12-01 06:00:00,18.9,,,,,,,,,",  # bad_field: coordinates
        "28t,12.97,,2023-12-01 06:00:00,18.9,,,,,,,,,",  # bad_field: half the coordinates
        "28t,95.0,101.21,2023-12-01 06:00:00,18.9,,,,,,,,,",  # bad_field: latitude out of range
        ",12.97,101.21,2023-12-01 07:00:00,18.9,,,,,,,,,",  # missing_field: station
        "28t,12.97,101.21,,18.9,,,,,,,,,",  # missing_field: timestamp
        "28t,12.97,101.21,2023-12-01 08:00:00,,,,,,,,,,",  # empty
        "",  # a blank line is not a data line
        "28t,12.97,101.21,2023-12-01T09:00:00, 7.5 ,-1",  # short row, "T" separator, blanks, a sentinel
    ]
    path = tmp_path / "east.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join([EAST_HEADER, *lines]) + "\r\n").encode())
    assert detect_format(path) == "air4thai"
    items = list(read_dataset(path, "air4thai"))
    assert len(items) == len(lines) - 1
    by_line = {item.line: item for item in items}
    assert isinstance(by_line[2], DatasetRow) and by_line[2].values["pm25"] == Decimal("18.9")
    reasons = {line: item.reason for line, item in by_line.items() if isinstance(item, RowError)}
    assert reasons == {
        3: "bad_value",
        4: "bad_value",
        5: "bad_value",
        6: "bad_value",
        7: "bad_field",
        8: "bad_field",
        9: "bad_field",
        10: "bad_field",
        11: "bad_field",
        12: "bad_field",
        13: "missing_field",
        14: "missing_field",
        15: "empty",
    }
    assert set(reasons.values()) == set(ROW_ERRORS)
    assert isinstance(by_line[3], RowError) and "PM25 = 'abc'" in by_line[3].detail
    assert by_line[13].station_id is None and by_line[14].station_id == "28t"
    last = by_line[17]
    assert isinstance(last, DatasetRow)
    assert last.values == {"pm25": Decimal("7.5"), "pm10": Decimal("-1")}
    assert last.timestamp == utc(2023, 12, 1, 2)


def test_read_dataset_missing_file_or_unknown_header_raises(tmp_path: Path) -> None:
    with pytest.raises(CarbonixValueError, match="no such data file"):
        read_dataset(tmp_path / "absent.csv", "air4thai")
    with pytest.raises(CarbonixValueError, match="no such data file"):
        detect_format(tmp_path / "absent.csv")
    other = tmp_path / "other.csv"
    other.write_text("when,where,what\n2024-01-01,here,1\n")
    with pytest.raises(CarbonixValueError, match="matches none"):
        detect_format(other)
    with pytest.raises(CarbonixValueError, match="not an air4thai file"):
        read_dataset(other, "air4thai")
    with pytest.raises(CarbonixValueError, match="not an air4thai file"):
        read_dataset(AIRBKK, "air4thai")
    with pytest.raises(CarbonixValueError, match="unknown dataset format"):
        read_dataset(EAST, "csv")
    assert FORMATS == ("air4thai", "dustboy", "airbkk", "air4thai-north")


def test_read_dataset_streams_the_file() -> None:
    """Row by row, never the whole file: reading the 2.2 MB series peaks far below its size (all
    29,520 rows held at once take about 35 MB). Its speed is a figure of `make bench`."""
    items = read_dataset(EAST, "air4thai")
    assert isinstance(items, Iterator)
    tracemalloc.start()
    try:
        n = sum(1 for _ in items)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 29_520
    assert peak < 4_000_000, f"reading {n} rows peaked at {peak:,} bytes"
