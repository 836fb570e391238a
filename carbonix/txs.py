"""Sending transactions with local keys and turning reverts into named custom errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import TxParams, TxReceipt

from carbonix.exceptions import ContractRevertError


def _abi_type(entry: dict[str, Any]) -> str:
    if entry["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in entry["components"])
        return f"({inner}){entry['type'][5:]}"
    return str(entry["type"])


@dataclass
class ErrorDecoder:
    """Maps 4-byte selectors of every custom error in the given ABIs to name and types."""

    errors: dict[bytes, tuple[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def from_abis(cls, abis: Iterable[Iterable[Mapping[str, Any]]]) -> ErrorDecoder:
        decoder = cls()
        for abi in abis:
            for entry in abi:
                if entry.get("type") != "error":
                    continue
                types = [_abi_type(i) for i in entry.get("inputs", [])]
                selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
                decoder.errors[selector] = (entry["name"], types)
        return decoder

    def decode(self, data: str | bytes) -> ContractRevertError:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        known = self.errors.get(raw[:4])
        if known is None:
            return ContractRevertError("", raw="0x" + raw.hex())
        name, types = known
        try:
            args = tuple(abi_decode(types, raw[4:]))
        except Exception:  # a selector clash with malformed data: keep the name, drop the args
            args = ()
        return ContractRevertError(name, args, raw="0x" + raw.hex())


class TxSender:
    """Signs with local keys, waits for receipts, raises ContractRevertError on any revert."""

    def __init__(self, w3: Web3, decoder: ErrorDecoder) -> None:
        self.w3 = w3
        self.decoder = decoder

    def call(self, fn: ContractFunction) -> Any:
        """eth_call with decoded reverts."""
        try:
            return fn.call()
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._revert(exc) from None

    def transact(self, account: LocalAccount, fn: ContractFunction, gas: int | None = None) -> TxReceipt:
        """Sends ``fn`` from ``account`` and returns its successful receipt."""
        params: TxParams = {
            "from": account.address,
            "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": self.w3.eth.chain_id,
        }
        if gas is not None:
            params["gas"] = gas
        try:
            tx = fn.build_transaction(params)  # estimates gas: a revert surfaces here, decoded
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._revert(exc) from None
        signed = account.sign_transaction(cast(dict[str, Any], tx))
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise ContractRevertError("", raw=f"transaction {tx_hash.hex()} reverted")
        return receipt

    def _revert(self, exc: Exception) -> ContractRevertError:
        data = getattr(exc, "data", None)
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return self.decoder.decode(data)
        message = getattr(exc, "message", None) or str(exc)
        return ContractRevertError("", raw=message)
