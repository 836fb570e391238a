"""What the API answers: typed response models (``XPublic``, lists as ``XsPublic{data, count}``).

Conventions of every response: baht amounts are ``Money`` (``satang`` integer and ``thb`` decimal
string with 2 decimals), times are ``Time`` (``unix`` seconds and ``iso`` 8601 in UTC; ``iso`` is
null for a time beyond year 9999), tonnes and kg are integers, addresses EIP-55 checksums, 256-bit
ids ``0x`` + 64 hex digits, quarters both as ``period`` (year * 4 + quarter - 1) and ``quarter``
(``2026Q4``, Thai time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from carbonix.orderbook import period_label

THB_PATTERN = r"^-?[0-9]+\.[0-9]{2}$"


class Public(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Money(Public):
    satang: int = Field(description="Baht amount in satang (1/100 baht).")
    thb: str = Field(pattern=THB_PATTERN, description="The same amount in baht, 2 decimals.")


class Time(Public):
    unix: int = Field(description="Unix seconds.")
    iso: str | None = Field(description="ISO 8601 in UTC; null beyond year 9999.")


def money(satang: int) -> Money:
    return Money(satang=satang, thb=str((Decimal(satang) / 100).quantize(Decimal("0.01"))))


def money_or_none(satang: int | None) -> Money | None:
    return None if satang is None else money(satang)


def time(ts: int) -> Time:
    try:
        iso: str | None = datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        iso = None
    return Time(unix=ts, iso=iso)


def time_or_none(ts: int | None) -> Time | None:
    return None if ts is None else time(ts)


def quarter_fields(period: int) -> dict[str, Any]:
    return {"period": period, "quarter": period_label(period)}


class ErrorPublic(Public):
    detail: str
    request_id: str | None = None


class ValidationErrorItem(BaseModel):
    model_config = ConfigDict(extra="allow")  # pydantic adds input and ctx where it has them

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorPublic(BaseModel):
    """FastAPI's 422 body: what is wrong with which parameter."""

    detail: list[ValidationErrorItem]


class EventRef(Public):
    """Where an event row came from on-chain."""

    chain_id: int
    block_number: int
    log_index: int
    tx_hash: str
    block_time: Time


# --- registry ----------------------------------------------------------------------------------
class ProjectPublic(Public):
    project_id: str
    project_key: str
    owner: str
    project_index: int
    standard: str
    project_type: str
    latitude_e6: int
    longitude_e6: int
    methodology: str
    registered_block: int
    registered_at: Time
    certified_epoch: int | None
    additional: bool | None
    certified: bool = Field(description="Certified under the current TGO project root, with additionality.")


class ProjectDetailPublic(ProjectPublic):
    credit_batches: int
    issued_tonnes: int
    retired_tonnes: int


class ProjectsPublic(Public):
    data: list[ProjectPublic]
    count: int


class ParticipantPublic(Public):
    wallet: str
    account_id: str = Field(description="The TGO organisation id.")
    account_type: str
    trade_role: str
    sector: str
    registered_block: int
    registered_at: Time
    verified_epoch: int | None
    certified_until: Time | None
    verified: bool = Field(description="Verified under the current TGO participant root and not expired.")


class ParticipantsPublic(Public):
    data: list[ParticipantPublic]
    count: int


# --- credits ---------------------------------------------------------------------------------------
class CreditBatchPublic(Public):
    credit_batch_id: str
    project_key: str
    project_id: str | None
    owner: str = Field(description="Who the batch was issued to.")
    vintage: int
    credit_type: str
    serial_prefix: str
    serial_start: int
    serial_end: int
    buffer_credits: int = Field(description="Withheld from the top of the range, never minted.")
    issued_tonnes: int
    retired_tonnes: int
    issued_block: int
    issued_at: Time
    issued_tx: str
    market: int | None


class CreditBatchesPublic(Public):
    data: list[CreditBatchPublic]
    count: int


class ProvenanceEventPublic(EventRef):
    kind: Literal["issuance", "transfer", "retirement"]
    sender: str | None
    receiver: str | None
    tonnes: int
    serial_first: int | None = None
    serial_last: int | None = None
    beneficiary: str | None = None
    purpose: str | None = None


class ProvenancePublic(Public):
    credit_batch_id: str
    data: list[ProvenanceEventPublic]
    count: int


