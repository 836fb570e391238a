"""Accuracy of sensors against a co-located reference station, by the business plan's formula.

The plan (section 8.3.1) defines a reading's accuracy against a reliable source such as a Pollution
Control Department station, and sets the platform's floor at 85 % (target 90 %)::

    accuracy = (1 - |measured - standard| / standard) x 100 %

Here the standard is a *reference method*: a sensor a verifier designated so on-chain
(``SensorRegistry.setReferenceMethod``). When a clock hour is finalized, every reading of a sensor
that is not a reference gets one comparison per quantity of ``QUANTITIES`` (pollutants and
greenhouse gases) for which a reference sensor within ``RADIUS_KM`` reported in the same hour:

- the reference value is the median of the reference's plausible, non-suspect values of that hour
  (a stuck or implausible reference is no yardstick); with several references in range, the
  nearest one counts (ties: the lower address);
- the measured value must be plausible (``grading.PLAUSIBLE``): a sentinel such as -1 is a missing
  value, which the grade already records, not a measurement to score;
- a reference value below the quantity's noise floor (``FLOOR``, the spatial check's, e.g. 5 ug/m3
  of PM2.5) is skipped: a relative error against almost nothing says nothing;
- a result below 0 % (a reading more than twice the reference) counts as 0 %, so that a single
  wild hour cannot pull a mean below zero.

The accuracy *rate* of a sensor, a project or a participant is the mean of its comparisons; the
share of comparisons at or above ``TARGET_PERCENT`` is reported beside it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, case, func, select

from oracle import grading, store

RADIUS_KM = 2.0  # co-located: within 2 km (PCD 50t and BMA Lumpini Park are 0.94 km apart)
TARGET_PERCENT = 85.0  # the plan's floor for the first phase; 90 % is its next target
# What a reference station measures for compliance: pollutants and greenhouse gases (not weather).
QUANTITIES = ("pm25", "pm10", "o3", "co", "no2", "so2", "co2", "ch4")
FLOOR = {q: float(grading.SPATIAL_FLOOR[q]) for q in QUANTITIES}


@dataclass(frozen=True)
class HourReading:
    """One reading of a clock hour as the comparison sees it."""

    key: Hashable  # the reading's id
    device: str
    latitude: float | None
    longitude: float | None
    values: dict[str, float]
    suspect: frozenset[str]  # quantities the device's own series found stuck or implausible
    reference: bool


@dataclass(frozen=True)
class Comparison:
    key: Hashable
    device: str
    reference_device: str
    quantity: str
    measured: float
    reference_value: float
    distance_m: int
    accuracy: float  # percent, 0-100


def accuracy_percent(measured: float, standard: float) -> float:
    """The plan's formula, bounded to 0-100 %; ``standard`` must be positive."""
    if standard <= 0:
        raise ValueError("the standard value must be positive")
    return max(0.0, (1.0 - abs(measured - standard) / standard) * 100.0)


def _median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _plausible(quantity: str, value: float) -> bool:
    low, high = grading.PLAUSIBLE[quantity]
    return low <= value <= high


def compare_hour(group: Sequence[HourReading], radius_km: float = RADIUS_KM) -> list[Comparison]:
    """The comparisons of one clock hour's readings with their nearest reference, in input order."""
    standards: dict[str, dict[str, list[float]]] = {}
    places: dict[str, tuple[float, float]] = {}
    for item in group:
        if not item.reference or item.latitude is None or item.longitude is None:
            continue
        places[item.device] = (item.latitude, item.longitude)
        for q, v in item.values.items():
            if q in FLOOR and q not in item.suspect and _plausible(q, v):
                standards.setdefault(item.device, {}).setdefault(q, []).append(v)
    if not standards:
        return []
    typical = {d: {q: _median(vs) for q, vs in qs.items()} for d, qs in standards.items()}
    out: list[Comparison] = []
    nearest: dict[str, list[tuple[float, str]]] = {}
    for item in group:
        if item.reference or item.latitude is None or item.longitude is None:
            continue
        near = nearest.get(item.device)
        if near is None:
            near = sorted(
                ((grading.distance_km(item.latitude, item.longitude, *places[d]), d) for d in typical),
                key=lambda t: (t[0], t[1].lower()),
            )
            near = nearest[item.device] = [(km, d) for km, d in near if km <= radius_km]
        for q in sorted(item.values):
            value = item.values[q]
            if q not in FLOOR or not _plausible(q, value):
                continue
            found = next(((km, d) for km, d in near if q in typical[d]), None)
            if found is None:
                continue
            km, ref = found
            standard = typical[ref][q]
            if standard < FLOOR[q]:
                continue
            out.append(
                Comparison(
                    key=item.key,
                    device=item.device,
                    reference_device=ref,
                    quantity=q,
                    measured=value,
                    reference_value=standard,
                    distance_m=round(km * 1000),
                    accuracy=accuracy_percent(value, standard),
                )
            )
    return out


def summary_select(by: Sequence[Any], where: Sequence[Any] = ()) -> Select[Any]:
    """Comparisons of ``store.accuracy`` (joined with the measured device's ``store.devices`` row)
    grouped by the columns ``by``: how many, the mean, lowest and highest accuracy, how many met
    ``TARGET_PERCENT``, the nearest reference distance and the first and last hour."""
    a, d = store.accuracy.c, store.devices.c
    return (
        select(
            *by,
            func.count().label("comparisons"),
            func.avg(a.accuracy).label("mean"),
            func.min(a.accuracy).label("lowest"),
            func.max(a.accuracy).label("highest"),
            func.sum(case((a.accuracy >= TARGET_PERCENT, 1), else_=0)).label("at_target"),
            func.min(a.distance_m).label("distance_m"),
            func.min(a.hour).label("first_hour"),
            func.max(a.hour).label("last_hour"),
        )
        .select_from(store.accuracy.join(store.devices, d.device == a.device))
        .where(*where)
        .group_by(*by)
        .order_by(*by)
    )


def pair_summaries(conn: Connection, devices: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per measured device, reference and quantity: the accuracy rate and its spread."""
    a = store.accuracy.c
    where = [] if devices is None else [a.device.in_(list(devices))]
    rows = conn.execute(summary_select((a.device, a.reference_device, a.quantity), where)).all()
    return [
        {
            "device": r.device,
            "reference_device": r.reference_device,
            "quantity": r.quantity,
            "distance_m": int(r.distance_m),
            "comparisons": int(r.comparisons),
            "accuracy_percent": round(float(r.mean), 2),
            "lowest_percent": round(float(r.lowest), 2),
            "highest_percent": round(float(r.highest), 2),
            "share_at_target": round(int(r.at_target) / int(r.comparisons), 6),
            "target_percent": TARGET_PERCENT,
        }
        for r in rows
    ]
