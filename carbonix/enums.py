"""Solidity enums, read from the contract interfaces so Python and Solidity never disagree.

The interfaces in ``contracts/interfaces/`` are the spec; this module parses their ``enum``
declarations and offers them as name <-> index maps. CLI options use snake_case names
(``renewable_energy``), the contracts take the index.
"""

from __future__ import annotations

import re
from functools import cache

from carbonix.config import PROJECT_ROOT
from carbonix.exceptions import CarbonixValueError

INTERFACES_DIR = PROJECT_ROOT / "contracts" / "interfaces"
_ENUM = re.compile(r"enum\s+(\w+)\s*\{([^}]*)\}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@cache
def _all_enums() -> dict[str, tuple[str, ...]]:
    enums: dict[str, tuple[str, ...]] = {}
    for path in sorted(INTERFACES_DIR.glob("*.sol")):
        for name, body in _ENUM.findall(path.read_text()):
            members = tuple(_snake(m.strip()) for m in body.split(",") if m.strip())
            enums[name] = members
    return enums


def members(enum: str) -> tuple[str, ...]:
    """snake_case member names of a Solidity enum, in index order."""
    try:
        return _all_enums()[enum]
    except KeyError as exc:
        raise CarbonixValueError(f"no Solidity enum named {enum}") from exc


def index(enum: str, name: str) -> int:
    """The index of ``name`` (snake_case, case-insensitive, '-' allowed) in a Solidity enum."""
    wanted = name.strip().lower().replace("-", "_").replace(" ", "_")
    names = members(enum)
    if wanted not in names:
        raise CarbonixValueError(f"unknown {enum} {name!r}: expected one of {', '.join(names)}")
    return names.index(wanted)


def name(enum: str, value: int) -> str:
    """The snake_case name of index ``value`` of a Solidity enum."""
    names = members(enum)
    if not 0 <= value < len(names):
        raise CarbonixValueError(f"{enum} has no member {value}")
    return names[value]
