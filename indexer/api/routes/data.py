"""The emission data log: committed batches, series per participant and project with the grade
histogram, and data quality (the share of readings per grade; the accuracy of sensors against
co-located reference stations, which the oracle's store holds and the chain does not)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Engine, func, select

from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.deps import SessionDep, StateDep
from indexer.api.params import AccuracyQuery, EmissionsQuery, QualityQuery, SeriesQuery, project_key
from indexer.api.state import ApiState
from oracle import accuracy, store

router = APIRouter()


def _where(query: EmissionsQuery | SeriesQuery | QualityQuery) -> tuple[list[Any], str | None]:
    key = None if query.project is None else project_key(query.project)
    flow = None if query.flow is None else str(query.flow)
    where = q.emission_filters(query.participant, key, flow)
    if not isinstance(query, QualityQuery):
        where += q.between(m.EmissionBatch.period_start, query.from_, query.to)
    return where, key


@router.get("/emissions", response_model=s.EmissionBatchesPublic, tags=["data log"])
def list_emissions(db: SessionDep, query: Annotated[EmissionsQuery, Query()]) -> s.EmissionBatchesPublic:
    """Committed emission and removal batches (and single records), newest first; ``from`` and
    ``to`` select by the batch's period start."""
    e = m.EmissionBatch
    where, _ = _where(query)
    stmt = select(e).where(*where).order_by(e.block_number.desc(), e.log_index.desc(), e.chain_id)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    ids = q.project_ids(db, {r[0].project_key for r in rows})
    return s.EmissionBatchesPublic(
        data=[convert.emission_batch(r[0], ids.get(r[0].project_key)) for r in rows], count=count
    )


@router.get("/emissions/series", response_model=s.EmissionSeriesPublic, tags=["data log"])
def emission_series(db: SessionDep, query: Annotated[SeriesQuery, Query()]) -> s.EmissionSeriesPublic:
    """kg CO2e, batches, readings and the A-F histogram per day, month or quarter (Thai time) of the
    batches' period start, oldest first, for one participant, one project, or all."""
    where, key = _where(query)
    buckets: dict[int, list[int]] = {}
    for day, kg, batches, readings, *grades in q.emission_days(db, where):
        day = int(day)
        if query.interval.value == "day":
            start = day
        elif query.interval.value == "month":
            start = q.month_start(day)
        else:
            start = q.period_start(q.period_of(day))
        totals = buckets.setdefault(start, [0] * 9)
        for i, value in enumerate((kg, batches, readings, *grades)):
            totals[i] += int(value or 0)
    ordered = sorted(buckets.items())
    page = ordered[query.offset : query.offset + query.limit]
    return s.EmissionSeriesPublic(
        interval=query.interval.value,
        flow=str(query.flow),
        participant=query.participant,
        project_key=key,
        total_kg_co2e=sum(v[0] for _, v in ordered),
        data=[
            s.SeriesPointPublic(
                start=s.time(start),
                kg_co2e=v[0],
                batches=v[1],
                readings=v[2],
                grades=convert.grades_of(v[3:]),
            )
            for start, v in page
        ],
        count=len(ordered),
    )


def _accuracy(row: Any) -> s.AccuracyPublic | None:
    if row is None or not row.comparisons:
        return None
    mean = round(float(row.mean), 2)
    return s.AccuracyPublic(
        comparisons=int(row.comparisons),
        accuracy_percent=mean,
        lowest_percent=round(float(row.lowest), 2),
        highest_percent=round(float(row.highest), 2),
        share_at_target=round(int(row.at_target) / int(row.comparisons), 6),
        target_percent=accuracy.TARGET_PERCENT,
        meets_target=mean >= accuracy.TARGET_PERCENT,
        first_hour=s.time(int(row.first_hour)),
        last_hour=s.time(int(row.last_hour)),
    )


def _accuracy_where(participant: str | None, key: str | None, device: str | None = None) -> list[Any]:
    a, d = store.accuracy.c, store.devices.c
    where: list[Any] = []
    if participant is not None:
        where.append(func.lower(d.owner) == participant.lower())
    if key is not None:
        where.append(d.project_key == key)
    if device is not None:
        where.append(func.lower(a.device) == device.lower())
    return where


def _oracle(state: ApiState) -> Engine | None:
    return state.oracle.engine if state.oracle is not None and state.oracle.ready() else None


