"""oracle.grading on the real sensor series in ../shared/data: on the Air4Thai east cluster a station
disagreeing with its neighbours is graded lower, sentinel values never get an A, gaps lower
completeness; stuck values, jumps and the health caps; histories that survive JSON and grades that
do not depend on how devices' readings interleave."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Hashable
from dataclasses import replace
from pathlib import Path

import pytest

from carbonix.exceptions import CarbonixValueError
from oracle.datasets import QUANTITIES, DatasetRow, read_dataset
from oracle.grading import (
    FACTORS,
    PLAUSIBLE,
    SENTINELS,
    WEIGHTS,
    DeviceHistory,
    DeviceProfile,
    Grade,
    Observation,
    OwnGrade,
    SpatialInput,
    as_observations,
    distance_km,
    final_grade,
    grade_own,
    grade_series,
    letter,
    spatial_input,
    spatial_scores,
)

DATA = Path(__file__).parents[1].parent / "shared" / "data"
EAST = DATA / "air4thai-east-raw-hourly" / "air4thai_raw_hourly_15stations_2023-12_2024-02.csv"
DUSTBOY = DATA / "dustboy-sakon-4473" / "dustboy_4473_hourly.csv"
NORTH = DATA / "air4thai-north-2026" / "air4thai_north_2026-01_04_hourly.csv"
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC
RAYONG = {"29t", "31t", "74t", "o38"}  # 1.6-22.4 km apart; 28t is 27.8-29.9 km from them


Series = tuple[list[Observation], dict[str, DeviceProfile], list[Grade]]


def load(path: Path, fmt: str) -> Series:
    rows = [r for r in read_dataset(path, fmt) if isinstance(r, DatasetRow)]
    observations, profiles = as_observations(rows)
    return observations, profiles, grade_series(observations, profiles)


@pytest.fixture(scope="module")
def east() -> Series:
    return load(EAST, "air4thai")


@pytest.fixture(scope="module")
def north() -> Series:
    return load(NORTH, "air4thai-north")


@pytest.fixture(scope="module")
def dustboy() -> Series:
    return load(DUSTBOY, "dustboy")


def worse(a: str, b: str) -> bool:
    """Letter ``a`` is a lower grade than ``b``."""
    return a > b


def clean(i: int) -> dict[str, float]:
    """A believable hourly reading that never repeats and never jumps."""
    return {"pm25": 20 + (i % 7) + 0.1 * i, "temperature": 25 + (i % 5) * 0.5 + 0.01 * i}


def run_own(values: list[dict[str, float]], profile: DeviceProfile | None = None, step: int = 3600) -> list[Grade]:
    """Provisional grades of one device's hourly series."""
    profile = profile or DeviceProfile(13.0, 100.0)
    history = DeviceHistory()
    return [
        final_grade(grade_own(Observation("dev", i, T0 + step * i, v), profile, history), None)
        for i, v in enumerate(values)
    ]


# --- spatial agreement on the Air4Thai east cluster ------------------------------------------------


def test_rayong_cluster_found_by_coordinates(east: Series) -> None:
    _, profiles, _ = east
    located = {
        d: (p.latitude, p.longitude) for d, p in profiles.items() if p.latitude is not None and p.longitude is not None
    }
    near = {d: {o for o in located if o != d and distance_km(*located[d], *located[o]) <= 25} for d in located}
    assert {d for d, others in near.items() if len(others) >= 2} == RAYONG
    assert all(near[d] == RAYONG - {d} for d in RAYONG)
    assert "o21" not in located  # no coordinates in the Air4Thai metadata


