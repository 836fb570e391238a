"""The oracle's ingest pipeline: verify, check against the registry, grade, store. No MQTT in here.

``Pipeline.ingest`` takes raw payloads (as they came off the broker) and, in one database
transaction, stores every accepted message with its graded readings and every refused one with
its reason. It never raises on bad input; a database error rolls the whole call back (the caller
has not acknowledged those messages, so the broker delivers them again).

Checks, in order (the reason recorded when one fails):
1. the message itself (``oracle.messages``): oversized, not_json, missing_field, bad_field,
   bad_value, wrong_domain, bad_signature;
2. the topic names the signing device (wrong_topic);
3. the registry knows the device (unknown_sensor);
4. the same signed message again (duplicate: a redelivery, harmless), a sequence not above the
   device's last one (replay);
5. a verifier approved the device and its certification has not expired (unapproved_sensor);
6. per reading: each quantity in its canonical unit (bad_unit), and a timestamp at most
   ``max_future_seconds`` ahead of the clock (future_timestamp).

An accepted reading gets its own-series grade at once (completeness, plausibility, stability,
health) and its spatial factor when its hour is finalized (``finalize_hours``): until then it is
``provisional``. Grams of CO2e come from the sensor's method (``oracle.emissions``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, select, update

from oracle import accuracy, grading, store
from oracle.datasets import QUANTITIES
from oracle.devices import DeviceDirectory, DeviceRecord
from oracle.emissions import EmissionFactors, open_burning, reading_co2e
from oracle.messages import Domain, Rejection, SensorMessage, parse_message

TOPIC_PREFIX = "carbonix/sensors/"
TOPIC_FILTER = "carbonix/sensors/+/readings"
PIPELINE_REASONS = (
    "wrong_topic",
    "unknown_sensor",
    "duplicate",
    "replay",
    "unapproved_sensor",
    "bad_unit",
    "future_timestamp",
)


def sensor_topic(device: str) -> str:
    """The MQTT topic a device publishes on (its checksum address, one topic per sensor)."""
    return f"{TOPIC_PREFIX}{device}/readings"


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    received_at_ms: int


@dataclass
class IngestResult:
    messages: int = 0
    accepted_messages: int = 0
    accepted_readings: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    grades: dict[str, int] = field(default_factory=dict)
    flags: int = 0
    hours: set[int] = field(default_factory=set)  # the hours the accepted readings fall in

    def add_rejection(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


@dataclass
class DeviceState:
    record: DeviceRecord
    last_sequence: int | None
    last_timestamp: int | None
    history: grading.DeviceHistory
    dirty: bool = False


def profile_of(record: DeviceRecord) -> grading.DeviceProfile:
    return grading.DeviceProfile(
        latitude=record.latitude,
        longitude=record.longitude,
        status=record.status,
        certified_until=record.certified_until,
    )


@dataclass
class _Pending:
    """What one ingest call writes, gathered so that each table gets one multi-row insert."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    readings: list[list[dict[str, Any]]] = field(default_factory=list)  # per message
    rejections: list[dict[str, Any]] = field(default_factory=list)
    flags: list[tuple[DeviceRecord, int, str]] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)

    def write(self, conn: Connection) -> None:
        if self.messages:
            m = store.messages
            inserted = conn.execute(insert(m).returning(m.c.id, sort_by_parameter_order=True), self.messages)
            ids: Sequence[int] = inserted.scalars().all()
            rows: list[dict[str, Any]] = []
            for message_id, readings in zip(ids, self.readings, strict=True):
                for row in readings:
                    row["message_id"] = message_id
                    rows.append(row)
            conn.execute(insert(store.readings), rows)
        if self.rejections:
            conn.execute(insert(store.rejections), self.rejections)
        if self.flags:
            r = store.readings.c
            wanted = {(record.device, seq): (record, detail) for record, seq, detail in self.flags}
            found = conn.execute(
                select(r.id, r.device, r.sequence, r.hour).where(
                    and_(r.device.in_({d for d, _ in wanted}), r.sequence.in_({s for _, s in wanted}))
                )
            ).all()
            flag_rows = []
            for hit in found:
                if (hit.device, hit.sequence) in wanted:
                    record, detail = wanted[(hit.device, hit.sequence)]
                    flag_rows.append(
                        {
                            "kind": "open_burning",
                            "reading_id": hit.id,
                            "project_key": record.project_key,
                            "participant": record.owner,
                            "hour": hit.hour,
                            "detail": detail,
                        }
                    )
            conn.execute(insert(store.flags), flag_rows)


