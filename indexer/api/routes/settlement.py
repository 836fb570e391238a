"""Quarterly settlements (with the billing equation's TC_i) and the CBAM / ESG export."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from carbonix.orderbook import period_label
from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.deps import SessionDep
from indexer.api.params import Address, NoQuery, Quarter, SettlementsQuery

router = APIRouter()

ParticipantPath = Annotated[Address, Path(description="The participant's wallet address.")]
YearPath = Annotated[int, Path(ge=2000, le=2200, description="The reporting year (Thai time).")]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


@router.get("/settlements", response_model=s.SettlementsPublic, tags=["settlement"])
def list_settlements(db: SessionDep, query: Annotated[SettlementsQuery, Query()]) -> s.SettlementsPublic:
    """Settled participants per quarter, newest quarter first: cap, verified emissions, credits
    surrendered for compliance, surcharge, allowance earned, classification, and TC_i."""
    r = m.SettlementRow
    stmt = select(r).order_by(r.period.desc(), r.participant)
    for column, value in (
        (r.participant, query.participant),
        (r.period, query.period),
        (r.sector, query.sector),
        (r.classification, query.classification),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    return s.SettlementsPublic(data=convert.settlements(db, [row[0] for row in rows]), count=count)


@router.get("/settlements/{quarter}/{participant}", response_model=s.SettlementPublic, tags=["settlement"])
def get_settlement(
    db: SessionDep,
    quarter: Annotated[Quarter, Path(description="The quarter, e.g. 2026Q4.")],
    participant: ParticipantPath,
    query: Annotated[NoQuery, Query()],
) -> s.SettlementPublic:
    r = m.SettlementRow
    row = db.execute(select(r).where(r.period == quarter, r.participant == participant)).scalar()
    if row is None:
        raise HTTPException(404, f"{participant} has not been settled for {period_label(quarter)}")  # type: ignore[arg-type]
    return convert.settlements(db, [row])[0]


def cbam_export(db: Session, participant: str, year: int) -> s.CbamExportPublic:
    found = db.get(m.Participant, participant)
    if found is None:
        raise HTTPException(404, f"no registered participant {participant}")
    views = q.cursors(db)
    emissions = q.cbam_emissions(db, participant, year)
    ids = q.project_ids(db, {row[1] for row in emissions})
    start, end = q.year_bounds(year)
    ret = m.Retirement
    retired = db.execute(
        q.retirements_select()
        .where(ret.holder == participant, ret.block_time >= start, ret.block_time < end)
        .order_by(ret.block_number, ret.log_index, ret.chain_id)
    ).all()
    settled = (
        db.execute(
            select(m.SettlementRow)
            .where(m.SettlementRow.participant == participant, m.SettlementRow.period.between(year * 4, year * 4 + 3))
            .order_by(m.SettlementRow.period)
        )
        .scalars()
        .all()
    )
    rows = [
        s.CbamEmissionPublic(
            **s.quarter_fields(int(period)),
            project_key=key,
            project_id=ids.get(key),
            flow=flow,
            kg_co2e=int(kg),
            batches=int(batches),
            readings=int(readings),
            grades=convert.grades_of(grades),
        )
        for period, key, flow, kg, batches, readings, *grades in emissions
    ]
    retirements = [convert.retirement(r) for r in retired]
    return s.CbamExportPublic(
        participant=convert.participant(found, q.current_epoch(db, "participants"), q.chain_now(views)),
        year=year,
        as_of_block=q.as_of_block(views),
        emissions_kg=sum(e.kg_co2e for e in rows if e.flow == "emission"),
        removals_kg=sum(e.kg_co2e for e in rows if e.flow == "removal"),
        emissions=rows,
        retired_tonnes=sum(r.tonnes for r in retirements),
        retirements=retirements,
        settlements=convert.settlements(db, settled),
    )


@router.get("/exports/cbam/{participant}/{year}.json", response_model=s.CbamExportPublic, tags=["exports"])
def cbam_json(
    db: SessionDep, participant: ParticipantPath, year: YearPath, query: Annotated[NoQuery, Query()]
) -> s.CbamExportPublic:
    """CBAM / ESG report of a participant's year: verified emissions and removals per quarter and
    project (with the grade histogram), credits retired in the year with serials and transactions,
    and the quarters' settlements."""
    return cbam_export(db, participant, year)


CSV_COLUMNS = (
    "record", "quarter", "time_utc", "tx_hash", "block_number", "project_id", "project_key", "flow",
    "kg_co2e", "batches", "readings", "grade_a", "grade_b", "grade_c", "grade_d", "grade_e", "grade_f",
    "credit_batch_id", "serial_prefix", "serial_first", "serial_last", "tonnes", "purpose", "beneficiary",
    "claim_start_utc", "claim_end_utc", "cap_kg", "compliance_retired_kg", "uncovered_kg", "surcharge_thb",
    "base_charge_thb", "allowance_tonnes", "classification", "total_cost_thb",
)  # fmt: skip


def cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text: beneficiaries are free text from the chain,
    so a leading = + - @ (a formula) is quoted away."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _number(text):
        return "'" + text
    return text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def cbam_csv_text(report: s.CbamExportPublic) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()

    def write(fields: dict[str, object]) -> None:
        writer.writerow({k: cell(v) for k, v in fields.items()})

    for e in report.emissions:
        grades = e.grades.model_dump()
        write(
            {"record": "emission", "quarter": e.quarter, "project_id": e.project_id, "project_key": e.project_key,
             "flow": e.flow, "kg_co2e": e.kg_co2e, "batches": e.batches, "readings": e.readings,
             **{f"grade_{k}": v for k, v in grades.items()}}
        )  # fmt: skip
    for r in report.retirements:
        write(
            {"record": "retirement", "time_utc": r.block_time.iso, "tx_hash": r.tx_hash,
             "block_number": r.block_number, "project_id": r.project_id, "credit_batch_id": r.credit_batch_id,
             "serial_prefix": r.serial_prefix, "serial_first": r.serial_first, "serial_last": r.serial_last,
             "tonnes": r.tonnes, "purpose": r.purpose, "beneficiary": r.beneficiary,
             "claim_start_utc": r.claim_start.iso, "claim_end_utc": r.claim_end.iso}
        )  # fmt: skip
    for st in report.settlements:
        write(
            {"record": "settlement", "quarter": st.quarter, "time_utc": st.block_time.iso, "tx_hash": st.tx_hash,
             "block_number": st.block_number, "kg_co2e": st.emissions_kg, "cap_kg": st.cap_kg,
             "compliance_retired_kg": st.compliance_retired_kg, "uncovered_kg": st.uncovered_kg,
             "surcharge_thb": st.surcharge.thb, "base_charge_thb": st.base_charge.thb,
             "allowance_tonnes": st.allowance_tonnes, "classification": st.classification,
             "total_cost_thb": st.total_cost.thb}
        )  # fmt: skip
    return out.getvalue()


@router.get("/exports/cbam/{participant}/{year}.csv", response_class=Response, tags=["exports"], responses=CSV)
def cbam_csv(
    db: SessionDep, participant: ParticipantPath, year: YearPath, query: Annotated[NoQuery, Query()]
) -> Response:
    """The same report as CSV, one row per record (emission, retirement, settlement)."""
    report = cbam_export(db, participant, year)
    return Response(
        cbam_csv_text(report),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="cbam-{participant}-{year}.csv"'},
    )
