"""Differential test of the exchange's matching: a short, obviously correct Python matcher and the
contract receive the same random order sequences (hypothesis) and must produce the same fills.

One market (forest-2024: tick 1 THB, band 100-2000 THB, minimum 10 t, fee 45 bps), traders 4-7
from the ``world`` of test_exchange. Asks and sells come from the credit holders 5 and 6; bids and
buys from anyone. Prices sit in a narrow range of ticks (290-310) so that orders cross often; a
cancel picks one of the orders resting at that moment (its owner cancels it), or does nothing if
the book is empty. The fixture deposits enough that every generated operation must succeed.
Hand-written corner sequences run before the generated ones, so that price-time priority, partial
maker fills, the maxFills cap, remainders below the minimum and self-trades are covered every run.

After every operation the fills must agree (maker order, maker, price, tonnes, fee); at the end of
each sequence the resting book (per side, in priority order), every trader's internal baht and
credit balance and the fees the market accrued must agree too. Each sequence runs between an
evm_snapshot and an evm_revert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_exchange import World, world  # noqa: F401  (module fixture: verified traders, three markets)

from carbonix.deployments import Deployment
from carbonix.exchange import Leg, Trade, satang
from carbonix.orderbook import ASK, BID, OrderId

MARKET = "forest-2024"
TRADERS = (4, 5, 6, 7)
SELLERS = (5, 6)  # they hold forest-2024 credits in the exchange
LOW_TICK, HIGH_TICK = 290, 310
MAX_TONNES = 200
MAX_FILLS = 5
MAX_OPS = 12
EXTRA_BAHT = satang("500000")  # each trader's wallet keeps this much after the world's deposit
ZERO_ADDRESS = "0x" + "00" * 20
SELLER_CREDITS = 5_000  # forest-2024 tonnes trader 6 gets from trader 5 and deposits

# --- the reference matcher ------------------------------------------------------------------------


@dataclass
class Resting:
    ref: int  # arrival number: later orders have larger numbers
    side: int  # ASK or BID
    tick: int
    owner: int
    remaining: int


class Fill(NamedTuple):
    maker_ref: int
    maker: int
    price: int  # satang per tonne
    tonnes: int
    fee: int  # satang, paid by the seller


@dataclass
class Reference:
    """A list of resting orders, matched by a linear scan. Balances are changes, not totals."""

    tick_size: int
    min_quantity: int
    fee_bps: int
    book: list[Resting] = field(default_factory=list)
    baht: Counter[int] = field(default_factory=Counter)
    credits: Counter[int] = field(default_factory=Counter)
    fees: int = 0
    arrivals: int = 0

    def best(self, taker_side: int, limit: int) -> Resting | None:
        """The best resting order the taker may fill: lowest ask at or below a bid's limit, highest
        bid at or above an ask's limit; the earliest arrival among equal prices."""
        if taker_side == BID:
            asks = [o for o in self.book if o.side == ASK and o.tick <= limit]
            return min(asks, key=lambda o: (o.tick, o.ref), default=None)
        bids = [o for o in self.book if o.side == BID and o.tick >= limit]
        return min(bids, key=lambda o: (-o.tick, o.ref), default=None)

    def take(self, taker: int, side: int, limit: int, tonnes: int, max_fills: int) -> tuple[list[Fill], int]:
        """Fills the taker against the book; returns the fills and the tonnes left over."""
        fills: list[Fill] = []
        while tonnes > 0 and len(fills) < max_fills:
            maker = self.best(side, limit)
            if maker is None:
                break
            quantity = min(tonnes, maker.remaining)
            price = maker.tick * self.tick_size
            value = quantity * price
            fee = value * self.fee_bps // 10_000
            if side == BID:  # the taker buys: it pays now; the maker's tonnes were escrowed
                self.baht[taker] -= value
                self.credits[taker] += quantity
                self.baht[maker.owner] += value - fee
            else:  # the taker sells: it delivers now; the maker's baht were escrowed
                self.credits[taker] -= quantity
                self.baht[taker] += value - fee
                self.credits[maker.owner] += quantity
            self.fees += fee
            fills.append(Fill(maker.ref, maker.owner, price, quantity, fee))
            tonnes -= quantity
            maker.remaining -= quantity
            if maker.remaining == 0:
                self.book.remove(maker)
        return fills, tonnes

    def place(self, owner: int, side: int, tick: int, tonnes: int, max_fills: int) -> tuple[list[Fill], int | None]:
        """A limit order: fills, then rests the remainder (escrowed) if it meets the minimum."""
        fills, left = self.take(owner, side, tick, tonnes, max_fills)
        if left < self.min_quantity:
            return fills, None
        self.arrivals += 1
        self.book.append(Resting(self.arrivals, side, tick, owner, left))
        if side == ASK:
            self.credits[owner] -= left
        else:
            self.baht[owner] -= left * tick * self.tick_size
        return fills, self.arrivals

    def cancel(self, ref: int) -> None:
        (order,) = [o for o in self.book if o.ref == ref]
        self.book.remove(order)
        if order.side == ASK:
            self.credits[order.owner] += order.remaining
        else:
            self.baht[order.owner] += order.remaining * order.tick * self.tick_size

    def side(self, side: int) -> list[tuple[int, int, int, int]]:
        """(ref, tick, owner, remaining) of one side, best first."""
        sign = 1 if side == ASK else -1
        ordered = sorted((o for o in self.book if o.side == side), key=lambda o: (sign * o.tick, o.ref))
        return [(o.ref, o.tick, o.owner, o.remaining) for o in ordered]


