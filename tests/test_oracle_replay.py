"""`carbonix oracle replay | status | emissions | flags` as a user runs them (the installed console
script, in a subprocess), on the real series in ../shared/data and on broken files: every data row
ends in exactly one place (accepted, or refused with one named reason), bad input fails with exit
code 1 and an error line instead of a traceback, and what the database keeps adds up."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oracle import store
from oracle.devices import DeviceRecord, StaticDirectory
from oracle.emissions import OPEN_BURNING_PM25
from oracle.messages import Domain, sign_message
from oracle.pipeline import Incoming, Pipeline, sensor_topic
from oracle.simulator import device_address

CARBONIX = Path(sys.executable).parent / "carbonix"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DUSTBOY = DATA / "dustboy-sakon-4473" / "dustboy_4473_hourly.csv"
AIRBKK = DATA / "airbkk-bangkok-raw-hourly" / "airbkk_pm25_hourly_2024_2025_JanApr.csv"
SUMMARY_KEYS = {"rows_in", "accepted", "rejected", "grades", "seconds", "rows_per_second", "accuracy"}
AIR4THAI_HEADER = "station_id,lat,lon,DATETIMEDATA,PM25,PM10,O3,CO,NO2,SO2,WS,TEMP,RH,WD"


def run_cli(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with its state folder under ``tmp_path`` and no oracle settings from the caller."""
    env = os.environ.copy()
    env["CARBONIX_STATE_DIR"] = str(tmp_path / "state")
    for key in ("ORACLE_DATABASE_URL", "ORACLE_EMISSION_FACTORS", "COLUMNS"):
        env.pop(key, None)
    return subprocess.run(
        [str(CARBONIX), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


def replay_json(tmp_path: Path, path: Path, fmt: str, *extra: str) -> dict:
    result = run_cli(tmp_path, "oracle", "replay", str(path), "--format", fmt, "--json", *extra)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1  # only the summary, as one JSON line
    summary = json.loads(result.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert summary["rows_in"] == summary["accepted"] + sum(summary["rejected"].values())
    assert list(summary["grades"]) == list("ABCDEF")
    return summary


def data_lines(path: Path) -> int:
    with path.open(encoding="utf-8-sig") as f:
        return sum(1 for line in f if line.strip()) - 1


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error:")
    assert message in "".join(result.stderr.splitlines())


# replay ---------------------------------------------------------------------------------------


def test_replay_of_the_dustboy_series_accounts_for_every_row(tmp_path: Path) -> None:
    summary = replay_json(tmp_path, DUSTBOY, "dustboy")
    assert summary["rows_in"] == 2376 == data_lines(DUSTBOY)
    assert sum(summary["grades"].values()) == summary["accepted"]
    assert summary["seconds"] > 0
    assert summary["rows_per_second"] == pytest.approx(summary["rows_in"] / summary["seconds"], rel=0.01)


def test_replay_of_airbkk_counts_the_gap_rows_as_empty(tmp_path: Path) -> None:
    # The whole file (46,544 rows) takes ~30 s; its first 3,000 rows (station 114, with gaps) are
    # written to a temporary file at run time.
    head = tmp_path / "airbkk_head.csv"
    with AIRBKK.open(encoding="utf-8-sig", newline="") as f:
        lines = [line for _, line in zip(range(3001), f, strict=False)]
    head.write_text("".join(lines), encoding="utf-8", newline="")
    with head.open(encoding="utf-8", newline="") as f:
        gaps = sum(1 for row in csv.DictReader(f) if not row["pm25_ugm3"].strip())
    assert gaps > 0
    summary = replay_json(tmp_path, head, "airbkk")
    assert summary["rows_in"] == 3000
    assert summary["rejected"] == {"empty": gaps}
    assert summary["accepted"] == 3000 - gaps == sum(summary["grades"].values())


def test_replay_refuses_each_bad_row_with_its_reason(tmp_path: Path) -> None:
    good = "18.9,32.0,22.0,0.31,6.0,1.0,1,28,67,323"
    t1, t2 = "t1,13.7000,100.5000", "t2,13.7500,100.5500"
    rows = [
        f"{t1},2024-01-01 00:00:00,{good}",  # accepted
        f"{t1},2024-01-01 01:00:00,{good}",  # accepted
        f"{t1},2024-01-01 01:00:00,{good}",  # the same row again: the same signed message -> duplicate
        f"{t1},2024-01-01 01:00:00,25.0,32.0,22.0,0.31,6.0,1.0,1,28,67,323",  # same time, other values -> replay
        f"{t1},2024-01-01 00:30:00,{good}",  # earlier than the last reading -> replay
        f"{t1},2024-01-01 02:00:00,abc,32.0,22.0,0.31,6.0,1.0,1,28,67,323",  # bad_value
        f"{t1},2024-01-01 03:00:00,nan,,,,,,,,,",  # bad_value
        f"{t1},2024-13-01 03:00:00,{good}",  # month 13 -> bad_field
        "t1,91.5,100.5,2024-01-01 03:00:00," + good,  # latitude out of range -> bad_field
        f",13.7,100.5,2024-01-01 03:00:00,{good}",  # no station -> missing_field
        f"{t1},,{good}",  # no timestamp -> missing_field
        f"{t1},2024-01-01 04:00:00,,,,,,,,,,",  # no measurement -> empty
        "",  # a blank line is not a data line
        f"{t2},2099-01-01 00:00:00,{good}",  # far in the future -> future_timestamp
        f"{t1},2024-01-01 05:00:00,{good}",  # accepted: a refusal does not move t1's sequence
        f"{t2},2024-01-01 00:00:00,{good}",  # accepted: nor t2's
    ]
    path = tmp_path / "air4thai_bad.csv"
    path.write_text("\n".join([AIR4THAI_HEADER, *rows]) + "\n")
    url = f"sqlite:///{tmp_path}/bad.db"
    summary = replay_json(tmp_path, path, "air4thai", "--database", url)
    assert summary["rows_in"] == 15 == data_lines(path)
    assert summary["rejected"] == {
        "bad_field": 2,
        "bad_value": 2,
        "duplicate": 1,
        "empty": 1,
        "future_timestamp": 1,
        "missing_field": 2,
        "replay": 2,
    }
    assert summary["accepted"] == 4 == sum(summary["grades"].values())
    # The database records the pipeline's refusals; the rows the reader could not read never
    # became messages, so they are only counted.
    status = json.loads(run_cli(tmp_path, "oracle", "status", "--database", url).stdout)
    assert status["rejected"] == {"duplicate": 1, "future_timestamp": 1, "replay": 2}
    assert sum(status["readings_by_grade"].values()) == 4


def test_replay_into_a_database_keeps_the_final_grades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    summary = replay_json(tmp_path, DUSTBOY, "dustboy", "--database", url)
    result = run_cli(tmp_path, "oracle", "status", "--database", url)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert sum(status["readings_by_grade"].values()) == summary["accepted"] == 2376
    assert status["readings_by_grade"] == summary["grades"]
    assert status["provisional"] == 0  # every hour was finalized
    assert status["rejected"] == {} and status["batches"] == {} and status["open_burning_flags"] == 0

    # The same file again: the same devices sign the same messages, each one a harmless duplicate.
    again = replay_json(tmp_path, DUSTBOY, "dustboy", "--database", url)
    assert again["accepted"] == 0
    assert again["rejected"] == {"duplicate": 2376}
    after = json.loads(run_cli(tmp_path, "oracle", "status", "--database", url).stdout)
    assert after["readings_by_grade"] == status["readings_by_grade"]
    assert after["rejected"] == {"duplicate": 2376}


@pytest.mark.parametrize("with_format", [True, False])
def test_replay_of_a_missing_file_is_one_error_line(tmp_path: Path, with_format: bool) -> None:
    args = ["oracle", "replay", "missing.csv", *(["--format", "dustboy"] if with_format else [])]
    result = run_cli(tmp_path, *args, cwd=tmp_path)
    refused(result, "missing.csv: no such data file")
    assert len(result.stderr.splitlines()) == 1


def test_replay_with_an_unknown_format_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "oracle", "replay", str(DUSTBOY), "--format", "verra")
    refused(result, "--format must be one of air4thai, dustboy, airbkk, air4thai-north")
    assert len(result.stderr.splitlines()) == 1


def test_replay_of_a_file_of_no_known_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    refused(run_cli(tmp_path, "oracle", "replay", "x.csv", cwd=tmp_path), "header matches none of")
    refused(run_cli(tmp_path, "oracle", "replay", "x.csv", "--format", "dustboy", cwd=tmp_path), "not an dustboy file")


def test_an_error_naming_a_long_path_is_still_one_line(tmp_path: Path) -> None:
    missing = tmp_path / ("a-data-file-that-is-not-there-" * 2 + ".csv")
    result = run_cli(tmp_path, "oracle", "replay", str(missing), "--format", "dustboy")
    refused(result, "no such data file")
    assert len(result.stderr.splitlines()) == 1


# emissions and flags ----------------------------------------------------------------------------

DOMAIN = Domain(555888, "0x" + "cd" * 20)
T0 = 1_767_200_400  # 2026-01-01 00:00 Thai time, a whole hour
OWNER_A = "0x" + "a1" * 20
OWNER_B = "0x" + "b2" * 20
PROJECT_METER = "0x" + "01" * 32
PROJECT_FIELD = "0x" + "02" * 32
PROJECT_PLANT = "0x" + "03" * 32
BURNING = OPEN_BURNING_PM25
KEYS = {name: bytes([i + 1]) * 32 for i, name in enumerate(("meter", "maintenance", "field", "plant"))}


def device(name: str) -> str:
    return device_address(KEYS[name])


def reading(seq: int, ts: int, **values: tuple[str, int, int]) -> dict:
    return {
        "sequence": seq,
        "timestamp": ts,
        "values": [{"quantity": q, "unit": u, "value": v, "decimals": d} for q, (u, v, d) in values.items()],
    }


def record(name: str, owner: str, project_key: str, project_type: str, sensor_type: str, **extra) -> DeviceRecord:
    fields = {
        "device": device(name),
        "owner": owner,
        "project_key": project_key,
        "project_type": project_type,
        "sensor_type": sensor_type,
        "latitude": 17.16,
        "longitude": 104.15,
        "status": "active",
        "approved": True,
        "certified_until": 2**40 - 1,
    } | extra
    return DeviceRecord(**fields)


def populate(url: str) -> tuple[Pipeline, dict[str, int]]:
    """Meters with CO2e (one in maintenance, graded D), PM2.5 sensors on an agriculture and an
    industry project; every hour still provisional."""
    engine = store.open_engine(url)
    directory = StaticDirectory(
        {
            r.device: r
            for r in (
                record("meter", OWNER_A, PROJECT_METER, "industry", "fuel_meter"),
                record("maintenance", OWNER_B, PROJECT_METER, "industry", "fuel_meter", status="maintenance"),
                record("field", OWNER_A, PROJECT_FIELD, "agriculture", "pm25"),
                record("plant", OWNER_A, PROJECT_PLANT, "industry", "pm25"),
            )
        }
    )
    pipeline = Pipeline(engine, directory, DOMAIN)
    plan = {
        "meter": [
            reading(1, T0, diesel=("L", 1000, 2)),  # 10.00 L x 2.6446 kg/L = 26.446 kg
            reading(2, T0 + 3600, diesel=("L", 250, 1)),  # 25.0 L = 66.115 kg
            reading(3, T0 + 7200, electricity=("kWh", 40, 0)),  # no default grid factor: no CO2e
        ],
        "maintenance": [reading(1, T0, diesel=("L", 4, 0))],  # 10.5784 kg, graded D (maintenance cap)
        "field": [
            reading(1, T0, pm25=("ug/m3", BURNING * 10 - 1, 1)),  # 0.1 below the open-burning threshold
            reading(2, T0 + 3600, pm25=("ug/m3", BURNING * 10 + 1, 1)),  # 0.1 above it: flagged
            reading(3, T0 + 7200, pm25=("ug/m3", 350, 0)),  # flagged
        ],
        "plant": [reading(1, T0 + 3600, pm25=("ug/m3", 500, 0))],  # not an agriculture project
    }
    items = []
    for name, readings in plan.items():
        message = sign_message(KEYS[name], readings, DOMAIN)
        items.append(Incoming(sensor_topic(message["device"]), json.dumps(message).encode(), int(time.time() * 1000)))
    result = pipeline.ingest(items)
    assert (result.accepted_readings, result.rejected, result.flags) == (8, {}, 2)
    return pipeline, result.grades


def json_out(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    result = run_cli(tmp_path, "oracle", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_emissions_count_final_grades_at_or_above_the_minimum(tmp_path: Path, database_url: str) -> None:
    pipeline, _ = populate(database_url)
    db = ("--database", database_url)
    assert json_out(tmp_path, "emissions", *db) == []  # provisional grades count for nothing yet
    pipeline.finalize_hours(pipeline.provisional_hours())
    pipeline.engine.dispose()

    def emissions(*args: str) -> list[tuple[str, str, int, float, int]]:
        rows = json_out(tmp_path, "emissions", *db, *args)
        # kg as a number (PostgreSQL's sum comes back a string: see the test after this one)
        return sorted((r["participant"], r["project_key"], r["hour"], float(r["kg_co2e"]), r["readings"]) for r in rows)

    meter = [(OWNER_A, PROJECT_METER, T0, 26.446, 1), (OWNER_A, PROJECT_METER, T0 + 3600, 66.115, 1)]
    maintenance = [(OWNER_B, PROJECT_METER, T0, 10.578, 1)]  # whole grams: 10,578.4 g -> 10,578
    assert emissions() == meter  # --min-grade C: the meter in maintenance (D) is left out
    assert emissions("--min-grade", "d") == sorted(meter + maintenance)
    assert emissions("--min-grade", "F", "--participant", OWNER_B.upper().replace("0X", "0x")) == maintenance
    assert emissions("--min-grade", "F", "--project-key", PROJECT_FIELD) == []  # PM2.5 is no emission
    assert emissions("--min-grade", "A", "--project-key", PROJECT_METER) == meter

    status = json_out(tmp_path, "status", *db)
    assert status["readings_by_grade"]["D"] == 1 and sum(status["readings_by_grade"].values()) == 8
    assert status["provisional"] == 0 and status["open_burning_flags"] == 2


def test_emissions_print_kg_as_json_numbers(tmp_path: Path, database_url: str) -> None:
    pipeline, _ = populate(database_url)
    pipeline.finalize_hours(pipeline.provisional_hours())
    pipeline.engine.dispose()
    rows = json_out(tmp_path, "emissions", "--database", database_url)
    assert [type(r["kg_co2e"]) for r in rows] == [float, float]
    assert all(type(r[k]) is int for r in rows for k in ("hour", "readings"))


def test_open_burning_flags_name_the_agriculture_project_and_hour(tmp_path: Path, database_url: str) -> None:
    pipeline, _ = populate(database_url)
    field = device("field")
    with pipeline.engine.connect() as conn:
        ids = dict(
            conn.execute(
                store.readings.select()
                .with_only_columns(store.readings.c.sequence, store.readings.c.id)
                .where(store.readings.c.device == field)
            ).all()
        )
    pipeline.engine.dispose()
    flags = json_out(tmp_path, "flags", "--database", database_url)
    assert [(f["kind"], f["reading_id"], f["hour"], f["project_key"], f["participant"]) for f in flags] == [
        ("open_burning", ids[2], T0 + 3600, PROJECT_FIELD, OWNER_A),
        ("open_burning", ids[3], T0 + 7200, PROJECT_FIELD, OWNER_A),
    ]
    assert flags[0]["detail"].startswith(f"pm25 {BURNING}.1 ug/m3 ")
    assert flags[0]["detail"].endswith(f"{BURNING} on an agriculture project")


@pytest.mark.parametrize("bad", ["G", "1"])
def test_emissions_refuse_a_bad_min_grade(tmp_path: Path, bad: str) -> None:
    url = f"sqlite:///{tmp_path}/e.db"
    result = run_cli(tmp_path, "oracle", "emissions", "--database", url, "--min-grade", bad)
    refused(result, "--min-grade must be a letter A-F")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("bad", ["AB", ""])
def test_emissions_refuse_a_min_grade_that_is_not_one_letter(tmp_path: Path, bad: str) -> None:
    url = f"sqlite:///{tmp_path}/e.db"
    refused(run_cli(tmp_path, "oracle", "emissions", "--database", url, "--min-grade", bad), "--min-grade")
