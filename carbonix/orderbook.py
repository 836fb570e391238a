"""The exchange's order book rebuilt from its events alone (no storage reads).

An order id says where an order rests (see ``IExchange``): market (32 bits) | period (16) |
side (8) | tick (16) | sequence (32). ``OrderPlaced`` adds an order with its resting quantity,
``Traded`` sets the maker's remaining quantity (the low 32 bits of the trade id), and
``OrderClosed`` removes it. The CLI and the indexer both use this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonix.exceptions import CarbonixValueError

ASK, BID = 0, 1
SIDES = {"ask": ASK, "bid": BID}


@dataclass(frozen=True)
class OrderId:
    market: int
    period: int
    side: int
    tick: int
    seq: int

    @classmethod
    def decode(cls, order_id: int) -> OrderId:
        return cls(
            market=(order_id >> 72) & 0xFFFFFFFF,
            period=(order_id >> 56) & 0xFFFF,
            side=(order_id >> 48) & 0xFF,
            tick=(order_id >> 32) & 0xFFFF,
            seq=order_id & 0xFFFFFFFF,
        )

    def encode(self) -> int:
        return self.market << 72 | self.period << 56 | self.side << 48 | self.tick << 32 | self.seq


def period_label(period: int) -> str:
    """``year * 4 + quarter - 1`` as ``2026Q3``."""
    return f"{period // 4}Q{period % 4 + 1}"


def parse_period(text: str) -> int:
    """``2026Q3`` (or ``2026-Q3``) as ``year * 4 + quarter - 1``."""
    cleaned = text.strip().upper().replace("-", "")
    year, sep, quarter = cleaned.partition("Q")
    if not sep or not year.isdigit() or quarter not in {"1", "2", "3", "4"}:
        raise CarbonixValueError(f"{text!r} is not a quarter like 2026Q1")
    return int(year) * 4 + int(quarter) - 1


@dataclass
class RestingOrder:
    order_id: int
    owner: str
    remaining: int

    @property
    def where(self) -> OrderId:
        return OrderId.decode(self.order_id)


@dataclass
class Book:
    """Open orders by id, in the order they were placed."""

    orders: dict[int, RestingOrder] = field(default_factory=dict)

    def apply(self, name: str, args: Mapping[str, Any]) -> None:
        """Applies one exchange event (``OrderPlaced``, ``Traded``, ``OrderClosed``)."""
        if name == "OrderPlaced":
            self.orders[args["orderId"]] = RestingOrder(args["orderId"], args["owner"], args["quantity"])
        elif name == "Traded":
            maker_order, remaining = args["tradeId"] >> 32, args["tradeId"] & 0xFFFFFFFF
            if remaining == 0:
                self.orders.pop(maker_order, None)
            elif maker_order in self.orders:
                self.orders[maker_order].remaining = remaining
        elif name == "OrderClosed":
            self.orders.pop(args["orderId"], None)

    def side(self, market: int, period: int, side: int) -> list[RestingOrder]:
        """The open orders of one book side, best first (price, then time)."""
        chosen = [
            o
            for o in self.orders.values()
            if o.where.market == market and o.where.period == period and o.where.side == side
        ]
        sign = 1 if side == ASK else -1
        return sorted(chosen, key=lambda o: (sign * o.where.tick, o.where.seq))

    def levels(self, market: int, period: int, side: int) -> list[tuple[int, int, int]]:
        """``(tick, tonnes, orders)`` per price level, best first."""
        out: dict[int, list[int]] = {}
        for o in self.side(market, period, side):
            level = out.setdefault(o.where.tick, [0, 0])
            level[0] += o.remaining
            level[1] += 1
        return [(tick, tonnes, count) for tick, (tonnes, count) in out.items()]

    def stale(self, current_period: int) -> list[RestingOrder]:
        """Open orders of closed periods: their escrow can be reclaimed."""
        return [o for o in self.orders.values() if o.where.period < current_period]


def rebuild(events: Iterable[tuple[str, Mapping[str, Any]]]) -> Book:
    """A book from ``(event name, args)`` pairs in chain order."""
    book = Book()
    for name, args in events:
        book.apply(name, args)
    return book