def test_grade_series_station_disagreeing_with_neighbours_graded_lower(east: Series) -> None:
    observations, profiles, grades = east
    at = {(o.device, o.timestamp): i for i, o in enumerate(observations)}
    hours = sorted({o.timestamp for o in observations})
    chosen = next(
        t
        for t in hours
        if all("pm25" in observations[at[(d, t)]].values for d in RAYONG)
        and observations[at[("29t", t)]].values["pm25"] > 10
        and grades[at[("29t", t)]].grade == "A"
        and grades[at[("29t", t)]].factors["spatial"] == 100
    )
    i = at[("29t", chosen)]
    before = grades[i]
    assert not any(r.startswith("spatial: too few") for r in before.reasons)
    perturbed = list(observations)
    perturbed[i] = replace(
        observations[i], values={**observations[i].values, "pm25": observations[i].values["pm25"] * 5}
    )
    after = grade_series(perturbed, profiles)[i]
    assert after.factors["spatial"] < before.factors["spatial"]
    assert after.score < before.score and worse(after.grade, before.grade)
    assert any(r.startswith("spatial: pm25 = ") and "from 3 neighbours within 25 km" in r for r in after.reasons)


def test_grade_series_real_outlier_in_the_cluster_graded_lower(east: Series) -> None:
    observations, _, grades = east
    cluster = [i for i, o in enumerate(observations) if o.device in RAYONG]
    outliers = [
        i
        for i in cluster
        if grades[i].factors["spatial"] == 0 and any(r.startswith("spatial: pm25") for r in grades[i].reasons)
    ]
    assert outliers, "no real hour where a Rayong station's PM2.5 disagrees with its neighbours"
    for i in outliers:
        station = observations[i].device
        usual = Counter(grades[j].grade for j in cluster if observations[j].device == station).most_common(1)[0][0]
        assert worse(grades[i].grade, usual)
        assert grades[i].score < statistics.median(
            grades[j].score for j in cluster if observations[j].device == station
        )
    # Stations outside the cluster are never compared.
    lonely = [g for o, g in zip(observations, grades, strict=True) if o.device not in RAYONG]
    assert all(g.factors["spatial"] == 100 for g in lonely)
    assert all("spatial: too few neighbours" in g.reasons or "spatial: no coordinates" in g.reasons for g in lonely)


def test_spatial_scores_outlier_and_order_independence() -> None:
    group = [
        SpatialInput("a", 12.70, 101.16, {"pm25": 20.0, "temperature": 28.0}, "a"),
        SpatialInput("b", 12.71, 101.17, {"pm25": 22.0, "temperature": 28.5}, "b"),
        SpatialInput("c", 12.72, 101.15, {"pm25": 21.0, "temperature": 27.5}, "c"),
        SpatialInput("d", 12.73, 101.18, {"pm25": 100.0, "temperature": 28.0}, "d"),
        SpatialInput("far", 14.0, 100.0, {"pm25": 500.0}, "far"),
        SpatialInput("nowhere", None, None, {"pm25": 20.0}, "nowhere"),
    ]
    scores = {s.key: s for s in spatial_scores(group)}
    assert scores["d"].score == 0
    assert scores["d"].reasons == (
        "spatial: pm25 = 100 deviates 15.8 robust SD from 3 neighbours within 25 km (median 21)",
    )
    assert all(scores[k].score == 100 and scores[k].reasons == () for k in "abc")
    assert scores["far"].reasons == ("spatial: too few neighbours",)
    assert scores["nowhere"].reasons == ("spatial: no coordinates",)
    for seed in range(5):
        shuffled = list(group)
        random.Random(seed).shuffle(shuffled)
        assert {s.key: s for s in spatial_scores(shuffled)} == scores


def test_spatial_scores_ignore_sentinels_and_same_device() -> None:
    group = [
        SpatialInput(1, 12.70, 101.16, {"pm25": 40.0}, "a"),
        SpatialInput(2, 12.71, 101.17, {"pm25": 20.0}, "b"),
        SpatialInput(3, 12.72, 101.15, {"pm25": 21.0}, "c"),
        SpatialInput(4, 12.73, 101.18, {"pm25": -1.0}, "d"),  # a sentinel is no one's reference
        SpatialInput(5, 12.74, 101.19, {"pm25": -999.0}, "e"),
    ]
    first = spatial_scores(group)[0]
    assert first.reasons == ("spatial: pm25 = 40 deviates 3.9 robust SD from 2 neighbours within 25 km (median 20.5)",)
    assert first.score == 82
    # Two readings of one device in the hour are not each other's neighbours.
    same = [SpatialInput(k, 12.7, 101.16, {"pm25": v}, "a") for k, v in enumerate([20.0, 21.0, 90.0])]
    assert all(s.reasons == ("spatial: too few neighbours",) for s in spatial_scores(same))


