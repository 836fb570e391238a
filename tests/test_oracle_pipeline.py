"""The oracle's ingest pipeline on real databases (SQLite and the running PostgreSQL), no MQTT:
every refusal is recorded with its reason and stores nothing else, accepted readings are kept
verbatim with grades and reasons, CO2e follows the sensor's method, open burning is flagged,
and sealed batches prove each of their readings."""

from __future__ import annotations

import json
import math
import time
from decimal import Decimal

import pytest
from eth_account import Account
from sqlalchemy import func, select

from carbonix.merkle import StandardMerkleTree
from oracle import store
from oracle.devices import DeviceRecord, StaticDirectory
from oracle.messages import MAX_MESSAGE_BYTES, Domain, sign_message
from oracle.outbox import LEAF_TYPES, period_start, prove, seal_batches
from oracle.pipeline import PIPELINE_REASONS, Incoming, Pipeline, sensor_topic

DOMAIN = Domain(555888, "0x" + "cd" * 20)
OWNER = "0x" + "11" * 20
PROJECT_KEY = "0x" + "22" * 32
T0 = 1_767_200_400  # 2026-01-01 00:00 Thai time, a whole hour
FAR = 2**40 - 1


def record(device: str, sensor_type: str = "pm25", **overrides) -> DeviceRecord:
    fields = {
        "device": device,
        "owner": OWNER,
        "project_key": PROJECT_KEY,
        "project_type": "agriculture",
        "sensor_type": sensor_type,
        "latitude": 17.16,
        "longitude": 104.15,
        "status": "active",
        "approved": True,
        "certified_until": FAR,
    } | overrides
    return DeviceRecord(**fields)


def reading(seq: int, ts: int, **values: tuple[str, int, int]) -> dict:
    return {
        "sequence": seq,
        "timestamp": ts,
        "values": [{"quantity": q, "unit": u, "value": v, "decimals": d} for q, (u, v, d) in values.items()],
    }


def pm(seq: int, hours: int, pm25: int = 250) -> dict:
    return reading(seq, T0 + 3600 * hours, pm25=("ug/m3", pm25, 1), humidity=("%", 600, 1))


def incoming(message: dict | bytes, topic: str | None = None) -> Incoming:
    payload = message if isinstance(message, bytes) else json.dumps(message).encode()
    device = message["device"] if isinstance(message, dict) else "0x" + "00" * 20
    return Incoming(topic or sensor_topic(device), payload, int(time.time() * 1000))


