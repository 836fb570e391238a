"""Credit batches, their provenance, serial lookup, retirements and retirement certificates."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from carbonix.exceptions import CarbonixLookupError
from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.deps import SessionDep, StateDep
from indexer.api.exceptions import ChainUnavailableError
from indexer.api.params import U256, BatchesQuery, NoQuery, Page, RetirementsQuery, TxHash, project_key
from indexer.api.state import ApiState

router = APIRouter()

BatchPath = Annotated[U256, Path(description="The credit batch id (the ERC-6909 token id).")]
TxPath = Annotated[TxHash, Path(description="The retirement transaction.")]
PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
}


@router.get("/credit-batches", response_model=s.CreditBatchesPublic, tags=["credits"])
def list_batches(db: SessionDep, query: Annotated[BatchesQuery, Query()]) -> s.CreditBatchesPublic:
    """Issued credit batches, oldest first."""
    b = m.CreditBatch
    stmt = q.batches_select().order_by(b.issued_block, b.credit_batch_id)
    if query.project is not None:
        stmt = stmt.where(b.project_key == project_key(query.project))
    for column, value in (
        (b.owner, query.owner),
        (b.vintage, query.vintage),
        (b.credit_type, query.credit_type),
        (b.serial_prefix, query.serial_prefix),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    return s.CreditBatchesPublic(data=[convert.batch(r) for r in rows], count=count)


def _batch(db: Session, batch_id: str) -> Any:
    row = db.execute(q.batches_select().where(m.CreditBatch.credit_batch_id == batch_id)).first()
    if row is None:
        raise HTTPException(404, f"no credit batch {batch_id}")
    return row


@router.get("/credit-batches/{credit_batch_id}", response_model=s.CreditBatchPublic, tags=["credits"])
def get_batch(db: SessionDep, credit_batch_id: BatchPath, query: Annotated[NoQuery, Query()]) -> s.CreditBatchPublic:
    return convert.batch(_batch(db, credit_batch_id))


@router.get("/credit-batches/{credit_batch_id}/provenance", response_model=s.ProvenancePublic, tags=["credits"])
def get_provenance(db: SessionDep, credit_batch_id: BatchPath, query: Annotated[Page, Query()]) -> s.ProvenancePublic:
    """Issuance, transfers and retirements of the batch in chain order, with transactions and block
    times (a retirement's burn is shown once, as the retirement with its serials)."""
    _batch(db, credit_batch_id)
    rows, count = q.paged(db, q.provenance_select(credit_batch_id), query.limit, query.offset)
    data = [
        s.ProvenanceEventPublic(
            **convert.event_ref(r),
            kind=r.kind,
            sender=None if r.kind == "issuance" else r.sender,
            receiver=r.receiver,
            tonnes=r.tonnes,
            serial_first=r.serial_first,
            serial_last=r.serial_last,
            beneficiary=r.beneficiary,
            purpose=r.purpose,
        )
        for r in rows
    ]
    return s.ProvenancePublic(credit_batch_id=credit_batch_id, data=data, count=count)


@router.get("/serials/{serial_prefix:path}/{serial}", response_model=s.SerialPublic, tags=["credits"])
def get_serial(
    db: SessionDep,
    serial_prefix: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")],
    serial: Annotated[int, Path(ge=0, le=2**48 - 1)],
    query: Annotated[NoQuery, Query()],
) -> s.SerialPublic:
    """Which batch holds a serial, and whether, when, by whom and for whom it was retired."""
    row = q.batch_covering(db, serial_prefix, serial)
    if row is None:
        raise HTTPException(404, f"no credit batch holds serial {serial_prefix} {serial}")
    batch = row[0]
    retired = q.retirement_of_serial(db, batch.credit_batch_id, serial)
    status: Literal["retired", "active", "buffer"]
    if retired is not None:
        status = "retired"
    elif serial > batch.serial_end - batch.buffer_credits:
        status = "buffer"
    else:
        status = "active"
    return s.SerialPublic(
        serial_prefix=serial_prefix,
        serial=serial,
        status=status,
        credit_batch=convert.batch(row),
        retirement=None if retired is None else convert.retirement(retired),
    )


@router.get("/retirements", response_model=s.RetirementsPublic, tags=["credits"])
def list_retirements(db: SessionDep, query: Annotated[RetirementsQuery, Query()]) -> s.RetirementsPublic:
    """Retirements, newest first."""
    r, b = m.Retirement, m.CreditBatch
    stmt = q.retirements_select().order_by(r.block_number.desc(), r.log_index.desc(), r.chain_id)
    stmt = stmt.where(*q.between(r.block_time, query.from_, query.to))
    if query.project is not None:
        stmt = stmt.where(b.project_key == project_key(query.project))
    for column, value in (
        (r.holder, query.holder),
        (r.credit_batch_id, query.credit_batch_id),
        (r.purpose, query.purpose),
        (r.beneficiary, query.beneficiary),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    return s.RetirementsPublic(data=[convert.retirement(row) for row in rows], count=count)


# --- certificates ----------------------------------------------------------------------------------
def indexed_certificates(db: Session, state: ApiState, tx_hash: str) -> list[Any] | None:
    """The certificates of an indexed retirement transaction from its rows (the same fields the
    receipt gives); None when the index lacks something, so the chain is asked instead."""
    from indexer.certificates import RetirementCertificate

    r, b, p = m.Retirement, m.CreditBatch, m.Project
    rows = db.execute(
        select(r, b, p)
        .outerjoin(b, b.credit_batch_id == r.credit_batch_id)
        .outerjoin(p, p.project_key == b.project_key)
        .where(r.tx_hash == tx_hash)
        .order_by(r.chain_id, r.block_number, r.log_index)
    ).all()
    if not rows or any(batch is None for _, batch, _ in rows):
        return None
    certs = []
    for i, (ret, batch, project) in enumerate(rows):
        contract = state.chain.contract_address(ret.chain_id, "CarbonCredits")
        if contract is None:
            return None
        certs.append(
            RetirementCertificate(
                tx_hash=ret.tx_hash,
                block_number=ret.block_number,
                timestamp=ret.block_time,
                batch_id=int(ret.credit_batch_id, 16),
                holder=ret.holder,
                beneficiary=ret.beneficiary,
                purpose=ret.purpose,
                claim_start=ret.claim_start,
                claim_end=ret.claim_end,
                serial_prefix=batch.serial_prefix,
                serial_first=ret.serial_first,
                serial_last=ret.serial_last,
                project_id=batch.project_key if project is None else project.project_id,
                vintage=batch.vintage,
                credit_type=batch.credit_type,
                chain_id=ret.chain_id,
                credits_contract=contract,
                index=i,
                count=len(rows),
                standard=None if project is None else project.standard,
                project_type=None if project is None else project.project_type,
                methodology=None if project is None else project.methodology,
            )
        )
    return certs


def certificates(db: Session, state: ApiState, tx_hash: str) -> tuple[list[Any], str]:
    """(certificates, source): from the index, else straight from the chain's receipt."""
    found = indexed_certificates(db, state, tx_hash)
    if found:
        return found, "index"
    try:
        return state.chain.certificates(tx_hash), "chain"
    except CarbonixLookupError as exc:
        raise HTTPException(404, f"no retirement in transaction {tx_hash}: {exc}") from None
    except ChainUnavailableError as exc:
        raise HTTPException(503, f"transaction {tx_hash} is not indexed and the chain is unreachable: {exc}") from None


def tx_url(state: ApiState, tx_hash: str) -> str:
    """Where a certificate links to: the explorer (CARBONIX_EXPLORER_URL), else this API's
    transaction resource (API_PUBLIC_URL), else the certificates module's default."""
    from indexer.certificates import EXPLORER_URL_ENV, transaction_url

    public = (state.settings.public_url or "").rstrip("/")
    if public and not os.environ.get(EXPLORER_URL_ENV, "").strip():
        return f"{public}/v1/transactions/{tx_hash}"
    return transaction_url(tx_hash)


@router.get(
    "/retirements/{tx_hash}/certificate.json",
    response_model=s.CertificatesPublic,
    tags=["credits"],
    responses={503: {"model": s.ErrorPublic, "description": "Not indexed yet and the chain is unreachable."}},
)
def get_certificate_json(
    db: SessionDep, state: StateDep, tx_hash: TxPath, query: Annotated[NoQuery, Query()]
) -> s.CertificatesPublic:
    """The retirement certificates of a transaction (one per retirement in it), from the index or,
    before the indexer has reached the transaction, from the chain's receipt."""
    from indexer.certificates import certificate_json

    certs, source = certificates(db, state, tx_hash)
    url = tx_url(state, tx_hash)
    fields = s.CertificatePublic.model_fields
    data = [s.CertificatePublic(**{k: v for k, v in certificate_json(c, url).items() if k in fields}) for c in certs]
    return s.CertificatesPublic(source=source, data=data, count=len(data))  # type: ignore[arg-type]


@router.get(
    "/retirements/{tx_hash}/certificate.pdf",
    response_class=Response,
    tags=["credits"],
    responses={
        **PDF,
        503: {"model": s.ErrorPublic, "description": "Not indexed yet and the chain is unreachable."},
    },
)
def get_certificate_pdf(
    db: SessionDep, state: StateDep, tx_hash: TxPath, query: Annotated[NoQuery, Query()]
) -> Response:
    """The certificates as an A4 PDF, one page per retirement, with a QR code of the transaction."""
    from indexer.certificates import render_pdf

    certs, source = certificates(db, state, tx_hash)
    body = render_pdf(certs, tx_url(state, tx_hash))
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="retirement-{tx_hash}.pdf"',
            "x-certificate-source": source,
        },
    )
