"""The chain side of the indexer: raw JSON-RPC for logs and block headers, batched.

web3.py's formatters cost more than the decoding itself at thousands of logs a second, so this
speaks JSON-RPC through the provider directly and keeps hex as hex until the decoder needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from carbonix.exceptions import CarbonixError
from indexer.decode import RawLog


class RpcError(CarbonixError):
    """The node answered a request with an error."""


class RangeTooLarge(RpcError):
    """The node refused a log query for its size (too many results or too wide a range)."""


@dataclass(frozen=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


# Phrases nodes use to refuse a log range for its size (geth, erigon, reth, alchemy, infura, anvil).
_TOO_LARGE = ("too many", "limit", "range", "exceed", "timeout", "response size", "query returned more than")


class ChainSource:
    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.provider = w3.provider

    def _call(self, method: str, params: list[Any]) -> Any:
        response = self.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            message = str(response["error"].get("message", response["error"]))
            if method == "eth_getLogs" and any(p in message.lower() for p in _TOO_LARGE):
                raise RangeTooLarge(message)
            raise RpcError(f"{method}: {message}")
        return response["result"]

    def chain_id(self) -> int:
        return int(self._call("eth_chainId", []), 16)

    def head(self) -> int:
        return int(self._call("eth_blockNumber", []), 16)

    def header(self, number: int) -> Header | None:
        block = self._call("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else _header(block)

    def headers(self, numbers: list[int]) -> list[Header]:
        """Headers of ``numbers`` in one batch request where the provider batches."""
        if not numbers:
            return []
        with self.w3.batch_requests() as batch:
            for n in numbers:
                batch.add(self.w3.eth.get_block(n, False))
            blocks: list[Any] = batch.execute()
        return [
            Header(int(b["number"]), b["hash"].to_0x_hex(), b["parentHash"].to_0x_hex(), int(b["timestamp"]))
            for b in blocks
        ]

    def logs(self, addresses: list[str], from_block: int, to_block: int) -> list[RawLog]:
        result = self._call(
            "eth_getLogs", [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]
        )
        return [RawLog.from_rpc(log) for log in result if not log.get("removed")]


def _header(block: dict[str, Any]) -> Header:
    return Header(int(block["number"], 16), block["hash"], block["parentHash"], int(block["timestamp"], 16))