@pytest.fixture
def setup(database_url: str):
    engine = store.open_engine(database_url)
    keys = [Account.create().key for _ in range(4)]
    devices = [Account.from_key(k).address for k in keys]
    directory = StaticDirectory(
        {
            devices[0]: record(devices[0]),
            devices[1]: record(devices[1], "fuel_meter", project_type="industry"),
            devices[2]: record(devices[2], approved=False),
            # devices[3] is not registered at all
        }
    )
    pipeline = Pipeline(engine, directory, DOMAIN)
    yield engine, pipeline, keys, devices
    engine.dispose()


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_every_bad_message_is_refused_with_its_reason_and_stores_nothing_else(setup) -> None:
    engine, pipeline, keys, devices = setup
    good = sign_message(keys[0], [pm(10, 0), pm(11, 1)], DOMAIN)
    other_domain = sign_message(keys[0], [pm(12, 2)], Domain(1, DOMAIN.verifying_contract))
    tampered = sign_message(keys[0], [pm(12, 2)], DOMAIN)
    tampered["readings"][0]["values"][0]["value"] += 1
    nan = sign_message(keys[0], [pm(12, 2)], DOMAIN)
    nan_payload = json.dumps(nan).replace('"value": 250', '"value": NaN').encode()
    missing = sign_message(keys[0], [pm(12, 2)], DOMAIN)
    del missing["signature"]
    future = sign_message(keys[0], [pm(12, int((time.time() - T0) // 3600) + 2)], DOMAIN)
    bad_unit = sign_message(keys[0], [reading(12, T0 + 7200, pm25=("mg/m3", 25, 3))], DOMAIN)
    cases = [
        (incoming(good), None),
        (incoming(good), "duplicate"),
        (incoming(sign_message(keys[0], [pm(11, 5)], DOMAIN)), "replay"),
        (incoming(tampered), "bad_signature"),
        (incoming(other_domain), "wrong_domain"),
        (incoming(b"\x00\xff not json"), "not_json"),
        (incoming(b"{" + b" " * MAX_MESSAGE_BYTES + b"}"), "oversized"),
        (Incoming(sensor_topic(devices[0]), nan_payload, 0), "bad_value"),
        (incoming(missing), "missing_field"),
        (incoming(future), "future_timestamp"),
        (incoming(bad_unit), "bad_unit"),
        (incoming(sign_message(keys[3], [pm(1, 0)], DOMAIN)), "unknown_sensor"),
        (incoming(sign_message(keys[2], [pm(1, 0)], DOMAIN)), "unapproved_sensor"),
        (incoming(good, topic=sensor_topic(devices[1])), "wrong_topic"),
    ]
    expected: dict[str, int] = {}
    for item, reason in cases:
        result = pipeline.ingest([item])
        if reason is None:
            assert (result.accepted_messages, result.accepted_readings, result.rejected) == (1, 2, {})
        else:
            assert result.rejected == {reason: 1}, (reason, result)
            expected[reason] = expected.get(reason, 0) + 1
    assert set(expected) <= set(PIPELINE_REASONS) | {
        "bad_signature", "wrong_domain", "not_json", "oversized", "bad_value", "missing_field"
    }  # fmt: skip
    with engine.connect() as conn:
        recorded = dict(conn.execute(select(store.rejections.c.reason, func.count()).group_by("reason")).all())
        kept = conn.execute(select(store.rejections.c.payload, store.rejections.c.size)).all()
    assert recorded == expected
    assert all(len(p) <= store.MAX_KEPT_PAYLOAD and size > 0 for p, size in kept)
    # only the one good message and its two readings are stored
    assert (count(engine, store.messages), count(engine, store.readings)) == (1, 2)


def test_accepted_readings_are_kept_verbatim_with_grades_and_reasons(setup) -> None:
    engine, pipeline, keys, _ = setup
    series = [pm(100 + h, h) for h in range(6)]
    series.append(reading(106, T0 + 6 * 3600, pm25=("ug/m3", -1, 0)))  # a not-reported sentinel
    series.append(reading(107, T0 + 7 * 3600, pm25=("ug/m3", -50, 0)))  # negative
    message = sign_message(keys[0], series, DOMAIN)
    result = pipeline.ingest([incoming(message)])
    assert result.accepted_readings == 8
    assert sum(result.grades.values()) == 8
    pipeline.finalize_hours(pipeline.provisional_hours())
    r = store.readings.c
    with engine.connect() as conn:
        stored = conn.execute(select(store.messages.c.payload)).scalar_one()
        rows = conn.execute(select(store.readings).order_by(r.sequence)).all()
    assert json.loads(stored) == message
    assert not any(row.provisional for row in rows)
    for row in rows:
        factors = json.loads(row.factors)
        assert set(factors) == {"completeness", "plausibility", "stability", "spatial", "health"}
        assert 0 <= row.score <= 100 and row.grade in "ABCDEF"
    sentinel, negative = rows[6], rows[7]
    for row in (sentinel, negative):
        assert row.grade not in "AB"
        assert any("plausibility" in reason for reason in json.loads(row.reasons))
    assert rows[0].grade < sentinel.grade  # letters sort best first


def test_co2e_follows_the_sensor_method(setup) -> None:
    engine, pipeline, keys, _ = setup
    readings = [
        reading(1, T0, diesel=("L", 1000, 2)),  # 10.00 L of diesel
        reading(2, T0 + 3600, diesel=("L", 250, 1)),  # 25.0 L
        reading(3, T0 + 7200, electricity=("kWh", 40, 0)),  # no default grid factor
    ]
    pipeline.ingest([incoming(sign_message(keys[1], readings, DOMAIN))])
    with engine.connect() as conn:
        rows = conn.execute(select(store.readings).order_by(store.readings.c.sequence)).all()
    assert [row.grams_co2e for row in rows] == [int(Decimal("10.00") * Decimal("2.6446") * 1000), 66115, 0]
    assert any("no emission factor for electricity" in n for n in json.loads(rows[2].reasons))


def test_open_burning_is_flagged_for_agriculture_projects(setup) -> None:
    engine, pipeline, keys, _ = setup
    pipeline.ingest([incoming(sign_message(keys[0], [pm(1, 0, pm25=350), pm(2, 1, pm25=1500)], DOMAIN))])
    with engine.connect() as conn:
        flags = conn.execute(select(store.flags)).all()
    assert [(f.kind, f.hour, f.project_key) for f in flags] == [("open_burning", T0 + 3600, PROJECT_KEY)]
    assert "pm25 150" in flags[0].detail


def test_a_database_error_rolls_back_the_whole_call(setup) -> None:
    engine, pipeline, keys, _ = setup
    first = sign_message(keys[0], [pm(1, 0)], DOMAIN)
    pipeline.ingest([incoming(first)])
    # the same (device, sequence) under another digest, slipped past the replay check: the
    # database's unique constraint refuses it and nothing of the call is kept
    pipeline._states.clear()
    with engine.begin() as conn:
        conn.execute(store.devices.update().values(last_sequence=None))
    clash = sign_message(keys[0], [pm(1, 0, pm25=999)], DOMAIN)
    fresh = sign_message(keys[0], [pm(2, 1)], DOMAIN)
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        pipeline.ingest([incoming(clash), incoming(fresh)])
    assert count(engine, store.readings) == 1
    assert pipeline.ingest([incoming(fresh)]).accepted_readings == 1


def test_sealed_batches_hold_every_final_reading_and_prove_each(setup) -> None:
    engine, pipeline, keys, _ = setup
    day = 86400
    pipeline.ingest([incoming(sign_message(keys[0], [pm(1 + h, h) for h in range(30)], DOMAIN))])
    assert seal_batches(engine, closed_before=T0 + 10 * day) == []  # provisional readings hold it back
    pipeline.finalize_hours(pipeline.provisional_hours())
    sealed = seal_batches(engine, closed_before=T0 + day)  # only the first day has closed
    assert [(b.period_start, b.reading_count, b.part) for b in sealed] == [(period_start(T0, day), 24, 0)]
    sealed += seal_batches(engine, closed_before=T0 + 10 * day)
    assert [b.reading_count for b in sealed] == [24, 6]
    assert seal_batches(engine, closed_before=T0 + 10 * day) == []  # nothing sealed twice
    # a late reading of the first day goes into part 1 of that day
    late = sign_message(keys[0], [pm(40, 23, pm25=260)], DOMAIN)
    pipeline._states.clear()
    with engine.begin() as conn:
        conn.execute(store.devices.update().values(last_sequence=31))
    pipeline.ingest([incoming(late)])
    pipeline.finalize_hours(pipeline.provisional_hours())
    later = seal_batches(engine, closed_before=T0 + 10 * day)
    assert [(b.period_start, b.part, b.reading_count) for b in later] == [(period_start(T0, day), 1, 1)]
    with engine.connect() as conn:
        ids = conn.execute(select(store.readings.c.id)).scalars().all()
    for reading_id in ids:
        proof = prove(engine, reading_id)
        assert StandardMerkleTree.verify(proof["readings_root"], LEAF_TYPES, _leaf(proof["leaf"]), proof["proof"])


def _leaf(values: list) -> list:
    return [values[0], values[1], values[2], bytes.fromhex(values[3][2:]), *values[4:]]


def test_grades_are_finite_and_reasons_name_their_factor(setup) -> None:
    engine, pipeline, keys, _ = setup
    pipeline.ingest([incoming(sign_message(keys[0], [pm(1, 0), pm(2, 5, pm25=9000)], DOMAIN))])
    pipeline.finalize_hours(pipeline.provisional_hours())
    with engine.connect() as conn:
        rows = conn.execute(select(store.readings)).all()
    for row in rows:
        assert math.isfinite(row.score)
        for reason in json.loads(row.reasons):
            assert reason.split(":")[0] in {"completeness", "plausibility", "stability", "spatial", "health", "co2e"}
