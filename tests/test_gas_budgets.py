"""Every gas target of the project is one entry of bench/gas-budgets.json, and forge test holds it.

The budgets are enforced twice on the same quantity, a transaction's gasUsed: by the forge gas
suites in ``make test`` (tests/forge/Gas.t.sol, MarketGas.t.sol, Settlement.t.sol, in isolation
mode) and by ``make bench`` on anvil (bench/gas.py, market_gas.py, oracle_figures.py). This keeps
the lists one list: every gas figure the bench reports has an entry with its scenario, the bench
reads its targets from that entry, and every bounded key is measured by a forge suite, whose
figures (bench/snapshots/, written by forge test, which runs before pytest) are within budget.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUDGETS: dict[str, dict[str, Any]] = json.loads((ROOT / "bench" / "gas-budgets.json").read_text())["budgets"]
SNAPSHOTS = ROOT / "bench" / "snapshots"
# The forge suites that measure gasUsed (isolation mode), by snapshot file.
FORGE_SUITES = ("GasTest.json", "MarketGasTest.json", "SettlementGas.json")


def _bench(name: str) -> ModuleType:
    """A bench script as a module (bench/ is a folder of scripts, not a package)."""
    for path in (ROOT, ROOT / "bench"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bounded() -> list[str]:
    return [k for k, b in BUDGETS.items() if b.get("max_gas") is not None or "max_percent_of" in b]


def _forge_figures() -> dict[str, int]:
    figures: dict[str, int] = {}
    for name in FORGE_SUITES:
        figures.update({k: int(v) for k, v in json.loads((SNAPSHOTS / name).read_text()).items()})
    return figures


@pytest.mark.parametrize("key", sorted(BUDGETS))
def test_budget_entry_states_a_scenario_and_one_kind_of_limit(key: str) -> None:
    budget = BUDGETS[key]
    assert isinstance(budget["scenario"], str) and budget["scenario"]
    relative = budget.get("max_percent_of")
    if relative is None:
        assert "max_gas" in budget
        assert budget["max_gas"] is None or (isinstance(budget["max_gas"], int) and budget["max_gas"] > 21_000)
    else:
        assert "max_gas" not in budget
        assert isinstance(BUDGETS[relative["key"]]["max_gas"], int)
        assert isinstance(relative["percent"], int) and relative["percent"] >= 100


def test_every_bench_gas_figure_has_a_budget_entry_and_uses_it() -> None:
    gas, market, oracle = _bench("gas"), _bench("market_gas"), _bench("oracle_figures")
    assert set(gas.REFERENCE) | set(market.REFERENCE) == set(BUDGETS)
    assert not set(gas.REFERENCE) & set(market.REFERENCE)
    for key, (_, target) in oracle.GAS_TARGETS.items():
        assert target == BUDGETS[key]["max_gas"]
        assert oracle.TARGETS[key][1] == target


def test_relative_budgets_resolve_against_the_same_run() -> None:
    report = _bench("report")
    measured = {"buy_fill_1": 90_000}
    assert report.gas_limit("buy_fill_1_depth_10000_crossing", measured) == 94_500
    assert report.gas_limit("transfer", measured) == BUDGETS["transfer"]["max_gas"]
    assert report.gas_limit("deploy_total", measured) is None


@pytest.mark.parametrize("key", _bounded())
def test_forge_measures_each_bounded_key_within_its_budget(key: str) -> None:
    figures = _forge_figures()
    assert key in figures, f"{key} has a budget but no forge gas suite measures it"
    relative = BUDGETS[key].get("max_percent_of")
    if relative is None:
        assert figures[key] <= BUDGETS[key]["max_gas"]
    else:
        assert figures[key] * 100 <= figures[relative["key"]] * relative["percent"]
