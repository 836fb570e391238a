"""The indexer's database: chain events as normalized SQL (SQLAlchemy 2.0 typed models).

Two kinds of tables:

- Event tables, one row per log, keyed by ``(chain_id, block_number, log_index)`` and carrying the
  transaction hash and block time. They are only ever inserted, and a reorg deletes the rows above
  the common ancestor.
- State tables (participants, projects, credit batches, markets, orders, sensors): the latest
  state the events imply, updated in place. While a block can still be reorged, every change to a
  state row is journaled (``indexer_journal``) with the row as it was, so a rollback restores it.

Names follow the seed's metadata catalog where one applies (``project_id``, ``credit_batch_id``,
``account_type``, ``sensor_id``, ``sensor_type``, ``seller_id``/``buyer_id``, ``credit_type``).
Addresses are checksummed strings; 256-bit ids (credit batches, emission batches, orders, trades)
are ``0x`` + 64 lowercase hex digits, so text order is numeric order; quantities are integers
(tonnes, kg, satang).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Table, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

HASH = String(66)
ADDRESS = String(42)
U256 = String(66)


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (declarative types ``__table__`` as a plain FromClause)."""
    return cast(Table, model.__table__)


class EventRow:
    """Where an event row came from. ``transaction_id`` in the catalog's sense is tx_hash + log_index."""

    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HASH, index=True)
    block_time: Mapped[int] = mapped_column(BigInteger)  # unix seconds


# --- the indexer's own bookkeeping ---------------------------------------------------------------
class Cursor(Base):
    """The last block indexed per chain, written in the same transaction as its events."""

    __tablename__ = "indexer_cursor"
    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class RecentBlock(Base):
    """Hashes of the recent blocks (the reorg window): a parent-hash mismatch is found here."""

    __tablename__ = "indexer_blocks"
    chain_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_hash: Mapped[str] = mapped_column(HASH)
    parent_hash: Mapped[str] = mapped_column(HASH)
    block_time: Mapped[int] = mapped_column(BigInteger)


class Journal(Base):
    """A state row as it was before a change in a block that may still be reorged."""

    __tablename__ = "indexer_journal"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger)
    table_name: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(Text)  # JSON of the primary key
    before: Mapped[str | None] = mapped_column(Text)  # JSON of the row; None: it did not exist

    __table_args__ = (Index("ix_indexer_journal_block", "chain_id", "block_number"),)


# --- registry ---------------------------------------------------------------------------------------
class Participant(Base):
    __tablename__ = "participants"
    wallet: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)  # the TGO organization id
    org_key: Mapped[str] = mapped_column(String(42))
    account_type: Mapped[str] = mapped_column(String(32))
    trade_role: Mapped[str] = mapped_column(String(16))
    sector: Mapped[str] = mapped_column(String(32))
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_at: Mapped[int] = mapped_column(BigInteger)
    verified_epoch: Mapped[int | None] = mapped_column(Integer)
    certified_until: Mapped[int | None] = mapped_column(BigInteger)


class Project(Base):
    __tablename__ = "projects"
    project_key: Mapped[str] = mapped_column(HASH, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(128), unique=True)
    owner: Mapped[str] = mapped_column(ADDRESS, index=True)
    project_index: Mapped[int] = mapped_column(Integer)
    standard: Mapped[str] = mapped_column(String(32))
    project_type: Mapped[str] = mapped_column(String(32))
    latitude_e6: Mapped[int] = mapped_column(Integer)
    longitude_e6: Mapped[int] = mapped_column(Integer)
    methodology: Mapped[str] = mapped_column(String(256))
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_at: Mapped[int] = mapped_column(BigInteger)
    certified_epoch: Mapped[int | None] = mapped_column(Integer)
    additional: Mapped[bool | None] = mapped_column(Boolean)


class RootPublication(EventRow, Base):
    """TGO certification roots (ParticipantRootPublished, ProjectRootPublished)."""

    __tablename__ = "certification_roots"
    kind: Mapped[str] = mapped_column(String(16))  # participants | projects
    epoch: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(HASH)


# --- credits ----------------------------------------------------------------------------------------
class CreditBatch(Base):
    """A credit batch (BatchIssued), with what has happened to it since."""

    __tablename__ = "credit_batches"
    credit_batch_id: Mapped[str] = mapped_column(U256, primary_key=True)
    project_key: Mapped[str] = mapped_column(HASH, index=True)
    owner: Mapped[str] = mapped_column(ADDRESS, index=True)  # who it was issued to
    project_index: Mapped[int] = mapped_column(Integer)
    vintage: Mapped[int] = mapped_column(Integer)
    credit_type: Mapped[str] = mapped_column(String(16))
    serial_prefix: Mapped[str] = mapped_column(String(128))
    serial_start: Mapped[int] = mapped_column(BigInteger)
    serial_end: Mapped[int] = mapped_column(BigInteger)
    buffer_credits: Mapped[int] = mapped_column(BigInteger)
    issued_block: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    issued_tx: Mapped[str] = mapped_column(HASH)
    retired: Mapped[int] = mapped_column(BigInteger, default=0)


