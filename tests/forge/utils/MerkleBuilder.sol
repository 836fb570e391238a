// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MerkleBuilder
/// @notice Test-only sorted-pair Merkle trees, verifiable by OpenZeppelin `MerkleProof`.
/// @dev Levels are built bottom-up by pairing neighbours; an odd node out is promoted unchanged
/// (no sibling enters the proof at that level). Leaves are hashed by the callers with the
/// StandardMerkleTree encoding keccak256(bytes.concat(keccak256(abi.encode(...)))).
library MerkleBuilder {
    /// @notice Leaf of a TGO participant: (orgId, wallet, certifiedUntil).
    function participantLeaf(string memory orgId, address wallet, uint64 certifiedUntil)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(orgId, wallet, certifiedUntil))));
    }

    /// @notice Leaf of a TGO project: (projectId, owner, additional).
    function projectLeaf(string memory projectId, address owner, bool additional)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(projectId, owner, additional))));
    }

    /// @notice Hash of an internal node: its two children, smaller first.
    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32 h) {
        (bytes32 lo, bytes32 hi) = a < b ? (a, b) : (b, a);
        assembly ("memory-safe") {
            mstore(0x00, lo)
            mstore(0x20, hi)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @notice Root of the tree over `leaves` (must not be empty).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        require(leaves.length != 0, "MerkleBuilder: no leaves");
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            level = _up(level);
        }
        return level[0];
    }

    /// @notice Proof of the leaf at `index`.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        require(index < leaves.length, "MerkleBuilder: index");
        bytes32[] memory buf = new bytes32[](64);
        uint256 len;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) buf[len++] = level[sibling];
            level = _up(level);
            index >>= 1;
        }
        p = new bytes32[](len);
        for (uint256 i; i < len; ++i) {
            p[i] = buf[i];
        }
    }

    /// @notice The internal node one level above leaf `index` (its parent), and the proof of that
    /// node: the leaf's proof without its first element. For second-preimage tests.
    function parentOf(bytes32[] memory leaves, uint256 index)
        internal
        pure
        returns (bytes32 node, bytes32[] memory nodeProof)
    {
        bytes32[] memory full = proof(leaves, index);
        require(full.length != 0 && (index ^ 1) < leaves.length, "MerkleBuilder: no parent");
        node = hashPair(leaves[index], leaves[index ^ 1]);
        nodeProof = new bytes32[](full.length - 1);
        for (uint256 i = 1; i < full.length; ++i) {
            nodeProof[i - 1] = full[i];
        }
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        uint256 n = level.length;
        next = new bytes32[]((n + 1) / 2);
        for (uint256 i; i + 1 < n; i += 2) {
            next[i / 2] = hashPair(level[i], level[i + 1]);
        }
        if (n % 2 == 1) next[n / 2] = level[n - 1];
    }
}