# --- sentinels, gaps, stuck values, jumps ------------------------------------------------------------


def test_grade_series_sentinels_never_graded_a_or_b(north: Series) -> None:
    observations, _, grades = north
    with_sentinel = [
        g for o, g in zip(observations, grades, strict=True) if any(v in SENTINELS for v in o.values.values())
    ]
    assert len(with_sentinel) == 120  # the hours a station reported PM2.5 as -1
    assert not [g for g in with_sentinel if g.grade in ("A", "B")]
    assert all(g.factors["plausibility"] == 0 for g in with_sentinel)
    assert all(any("is a not-reported sentinel" in r for r in g.reasons) for g in with_sentinel)
    assert all(letter(g.score) == g.grade for g in grades)


def test_grade_own_sentinel_caps_a_perfect_series_at_e() -> None:
    values = [clean(i) for i in range(48)]
    values[40] = {**values[40], "pm10": -1.0}
    grades = run_own(values)
    assert grades[39].grade == "A" and grades[41].grade == "A"
    assert grades[40].grade == "E" and grades[40].score == 44
    assert grades[40].reasons == (
        "plausibility: pm10 = -1 is a not-reported sentinel",
        "spatial: pending",
        "grade: an implausible or sentinel value caps the grade at E",
    )
    assert grades[41].factors["health"] == 95  # one implausible reading among the last 24
    for bad in ({"pm25": -999.0}, {"pm25": 1500.0}, {"humidity": 120.0}, {"pm25": float("nan")}, {"radon": 1.0}):
        assert run_own([*values[:30], bad])[-1].grade in ("E", "F")


def test_grade_series_gaps_lower_completeness(dustboy: Series) -> None:
    observations, _, grades = dustboy
    after_gap: list[Grade] = []
    regular: list[Grade] = []
    for previous, obs, grade in zip(observations, observations[1:], grades[1:], strict=False):
        (after_gap if obs.timestamp - previous.timestamp > 3600 else regular).append(grade)
    assert len(after_gap) == 486
    assert statistics.mean(g.factors["completeness"] for g in after_gap) < statistics.mean(
        g.factors["completeness"] for g in regular
    )
    assert all(g.factors["completeness"] <= 95 for g in after_gap)
    assert all(any(" missing before this one (gap " in r for r in g.reasons) for g in after_gap)
    assert not any(any(" missing before this one" in r for r in g.reasons) for g in regular)
    assert "completeness: 1 reading missing before this one (gap 2 h)" in after_gap[0].reasons


def test_grade_own_gap_penalty_grows_with_missed_readings() -> None:
    profile = DeviceProfile(13.0, 100.0)
    completeness = []
    for missed in (0, 1, 3, 12):
        history = DeviceHistory()
        for i in range(30):
            grade_own(Observation("dev", i, T0 + 3600 * i, clean(i)), profile, history)
        t = T0 + 3600 * (30 + missed)
        own = grade_own(Observation("dev", 30, t, clean(30)), profile, history)
        completeness.append(own.completeness)
    assert completeness[0] == 100
    assert completeness == sorted(completeness, reverse=True) and len(set(completeness)) == 4
    history = DeviceHistory()
    grade_own(Observation("dev", 0, T0, clean(0)), profile, history)
    own = grade_own(Observation("dev", 1, T0 + 4 * 3600, clean(1)), profile, history)
    assert own.reasons[0] == "completeness: 3 readings missing before this one (gap 4 h)"