# --- the operations -------------------------------------------------------------------------------


class Place(NamedTuple):
    trader: int
    side: str  # "ask" or "bid"
    tick: int
    tonnes: int
    max_fills: int


class Take(NamedTuple):
    trader: int
    side: str  # "buy" or "sell": Exchange.buy / Exchange.sell with one leg
    tick: int  # the leg's limit
    tonnes: int
    max_fills: int


class Cancel(NamedTuple):
    pick: int  # index (modulo their number) into the resting orders, oldest first; no-op if none


MID_TICK = (LOW_TICK + HIGH_TICK) // 2
ticks = st.integers(LOW_TICK, HIGH_TICK)
tonnes = st.one_of(st.integers(1, 30), st.integers(1, MAX_TONNES))  # small makers, sizes below the minimum of 10
max_fills = st.integers(1, MAX_FILLS)
by_kind = {
    "ask": st.builds(Place, st.sampled_from(SELLERS), st.just("ask"), ticks, tonnes, max_fills),
    "bid": st.builds(Place, st.sampled_from(TRADERS), st.just("bid"), ticks, tonnes, max_fills),
    # Takers' limits lean into the book (buy at 300-310, sell at 290-300) so that they fill often.
    "buy": st.builds(
        Take, st.sampled_from(TRADERS), st.just("buy"), st.integers(MID_TICK, HIGH_TICK), tonnes, max_fills
    ),
    "sell": st.builds(
        Take, st.sampled_from(SELLERS), st.just("sell"), st.integers(LOW_TICK, MID_TICK), tonnes, max_fills
    ),
    "cancel": st.builds(Cancel, st.integers(0, MAX_OPS - 1)),
}
# Limit orders three times as often as each other kind, so that the takers find a book.
operations = st.sampled_from(["ask"] * 3 + ["bid"] * 3 + ["buy", "sell", "cancel"]).flatmap(by_kind.__getitem__)
sequences = st.lists(operations, min_size=1, max_size=MAX_OPS)