class Pipeline:
    def __init__(
        self,
        engine: Engine,
        directory: DeviceDirectory,
        domain: Domain,
        factors: EmissionFactors | None = None,
        max_future_seconds: int = 300,
        clock: Callable[[], float] = time.time,
        on_result: Callable[[IngestResult], None] | None = None,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.domain = domain
        self.factors = factors or EmissionFactors.load()
        self.max_future_seconds = max_future_seconds
        self.clock = clock
        self.on_result = on_result
        self._states: dict[str, DeviceState] = {}

    # ingest ---------------------------------------------------------------------------------
    def ingest(self, items: Sequence[Incoming]) -> IngestResult:
        """Stores ``items`` in one transaction; on a database error nothing of them is stored."""
        result = IngestResult()
        pending = _Pending()
        try:
            with self.engine.begin() as conn:
                for item in items:
                    result.messages += 1
                    outcome = self._one(conn, item, result, pending)
                    if outcome is not None:
                        reason, detail, device = outcome
                        result.add_rejection(reason)
                        pending.rejections.append(rejection_row(item, reason, detail, device))
                pending.write(conn)
                self._save_states(conn)
        except Exception:
            self._states.clear()  # reload what the database really holds
            raise
        if self.on_result:
            self.on_result(result)
        return result

    def _one(
        self, conn: Connection, item: Incoming, result: IngestResult, pending: _Pending
    ) -> tuple[str, str, str | None] | None:
        parsed = parse_message(item.payload, self.domain)
        if isinstance(parsed, Rejection):
            return parsed.reason, parsed.detail, None
        message: SensorMessage = parsed
        device = message.device
        if item.topic.lower() != sensor_topic(device).lower():
            return "wrong_topic", f"{device} published on {item.topic}", device
        state = self._state(conn, device)
        if state is None:
            return "unknown_sensor", f"{device} is not in the SensorRegistry", device
        first = message.readings[0].sequence
        if state.last_sequence is not None and first <= state.last_sequence:
            c = store.messages.c
            if (
                message.digest in pending.digests
                or conn.execute(select(c.id).where(c.digest == message.digest)).first()
            ):
                return "duplicate", f"message {message.digest} is already stored", device
            return "replay", f"sequence {first} is not above the last seen {state.last_sequence}", device
        record = state.record
        if not record.approved:
            return "unapproved_sensor", f"{device} is not approved by a verifier", device
        now = int(self.clock())
        if record.certified_until < now:
            return "unapproved_sensor", f"{device}'s certification expired at {record.certified_until}", device
        for r in message.readings:
            for value in r.values:
                unit = QUANTITIES.get(value.quantity)
                if unit != value.unit:
                    expected = f"expected {unit}" if unit else "unknown quantity"
                    return "bad_unit", f"{value.quantity} in {value.unit!r}: {expected}", device
            if r.timestamp > now + self.max_future_seconds:
                return "future_timestamp", f"timestamp {r.timestamp} is {r.timestamp - now} s ahead", device
        self._grade_message(item, message, state, result, pending)
        return None

    def _grade_message(
        self, item: Incoming, message: SensorMessage, state: DeviceState, result: IngestResult, pending: _Pending
    ) -> None:
        record = state.record
        profile = profile_of(record)
        rows = []
        for r in message.readings:
            amounts = {m.quantity: (m.unit, Decimal(m.value).scaleb(-m.decimals)) for m in r.values}
            since = None if state.last_timestamp is None else r.timestamp - state.last_timestamp
            co2e = reading_co2e(record.sensor_type, amounts, since, profile.expected_interval, self.factors)
            observation = grading.Observation(
                device=message.device,
                sequence=r.sequence,
                timestamp=r.timestamp,
                values={q: float(a) for q, (_, a) in amounts.items()},
            )
            own = grading.grade_own(observation, profile, state.history)
            provisional = grading.final_grade(own, None)
            rows.append(
                {
                    "device": message.device,
                    "sequence": r.sequence,
                    "timestamp": r.timestamp,
                    "hour": r.timestamp - r.timestamp % 3600,
                    "content_hash": "0x" + r.hash.hex(),
                    "measurements": json.dumps([[m.quantity, m.unit, m.value, m.decimals] for m in r.values]),
                    "grams_co2e": co2e.grams,
                    "score": provisional.score,
                    "grade": provisional.grade,
                    "factors": json.dumps(provisional.factors),
                    "reasons": json.dumps(list(provisional.reasons) + list(co2e.notes)),
                    "own": own.to_json(),
                    "provisional": True,
                    "batch_id": None,
                    "leaf_index": None,
                }
            )
            burning = open_burning(record.project_type, amounts)
            if burning:
                pending.flags.append((record, r.sequence, burning))
                result.flags += 1
            state.last_sequence, state.last_timestamp = r.sequence, r.timestamp
            result.hours.add(r.timestamp - r.timestamp % 3600)
            result.grades[provisional.grade] = result.grades.get(provisional.grade, 0) + 1
        pending.digests.add(message.digest)
        pending.messages.append(
            {
                "digest": message.digest,
                "device": message.device,
                "topic": item.topic,
                "received_at": item.received_at_ms,
                "reading_count": len(message.readings),
                "payload": item.payload.decode(),
            }
        )
        pending.readings.append(rows)
        state.dirty = True
        result.accepted_messages += 1
        result.accepted_readings += len(rows)

    # device state ---------------------------------------------------------------------------
    def _state(self, conn: Connection, device: str) -> DeviceState | None:
        record = self.directory.lookup(device)
        if record is None:
            return None
        state = self._states.get(device)
        if state is None:
            row = conn.execute(select(store.devices).where(store.devices.c.device == device)).first()
            history = grading.DeviceHistory.from_json(row.history) if row and row.history else grading.DeviceHistory()
            state = DeviceState(
                record=record,
                last_sequence=row.last_sequence if row else None,
                last_timestamp=row.last_timestamp if row else None,
                history=history,
                dirty=row is None,
            )
            self._states[device] = state
        elif state.record != record:
            state.record = record
            state.dirty = True
        return state

    def _save_states(self, conn: Connection) -> None:
        now = int(self.clock())
        for device, state in self._states.items():
            if not state.dirty:
                continue
            r = state.record
            values = {
                "owner": r.owner,
                "project_key": r.project_key,
                "project_type": r.project_type,
                "sensor_type": r.sensor_type,
                "latitude": None if r.latitude is None else round(r.latitude * 1e6),
                "longitude": None if r.longitude is None else round(r.longitude * 1e6),
                "status": r.status,
                "approved": r.approved,
                "certified_until": r.certified_until,
                "reference_method": r.reference_method,
                "last_sequence": state.last_sequence,
                "last_timestamp": state.last_timestamp,
                "history": state.history.to_json(),
                "refreshed_at": now,
            }
            updated = conn.execute(
                update(store.devices).where(store.devices.c.device == device).values(**values)
            ).rowcount
            if not updated:
                conn.execute(insert(store.devices).values(device=device, **values))
            state.dirty = False

    # finalize -------------------------------------------------------------------------------
    def provisional_hours(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(store.readings.c.hour).where(store.readings.c.provisional.is_(True)).distinct()
                ).scalars()
            )

    def finalize_hours(self, hours: Iterable[int], per_transaction: int = 48) -> dict[str, int]:
        """Runs the spatial check for each hour and turns its provisional grades into final ones;
        returns how many readings got each final grade."""
        grades: dict[str, int] = {}
        ordered = sorted(hours)
        for i in range(0, len(ordered), per_transaction):
            with self.engine.begin() as conn:
                for grade, n in finalize_hours(conn, ordered[i : i + per_transaction]).items():
                    grades[grade] = grades.get(grade, 0) + n
        return grades


