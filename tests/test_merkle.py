"""carbonix.merkle against @openzeppelin/merkle-tree (run through node) and on its own."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonix.exceptions import CarbonixLookupError, CarbonixValueError
from carbonix.merkle import (
    PARTICIPANT_LEAF,
    PROJECT_LEAF,
    StandardMerkleTree,
    process_proof,
)

ROOT = Path(__file__).parents[1]
PARITY_SCRIPT = ROOT / "tests" / "js" / "merkle_parity.mjs"
EXPIRY = 1_767_225_600  # 2026-01-01T00:00:00Z


class JsMerkle:
    """One long-lived ``node tests/js/merkle_parity.mjs``: a JSON line in, a JSON line out."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            ["node", str(PARITY_SCRIPT)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._proc.stdout.readline())
        assert "error" not in reply, reply["error"]
        return reply

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=10)


@pytest.fixture(scope="module")
def js() -> Iterator[JsMerkle]:
    node = JsMerkle()
    yield node
    node.close()


def _wallet(rng: random.Random) -> str:
    return to_checksum_address(rng.randbytes(20))


def participants(n: int, seed: int = 1) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    return [(f"TGO-ORG-{i:05d}", _wallet(rng), EXPIRY + rng.randrange(10**8)) for i in range(n)]


def projects(n: int, seed: int = 2) -> list[tuple[str, str, bool]]:
    rng = random.Random(seed)
    return [(f"TH-CCEP-2025-{i:04d}", _wallet(rng), rng.random() < 0.5) for i in range(n)]


def assert_parity(js: JsMerkle, types: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """Same root, same proof for every leaf (by index and by value), and swappable dumps."""
    py = StandardMerkleTree.of(values, types)
    py_dump = py.dump()
    as_json = [entry["value"] for entry in py_dump["values"]]  # what JS takes: ints as strings
    built = js.ask(op="build", types=list(types), values=as_json)

    assert built["root"] == py.root
    assert built["proofs"] == [py.get_proof(i) for i in range(len(values))]
    assert built["valueProofs"] == [py.get_proof(v) for v in values]
    assert built["dump"] == py_dump
    for value, proof in zip(values, built["proofs"], strict=True):
        assert StandardMerkleTree.verify(built["root"], types, value, proof)

    from_js = StandardMerkleTree.load(built["dump"])
    assert from_js.root == py.root
    assert [from_js.get_proof(i) for i in range(len(values))] == built["proofs"]
    loaded_by_js = js.ask(op="load", dump=py_dump)
    assert loaded_by_js["root"] == py.root
    assert loaded_by_js["proofs"] == built["proofs"]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1024])
@pytest.mark.parametrize("types", [PARTICIPANT_LEAF, PROJECT_LEAF], ids=["participant", "project"])
def test_of_matches_openzeppelin(js: JsMerkle, types: tuple[str, ...], size: int) -> None:
    values = participants(size) if types == PARTICIPANT_LEAF else projects(size)
    assert_parity(js, types, values)


def test_of_matches_openzeppelin_with_duplicates_and_unicode(js: JsMerkle) -> None:
    leaf = ("องค์กร-ไทย 🌏", "0x" + "ab" * 20, 0)
    values = [leaf, ("", "0x" + "00" * 20, 2**64 - 1), leaf, leaf]
    assert_parity(js, PARTICIPANT_LEAF, values)
    # Like the JS library, a duplicated value is proved at its last position.
    tree = StandardMerkleTree.of(values, PARTICIPANT_LEAF)
    assert tree.get_proof(leaf) == tree.get_proof(3)


addresses = st.builds(
    lambda raw, checksum: to_checksum_address(raw) if checksum else "0x" + raw.hex(),
    st.binary(min_size=20, max_size=20),
    st.booleans(),
)
participant_leaves = st.tuples(st.text(max_size=40), addresses, st.integers(0, 2**64 - 1))
project_leaves = st.tuples(st.text(max_size=40), addresses, st.booleans())


@settings(max_examples=60, deadline=None)
@given(values=st.lists(participant_leaves, min_size=1, max_size=40))
def test_fuzz_participants_match_openzeppelin(js: JsMerkle, values: list[tuple[Any, ...]]) -> None:
    assert_parity(js, PARTICIPANT_LEAF, values)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(project_leaves, min_size=1, max_size=40))
def test_fuzz_projects_match_openzeppelin(js: JsMerkle, values: list[tuple[Any, ...]]) -> None:
    assert_parity(js, PROJECT_LEAF, values)


def test_leaf_hash_is_what_the_contracts_compute() -> None:
    value = ("TGO-ORG-00001", "0x" + "12" * 20, EXPIRY)
    tree = StandardMerkleTree.of([value], PARTICIPANT_LEAF)
    inner = keccak(encode(["string", "address", "uint64"], list(value)))
    assert tree.leaf_hash(value) == "0x" + keccak(inner).hex()
    assert tree.root == tree.leaf_hash(value)  # a one-leaf tree is its leaf, with an empty proof
    assert tree.get_proof(0) == []
    assert tree.leaf_hash(("TGO-ORG-00001", "0x" + "12" * 20, str(EXPIRY))) == tree.root


def test_verify_rejects_tampered_proof_and_value() -> None:
    values = participants(7)
    tree = StandardMerkleTree.of(values, PARTICIPANT_LEAF)
    org, wallet, expiry = values[3]
    proof = tree.get_proof(3)
    assert StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[3], proof)

    flipped = proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1")
    assert not StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[3], [flipped, *proof[1:]])
    assert not StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[3], proof[:-1])
    assert not StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[3], tree.get_proof(4))
    for tampered in [
        (org + "x", wallet, expiry),
        (org, values[4][1], expiry),
        (org, wallet, expiry + 1),
    ]:
        assert not StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, tampered, proof)
    other_root = StandardMerkleTree.of(values[:6], PARTICIPANT_LEAF).root
    assert not StandardMerkleTree.verify(other_root, PARTICIPANT_LEAF, values[3], proof)
    with pytest.raises(CarbonixValueError, match="32-byte"):
        StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[3], ["0x1234"])