class CreditTransfer(EventRow, Base):
    """ERC-6909 Transfer of credits: issuance (from zero), moves, retirement (to zero)."""

    __tablename__ = "credit_transfers"
    credit_batch_id: Mapped[str] = mapped_column(U256, index=True)
    caller: Mapped[str] = mapped_column(ADDRESS)
    sender: Mapped[str] = mapped_column(ADDRESS, index=True)
    receiver: Mapped[str] = mapped_column(ADDRESS, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class Retirement(EventRow, Base):
    __tablename__ = "retirements"
    credit_batch_id: Mapped[str] = mapped_column(U256, index=True)
    holder: Mapped[str] = mapped_column(ADDRESS, index=True)
    purpose: Mapped[str] = mapped_column(String(24))
    serial_first: Mapped[int] = mapped_column(BigInteger)
    serial_last: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    claim_start: Mapped[int] = mapped_column(BigInteger)
    claim_end: Mapped[int] = mapped_column(BigInteger)
    beneficiary: Mapped[str] = mapped_column(Text)


# --- emission data log ------------------------------------------------------------------------------
class EmissionBatch(EventRow, Base):
    __tablename__ = "emission_batches"
    batch_id: Mapped[str] = mapped_column(HASH, index=True)
    participant: Mapped[str] = mapped_column(ADDRESS, index=True)
    project_key: Mapped[str] = mapped_column(HASH, index=True)
    period_start: Mapped[int] = mapped_column(BigInteger)
    period_end: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(BigInteger)
    readings_root: Mapped[str] = mapped_column(HASH)
    kg_co2e: Mapped[int] = mapped_column(BigInteger)
    quality_score: Mapped[int] = mapped_column(Integer)
    grade_a: Mapped[int] = mapped_column(BigInteger)
    grade_b: Mapped[int] = mapped_column(BigInteger)
    grade_c: Mapped[int] = mapped_column(BigInteger)
    grade_d: Mapped[int] = mapped_column(BigInteger)
    grade_e: Mapped[int] = mapped_column(BigInteger)
    grade_f: Mapped[int] = mapped_column(BigInteger)
    flow: Mapped[str] = mapped_column(String(8))
    single_record: Mapped[bool] = mapped_column(Boolean)  # EmissionRecordLogged (one reading)


# --- exchange ---------------------------------------------------------------------------------------
class Market(Base):
    __tablename__ = "markets"
    market: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credit_batch_id: Mapped[str] = mapped_column(U256, index=True)
    tick_size: Mapped[int] = mapped_column(BigInteger)
    floor_tick: Mapped[int] = mapped_column(Integer)
    ceiling_tick: Mapped[int] = mapped_column(Integer)
    min_quantity: Mapped[int] = mapped_column(BigInteger)
    fee_bps: Mapped[int] = mapped_column(Integer)
    listed_block: Mapped[int] = mapped_column(BigInteger)
    listed_at: Mapped[int] = mapped_column(BigInteger)


class Order(Base):
    """A resting order: placed (OrderPlaced), filled (each Traded names the maker's remaining
    quantity), closed (OrderClosed). The id encodes market | period | side | tick | sequence."""

    __tablename__ = "orders"
    order_id: Mapped[str] = mapped_column(U256, primary_key=True)
    market: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[int] = mapped_column(Integer)
    side: Mapped[str] = mapped_column(String(4))  # ask | bid
    tick: Mapped[int] = mapped_column(Integer)
    price: Mapped[int] = mapped_column(BigInteger)  # satang per tonne
    owner: Mapped[str] = mapped_column(ADDRESS, index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)  # resting when placed
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # open | filled | cancelled | reclaimed
    placed_block: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[int] = mapped_column(BigInteger)
    placed_tx: Mapped[str] = mapped_column(HASH)
    closed_block: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_orders_book", "market", "status", "period", "side", "tick"),
        Index("ix_orders_owner_status", "owner", "status"),
    )


class Trade(EventRow, Base):
    __tablename__ = "trades"
    trade_id: Mapped[str] = mapped_column(U256, unique=True)
    market: Mapped[int] = mapped_column(BigInteger)
    maker_order_id: Mapped[str] = mapped_column(U256, index=True)
    maker: Mapped[str] = mapped_column(ADDRESS, index=True)
    taker: Mapped[str] = mapped_column(ADDRESS, index=True)
    taker_side: Mapped[str] = mapped_column(String(4))
    seller_id: Mapped[str] = mapped_column(ADDRESS, index=True)
    buyer_id: Mapped[str] = mapped_column(ADDRESS, index=True)
    price: Mapped[int] = mapped_column(BigInteger)  # satang per tonne
    quantity: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_trades_market_time", "market", "block_time"),
        Index("ix_trades_market_block", "market", "block_number", "log_index"),
    )


class OrderClosure(EventRow, Base):
    __tablename__ = "order_closures"
    order_id: Mapped[str] = mapped_column(U256, index=True)
    owner: Mapped[str] = mapped_column(ADDRESS)
    quantity: Mapped[int] = mapped_column(BigInteger)
    reclaimed: Mapped[bool] = mapped_column(Boolean)


