"""carbonix market: list markets, move balances, place and cancel orders, take, read the book."""

from __future__ import annotations

from typing import Any

import typer

from carbonix import enums
from carbonix.context import account, open_exchange
from carbonix.exceptions import CarbonixValueError
from carbonix.exchange import OrderResult, describe_order, satang, thb
from carbonix.orderbook import period_label
from cli.commands._common import console, handle_errors, print_json, progress, tx_line

app = typer.Typer(no_args_is_help=True, help="The order book (R3 floor, R4 cheapest first, R5 partial fills, R7).")

AS = typer.Option(..., "--as", help="Trading account (a verified participant).")


def _order_lines(result: OrderResult, as_json: bool) -> None:
    trades = [
        {
            "trade_id": hex(t.trade_id),
            "maker": t.maker,
            "price_thb": str(thb(t.price_satang)),
            "tonnes": t.quantity,
            "fee_thb": str(thb(t.fee_satang)),
        }
        for t in result.trades
    ]
    if as_json:
        print_json(
            {
                "order": describe_order(result.order_id) if result.order_id else None,
                "filled": result.filled,
                "trades": trades,
                "tx_hash": result.receipt["transactionHash"].to_0x_hex(),
                "gas_used": result.receipt["gasUsed"],
            }
        )
        return
    for t in trades:
        console.print(
            f"  traded {t['tonnes']:,} t at {t['price_thb']} THB/t with {t['maker']} (fee {t['fee_thb']} THB)"
        )
    resting = f", order {hex(result.order_id)} rests" if result.order_id else ""
    tx_line(f"filled {result.filled:,} t{resting}", result.receipt)


