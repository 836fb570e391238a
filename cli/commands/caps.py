"""carbonix caps: sector caps, surcharges and floor prices per quarter (the regulator's terms)."""

from __future__ import annotations

import typer

from carbonix import enums
from carbonix.context import account, open_settlement
from carbonix.exceptions import CarbonixValueError
from carbonix.exchange import satang
from carbonix.orderbook import parse_period
from carbonix.settlement import KG_PER_TONNE, STRATEGIES, Terms
from cli.commands._common import console, handle_errors, print_json, tx_line

app = typer.Typer(no_args_is_help=True, help="Cap-and-trade terms per sector and quarter (Table 3, R2).")

QUARTER = typer.Option(..., "--quarter", help="TGO quarter, e.g. 2026Q1.")
SECTOR = typer.Option(..., "--sector", help="|".join(enums.members("Sector")))


@app.command("propose")
@handle_errors
def propose(
    quarter: str = QUARTER,
    sector: str = typer.Option(None, "--sector", help="One sector (default: every sector with data)."),
    strategy: str = typer.Option("moderate", "--strategy", help="|".join(STRATEGIES)),
    percentile: int = typer.Option(None, "--percentile", help="Override the strategy's cap percentile."),
    base: str = typer.Option("0", "--base-thb", help="Base carbon tax, THB per tonne up to the cap."),
    tolerance: int = typer.Option(1, "--tolerance-t", help="Net-neutral tolerance, tonnes."),
    post: bool = typer.Option(False, "--post", help="Post the terms on-chain after printing the evidence."),
    who: str = typer.Option("regulator", "--as", help="Regulator account (with --post)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compute percentile caps from each sector's verified emissions in the data log, with evidence."""
    settlement = open_settlement()
    period = parse_period(quarter)
    sectors = [sector] if sector else enums.members("Sector")
    proposals = []
    for name in sectors:
        try:
            proposals.append(settlement.propose_cap(period, name, strategy, percentile, base, tolerance))
        except CarbonixValueError:
            if sector:  # the one sector asked for has no data: say so
                raise
    if not proposals:
        raise CarbonixValueError(f"no participant has verified emissions in {quarter}: nothing to set caps from")
    if as_json:
        print_json([p.as_dict() for p in proposals])
    for proposal in proposals:
        data = proposal.as_dict()
        if not as_json:
            console.print(
                f"{data['quarter']} {data['sector']}: {data['strategy']} strategy, {data['percentile']}th percentile "
                f"of {data['participants_with_data']} participants with verified emissions"
            )
            console.print(f"  verified emissions (t, ascending): {', '.join(data['emissions_t_sorted'])}")
            console.print(f"  proposed terms: {data['terms']}")
        if post:
            tx_line("posted", settlement.set_terms(account(who), period, proposal.sector, proposal.terms))


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
