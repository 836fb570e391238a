"""carbonix deploy: compile and deploy the contracts with ape (scripts/deploy.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from carbonix import deployments
from carbonix.config import get_settings
from carbonix.exceptions import CarbonixError

console = Console()


def deploy(
    network: Annotated[
        str | None,
        typer.Option(
            "--network",
            "-n",
            help=f"One of {', '.join(deployments.NETWORKS)} [default: CARBONIX_NETWORK, l2-local]."
            " An L2 network deploys its L1 as well.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show ape's output.")] = False,
) -> None:
    """Compile and deploy the contracts, wire their roles, write manifests and verify payloads."""
    settings = get_settings()
    name = network or settings.network
    try:
        spec = deployments.get_network(name)
        if verbose or not spec.local:  # real networks: ape may ask for a passphrase or to sign
            deployment = deployments.run_deploy(name, settings)
        else:
            with console.status(f"Compiling and deploying to {name} (ape run deploy) ..."):
                deployment = deployments.run_deploy(name, settings, capture=True)
    except CarbonixError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(1) from err
    for net in filter(None, (spec.l1, spec.name)):
        shown = deployment if net == name else deployments.load_deployment(settings, net)
        path = deployments.manifest_path(net, settings)
        contracts = shown.manifest["contracts"]
        console.print(
            f"[green]{net}[/] (chain {shown.chain_id}): {path}" + ("" if contracts else ", no contracts yet"),
            soft_wrap=True,
        )
        for contract, entry in contracts.items():
            console.print(
                f"  {contract:<16} {entry['address']}  block {entry['block_number']}" f"  gas {entry['gas_used']}",
                soft_wrap=True,
            )