@app.command("list")
@handle_errors
def list_markets(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every market with its batch, band (R3), minimum and fee."""
    ex = open_exchange()
    markets = [m.as_dict() for m in ex.markets()]
    if as_json:
        print_json(markets)
        return
    for m in markets:
        console.print(
            f"market {m['market']}: {m['project_id']} {m['credit_type']} {m['project_type']} vintage {m['vintage']}, "
            f"band {m['floor_thb']}-{m['ceiling_thb']} THB/t, min {m['min_tonnes']} t, fee {m['fee_bps']} bps"
        )


@app.command("open")
@handle_errors
def open_market(
    batch_id: str = typer.Argument(..., help="Credit batch (token) id."),
    floor: str = typer.Option(..., "--floor", help="Floor price, THB per tonne (R3)."),
    ceiling: str = typer.Option(..., "--ceiling", help="Ceiling price, THB per tonne."),
    tick: str = typer.Option("1", "--tick", help="Price step, THB."),
    min_tonnes: int = typer.Option(1, "--min-tonnes", help="Minimum resting order size."),
    who: str = typer.Option("regulator", "--as", help="Regulator account."),
) -> None:
    """List a market for a credit batch (regulator)."""
    market = open_exchange().list_market(account(who), int(batch_id, 0), tick, floor, ceiling, min_tonnes)
    console.print(f"[green]✓[/] market {market} open for batch {batch_id}")


@app.command("faucet")
@handle_errors
def faucet(amount: str = typer.Option(..., "--thb", help="Test baht to mint."), who: str = AS) -> None:
    """Mint test baht (local chains only)."""
    tx_line(f"minted {amount} test THB", open_exchange().faucet(account(who), satang(amount)))


@app.command("deposit")
@handle_errors
def deposit(
    who: str = AS,
    baht: str = typer.Option(None, "--thb", help="Baht to deposit."),
    market: int = typer.Option(None, "--market", help="Market whose credits to deposit."),
    tonnes: int = typer.Option(None, "--tonnes", help="Tonnes to deposit."),
) -> None:
    """Move baht or credits from the wallet into the exchange (approvals are sent when needed)."""
    ex, acct = open_exchange(), account(who)
    if baht is None and tonnes is None:
        raise CarbonixValueError("give --thb, or --market with --tonnes")
    if baht is not None:
        tx_line(f"deposited {baht} THB", ex.deposit_baht(acct, satang(baht)))
    if tonnes is not None:
        if market is None:
            raise CarbonixValueError("--tonnes needs --market")
        tx_line(f"deposited {tonnes:,} t into market {market}", ex.deposit_credits(acct, market, tonnes))


@app.command("withdraw")
@handle_errors
def withdraw(
    who: str = AS,
    baht: str = typer.Option(None, "--thb", help="Baht to withdraw."),
    market: int = typer.Option(None, "--market", help="Market whose credits to withdraw."),
    tonnes: int = typer.Option(None, "--tonnes", help="Tonnes to withdraw."),
) -> None:
    """Move baht or credits from the exchange back to the wallet."""
    ex, acct = open_exchange(), account(who)
    if baht is None and tonnes is None:
        raise CarbonixValueError("give --thb, or --market with --tonnes")
    if baht is not None:
        tx_line(f"withdrew {baht} THB", ex.withdraw_baht(acct, satang(baht)))
    if tonnes is not None:
        if market is None:
            raise CarbonixValueError("--tonnes needs --market")
        tx_line(f"withdrew {tonnes:,} t from market {market}", ex.withdraw_credits(acct, market, tonnes))


@app.command("balance")
@handle_errors
def balance(wallet: str = typer.Argument(..., help="Trader wallet.")) -> None:
    """Exchange balances of a trader (free baht and tonnes per market)."""
    print_json(open_exchange().balances(wallet))


def _place(side: str, market: int, price: str, tonnes: int, who: str, max_fills: int, as_json: bool) -> None:
    result = open_exchange().place(account(who), market, side, price, tonnes, max_fills)
    _order_lines(result, as_json)


@app.command("ask")
@handle_errors
def ask(
    market: int = typer.Argument(..., help="Market number."),
    price: str = typer.Option(..., "--price", help="Limit price, THB per tonne."),
    tonnes: int = typer.Option(..., "--tonnes", help="Tonnes to sell."),
    who: str = AS,
    max_fills: int = typer.Option(32, "--max-fills", help="Fills at most, against bids at or above the price."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Sell at a limit price: fills against bids, the rest rests as an ask (escrowed tonnes)."""
    _place("ask", market, price, tonnes, who, max_fills, as_json)


@app.command("bid")
@handle_errors
def bid(
    market: int = typer.Argument(..., help="Market number."),
    price: str = typer.Option(..., "--price", help="Limit price, THB per tonne."),
    tonnes: int = typer.Option(..., "--tonnes", help="Tonnes to buy."),
    who: str = AS,
    max_fills: int = typer.Option(32, "--max-fills", help="Fills at most, against asks at or below the price."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Buy at a limit price: fills against asks, the rest rests as a bid (escrowed baht)."""
    _place("bid", market, price, tonnes, who, max_fills, as_json)


@app.command("buy")
@handle_errors
def buy(
    tonnes: int = typer.Option(..., "--tonnes", help="Tonnes to buy."),
    max_thb: str = typer.Option(..., "--max-thb", help="Total cost limit, THB: the transaction reverts above it."),
    credit_type: str = typer.Option(None, "--credit-type", help="|".join(enums.members("CreditType"))),
    project_type: str = typer.Option(None, "--type", help="Project type: " + "|".join(enums.members("ProjectType"))),
    min_vintage: int = typer.Option(0, "--min-vintage", help="Oldest vintage accepted."),
    who: str = AS,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Buy by preference: the cheapest asks across every matching market, in one transaction."""
    for value, kind in ((credit_type, "CreditType"), (project_type, "ProjectType")):
        if value is not None and value not in enums.members(kind):
            raise CarbonixValueError(f"{value!r} is not one of {', '.join(enums.members(kind))}")
    ex = open_exchange()
    with progress("finding the cheapest asks"):
        plan = ex.plan_preference_buy(credit_type, project_type, min_vintage, tonnes, satang(max_thb))
    console.print(
        f"  plan: {plan.tonnes:,} t for {thb(plan.cost_satang):,} THB from "
        f"{len(plan.fills)} asks in market(s) {', '.join(str(leg.market) for leg in plan.legs)}"
    )
    _order_lines(ex.buy(account(who), plan.legs, satang(max_thb)), as_json)


@app.command("cancel")
@handle_errors
def cancel(order_id: str = typer.Argument(..., help="Order id (hex)."), who: str = AS) -> None:
    """Cancel a resting order; its escrow returns to the exchange balance."""
    tx_line(f"cancelled {order_id}", open_exchange().cancel(account(who), int(order_id, 0)))


@app.command("reclaim")
@handle_errors
def reclaim(who: str = typer.Option("regulator", "--as", help="Any account: reclaiming is permissionless.")) -> None:
    """Return the escrow of every order of a closed period to its owner (R7), in batches."""
    ex = open_exchange()
    stale = [o.order_id for o in ex.book().stale(ex.current_period())]
    if not stale:
        console.print("no open orders from closed periods")
        return
    with progress(f"reclaiming {len(stale):,} orders"):
        receipts = ex.reclaim(account(who), stale)
    for receipt in receipts:
        tx_line("reclaimed a batch of orders", receipt)


@app.command("book")
@handle_errors
def book(
    market: int = typer.Argument(..., help="Market number."),
    depth: int = typer.Option(10, "--depth", help="Price levels per side."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The current period's book of a market, rebuilt from events."""
    view = open_exchange().book_view(market, depth)
    if as_json:
        print_json(view)
        return
    console.print(f"market {market}, period {view['period']}")
    for label in ("asks", "bids"):
        levels: list[dict[str, Any]] = view[label]
        rows = ", ".join(f"{lv['tonnes']:,} t @ {lv['price_thb']}" for lv in levels) or "none"
        console.print(f"  {label}: {rows}")


@app.command("trades")
@handle_errors
def trades(
    market: int = typer.Option(None, "--market", help="Only this market."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every trade (R10), from the Traded events."""
    out = [
        {
            "trade_id": hex(t.trade_id),
            "market": t.market,
            "period": period_label(t.period),
            "maker": t.maker,
            "taker": t.taker,
            "taker_side": t.taker_side,
            "price_thb": str(thb(t.price_satang)),
            "tonnes": t.quantity,
            "fee_thb": str(thb(t.fee_satang)),
            "tx_hash": t.tx_hash,
        }
        for t in open_exchange().trades(market)
    ]
    if as_json:
        print_json(out)
        return
    for t in out:
        console.print(
            f"{t['period']} market {t['market']}: {t['tonnes']:,} t @ {t['price_thb']} THB/t, "
            f"{t['taker_side']} taker {t['taker']}, maker {t['maker']}"
        )
