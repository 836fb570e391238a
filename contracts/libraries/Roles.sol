// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Roles
/// @notice The access-control roles of CarboniX. Each key holds only the role its job needs.
/// @dev DEFAULT_ADMIN_ROLE (OpenZeppelin's 0x00) grants and revokes the roles below and sets
/// system holders; on a real network it belongs to a multisig, never to an operator key.
library Roles {
    /// @dev TGO as issuer: mints credit batches for certified projects.
    bytes32 internal constant ISSUER = keccak256("ISSUER_ROLE");
    /// @dev The oracle bridge: publishes TGO certification Merkle roots.
    bytes32 internal constant ORACLE = keccak256("ORACLE_ROLE");
    /// @dev Oracle operators of the data log: each commits emission batches alone while the quorum
    /// is 1, and signs batch digests for `commitBatchSigned` under a quorum of m of n (the data log
    /// keeps this role in its own per-operator slot, see EmissionDataLog).
    bytes32 internal constant REPORTER = keccak256("REPORTER_ROLE");
    /// @dev The Settlement contract: issues the allowance credits participants earn under their cap.
    bytes32 internal constant ALLOWANCE_ISSUER = keccak256("ALLOWANCE_ISSUER_ROLE");
    /// @dev The market regulator: lists markets, sets price bands (R3), minimum order sizes, and
    /// (for settlement) sector caps and surcharges.
    bytes32 internal constant REGULATOR = keccak256("REGULATOR_ROLE");
    /// @dev Verifiers (validation and verification bodies): approve sensors and equipment.
    bytes32 internal constant VERIFIER = keccak256("VERIFIER_ROLE");
}
