"""Health, Prometheus metrics, and what the index (or the chain) knows about a transaction."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from carbonix.exceptions import CarbonixLookupError
from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.chain import ChainAccess
from indexer.api.deps import SessionDep, StateDep
from indexer.api.exceptions import ChainUnavailableError
from indexer.api.params import NoQuery, TxHash

router = APIRouter()


class LivePublic(s.Public):
    status: Literal["ok"]


@router.get(
    "/health",
    response_model=s.HealthPublic,
    tags=["system"],
    responses={503: {"model": s.HealthPublic, "description": "The database is unreachable."}},
)
def health(state: StateDep, query: Annotated[NoQuery, Query()]) -> JSONResponse:
    """The database, the indexer cursor of each chain, and each chain's head and the indexer's lag
    when its RPC answers. 200 when the database answers (status ok, or degraded when a chain's RPC
    is down, a chain has no cursor yet, or the lag exceeds API_MAX_LAG_BLOCKS); 503 when it does not.
    Not rate limited."""
    detail = None
    try:
        with Session(state.engine) as db:
            views = q.cursors(db)
    except SQLAlchemyError as exc:
        views, detail = [], f"{type(exc).__name__}: the database did not answer"
    try:
        configured = {d.chain_id for d in state.chain.deployments()}
    except ChainUnavailableError:
        configured = set()
    by_chain = {v.chain_id: v for v in views}
    chains = []
    for chain_id in sorted(configured | set(by_chain)):
        view = by_chain.get(chain_id)
        head = state.chain.head(chain_id) if chain_id in configured else None
        chains.append(
            s.ChainHealthPublic(
                chain_id=chain_id,
                cursor_block=None if view is None else view.block_number,
                cursor_hash=None if view is None else view.block_hash,
                cursor_time=None if view is None else s.time_or_none(view.block_time),
                indexed_at=None if view is None else s.time(view.updated_at),
                head=head,
                lag_blocks=None if head is None or view is None else max(0, head - view.block_number),
                rpc="not_configured"
                if chain_id not in configured
                else "reachable"
                if head is not None
                else "unreachable",
            )
        )
    if detail is not None:
        status = "down"
    elif any(
        c.rpc == "unreachable" or c.cursor_block is None or (c.lag_blocks or 0) > state.settings.max_lag_blocks
        for c in chains
    ):
        status = "degraded"
    else:
        status = "ok"
    body = s.HealthPublic(
        status=status,  # type: ignore[arg-type]
        database=s.DatabaseHealthPublic(reachable=detail is None, detail=detail),
        chains=chains,
        time=s.time(int(time.time())),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if status == "down" else 200)


@router.get("/health/live", response_model=LivePublic, tags=["system"])
async def live(query: Annotated[NoQuery, Query()]) -> LivePublic:
    """The process answers (no database or chain involved). Not rate limited."""
    return LivePublic(status="ok")


@router.get(
    "/metrics",
    response_class=Response,
    tags=["system"],
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(state: StateDep, query: Annotated[NoQuery, Query()]) -> Response:
    """Prometheus text: requests by route and status, latency, rate-limited requests, book cache,
    and the indexer cursor per chain. Not rate limited."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/transactions/{tx_hash}",
    response_model=s.TransactionPublic,
    tags=["system"],
    responses={503: {"model": s.ErrorPublic, "description": "Not indexed and the chain is unreachable."}},
)
def get_transaction(
    db: SessionDep,
    state: StateDep,
    tx_hash: Annotated[TxHash, Path(description="A transaction hash.")],
    query: Annotated[NoQuery, Query()],
) -> s.TransactionPublic:
    """The decoded events of a transaction on the deployment's contracts: from the index, or from
    the chain's receipt when the indexer has not reached it (a transaction that touched none of
    the contracts has no events). Enum arguments are shown by name, as the manifest's ABI types
    them; integers of 2^53 or more as decimal strings."""
    rows = (
        db.execute(
            select(m.ChainEvent)
            .where(m.ChainEvent.tx_hash == tx_hash)
            .order_by(m.ChainEvent.chain_id, m.ChainEvent.block_number, m.ChainEvent.log_index)
        )
        .scalars()
        .all()
    )
    if rows:
        first = rows[0]
        events = [_event(state.chain, r.chain_id, r.log_index, r.contract, r.event, json.loads(r.args)) for r in rows]
        found: dict[str, Any] = {
            "source": "index",
            "chain_id": first.chain_id,
            "block_number": first.block_number,
            "block_time": s.time(first.block_time),
            "status": None,
        }
    else:
        try:
            chain = state.chain.transaction(tx_hash)
        except CarbonixLookupError as exc:
            raise HTTPException(404, str(exc)) from None
        except ChainUnavailableError as exc:
            raise HTTPException(
                503, f"transaction {tx_hash} is not indexed and the chain is unreachable: {exc}"
            ) from None
        events = [_event(state.chain, chain["chain_id"], **e) for e in chain["events"]]
        found = {
            "source": "chain",
            "chain_id": chain["chain_id"],
            "block_number": chain["block_number"],
            "block_time": s.time_or_none(chain["block_time"]),
            "status": chain["status"],
        }
    retirements = sum(1 for e in events if e.contract == "CarbonCredits" and e.event == "CreditsRetired")
    links = convert.certificate_links(tx_hash) if retirements else {"certificate_pdf": None, "certificate_json": None}
    return s.TransactionPublic(tx_hash=tx_hash, **found, events=events, retirements=retirements, **links)


def _event(
    chain: ChainAccess, chain_id: int, log_index: int, contract: str, event: str, args: dict[str, Any]
) -> s.TransactionEventPublic:
    """One event, its enum arguments named after the ABI in its chain's manifest."""
    inputs = chain.event_inputs(chain_id, contract, event)
    return s.TransactionEventPublic(
        log_index=log_index, contract=contract, event=event, args=convert.event_args(inputs, args)
    )