class RetirementPublic(EventRef):
    credit_batch_id: str
    project_id: str | None
    serial_prefix: str | None
    serial_first: int
    serial_last: int
    tonnes: int
    holder: str
    beneficiary: str
    purpose: str
    claim_start: Time
    claim_end: Time
    certificate_pdf: str
    certificate_json: str


class RetirementsPublic(Public):
    data: list[RetirementPublic]
    count: int


class SerialPublic(Public):
    serial_prefix: str
    serial: int
    status: Literal["retired", "active", "buffer"] = Field(
        description="retired; active (minted, not retired); buffer (withheld, never minted)."
    )
    credit_batch: CreditBatchPublic
    retirement: RetirementPublic | None


class CertificatePublic(Public):
    tx_hash: str
    block_number: int
    timestamp: int
    batch_id: str
    holder: str
    beneficiary: str
    purpose: str
    claim_start: int
    claim_end: int
    serial_prefix: str
    serial_first: int
    serial_last: int
    project_id: str
    vintage: int
    credit_type: str
    chain_id: int
    credits_contract: str
    index: int
    count: int
    standard: str | None
    project_type: str | None
    methodology: str | None
    tonnes: int
    serial_range: str
    block_time_utc: str
    block_time_thai: str
    claim_start_utc: str
    claim_end_utc: str
    tx_url: str
    verify: str


class CertificatesPublic(Public):
    source: Literal["index", "chain"] = Field(description="index: from indexed rows; chain: the receipt.")
    data: list[CertificatePublic]
    count: int


# --- exchange ----------------------------------------------------------------------------------------
class MarketPublic(Public):
    market: int
    credit_batch_id: str
    project_id: str | None
    vintage: int | None
    credit_type: str | None
    tick_size: Money
    floor_price: Money
    ceiling_price: Money
    floor_tick: int
    ceiling_tick: int
    min_quantity: int
    fee_bps: int
    listed_block: int
    listed_at: Time


class MarketsPublic(Public):
    data: list[MarketPublic]
    count: int


class LevelPublic(Public):
    tick: int
    price: Money
    tonnes: int
    orders: int


class BookPublic(Public):
    market: int
    period: int
    quarter: str
    as_of_block: int | None = Field(description="The indexer cursor the book was computed at.")
    best_ask: Money | None
    best_bid: Money | None
    spread: Money | None
    asks: list[LevelPublic] = Field(description="Lowest price first.")
    bids: list[LevelPublic] = Field(description="Highest price first.")


class TradePublic(EventRef):
    trade_id: str
    market: int
    period: int
    quarter: str
    maker_order_id: str
    maker: str
    taker: str
    taker_side: str
    seller_id: str
    buyer_id: str
    price: Money
    quantity: int
    value: Money
    fee: Money


class TradesPublic(Public):
    data: list[TradePublic]
    count: int


class CandlePublic(Public):
    start: Time
    open: Money
    high: Money
    low: Money
    close: Money
    volume_tonnes: int
    value: Money
    vwap: Money
    trades: int


class CandlesPublic(Public):
    market: int
    interval: str
    data: list[CandlePublic] = Field(description="Oldest first; intervals without trades are left out.")
    count: int


class ChangePublic(Public):
    reference: Money = Field(description="The last price at or before the start of the window.")
    absolute: Money
    percent: str = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$")


class MarketStatsPublic(Public):
    market: int
    as_of: Time = Field(description="The time of the last indexed block.")
    period: int
    quarter: str
    best_bid: Money | None
    best_ask: Money | None
    spread: Money | None
    last_price: Money | None
    last_trade_at: Time | None
    change_24h: ChangePublic | None
    change_7d: ChangePublic | None
    volume_24h_tonnes: int
    value_24h: Money
    trades_24h: int
    average_price_7d: Money | None = Field(description="Volume-weighted, the last 7 days.")
    average_price_30d: Money | None = Field(description="Volume-weighted, the last 30 days.")


class OrderPublic(Public):
    order_id: str
    market: int
    period: int
    quarter: str
    side: str
    tick: int
    price: Money
    owner: str
    quantity: int
    remaining: int
    status: str
    placed_block: int
    placed_at: Time
    placed_tx: str


