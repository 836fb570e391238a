"""Errors raised by the carbonix package. One root, each subclass also the builtin it means."""

from __future__ import annotations


class CarbonixError(Exception):
    """Root of every error the carbonix package raises on purpose."""


class CarbonixValueError(CarbonixError, ValueError):
    """An input (file row, argument, proof) is malformed or inconsistent."""


class CarbonixLookupError(CarbonixError, LookupError):
    """Something named does not exist: a deployment, a participant, a proof leaf."""


class ChainError(CarbonixError, RuntimeError):
    """A local chain could not be started, stopped or reached."""


class ContractRevertError(CarbonixError, RuntimeError):
    """A transaction or call reverted; ``name`` is the decoded custom error."""

    def __init__(self, name: str, args: tuple[object, ...] = (), raw: str = "") -> None:
        self.name = name
        self.error_args = args
        self.raw = raw
        shown = f"{name}({', '.join(_show(a) for a in args)})" if name else raw
        super().__init__(f"reverted: {shown}")


def _show(value: object) -> str:
    """Revert arguments as a person reads them: bytes and token-id-sized numbers in hex."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and value >= 2**64:
        return hex(value)
    return str(value)