def finalize_hours(conn: Connection, hours: Sequence[int]) -> dict[str, int]:
    """Final grades for the provisional readings of ``hours`` (one spatial group per hour)."""
    r, d = store.readings.c, store.devices.c
    selected = conn.execute(
        select(
            r.id,
            r.device,
            r.hour,
            r.measurements,
            r.own,
            r.provisional,
            r.reasons,
            d.latitude,
            d.longitude,
            d.reference_method,
        )  # fmt: skip
        .join(store.devices, d.device == r.device)
        .where(r.hour.in_(list(hours)))
        .order_by(r.hour, r.device, r.sequence)
    ).all()
    by_hour: dict[int, list[Any]] = {}
    for row in selected:
        by_hour.setdefault(row.hour, []).append(row)
    updates: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    for rows in by_hour.values():
        if any(row.provisional for row in rows):
            graded, compared = _finalize_group(rows)
            updates.extend(graded)
            comparisons.extend(compared)
    if comparisons:
        # A late reading re-opens its hour: only the pairs not recorded yet are added.
        a = store.accuracy.c
        recorded = conn.execute(select(a.reading_id, a.quantity).where(a.hour.in_(list(hours))))
        done = {(row.reading_id, row.quantity) for row in recorded}
        fresh = [c for c in comparisons if (c["reading_id"], c["quantity"]) not in done]
        if fresh:
            conn.execute(insert(store.accuracy), fresh)
    if updates:
        conn.execute(
            update(store.readings)
            .where(store.readings.c.id == bindparam("rid"))
            .values(
                score=bindparam("score"),
                grade=bindparam("grade"),
                factors=bindparam("factors"),
                reasons=bindparam("reasons"),
                provisional=False,
            ),
            updates,
        )
    grades: dict[str, int] = {}
    for u in updates:
        grades[u["grade"]] = grades.get(u["grade"], 0) + 1
    return grades


