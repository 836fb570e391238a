"""OpenZeppelin ``StandardMerkleTree`` in Python, root- and proof-identical to the JS library.

Same construction as ``@openzeppelin/merkle-tree`` (``StandardMerkleTree.of`` with the default
``sortLeaves: true``), so a tree built here and one built in JS from the same values have the same
root, the same proof for every value, and interchangeable ``standard-v1`` JSON dumps:

- leaf = ``keccak256(keccak256(abi.encode(types, value)))``; hashing twice keeps a leaf from ever
  equalling an internal node (second-preimage protection), which is what OpenZeppelin
  ``MerkleProof.verify(proof, root, keccak256(bytes.concat(keccak256(abi.encode(...)))))`` expects;
- internal node = ``keccak256`` of its two children, smaller first (sorted pair);
- leaves are sorted by hash (stable, so equal values keep input order) and laid out as a complete
  binary tree in one array: node ``i`` has children ``2i+1`` and ``2i+2``, the root is ``tree[0]``
  and the k-th smallest leaf sits at ``tree[len(tree) - 1 - k]``.

Values are sequences matching ``types``. Integers may be given as ``int`` or as decimal / ``0x``
hex strings (the dump writes them as decimal strings, as the JS library expects for large numbers);
addresses as ``0x`` hex (a mixed-case address must carry a valid EIP-55 checksum); ``bytes``
types as ``bytes`` or ``0x`` hex.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from eth_abi import encode
from eth_abi.abi import is_encodable_type
from eth_hash.auto import keccak
from eth_utils import is_checksum_address

from carbonix.exceptions import CarbonixLookupError, CarbonixValueError

PARTICIPANT_LEAF: tuple[str, ...] = ("string", "address", "uint64")
"""TGO participant leaf: (organisation id, wallet, certified-until unix seconds)."""
PROJECT_LEAF: tuple[str, ...] = ("string", "address", "bool")
"""TGO project leaf: (project id e.g. ``TH-CCEP-2025-0001``, owner wallet, additionality)."""
DUMP_FORMAT = "standard-v1"

_INT_TYPE = re.compile(r"u?int\d*")
_BYTES_TYPE = re.compile(r"bytes\d*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_NODE = re.compile(r"0x[0-9a-fA-F]{64}")


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """Hash of an internal node: keccak256 of the two children, smaller first."""
    return keccak(a + b if a <= b else b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root reached by folding ``proof`` onto ``leaf`` (OpenZeppelin ``processProof``)."""
    node = leaf
    for sibling in proof:
        node = standard_node_hash(node, sibling)
    return node


def standard_leaf_hash(types: Sequence[str], value: Sequence[Any]) -> bytes:
    """``keccak256(keccak256(abi.encode(types, value)))``, after checking ``value`` fits."""
    return _prepare(_check_types(types), value, "value")[1]


