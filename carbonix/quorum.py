"""The m-of-n operator quorum of the data log: the EIP-712 digest of a batch and operator signatures.

Each oracle operator validates a batch on its own and signs the digest of the whole batch in the
data log's own EIP-712 domain; the data log accepts ``commitBatchSigned(batch, signatures)`` with
at least m operator signatures (see IEmissionDataLog). The typed data::

    domain  {name: "CarboniX EmissionDataLog", version: "1", chainId, verifyingContract: <data log>}
    EmissionBatch(bytes32 batchId,address participant,bytes32 projectKey,uint40 periodStart,
                  uint40 periodEnd,uint32 readingCount,bytes32 readingsRoot,uint64 kgCO2e,
                  uint8 qualityScore,uint192 gradeCounts,uint8 flow)

``flow`` is the enum's index (0 emission, 1 removal) and ``gradeCounts`` the packed histogram, so
the struct hash covers exactly the words the contract receives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from eth_abi import encode
from eth_keys import keys
from eth_utils import is_address, keccak, to_checksum_address

from carbonix.exceptions import CarbonixValueError

if TYPE_CHECKING:  # carbonix.ledger imports this module
    from carbonix.ledger import EmissionBatchInput

DOMAIN_NAME = "CarboniX EmissionDataLog"
DOMAIN_VERSION = "1"
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
EMISSION_BATCH_TYPE = (
    "EmissionBatch(bytes32 batchId,address participant,bytes32 projectKey,uint40 periodStart,uint40 periodEnd,"
    "uint32 readingCount,bytes32 readingsRoot,uint64 kgCO2e,uint8 qualityScore,uint192 gradeCounts,uint8 flow)"
)
EMISSION_BATCH_TYPEHASH = keccak(text=EMISSION_BATCH_TYPE)
# The ABI types of the fields, in struct order (the flow enum as uint8).
FIELD_TYPES = [
    "bytes32",
    "address",
    "bytes32",
    "uint40",
    "uint40",
    "uint32",
    "bytes32",
    "uint64",
    "uint8",
    "uint192",
    "uint8",
]
SIGNATURE_LENGTH = 65
# secp256k1 group order; a signature with s above half of it is the malleable twin the contract refuses.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def domain_separator(chain_id: int, datalog: str) -> bytes:
    """The data log's EIP-712 domain separator on chain ``chain_id``."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text=DOMAIN_TYPE),
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                _address(datalog),
            ],
        )
    )


def batch_struct_hash(batch: EmissionBatchInput) -> bytes:
    """hashStruct(EmissionBatch): keccak256(typehash || every field as one ABI word)."""
    return keccak(encode(["bytes32", *FIELD_TYPES], [EMISSION_BATCH_TYPEHASH, *batch.as_tuple()]))


def batch_digest(batch: EmissionBatchInput, chain_id: int, datalog: str) -> bytes:
    """The digest an operator signs (the contract's ``batchDigest(batch)``)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, datalog) + batch_struct_hash(batch))


def sign_batch(private_key: bytes | str, batch: EmissionBatchInput, chain_id: int, datalog: str) -> bytes:
    """An operator's 65-byte signature ``r || s || v`` (v 27 or 28, low s) of the batch digest."""
    raw = bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else bytes(private_key)
    key = keys.PrivateKey(raw)
    sig = key.sign_msg_hash(batch_digest(batch, chain_id, datalog))
    r, s, v = sig.r, sig.s, sig.v
    if s > SECP256K1_N // 2:  # the canonical twin: the contract accepts only low s
        s, v = SECP256K1_N - s, v ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The address that signed ``digest``; rejects malformed and high-s signatures as the contract does."""
    if len(signature) != SIGNATURE_LENGTH:
        raise CarbonixValueError(f"a signature is {SIGNATURE_LENGTH} bytes, not {len(signature)}")
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (27, 28) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise CarbonixValueError("not a canonical (v 27/28, low s) ECDSA signature")
    public = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    return str(to_checksum_address(public.to_checksum_address()))


def _address(value: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise CarbonixValueError(f"{value!r} is not a contract address")
    return str(to_checksum_address(value))


def pack_signatures(digest: bytes, signatures: Iterable[bytes]) -> bytes:
    """The signatures ordered by ascending signer address and concatenated, as ``commitBatchSigned``
    takes them. A signature over another digest recovers to some other address: it is kept, and
    the contract refuses it by name (``DataLogSignerNotOperator``)."""
    signed = sorted((int(recover_signer(digest, sig), 16), sig) for sig in signatures)
    return b"".join(sig for _, sig in signed)