def _finalize_group(rows: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One hour: the final grades of its provisional readings, and every reading's comparison with
    a co-located reference station (``oracle.accuracy``)."""
    owns = [grading.OwnGrade.from_json(row.own) for row in rows]
    values = [measurement_values(row.measurements) for row in rows]
    places = [
        (None if row.latitude is None else row.latitude / 1e6, None if row.longitude is None else row.longitude / 1e6)
        for row in rows
    ]
    group = [
        grading.SpatialInput(
            key=row.id,
            latitude=lat,
            longitude=lon,
            # a value its own series already found implausible or stuck is no neighbour's yardstick
            values={q: v for q, v in vs.items() if q not in own.suspect},
            device=row.device,
        )
        for row, own, vs, (lat, lon) in zip(rows, owns, values, places, strict=True)
    ]
    hour = [
        accuracy.HourReading(row.id, row.device, lat, lon, vs, frozenset(own.suspect), bool(row.reference_method))
        for row, own, vs, (lat, lon) in zip(rows, owns, values, places, strict=True)
    ]
    hour_of = {row.id: row.hour for row in rows}
    compared = [
        {
            "reading_id": c.key,
            "quantity": c.quantity,
            "device": c.device,
            "reference_device": c.reference_device,
            "hour": hour_of[c.key],
            "measured": c.measured,
            "reference_value": c.reference_value,
            "distance_m": c.distance_m,
            "accuracy": c.accuracy,
        }
        for c in accuracy.compare_hour(hour)
    ]
    spatial = grading.spatial_scores(group)
    updates = []
    for row, own, score in zip(rows, owns, spatial, strict=True):
        if not row.provisional:
            continue
        final = grading.final_grade(own, score)
        notes = [n for n in json.loads(row.reasons) if n.startswith("co2e:")]
        updates.append(
            {
                "rid": row.id,
                "score": final.score,
                "grade": final.grade,
                "factors": json.dumps(final.factors),
                "reasons": json.dumps(list(final.reasons) + notes),
            }
        )
    return updates, compared


def measurement_values(measurements_json: str) -> dict[str, float]:
    return {q: v / 10**dec for q, _unit, v, dec in json.loads(measurements_json)}


def rejection_row(item: Incoming, reason: str, detail: str, device: str | None) -> dict[str, Any]:
    return {
        "received_at": item.received_at_ms,
        "topic": item.topic[:255],
        "device": device,
        "reason": reason,
        "detail": detail[:1000],
        "size": len(item.payload),
        "payload_sha256": hashlib.sha256(item.payload).hexdigest(),
        # PostgreSQL text holds no NUL character
        "payload": item.payload[: store.MAX_KEPT_PAYLOAD].decode("utf-8", "replace").replace("\x00", "\ufffd"),
    }


def counts_by_grade(engine: Engine, devices: Sequence[str] | None = None) -> dict[str, int]:
    """Readings per grade, of every device or of ``devices`` only."""
    r = store.readings.c
    query = select(r.grade, func.count().label("n")).group_by(r.grade)
    if devices is not None:
        query = query.where(r.device.in_(list(devices)))
    with engine.connect() as conn:
        return {row.grade: row.n for row in conn.execute(query)}
