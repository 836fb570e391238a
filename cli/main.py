"""The ``carbonix`` command line: one sub-command group per area of the product."""

from __future__ import annotations

import typer

from cli.commands import (
    api,
    caps,
    chain,
    credits,
    datalog,
    demo,
    deploy,
    indexer,
    market,
    oracle,
    participants,
    projects,
    registry,
    sensors,
    settle,
    tgo,
)

app = typer.Typer(
    name="carbonix",
    help="CarboniX carbon-credit exchange: chains, contracts, registry, credits, data log and market.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(chain.app, name="chain")
app.command("deploy")(deploy.deploy)
app.add_typer(tgo.app, name="tgo")
app.add_typer(participants.app, name="participants")
app.add_typer(projects.app, name="projects")
app.add_typer(credits.app, name="credits")
app.add_typer(registry.app, name="registry")
app.add_typer(datalog.app, name="datalog")
app.add_typer(market.app, name="market")
app.add_typer(caps.app, name="caps")
app.add_typer(settle.app, name="settle")
app.add_typer(sensors.app, name="sensors")
app.add_typer(oracle.app, name="oracle")
app.add_typer(indexer.app, name="indexer")
app.add_typer(api.app, name="api")
app.command("demo")(demo.demo)

if __name__ == "__main__":
    app()