def test_grade_own_stuck_values_flagged() -> None:
    values = [clean(i) for i in range(40)]
    for i in range(30, 40):
        values[i] = {**values[i], "pm25": 35.0}
    grades = run_own(values)
    assert grades[34].factors["stability"] == 100  # 5 identical readings
    assert grades[35].factors["stability"] == 80
    assert "stability: pm25 unchanged for 6 readings" in grades[35].reasons
    assert grades[37].factors["stability"] == 60
    # Whole-degree temperature and detection-limit SO2 may sit still through a night, not a day.
    quiet = [{**clean(i), "temperature": 28.0, "so2": 1.0} for i in range(30)]
    grades = run_own(quiet)
    assert grades[20].factors["stability"] == 100
    assert grades[23].factors["stability"] == 80
    assert "stability: temperature unchanged for 24 readings" in grades[23].reasons
    assert "stability: so2 unchanged for 24 readings" in grades[23].reasons


def test_grade_series_real_stuck_sensors_flagged(east: Series) -> None:
    observations, _, grades = east
    stuck = Counter(
        r.split(" unchanged")[0] for g in grades for r in g.reasons if r.startswith("stability:") and "unchanged" in r
    )
    assert stuck["stability: wind_speed"] > 5000  # 33t, 74t, 77t, o21, o61 read 0 m/s for 82 days
    g74 = [g for o, g in zip(observations, grades, strict=True) if o.device == "74t"]
    assert all(g.factors["stability"] == 20 for g in g74[40:])
    assert "stability: wind_speed unchanged for 1968 readings" in g74[-1].reasons


def test_grade_own_jumps_flagged() -> None:
    values = [clean(i) for i in range(30)]
    values[25] = {**values[25], "pm25": 230.0}
    grades = run_own(values)
    assert grades[25].factors["stability"] == 40
    assert f"stability: pm25 jumped {values[24]['pm25']:g} -> 230 in 1 h (limit 150 per h)" in grades[25].reasons
    assert grades[26].factors["stability"] == 40  # and back down
    values = [clean(i) for i in range(30)]
    values[25] = {**values[25], "pm25": 140.0}  # below the absolute limit, but x5.5 from above 20
    assert f"stability: pm25 jumped {values[24]['pm25']:g} -> 140 in 1 h (x5.5, limit x5 above 20)" in (
        run_own(values)[25].reasons
    )
    # A change spread over a gap longer than JUMP_MAX_AGE is not judged as a jump.
    history, profile = DeviceHistory(), DeviceProfile(13.0, 100.0)
    grade_own(Observation("dev", 0, T0, {"pm25": 20.0}), profile, history)
    assert grade_own(Observation("dev", 1, T0 + 5 * 3600, {"pm25": 300.0}), profile, history).stability == 100


def test_grade_series_real_jumps_flagged(east: Series) -> None:
    _, _, grades = east
    jumps = [r for g in grades for r in g.reasons if " jumped " in r]
    assert any(r.startswith("stability: temperature jumped 0 -> ") for r in jumps)  # a thermometer dropping out


# --- health caps -------------------------------------------------------------------------------------


def test_grade_own_health_caps() -> None:
    values = [clean(i) for i in range(48)]
    assert run_own(values)[-1].grade == "A"
    assert run_own(values)[0].factors["health"] == 90  # a new sensor: no history yet
    maintenance = run_own(values, DeviceProfile(13.0, 100.0, status="maintenance"))[-1]
    assert maintenance.grade == "D" and maintenance.score == 59 and maintenance.factors["health"] == 40
    assert "health: sensor in maintenance" in maintenance.reasons
    assert maintenance.reasons[-1] == "grade: maintenance caps the grade at D"
    offline = run_own(values, DeviceProfile(13.0, 100.0, status="offline"))[-1]
    assert offline.grade == "F" and offline.factors["health"] == 0
    certified_until = T0 + 3600 * 40
    expiring = run_own(values, DeviceProfile(13.0, 100.0, certified_until=certified_until))
    assert [g.grade for g in expiring[30:41]] == ["A"] * 11
    assert all(g.grade == "D" for g in expiring[41:])
    assert "health: certification expired 1 h before this reading" in expiring[41].reasons
    with pytest.raises(CarbonixValueError, match="status"):
        DeviceProfile(13.0, 100.0, status="retired")


