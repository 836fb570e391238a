"""Shared pieces of the CLI: console, error handling, progress and JSON output."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from carbonix.exceptions import CarbonixError, CarbonixValueError

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turns every CarbonixError into one red line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CarbonixError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)  # one line, whatever the width
            raise typer.Exit(1) from None

    return wrapper


@contextmanager
def progress(message: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A spinner for work that may take more than a second; yields an updater for its text."""
    if quiet:
        yield lambda _: None
        return
    with err_console.status(message) as status:
        yield lambda text: status.update(f"{message}: {text}")


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def tx_line(label: str, receipt: Any) -> None:
    console.print(
        f"[green]✓[/] {label}  tx [cyan]{receipt['transactionHash'].to_0x_hex()}[/]"
        f"  block {receipt['blockNumber']}  gas {receipt['gasUsed']:,}"
    )


def station_locations(values: list[str] | None) -> dict[str, tuple[float, float]]:
    """``--locate STATION=LAT,LON`` options as a map; a clear error for anything else."""
    out: dict[str, tuple[float, float]] = {}
    for text in values or []:
        station, sep, place = text.partition("=")
        lat_text, comma, lon_text = place.partition(",")
        try:
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            lat = lon = float("nan")
        if not sep or not comma or not station.strip() or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CarbonixValueError(
                f"--locate {text!r}: expected STATION=LAT,LON in degrees, e.g. 139=13.7299,100.5365"
            )
        out[station.strip()] = (lat, lon)
    return out
