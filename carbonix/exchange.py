"""The exchange from Python: markets, balances, orders, takers, and the book rebuilt from events.

Prices are THB per tonne at the edges (the CLI) and ticks inside: price in satang =
tick * tickSize of the market. Baht amounts are satang (2 decimals) on-chain.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from carbonix import enums
from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.ids import wallet_address
from carbonix.ledger import Ledger
from carbonix.orderbook import ASK, BID, SIDES, Book, OrderId, period_label

# The ERC-20 calls the client makes on a real network's baht token (TestBaht has them too).
ERC20_ABI = [
    {
        "type": "function",
        "name": name,
        "stateMutability": mutability,
        "inputs": [{"name": n, "type": t} for n, t in inputs],
        "outputs": [{"name": "", "type": out}],
    }
    for name, mutability, inputs, out in [
        ("balanceOf", "view", [("owner", "address")], "uint256"),
        ("allowance", "view", [("owner", "address"), ("spender", "address")], "uint256"),
        ("approve", "nonpayable", [("spender", "address"), ("amount", "uint256")], "bool"),
        ("decimals", "view", [], "uint8"),
    ]
]
BOOK_EVENTS = ("OrderPlaced", "Traded", "OrderClosed")
DEFAULT_MAX_FILLS = 32
DEFAULT_DEADLINE_S = 600


def satang(thb: str | Decimal | float | int) -> int:
    """Whole satang of a THB amount; refuses fractions of a satang and negative amounts."""
    try:
        value = Decimal(str(thb))
    except InvalidOperation:
        raise CarbonixValueError(f"{thb!r} is not an amount of baht") from None
    if value < 0 or value.quantize(Decimal("0.01"), rounding=ROUND_DOWN) != value:
        raise CarbonixValueError(f"{thb!r} THB: amounts are non-negative with at most 2 decimals (satang)")
    return int(value * 100)


def thb(satang_amount: int) -> Decimal:
    return Decimal(satang_amount) / 100


@dataclass(frozen=True)
class MarketRules:
    """A market's on-chain parameters (one storage slot): enough to price and place orders."""

    market: int
    tick_size: int
    floor_tick: int
    ceiling_tick: int
    min_quantity: int
    fee_bps: int
    fees_accrued: int

    def tick_of(self, price_thb: str | Decimal | float | int) -> int:
        """The tick of a THB-per-tonne price; it must be a multiple of the tick size."""
        price = satang(price_thb)
        if price % self.tick_size:
            raise CarbonixValueError(
                f"{price_thb} THB/t is not a multiple of market {self.market}'s tick ({thb(self.tick_size)} THB)"
            )
        tick = price // self.tick_size
        if not self.floor_tick <= tick <= self.ceiling_tick:
            raise CarbonixValueError(
                f"{price_thb} THB/t is outside market {self.market}'s band "
                f"{self.price(self.floor_tick)}-{self.price(self.ceiling_tick)} THB/t (R3)"
            )
        return tick

    def price(self, tick: int) -> Decimal:
        return thb(tick * self.tick_size)


@dataclass(frozen=True)
class MarketInfo(MarketRules):
    """A market's rules with what it trades: the batch's project, vintage and types."""

    batch_id: int
    project_id: str
    vintage: int
    credit_type: str
    project_type: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "market": self.market,
            "batch_id": hex(self.batch_id),
            "project_id": self.project_id,
            "vintage": self.vintage,
            "credit_type": self.credit_type,
            "project_type": self.project_type,
            "floor_thb": str(self.price(self.floor_tick)),
            "ceiling_thb": str(self.price(self.ceiling_tick)),
            "tick_thb": str(thb(self.tick_size)),
            "min_tonnes": self.min_quantity,
            "fee_bps": self.fee_bps,
            "fees_accrued_thb": str(thb(self.fees_accrued)),
        }


@dataclass(frozen=True)
class Trade:
    trade_id: int
    market: int
    maker: str
    taker: str
    taker_side: str
    price_satang: int
    quantity: int
    fee_satang: int
    tx_hash: str
    block_number: int

    @property
    def maker_order(self) -> int:
        return self.trade_id >> 32

    @property
    def period(self) -> int:
        """The trading period (quarter) of the maker order, hence of the trade."""
        return OrderId.decode(self.maker_order).period


@dataclass(frozen=True)
class OrderResult:
    order_id: int | None  # the resting order, if any
    filled: int
    trades: list[Trade]
    receipt: TxReceipt


@dataclass(frozen=True)
class Leg:
    market: int
    quantity: int
    limit_tick: int
    max_fills: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.market, self.quantity, self.limit_tick, self.max_fills)


