"""The API's optional access to the chains: opened on first use, never needed to serve the index.

Certificates of transactions the indexer has not reached yet, transactions it does not know, and
the chain heads of ``/v1/health`` come from the RPC. Everything else comes from the database, so
the API keeps serving when the RPC is down; what needs the chain then answers 503.

The deployment manifests (``carbonix.deployments``) name the chains and contracts; every RPC call
has a timeout (``API_RPC_TIMEOUT_SECONDS``), and a chain head is reused for
``API_HEAD_CACHE_SECONDS`` so that health checks cannot become a flood of RPC calls.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import requests
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3Exception

from carbonix.config import Settings, get_settings
from carbonix.deployments import Deployment
from carbonix.exceptions import CarbonixError, CarbonixLookupError
from carbonix.ledger import Ledger
from indexer.api.exceptions import ChainUnavailableError
from indexer.decode import Decoder, RawLog
from indexer.handlers import json_args

# What a dead, slow or confused RPC raises through web3 and requests.
RPC_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    httpx.HTTPError,
    ConnectionError,
    TimeoutError,
    OSError,
    Web3Exception,
)


class ChainAccess:
    def __init__(self, settings: Settings | None = None, timeout: float = 5.0, head_ttl: float = 2.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.head_ttl = head_ttl
        self._lock = threading.Lock()
        self._deployments: list[Deployment] | None = None
        self._ledger: Ledger | None = None
        self._heads: dict[int, tuple[float, int | None]] = {}
        self._events: dict[tuple[int, str], dict[str, dict[str, dict[str, Any]]]] = {}

    # deployments -------------------------------------------------------------------------------
    def deployments(self) -> list[Deployment]:
        """The deployments the indexer follows (main network and its L1), from their manifests."""
        with self._lock:
            if self._deployments is None:
                from indexer.service import deployments

                try:
                    self._deployments = deployments(self.settings or get_settings())
                except CarbonixError as exc:
                    raise ChainUnavailableError(f"no deployment manifest: {exc}") from None
            return self._deployments

    def deployment(self, chain_id: int) -> Deployment | None:
        return next((d for d in self.deployments() if d.chain_id == chain_id), None)

    def contract_address(self, chain_id: int, name: str) -> str | None:
        try:
            found = self.deployment(chain_id)
        except ChainUnavailableError:
            return None
        if found is None or name not in found.names:
            return None
        return Web3.to_checksum_address(found.address(name))

    def event_inputs(self, chain_id: int, contract: str, event: str) -> dict[str, dict[str, Any]] | None:
        """The ABI inputs of ``contract``'s ``event`` in the manifest of chain ``chain_id``, by argument
        name (their ``internalType`` says which are enums), or None when no manifest knows the event.
        Overloads of one event name share one map (the deployment's contracts have none)."""
        key = (chain_id, contract)
        events = self._events.get(key)
        if events is None:
            try:
                found = self.deployment(chain_id)
            except ChainUnavailableError:
                return None
            if found is None or contract not in found.names:
                return None
            events = {}
            for item in found.abi(contract):
                if item.get("type") == "event":
                    events.setdefault(item["name"], {}).update({i["name"]: i for i in item["inputs"]})
            self._events[key] = events
        return events.get(event)

    def ledger(self) -> Ledger:
        """A Ledger on the main deployment whose every RPC call times out."""
        with self._lock:
            ledger = self._ledger
        if ledger is not None:
            return ledger
        main = self.deployments()[0]
        w3 = Web3(Web3.HTTPProvider(main.rpc_url, request_kwargs={"timeout": self.timeout}))
        contracts = {name: main.contract(name, w3) for name in main.names}
        ledger = Ledger(w3, contracts, main.from_block)
        with self._lock:
            self._ledger = ledger
        return ledger

    # raw JSON-RPC ------------------------------------------------------------------------------
    def rpc(self, deployment: Deployment, method: str, params: list[Any]) -> Any:
        try:
            response = httpx.post(
                deployment.rpc_url,
                json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                timeout=self.timeout,
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError, OSError) as exc:
            raise ChainUnavailableError(f"chain {deployment.chain_id} RPC: {type(exc).__name__}") from None
        if "error" in body:
            raise ChainUnavailableError(f"chain {deployment.chain_id} RPC: {body['error'].get('message', 'error')}")
        return body.get("result")

    def head(self, chain_id: int) -> int | None:
        """The chain's latest block number, or None when its RPC does not answer (cached briefly)."""
        now = time.monotonic()
        cached = self._heads.get(chain_id)
        if cached is not None and now - cached[0] < self.head_ttl:
            return cached[1]
        head: int | None
        try:
            found = self.deployment(chain_id)
            head = None if found is None else int(self.rpc(found, "eth_blockNumber", []), 16)
        except (ChainUnavailableError, ValueError, TypeError):
            head = None
        self._heads[chain_id] = (now, head)
        return head

    # transactions ------------------------------------------------------------------------------
    def transaction(self, tx_hash: str) -> dict[str, Any]:
        """What the chain says about a transaction: its chain, block, status and our contracts'
        events decoded with the manifests' ABIs (as the indexer would store them).

        Raises CarbonixLookupError if no followed chain has mined it, ChainUnavailableError if a
        chain could not be asked."""
        unreachable = []
        for deployment in self.deployments():
            try:
                receipt = self.rpc(deployment, "eth_getTransactionReceipt", [tx_hash])
            except ChainUnavailableError as exc:
                unreachable.append(str(exc))
                continue
            if not receipt or receipt.get("blockNumber") is None:
                continue
            block = self.rpc(deployment, "eth_getBlockByNumber", [receipt["blockNumber"], False]) or {}
            decoder = Decoder({n: (deployment.address(n), deployment.abi(n)) for n in deployment.names})
            logs = [RawLog.from_rpc(log) for log in receipt.get("logs", [])]
            events, _ = decoder.decode(logs)
            return {
                "chain_id": deployment.chain_id,
                "block_number": int(receipt["blockNumber"], 16),
                "block_time": int(block["timestamp"], 16) if block.get("timestamp") else None,
                "status": "success" if receipt.get("status") == "0x1" else "reverted",
                "events": [
                    {
                        "log_index": ev.log.log_index,
                        "contract": ev.contract,
                        "event": ev.name,
                        "args": json.loads(json_args(ev.args)),
                    }
                    for ev in events
                ],
            }
        if unreachable:
            raise ChainUnavailableError("; ".join(unreachable))
        raise CarbonixLookupError(f"no chain this API follows has a mined transaction {tx_hash}")

    def certificates(self, tx_hash: str) -> list[Any]:
        """The retirement certificates of a transaction rebuilt from its receipt."""
        from indexer.certificates import certificates_from_receipt

        try:
            return list(certificates_from_receipt(self.ledger(), tx_hash))
        except TransactionNotFound:
            raise CarbonixLookupError(f"no mined transaction {tx_hash}") from None
        except CarbonixError:
            raise
        except RPC_ERRORS as exc:
            raise ChainUnavailableError(f"the chain did not answer: {type(exc).__name__}") from None
