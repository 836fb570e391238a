"""Markets, the order book, trades, candles and market statistics."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from indexer import models as m
from indexer import queries as q
from indexer.api import convert
from indexer.api import schemas as s
from indexer.api.deps import SessionDep, StateDep
from indexer.api.params import BookQuery, CandlesQuery, MarketTradesQuery, NoQuery, Page, TradesQuery

router = APIRouter()

MarketPath = Annotated[int, Path(ge=1, le=2**32 - 1, description="The market number.")]


@router.get("/markets", response_model=s.MarketsPublic, tags=["exchange"])
def list_markets(db: SessionDep, query: Annotated[Page, Query()]) -> s.MarketsPublic:
    rows, count = q.paged(db, q.markets_select().order_by(m.Market.market), query.limit, query.offset)
    return s.MarketsPublic(data=[convert.market(r) for r in rows], count=count)


def _market(db: Session, market: int) -> Any:
    row = db.execute(q.markets_select().where(m.Market.market == market)).first()
    if row is None:
        raise HTTPException(404, f"no market {market}")
    return row


@router.get("/markets/{market}", response_model=s.MarketPublic, tags=["exchange"])
def get_market(db: SessionDep, market: MarketPath, query: Annotated[NoQuery, Query()]) -> s.MarketPublic:
    return convert.market(_market(db, market))


def _levels(levels: list[q.Level], depth: int) -> list[s.LevelPublic]:
    return [
        s.LevelPublic(tick=lv.tick, price=s.money(lv.price), tonnes=lv.tonnes, orders=lv.orders)
        for lv in levels[:depth]
    ]


def book(
    market: int, period: int, asks: list[q.Level], bids: list[q.Level], depth: int, as_of: int | None
) -> s.BookPublic:
    best_ask = asks[0].price if asks else None
    best_bid = bids[0].price if bids else None
    return s.BookPublic(
        market=market,
        **s.quarter_fields(period),
        as_of_block=as_of,
        best_ask=s.money_or_none(best_ask),
        best_bid=s.money_or_none(best_bid),
        spread=None if best_ask is None or best_bid is None else s.money(best_ask - best_bid),
        asks=_levels(asks, depth),
        bids=_levels(bids, depth),
    )


@router.get("/markets/{market}/book", response_model=s.BookPublic, tags=["exchange"])
async def get_book(state: StateDep, market: MarketPath, query: Annotated[BookQuery, Query()]) -> Response:
    """Depth per price level and side from the open orders of one trading period (default: the
    current one). Computed once per indexer cursor and served from memory until the cursor moves."""
    version, views = await state.index.current()
    period = query.period if query.period is not None else q.period_of(q.chain_now(views))

    def render() -> bytes | None:
        with Session(state.engine) as db:
            if db.get(m.Market, market) is None:
                return None
            asks, bids = q.book_levels(db, market, period)  # type: ignore[arg-type]
        return book(market, period, asks, bids, query.depth, q.as_of_block(views)).model_dump_json().encode()  # type: ignore[arg-type]

    body, hit = await state.books.get(("book", market, period, query.depth), version, render)
    state.metrics.book_cache.labels("hit" if hit else "miss").inc()
    if body is None:
        raise HTTPException(404, f"no market {market}")
    return Response(body, media_type="application/json")


def _trades(db: Session, query: TradesQuery | MarketTradesQuery, market: int | None) -> s.TradesPublic:
    t = m.Trade
    stmt = q.trades_select().order_by(t.block_number.desc(), t.log_index.desc(), t.chain_id)
    stmt = stmt.where(*q.between(t.block_time, query.from_, query.to))
    if market is not None:
        stmt = stmt.where(t.market == market)
    if query.participant is not None:
        stmt = stmt.where((t.buyer_id == query.participant) | (t.seller_id == query.participant))
    if query.period is not None:
        stmt = stmt.where(m.Order.period == query.period)
    rows, count = q.paged(db, stmt, query.limit, query.offset)
    return s.TradesPublic(data=[convert.trade(r) for r in rows], count=count)


@router.get("/trades", response_model=s.TradesPublic, tags=["exchange"])
def list_trades(db: SessionDep, query: Annotated[TradesQuery, Query()]) -> s.TradesPublic:
    """Trades of every market (or one), newest first."""
    return _trades(db, query, query.market)


@router.get("/markets/{market}/trades", response_model=s.TradesPublic, tags=["exchange"])
def list_market_trades(
    db: SessionDep, market: MarketPath, query: Annotated[MarketTradesQuery, Query()]
) -> s.TradesPublic:
    """The market's trades, newest first."""
    _market(db, market)
    return _trades(db, query, market)


@router.get("/markets/{market}/candles", response_model=s.CandlesPublic, tags=["exchange"])
def list_candles(db: SessionDep, market: MarketPath, query: Annotated[CandlesQuery, Query()]) -> s.CandlesPublic:
    """OHLCV candles from the trades: 1m, 1h, or 1d (days start at 00:00 Thai time)."""
    _market(db, market)
    found = q.candles(db, market, q.INTERVALS[query.interval.value], query.from_, query.to, query.limit)
    data = [
        s.CandlePublic(
            start=s.time(c.start),
            open=s.money(c.open),
            high=s.money(c.high),
            low=s.money(c.low),
            close=s.money(c.close),
            volume_tonnes=c.volume,
            value=s.money(c.value),
            vwap=s.money(q.rounded_div(c.value, c.volume)),
            trades=c.trades,
        )
        for c in found
    ]
    return s.CandlesPublic(market=market, interval=query.interval.value, data=data, count=len(data))


def _change(now: int | None, then: int | None) -> s.ChangePublic | None:
    if now is None or then is None or then == 0:
        return None
    percent = (Decimal(now - then) * 100 / Decimal(then)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return s.ChangePublic(reference=s.money(then), absolute=s.money(now - then), percent=str(percent))


@router.get("/markets/{market}/stats", response_model=s.MarketStatsPublic, tags=["exchange"])
def get_stats(db: SessionDep, market: MarketPath, query: Annotated[NoQuery, Query()]) -> s.MarketStatsPublic:
    """Best bid and ask (current period), spread, last price, 24 h and 7 d change, 24 h volume and
    volume-weighted average prices over 7 and 30 days, as of the last indexed block's time."""
    _market(db, market)
    now = q.chain_now(q.cursors(db))
    period = q.period_of(now)
    asks, bids = q.book_levels(db, market, period)
    found = q.market_stats(db, market, now)
    best_ask = asks[0].price if asks else None
    best_bid = bids[0].price if bids else None
    return s.MarketStatsPublic(
        market=market,
        as_of=s.time(now),
        **s.quarter_fields(period),
        best_bid=s.money_or_none(best_bid),
        best_ask=s.money_or_none(best_ask),
        spread=None if best_ask is None or best_bid is None else s.money(best_ask - best_bid),
        last_price=s.money_or_none(found.last_price),
        last_trade_at=s.time_or_none(found.last_time),
        change_24h=_change(found.last_price, found.price_24h_ago),
        change_7d=_change(found.last_price, found.price_7d_ago),
        volume_24h_tonnes=found.volume_24h,
        value_24h=s.money(found.value_24h),
        trades_24h=found.trades_24h,
        average_price_7d=s.money_or_none(found.vwap_7d),
        average_price_30d=s.money_or_none(found.vwap_30d),
    )
