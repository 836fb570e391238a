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

from eth_abi import encode
from eth_utils import is_address, keccak, to_checksum_address

from carbonix import eip712
from carbonix.emission_batch import EmissionBatchInput
from carbonix.exceptions import CarbonixValueError

DOMAIN_NAME = "CarboniX EmissionDataLog"
DOMAIN_VERSION = "1"
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


def domain_separator(chain_id: int, datalog: str) -> bytes:
    """The data log's EIP-712 domain separator on chain ``chain_id``."""
    return eip712.domain_separator(DOMAIN_NAME, DOMAIN_VERSION, chain_id, _address(datalog))


def batch_struct_hash(batch: EmissionBatchInput) -> bytes:
    """hashStruct(EmissionBatch): keccak256(typehash || every field as one ABI word)."""
    return keccak(encode(["bytes32", *FIELD_TYPES], [EMISSION_BATCH_TYPEHASH, *batch.as_tuple()]))


def batch_digest(batch: EmissionBatchInput, chain_id: int, datalog: str) -> bytes:
    """The digest an operator signs (the contract's ``batchDigest(batch)``)."""
    return eip712.typed_digest(domain_separator(chain_id, datalog), batch_struct_hash(batch))


def sign_batch(private_key: bytes | str, batch: EmissionBatchInput, chain_id: int, datalog: str) -> bytes:
    """An operator's 65-byte signature ``r || s || v`` (v 27 or 28, low s) of the batch digest."""
    return eip712.sign_digest(private_key, batch_digest(batch, chain_id, datalog))


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The address that signed ``digest``; rejects malformed and high-s signatures as the contract does."""
    return str(to_checksum_address(eip712.recover_address(digest, signature)))


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
