"""The signed sensor message: its JSON form, its EIP-712 typed data, and its structural checks.

A device signs every message with its own secp256k1 key (the address a verifier approved in the
SensorRegistry). The EIP-712 domain binds the signature to one chain and one data log, so a message
signed for a test network never counts on the real one. Message (UTF-8 JSON, at most
``MAX_MESSAGE_BYTES``)::

    {
      "device": "0x5fa1...",                          # the device key address
      "domain": {"chainId": 555888, "verifyingContract": "0x<EmissionDataLog>"},
      "readings": [                                   # 1..MAX_READINGS, ascending sequence
        {"sequence": 1042, "timestamp": 1767225600,   # per-device counter; unix seconds
         "values": [{"quantity": "co2", "unit": "ppm", "value": 41250, "decimals": 2}]}
      ],
      "signature": "0x..."                            # EIP-712 signature of SensorMessage
    }

Values are fixed-point integers (``value / 10**decimals`` in ``unit``): no floats, so NaN and
rounding cannot enter signed data. The typed data signed is::

    SensorMessage(address device,Reading[] readings)
    Reading(uint64 sequence,uint64 timestamp,Measurement[] values)
    Measurement(string quantity,string unit,int64 value,uint8 decimals)

with domain ``{name: "CarboniX Oracle", version: "1", chainId, verifyingContract}``.
``parse_message`` returns the message or a ``Rejection`` with one of ``REASONS``; it never raises
on bad input. Checks that need state (registered and approved sensor, replayed sequence, clock)
belong to the daemon.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_hex_address, to_checksum_address

DOMAIN_NAME = "CarboniX Oracle"
DOMAIN_VERSION = "1"
MAX_MESSAGE_BYTES = 16_384
MAX_READINGS = 64
MAX_VALUES = 8
MAX_DECIMALS = 18
INT64 = 2**63

TYPES = {
    "SensorMessage": [{"name": "device", "type": "address"}, {"name": "readings", "type": "Reading[]"}],
    "Reading": [
        {"name": "sequence", "type": "uint64"},
        {"name": "timestamp", "type": "uint64"},
        {"name": "values", "type": "Measurement[]"},
    ],
    "Measurement": [
        {"name": "quantity", "type": "string"},
        {"name": "unit", "type": "string"},
        {"name": "value", "type": "int64"},
        {"name": "decimals", "type": "uint8"},
    ],
}

REASONS = (
    "oversized",
    "not_json",
    "missing_field",
    "bad_field",
    "bad_value",
    "wrong_domain",
    "bad_signature",
)


@dataclass(frozen=True)
class Domain:
    chain_id: int
    verifying_contract: str

    def as_eip712(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


@dataclass(frozen=True)
class Measurement:
    quantity: str
    unit: str
    value: int
    decimals: int

    @property
    def amount(self) -> float:
        return self.value / 10**self.decimals


@dataclass(frozen=True)
class SignedReading:
    sequence: int
    timestamp: int
    values: tuple[Measurement, ...]


@dataclass(frozen=True)
class SensorMessage:
    device: str
    readings: tuple[SignedReading, ...]


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


def _typed(device: str, readings: list[dict[str, Any]], domain: Domain) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **TYPES,
        },
        "primaryType": "SensorMessage",
        "domain": domain.as_eip712(),
        "message": {"device": to_checksum_address(device), "readings": readings},
    }


def sign_message(private_key: bytes | str, readings: list[dict[str, Any]], domain: Domain) -> dict[str, Any]:
    """The JSON-ready message a device publishes (the simulator and firmware tests use it)."""
    account = Account.from_key(private_key)
    signable = encode_typed_data(full_message=_typed(account.address, readings, domain))
    signature = account.sign_message(signable).signature
    return {
        "device": account.address,
        "domain": {"chainId": domain.chain_id, "verifyingContract": to_checksum_address(domain.verifying_contract)},
        "readings": readings,
        "signature": "0x" + bytes(signature).hex(),
    }


def parse_message(raw: bytes | str, domain: Domain) -> SensorMessage | Rejection:
    """Checks size, JSON, fields and signature; never raises on bad input."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > MAX_MESSAGE_BYTES:
        return Rejection("oversized", f"{len(data)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return Rejection("not_json", str(exc)[:200])
    if not isinstance(payload, dict):
        return Rejection("bad_field", "the message is not a JSON object")
    for key in ("device", "domain", "readings", "signature"):
        if key not in payload:
            return Rejection("missing_field", key)
    device = payload["device"]
    if not isinstance(device, str) or not is_hex_address(device):
        return Rejection("bad_field", "device is not an address")
    claimed = payload["domain"]
    if not isinstance(claimed, dict) or set(claimed) != {"chainId", "verifyingContract"}:
        return Rejection("bad_field", "domain must hold chainId and verifyingContract")
    if claimed["chainId"] != domain.chain_id or str(claimed["verifyingContract"]).lower() != (
        domain.verifying_contract.lower()
    ):
        return Rejection("wrong_domain", f"signed for chain {claimed['chainId']} / {claimed['verifyingContract']}")
    readings = _readings(payload["readings"])
    if isinstance(readings, Rejection):
        return readings
    signature = payload["signature"]
    if not isinstance(signature, str) or not signature.startswith("0x") or len(signature) != 132:
        return Rejection("bad_field", "signature is not 65 bytes of 0x hex")
    try:
        signable = encode_typed_data(full_message=_typed(device, payload["readings"], domain))
        signer = Account.recover_message(signable, signature=bytes.fromhex(signature[2:]))
    except Exception as exc:  # eth-account raises several types for a malformed signature
        return Rejection("bad_signature", str(exc)[:200])
    if signer.lower() != device.lower():
        return Rejection("bad_signature", f"signed by {signer}, not by {device}")
    return SensorMessage(to_checksum_address(device), readings)


def _readings(value: Any) -> tuple[SignedReading, ...] | Rejection:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_READINGS:
        return Rejection("bad_field", f"readings must be a list of 1..{MAX_READINGS}")
    out: list[SignedReading] = []
    for i, r in enumerate(value):
        where = f"readings[{i}]"
        if not isinstance(r, dict):
            return Rejection("bad_field", f"{where} is not an object")
        for key in ("sequence", "timestamp", "values"):
            if key not in r:
                return Rejection("missing_field", f"{where}.{key}")
        if not _uint(r["sequence"], 64) or not _uint(r["timestamp"], 64):
            return Rejection("bad_field", f"{where}: sequence and timestamp are unsigned integers")
        if out and r["sequence"] <= out[-1].sequence:
            return Rejection("bad_field", f"{where}: sequences must ascend within a message")
        values = r["values"]
        if not isinstance(values, list) or not 0 < len(values) <= MAX_VALUES:
            return Rejection("bad_field", f"{where}.values must be a list of 1..{MAX_VALUES}")
        measurements = []
        for j, v in enumerate(values):
            m = _measurement(v, f"{where}.values[{j}]")
            if isinstance(m, Rejection):
                return m
            measurements.append(m)
        out.append(SignedReading(r["sequence"], r["timestamp"], tuple(measurements)))
    return tuple(out)


def _measurement(v: Any, where: str) -> Measurement | Rejection:
    if not isinstance(v, dict):
        return Rejection("bad_field", f"{where} is not an object")
    for key in ("quantity", "unit", "value", "decimals"):
        if key not in v:
            return Rejection("missing_field", f"{where}.{key}")
    if not isinstance(v["quantity"], str) or not isinstance(v["unit"], str) or not v["quantity"]:
        return Rejection("bad_field", f"{where}: quantity and unit are strings")
    value = v["value"]
    if isinstance(value, float):
        kind = "NaN" if math.isnan(value) else "a float"
        return Rejection("bad_value", f"{where}.value is {kind}: values are fixed-point integers")
    if isinstance(value, bool) or not isinstance(value, int) or not -INT64 <= value < INT64:
        return Rejection("bad_value", f"{where}.value is not an int64")
    if not _uint(v["decimals"], 8) or v["decimals"] > MAX_DECIMALS:
        return Rejection("bad_field", f"{where}.decimals is not 0..{MAX_DECIMALS}")
    return Measurement(v["quantity"], v["unit"], value, v["decimals"])


def _uint(value: Any, bits: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**bits