class StandardMerkleTree:
    """A Merkle tree of ABI-encoded values, laid out exactly like OpenZeppelin's JS library.

    Build one with :meth:`of` or :meth:`load`; the constructor takes an already validated layout.
    """

    def __init__(
        self,
        tree: list[bytes],
        values: list[tuple[Any, ...]],
        tree_indices: list[int],
        types: tuple[str, ...],
    ) -> None:
        self._tree = tree
        self._values = values
        self._tree_indices = tree_indices
        self._types = types
        # Like the JS library: a value present twice is found at its last position.
        self._lookup = {tree[t]: i for i, t in enumerate(tree_indices)}

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], types: Sequence[str]) -> StandardMerkleTree:
        """Build the tree of ``values`` (each a sequence matching ``types``)."""
        types_ = _check_types(types)
        if not values:
            raise CarbonixValueError("a Merkle tree needs at least one leaf, got none")
        prepared = [_prepare(types_, v, f"leaf {i}") for i, v in enumerate(values)]
        normalized = [value for value, _ in prepared]
        hashes = [leaf for _, leaf in prepared]
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        size = 2 * len(hashes) - 1
        tree: list[bytes] = [b""] * size
        tree_indices = [0] * len(hashes)
        for rank, value_index in enumerate(order):
            tree_indices[value_index] = size - 1 - rank
            tree[size - 1 - rank] = hashes[value_index]
        for i in range(size - len(hashes) - 1, -1, -1):
            tree[i] = standard_node_hash(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tree, normalized, tree_indices, types_)

    @classmethod
    def load(cls, data: Mapping[str, Any] | str) -> StandardMerkleTree:
        """Rebuild a tree from a ``standard-v1`` dump (a dict, or its JSON text), checking it."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise CarbonixValueError(f"Merkle dump is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise CarbonixValueError("Merkle dump must be a JSON object")
        if data.get("format") != DUMP_FORMAT:
            raise CarbonixValueError(f"unknown Merkle dump format {data.get('format')!r}, expected {DUMP_FORMAT!r}")
        types = _check_types(data.get("leafEncoding"))
        tree = _load_tree(data.get("tree"))
        entries = data.get("values")
        if not isinstance(entries, list) or not entries:
            raise CarbonixValueError("Merkle dump has no values")
        values: list[tuple[Any, ...]] = []
        tree_indices: list[int] = []
        first_leaf = len(tree) // 2  # nodes from here on have no children
        for i, entry in enumerate(entries):
            where = f"dump value {i}"
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise CarbonixValueError(f"{where} is not an object with 'value' and 'treeIndex'")
            index = entry.get("treeIndex")
            if not _is_int(index) or not first_leaf <= index < len(tree):
                raise CarbonixValueError(f"{where}: treeIndex {index!r} is not a leaf of the tree")
            value, leaf = _prepare(types, entry["value"], where)
            if leaf != tree[index]:
                raise CarbonixValueError(f"{where} does not hash to tree node {index}")
            values.append(value)
            tree_indices.append(index)
        return cls(tree, values, tree_indices, types)

    @staticmethod
    def verify(root: str | bytes, types: Sequence[str], value: Sequence[Any], proof: Sequence[str | bytes]) -> bool:
        """Whether ``proof`` shows ``value`` (a leaf of ``types``) is in the tree of ``root``."""
        leaf = standard_leaf_hash(types, value)
        nodes = [_node_bytes(p, f"proof element {i}") for i, p in enumerate(proof)]
        return process_proof(leaf, nodes) == _node_bytes(root, "root")

    @property
    def root(self) -> str:
        """The root as 0x-prefixed lowercase hex (what the contracts store as ``bytes32``)."""
        return _hex(self._tree[0])

    @property
    def types(self) -> tuple[str, ...]:
        """The ABI types of every leaf (OpenZeppelin's ``leafEncoding``)."""
        return self._types

    @property
    def values(self) -> tuple[tuple[Any, ...], ...]:
        """The leaf values in the order they were given (ints as ``int``)."""
        return tuple(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def leaf_hash(self, value: Sequence[Any]) -> str:
        """The double-hashed leaf of ``value`` as 0x hex (whether or not it is in the tree)."""
        return _hex(standard_leaf_hash(self._types, value))

    def value_hash(self, value: Sequence[Any]) -> str:
        """The single hash ``keccak256(abi.encode(value))`` as 0x hex: what on-chain verifiers that
        apply the outer leaf hash themselves (``EmissionDataLog.verifyReading``) take."""
        return _hex(keccak(_encode(self._types, value)))

    def get_proof(self, index_or_value: int | Sequence[Any]) -> list[str]:
        """Sibling hashes from the leaf up to the root, for a value or its index in the input."""
        if isinstance(index_or_value, int):
            index = index_or_value
            if not 0 <= index < len(self._values):
                raise CarbonixLookupError(
                    f"leaf index {index} is out of range: the tree has {len(self._values)} leaves"
                )
        else:
            leaf = standard_leaf_hash(self._types, index_or_value)
            if leaf not in self._lookup:
                raise CarbonixLookupError(f"value {index_or_value!r} is not a leaf of this tree")
            index = self._lookup[leaf]
        node = self._tree_indices[index]
        proof = []
        while node > 0:
            proof.append(_hex(self._tree[node + 1 if node % 2 else node - 1]))
            node = (node - 1) // 2
        return proof

    def dump(self) -> dict[str, Any]:
        """The tree in OpenZeppelin's ``standard-v1`` JSON shape (``StandardMerkleTree.load``)."""
        return {
            "format": DUMP_FORMAT,
            "leafEncoding": list(self._types),
            "tree": [_hex(node) for node in self._tree],
            "values": [
                {"value": _jsonable(v), "treeIndex": t} for v, t in zip(self._values, self._tree_indices, strict=True)
            ],
        }


def _check_types(types: object) -> tuple[str, ...]:
    if isinstance(types, str) or not isinstance(types, Sequence) or not types:
        raise CarbonixValueError(f"leaf types must be a non-empty list of ABI types, got {types!r}")
    for t in types:
        if not isinstance(t, str) or not is_encodable_type(t):
            raise CarbonixValueError(f"{t!r} is not an ABI type")
    return tuple(types)


def _encode(types: tuple[str, ...], value: object, where: str = "value") -> bytes:
    """``abi.encode`` of ``value`` after checking it fits ``types``."""
    return _prepare_encoded(types, value, where)[1]


def _prepare(types: tuple[str, ...], value: object, where: str) -> tuple[tuple[Any, ...], bytes]:
    """Check ``value`` against ``types``; return it (ints as ``int``) and its leaf hash."""
    out, encoded = _prepare_encoded(types, value, where)
    return out, keccak(keccak(encoded))


def _prepare_encoded(types: tuple[str, ...], value: object, where: str) -> tuple[tuple[Any, ...], bytes]:
    """Check ``value`` against ``types``; return it (ints as ``int``) and its ABI encoding."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise CarbonixValueError(f"{where}: expected a list of {len(types)} values, got {value!r}")
    if len(value) != len(types):
        raise CarbonixValueError(f"{where}: expected {len(types)} values ({', '.join(types)}), got {len(value)}")
    out = tuple(_coerce(t, v, f"{where}, field {k} ({t})") for k, (t, v) in enumerate(zip(types, value, strict=True)))
    # Addresses go to eth-abi as raw bytes: same encoding, without its slow hex parsing.
    raw = tuple(bytes.fromhex(v[2:]) if t == "address" else v for t, v in zip(types, out, strict=True))
    try:
        encoded = encode(types, raw)
    except Exception as exc:  # eth-abi raises several unrelated types for a bad value
        shown = ", ".join(types)
        raise CarbonixValueError(f"{where}: {value!r} does not encode as ({shown}): {exc}") from exc
    return out, encoded


def _coerce(abi_type: str, v: object, where: str) -> Any:
    if _INT_TYPE.fullmatch(abi_type):
        if _is_int(v):
            return v
        if isinstance(v, str):
            try:
                return int(v, 16) if v.lower().startswith(("0x", "-0x")) else int(v, 10)
            except ValueError:
                pass
        raise CarbonixValueError(f"{where}: {v!r} is not an integer")
    if abi_type == "address":
        if not isinstance(v, str) or not _ADDRESS.fullmatch(v):
            raise CarbonixValueError(f"{where}: {v!r} is not a 0x-prefixed 20-byte address")
        if v[2:] not in (v[2:].lower(), v[2:].upper()) and not is_checksum_address(v):
            raise CarbonixValueError(f"{where}: {v} has an invalid EIP-55 checksum")
        return v
    if abi_type == "bool":
        if not isinstance(v, bool):
            raise CarbonixValueError(f"{where}: {v!r} is not true or false")
        return v
    if abi_type == "string":
        if not isinstance(v, str):
            raise CarbonixValueError(f"{where}: {v!r} is not a string")
        return v
    if _BYTES_TYPE.fullmatch(abi_type) and isinstance(v, str):
        try:
            return bytes.fromhex(v.removeprefix("0x"))
        except ValueError:
            raise CarbonixValueError(f"{where}: {v!r} is not 0x hex") from None
    return v  # arrays and tuples: eth-abi checks them


def _jsonable(v: object) -> object:
    """A value as the JS library would take it from JSON: big ints as decimal strings."""
    if isinstance(v, bool | str) or v is None:
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return _hex(v)
    if isinstance(v, Sequence):
        return [_jsonable(x) for x in v]
    return v


def _load_tree(nodes: object) -> list[bytes]:
    if not isinstance(nodes, list) or not nodes or len(nodes) % 2 == 0:
        raise CarbonixValueError("Merkle dump 'tree' must be a list of 2n-1 nodes")
    tree = [_node_bytes(n, f"tree node {i}") for i, n in enumerate(nodes)]
    for i in range(len(tree) // 2):
        if tree[i] != standard_node_hash(tree[2 * i + 1], tree[2 * i + 2]):
            raise CarbonixValueError(f"Merkle dump is invalid: node {i} is not the hash of its children")
    return tree


def _node_bytes(node: object, where: str) -> bytes:
    if isinstance(node, bytes) and len(node) == 32:
        return node
    if isinstance(node, str) and _NODE.fullmatch(node):
        return bytes.fromhex(node[2:])
    raise CarbonixValueError(f"{where}: {node!r} is not a 32-byte 0x hex hash")


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()