class ExchangeTransfer(EventRow, Base):
    """Baht and credits moved into or out of the exchange, and fees swept."""

    __tablename__ = "exchange_transfers"
    kind: Mapped[str] = mapped_column(String(20))  # baht_deposit | baht_withdrawal | credit_deposit | ...
    account: Mapped[str] = mapped_column(ADDRESS, index=True)
    market: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)


class MarketRuleChange(EventRow, Base):
    """Price band, minimum size and fee changes (R3), as an audit trail."""

    __tablename__ = "market_rule_changes"
    market: Mapped[int | None] = mapped_column(BigInteger)
    floor_tick: Mapped[int | None] = mapped_column(Integer)
    ceiling_tick: Mapped[int | None] = mapped_column(Integer)
    min_quantity: Mapped[int | None] = mapped_column(BigInteger)
    fee_bps: Mapped[int | None] = mapped_column(Integer)


# --- settlement ---------------------------------------------------------------------------------------
class SettlementTerms(EventRow, Base):
    __tablename__ = "settlement_terms"
    period: Mapped[int] = mapped_column(Integer, index=True)
    sector: Mapped[str] = mapped_column(String(32))
    cap_kg: Mapped[int] = mapped_column(BigInteger)
    surcharge_rate: Mapped[int] = mapped_column(BigInteger)
    base_rate: Mapped[int] = mapped_column(BigInteger)
    floor_price: Mapped[int] = mapped_column(BigInteger)
    tolerance_kg: Mapped[int] = mapped_column(BigInteger)


class SettlementRow(EventRow, Base):
    __tablename__ = "settlements"
    period: Mapped[int] = mapped_column(Integer, index=True)
    participant: Mapped[str] = mapped_column(ADDRESS, index=True)
    sector: Mapped[str] = mapped_column(String(32))
    emissions_kg: Mapped[int] = mapped_column(BigInteger)
    removals_kg: Mapped[int] = mapped_column(BigInteger)
    cap_kg: Mapped[int] = mapped_column(BigInteger)
    compliance_retired_kg: Mapped[int] = mapped_column(BigInteger)
    uncovered_kg: Mapped[int] = mapped_column(BigInteger)
    surcharge: Mapped[int] = mapped_column(BigInteger)  # satang
    base_charge: Mapped[int] = mapped_column(BigInteger)  # satang
    allowance_tonnes: Mapped[int] = mapped_column(BigInteger)
    classification: Mapped[str] = mapped_column(String(24))


class SettlementPayment(EventRow, Base):
    """DebtPaid and AllowanceClaimed."""

    __tablename__ = "settlement_payments"
    kind: Mapped[str] = mapped_column(String(24))  # debt_paid | allowance_claimed
    period: Mapped[int] = mapped_column(Integer)
    participant: Mapped[str] = mapped_column(ADDRESS, index=True)
    payer: Mapped[str | None] = mapped_column(ADDRESS)
    amount: Mapped[int] = mapped_column(BigInteger)  # satang, or tonnes of allowance
    credit_batch_id: Mapped[str | None] = mapped_column(U256)


# --- sensors --------------------------------------------------------------------------------------------
class Sensor(Base):
    __tablename__ = "sensors"
    sensor_id: Mapped[str] = mapped_column(ADDRESS, primary_key=True)  # the device address
    owner: Mapped[str] = mapped_column(ADDRESS, index=True)
    project_key: Mapped[str] = mapped_column(HASH, index=True)
    sensor_type: Mapped[str] = mapped_column(String(24))
    latitude_e6: Mapped[int] = mapped_column(Integer)
    longitude_e6: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    approved: Mapped[bool] = mapped_column(Boolean)
    certification_hash: Mapped[str | None] = mapped_column(HASH)
    certified_until: Mapped[int | None] = mapped_column(BigInteger)
    registered_block: Mapped[int] = mapped_column(BigInteger)
    # A verifier's designation as a reference method (SensorReferenceMethodSet; a revocation clears it).
    reference_method: Mapped[bool] = mapped_column(Boolean, server_default=false())
    reference_evidence_hash: Mapped[str | None] = mapped_column(HASH)


class ChainEvent(EventRow, Base):
    """Every decoded event of the deployment, as the auditor's complete trail."""

    __tablename__ = "chain_events"
    contract: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(48), index=True)
    args: Mapped[str] = mapped_column(Text)  # JSON, ints as strings beyond 2^53


EVENT_TABLES = [
    table_of(model)
    for model in (
        RootPublication,
        CreditTransfer,
        Retirement,
        EmissionBatch,
        Trade,
        OrderClosure,
        ExchangeTransfer,
        MarketRuleChange,
        SettlementTerms,
        SettlementRow,
        SettlementPayment,
        ChainEvent,
    )
]
STATE_TABLES = {
    model.__tablename__: table_of(model) for model in (Participant, Project, CreditBatch, Market, Order, Sensor)
}
