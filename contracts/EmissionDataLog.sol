// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "./interfaces/IEmissionDataLog.sol";
import {QuarterLib} from "./libraries/QuarterLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title EmissionDataLog
/// @notice Committed batches of graded sensor readings and per-quarter emission totals (R10).
contract EmissionDataLog is IEmissionDataLog, AccessControl {
    bytes32 public constant REPORTER_ROLE = Roles.REPORTER;

    uint8 private constant MAX_SCORE = 100;

    ICarbonRegistry private immutable _registry;

    /// @dev One-word structs so a slot is located once and then read and written through a
    /// storage pointer (a bare mapping value re-hashes its keys on the write).
    struct Root {
        bytes32 value;
    }

    /// @dev Four quarters per slot: quarter q's kg CO2e in bits [64(q-1), 64q).
    struct YearTotals {
        uint256 quarters;
    }

    mapping(bytes32 batchId => Root) private _roots;
    mapping(address participant => mapping(Flow flow => mapping(uint16 year => YearTotals))) private _totals;

    constructor(address admin, ICarbonRegistry registry_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
    }

    /// @inheritdoc IEmissionDataLog
    function commitBatch(EmissionBatch calldata b) external onlyRole(REPORTER_ROLE) {
        if (b.readingCount == 0) revert DataLogEmptyBatch();
        if (b.gradeCounts != 0) {
            uint256 histogramTotal = _histogramTotal(b.gradeCounts);
            if (histogramTotal != b.readingCount) revert DataLogGradeCountMismatch(histogramTotal, b.readingCount);
        }
        _checkRecord(b.participant, b.readingsRoot, b.qualityScore);
        (uint16 year, uint8 quarter) = _quarterOfPeriod(b.periodStart, b.periodEnd);
        _store(b.batchId, b.readingsRoot, b.participant, b.flow, year, quarter, b.kgCO2e);
        _emitCommitted(b);
    }

    /// @inheritdoc IEmissionDataLog
    function logEmission(
        address participant,
        bytes32 projectKey,
        int32 latitudeE6,
        int32 longitudeE6,
        uint64 kgCO2e,
        uint8 qualityScore,
        uint40 timestamp
    ) external onlyRole(REPORTER_ROLE) returns (bytes32 batchId) {
        batchId = keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(participant, projectKey, latitudeE6, longitudeE6, kgCO2e, qualityScore, timestamp)
                )
            )
        );
        _checkRecord(participant, batchId, qualityScore);
        {
            (uint16 year, uint8 quarter) = _quarterOfPeriod(timestamp, timestamp);
            _store(batchId, batchId, participant, Flow.Emission, year, quarter, kgCO2e);
        }
        emit EmissionRecordLogged(
            batchId, participant, projectKey, timestamp, kgCO2e, qualityScore, latitudeE6, longitudeE6
        );
    }

    /// @inheritdoc IEmissionDataLog
    function readingsRoot(bytes32 batchId) external view returns (bytes32) {
        return _roots[batchId].value;
    }

    /// @inheritdoc IEmissionDataLog
    function verifyReading(bytes32 batchId, bytes32 readingHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _roots[batchId].value;
        // The outer hash is applied here, so an internal node (a hash of two children) can never
        // pass for a reading: its preimage is 64 bytes, a leaf's is the 32-byte reading hash.
        bytes32 leaf = keccak256(bytes.concat(readingHash));
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IEmissionDataLog
    function totalOf(address participant, Flow flow, uint16 year, uint8 quarter) external view returns (uint64) {
        if (quarter == 0 || quarter > 4) return 0;
        return uint64(_totals[participant][flow][year].quarters >> (64 * (quarter - 1)));
    }

    /// @inheritdoc IEmissionDataLog
    function quarterOf(uint40 timestamp) external pure returns (uint16 year, uint8 quarter) {
        return QuarterLib.yearQuarter(timestamp);
    }

    function _checkRecord(address participant, bytes32 root, uint8 qualityScore) internal pure {
        if (participant == address(0)) revert DataLogZeroParticipant();
        if (root == bytes32(0)) revert DataLogEmptyRoot();
        if (qualityScore > MAX_SCORE) revert DataLogInvalidScore(qualityScore);
    }

    /// @dev The quarter of a period that is ordered, not in the future and inside one quarter.
    function _quarterOfPeriod(uint40 periodStart, uint40 periodEnd) internal view returns (uint16 year, uint8 quarter) {
        if (periodEnd < periodStart) revert DataLogInvalidPeriod(periodStart, periodEnd);
        if (periodEnd > block.timestamp) revert DataLogPeriodInFuture(periodEnd);
        (year, quarter) = QuarterLib.yearQuarter(periodStart);
        (uint16 endYear, uint8 endQuarter) = QuarterLib.yearQuarter(periodEnd);
        if (endYear != year || endQuarter != quarter) revert DataLogPeriodSpansQuarters(periodStart, periodEnd);
    }

    /// @dev Stores the batch root (once per id) and adds its kg CO2e to the quarter's total.
    function _store(
        bytes32 batchId,
        bytes32 root,
        address participant,
        Flow flow,
        uint16 year,
        uint8 quarter,
        uint64 kgCO2e
    ) internal {
        Root storage stored = _roots[batchId];
        if (stored.value != bytes32(0)) revert DataLogBatchAlreadyCommitted(batchId);
        stored.value = root;
        YearTotals storage totals = _totals[participant][flow][year];
        uint256 shift = 64 * (quarter - 1);
        uint256 quarters = totals.quarters;
        // Checked: a quarter's total is capped at 2^64 - 1 kg (1.8e16 t); beyond that the add panics.
        uint64 total = uint64(quarters >> shift) + kgCO2e;
        totals.quarters = (quarters & ~(uint256(type(uint64).max) << shift)) | (uint256(total) << shift);
    }

    /// @dev Emits EmissionBatchCommitted straight from calldata: its data fields are the struct's
    /// last eight words in order. Every one of them was read (and so ABI-validated) above.
    function _emitCommitted(EmissionBatch calldata b) internal {
        bytes32 signature = EmissionBatchCommitted.selector;
        bytes32 batchId = b.batchId;
        address participant = b.participant;
        bytes32 projectKey = b.projectKey;
        assembly ("memory-safe") {
            let data := mload(0x40)
            calldatacopy(data, add(b, 0x60), 0x100)
            log4(data, 0x100, signature, batchId, participant, projectKey)
        }
    }

    /// @dev Sum of the six packed uint32 grade counts (at most 6 * (2^32 - 1): no overflow).
    function _histogramTotal(uint192 gradeCounts) internal pure returns (uint256 total) {
        uint256 g = gradeCounts;
        uint256 m = type(uint32).max;
        unchecked {
            total = (g & m) + (g >> 32 & m) + (g >> 64 & m) + (g >> 96 & m) + (g >> 128 & m) + (g >> 160);
        }
    }
}
