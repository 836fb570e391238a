"""carbonix settle: quarterly settlement, statements, debts and allowance claims (Algorithm 1, 1-14)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import typer

from carbonix.context import account, open_exchange, open_settlement
from carbonix.exceptions import CarbonixLookupError
from carbonix.exchange import satang, thb
from carbonix.orderbook import parse_period
from cli.commands._common import console, handle_errors, print_json, progress, tx_line

app = typer.Typer(no_args_is_help=True, help="Quarterly cap-and-trade settlement (R7).")

QUARTER = typer.Option(..., "--quarter", help="TGO quarter, e.g. 2026Q1.")


@app.command("run")
@handle_errors
def run(
    quarter: str = QUARTER,
    who: str = typer.Option("regulator", "--as", help="Any account: settlement is permissionless."),
) -> None:
    """Settle every registered participant of the quarter not yet settled, in batches."""
    settlement = open_settlement()
    period = parse_period(quarter)
    wallets = settlement.unsettled(period)
    with progress(f"settling {len(wallets)} participants"):
        receipts = settlement.settle(account(who), period, wallets)
    for receipt in receipts:
        tx_line(f"settled a batch of {quarter}", receipt)


def _trading_terms(period: int) -> dict[str, dict[str, Any]]:
    """Per participant: tonnes and baht bought and sold in the quarter (the billing equation's
    CS_i and CB_i trading terms), from the exchange's Traded events."""
    try:
        ex = open_exchange()
    except CarbonixLookupError:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for t in ex.trades():
        if t.period != period:
            continue
        buyer, seller = (t.taker, t.maker) if t.taker_side == "bid" else (t.maker, t.taker)
        value = t.price_satang * t.quantity
        for wallet, key, amount in ((buyer, "bought", value), (seller, "sold", value - t.fee_satang)):
            row = out.setdefault(wallet, {"bought_t": 0, "bought_thb": Decimal(0), "sold_t": 0, "sold_thb": Decimal(0)})
            row[f"{key}_t"] += t.quantity
            row[f"{key}_thb"] += thb(amount)
    return out


@app.command("show")
@handle_errors
def show(quarter: str = QUARTER, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each participant's statement: emissions, cap, compliance retirements, charges, allowance, trades."""
    period = parse_period(quarter)
    statements = open_settlement().statements(period)
    trading = _trading_terms(period)
    for s in statements:
        s["trading"] = {k: str(v) for k, v in trading.get(s["participant"], {}).items()}
    if as_json:
        print_json(statements)
        return
    for s in statements:
        console.print(
            f"{s['participant']} ({s['sector']}): E {s['emissions_t']} t, R {s['removals_t']} t, cap "
            f"{s['cap_t']} t, CB {s['compliance_retired_t']} t -> surcharge {s['surcharge_thb']} THB, "
            f"allowance {s['allowance_t']} t, {s['classification'].replace('_', ' ')}"
        )


@app.command("pay")
@handle_errors
def pay(
    quarter: str = QUARTER,
    participant: str = typer.Option(..., "--participant", help="Whose debt."),
    amount: str = typer.Option(..., "--thb", help="Baht to pay."),
    who: str = typer.Option(..., "--as", help="Paying account."),
) -> None:
    """Pay a settlement debt in baht (to the treasury)."""
    settlement = open_settlement()
    ex = open_exchange()
    receipt = settlement.pay_debt(account(who), parse_period(quarter), participant, satang(amount), ex.baht)
    tx_line(f"paid {amount} THB of {participant}'s {quarter} debt", receipt)


@app.command("claim")
@handle_errors
def claim(quarter: str = QUARTER, who: str = typer.Option(..., "--as", help="The participant.")) -> None:
    """Mint the allowance credits earned under the cap (an Allowance batch)."""
    batch_id, receipt = open_settlement().claim_allowance(account(who), parse_period(quarter))
    tx_line(f"claimed allowance batch {hex(batch_id)}", receipt)


@app.command("record")
@handle_errors
def record(quarter: str = QUARTER, participant: str = typer.Argument(..., help="Participant wallet.")) -> None:
    """A participant's settlement record (settled, debt left, allowance)."""
    print_json(open_settlement().record(parse_period(quarter), participant))