@dataclass(frozen=True)
class PreferencePlan:
    legs: list[Leg]
    tonnes: int
    cost_satang: int
    fills: list[tuple[int, int, int, int]]  # (market, tick, tonnes, order id)


class Exchange:
    """The deployed Exchange, its baht token and the ledger it trades."""

    def __init__(self, ledger: Ledger, contracts: dict[str, Contract]) -> None:
        if "Exchange" not in contracts:
            raise CarbonixLookupError("this deployment has no Exchange: run `carbonix deploy` again")
        self.ledger = ledger
        self.w3 = ledger.w3
        self.contract = contracts["Exchange"]
        address = self.contract.functions.baht().call()
        abi = contracts["TestBaht"].abi if "TestBaht" in contracts else ERC20_ABI
        self.baht = self.w3.eth.contract(address=address, abi=abi)
        self.tx = ledger.tx

    # markets --------------------------------------------------------------------------------
    def list_market(
        self,
        regulator: LocalAccount,
        batch_id: int,
        tick_thb: str | Decimal,
        floor_thb: str | Decimal,
        ceiling_thb: str | Decimal,
        min_tonnes: int,
    ) -> int:
        tick_size = satang(tick_thb)
        if tick_size == 0:
            raise CarbonixValueError("the tick must be at least 0.01 THB")
        floor, ceiling = satang(floor_thb), satang(ceiling_thb)
        if floor % tick_size or ceiling % tick_size:
            raise CarbonixValueError(f"floor and ceiling must be multiples of the tick ({tick_thb} THB)")
        if ceiling // tick_size > 0xFFFF:
            raise CarbonixValueError(
                f"a ceiling of {ceiling_thb} THB/t needs more than 65,535 ticks of {tick_thb} THB: use a larger tick"
            )
        fn = self.contract.functions.listMarket(
            batch_id, tick_size, floor // tick_size, ceiling // tick_size, min_tonnes
        )
        receipt = self.tx.transact(regulator, fn)
        (event,) = self.contract.events.MarketListed().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["market"])

    def set_rules(
        self, regulator: LocalAccount, market: int, floor_thb: str, ceiling_thb: str, min_tonnes: int
    ) -> TxReceipt:
        info = self.rules(market)
        floor, ceiling = satang(floor_thb), satang(ceiling_thb)
        if floor % info.tick_size or ceiling % info.tick_size:
            raise CarbonixValueError(f"floor and ceiling must be multiples of the tick ({thb(info.tick_size)} THB)")
        fn = self.contract.functions.setMarketRules(
            market, floor // info.tick_size, ceiling // info.tick_size, min_tonnes
        )
        return self.tx.transact(regulator, fn)

    def rules(self, market: int) -> MarketRules:
        """A market's parameters, in one call (what placing an order needs)."""
        m = self.contract.functions.market(market).call()
        if not m[5]:
            raise CarbonixLookupError(f"no market {market}")
        return MarketRules(market, m[0], m[1], m[2], m[3], m[4], m[6])

    def market(self, market: int) -> MarketInfo:
        """A market's rules and what it trades (reads the batch and its project too)."""
        rules = self.rules(market)
        batch_id = self.contract.functions.marketBatch(market).call()
        batch = self.ledger.batch(batch_id)
        project_key = self.ledger.registry.functions.projectKeyAt(batch["project_index"]).call()
        project = self.ledger.registry.functions.project(project_key).call()
        return MarketInfo(
            **rules.__dict__,
            batch_id=batch_id,
            project_id=self.ledger.project_id_of(project_key),
            vintage=batch["vintage"],
            credit_type=batch["credit_type"],
            project_type=enums.name("ProjectType", project[2]),
        )

    def markets(self) -> list[MarketInfo]:
        return [self.market(i) for i in range(1, self.contract.functions.marketCount().call() + 1)]

    def market_of(self, batch_id: int) -> int:
        market = int(self.contract.functions.marketOf(batch_id).call())
        if market == 0:
            raise CarbonixLookupError(f"batch {hex(batch_id)} has no market")
        return market

    def current_period(self) -> int:
        return int(self.contract.functions.currentPeriod().call())

    # balances -------------------------------------------------------------------------------
    def faucet(self, account: LocalAccount, amount_satang: int) -> TxReceipt:
        if "faucet" not in {f["name"] for f in self.baht.abi if f.get("type") == "function"}:
            raise CarbonixValueError("the baht token of this network has no faucet (only the local TestBaht does)")
        return self.tx.transact(account, self.baht.functions.faucet(amount_satang))

    def deposit_baht(self, account: LocalAccount, amount_satang: int) -> TxReceipt:
        self._positive(amount_satang, "deposit")
        held = self.baht.functions.balanceOf(account.address).call()
        if held < amount_satang:
            raise CarbonixValueError(f"{account.address} holds {thb(held)} THB, cannot deposit {thb(amount_satang)}")
        if self.baht.functions.allowance(account.address, self.contract.address).call() < amount_satang:
            self.tx.transact(account, self.baht.functions.approve(self.contract.address, amount_satang))
        return self.tx.transact(account, self.contract.functions.depositBaht(amount_satang))

    def withdraw_baht(self, account: LocalAccount, amount_satang: int) -> TxReceipt:
        self._positive(amount_satang, "withdrawal")
        return self.tx.transact(account, self.contract.functions.withdrawBaht(amount_satang))

    def deposit_credits(self, account: LocalAccount, market: int, tonnes: int) -> TxReceipt:
        self._positive(tonnes, "deposit")
        credits = self.ledger.credits
        if not credits.functions.isOperator(account.address, self.contract.address).call():
            self.tx.transact(account, credits.functions.setOperator(self.contract.address, True))
        return self.tx.transact(account, self.contract.functions.depositCredits(market, tonnes))

    def withdraw_credits(self, account: LocalAccount, market: int, tonnes: int) -> TxReceipt:
        self._positive(tonnes, "withdrawal")
        return self.tx.transact(account, self.contract.functions.withdrawCredits(market, tonnes))

    def balances(self, trader: str) -> dict[str, Any]:
        trader = wallet_address(trader)
        out: dict[str, Any] = {
            "trader": trader,
            "baht_thb": str(thb(self.contract.functions.bahtBalance(trader).call())),
            "wallet_baht_thb": str(thb(self.baht.functions.balanceOf(trader).call())),
            "credits": {},
        }
        for m in range(1, self.contract.functions.marketCount().call() + 1):
            tonnes = self.contract.functions.creditBalance(trader, m).call()
            if tonnes:
                out["credits"][str(m)] = tonnes
        return out

    # trading --------------------------------------------------------------------------------
    def place(
        self,
        account: LocalAccount,
        market: int,
        side: str,
        price_thb: str | Decimal,
        tonnes: int,
        max_fills: int = DEFAULT_MAX_FILLS,
        deadline: int | None = None,
    ) -> OrderResult:
        if side not in SIDES:
            raise CarbonixValueError(f"side must be ask or bid, not {side!r}")
        self._positive(tonnes, "order")
        tick = self.rules(market).tick_of(price_thb)
        fn = self.contract.functions.placeOrder(
            market, SIDES[side], tick, tonnes, max_fills, deadline or self._deadline()
        )
        receipt = self.tx.transact(account, fn)
        trades = self._trades(receipt)
        placed = self.contract.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
        order_id = int(placed[0]["args"]["orderId"]) if placed else None
        return OrderResult(order_id, sum(t.quantity for t in trades), trades, receipt)

    def buy(
        self, account: LocalAccount, legs: list[Leg], max_cost_satang: int, deadline: int | None = None
    ) -> OrderResult:
        fn = self.contract.functions.buy(
            [leg.as_tuple() for leg in legs], max_cost_satang, deadline or self._deadline()
        )
        receipt = self.tx.transact(account, fn)
        trades = self._trades(receipt)
        return OrderResult(None, sum(t.quantity for t in trades), trades, receipt)

    def sell(
        self, account: LocalAccount, legs: list[Leg], min_proceeds_satang: int, deadline: int | None = None
    ) -> OrderResult:
        fn = self.contract.functions.sell(
            [leg.as_tuple() for leg in legs], min_proceeds_satang, deadline or self._deadline()
        )
        receipt = self.tx.transact(account, fn)
        trades = self._trades(receipt)
        return OrderResult(None, sum(t.quantity for t in trades), trades, receipt)

    def cancel(self, account: LocalAccount, order_id: int) -> TxReceipt:
        return self.tx.transact(account, self.contract.functions.cancel(order_id))

    def reclaim(self, account: LocalAccount, order_ids: list[int], chunk: int = 200) -> list[TxReceipt]:
        """Returns the escrow of closed-period orders, ``chunk`` orders per transaction."""
        return [
            self.tx.transact(account, self.contract.functions.reclaim(order_ids[i : i + chunk]))
            for i in range(0, len(order_ids), chunk)
        ]

    def sweep_fees(self, account: LocalAccount, markets: list[int]) -> TxReceipt:
        return self.tx.transact(account, self.contract.functions.sweepFees(markets))

    # reading the book -----------------------------------------------------------------------
    def book(self) -> Book:
        """Every open order, rebuilt from the exchange's events."""
        events = []
        for name in BOOK_EVENTS:
            for log in getattr(self.contract.events, name).get_logs(from_block=self.ledger.from_block):
                events.append((log["blockNumber"], log["logIndex"], name, log["args"]))
        events.sort(key=lambda e: (e[0], e[1]))
        book = Book()
        for _, _, name, args in events:
            book.apply(name, args)
        return book

    def trades(self, market: int | None = None) -> list[Trade]:
        filters = {"market": market} if market is not None else None
        logs = self.contract.events.Traded.get_logs(from_block=self.ledger.from_block, argument_filters=filters)
        return [self._trade(log) for log in logs]

    def book_view(self, market: int, depth: int = 10) -> dict[str, Any]:
        info = self.rules(market)
        period = self.current_period()
        book = self.book()

        def side(s: int) -> list[dict[str, Any]]:
            return [
                {"price_thb": str(info.price(tick)), "tonnes": tonnes, "orders": count}
                for tick, tonnes, count in book.levels(market, period, s)[:depth]
            ]

        return {"market": market, "period": period_label(period), "asks": side(ASK), "bids": side(BID)}

    def plan_preference_buy(
        self, credit_type: str | None, project_type: str | None, min_vintage: int, tonnes: int, max_satang: int
    ) -> PreferencePlan:
        """The cheapest asks across every market that matches, up to ``tonnes`` (R4 across markets).

        Raises if the matching asks hold fewer tonnes, or would cost more than ``max_satang``.
        """
        self._positive(tonnes, "purchase")
        matching = {
            m.market: m
            for m in self.markets()
            if m.vintage >= min_vintage
            and (credit_type is None or m.credit_type == credit_type)
            and (project_type is None or m.project_type == project_type)
        }
        if not matching:
            raise CarbonixLookupError("no market matches these preferences")
        period = self.current_period()
        book = self.book()
        asks = [
            (matching[o.where.market].tick_size * o.where.tick, o.where.seq, o)
            for m in matching
            for o in book.side(m, period, ASK)
            if matching[m].floor_tick <= o.where.tick <= matching[m].ceiling_tick
        ]
        asks.sort(key=lambda a: (a[0], a[2].where.market, a[1]))
        left, cost, fills = tonnes, 0, []
        for price, _, o in asks:
            if left == 0:
                break
            take = min(left, o.remaining)
            fills.append((o.where.market, o.where.tick, take, o.order_id))
            left -= take
            cost += take * price
        if left:
            raise CarbonixValueError(
                f"the matching markets offer {tonnes - left:,} t, fewer than the {tonnes:,} t asked for"
            )
        if cost > max_satang:
            raise CarbonixValueError(
                f"the cheapest {tonnes:,} t cost {thb(cost):,} THB, above the limit of {thb(max_satang):,} THB"
            )
        legs: dict[int, list[int]] = {}
        for market, tick, take, _ in fills:
            leg = legs.setdefault(market, [0, 0, 0])
            leg[0] += take
            leg[1] = max(leg[1], tick)
            leg[2] += 1
        return PreferencePlan(
            legs=[Leg(m, q, t, n) for m, (q, t, n) in legs.items()], tonnes=tonnes, cost_satang=cost, fills=fills
        )

    # internals ------------------------------------------------------------------------------
    def _trades(self, receipt: TxReceipt) -> list[Trade]:
        return [self._trade(log) for log in self.contract.events.Traded().process_receipt(receipt, errors=DISCARD)]

    def _trade(self, log: Any) -> Trade:
        a = log["args"]
        return Trade(
            trade_id=a["tradeId"],
            market=a["market"],
            maker=a["maker"],
            taker=a["taker"],
            taker_side="bid" if a["takerSide"] == BID else "ask",
            price_satang=a["price"],
            quantity=a["quantity"],
            fee_satang=a["fee"],
            tx_hash=log["transactionHash"].to_0x_hex(),
            block_number=log["blockNumber"],
        )

    def _deadline(self) -> int:
        latest = int(self.w3.eth.get_block("latest")["timestamp"])
        return max(latest, int(time.time())) + DEFAULT_DEADLINE_S

    @staticmethod
    def _positive(amount: int, what: str) -> None:
        if amount <= 0:
            raise CarbonixValueError(f"a {what} must be a positive amount, not {amount}")


def describe_order(order_id: int) -> dict[str, Any]:
    where = OrderId.decode(order_id)
    return {
        "order_id": hex(order_id),
        "market": where.market,
        "period": period_label(where.period),
        "side": "ask" if where.side == ASK else "bid",
        "tick": where.tick,
        "seq": where.seq,
    }
