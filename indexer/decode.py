"""Decoding raw logs with the ABIs of the deployments manifest.

The indexer reads logs as raw JSON-RPC (``eth_getLogs``) and decodes them here with eth_abi
directly: one precomputed decoder per (contract address, topic0). A log of an address or event
the manifest does not know is skipped (and counted); a log that does not decode under its own
ABI stops the indexer, because it means the manifest and the chain disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
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
            address=checksum(log["address"]),
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "_topic_words", [_word_decoder(kind) for _, kind in self.indexed])
        object.__setattr__(self, "_data", _data_decoder(self.data_types))

    def decode(self, log: RawLog) -> Event:
        if len(log.topics) != 1 + len(self.indexed):
            raise DecodeError(f"{self.contract}.{self.name}: {len(log.topics) - 1} indexed topics in log {log.tx_hash}")
        args: dict[str, Any] = {}
        try:
            words = self._topic_words  # type: ignore[attr-defined]
            for (name, _kind), word, topic in zip(self.indexed, words, log.topics[1:], strict=True):
                raw = bytes.fromhex(topic[2:])
                # an indexed string or array is only its hash: kept as the hash
                args[name] = word(raw) if word is not None else "0x" + raw.hex()
            values = self._data(log.data)  # type: ignore[attr-defined]
        except Exception as exc:  # malformed data, whichever decoder found it
            raise DecodeError(f"{self.contract}.{self.name} in {log.tx_hash}: {exc}") from exc
        for name, value in zip(self.data_names, values, strict=True):
            args[name] = value
        return Event(self.contract, self.name, args, log)


def _normal(kind: str, value: Any) -> Any:
    if kind == "address":
        return checksum(value)
    if kind.startswith("bytes") and isinstance(value, bytes):
        return "0x" + value.hex()
    return value


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """EIP-55 checksum (a keccak each); the same few addresses recur in every range."""
    return str(to_checksum_address(address))


# Fast word decoders for the static types events use; eth_abi for the rest.
def _word_decoder(kind: str) -> Callable[[bytes], Any] | None:
    if kind == "address":
        return lambda w: checksum("0x" + w[12:].hex())
    if kind == "bool":
        return lambda w: w[31] == 1
    if kind.startswith("uint") and kind[4:].isdigit():
        return lambda w: int.from_bytes(w, "big")
    if kind.startswith("int") and kind[3:].isdigit():
        return lambda w: int.from_bytes(w, "big", signed=True)
    if kind.startswith("bytes") and kind[5:].isdigit():
        size = int(kind[5:])
        return lambda w: "0x" + w[:size].hex()
    return None


def _data_decoder(types: tuple[str, ...]) -> Callable[[bytes], list[Any]]:
    """Decodes event data of static words and strings/bytes by hand (eth_abi validates every
    value at several times the cost), falling back to eth_abi for arrays and tuples."""
    words = [_word_decoder(t) for t in types]
    dynamic = [t in ("string", "bytes") for t in types]
    if not all(w is not None or d for w, d in zip(words, dynamic, strict=True)):
        return lambda data: [_normal(t, v) for t, v in zip(types, decode(list(types), data), strict=True)]

    def run(data: bytes) -> list[Any]:
        if len(data) < 32 * len(types):
            raise ValueError(f"{len(data)} bytes of data for {len(types)} words")
        out: list[Any] = []
        for i, word in enumerate(words):
            head = data[32 * i : 32 * i + 32]
            if word is not None:
                out.append(word(head))
                continue
            offset = int.from_bytes(head, "big")
            length = int.from_bytes(data[offset : offset + 32], "big")
            raw = data[offset + 32 : offset + 32 + length]
            if len(raw) != length:
                raise ValueError("dynamic value runs past the data")
            out.append(raw.decode("utf-8", "replace") if types[i] == "string" else "0x" + raw.hex())
        return out

    return run


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
