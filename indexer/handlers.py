"""From decoded events to rows: one handler per (contract, event).

Handlers run inside the indexer's database transaction for a range of blocks. Event rows are
collected and inserted in bulk at the end of the range; state rows are written at once (a later
event in the same range reads them), each change journaled while its block may still be reorged.
Every event, handled or not, also lands in ``chain_events``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, select, update

from carbonix import enums
from indexer import models as m
from indexer.decode import Event

MAX_SAFE_JSON_INT = 2**53
GRADE_COLUMNS = ("grade_a", "grade_b", "grade_c", "grade_d", "grade_e", "grade_f")


def u256(value: int) -> str:
    return f"0x{value:064x}"


def json_args(args: dict[str, Any]) -> str:
    return json.dumps(
        {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= MAX_SAFE_JSON_INT else v)
         for k, v in args.items()},
        separators=(",", ":"),
    )  # fmt: skip


class Writer:
    """The rows one range of blocks produces, written on one connection (one transaction)."""

    def __init__(self, conn: Connection, chain_id: int, journal_from: int) -> None:
        self.conn = conn
        self.chain_id = chain_id
        self.journal_from = journal_from  # blocks at or above may still be reorged
        self.rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        self.journal: list[dict[str, Any]] = []
        # new state rows of final blocks, inserted in bulk before anything reads their table
        self.new_state: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        self.tick_sizes: dict[int, int] = {}

    # event rows ------------------------------------------------------------------------------
    def event_row(self, model: type[m.Base], ev: Event, **values: Any) -> None:
        log = ev.log
        self.rows[m.table_of(model)].append(
            {
                "chain_id": self.chain_id,
                "block_number": log.block_number,
                "log_index": log.log_index,
                "tx_hash": log.tx_hash,
                "block_time": log.block_time,
                **values,
            }
        )

    def flush(self) -> None:
        for table in list(self.new_state):
            self._flush_state(table)
        if self.journal:
            self.conn.execute(insert(m.table_of(m.Journal)), self.journal)
            self.journal = []
        for table, rows in self.rows.items():
            if rows:
                self.conn.execute(insert(table), rows)
        self.rows.clear()

    # state rows -------------------------------------------------------------------------------
    def _where(self, table: Table, key: dict[str, Any]) -> Any:
        return and_(*(table.c[k] == v for k, v in key.items()))

    def _remember(self, table: Table, key: dict[str, Any], block: int) -> None:
        if block < self.journal_from:
            return
        before = self.conn.execute(select(table).where(self._where(table, key))).mappings().first()
        self.journal.append(
            {
                "chain_id": self.chain_id,
                "block_number": block,
                "table_name": table.name,
                "key": json.dumps(key, sort_keys=True),
                "before": None if before is None else json.dumps(dict(before)),
            }
        )

    def _flush_state(self, table: Table) -> None:
        rows = self.new_state.pop(table, None)
        if rows:
            self.conn.execute(insert(table), rows)

    def put(self, model: type[m.Base], key: dict[str, Any], values: dict[str, Any], block: int) -> None:
        """Inserts the state row a creating event implies (registered, issued, listed, placed).

        Such an event comes once per key, so in a final block the row is queued for a bulk insert;
        in a block that may be reorged, a row already there is replaced and journaled."""
        table = m.table_of(model)
        if block < self.journal_from:
            self.new_state[table].append({**key, **values})
            return
        self._flush_state(table)
        self._remember(table, key, block)
        self.conn.execute(delete(table).where(self._where(table, key)))
        self.conn.execute(insert(table), {**key, **values})

    def change(self, model: type[m.Base], key: dict[str, Any], values: dict[str, Any], block: int) -> bool:
        """Updates a state row; False if there is none."""
        table = m.table_of(model)
        self._flush_state(table)
        self._remember(table, key, block)
        return bool(self.conn.execute(update(table).where(self._where(table, key)).values(**values)).rowcount)

    def get(self, model: type[m.Base], key: dict[str, Any]) -> Any:
        table = m.table_of(model)
        self._flush_state(table)
        return self.conn.execute(select(table).where(self._where(table, key))).first()


Handler = Callable[[Writer, Event], None]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(contract: str, *events: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for event in events:
            HANDLERS[(contract, event)] = fn
        return fn

    return register


def apply(writer: Writer, ev: Event) -> None:
    writer.event_row(m.ChainEvent, ev, contract=ev.contract, event=ev.name, args=json_args(ev.args))
    handler = HANDLERS.get((ev.contract, ev.name))
    if handler is not None:
        handler(writer, ev)


# --- registry ---------------------------------------------------------------------------------------
@handles("CarbonRegistry", "ParticipantRegistered")
def _participant_registered(w: Writer, ev: Event) -> None:
    a = ev.args
    w.put(
        m.Participant,
        {"wallet": a["wallet"]},
        {
            "account_id": a["orgId"],
            "org_key": a["orgKey"][:42],
            "account_type": enums.name("AccountType", a["accountType"]),
            "trade_role": enums.name("TradeRole", a["tradeRole"]),
            "sector": enums.name("Sector", a["sector"]),
            "registered_block": ev.log.block_number,
            "registered_at": ev.log.block_time,
            "verified_epoch": None,
            "certified_until": None,
        },
        ev.log.block_number,
    )


@handles("CarbonRegistry", "ParticipantVerified")
def _participant_verified(w: Writer, ev: Event) -> None:
    a = ev.args
    values = {"verified_epoch": a["epoch"], "certified_until": a["certifiedUntil"]}
    w.change(m.Participant, {"wallet": a["wallet"]}, values, ev.log.block_number)


@handles("CarbonRegistry", "ParticipantRootPublished", "ProjectRootPublished")
def _root_published(w: Writer, ev: Event) -> None:
    kind = "participants" if ev.name == "ParticipantRootPublished" else "projects"
    w.event_row(m.RootPublication, ev, kind=kind, epoch=ev.args["epoch"], root=ev.args["root"])


@handles("CarbonRegistry", "ProjectRegistered")
def _project_registered(w: Writer, ev: Event) -> None:
    a = ev.args
    w.put(
        m.Project,
        {"project_key": a["projectKey"]},
        {
            "project_id": a["projectId"],
            "owner": a["owner"],
            "project_index": a["index"],
            "standard": enums.name("Standard", a["standard"]),
            "project_type": enums.name("ProjectType", a["projectType"]),
            "latitude_e6": a["latitudeE6"],
            "longitude_e6": a["longitudeE6"],
            "methodology": a["methodology"],
            "registered_block": ev.log.block_number,
            "registered_at": ev.log.block_time,
            "certified_epoch": None,
            "additional": None,
        },
        ev.log.block_number,
    )


@handles("CarbonRegistry", "ProjectCertified")
def _project_certified(w: Writer, ev: Event) -> None:
    a = ev.args
    values = {"certified_epoch": a["epoch"], "additional": a["additional"]}
    w.change(m.Project, {"project_key": a["projectKey"]}, values, ev.log.block_number)


# --- credits ----------------------------------------------------------------------------------------
@handles("CarbonCredits", "BatchIssued")
def _batch_issued(w: Writer, ev: Event) -> None:
    a = ev.args
    w.put(
        m.CreditBatch,
        {"credit_batch_id": u256(a["batchId"])},
        {
            "project_key": a["projectKey"],
            "owner": a["owner"],
            "project_index": a["projectIndex"],
            "vintage": a["vintage"],
            "credit_type": enums.name("CreditType", a["creditType"]),
            "serial_prefix": a["serialPrefix"],
            "serial_start": a["serialStart"],
            "serial_end": a["serialEnd"],
            "buffer_credits": a["bufferCredits"],
            "issued_block": ev.log.block_number,
            "issued_at": ev.log.block_time,
            "issued_tx": ev.log.tx_hash,
            "retired": 0,
        },
        ev.log.block_number,
    )


@handles("CarbonCredits", "Transfer")
def _credit_transfer(w: Writer, ev: Event) -> None:
    # ERC-6909 Transfer(address by, address indexed from, address indexed to, uint256 indexed id,
    # uint256 amount): the decoder lists the indexed arguments first, in ABI order
    sender, receiver, token, caller, amount = ev.args.values()
    w.event_row(
        m.CreditTransfer,
        ev,
        credit_batch_id=u256(token),
        caller=caller,
        sender=sender,
        receiver=receiver,
        amount=amount,
    )


@handles("CarbonCredits", "CreditsRetired")
def _credits_retired(w: Writer, ev: Event) -> None:
    a = ev.args
    batch_id = u256(a["batchId"])
    quantity = a["serialLast"] - a["serialFirst"] + 1
    w.event_row(
        m.Retirement,
        ev,
        credit_batch_id=batch_id,
        holder=a["holder"],
        purpose=enums.name("RetirementPurpose", a["purpose"]),
        serial_first=a["serialFirst"],
        serial_last=a["serialLast"],
        quantity=quantity,
        claim_start=a["claimStart"],
        claim_end=a["claimEnd"],
        beneficiary=a["beneficiary"],
    )
    batch = w.get(m.CreditBatch, {"credit_batch_id": batch_id})
    if batch is not None:
        w.change(
            m.CreditBatch, {"credit_batch_id": batch_id}, {"retired": batch.retired + quantity}, ev.log.block_number
        )


# --- emission data log ------------------------------------------------------------------------------
@handles("EmissionDataLog", "EmissionBatchCommitted")
def _emission_batch(w: Writer, ev: Event) -> None:
    a = ev.args
    packed = a["gradeCounts"]
    grades = {col: (packed >> (32 * i)) & 0xFFFFFFFF for i, col in enumerate(GRADE_COLUMNS)}
    w.event_row(
        m.EmissionBatch,
        ev,
        batch_id=a["batchId"],
        participant=a["participant"],
        project_key=a["projectKey"],
        period_start=a["periodStart"],
        period_end=a["periodEnd"],
        reading_count=a["readingCount"],
        readings_root=a["readingsRoot"],
        kg_co2e=a["kgCO2e"],
        quality_score=a["qualityScore"],
        flow=enums.name("Flow", a["flow"]),
        single_record=False,
        **grades,
    )


@handles("EmissionDataLog", "EmissionRecordLogged")
def _emission_record(w: Writer, ev: Event) -> None:
    a = ev.args
    w.event_row(
        m.EmissionBatch,
        ev,
        batch_id=a["batchId"],
        participant=a["participant"],
        project_key=a["projectKey"],
        period_start=a["timestamp"],
        period_end=a["timestamp"],
        reading_count=1,
        readings_root=a["batchId"],
        kg_co2e=a["kgCO2e"],
        quality_score=a["qualityScore"],
        flow="emission",
        single_record=True,
        **dict.fromkeys(GRADE_COLUMNS, 0),
    )


# --- exchange ---------------------------------------------------------------------------------------
def order_fields(order_id: int) -> dict[str, Any]:
    """market (32 bits) | period (16) | side (8) | tick (16) | sequence (32), see IExchange."""
    return {
        "market": order_id >> 72,
        "period": (order_id >> 56) & 0xFFFF,
        "side": enums.name("Side", (order_id >> 48) & 0xFF),
        "tick": (order_id >> 32) & 0xFFFF,
    }


@handles("Exchange", "MarketListed")
def _market_listed(w: Writer, ev: Event) -> None:
    a = ev.args
    w.put(
        m.Market,
        {"market": a["market"]},
        {
            "credit_batch_id": u256(a["batchId"]),
            "tick_size": a["tickSize"],
            "floor_tick": a["floorTick"],
            "ceiling_tick": a["ceilingTick"],
            "min_quantity": a["minQuantity"],
            "fee_bps": a["feeBps"],
            "listed_block": ev.log.block_number,
            "listed_at": ev.log.block_time,
        },
        ev.log.block_number,
    )


@handles("Exchange", "MarketRulesSet", "MarketFeeSet")
def _market_rules(w: Writer, ev: Event) -> None:
    a = ev.args
    if ev.name == "MarketRulesSet":
        values = {"floor_tick": a["floorTick"], "ceiling_tick": a["ceilingTick"], "min_quantity": a["minQuantity"]}
    else:
        values = {"fee_bps": a["feeBps"]}
    w.change(m.Market, {"market": a["market"]}, values, ev.log.block_number)
    w.event_row(
        m.MarketRuleChange,
        ev,
        market=a["market"],
        floor_tick=values.get("floor_tick"),
        ceiling_tick=values.get("ceiling_tick"),
        min_quantity=values.get("min_quantity"),
        fee_bps=values.get("fee_bps"),
    )


@handles("Exchange", "OrderPlaced")
def _order_placed(w: Writer, ev: Event) -> None:
    a = ev.args
    fields = order_fields(a["orderId"])
    tick_size = w.tick_sizes.get(a["market"])
    if tick_size is None:  # a market's tick size never changes
        market = w.get(m.Market, {"market": a["market"]})
        tick_size = w.tick_sizes[a["market"]] = market.tick_size if market is not None else 0
    w.put(
        m.Order,
        {"order_id": u256(a["orderId"])},
        {
            **fields,
            "price": fields["tick"] * tick_size,
            "owner": a["owner"],
            "quantity": a["quantity"],
            "remaining": a["quantity"],
            "status": "open",
            "placed_block": ev.log.block_number,
            "placed_at": ev.log.block_time,
            "placed_tx": ev.log.tx_hash,
            "closed_block": None,
        },
        ev.log.block_number,
    )


@handles("Exchange", "Traded")
def _traded(w: Writer, ev: Event) -> None:
    a = ev.args
    trade_id = a["tradeId"]
    maker_order, remaining = trade_id >> 32, trade_id & 0xFFFFFFFF
    taker_side = enums.name("Side", a["takerSide"])
    seller, buyer = (a["taker"], a["maker"]) if taker_side == "ask" else (a["maker"], a["taker"])
    w.event_row(
        m.Trade,
        ev,
        trade_id=u256(trade_id),
        market=a["market"],
        maker_order_id=u256(maker_order),
        maker=a["maker"],
        taker=a["taker"],
        taker_side=taker_side,
        seller_id=seller,
        buyer_id=buyer,
        price=a["price"],
        quantity=a["quantity"],
        fee=a["fee"],
    )
    values: dict[str, Any] = {"remaining": remaining}
    if remaining == 0:
        values |= {"status": "filled", "closed_block": ev.log.block_number}
    w.change(m.Order, {"order_id": u256(maker_order)}, values, ev.log.block_number)


@handles("Exchange", "OrderClosed")
def _order_closed(w: Writer, ev: Event) -> None:
    a = ev.args
    w.event_row(
        m.OrderClosure, ev, order_id=u256(a["orderId"]), owner=a["owner"], quantity=a["quantity"],
        reclaimed=a["reclaimed"],
    )  # fmt: skip
    values = {
        "remaining": 0,
        "status": "reclaimed" if a["reclaimed"] else "cancelled",
        "closed_block": ev.log.block_number,
    }
    w.change(m.Order, {"order_id": u256(a["orderId"])}, values, ev.log.block_number)


_EXCHANGE_TRANSFERS = {
    "BahtDeposited": ("baht_deposit", "trader"),
    "BahtWithdrawn": ("baht_withdrawal", "trader"),
    "CreditsDeposited": ("credit_deposit", "trader"),
    "CreditsWithdrawn": ("credit_withdrawal", "trader"),
    "FeesSwept": ("fees_swept", "treasury"),
}


@handles("Exchange", *_EXCHANGE_TRANSFERS)
def _exchange_transfer(w: Writer, ev: Event) -> None:
    kind, who = _EXCHANGE_TRANSFERS[ev.name]
    a = ev.args
    w.event_row(m.ExchangeTransfer, ev, kind=kind, account=a[who], market=a.get("market"), amount=a["amount"])


# --- settlement ---------------------------------------------------------------------------------------
@handles("Settlement", "TermsSet")
def _terms(w: Writer, ev: Event) -> None:
    a = ev.args
    w.event_row(
        m.SettlementTerms,
        ev,
        period=a["period"],
        sector=enums.name("Sector", a["sector"]),
        cap_kg=a["capKg"],
        surcharge_rate=a["surchargeRate"],
        base_rate=a["baseRate"],
        floor_price=a["floorPrice"],
        tolerance_kg=a["toleranceKg"],
    )


@handles("Settlement", "Settled")
def _settled(w: Writer, ev: Event) -> None:
    a = ev.args
    w.event_row(
        m.SettlementRow,
        ev,
        period=a["period"],
        participant=a["participant"],
        sector=enums.name("Sector", a["sector"]),
        emissions_kg=a["emissionsKg"],
        removals_kg=a["removalsKg"],
        cap_kg=a["capKg"],
        compliance_retired_kg=a["complianceRetiredKg"],
        uncovered_kg=a["uncoveredKg"],
        surcharge=a["surcharge"],
        base_charge=a["baseCharge"],
        allowance_tonnes=a["allowanceTonnes"],
        classification=enums.name("Classification", a["classification"]),
    )


@handles("Settlement", "DebtPaid", "AllowanceClaimed")
def _settlement_payment(w: Writer, ev: Event) -> None:
    a = ev.args
    if ev.name == "DebtPaid":
        values = {"kind": "debt_paid", "payer": a["payer"], "amount": a["amount"], "credit_batch_id": None}
    else:
        values = {
            "kind": "allowance_claimed",
            "payer": None,
            "amount": a["tonnes"],
            "credit_batch_id": u256(a["batchId"]),
        }
    w.event_row(m.SettlementPayment, ev, period=a["period"], participant=a["participant"], **values)


# --- sensors ------------------------------------------------------------------------------------------
@handles("SensorRegistry", "SensorRegistered")
def _sensor_registered(w: Writer, ev: Event) -> None:
    a = ev.args
    w.put(
        m.Sensor,
        {"sensor_id": a["device"]},
        {
            "owner": a["owner"],
            "project_key": a["projectKey"],
            "sensor_type": enums.name("SensorType", a["sensorType"]),
            "latitude_e6": a["latitudeE6"],
            "longitude_e6": a["longitudeE6"],
            "label": a["label"],
            "status": "active",
            "approved": False,
            "certification_hash": None,
            "certified_until": None,
            "registered_block": ev.log.block_number,
            "reference_method": False,
            "reference_evidence_hash": None,
        },
        ev.log.block_number,
    )


@handles("SensorRegistry", "SensorApproved", "SensorRevoked", "SensorStatusSet", "SensorReferenceMethodSet")
def _sensor_changed(w: Writer, ev: Event) -> None:
    a = ev.args
    if ev.name == "SensorApproved":
        values = {
            "approved": True,
            "certification_hash": a["certificationHash"],
            "certified_until": a["certifiedUntil"],
        }
    elif ev.name == "SensorRevoked":  # the contract clears a reference designation with the approval
        values = {"approved": False, "reference_method": False, "reference_evidence_hash": None}
    elif ev.name == "SensorReferenceMethodSet":
        values = {"reference_method": a["referenceMethod"], "reference_evidence_hash": a["evidenceHash"]}
    else:
        values = {"status": enums.name("SensorStatus", a["status"])}
    w.change(m.Sensor, {"sensor_id": a["device"]}, values, ev.log.block_number)