# Hand-written sequences run before the generated ones: the corners must be covered every time.
CORNERS = [
    [  # price-time priority, partial maker fill keeps its place, maxFills cap, remainder below minimum
        Place(5, "ask", 300, 100, 1),
        Place(6, "ask", 300, 50, 1),
        Place(5, "ask", 295, 20, 1),
        Place(4, "bid", 300, 145, 2),  # 20 @295, 100 @300, capped at 2 fills: 25 rest at 300 (book crossed)
        Place(7, "bid", 301, 55, 5),  # 50 from trader 6's ask, 5 below the minimum do not rest
        Place(5, "ask", 290, 30, 5),  # sells into trader 4's resting bid, 25 fill, 5 dropped
    ],
    [  # bids at several ticks, a sell through them, cancels of partly filled and untouched orders
        Place(4, "bid", 305, 40, 1),
        Place(7, "bid", 305, 40, 1),
        Place(6, "bid", 299, 60, 1),
        Take(6, "sell", 299, 100, 5),  # 40 + 40 @305, 20 @299
        Cancel(0),  # trader 6's partly filled bid
        Place(5, "ask", 310, 10, 1),  # exactly the minimum rests
        Place(5, "bid", 310, 10, 1),  # self-trade against its own ask
        Place(6, "ask", 308, 200, 3),
        Take(4, "buy", 309, 9, 1),
        Cancel(0),
    ],
    [  # a seller's sell fills its own resting bid: the tonnes come back to it (Exchange.sell once lost them)
        Place(6, "bid", 300, 10, 1),
        Take(6, "sell", 300, 10, 1),
    ],
]


# --- the test -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dw(world: World) -> World:  # noqa: F811
    """The world with enough in the exchange that every generated operation must succeed."""
    ex, m = world.ex, world.markets[MARKET]
    info = ex.market(m)
    assert (info.tick_size, info.min_quantity, info.fee_bps) == (100, 10, 45)
    assert info.floor_tick <= LOW_TICK <= HIGH_TICK <= info.ceiling_tick
    for i in TRADERS:
        ex.deposit_baht(world.acct[i], EXTRA_BAHT)
    ex.ledger.transfer(world.acct[5], world.acct[6].address, world.batches[MARKET], SELLER_CREDITS)
    ex.deposit_credits(world.acct[6], m, SELLER_CREDITS)
    # Worst cases: one trader spends on every operation, one seller delivers on every operation.
    for i in TRADERS:
        assert ex.contract.functions.bahtBalance(world.acct[i].address).call() >= (
            MAX_OPS * MAX_TONNES * HIGH_TICK * info.tick_size
        )
    for i in SELLERS:
        assert ex.contract.functions.creditBalance(world.acct[i].address, m).call() >= MAX_OPS * MAX_TONNES
    return world


@pytest.fixture
def stats() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()
    yield counts
    print(f"\ndifferential exchange test: {dict(sorted(counts.items()))}")


