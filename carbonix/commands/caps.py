"""carbonix caps: sector caps, surcharges and floor prices per quarter (the regulator's terms)."""

from __future__ import annotations

import typer

from carbonix import enums
from carbonix.commands._common import console, handle_errors, print_json, tx_line
from carbonix.context import account, open_settlement
from carbonix.exchange import satang
from carbonix.orderbook import parse_period
from carbonix.settlement import KG_PER_TONNE, STRATEGIES, Terms

app = typer.Typer(no_args_is_help=True, help="Cap-and-trade terms per sector and quarter (Table 3, R2).")

QUARTER = typer.Option(..., "--quarter", help="TGO quarter, e.g. 2026Q1.")
SECTOR = typer.Option(..., "--sector", help="|".join(enums.members("Sector")))


@app.command("propose")
@handle_errors
def propose(
    quarter: str = QUARTER,
    sector: str = SECTOR,
    strategy: str = typer.Option("moderate", "--strategy", help="|".join(STRATEGIES)),
    percentile: int = typer.Option(None, "--percentile", help="Override the strategy's cap percentile."),
    base: str = typer.Option("0", "--base-thb", help="Base carbon tax, THB per tonne up to the cap."),
    tolerance: int = typer.Option(1, "--tolerance-t", help="Net-neutral tolerance, tonnes."),
    post: bool = typer.Option(False, "--post", help="Post the terms on-chain after printing the evidence."),
    who: str = typer.Option("regulator", "--as", help="Regulator account (with --post)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compute a percentile cap from the sector's verified emissions in the data log, with evidence."""
    settlement = open_settlement()
    proposal = settlement.propose_cap(parse_period(quarter), sector, strategy, percentile, base, tolerance)
    if as_json:
        print_json(proposal.as_dict())
    else:
        data = proposal.as_dict()
        console.print(
            f"{data['quarter']} {sector}: {data['strategy']} strategy, {data['percentile']}th percentile of "
            f"{data['participants_with_data']} participants with verified emissions"
        )
        console.print(f"  verified emissions (t, ascending): {', '.join(data['emissions_t_sorted'])}")
        console.print(f"  proposed terms: {data['terms']}")
    if post:
        tx_line("posted", settlement.set_terms(account(who), proposal.period, sector, proposal.terms))


@app.command("set")
@handle_errors
def set_terms(
    quarter: str = QUARTER,
    sector: str = SECTOR,
    cap: int = typer.Option(..., "--cap-t", help="Cap K_s, tonnes CO2e for the quarter."),
    surcharge: str = typer.Option(..., "--surcharge-thb", help="Surcharge, THB per uncovered tonne."),
    floor: str = typer.Option(..., "--floor-thb", help="Floor credit price, THB per tonne."),
    base: str = typer.Option("0", "--base-thb", help="Base carbon tax, THB per tonne up to the cap."),
    tolerance: int = typer.Option(1, "--tolerance-t", help="Net-neutral tolerance, tonnes."),
    who: str = typer.Option("regulator", "--as", help="Regulator account."),
) -> None:
    """Post custom terms for a sector and quarter (before the quarter's settlement opens)."""
    terms = Terms(cap * KG_PER_TONNE, satang(surcharge), satang(base), satang(floor), tolerance * KG_PER_TONNE)
    tx_line(
        f"terms set for {sector} {quarter}",
        open_settlement().set_terms(account(who), parse_period(quarter), sector, terms),
    )


@app.command("show")
@handle_errors
def show(quarter: str = QUARTER) -> None:
    """The terms of every sector for a quarter."""
    settlement = open_settlement()
    period = parse_period(quarter)
    out = {}
    for sector in enums.members("Sector"):
        terms = settlement.terms(period, sector)
        if terms:
            out[sector] = terms.as_dict()
    print_json(out)