class HoldingPublic(Public):
    credit_batch_id: str
    project_id: str | None
    vintage: int | None
    credit_type: str | None
    serial_prefix: str | None
    wallet_tonnes: int = Field(description="Credits in the wallet: transfers in minus out.")
    market: int | None
    exchange_tonnes: int = Field(description="Credits held for the wallet by the exchange, escrow included.")
    in_open_asks: int
    exchange_available_tonnes: int


class BahtPositionPublic(Public):
    exchange: Money = Field(description="Baht held for the wallet by the exchange, escrow included.")
    in_open_bids: Money
    exchange_available: Money


class PortfolioPublic(Public):
    wallet: str
    as_of_block: int | None
    holdings: list[HoldingPublic]
    baht: BahtPositionPublic
    open_orders: list[OrderPublic] = Field(description="At most 500, newest first.")
    open_orders_count: int


class HistoryItemPublic(EventRef):
    kind: Literal["trade", "retirement"]
    credit_batch_id: str | None
    market: int | None
    side: Literal["buy", "sell"] | None
    tonnes: int
    price: Money | None
    value: Money | None
    fee: Money | None
    counterparty: str | None
    serial_first: int | None
    serial_last: int | None
    beneficiary: str | None
    purpose: str | None


class HistoryPublic(Public):
    wallet: str
    data: list[HistoryItemPublic]
    count: int


# --- data log -----------------------------------------------------------------------------------
class Grades(Public):
    a: int
    b: int
    c: int
    d: int
    e: int
    f: int


class GradeShares(Public):
    a: float
    b: float
    c: float
    d: float
    e: float
    f: float


class EmissionBatchPublic(EventRef):
    batch_id: str
    participant: str
    project_key: str
    project_id: str | None
    flow: str
    period_start: Time
    period_end: Time
    reading_count: int
    readings_root: str
    kg_co2e: int
    quality_score: int
    grades: Grades
    single_record: bool


class EmissionBatchesPublic(Public):
    data: list[EmissionBatchPublic]
    count: int


class SeriesPointPublic(Public):
    start: Time = Field(description="Start of the day, month or quarter in Thai time (UTC+7).")
    kg_co2e: int
    batches: int
    readings: int
    grades: Grades


class EmissionSeriesPublic(Public):
    interval: str
    flow: str
    participant: str | None
    project_key: str | None
    total_kg_co2e: int
    data: list[SeriesPointPublic]
    count: int


class AccuracyPublic(Public):
    """Readings measured against a co-located reference station: accuracy = (1 - |measured -
    reference| / reference) x 100 %, bounded to 0-100 (the business plan, section 8.3.1)."""

    comparisons: int = Field(description="Readings and quantities compared with a reference station.")
    accuracy_percent: float = Field(description="The accuracy rate: the mean of the comparisons.")
    lowest_percent: float
    highest_percent: float
    share_at_target: float = Field(description="Share of comparisons at or above target_percent.")
    target_percent: float = Field(description="The plan's floor for the first phase (85 %).")
    meets_target: bool = Field(description="accuracy_percent >= target_percent.")
    first_hour: Time
    last_hour: Time


class QualityPublic(Public):
    participant: str | None
    project_key: str | None
    project_id: str | None
    batches: int
    readings: int
    graded_readings: int = Field(description="Readings in the batches' A-F histograms.")
    grades: Grades
    shares: GradeShares | None = Field(description="Share of graded readings per grade; null if none.")
    mean_quality_score: float | None = Field(description="Batch scores weighted by their reading counts.")
    accuracy: AccuracyPublic | None = Field(
        description="Against co-located reference stations, from the oracle's store; null where no sensor "
        "has a reference within reach, or without an oracle store (accuracy_available)."
    )


class DataQualityPublic(Public):
    total: QualityPublic
    data: list[QualityPublic] = Field(description="Per participant and project.")
    count: int
    accuracy_available: bool = Field(description="Whether this API reads an oracle store for accuracy.")


class AccuracyPairPublic(Public):
    device: str = Field(description="The measured sensor.")
    device_label: str | None = Field(description="Its label in the SensorRegistry, once indexed.")
    reference_device: str = Field(description="The reference station (a verifier's designation).")
    reference_label: str | None
    quantity: str
    distance_m: int
    participant: str = Field(description="Owner of the measured sensor.")
    project_key: str
    result: AccuracyPublic


