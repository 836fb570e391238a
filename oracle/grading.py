"""A-F grading of sensor readings on five factors. Nothing is deleted: every reading that passes the
signature check is stored raw with its 0-100 score, its letter and the reasons; consumers choose
the grade they accept.

Two stages, so a grade never depends on how devices' messages interleave:

1. ``grade_own(obs, profile, history)``: completeness, plausibility, stability and health, from
   this device's own previous readings only (its ``DeviceHistory``, updated in place, bounded and
   JSON round-tripping so the store keeps it in the same transaction as the readings).
2. ``spatial_scores(group)``: spatial agreement, over all readings of one UTC clock hour.

``final_grade(own, spatial)`` combines them (``spatial=None``: provisional, "spatial: pending").
``grade_series`` runs both stages over an in-memory series (replay, tests).

Thresholds (all module constants; GRADING.md explains the method):

====================  =====================================================================
factor                rule
====================  =====================================================================
completeness          gap = interval > ``GAP_FACTOR`` (1.5) x expected interval; each missed
                      reading -``MISSED_READING_PENALTY`` (10) from 100; averaged 50/50 with the
                      coverage of the trailing 24 h (readings seen / readings expected)
plausibility          ``PLAUSIBLE`` range per quantity; ``SENTINELS`` (-1, -999, -9999) on
                      quantities that cannot be negative; NaN/inf; unknown quantity -> 0
stability             stuck: the same value in ``STUCK_HOURS`` worth of consecutive readings (6
                      for hourly PM and gases; 24 for weather and for O3/NO2/SO2 at <= 2 ppb,
                      ``STUCK_QUIET``; at least 3) -> 80, then -10 per further reading, at least 20;
                      jump: a change above ``JUMP_LIMITS`` per hour, or by ``JUMP_RATIO`` (x5) when
                      the smaller value is above ``JUMP_RATIO_FLOOR``, within ``JUMP_MAX_AGE`` (3 h)
                      -> 40
spatial               z = |x - median(neighbours)| / max(1.4826 MAD, ``SPATIAL_FLOOR``,
                      ``SPATIAL_RELATIVE`` x median) over >= 2 other devices within 25 km in the
                      same hour; z <= 3 -> 100, linear to 0 at z >= 8; worst quantity
health                offline 0; maintenance 40; certification expired 40; -5 per implausible
                      reading among the previous 24 (at least 40); fewer than 24 readings of
                      history at most 90; a timestamp not after the previous one at most 50
====================  =====================================================================

Score = weighted mean (``WEIGHTS``: plausibility 30, completeness 15, stability 20, spatial 20,
health 15); letter A >= 90, B >= 75, C >= 60, D >= 45, E >= 30, else F. Caps: an implausible or
sentinel value -> at best E; offline -> F; maintenance or expired certification -> at best D. A
capped score is lowered to the top of its letter, so the letter always follows from the score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from carbonix.exceptions import CarbonixValueError
from oracle.datasets import QUANTITIES, DatasetRow

FACTORS = ("completeness", "plausibility", "stability", "spatial", "health")
WEIGHTS = {"completeness": 15, "plausibility": 30, "stability": 20, "spatial": 20, "health": 15}
LETTERS = (("A", 90), ("B", 75), ("C", 60), ("D", 45), ("E", 30), ("F", 0))
STATUSES = ("active", "maintenance", "offline")
_ORDER = {name: i for i, (name, _) in enumerate(LETTERS)}
_TOP = {"A": 100, "B": 89, "C": 74, "D": 59, "E": 44, "F": 29}  # highest score of each letter

# Plausibility: physical ranges in the canonical units (Thailand for the weather).
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "pm25": (0, 1000),
    "pm10": (0, 2000),
    "o3": (0, 500),
    "co": (0, 100),
    "no2": (0, 2000),
    "so2": (0, 2000),
    "wind_speed": (0, 75),
    "wind_direction": (0, 360),
    "temperature": (-10, 55),
    "humidity": (0, 100),
    "co2": (300, 10_000),
    "ch4": (1, 1000),
    "co2_flux": (-1e6, 1e6),
    "ch4_flux": (-1e6, 1e6),
    "diesel": (0, 1e9),
    "gasoline": (0, 1e9),
    "lpg": (0, 1e9),
    "natural_gas": (0, 1e9),
    "electricity": (0, 1e12),
    "aqi": (0, 500),
}
SENTINELS = frozenset({-1.0, -999.0, -9999.0})  # "not reported", on quantities that cannot be negative

# Completeness.
GAP_FACTOR = 1.5  # an interval above 1.5 x the expected one is a gap
MISSED_READING_PENALTY = 10  # points per missed reading, down to 0
COVERAGE_HOURS = 24  # trailing window of the coverage term (hour buckets)
GAP_SHARE = 0.5  # completeness = 0.5 gap term + 0.5 coverage term

# Stability.
STUCK_HOURS: dict[str, int] = {  # unchanged this long (in readings of the expected interval) = stuck
    "pm25": 6,
    "pm10": 6,
    "o3": 6,
    "co": 6,
    "no2": 6,
    "so2": 6,
    "co2": 6,
    "ch4": 6,
    "aqi": 6,
    "temperature": 24,  # whole-degree stations repeat a value through a night
    "humidity": 24,  # saturated nights sit at 97-100 %
    "wind_speed": 24,  # whole-m/s anemometers read 0-2 through calm spells
    "wind_direction": 24,
}
STUCK_QUIET: dict[str, float] = {"o3": 2, "no2": 2, "so2": 2}  # at or below: detection-limit level, 24 h
STUCK_QUIET_HOURS = 24
STUCK_MIN_READINGS = 3
STUCK_SCORE = 80  # at the threshold, then -10 per further reading
STUCK_STEP = 10
STUCK_FLOOR = 20
JUMP_LIMITS: dict[str, float] = {  # largest plausible change per hour
    "pm25": 150,
    "pm10": 250,
    "o3": 100,
    "co": 5,
    "no2": 100,
    "so2": 100,
    "co2": 1000,
    "ch4": 50,
    "aqi": 150,
    "temperature": 10,
    "humidity": 40,
    "wind_speed": 15,
}
JUMP_RATIO = 5.0  # x5 up or down between consecutive readings ...
JUMP_RATIO_FLOOR: dict[str, float] = {"pm25": 20, "pm10": 30}  # ... when the smaller value is above this
JUMP_MAX_AGE = 3 * 3600  # jumps are judged against a previous value at most this old
JUMP_SCORE = 40

# Spatial agreement.
SPATIAL_RADIUS_KM = 25.0
SPATIAL_MIN_NEIGHBOURS = 2
SPATIAL_FLOOR: dict[str, float] = {  # smallest robust SD per quantity (sensor noise); others not compared
    "pm25": 5,
    "pm10": 8,
    "o3": 5,
    "co": 0.2,
    "no2": 5,
    "so2": 3,
    "wind_speed": 1,
    "temperature": 1.5,
    "humidity": 8,
    "co2": 20,
    "ch4": 0.1,
    "aqi": 10,
}
SPATIAL_RELATIVE = 0.2  # robust SD is at least 20 % of the neighbours' median
SPATIAL_Z_OK = 3.0
SPATIAL_Z_ZERO = 8.0
MAD_TO_SD = 1.4826
EARTH_RADIUS_KM = 6371.0088

# Health.
HEALTH_WINDOW = 24  # previous readings remembered for implausible values
HEALTH_PENALTY = 5
HEALTH_FLOOR = 40
HEALTH_NEW_READINGS = 24  # fewer readings of history than this: at most HEALTH_NEW
HEALTH_NEW = 90
HEALTH_MAINTENANCE = 40
HEALTH_EXPIRED = 40
HEALTH_CLOCK = 50


@dataclass(frozen=True)
class Observation:
    device: str
    sequence: int
    timestamp: int
    values: Mapping[str, float]


@dataclass(frozen=True)
class DeviceProfile:
    latitude: float | None
    longitude: float | None
    status: str = "active"
    certified_until: int = 0  # unix seconds; 0 = unknown
    expected_interval: int = 3600  # seconds between readings

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise CarbonixValueError(f"device status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.expected_interval <= 0:
            raise CarbonixValueError("expected_interval must be positive")


@dataclass
class DeviceHistory:
    """A device's trailing state for stage 1; at most ~24 hour buckets and one entry per quantity."""

    first_timestamp: int | None = None
    last_timestamp: int | None = None
    readings: int = 0
    hours: dict[int, int] = field(default_factory=dict)  # hour bucket (unix hour) -> readings, last 24
    series: dict[str, list[float]] = field(default_factory=dict)  # quantity -> [value, timestamp, run]
    implausible: int = 0  # bit i set: the (i+1)-th previous reading had an implausible value

    def to_json(self) -> str:
        return json.dumps(
            {
                "first": self.first_timestamp,
                "last": self.last_timestamp,
                "readings": self.readings,
                "hours": {str(h): n for h, n in sorted(self.hours.items())},
                "series": {q: self.series[q] for q in sorted(self.series)},
                "implausible": self.implausible,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> DeviceHistory:
        try:
            data = json.loads(text)
            history = cls(
                first_timestamp=_optional_int(data["first"]),
                last_timestamp=_optional_int(data["last"]),
                readings=int(data["readings"]),
                hours={int(h): int(n) for h, n in data["hours"].items()},
                series={str(q): [float(v), int(t), int(r)] for q, (v, t, r) in data["series"].items()},
                implausible=int(data["implausible"]),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CarbonixValueError(f"not a DeviceHistory: {exc}") from exc
        return history


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class OwnGrade:
    """Stage 1: the four factors that depend only on the device's own series."""

    completeness: int
    plausibility: int
    stability: int
    health: int
    cap: str  # best letter allowed ("A": no cap)
    cap_reason: str
    reasons: tuple[str, ...]
    suspect: frozenset[str]  # quantities implausible or stuck: not offered to neighbours

    def to_json(self) -> str:
        """Kept with a provisional reading until its hour is graded spatially."""
        return json.dumps(
            {
                "completeness": self.completeness,
                "plausibility": self.plausibility,
                "stability": self.stability,
                "health": self.health,
                "cap": self.cap,
                "cap_reason": self.cap_reason,
                "reasons": list(self.reasons),
                "suspect": sorted(self.suspect),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> OwnGrade:
        try:
            data = json.loads(text)
            own = cls(
                int(data["completeness"]),
                int(data["plausibility"]),
                int(data["stability"]),
                int(data["health"]),
                str(data["cap"]),
                str(data["cap_reason"]),
                tuple(str(r) for r in data["reasons"]),
                frozenset(str(q) for q in data["suspect"]),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise CarbonixValueError(f"not an OwnGrade: {exc}") from exc
        if own.cap not in _ORDER:
            raise CarbonixValueError(f"not an OwnGrade: cap {own.cap!r}")
        return own


@dataclass(frozen=True)
class SpatialInput:
    key: Hashable
    latitude: float | None
    longitude: float | None
    values: Mapping[str, float]
    device: str | None = None  # readings of the same device are never each other's neighbours


@dataclass(frozen=True)
class SpatialScore:
    key: Hashable
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Grade:
    score: int
    grade: str
    factors: dict[str, int]
    reasons: tuple[str, ...]


# --- stage 1 -------------------------------------------------------------------------------------


def implausible_reason(quantity: str, value: float) -> str | None:
    """Why a value is implausible (range, sentinel, not finite, unknown quantity), or None."""
    bounds = PLAUSIBLE.get(quantity)
    if bounds is None:
        return f"plausibility: unknown quantity {quantity!r}"
    if not math.isfinite(value):
        return f"plausibility: {quantity} = {value} is not a finite number"
    low, high = bounds
    if low >= 0 and value in SENTINELS:
        return f"plausibility: {quantity} = {value:g} is a not-reported sentinel"
    if not low <= value <= high:
        return f"plausibility: {quantity} = {value:g} outside {low:g}..{high:g} {QUANTITIES[quantity]}"
    return None


def grade_own(obs: Observation, profile: DeviceProfile, history: DeviceHistory) -> OwnGrade:
    """Completeness, plausibility, stability and health of one reading; updates ``history``."""
    t = obs.timestamp
    interval = profile.expected_interval
    gaps: list[str] = []  # reasons, per factor
    ranges: list[str] = []
    steadiness: list[str] = []
    health_notes: list[str] = []

    # Completeness: the gap before this reading, and the coverage of the trailing 24 h.
    last = history.last_timestamp
    gap_score = 100
    clock_back = last is not None and t <= last
    if last is not None and t - last > GAP_FACTOR * interval:
        missed = max(1, round((t - last) / interval) - 1)
        gap_score = max(0, 100 - MISSED_READING_PENALTY * missed)
        gaps.append(f"completeness: {_count(missed, 'reading')} missing before this one (gap {_duration(t - last)})")
    hour = t // 3600
    hours = history.hours
    hours[hour] = hours.get(hour, 0) + 1
    oldest = hour - COVERAGE_HOURS
    if len(hours) > COVERAGE_HOURS or min(hours) <= oldest:
        for h in [h for h in hours if h <= oldest]:
            del hours[h]
    seen = sum(hours.values()) if not clock_back else sum(n for h, n in hours.items() if h <= hour)
    start = max((oldest + 1) * 3600, history.first_timestamp if history.first_timestamp is not None else t)
    expected = max(1, (t - start) // interval + 1)
    coverage = min(100, 100 * seen // expected)
    if coverage < 100:
        gaps.append(f"completeness: {seen} of {expected} expected readings in the last {COVERAGE_HOURS} h")
    completeness = round(GAP_SHARE * gap_score + (1 - GAP_SHARE) * coverage)

    # Plausibility and stability, value by value.
    plausibility = 100
    stability = 100
    suspect: set[str] = set()
    series = history.series
    for quantity, value in obs.values.items():
        bounds = PLAUSIBLE.get(quantity)
        # Sentinels are negative, so on a quantity that cannot be negative they fail the range too.
        if bounds is None or not bounds[0] <= value <= bounds[1]:
            plausibility = 0
            suspect.add(quantity)
            ranges.append(implausible_reason(quantity, value) or f"plausibility: {quantity} = {value:g}")
            continue
        state = series.get(quantity)
        if state is None:
            series[quantity] = [value, t, 1]
            continue
        previous, previous_t, run = state[0], int(state[1]), int(state[2])
        state[1] = t
        if value != previous:
            state[0], state[2] = value, 1
            dt = t - previous_t
            if 0 < dt <= JUMP_MAX_AGE:
                jump = _jump(quantity, previous, value, dt)
                if jump:
                    stability = min(stability, JUMP_SCORE)
                    steadiness.append(
                        f"stability: {quantity} jumped {previous:g} -> {value:g} in {_duration(dt)}{jump}"
                    )
            continue
        run += 1
        state[2] = run
        stuck_hours = STUCK_HOURS.get(quantity)
        if stuck_hours is not None and run >= STUCK_MIN_READINGS:
            if value <= STUCK_QUIET.get(quantity, -math.inf):
                stuck_hours = STUCK_QUIET_HOURS
            threshold = max(STUCK_MIN_READINGS, -(-stuck_hours * 3600 // interval))
            if run >= threshold:
                stability = min(stability, max(STUCK_FLOOR, STUCK_SCORE - STUCK_STEP * (run - threshold)))
                suspect.add(quantity)
                steadiness.append(f"stability: {quantity} unchanged for {run} readings")
    if not obs.values:
        plausibility = 0
        ranges.append("plausibility: no values")

    # Health: status, certification, recent implausible readings, length of history, clock.
    health = 100
    cap, cap_reason = "A", ""
    failures = (history.implausible & ((1 << HEALTH_WINDOW) - 1)).bit_count()
    if failures:
        health = max(HEALTH_FLOOR, 100 - HEALTH_PENALTY * failures)
        window = min(HEALTH_WINDOW, history.readings)
        health_notes.append(f"health: {failures} of the last {window} readings had implausible values")
    if history.readings < HEALTH_NEW_READINGS:
        health = min(health, HEALTH_NEW)
        health_notes.append(f"health: new sensor, {_count(history.readings, 'reading')} of history")
    if clock_back:
        health = min(health, HEALTH_CLOCK)
        health_notes.append(f"health: timestamp {t} not after the previous reading's {last}")
    if profile.certified_until and t > profile.certified_until:
        health = min(health, HEALTH_EXPIRED)
        cap, cap_reason = "D", "expired certification"
        health_notes.append(
            f"health: certification expired {_duration(t - profile.certified_until)} before this reading"
        )
    if profile.status == "maintenance":
        health = min(health, HEALTH_MAINTENANCE)
        cap, cap_reason = "D", "maintenance"
        health_notes.append("health: sensor in maintenance")
    elif profile.status == "offline":
        health = 0
        cap, cap_reason = "F", "offline sensor"
        health_notes.append("health: sensor offline")
    if plausibility == 0 and _ORDER[cap] < _ORDER["E"]:
        cap, cap_reason = "E", "an implausible or sentinel value"

    # History update (the factors above used only the previous readings).
    if history.first_timestamp is None:
        history.first_timestamp = t
    history.last_timestamp = t if last is None else max(last, t)
    history.readings += 1
    history.implausible = ((history.implausible << 1) | (plausibility == 0)) & ((1 << HEALTH_WINDOW) - 1)
    reasons = (*gaps, *ranges, *steadiness, *health_notes)  # in the order of FACTORS (spatial comes later)
    return OwnGrade(completeness, plausibility, stability, health, cap, cap_reason, reasons, frozenset(suspect))


def _jump(quantity: str, previous: float, value: float, dt: int) -> str:
    """The reason's ending when ``previous -> value`` within ``dt`` seconds is a jump, else ""."""
    limit = JUMP_LIMITS.get(quantity)
    if limit is not None and abs(value - previous) > (limit if dt <= 3600 else limit * dt / 3600):
        return f" (limit {limit:g} per h)"
    floor = JUMP_RATIO_FLOOR.get(quantity)
    if floor is not None:
        small, large = (previous, value) if previous < value else (value, previous)
        if small > floor and large >= JUMP_RATIO * small:
            return f" (x{large / small:.1f}, limit x{JUMP_RATIO:g} above {floor:g})"
    return ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _duration(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400:g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


# --- stage 2 -------------------------------------------------------------------------------------


def spatial_input(key: Hashable, obs: Observation, profile: DeviceProfile, own: OwnGrade | None = None) -> SpatialInput:
    """A reading as stage 2 sees it: its stuck or implausible values (``own.suspect``) left out."""
    values = (
        obs.values if own is None or not own.suspect else {q: v for q, v in obs.values.items() if q not in own.suspect}
    )
    return SpatialInput(key, profile.latitude, profile.longitude, values, obs.device)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@lru_cache(maxsize=256)
def _neighbour_table(places: tuple[tuple[float, float], ...], radius_km: float) -> tuple[tuple[int, ...], ...]:
    """For each place, the indices of the other places within ``radius_km``."""
    return tuple(
        tuple(
            j
            for j, (olat, olon) in enumerate(places)
            if j != k
            and abs(olat - lat) * 111.19 <= radius_km  # pre-filter: a degree of latitude is 111.19 km
            and distance_km(lat, lon, olat, olon) <= radius_km
        )
        for k, (lat, lon) in enumerate(places)
    )


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def spatial_scores(group: Sequence[SpatialInput], radius_km: float = SPATIAL_RADIUS_KM) -> list[SpatialScore]:
    """Spatial agreement of each reading of one clock hour with its neighbours, in input order.

    A neighbour is another device of the group within ``radius_km`` that has the quantity; a device
    with several readings in the hour counts once, with the median of its plausible values. The
    result does not depend on the order of ``group``.
    """
    # Per device: its location; who is near whom (cached: the same stations report every hour).
    places: dict[Hashable, tuple[float, float]] = {}
    devices: list[Hashable] = []
    for i, item in enumerate(group):
        device: Hashable = item.device if item.device is not None else ("#", i)
        devices.append(device)
        if item.latitude is not None and item.longitude is not None and device not in places:
            places[device] = (item.latitude, item.longitude)
    located = sorted(places, key=places.__getitem__)
    table = _neighbour_table(tuple(places[d] for d in located), radius_km)
    neighbours = {d: [located[j] for j in table[k]] for k, d in enumerate(located)}
    # Each neighbour's value of each plausible, comparable quantity (median of its readings this hour).
    wanted = {n for near in neighbours.values() if len(near) >= SPATIAL_MIN_NEIGHBOURS for n in near}
    gathered: dict[Hashable, dict[str, list[float]]] = {d: {} for d in wanted}
    for item, device in zip(group, devices, strict=True):
        bucket = gathered.get(device)
        if bucket is None:
            continue
        for q, v in item.values.items():
            if q in SPATIAL_FLOOR and PLAUSIBLE[q][0] <= v <= PLAUSIBLE[q][1]:
                bucket.setdefault(q, []).append(v)
    typical = {d: {q: (vs[0] if len(vs) == 1 else _median(vs)) for q, vs in qs.items()} for d, qs in gathered.items()}

    out: list[SpatialScore] = []
    for item, device in zip(group, devices, strict=True):
        if device not in places:
            out.append(SpatialScore(item.key, 100, ("spatial: no coordinates",)))
            continue
        near = neighbours[device]
        if len(near) < SPATIAL_MIN_NEIGHBOURS:
            out.append(SpatialScore(item.key, 100, ("spatial: too few neighbours",)))
            continue
        score = 100.0
        flagged: list[tuple[float, str]] = []
        compared = False
        for q, x in item.values.items():
            floor = SPATIAL_FLOOR.get(q)
            if floor is None or not PLAUSIBLE[q][0] <= x <= PLAUSIBLE[q][1]:
                continue
            ref = [typical[n][q] for n in near if q in typical[n]]
            if len(ref) < SPATIAL_MIN_NEIGHBOURS:
                continue
            compared = True
            centre = _median(ref)
            scale = max(MAD_TO_SD * _median([abs(r - centre) for r in ref]), floor, SPATIAL_RELATIVE * abs(centre))
            z = abs(x - centre) / scale
            if z > SPATIAL_Z_OK:
                s = max(0.0, 100 * (SPATIAL_Z_ZERO - z) / (SPATIAL_Z_ZERO - SPATIAL_Z_OK))
                score = min(score, s)
                flagged.append(
                    (
                        s,
                        f"spatial: {q} = {x:g} deviates {z:.1f} robust SD from {len(ref)} neighbours "
                        f"within {radius_km:g} km (median {centre:g})",
                    )
                )
        if not compared:
            out.append(SpatialScore(item.key, 100, ("spatial: too few neighbours",)))
            continue
        flagged.sort()
        out.append(SpatialScore(item.key, math.floor(round(score, 6)), tuple(r for _, r in flagged)))
    return out


# --- final grade -----------------------------------------------------------------------------------


def letter(score: int) -> str:
    for name, low in LETTERS:
        if score >= low:
            return name
    return "F"


def final_grade(own: OwnGrade, spatial: SpatialScore | None) -> Grade:
    """Weighted score, letter, caps; ``spatial=None`` is a provisional grade ("spatial: pending")."""
    factors = {
        "completeness": own.completeness,
        "plausibility": own.plausibility,
        "stability": own.stability,
        "spatial": 100 if spatial is None else spatial.score,
        "health": own.health,
    }
    score = (sum(WEIGHTS[f] * v for f, v in factors.items()) + 50) // 100  # weights sum to 100; half up
    grade = letter(score)
    spatial_reasons = ("spatial: pending",) if spatial is None else spatial.reasons
    if own.reasons and own.reasons[-1].startswith("health:"):  # spatial goes before health, as in FACTORS
        cut = next(i for i, r in enumerate(own.reasons) if r.startswith("health:"))
        reasons = [*own.reasons[:cut], *spatial_reasons, *own.reasons[cut:]]
    else:
        reasons = [*own.reasons, *spatial_reasons]
    if _ORDER[own.cap] > _ORDER[grade]:
        reasons.append(f"grade: {own.cap_reason} caps the grade at {own.cap}")
        grade = own.cap
        score = min(score, _TOP[grade])
    return Grade(score, grade, factors, tuple(reasons))


# --- whole series ----------------------------------------------------------------------------------


def grade_series(
    rows: Sequence[Observation], profiles: Mapping[str, DeviceProfile], radius_km: float = SPATIAL_RADIUS_KM
) -> list[Grade]:
    """Both stages over an in-memory series; grades in the order of ``rows``.

    Stage 1 runs per device in (timestamp, sequence) order from an empty history; stage 2 per UTC
    hour. A device without a profile has no coordinates and the default profile.
    """
    default = DeviceProfile(None, None)
    order = sorted(range(len(rows)), key=lambda i: (rows[i].device, rows[i].timestamp, rows[i].sequence))
    histories: dict[str, DeviceHistory] = {}
    own: list[OwnGrade | None] = [None] * len(rows)
    for i in order:
        obs = rows[i]
        history = histories.get(obs.device)
        if history is None:
            history = histories[obs.device] = DeviceHistory()
        own[i] = grade_own(obs, profiles.get(obs.device, default), history)
    hours: dict[int, list[int]] = {}
    for i, obs in enumerate(rows):
        hours.setdefault(obs.timestamp // 3600, []).append(i)
    spatial: dict[Hashable, SpatialScore] = {}
    for members in hours.values():
        group = [spatial_input(i, rows[i], profiles.get(rows[i].device, default), own[i]) for i in members]
        spatial.update((score.key, score) for score in spatial_scores(group, radius_km))
    return [final_grade(o, spatial[i]) for i, o in enumerate(own) if o is not None]


def as_observations(rows: Iterable[DatasetRow]) -> tuple[list[Observation], dict[str, DeviceProfile]]:
    """Dataset rows (errors skipped by the caller) as observations with per-station sequence numbers
    in file order, and a profile per station from its first row with coordinates."""
    observations: list[Observation] = []
    profiles: dict[str, DeviceProfile] = {}
    sequences: dict[str, int] = {}
    for row in rows:
        sequence = sequences.get(row.station_id, 0)
        sequences[row.station_id] = sequence + 1
        observations.append(
            Observation(row.station_id, sequence, row.timestamp, {q: float(v) for q, v in row.values.items()})
        )
        known = profiles.get(row.station_id)
        if known is None or (known.latitude is None and row.latitude is not None):
            profiles[row.station_id] = DeviceProfile(row.latitude, row.longitude)
    return observations, profiles
