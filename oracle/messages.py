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
from functools import lru_cache
from typing import Any

from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import is_hex_address, to_checksum_address

from carbonix import eip712
from carbonix.eip712 import keccak, recover_address, sign_digest, signer_address, text_hash, typed_digest

DOMAIN_NAME = "CarboniX Oracle"
DOMAIN_VERSION = "1"
MAX_MESSAGE_BYTES = 16_384
MAX_READINGS = 64
MAX_VALUES = 16
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
    hash: bytes  # hashStruct(Reading): the signed content, bound into the reading's Merkle leaf


@dataclass(frozen=True)
class SensorMessage:
    device: str
    readings: tuple[SignedReading, ...]
    digest: str  # the EIP-712 digest the device signed: one message is stored once
    signature: str


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str


# EIP-712 encodeType: the struct, then the structs it references sorted by name.
MEASUREMENT_TYPE = "Measurement(string quantity,string unit,int64 value,uint8 decimals)"
_READING_STRUCT = "Reading(uint64 sequence,uint64 timestamp,Measurement[] values)"
READING_TYPE = _READING_STRUCT + MEASUREMENT_TYPE
MESSAGE_TYPE = "SensorMessage(address device,Reading[] readings)" + MEASUREMENT_TYPE + _READING_STRUCT
_MEASUREMENT_TYPEHASH = keccak(MEASUREMENT_TYPE.encode())
_READING_TYPEHASH = keccak(READING_TYPE.encode())
_MESSAGE_TYPEHASH = keccak(MESSAGE_TYPE.encode())


def _word(value: int) -> bytes:
    """A signed or unsigned integer as one ABI word (two's complement)."""
    return (value % 2**256).to_bytes(32, "big")


@lru_cache(maxsize=65_536)  # sensors repeat values (a temperature of 28, a humidity of 67) often
def measurement_hash(quantity: str, unit: str, value: int, decimals: int) -> bytes:
    return keccak(_MEASUREMENT_TYPEHASH + text_hash(quantity) + text_hash(unit) + _word(value) + _word(decimals))


def reading_hash(sequence: int, timestamp: int, measurement_hashes: list[bytes]) -> bytes:
    """hashStruct(Reading): what a reading's Merkle leaf binds, so a proof leads back to a signature."""
    return keccak(_READING_TYPEHASH + _word(sequence) + _word(timestamp) + keccak(b"".join(measurement_hashes)))


def domain_separator(domain: Domain) -> bytes:
    return eip712.domain_separator(DOMAIN_NAME, DOMAIN_VERSION, domain.chain_id, domain.verifying_contract.lower())


def message_digest(device: str, reading_hashes: list[bytes], domain: Domain) -> bytes:
    """The EIP-712 digest a device signs: keccak(0x1901 || domainSeparator || hashStruct(message))."""
    struct = keccak(_MESSAGE_TYPEHASH + bytes.fromhex(device[2:]).rjust(32, b"\0") + keccak(b"".join(reading_hashes)))
    return typed_digest(domain_separator(domain), struct)


def _json_reading_hash(r: dict[str, Any]) -> bytes:
    values = [measurement_hash(v["quantity"], v["unit"], v["value"], v["decimals"]) for v in r["values"]]
    return reading_hash(r["sequence"], r["timestamp"], values)


def sign_message(private_key: bytes | str, readings: list[dict[str, Any]], domain: Domain) -> dict[str, Any]:
    """The JSON-ready message a device publishes (the simulator and firmware tests use it)."""
    device = checksum("0x" + signer_address(private_key).hex())
    digest = message_digest(device, [_json_reading_hash(r) for r in readings], domain)
    return {
        "device": device,
        "domain": {"chainId": domain.chain_id, "verifyingContract": to_checksum_address(domain.verifying_contract)},
        "readings": readings,
        "signature": "0x" + sign_digest(private_key, digest).hex(),
    }


checksum = lru_cache(maxsize=65_536)(to_checksum_address)


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
        digest = message_digest(device, [r.hash for r in readings], domain)
        signer = recover_address(digest, bytes.fromhex(signature[2:]))
    except (ValueError, BadSignature, ValidationError) as exc:
        return Rejection("bad_signature", str(exc)[:200])
    if signer != bytes.fromhex(device[2:]):
        return Rejection("bad_signature", f"signed by {checksum('0x' + signer.hex())}, not by {device}")
    return SensorMessage(checksum(device), readings, "0x" + digest.hex(), signature)


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
        hashes = [measurement_hash(m.quantity, m.unit, m.value, m.decimals) for m in measurements]
        out.append(
            SignedReading(
                r["sequence"], r["timestamp"], tuple(measurements), reading_hash(r["sequence"], r["timestamp"], hashes)
            )
        )
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
