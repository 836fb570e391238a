"""Derived data from the indexer's tables: what no single row says, in a few indexed queries each.

Holdings are sums of credit transfers in minus out; exchange balances are deposits minus
withdrawals plus what trades moved; the book is the open orders grouped by price level; candles
and market statistics come from trades; the billing equation's trading terms are the trades of the
quarter (by the maker order's period, as the exchange defines a trade's period). Every function
reads on the connection (or session) it is given and returns plain values; the API shapes them.

Times are the chain's: "now" is the block time of the last indexed block, so a market's 24 h
window, the current trading period and certification expiry are those of the indexed chain, not of
the machine's clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Unpack

from eth_utils import to_checksum_address
from sqlalchemy import Select, and_, case, func, literal_column, null, or_, select, union_all
from sqlalchemy.orm import Session

from indexer import models as m

ZERO_ADDRESS = "0x" + "0" * 40
AnySelect = Select[Unpack[tuple[Any, ...]]]
THAI = timezone(timedelta(hours=7))
THAI_OFFSET = 7 * 3600
DAY = 86_400
MAX_OPEN_ORDERS = 500
INTERVALS = {"1m": 60, "1h": 3600, "1d": DAY}


# --- time ----------------------------------------------------------------------------------------
def const(value: int) -> Any:
    """An integer written into the SQL itself, not bound: PostgreSQL must see the same expression
    in SELECT and GROUP BY, and two bind parameters are two expressions to it."""
    return literal_column(str(int(value)))


def period_of(ts: int) -> int:
    """The TGO quarter (Thai time) of a unix time: year * 4 + quarter - 1 (QuarterLib.period)."""
    moment = datetime.fromtimestamp(ts, THAI)
    return moment.year * 4 + (moment.month - 1) // 3


def period_start(period: int) -> int:
    """The first second of a quarter, 00:00 Thai time (QuarterLib.periodStart)."""
    year, q = divmod(period, 4)
    return int(datetime(year, 3 * q + 1, 1, tzinfo=THAI).timestamp())


def year_bounds(year: int) -> tuple[int, int]:
    """The first second of a year and of the next, in Thai time."""
    return period_start(year * 4), period_start(year * 4 + 4)


def month_start(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, THAI)
    return int(datetime(moment.year, moment.month, 1, tzinfo=THAI).timestamp())


# --- the indexer's own state ----------------------------------------------------------------------
@dataclass(frozen=True)
class CursorView:
    """Where the index is: the cursor of each chain and the time of its block."""

    chain_id: int
    block_number: int
    block_hash: str
    block_time: int | None
    updated_at: int


def cursors(db: Session) -> list[CursorView]:
    rows = db.execute(
        select(
            m.Cursor.chain_id,
            m.Cursor.block_number,
            m.Cursor.block_hash,
            m.Cursor.updated_at,
            m.RecentBlock.block_time,
        )
        .outerjoin(
            m.RecentBlock,
            and_(m.RecentBlock.chain_id == m.Cursor.chain_id, m.RecentBlock.block_number == m.Cursor.block_number),
        )
        .order_by(m.Cursor.chain_id)
    ).all()
    return [CursorView(r.chain_id, r.block_number, r.block_hash, r.block_time, r.updated_at) for r in rows]


def chain_now(views: Sequence[CursorView]) -> int:
    """The latest indexed block time (the machine's clock when nothing is indexed yet)."""
    times = [v.block_time for v in views if v.block_time is not None]
    return max(times) if times else int(time.time())


def as_of_block(views: Sequence[CursorView], chain_id: int | None = None) -> int | None:
    picked = [v.block_number for v in views if chain_id is None or v.chain_id == chain_id]
    return max(picked) if picked else None


def paged(db: Session, stmt: AnySelect, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of ``stmt`` (already ordered) and the count of all its rows."""
    count = db.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = db.execute(stmt.limit(limit).offset(offset)).all() if count > offset else []
    return list(rows), int(count)


def current_epoch(db: Session, kind: str) -> int | None:
    return db.execute(select(func.max(m.RootPublication.epoch)).where(m.RootPublication.kind == kind)).scalar()


# --- registry ------------------------------------------------------------------------------------
def project_ids(db: Session, keys: Iterable[str]) -> dict[str, str]:
    wanted = set(keys)
    if not wanted:
        return {}
    rows = db.execute(select(m.Project.project_key, m.Project.project_id).where(m.Project.project_key.in_(wanted)))
    return {k: v for k, v in rows}


def sensor_labels(db: Session, devices: Iterable[str]) -> dict[str, str]:
    """Lowercase device address -> its label in the SensorRegistry, for the indexed ones."""
    wanted = {to_checksum_address(d) for d in devices}
    if not wanted:
        return {}
    rows = db.execute(select(m.Sensor.sensor_id, m.Sensor.label).where(m.Sensor.sensor_id.in_(wanted)))
    return {k.lower(): v for k, v in rows}


def project_totals(db: Session, project_key: str) -> tuple[int, int, int]:
    """(batches, tonnes issued, tonnes retired) of a project."""
    b = m.CreditBatch
    row = db.execute(
        select(
            func.count(),
            func.coalesce(func.sum(b.serial_end - b.serial_start + 1 - b.buffer_credits), 0),
            func.coalesce(func.sum(b.retired), 0),
        ).where(b.project_key == project_key)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


# --- credits ---------------------------------------------------------------------------------------
def batches_select() -> AnySelect:
    b = m.CreditBatch
    return (
        select(b, m.Project.project_id, m.Market.market)
        .outerjoin(m.Project, m.Project.project_key == b.project_key)
        .outerjoin(m.Market, m.Market.credit_batch_id == b.credit_batch_id)
    )


def text_const(value: str) -> Any:
    """A string literal written into the SQL (only ever one of ours, never input)."""
    return literal_column(f"'{value}'")


def provenance_select(batch_id: str) -> AnySelect:
    """Issuance and transfers (credit Transfer events not to zero) and retirements, in chain order."""
    t, r = m.CreditTransfer, m.Retirement
    moves = select(
        case((t.sender == ZERO_ADDRESS, text_const("issuance")), else_=text_const("transfer")).label("kind"),
        t.chain_id, t.block_number, t.log_index, t.tx_hash, t.block_time,
        t.sender.label("sender"), t.receiver.label("receiver"), t.amount.label("tonnes"),
        null().label("serial_first"), null().label("serial_last"),
        null().label("beneficiary"), null().label("purpose"),
    ).where(t.credit_batch_id == batch_id, t.receiver != ZERO_ADDRESS)  # fmt: skip
    retirements = select(
        text_const("retirement").label("kind"),
        r.chain_id, r.block_number, r.log_index, r.tx_hash, r.block_time,
        r.holder.label("sender"), null().label("receiver"), r.quantity.label("tonnes"),
        r.serial_first, r.serial_last, r.beneficiary, r.purpose,
    ).where(r.credit_batch_id == batch_id)  # fmt: skip
    both = union_all(moves, retirements).subquery()
    return select(both).order_by(both.c.chain_id, both.c.block_number, both.c.log_index)


def retirements_select() -> AnySelect:
    r, b = m.Retirement, m.CreditBatch
    return (
        select(r, b.serial_prefix, m.Project.project_id)
        .outerjoin(b, b.credit_batch_id == r.credit_batch_id)
        .outerjoin(m.Project, m.Project.project_key == b.project_key)
    )


def batch_covering(db: Session, prefix: str, serial: int) -> Any:
    """The batch of ``prefix`` whose serial range holds ``serial`` (ranges never overlap)."""
    return db.execute(
        batches_select().where(
            m.CreditBatch.serial_prefix == prefix,
            m.CreditBatch.serial_start <= serial,
            m.CreditBatch.serial_end >= serial,
        )
    ).first()


def retirement_of_serial(db: Session, batch_id: str, serial: int) -> Any:
    r = m.Retirement
    return db.execute(
        retirements_select().where(r.credit_batch_id == batch_id, r.serial_first <= serial, r.serial_last >= serial)
    ).first()


# --- portfolio ---------------------------------------------------------------------------------------
@dataclass
class Holding:
    credit_batch_id: str
    wallet_tonnes: int = 0
    market: int | None = None
    exchange_tonnes: int = 0
    in_open_asks: int = 0


@dataclass
class Portfolio:
    holdings: list[Holding]
    baht_exchange: int
    baht_in_open_bids: int
    open_orders: list[Any]
    open_orders_count: int


def portfolio(db: Session, wallet: str) -> Portfolio:
    """Credits in the wallet and at the exchange, baht at the exchange, and open orders."""
    t, x, tr, o = m.CreditTransfer, m.ExchangeTransfer, m.Trade, m.Order
    holdings: dict[str, Holding] = {}

    def at(batch: str) -> Holding:
        return holdings.setdefault(batch, Holding(batch))

    received = select(t.credit_batch_id, func.sum(t.amount)).where(t.receiver == wallet).group_by(t.credit_batch_id)
    sent = select(t.credit_batch_id, func.sum(t.amount)).where(t.sender == wallet).group_by(t.credit_batch_id)
    for batch, amount in db.execute(received):
        at(batch).wallet_tonnes += int(amount)
    for batch, amount in db.execute(sent):
        at(batch).wallet_tonnes -= int(amount)

    markets = {mk: batch for mk, batch in db.execute(select(m.Market.market, m.Market.credit_batch_id))}
    by_market: dict[int, int] = {}
    moves = (
        select(x.kind, x.market, func.sum(x.amount))
        .where(
            x.account == wallet, x.kind.in_(("credit_deposit", "credit_withdrawal", "baht_deposit", "baht_withdrawal"))
        )
        .group_by(x.kind, x.market)
    )
    baht = 0
    for kind, market, amount in db.execute(moves):
        sign = 1 if kind.endswith("deposit") else -1
        if kind.startswith("baht"):
            baht += sign * int(amount)
        elif market is not None:
            by_market[market] = by_market.get(market, 0) + sign * int(amount)
    bought = (
        select(tr.market, func.sum(tr.quantity), func.sum(tr.price * tr.quantity))
        .where(tr.buyer_id == wallet)
        .group_by(tr.market)
    )
    sold = (
        select(tr.market, func.sum(tr.quantity), func.sum(tr.price * tr.quantity - tr.fee))
        .where(tr.seller_id == wallet)
        .group_by(tr.market)
    )
    for market, tonnes, value in db.execute(bought):
        by_market[market] = by_market.get(market, 0) + int(tonnes)
        baht -= int(value)
    for market, tonnes, proceeds in db.execute(sold):
        by_market[market] = by_market.get(market, 0) - int(tonnes)
        baht += int(proceeds)

    open_rows = db.execute(
        select(o.side, o.market, func.sum(o.remaining), func.sum(o.remaining * o.price))
        .where(o.owner == wallet, o.status == "open")
        .group_by(o.side, o.market)
    ).all()
    in_bids = 0
    asks: dict[int, int] = {}
    for side, market, remaining, escrow in open_rows:
        if side == "ask":
            asks[market] = int(remaining)
        else:
            in_bids += int(escrow)
    for market in set(by_market) | set(asks):
        found = markets.get(market)
        if found is None:
            continue
        h = at(found)
        h.market = market
        h.exchange_tonnes = by_market.get(market, 0)
        h.in_open_asks = asks.get(market, 0)
    for batch, h in holdings.items():
        if h.market is None:
            h.market = next((mk for mk, b in markets.items() if b == batch), None)

    orders_stmt = select(o).where(o.owner == wallet, o.status == "open").order_by(o.placed_block.desc(), o.order_id)
    orders, count = paged(db, orders_stmt, MAX_OPEN_ORDERS, 0)
    kept = [h for h in holdings.values() if h.wallet_tonnes or h.exchange_tonnes or h.in_open_asks]
    kept.sort(key=lambda h: h.credit_batch_id)
    return Portfolio(kept, baht, in_bids, [row[0] for row in orders], count)


def history_select(wallet: str, kind: str | None, start: int | None, end: int | None) -> AnySelect:
    """A participant's trades (as buyer or seller) and retirements, newest first."""
    tr, r = m.Trade, m.Retirement
    parts = []
    if kind in (None, "trade"):
        parts.append(
            select(
                text_const("trade").label("kind"),
                tr.chain_id, tr.block_number, tr.log_index, tr.tx_hash, tr.block_time,
                m.Market.credit_batch_id.label("credit_batch_id"), tr.market.label("market"),
                case((tr.buyer_id == wallet, text_const("buy")), else_=text_const("sell")).label("side"),
                tr.quantity.label("tonnes"), tr.price.label("price"), tr.fee.label("fee"),
                case((tr.buyer_id == wallet, tr.seller_id), else_=tr.buyer_id).label("counterparty"),
                null().label("serial_first"), null().label("serial_last"),
                null().label("beneficiary"), null().label("purpose"),
            )
            .outerjoin(m.Market, m.Market.market == tr.market)
            .where(or_(tr.buyer_id == wallet, tr.seller_id == wallet), *between(tr.block_time, start, end))
        )  # fmt: skip
    if kind in (None, "retirement"):
        parts.append(
            select(
                text_const("retirement").label("kind"),
                r.chain_id, r.block_number, r.log_index, r.tx_hash, r.block_time,
                r.credit_batch_id.label("credit_batch_id"), null().label("market"), null().label("side"),
                r.quantity.label("tonnes"), null().label("price"), null().label("fee"), null().label("counterparty"),
                r.serial_first, r.serial_last, r.beneficiary, r.purpose,
            ).where(r.holder == wallet, *between(r.block_time, start, end))
        )  # fmt: skip
    both = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return select(both).order_by(both.c.block_number.desc(), both.c.log_index.desc(), both.c.chain_id)


def between(column: Any, start: int | None, end: int | None) -> list[Any]:
    out = []
    if start is not None:
        out.append(column >= start)
    if end is not None:
        out.append(column < end)
    return out


# --- exchange ---------------------------------------------------------------------------------------
def markets_select() -> AnySelect:
    b = m.CreditBatch
    return (
        select(m.Market, b.vintage, b.credit_type, m.Project.project_id)
        .outerjoin(b, b.credit_batch_id == m.Market.credit_batch_id)
        .outerjoin(m.Project, m.Project.project_key == b.project_key)
    )


@dataclass(frozen=True)
class Level:
    tick: int
    price: int
    tonnes: int
    orders: int


def book_levels(db: Session, market: int, period: int) -> tuple[list[Level], list[Level]]:
    """(asks lowest first, bids highest first) of a market's period: one grouped query on the
    open orders (index ix_orders_book)."""
    o = m.Order
    rows = db.execute(
        select(o.side, o.tick, func.max(o.price), func.sum(o.remaining), func.count())
        .where(o.market == market, o.status == "open", o.period == period)
        .group_by(o.side, o.tick)
    ).all()
    asks = sorted((Level(t, int(p), int(q), int(n)) for s, t, p, q, n in rows if s == "ask"), key=lambda lv: lv.tick)
    bids = sorted((Level(t, int(p), int(q), int(n)) for s, t, p, q, n in rows if s == "bid"), key=lambda lv: -lv.tick)
    return asks, bids


def trades_select() -> AnySelect:
    tr = m.Trade
    return select(tr, m.Order.period).outerjoin(m.Order, m.Order.order_id == tr.maker_order_id)


@dataclass(frozen=True)
class Candle:
    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    value: int
    trades: int


def candles(db: Session, market: int, interval: int, start: int | None, end: int | None, limit: int) -> list[Candle]:
    """OHLCV per interval, oldest first: the latest ``limit`` intervals with trades in the range.
    Daily candles start at 00:00 Thai time; minutes and hours are the same in UTC and Thai time."""
    tr = m.Trade
    shifted = tr.block_time + const(THAI_OFFSET)
    bucket = (shifted - shifted % const(interval) - const(THAI_OFFSET)).label("bucket")
    seq = tr.block_number * const(1_048_576) + tr.log_index  # chain order within the market
    latest = db.execute(
        select(
            bucket,
            func.max(tr.price),
            func.min(tr.price),
            func.sum(tr.quantity),
            func.sum(tr.price * tr.quantity),
            func.count(),
            func.min(seq),
            func.max(seq),
        )
        .where(tr.market == market, *between(tr.block_time, start, end))
        .group_by(bucket)
        .order_by(bucket.desc())
        .limit(limit)
    ).all()
    groups: list[Any] = list(latest)[::-1]
    if not groups:
        return []
    edges = {int(g[6]) for g in groups} | {int(g[7]) for g in groups}
    found = db.execute(select(seq, tr.price).where(tr.market == market, seq.in_(edges))).all()
    prices = {int(row[0]): int(row[1]) for row in found}
    return [
        Candle(int(b), prices[int(first)], int(hi), int(lo), prices[int(last)], int(q), int(v), int(n))
        for b, hi, lo, q, v, n, first, last in groups
    ]


@dataclass(frozen=True)
class Stats:
    last_price: int | None
    last_time: int | None
    price_24h_ago: int | None
    price_7d_ago: int | None
    volume_24h: int
    value_24h: int
    trades_24h: int
    vwap_7d: int | None
    vwap_30d: int | None


def market_stats(db: Session, market: int, now: int) -> Stats:
    tr = m.Trade
    order = (tr.block_number.desc(), tr.log_index.desc())

    def last_at_or_before(ts: int | None) -> Any:
        stmt = select(tr.price, tr.block_time).where(tr.market == market)
        if ts is not None:
            stmt = stmt.where(tr.block_time <= ts)
        return db.execute(stmt.order_by(*order).limit(1)).first()

    def window(seconds: int) -> tuple[int, int, int]:
        row = db.execute(
            select(
                func.coalesce(func.sum(tr.quantity), 0),
                func.coalesce(func.sum(tr.price * tr.quantity), 0),
                func.count(),
            ).where(tr.market == market, tr.block_time > now - seconds, tr.block_time <= now)
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    last = last_at_or_before(None)
    day_ago, week_ago = last_at_or_before(now - DAY), last_at_or_before(now - 7 * DAY)
    volume, value, count = window(DAY)
    week, month = window(7 * DAY), window(30 * DAY)
    return Stats(
        last_price=None if last is None else int(last.price),
        last_time=None if last is None else int(last.block_time),
        price_24h_ago=None if day_ago is None else int(day_ago.price),
        price_7d_ago=None if week_ago is None else int(week_ago.price),
        volume_24h=volume,
        value_24h=value,
        trades_24h=count,
        vwap_7d=rounded_div(week[1], week[0]) if week[0] else None,
        vwap_30d=rounded_div(month[1], month[0]) if month[0] else None,
    )


def rounded_div(a: int, b: int) -> int:
    """a / b rounded half up (b > 0)."""
    return (2 * a + b) // (2 * b)


# --- data log ---------------------------------------------------------------------------------------
GRADES = ("grade_a", "grade_b", "grade_c", "grade_d", "grade_e", "grade_f")


def emission_filters(participant: str | None, project_key: str | None, flow: str | None) -> list[Any]:
    e = m.EmissionBatch
    out = []
    if participant is not None:
        out.append(e.participant == participant)
    if project_key is not None:
        out.append(e.project_key == project_key)
    if flow is not None:
        out.append(e.flow == flow)
    return out


def emission_days(db: Session, where: list[Any]) -> list[Any]:
    """Per Thai-time day of the batches' period start: kg, batches, readings and grade counts."""
    e = m.EmissionBatch
    shifted = e.period_start + const(THAI_OFFSET)
    day = (shifted - shifted % const(DAY) - const(THAI_OFFSET)).label("day")
    return list(
        db.execute(
            select(
                day,
                func.sum(e.kg_co2e),
                func.count(),
                func.sum(e.reading_count),
                *(func.sum(getattr(e, g)) for g in GRADES),
            )
            .where(*where)
            .group_by(day)
            .order_by(day)
        ).all()
    )


def quality_select(where: list[Any]) -> AnySelect:
    e = m.EmissionBatch
    return (
        select(
            e.participant,
            e.project_key,
            func.count().label("batches"),
            func.sum(e.reading_count).label("readings"),
            func.sum(e.quality_score * e.reading_count).label("score_weight"),
            *(func.sum(getattr(e, g)).label(g) for g in GRADES),
        )
        .where(*where)
        .group_by(e.participant, e.project_key)
        .order_by(e.participant, e.project_key)
    )


def quality_total(db: Session, where: list[Any]) -> Any:
    e = m.EmissionBatch
    return db.execute(
        select(
            func.count().label("batches"),
            func.coalesce(func.sum(e.reading_count), 0).label("readings"),
            func.coalesce(func.sum(e.quality_score * e.reading_count), 0).label("score_weight"),
            *(func.coalesce(func.sum(getattr(e, g)), 0).label(g) for g in GRADES),
        ).where(*where)
    ).one()


# --- settlement -------------------------------------------------------------------------------------
@dataclass
class TradingTerms:
    bought_tonnes: int = 0
    bought: int = 0
    sold_tonnes: int = 0
    sold: int = 0  # after fees
    fees: int = 0


def trading_terms(db: Session, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], TradingTerms]:
    """The billing equation's trading terms per (period, participant): credits bought and sold in
    the quarter, by the maker order's period (a trade's period on the exchange)."""
    keys = set(keys)
    out = {k: TradingTerms() for k in keys}
    if not keys:
        return out
    tr, o = m.Trade, m.Order
    periods = {p for p, _ in keys}
    wallets = {w for _, w in keys}
    for role in ("buyer", "seller"):
        who = tr.buyer_id if role == "buyer" else tr.seller_id
        rows = db.execute(
            select(
                o.period,
                who,
                func.sum(tr.quantity),
                func.sum(tr.price * tr.quantity),
                func.sum(tr.fee),
            )
            .join(o, o.order_id == tr.maker_order_id)
            .where(o.period.in_(periods), who.in_(wallets))
            .group_by(o.period, who)
        ).all()
        for period, wallet, tonnes, value, fee in rows:
            terms = out.get((period, wallet))
            if terms is None:
                continue
            if role == "buyer":
                terms.bought_tonnes, terms.bought = int(tonnes), int(value)
            else:
                terms.sold_tonnes, terms.sold, terms.fees = int(tonnes), int(value) - int(fee), int(fee)
    return out


def settlement_terms(db: Session, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    """The last TermsSet of each (period, sector): terms freeze before anyone is settled."""
    keys = set(keys)
    if not keys:
        return {}
    t = m.SettlementTerms
    rows = db.execute(
        select(t)
        .where(t.period.in_({p for p, _ in keys}), t.sector.in_({s for _, s in keys}))
        .order_by(t.block_number, t.log_index)
    ).scalars()
    return {(r.period, r.sector): r for r in rows if (r.period, r.sector) in keys}


def settlement_payments(db: Session, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    keys = set(keys)
    out: dict[tuple[int, str], dict[str, Any]] = {k: {"paid": 0, "claimed": False, "batch": None} for k in keys}
    if not keys:
        return out
    p = m.SettlementPayment
    rows = db.execute(
        select(p).where(p.period.in_({k[0] for k in keys}), p.participant.in_({k[1] for k in keys}))
    ).scalars()
    for row in rows:
        entry = out.get((row.period, row.participant))
        if entry is None:
            continue
        if row.kind == "debt_paid":
            entry["paid"] += int(row.amount)
        else:
            entry["claimed"], entry["batch"] = True, row.credit_batch_id
    return out


# --- exports ----------------------------------------------------------------------------------------
def cbam_emissions(db: Session, participant: str, year: int) -> list[Any]:
    """Per quarter, project and flow: the participant's verified kg CO2e in a year (Thai time)."""
    e = m.EmissionBatch
    bounds = [period_start(year * 4 + q) for q in range(5)]
    period = case(
        (e.period_start < const(bounds[1]), const(year * 4)),
        (e.period_start < const(bounds[2]), const(year * 4 + 1)),
        (e.period_start < const(bounds[3]), const(year * 4 + 2)),
        else_=const(year * 4 + 3),
    ).label("period")
    return list(
        db.execute(
            select(
                period,
                e.project_key,
                e.flow,
                func.sum(e.kg_co2e),
                func.count(),
                func.sum(e.reading_count),
                *(func.sum(getattr(e, g)) for g in GRADES),
            )
            .where(e.participant == participant, e.period_start >= bounds[0], e.period_start < bounds[4])
            .group_by(period, e.project_key, e.flow)
            .order_by(period, e.project_key, e.flow)
        ).all()
    )
