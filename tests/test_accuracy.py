"""Accuracy of sensors against co-located reference stations (oracle/accuracy.py): the business
plan's formula on hand-made hours, the whole AirBKK file checked against a computation straight
from the CSV, a reference reading that arrives after its hour was finalized (SQLite and the
running PostgreSQL), the CLI, and the REST API's two views of it served over HTTP."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import func, select
from test_api import Served

from oracle import accuracy, store
from oracle.accuracy import HourReading, accuracy_percent, compare_hour
from oracle.devices import DeviceRecord, StaticDirectory
from oracle.messages import Domain, sign_message
from oracle.pipeline import Incoming, Pipeline, sensor_topic

CARBONIX = Path(sys.executable).parent / "carbonix"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AIRBKK = DATA / "airbkk-bangkok-raw-hourly" / "airbkk_pm25_hourly_2024_2025_JanApr.csv"
# AirBKK's file gives station 139 (a PCD station, Pathum Wan) no coordinates; PCD lists its Pathum
# Wan station 50t, Chulalongkorn Hospital, here (air4thai-north-2026/stations.csv).
PCD_50T = "139=13.729852,100.536501"
LUMPINI, PCD = (13.732225, 100.5448381), (13.729852, 100.536501)
DOMAIN = Domain(555888, "0x" + "cd" * 20)
OWNER = "0x" + "11" * 20
T0 = 1_767_200_400  # a whole hour


def hour_reading(key: int, device: str, place: tuple[float, float] | None, reference: bool, **values: float):
    lat, lon = place if place else (None, None)
    return HourReading(key, device, lat, lon, values, frozenset(), reference)


# --- the formula and its edges ---------------------------------------------------------------------
def test_the_plans_formula_bounded_to_0_100() -> None:
    assert accuracy_percent(25, 25) == 100
    assert accuracy_percent(30, 25) == pytest.approx(80)
    assert accuracy_percent(20, 25) == pytest.approx(80)
    assert accuracy_percent(80, 25) == 0  # more than twice the reference: 0 %, never negative
    with pytest.raises(ValueError, match="positive"):
        accuracy_percent(1, 0)


def test_each_reading_meets_its_nearest_reference_in_range() -> None:
    pcd, north = "0x" + "aa" * 20, "0x" + "bb" * 20
    group = [
        hour_reading(1, "0xlow", LUMPINI, False, pm25=30.0, pm10=50.0, temperature=31.0),
        hour_reading(2, pcd, PCD, True, pm25=25.0),  # 0.94 km away
        hour_reading(3, north, (13.7400, 100.5448), True, pm25=10.0, pm10=40.0),  # 0.86 km away
        hour_reading(4, "0xfar", (14.5, 101.0), False, pm25=99.0),  # no reference within 2 km
        hour_reading(5, "0xnowhere", None, False, pm25=30.0),  # no coordinates
    ]
    found = {(c.key, c.quantity): c for c in compare_hour(group)}
    assert set(found) == {(1, "pm25"), (1, "pm10")}  # temperature is no compared quantity
    # the nearer reference (north, 0.86 km) is the standard for both quantities
    assert found[(1, "pm25")].reference_device == north
    assert found[(1, "pm25")].accuracy == 0  # 30 against 10
    assert found[(1, "pm10")].reference_device == north
    assert found[(1, "pm10")].accuracy == pytest.approx(75.0)
    assert found[(1, "pm10")].distance_m == pytest.approx(860, abs=15)
    # a larger radius reaches the far sensor too; references are never measured themselves
    wide = compare_hour(group, radius_km=200)
    assert {c.key for c in wide} == {1, 4}


def test_no_yardstick_from_a_suspect_reference_or_below_the_floor() -> None:
    ref = "0x" + "aa" * 20
    stuck = HourReading(2, ref, *PCD, {"pm25": 25.0}, frozenset({"pm25"}), True)
    assert compare_hour([hour_reading(1, "0xlow", LUMPINI, False, pm25=30.0), stuck]) == []
    low = [hour_reading(1, "0xlow", LUMPINI, False, pm25=3.0), hour_reading(2, ref, PCD, True, pm25=4.0)]
    assert compare_hour(low) == []  # 4 ug/m3 is below the PM2.5 noise floor (5)
    sentinel = [hour_reading(1, "0xlow", LUMPINI, False, pm25=-1.0), hour_reading(2, ref, PCD, True, pm25=20.0)]
    assert compare_hour(sentinel) == []  # -1 is a missing value, not a measurement
    # two readings of the reference in the hour: their median is the standard
    twice = [
        hour_reading(1, "0xlow", LUMPINI, False, pm25=24.0),
        hour_reading(2, ref, PCD, True, pm25=18.0),
        hour_reading(3, ref, PCD, True, pm25=30.0),
    ]
    (c,) = compare_hour(twice)
    assert (c.reference_value, c.accuracy) == (24.0, 100.0)


# --- the real AirBKK file ---------------------------------------------------------------------------
def straight_from_the_csv() -> tuple[int, float, float]:
    """Station 114 against 139, hour by hour, computed here from the CSV alone."""
    hours: dict[str, dict[str, float]] = {}
    with AIRBKK.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if row["station_id"] in ("114", "139") and row["pm25_ugm3"].strip():
                hours.setdefault(row["datetime_local"], {})[row["station_id"]] = float(row["pm25_ugm3"])
    scores = [
        max(0.0, 1 - abs(v["114"] - v["139"]) / v["139"]) * 100
        for v in hours.values()
        if "114" in v and "139" in v and v["139"] >= 5
    ]
    return len(scores), sum(scores) / len(scores), sum(s >= 85 for s in scores) / len(scores)


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    env["CARBONIX_STATE_DIR"] = str(tmp_path / "state")
    env.pop("ORACLE_DATABASE_URL", None)
    return subprocess.run([str(CARBONIX), *args], capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.fixture(scope="module")
def airbkk_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """The whole AirBKK file replayed into a SQLite store, 139 placed where PCD lists 50t."""
    tmp = tmp_path_factory.mktemp("airbkk")
    url = f"sqlite:///{tmp}/oracle.db"
    result = run_cli(tmp, "oracle", "replay", str(AIRBKK), "--locate", PCD_50T, "--database", url, "--json")
    assert result.returncode == 0, result.stderr
    return url, json.loads(result.stdout)


def test_airbkk_lumpini_against_the_pcd_station_agrees_with_the_csv(airbkk_store, tmp_path: Path) -> None:
    url, summary = airbkk_store
    (pair,) = summary["accuracy"]  # only 114 and 139 are located; 139 is the only PCD station among them
    assert (pair["station"], pair["reference_station"], pair["quantity"]) == ("114", "139", "pm25")
    n, mean, share = straight_from_the_csv()
    assert pair["comparisons"] == n
    assert pair["accuracy_percent"] == pytest.approx(mean, abs=0.005)
    assert pair["share_at_target"] == pytest.approx(share, abs=1e-6)
    assert pair["distance_m"] == pytest.approx(940, abs=10)
    # the store says the same through `carbonix oracle accuracy`
    listed = run_cli(tmp_path, "oracle", "accuracy", "--database", url, "--json")
    assert listed.returncode == 0, listed.stderr
    (stored,) = json.loads(listed.stdout)
    assert {k: stored[k] for k in stored} == {k: pair[k] for k in stored}
    text = run_cli(tmp_path, "oracle", "accuracy", "--database", url)
    assert f"over {n:,} hours" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("oracle", "replay", str(AIRBKK), "--locate", "139"), "expected STATION=LAT,LON"),
        (("oracle", "replay", str(AIRBKK), "--locate", "139=91,100"), "expected STATION=LAT,LON"),
        (("oracle", "replay", str(AIRBKK), "--locate", "139=abc,100"), "expected STATION=LAT,LON"),
        (("oracle", "accuracy", "--device", "0x123"), "is not a wallet address"),
    ],
)
def test_bad_cli_input_is_one_clear_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli(tmp_path, *args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- a late reference reading ----------------------------------------------------------------------------
def _message(key: bytes, seq: int, ts: int, pm25_tenths: int) -> Incoming:
    reading = {
        "sequence": seq,
        "timestamp": ts,
        "values": [{"quantity": "pm25", "unit": "ug/m3", "value": pm25_tenths, "decimals": 1}],
    }
    message = sign_message(key, [reading], DOMAIN)
    return Incoming(sensor_topic(message["device"]), json.dumps(message).encode(), int(time.time() * 1000))


def _record(device: str, place: tuple[float, float], reference: bool) -> DeviceRecord:
    return DeviceRecord(
        device, OWNER, "0x" + "22" * 32, "", "pm25", *place, "active", True, 2**40 - 1, reference_method=reference
    )


def test_a_reference_reading_after_the_hour_was_final_is_compared_once(database_url: str) -> None:
    engine = store.open_engine(database_url)
    try:
        low_key, ref_key = Account.create().key, Account.create().key
        low, ref = Account.from_key(low_key).address, Account.from_key(ref_key).address
        directory = StaticDirectory({low: _record(low, LUMPINI, False), ref: _record(ref, PCD, True)})
        pipeline = Pipeline(engine, directory, DOMAIN)
        pipeline.ingest([_message(low_key, 1, T0 + 600, 300)])  # 30.0 ug/m3
        pipeline.finalize_hours(pipeline.provisional_hours())
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(store.accuracy)).scalar_one() == 0
        pipeline.ingest([_message(ref_key, 1, T0 + 900, 250)])  # the reference's 25.0, late
        pipeline.finalize_hours(pipeline.provisional_hours())
        pipeline.ingest([_message(low_key, 2, T0 + 1200, 250)])  # re-opens the hour once more
        pipeline.finalize_hours(pipeline.provisional_hours())
        with engine.connect() as conn:
            rows = conn.execute(select(store.accuracy).order_by(store.accuracy.c.measured)).all()
            (pair,) = accuracy.pair_summaries(conn)
        assert [(r.device, r.reference_device, r.measured, r.reference_value) for r in rows] == [
            (low, ref, 25.0, 25.0),
            (low, ref, 30.0, 25.0),
        ]
        assert [r.accuracy for r in rows] == [100.0, pytest.approx(80.0)]
        assert (pair["comparisons"], pair["accuracy_percent"], pair["share_at_target"]) == (2, 90.0, 0.5)
    finally:
        engine.dispose()


# --- the REST API -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(airbkk_store, tmp_path_factory: pytest.TempPathFactory):
    from indexer import db
    from indexer.api import create_app

    url, _ = airbkk_store
    index_url = f"sqlite:///{tmp_path_factory.mktemp('index')}/indexer.db"
    db.open_engine(index_url).dispose()  # an empty index: the accuracy comes from the oracle's store
    with Served(create_app(index_url, oracle_database_url=url)) as with_store:
        bare_url = f"sqlite:///{tmp_path_factory.mktemp('bare')}/indexer.db"
        db.open_engine(bare_url).dispose()
        missing = f"sqlite:///{tmp_path_factory.mktemp('none')}/oracle.db"
        with Served(create_app(bare_url, oracle_database_url=missing)) as without:
            yield with_store.client, without.client


def test_api_serves_each_pair_and_the_total(served, airbkk_store) -> None:
    client, _ = served
    _, summary = airbkk_store
    (pair,) = summary["accuracy"]
    body = client.get("/v1/data-quality/accuracy").json()
    assert body["available"] is True and body["count"] == 1
    assert (body["radius_km"], body["target_percent"]) == (2.0, 85.0)
    (row,) = body["data"]
    assert (row["device"], row["reference_device"], row["quantity"]) == (
        pair["device"],
        pair["reference_device"],
        "pm25",
    )
    assert row["result"]["comparisons"] == pair["comparisons"]
    assert row["result"]["accuracy_percent"] == pair["accuracy_percent"]
    assert row["result"]["meets_target"] is (pair["accuracy_percent"] >= 85)
    assert row["device_label"] is None  # the index has not seen these replay devices
    assert client.get("/v1/data-quality/accuracy", params={"device": pair["device"].lower()}).json()["count"] == 1
    assert client.get("/v1/data-quality/accuracy", params={"quantity": "pm10"}).json()["count"] == 0
    assert client.get("/v1/data-quality/accuracy", params={"participant": OWNER}).json()["count"] == 0
    assert client.get("/v1/data-quality/accuracy", params={"offset": 1}).json()["data"] == []
    quality = client.get("/v1/data-quality").json()
    assert quality["accuracy_available"] is True
    assert quality["total"]["accuracy"]["comparisons"] == pair["comparisons"]
    assert quality["total"]["accuracy"]["accuracy_percent"] == pair["accuracy_percent"]


@pytest.mark.parametrize(
    ("params", "phrase"),
    [
        ({"quantity": "humidity"}, "not one of"),
        ({"device": "0x1234"}, "not an address"),
        ({"participant": "0xZZ" + "0" * 38}, "not an address"),
        ({"limit": "0"}, "greater than or equal"),
        ({"limit": "501"}, "less than or equal"),
        ({"colour": "green"}, "extra"),
    ],
)
def test_api_refuses_bad_accuracy_queries(served, params: dict[str, str], phrase: str) -> None:
    client, _ = served
    response = client.get("/v1/data-quality/accuracy", params=params)
    assert response.status_code == 422, response.text
    assert phrase in response.text.lower() and "traceback" not in response.text.lower()


def test_api_without_an_oracle_store_says_so(served) -> None:
    _, client = served
    body = client.get("/v1/data-quality/accuracy").json()
    assert body == {"available": False, "radius_km": 2.0, "target_percent": 85.0, "data": [], "count": 0}
    quality = client.get("/v1/data-quality").json()
    assert quality["accuracy_available"] is False and quality["total"]["accuracy"] is None


def test_api_sees_the_oracle_tables_once_they_appear(tmp_path: Path) -> None:
    from indexer import db
    from indexer.api import create_app
    from indexer.api.state import OracleStore

    index_url = f"sqlite:///{tmp_path}/indexer.db"
    db.open_engine(index_url).dispose()
    oracle_url = f"sqlite:///{tmp_path}/oracle.db"
    (tmp_path / "oracle.db").touch()  # the oracle has not created its tables yet
    app = create_app(index_url, oracle_database_url=oracle_url)
    app.state.api.oracle.RECHECK_SECONDS = 0.0
    with Served(app) as served:
        assert served.client.get("/v1/data-quality/accuracy").json()["available"] is False
        store.open_engine(oracle_url).dispose()  # the oracle starts and creates them
        assert served.client.get("/v1/data-quality/accuracy").json()["available"] is True
    assert isinstance(app.state.api.oracle, OracleStore)
