"""The table every figures script prints: each key beside its reference and target, and whether it meets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# Every gas budget of the project; forge test (make test) holds the same file (tests/forge/utils/GasBudgets.sol).
GAS_BUDGETS = Path(__file__).resolve().parent / "gas-budgets.json"


def gas_budgets() -> dict[str, dict[str, Any]]:
    """``bench/gas-budgets.json``: key -> {"max_gas": int | None | "max_percent_of": {"key", "percent"},
    "scenario": str, ["bounds": str]}. Each budget bounds gasUsed of one transaction."""
    budgets: dict[str, dict[str, Any]] = json.loads(GAS_BUDGETS.read_text())["budgets"]
    return budgets


def gas_limit(key: str, measured: dict[str, int]) -> int | None:
    """The budget of ``key`` in gas (None: reported only); a relative budget is resolved against the
    figure it refers to in ``measured`` (the same run), as the forge suites do."""
    budget = gas_budgets()[key]
    relative = budget.get("max_percent_of")
    if relative is not None:
        return int(measured[relative["key"]]) * int(relative["percent"]) // 100
    limit = budget.get("max_gas")
    return None if limit is None else int(limit)


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