def _quality(
    row: Any, project_id: str | None, participant: str | None, key: str | None, measured: Any = None
) -> s.QualityPublic:
    counts = [int(getattr(row, g) or 0) for g in q.GRADES]
    graded = sum(counts)
    readings = int(row.readings or 0)
    return s.QualityPublic(
        participant=participant,
        project_key=key,
        project_id=project_id,
        batches=int(row.batches),
        readings=readings,
        graded_readings=graded,
        grades=convert.grades_of(counts),
        shares=None
        if graded == 0
        else s.GradeShares(**{letter: round(c / graded, 6) for letter, c in zip("abcdef", counts, strict=True)}),
        mean_quality_score=None if readings == 0 else round(int(row.score_weight or 0) / readings, 4),
        accuracy=_accuracy(measured),
    )


@router.get("/data-quality", response_model=s.DataQualityPublic, tags=["data log"])
def data_quality(db: SessionDep, state: StateDep, query: Annotated[QualityQuery, Query()]) -> s.DataQualityPublic:
    """The share of readings per grade A-F from the committed batches' histograms, per participant
    and project, and over everything the filters select; beside it, where a sensor has a co-located
    reference station, its accuracy rate (the oracle's store; ``flow`` does not apply to it)."""
    where, key = _where(query)
    rows, count = q.paged(db, q.quality_select(where), query.limit, query.offset)
    ids = q.project_ids(db, {r.project_key for r in rows})
    total = q.quality_total(db, where)
    oracle = _oracle(state)
    measured: dict[tuple[str, str], Any] = {}
    overall = None
    if oracle is not None:
        d = store.devices.c
        filters = _accuracy_where(query.participant, key)
        with oracle.connect() as conn:
            overall = conn.execute(accuracy.summary_select((), filters)).first()
            for r in conn.execute(accuracy.summary_select((d.owner, d.project_key), filters)):
                measured[(r.owner.lower(), r.project_key.lower())] = r
    return s.DataQualityPublic(
        total=_quality(total, None, None, None, overall),
        data=[
            _quality(
                r,
                ids.get(r.project_key),
                r.participant,
                r.project_key,
                measured.get((r.participant.lower(), r.project_key.lower())),
            )
            for r in rows
        ],
        count=count,
        accuracy_available=oracle is not None,
    )


@router.get("/data-quality/accuracy", response_model=s.AccuracyPairsPublic, tags=["data log"])
def data_accuracy(db: SessionDep, state: StateDep, query: Annotated[AccuracyQuery, Query()]) -> s.AccuracyPairsPublic:
    """Each sensor against its co-located reference station (a sensor a verifier designated a
    reference method, within ``radius_km``), per quantity: accuracy = (1 - |measured - reference| /
    reference) x 100 %, bounded to 0-100, averaged over the hours both reported."""
    oracle = _oracle(state)
    empty = s.AccuracyPairsPublic(
        available=oracle is not None,
        radius_km=accuracy.RADIUS_KM,
        target_percent=accuracy.TARGET_PERCENT,
        data=[],
        count=0,
    )
    if oracle is None:
        return empty
    a, d = store.accuracy.c, store.devices.c
    key = None if query.project is None else project_key(query.project)
    where = _accuracy_where(query.participant, key, query.device)
    if query.quantity is not None:
        where.append(a.quantity == query.quantity)
    by = (a.device, a.reference_device, a.quantity, d.owner, d.project_key)
    grouped = accuracy.summary_select(by, where)
    with oracle.connect() as conn:
        count = conn.execute(select(func.count()).select_from(grouped.subquery())).scalar_one()
        rows = conn.execute(grouped.limit(query.limit).offset(query.offset)).all()
    labels = q.sensor_labels(db, {r.device for r in rows} | {r.reference_device for r in rows})
    empty.data = [
        s.AccuracyPairPublic(
            device=r.device,
            device_label=labels.get(r.device.lower()),
            reference_device=r.reference_device,
            reference_label=labels.get(r.reference_device.lower()),
            quantity=r.quantity,
            distance_m=int(r.distance_m),
            participant=r.owner,
            project_key=r.project_key,
            result=_accuracy(r),  # type: ignore[arg-type]  # a group has at least one comparison
        )
        for r in rows
    ]
    empty.count = count
    return empty
