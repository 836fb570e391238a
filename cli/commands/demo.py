"""carbonix demo: the narrated scenario (make demo) and its self-check (make demo-check)."""

from __future__ import annotations

import typer

from cli.commands._common import handle_errors


@handle_errors
def demo(
    check: bool = typer.Option(False, "--check", help="Assert every outcome; exit 1 on a difference."),
    stop: bool = typer.Option(False, "--stop", help="Stop the chains at the end."),
) -> None:
    """Run the whole scenario on fresh local chains and print where to look."""
    from cli.demo import run_demo

    run_demo(check=check, stop=stop)
