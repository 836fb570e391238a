"""Rows of the indexer's tables as the API's response models."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from carbonix import enums
from carbonix.exceptions import CarbonixValueError
from indexer import models as m
from indexer import queries as q
from indexer.api import schemas as s
from indexer.handlers import GRADE_COLUMNS, MAX_SAFE_JSON_INT


def event_ref(row: Any) -> dict[str, Any]:
    return {
        "chain_id": row.chain_id,
        "block_number": row.block_number,
        "log_index": row.log_index,
        "tx_hash": row.tx_hash,
        "block_time": s.time(row.block_time),
    }


def certificate_links(tx_hash: str) -> dict[str, Any]:
    return {
        "certificate_pdf": f"/v1/retirements/{tx_hash}/certificate.pdf",
        "certificate_json": f"/v1/retirements/{tx_hash}/certificate.json",
    }


def event_args(inputs: dict[str, dict[str, Any]] | None, args: dict[str, Any]) -> dict[str, Any]:
    """An event's decoded arguments as the API shows them: every argument the ABI ``inputs`` type as
    a Solidity enum (``internalType: "enum IExchange.Side"``, also inside arrays and tuples) by its
    snake_case member name, every other integer of magnitude 2^53 or more as a decimal string."""
    return {k: _arg((inputs or {}).get(k, {}), v) for k, v in args.items()}


def _arg(param: dict[str, Any], value: Any) -> Any:
    kind, internal = str(param.get("type", "")), str(param.get("internalType", ""))
    if kind.endswith("]") and isinstance(value, list):  # an array: its elements are of the type without [n]
        element = internal[: internal.rindex("[")] if internal.endswith("]") else internal
        inner = {**param, "type": kind[: kind.rindex("[")], "internalType": element}
        return [_arg(inner, v) for v in value]
    if kind == "tuple" and isinstance(value, list):
        return [_arg(c, v) for c, v in zip(param.get("components", []), value, strict=False)]
    if not isinstance(value, int) or isinstance(value, bool):
        return value  # strings (also the indexer's strings of large integers), bytes as hex, booleans
    if internal.startswith("enum "):
        with contextlib.suppress(CarbonixValueError):  # an enum the interfaces do not declare: its index
            return enums.name(internal.removeprefix("enum ").rsplit(".", 1)[-1], value)
    return str(value) if abs(value) >= MAX_SAFE_JSON_INT else value


def grades(row: Any) -> s.Grades:
    return s.Grades(**{col[-1]: int(getattr(row, col) or 0) for col in GRADE_COLUMNS})


def grades_of(values: Sequence[Any]) -> s.Grades:
    return s.Grades(**{letter: int(v or 0) for letter, v in zip("abcdef", values, strict=True)})


def project(p: m.Project, epoch: int | None) -> s.ProjectPublic:
    return s.ProjectPublic(
        project_id=p.project_id,
        project_key=p.project_key,
        owner=p.owner,
        project_index=p.project_index,
        standard=p.standard,
        project_type=p.project_type,
        latitude_e6=p.latitude_e6,
        longitude_e6=p.longitude_e6,
        methodology=p.methodology,
        registered_block=p.registered_block,
        registered_at=s.time(p.registered_at),
        certified_epoch=p.certified_epoch,
        additional=p.additional,
        certified=bool(p.additional) and p.certified_epoch is not None and p.certified_epoch == epoch,
    )


def participant(p: m.Participant, epoch: int | None, now: int) -> s.ParticipantPublic:
    return s.ParticipantPublic(
        wallet=p.wallet,
        account_id=p.account_id,
        account_type=p.account_type,
        trade_role=p.trade_role,
        sector=p.sector,
        registered_block=p.registered_block,
        registered_at=s.time(p.registered_at),
        verified_epoch=p.verified_epoch,
        certified_until=s.time_or_none(p.certified_until),
        verified=p.verified_epoch is not None
        and p.verified_epoch == epoch
        and p.certified_until is not None
        and p.certified_until >= now,
    )


def batch(row: Any) -> s.CreditBatchPublic:
    b: m.CreditBatch = row[0]
    return s.CreditBatchPublic(
        credit_batch_id=b.credit_batch_id,
        project_key=b.project_key,
        project_id=row.project_id,
        owner=b.owner,
        vintage=b.vintage,
        credit_type=b.credit_type,
        serial_prefix=b.serial_prefix,
        serial_start=b.serial_start,
        serial_end=b.serial_end,
        buffer_credits=b.buffer_credits,
        issued_tonnes=b.serial_end - b.serial_start + 1 - b.buffer_credits,
        retired_tonnes=b.retired,
        issued_block=b.issued_block,
        issued_at=s.time(b.issued_at),
        issued_tx=b.issued_tx,
        market=row.market,
    )


def retirement(row: Any) -> s.RetirementPublic:
    r: m.Retirement = row[0]
    return s.RetirementPublic(
        **event_ref(r),
        credit_batch_id=r.credit_batch_id,
        project_id=row.project_id,
        serial_prefix=row.serial_prefix,
        serial_first=r.serial_first,
        serial_last=r.serial_last,
        tonnes=r.quantity,
        holder=r.holder,
        beneficiary=r.beneficiary,
        purpose=r.purpose,
        claim_start=s.time(r.claim_start),
        claim_end=s.time(r.claim_end),
        **certificate_links(r.tx_hash),
    )


def market(row: Any) -> s.MarketPublic:
    mk: m.Market = row[0]
    return s.MarketPublic(
        market=mk.market,
        credit_batch_id=mk.credit_batch_id,
        project_id=row.project_id,
        vintage=row.vintage,
        credit_type=row.credit_type,
        tick_size=s.money(mk.tick_size),
        floor_price=s.money(mk.floor_tick * mk.tick_size),
        ceiling_price=s.money(mk.ceiling_tick * mk.tick_size),
        floor_tick=mk.floor_tick,
        ceiling_tick=mk.ceiling_tick,
        min_quantity=mk.min_quantity,
        fee_bps=mk.fee_bps,
        listed_block=mk.listed_block,
        listed_at=s.time(mk.listed_at),
    )


def trade(row: Any) -> s.TradePublic:
    t: m.Trade = row[0]
    period = row.period if row.period is not None else (int(t.maker_order_id, 16) >> 56) & 0xFFFF
    return s.TradePublic(
        **event_ref(t),
        trade_id=t.trade_id,
        market=t.market,
        **s.quarter_fields(period),
        maker_order_id=t.maker_order_id,
        maker=t.maker,
        taker=t.taker,
        taker_side=t.taker_side,
        seller_id=t.seller_id,
        buyer_id=t.buyer_id,
        price=s.money(t.price),
        quantity=t.quantity,
        value=s.money(t.price * t.quantity),
        fee=s.money(t.fee),
    )


def order(o: m.Order) -> s.OrderPublic:
    return s.OrderPublic(
        order_id=o.order_id,
        market=o.market,
        **s.quarter_fields(o.period),
        side=o.side,
        tick=o.tick,
        price=s.money(o.price),
        owner=o.owner,
        quantity=o.quantity,
        remaining=o.remaining,
        status=o.status,
        placed_block=o.placed_block,
        placed_at=s.time(o.placed_at),
        placed_tx=o.placed_tx,
    )


def emission_batch(e: m.EmissionBatch, project_id: str | None) -> s.EmissionBatchPublic:
    return s.EmissionBatchPublic(
        **event_ref(e),
        batch_id=e.batch_id,
        participant=e.participant,
        project_key=e.project_key,
        project_id=project_id,
        flow=e.flow,
        period_start=s.time(e.period_start),
        period_end=s.time(e.period_end),
        reading_count=e.reading_count,
        readings_root=e.readings_root,
        kg_co2e=e.kg_co2e,
        quality_score=e.quality_score,
        grades=grades(e),
        single_record=e.single_record,
    )


def settlements(db: Session, rows: Sequence[m.SettlementRow]) -> list[s.SettlementPublic]:
    """Settled events with the terms they were billed under, the quarter's trading terms, the
    billing equation's TC_i and what has been paid or claimed since."""
    keys = {(r.period, r.participant) for r in rows}
    trading = q.trading_terms(db, keys)
    terms = q.settlement_terms(db, {(r.period, r.sector) for r in rows})
    payments = q.settlement_payments(db, keys)
    out = []
    for r in rows:
        t = trading[(r.period, r.participant)]
        paid = payments[(r.period, r.participant)]
        term = terms.get((r.period, r.sector))
        out.append(
            s.SettlementPublic(
                **event_ref(r),
                **s.quarter_fields(r.period),
                participant=r.participant,
                sector=r.sector,
                emissions_kg=r.emissions_kg,
                removals_kg=r.removals_kg,
                cap_kg=r.cap_kg,
                compliance_retired_kg=r.compliance_retired_kg,
                uncovered_kg=r.uncovered_kg,
                surcharge=s.money(r.surcharge),
                base_charge=s.money(r.base_charge),
                allowance_tonnes=r.allowance_tonnes,
                classification=r.classification,
                terms=None
                if term is None
                else s.TermsPublic(
                    cap_kg=term.cap_kg,
                    surcharge_rate=s.money(term.surcharge_rate),
                    base_rate=s.money(term.base_rate),
                    floor_price=s.money(term.floor_price),
                    tolerance_kg=term.tolerance_kg,
                ),
                trading=s.TradingTermsPublic(
                    bought_tonnes=t.bought_tonnes,
                    bought=s.money(t.bought),
                    sold_tonnes=t.sold_tonnes,
                    sold=s.money(t.sold),
                    fees=s.money(t.fees),
                ),
                total_cost=s.money(r.base_charge + r.surcharge - t.sold + t.bought),
                debt_paid=s.money(paid["paid"]),
                debt_outstanding=s.money(max(0, r.surcharge + r.base_charge - paid["paid"])),
                allowance_claimed=paid["claimed"],
                allowance_batch_id=paid["batch"],
            )
        )
    return out
