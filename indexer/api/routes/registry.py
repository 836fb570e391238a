"""Projects and participants, a participant's portfolio and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import select

from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.deps import SessionDep
from indexer.api.params import (
    Address,
    HistoryQuery,
    NoQuery,
    ParticipantsQuery,
    ProjectRef,
    ProjectsQuery,
    project_key,
)

router = APIRouter()

WalletPath = Annotated[Address, Path(description="The participant's wallet address.")]


@router.get("/projects", response_model=s.ProjectsPublic, tags=["registry"])
def list_projects(db: SessionDep, query: Annotated[ProjectsQuery, Query()]) -> s.ProjectsPublic:
    """Registered projects, oldest first."""
    p = m.Project
    stmt = select(p).order_by(p.registered_block, p.project_id)
    if query.owner is not None:
        stmt = stmt.where(p.owner == query.owner)
    if query.standard is not None:
        stmt = stmt.where(p.standard == query.standard)
    if query.project_type is not None:
        stmt = stmt.where(p.project_type == query.project_type)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    epoch = q.current_epoch(db, "projects")
    return s.ProjectsPublic(data=[convert.project(r[0], epoch) for r in rows], count=count)


@router.get("/projects/{project}", response_model=s.ProjectDetailPublic, tags=["registry"])
def get_project(
    db: SessionDep,
    project: Annotated[ProjectRef, Path(description="Project id (TH-TVER-...) or project key.")],
    query: Annotated[NoQuery, Query()],
) -> s.ProjectDetailPublic:
    """One project with its credit totals."""
    key = project_key(project)
    found = db.execute(select(m.Project).where(m.Project.project_key == key)).scalar()
    if found is None:
        raise HTTPException(404, f"no registered project {project!r}")
    batches, issued, retired = q.project_totals(db, key)
    base = convert.project(found, q.current_epoch(db, "projects"))
    return s.ProjectDetailPublic(
        **base.model_dump(), credit_batches=batches, issued_tonnes=issued, retired_tonnes=retired
    )


@router.get("/participants", response_model=s.ParticipantsPublic, tags=["registry"])
def list_participants(db: SessionDep, query: Annotated[ParticipantsQuery, Query()]) -> s.ParticipantsPublic:
    """Registered participants, oldest first."""
    p = m.Participant
    stmt = select(p).order_by(p.registered_block, p.wallet)
    for column, value in (
        (p.sector, query.sector),
        (p.account_type, query.account_type),
        (p.trade_role, query.trade_role),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    epoch, now = q.current_epoch(db, "participants"), q.chain_now(q.cursors(db))
    return s.ParticipantsPublic(data=[convert.participant(r[0], epoch, now) for r in rows], count=count)


def _participant(db: SessionDep, wallet: str) -> m.Participant:
    found = db.get(m.Participant, wallet)
    if found is None:
        raise HTTPException(404, f"no registered participant {wallet}")
    return found


@router.get("/participants/{wallet}", response_model=s.ParticipantPublic, tags=["registry"])
def get_participant(db: SessionDep, wallet: WalletPath, query: Annotated[NoQuery, Query()]) -> s.ParticipantPublic:
    found = _participant(db, wallet)
    return convert.participant(found, q.current_epoch(db, "participants"), q.chain_now(q.cursors(db)))


@router.get("/participants/{wallet}/portfolio", response_model=s.PortfolioPublic, tags=["registry"])
def get_portfolio(db: SessionDep, wallet: WalletPath, query: Annotated[NoQuery, Query()]) -> s.PortfolioPublic:
    """Credits by batch in the wallet (transfers in minus out) and at the exchange (deposits minus
    withdrawals plus trades, of which open asks are escrow), baht at the exchange, open orders."""
    _participant(db, wallet)
    found = q.portfolio(db, wallet)
    rows = db.execute(
        q.batches_select().where(m.CreditBatch.credit_batch_id.in_([h.credit_batch_id for h in found.holdings]))
    ).all()
    batches = {row[0].credit_batch_id: row for row in rows}
    holdings = []
    for h in found.holdings:
        row = batches.get(h.credit_batch_id)
        b = None if row is None else row[0]
        holdings.append(
            s.HoldingPublic(
                credit_batch_id=h.credit_batch_id,
                project_id=None if row is None else row.project_id,
                vintage=None if b is None else b.vintage,
                credit_type=None if b is None else b.credit_type,
                serial_prefix=None if b is None else b.serial_prefix,
                wallet_tonnes=h.wallet_tonnes,
                market=h.market,
                exchange_tonnes=h.exchange_tonnes,
                in_open_asks=h.in_open_asks,
                exchange_available_tonnes=h.exchange_tonnes - h.in_open_asks,
            )
        )
    return s.PortfolioPublic(
        wallet=wallet,
        as_of_block=q.as_of_block(q.cursors(db)),
        holdings=holdings,
        baht=s.BahtPositionPublic(
            exchange=s.money(found.baht_exchange),
            in_open_bids=s.money(found.baht_in_open_bids),
            exchange_available=s.money(found.baht_exchange - found.baht_in_open_bids),
        ),
        open_orders=[convert.order(o) for o in found.open_orders],
        open_orders_count=found.open_orders_count,
    )


@router.get("/participants/{wallet}/history", response_model=s.HistoryPublic, tags=["registry"])
def get_history(db: SessionDep, wallet: WalletPath, query: Annotated[HistoryQuery, Query()]) -> s.HistoryPublic:
    """The participant's trades (as buyer or seller) and retirements, newest first."""
    _participant(db, wallet)
    rows, count = q.paged(db, q.history_select(wallet, query.kind, query.from_, query.to), query.limit, query.offset)
    items = [
        s.HistoryItemPublic(
            **convert.event_ref(r),
            kind=r.kind,
            credit_batch_id=r.credit_batch_id,
            market=r.market,
            side=r.side,
            tonnes=r.tonnes,
            price=s.money_or_none(r.price),
            value=None if r.price is None else s.money(r.price * r.tonnes),
            fee=s.money_or_none(r.fee),
            counterparty=r.counterparty,
            serial_first=r.serial_first,
            serial_last=r.serial_last,
            beneficiary=r.beneficiary,
            purpose=r.purpose,
        )
        for r in rows
    ]
    return s.HistoryPublic(wallet=wallet, data=items, count=count)
