"""How the contracts name things: checksummed wallet addresses, project keys, serial namespaces.

Pure conversions with no chain access, at the bottom of the core so that every module (the ledger,
the data-log batch, sensors, exchange, settlement) can use them without importing the ledger.
"""

from __future__ import annotations

from eth_utils import is_address, keccak, to_checksum_address

from carbonix.exceptions import CarbonixValueError


def wallet_address(value: str) -> str:
    """A checksummed wallet address, or a clear error naming the bad input."""
    if not isinstance(value, str) or not is_address(value):
        raise CarbonixValueError(f"{value!r} is not a wallet address")
    return to_checksum_address(value)


def project_key(project_id: str) -> bytes:
    """The key a project id is stored under on-chain: keccak256(bytes(projectId))."""
    return keccak(text=project_id)


def serial_namespace(serial_prefix: str) -> bytes:
    """The serial namespace of a prefix: keccak256(bytes(prefix))."""
    return keccak(text=serial_prefix)
