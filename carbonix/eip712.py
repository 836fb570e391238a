"""EIP-712 pieces shared by every signed message in CarboniX: the domain separator, the digest,
and canonical (low-s, v 27/28) ECDSA signatures over a digest and their recovery.

Sensor messages (``oracle.messages``, domain "CarboniX Oracle") and operator batch signatures
(``carbonix.quorum``, domain "CarboniX EmissionDataLog") both use these, so both refuse the same
malformed and malleable signatures the contracts refuse (OpenZeppelin ECDSA).
"""

from __future__ import annotations

from functools import lru_cache

from eth_keys import keys
from eth_keys.datatypes import PrivateKey

from carbonix.exceptions import CarbonixValueError

try:  # the C keccak of safe-pysha3 is ~5x faster than eth-hash's pycryptodome backend
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - same digests, slower
    from eth_hash.auto import keccak as _eth_hash_keccak

    def keccak(data: bytes) -> bytes:
        return _eth_hash_keccak(data)


DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
SIGNATURE_LENGTH = 65
# secp256k1 group order; a signature with s above half of it is the malleable twin of a valid one.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@lru_cache(maxsize=256)
def text_hash(value: str) -> bytes:
    """keccak256 of a string, as EIP-712 encodes ``string`` fields."""
    return keccak(value.encode())


@lru_cache(maxsize=64)
def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    """hashStruct(EIP712Domain) for ``{name, version, chainId, verifyingContract}``."""
    contract = bytes.fromhex(verifying_contract.removeprefix("0x"))
    if len(contract) != 20:
        raise CarbonixValueError(f"{verifying_contract!r} is not a contract address")
    return keccak(
        text_hash(DOMAIN_TYPE)
        + text_hash(name)
        + text_hash(version)
        + chain_id.to_bytes(32, "big")
        + contract.rjust(32, b"\0")
    )


def typed_digest(separator: bytes, struct_hash: bytes) -> bytes:
    """The digest signed: keccak256(0x1901 || domainSeparator || hashStruct(message))."""
    return keccak(b"\x19\x01" + separator + struct_hash)


@lru_cache(maxsize=4096)
def _private_key(raw: bytes) -> PrivateKey:
    return PrivateKey(raw)


def private_key_bytes(private_key: bytes | str) -> bytes:
    return bytes.fromhex(private_key.removeprefix("0x")) if isinstance(private_key, str) else bytes(private_key)


def signer_address(private_key: bytes | str) -> bytes:
    """The 20-byte address of a private key."""
    return _private_key(private_key_bytes(private_key)).public_key.to_canonical_address()


def sign_digest(private_key: bytes | str, digest: bytes) -> bytes:
    """A 65-byte signature ``r || s || v`` with v 27 or 28 and s in the lower half of the order."""
    sig = _private_key(private_key_bytes(private_key)).sign_msg_hash(digest)
    r, s, v = sig.r, sig.s, sig.v
    if s > SECP256K1_N // 2:  # the canonical twin: only low s is accepted anywhere
        s, v = SECP256K1_N - s, v ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


def recover_address(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed ``digest``; refuses malformed and high-s signatures."""
    if len(signature) != SIGNATURE_LENGTH:
        raise CarbonixValueError(f"a signature is {SIGNATURE_LENGTH} bytes, not {len(signature)}")
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    if v not in (27, 28) or not 0 < r < SECP256K1_N or not 0 < s <= SECP256K1_N // 2:
        raise CarbonixValueError("not a canonical (v 27/28, low s) ECDSA signature")
    return keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest).to_canonical_address()