def run_sequence(w: World, ops: list[Place | Take | Cancel], stats: Counter[str]) -> None:
    """Runs ``ops`` through the contract (via the client) and the reference, comparing as it goes."""
    ex, m = w.ex, w.markets[MARKET]
    info = ex.market(m)
    index = {w.acct[i].address: i for i in TRADERS}
    c = ex.contract.functions

    def balances() -> dict[int, tuple[int, int]]:
        return {
            i: (c.bahtBalance(w.acct[i].address).call(), c.creditBalance(w.acct[i].address, m).call()) for i in TRADERS
        }

    ref = Reference(info.tick_size, info.min_quantity, info.fee_bps)
    ids: dict[int, int] = {}  # contract order id -> reference id
    period = ex.current_period()
    start, fees_start = balances(), info.fees_accrued

    def fills_of(trades: list[Trade], taker: int, taker_side: str) -> list[Fill]:
        for t in trades:
            assert (t.market, t.taker, t.taker_side) == (m, w.acct[taker].address, taker_side)
        return [
            Fill(ids.get(t.maker_order, t.maker_order), index[t.maker], t.price_satang, t.quantity, t.fee_satang)
            for t in trades
        ]

    for step, op in enumerate(ops):
        where = f"operation {step}: {op}"
        if isinstance(op, Place):
            side = ASK if op.side == "ask" else BID
            result = ex.place(w.acct[op.trader], m, op.side, str(op.tick), op.tonnes, op.max_fills)
            expected, rested = ref.place(op.trader, side, op.tick, op.tonnes, op.max_fills)
            assert fills_of(result.trades, op.trader, op.side) == expected, where
            assert result.filled == sum(f.tonnes for f in expected), where
            assert (result.order_id is None) == (rested is None), where
            if result.order_id is not None and rested is not None:
                placed = OrderId.decode(result.order_id)
                assert (placed.market, placed.period, placed.side, placed.tick) == (m, period, side, op.tick), where
                ids[result.order_id] = rested
                stats["rested"] += 1
            elif result.filled < op.tonnes:
                stats["remainder below minimum dropped"] += 1
            stats["fills"] += len(expected)
            stats["maxFills cap reached"] += len(expected) == op.max_fills and result.filled < op.tonnes
        elif isinstance(op, Take):
            side = BID if op.side == "buy" else ASK
            leg = [Leg(m, op.tonnes, op.tick, op.max_fills)]
            if side == BID:
                result = ex.buy(w.acct[op.trader], leg, op.tonnes * op.tick * info.tick_size)
            else:
                result = ex.sell(w.acct[op.trader], leg, 0)
            expected, _ = ref.take(op.trader, side, op.tick, op.tonnes, op.max_fills)
            assert fills_of(result.trades, op.trader, "bid" if side == BID else "ask") == expected, where
            assert result.filled == sum(f.tonnes for f in expected), where
            assert result.order_id is None, where
            stats["fills"] += len(expected)
            stats["maxFills cap reached"] += len(expected) == op.max_fills and result.filled < op.tonnes
        else:
            resting = sorted(ref.book, key=lambda o: o.ref)
            if not resting:
                stats["cancels skipped (empty book)"] += 1
                continue
            order = resting[op.pick % len(resting)]
            (order_id,) = [cid for cid, r in ids.items() if r == order.ref]
            ex.cancel(w.acct[order.owner], order_id)
            ref.cancel(order.ref)
            assert c.order(order_id).call()[0] == ZERO_ADDRESS, where
            stats["cancels"] += 1
        stats["operations"] += 1

    # The reference itself conserves baht and tonnes (escrow and fees included).
    escrow = sum(o.remaining * o.tick * ref.tick_size for o in ref.book if o.side == BID)
    assert sum(ref.baht.values()) + escrow + ref.fees == 0
    assert sum(ref.credits.values()) + sum(o.remaining for o in ref.book if o.side == ASK) == 0

    book = ex.book()
    for side in (ASK, BID):
        got = [
            (ids.get(o.order_id, o.order_id), o.where.tick, index[o.owner], o.remaining)
            for o in book.side(m, period, side)
        ]
        assert got == ref.side(side), f"{'asks' if side == ASK else 'bids'} after {ops}"
        for o in book.side(m, period, side):  # the events and the storage agree
            owner, remaining, _, _ = c.order(o.order_id).call()
            assert (owner, remaining) == (o.owner, o.remaining)
        assert tuple(c.bestTick(m, side).call()) == ((True, got[0][1]) if got else (False, 0))
    end = balances()
    for i in TRADERS:
        delta = (end[i][0] - start[i][0], end[i][1] - start[i][1])
        assert delta == (ref.baht[i], ref.credits[i]), f"baht and tonnes of trader {i} after {ops}"
    assert ex.market(m).fees_accrued - fees_start == ref.fees
    stats["examples"] += 1
    stats["resting at end"] += len(ref.book)


@contextmanager
def reverted(deployment: Deployment) -> Iterator[None]:
    snapshot = deployment.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield
    finally:
        deployment.w3.provider.make_request("evm_revert", [snapshot])


def test_contract_fills_like_the_reference_matcher(dw: World, deployment: Deployment, stats: Counter[str]) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(sequences)
    @example(CORNERS[0])
    @example(CORNERS[1])
    @example(CORNERS[2])
    def differential(ops: list[Place | Take | Cancel]) -> None:
        with reverted(deployment):
            run_sequence(dw, ops, stats)

    differential()
    # The sequences must have exercised the matcher, not just rested orders side by side.
    for key in ("fills", "rested", "cancels", "remainder below minimum dropped", "maxFills cap reached"):
        assert stats[key] > 0, (key, stats)
