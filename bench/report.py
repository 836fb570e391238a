"""The table every figures script prints: each key beside its reference and target, and whether it meets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def print_table(targets: dict[str, tuple[str, float | None, str]], results: dict[str, Any], width: int = 20) -> None:
    """``targets``: key -> (reference, target, ">=" | "<=" | "report"); ``results``: key -> {"value": ...}."""
    key_width = max(len(k) for k in targets) + 2
    print(f"{'key':{key_width}} {'reference':>{width}} {'target':>10} {'measured':>12}  ok")
    for key, (reference, target, how) in targets.items():
        entry = results.get(key)
        value = None if entry is None else entry["value"]
        if value is None:
            ok = "missing"
        elif target is None:
            ok = "report"
        else:
            ok = "yes" if (value >= target if how == ">=" else value <= target) else "NO"
        shown = "-" if value is None else f"{value:,}"
        limit = "-" if target is None else f"{target:,}"
        print(f"{key:{key_width}} {reference:>{width}} {limit:>10} {shown:>12}  {ok}")


def write_figures(
    name: str, results: dict[str, Any], targets: dict[str, tuple[str, float | None, str]], width: int = 20
) -> Path:
    """Writes ``bench/results/<name>.json`` (``{"figures": results, "targets": targets}``), then prints the table."""
    path = RESULTS / f"{name}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"figures": results, "targets": targets}, indent=2) + "\n")
    print_table(targets, results, width=width)
    print(f"wrote {path}")
    return path