class AccuracyPairsPublic(Public):
    available: bool = Field(description="False when this API reads no oracle store (ORACLE_DATABASE_URL).")
    radius_km: float = Field(description="A reference station counts within this distance.")
    target_percent: float
    data: list[AccuracyPairPublic]
    count: int


# --- settlement --------------------------------------------------------------------------------------
class TermsPublic(Public):
    cap_kg: int
    surcharge_rate: Money = Field(description="Per tonne of uncovered excess.")
    base_rate: Money = Field(description="Per tonne up to the cap.")
    floor_price: Money = Field(description="Per tonne.")
    tolerance_kg: int


class TradingTermsPublic(Public):
    bought_tonnes: int
    bought: Money = Field(description="gamma_buy * CB_i: what the participant paid for credits in the quarter.")
    sold_tonnes: int
    sold: Money = Field(description="gamma_sell * CS_i: proceeds of credits sold in the quarter, after fees.")
    fees: Money


class SettlementPublic(EventRef):
    period: int
    quarter: str
    participant: str
    sector: str
    emissions_kg: int = Field(description="E_i: verified emissions of the quarter from the data log.")
    removals_kg: int
    cap_kg: int = Field(description="K_s, the sector cap.")
    compliance_retired_kg: int = Field(description="Credits retired for compliance against the quarter.")
    uncovered_kg: int
    surcharge: Money
    base_charge: Money
    allowance_tonnes: int = Field(description="Allowance earned under the cap.")
    classification: str
    terms: TermsPublic | None
    trading: TradingTermsPublic
    total_cost: Money = Field(description="TC_i = base charge + surcharge - sold + bought (the billing equation).")
    debt_paid: Money
    debt_outstanding: Money = Field(description="Surcharge plus base charge, less what has been paid.")
    allowance_claimed: bool
    allowance_batch_id: str | None


class SettlementsPublic(Public):
    data: list[SettlementPublic]
    count: int


# --- exports -----------------------------------------------------------------------------------------
class CbamEmissionPublic(Public):
    period: int
    quarter: str
    project_key: str
    project_id: str | None
    flow: str
    kg_co2e: int
    batches: int
    readings: int
    grades: Grades


class CbamExportPublic(Public):
    participant: ParticipantPublic
    year: int
    as_of_block: int | None
    emissions_kg: int = Field(description="Verified emissions of the year (flow emission).")
    removals_kg: int
    emissions: list[CbamEmissionPublic]
    retired_tonnes: int
    retirements: list[RetirementPublic] = Field(description="Retirements by the participant in the year.")
    settlements: list[SettlementPublic]


# --- system ------------------------------------------------------------------------------------------
class ChainHealthPublic(Public):
    chain_id: int
    cursor_block: int | None
    cursor_hash: str | None
    cursor_time: Time | None
    indexed_at: Time | None
    head: int | None
    lag_blocks: int | None
    rpc: Literal["reachable", "unreachable", "not_configured"]


class DatabaseHealthPublic(Public):
    reachable: bool
    detail: str | None


class HealthPublic(Public):
    status: Literal["ok", "degraded", "down"]
    database: DatabaseHealthPublic
    chains: list[ChainHealthPublic]
    time: Time


class TransactionEventPublic(Public):
    log_index: int
    contract: str = Field(description="The deployment's contract that emitted it (CarbonCredits, Exchange, ...).")
    event: str = Field(description="The event's name in the contract's ABI (CreditsRetired, Traded, ...).")
    args: dict[str, Any] = Field(
        description="The decoded arguments by their ABI names. Enum arguments by their snake_case member "
        'names (takerSide "bid", projectType "forestry"), as the ABI in the deployment manifest types them '
        "(integer indexes only if the API has no manifest). Integers are exact: a JSON number below 2^53 in "
        "magnitude, a decimal string from 2^53 on (uint256 ids and amounts). Addresses are EIP-55 checksums, "
        "bytes 0x hex; an indexed string, bytes, array or struct is the 0x keccak hash the log holds."
    )


class TransactionPublic(Public):
    tx_hash: str
    source: Literal["index", "chain"]
    chain_id: int
    block_number: int
    block_time: Time | None
    status: Literal["success", "reverted"] | None = Field(description="From the receipt; null from the index.")
    events: list[TransactionEventPublic]
    retirements: int
    certificate_pdf: str | None
    certificate_json: str | None
