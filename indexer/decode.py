"""Decoding raw logs with the ABIs of the deployments manifest.

The indexer reads logs as raw JSON-RPC (``eth_getLogs``) and decodes them here with eth_abi
directly: one precomputed decoder per (contract address, topic0). A log of an address or event
the manifest does not know is skipped (and counted); a log that does not decode under its own
ABI stops the indexer, because it means the manifest and the chain disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from carbonix.exceptions import CarbonixError


class DecodeError(CarbonixError):
    """A log of a known contract and event did not decode under its ABI."""


@dataclass(frozen=True)
class RawLog:
    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    address: str  # checksum
    topics: tuple[str, ...]
    data: bytes
    block_time: int | None  # eth_getLogs' blockTimestamp when the node gives it

    @classmethod
    def from_rpc(cls, log: dict[str, Any]) -> RawLog:
        stamp = log.get("blockTimestamp")
        return cls(
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"],
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"],
            address=to_checksum_address(log["address"]),
            topics=tuple(log["topics"]),
            data=bytes.fromhex(log["data"][2:]),
            block_time=int(stamp, 16) if stamp else None,
        )


@dataclass(frozen=True)
class Event:
    contract: str
    name: str
    args: dict[str, Any]
    log: RawLog


def _canonical(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical(c) for c in param["components"]) + ")" + kind[len("tuple") :]
    return str(kind)


@dataclass(frozen=True)
class _EventDecoder:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]  # (name, type)
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]

    def decode(self, log: RawLog) -> Event:
        if len(log.topics) != 1 + len(self.indexed):
            raise DecodeError(f"{self.contract}.{self.name}: {len(log.topics) - 1} indexed topics in log {log.tx_hash}")
        args: dict[str, Any] = {}
        try:
            for (name, kind), topic in zip(self.indexed, log.topics[1:], strict=True):
                args[name] = _normal(kind, decode([kind], bytes.fromhex(topic[2:]))[0])
            values = decode(list(self.data_types), log.data)
        except Exception as exc:  # eth_abi raises several kinds of decoding errors
            raise DecodeError(f"{self.contract}.{self.name} in {log.tx_hash}: {exc}") from exc
        for name, kind, value in zip(self.data_names, self.data_types, values, strict=True):
            args[name] = _normal(kind, value)
        return Event(self.contract, self.name, args, log)


def _normal(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith("bytes") and isinstance(value, bytes):
        return "0x" + value.hex()
    return value


class Decoder:
    """Decoders for every event of every contract in a manifest, by address and topic0."""

    def __init__(self, contracts: dict[str, tuple[str, list[dict[str, Any]]]]) -> None:
        """``contracts``: name -> (address, ABI)."""
        self._by_key: dict[tuple[str, str], _EventDecoder] = {}
        self.addresses: list[str] = []
        for contract, (address, abi) in contracts.items():
            checksum = to_checksum_address(address)
            self.addresses.append(checksum)
            for item in abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = item["inputs"]
                signature = f"{item['name']}({','.join(_canonical(i) for i in inputs)})"
                topic0 = "0x" + keccak(text=signature).hex()
                self._by_key[(checksum, topic0)] = _EventDecoder(
                    contract,
                    item["name"],
                    tuple((i["name"], _canonical(i)) for i in inputs if i.get("indexed")),
                    tuple(i["name"] for i in inputs if not i.get("indexed")),
                    tuple(_canonical(i) for i in inputs if not i.get("indexed")),
                )

    def decode(self, logs: Iterable[RawLog]) -> tuple[list[Event], int]:
        """The decoded events in order, and how many logs were not ours to decode."""
        events, skipped = [], 0
        for log in logs:
            decoder = self._by_key.get((log.address, log.topics[0] if log.topics else ""))
            if decoder is None:
                skipped += 1
                continue
            events.append(decoder.decode(log))
        return events, skipped