def test_verify_rejects_flipped_additionality() -> None:
    values = projects(3)
    tree = StandardMerkleTree.of(values, PROJECT_LEAF)
    project_id, owner, additional = values[1]
    proof = tree.get_proof(1)
    assert not StandardMerkleTree.verify(tree.root, PROJECT_LEAF, (project_id, owner, not additional), proof)


def test_internal_node_cannot_be_verified_as_leaf() -> None:
    """Second preimage: a value whose encoding is an internal node's two children."""
    types = ("bytes32", "bytes32")
    values = [(keccak(bytes([i])), keccak(bytes([i + 100]))) for i in range(4)]
    tree = StandardMerkleTree.of(values, types)
    nodes = [bytes.fromhex(n[2:]) for n in tree.dump()["tree"]]  # 7 nodes, node 1 is internal
    left, right = sorted([nodes[3], nodes[4]])
    # The path from node 1 is a real path to the root, and single hashing would accept it...
    assert process_proof(nodes[1], [nodes[2]]) == nodes[0]
    assert keccak(encode(list(types), [left, right])) == nodes[1]
    # ...but a leaf is hashed twice, so the children posing as a value do not verify.
    proof = ["0x" + nodes[2].hex()]
    assert not StandardMerkleTree.verify(tree.root, types, (left, right), proof)
    with pytest.raises(CarbonixLookupError):
        tree.get_proof((left, right))


def test_empty_tree_raises() -> None:
    with pytest.raises(CarbonixValueError, match="at least one leaf"):
        StandardMerkleTree.of([], PARTICIPANT_LEAF)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("TGO-1", "0x" + "11" * 20), "expected 3 values"),
        (("TGO-1", "0x" + "11" * 20, EXPIRY, True), "expected 3 values"),
        ("TGO-1", "expected a list"),
        (("TGO-1", "0x" + "11" * 20, 2**64), "does not encode"),
        (("TGO-1", "0x" + "11" * 20, -1), "does not encode"),
        (("TGO-1", "0x" + "11" * 20, "12a"), "not an integer"),
        (("TGO-1", "0x" + "11" * 20, True), "not an integer"),
        (("TGO-1", "0x" + "11" * 19, EXPIRY), "20-byte address"),
        (("TGO-1", "0x" + "aB" * 20, EXPIRY), "checksum"),
        ((42, "0x" + "11" * 20, EXPIRY), "not a string"),
    ],
)
def test_of_rejects_bad_participant_values(value: Any, message: str) -> None:
    with pytest.raises(CarbonixValueError, match=message):
        StandardMerkleTree.of([participants(1)[0], value], PARTICIPANT_LEAF)


def test_of_rejects_bad_types_and_non_bool_additionality() -> None:
    with pytest.raises(CarbonixValueError, match="not an ABI type"):
        StandardMerkleTree.of([("a", 1)], ["string", "uint65"])
    with pytest.raises(CarbonixValueError, match="non-empty list"):
        StandardMerkleTree.of([("a",)], [])
    with pytest.raises(CarbonixValueError, match="not true or false"):
        StandardMerkleTree.of([("TH-CCEP-2025-0001", "0x" + "11" * 20, 1)], PROJECT_LEAF)


def test_get_proof_of_unknown_value_or_index_raises() -> None:
    tree = StandardMerkleTree.of(participants(3), PARTICIPANT_LEAF)
    with pytest.raises(CarbonixLookupError, match="not a leaf"):
        tree.get_proof(("TGO-ORG-99999", "0x" + "11" * 20, EXPIRY))
    with pytest.raises(CarbonixLookupError, match="out of range"):
        tree.get_proof(3)
    with pytest.raises(CarbonixLookupError, match="out of range"):
        tree.get_proof(-1)


def test_load_rejects_bad_dumps() -> None:
    good = StandardMerkleTree.of(participants(5), PARTICIPANT_LEAF).dump()
    assert StandardMerkleTree.load(json.dumps(good)).root == good["tree"][0]

    def broken(**changes: Any) -> dict[str, Any]:
        return json.loads(json.dumps(good)) | changes

    with pytest.raises(CarbonixValueError, match="unknown Merkle dump format"):
        StandardMerkleTree.load(broken(format="simple-v1"))
    with pytest.raises(CarbonixValueError, match="node 0 is not the hash"):
        StandardMerkleTree.load(broken(tree=["0x" + "00" * 32, *good["tree"][1:]]))
    tampered = broken()
    tampered["values"][0]["value"][2] = "1"
    with pytest.raises(CarbonixValueError, match="does not hash to tree node"):
        StandardMerkleTree.load(tampered)
    internal = broken()
    internal["values"][0]["treeIndex"] = 0
    with pytest.raises(CarbonixValueError, match="not a leaf"):
        StandardMerkleTree.load(internal)


def test_of_10k_leaves() -> None:
    """A tree of TGO's size; the time it takes is a figure of `make bench` (merkle_tree_10k_seconds)."""
    values = participants(10_000)
    tree = StandardMerkleTree.of(values, PARTICIPANT_LEAF)
    for i in (0, 4_999, 9_999):
        assert StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[i], tree.get_proof(i))
    assert not StandardMerkleTree.verify(tree.root, PARTICIPANT_LEAF, values[0], tree.get_proof(1))