def test_final_grade_provisional_and_weights() -> None:
    own = grade_own(Observation("dev", 0, T0, clean(0)), DeviceProfile(13.0, 100.0), DeviceHistory())
    provisional = final_grade(own, None)
    assert provisional.factors == {
        "completeness": 100,
        "plausibility": 100,
        "stability": 100,
        "spatial": 100,
        "health": 90,
    }
    assert provisional.reasons == ("spatial: pending", "health: new sensor, 0 readings of history")
    assert provisional.score == 99 and provisional.grade == "A"
    assert sum(WEIGHTS.values()) == 100 and tuple(provisional.factors) == FACTORS
    assert set(PLAUSIBLE) == set(QUANTITIES)


# --- persistence and determinism ---------------------------------------------------------------------


def test_device_history_json_round_trip_same_grades(east: Series) -> None:
    observations, profiles, _ = east
    series = [o for o in observations if o.device == "31t"]  # stuck weather sensors, pm25 outliers
    continuous, saved = DeviceHistory(), DeviceHistory()
    profile = profiles["31t"]
    longest = 0
    for obs in series:
        saved = DeviceHistory.from_json(saved.to_json())
        assert grade_own(obs, profile, continuous) == grade_own(obs, profile, saved)
        longest = max(longest, len(saved.to_json()))
    assert saved == continuous
    assert longest < 1500, longest  # bounded: ~24 hour buckets and one entry per quantity
    with pytest.raises(CarbonixValueError):
        DeviceHistory.from_json('{"first": 1}')
    with pytest.raises(CarbonixValueError):
        DeviceHistory.from_json("not json")


def test_own_grade_json_round_trip(east: Series) -> None:
    observations, profiles, _ = east
    history = DeviceHistory()
    for obs in observations[:300]:
        own = grade_own(obs, profiles[obs.device], history) if obs.device == "100t" else None
        if own is not None:
            assert OwnGrade.from_json(own.to_json()) == own
    with pytest.raises(CarbonixValueError):
        OwnGrade.from_json('{"completeness": 1}')


def test_grades_independent_of_interleaving(east: Series) -> None:
    observations, profiles, grades = east
    expected = {(o.device, o.sequence): g for o, g in zip(observations, grades, strict=True)}
    # grade_series on a shuffled copy.
    shuffled = list(observations)
    random.Random(7).shuffle(shuffled)
    again = grade_series(shuffled, profiles)
    assert {(o.device, o.sequence): g for o, g in zip(shuffled, again, strict=True)} == expected
    # The two stages run by hand, as the daemon does, with devices interleaved two ways.
    for arrival in (
        sorted(observations, key=lambda o: (o.timestamp, o.device)),
        sorted(observations, key=lambda o: (o.timestamp, o.device), reverse=True)[::-1],
        sorted(observations, key=lambda o: (-ord(o.device[-1]), o.timestamp)),
    ):
        histories: dict[str, DeviceHistory] = {}
        own: dict[Hashable, OwnGrade] = {
            (o.device, o.sequence): grade_own(o, profiles[o.device], histories.setdefault(o.device, DeviceHistory()))
            for o in arrival
        }
        by_hour: dict[int, list[Observation]] = {}
        for o in arrival:
            by_hour.setdefault(o.timestamp // 3600, []).append(o)
        final: dict[Hashable, Grade] = {}
        for members in by_hour.values():
            group = [
                spatial_input((o.device, o.sequence), o, profiles[o.device], own[(o.device, o.sequence)])
                for o in members
            ]
            for score in spatial_scores(group):
                final[score.key] = final_grade(own[score.key], score)
        assert final == expected


# --- the whole file ----------------------------------------------------------------------------------


def test_grade_series_east_distribution(east: Series) -> None:
    """The grades of the whole east series (its speed is `make bench`'s verify_grade figure)."""
    observations, profiles, grades = east
    assert len(grades) == 29_520
    counts = Counter(g.grade for g in grades)
    assert counts["A"] + counts["B"] >= 0.99 * len(grades)  # reference stations; B = a stuck weather sensor
    assert counts["A"] > 10_000 and counts["C"] > 0
    assert all(letter(g.score) == g.grade and tuple(g.factors) == FACTORS for g in grades)
    assert grade_series(observations, profiles) == grades  # deterministic
