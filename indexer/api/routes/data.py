"""The emission data log: committed batches, series per participant and project with the grade
histogram, and data quality (the share of readings per grade)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.deps import SessionDep
from indexer.api.params import EmissionsQuery, QualityQuery, SeriesQuery, project_key

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


def _quality(row: Any, project_id: str | None, participant: str | None, key: str | None) -> s.QualityPublic:
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
    )


@router.get("/data-quality", response_model=s.DataQualityPublic, tags=["data log"])
def data_quality(db: SessionDep, query: Annotated[QualityQuery, Query()]) -> s.DataQualityPublic:
    """The share of readings per grade A-F from the committed batches' histograms, per participant
    and project, and over everything the filters select."""
    where, _ = _where(query)
    rows, count = q.paged(db, q.quality_select(where), query.limit, query.offset)
    ids = q.project_ids(db, {r.project_key for r in rows})
    total = q.quality_total(db, where)
    return s.DataQualityPublic(
        total=_quality(total, None, None, None),
        data=[_quality(r, ids.get(r.project_key), r.participant, r.project_key) for r in rows],
        count=count,
    )
