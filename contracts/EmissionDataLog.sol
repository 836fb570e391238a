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
    uint256 private constant GRADES = 6;

    ICarbonRegistry private immutable _registry;

    mapping(bytes32 batchId => bytes32 readingsRoot) private _roots;
    /// @dev Four quarters per slot: quarter q's kg CO2e in bits [64(q-1), 64q).
    mapping(address participant => mapping(Flow flow => mapping(uint16 year => uint256 quarters))) private
        _totals;

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
        (uint16 year, uint8 quarter) = _record(b);
        _emitCommitted(b, year, quarter);
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
        EmissionBatch memory b = EmissionBatch({
            batchId: batchId,
            participant: participant,
            projectKey: projectKey,
            periodStart: timestamp,
            periodEnd: timestamp,
            readingCount: 1,
            readingsRoot: batchId,
            kgCO2e: kgCO2e,
            qualityScore: qualityScore,
            gradeCounts: 0,
            flow: Flow.Emission
        });
        (uint16 year, uint8 quarter) = _record(b);
        _emitCommitted(b, year, quarter);
        emit EmissionRecordLocated(batchId, latitudeE6, longitudeE6);
    }

    /// @inheritdoc IEmissionDataLog
    function readingsRoot(bytes32 batchId) external view returns (bytes32) {
        return _roots[batchId];
    }

    /// @inheritdoc IEmissionDataLog
    function verifyReading(bytes32 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool) {
        bytes32 root = _roots[batchId];
        return root != bytes32(0) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IEmissionDataLog
    function totalOf(address participant, Flow flow, uint16 year, uint8 quarter) external view returns (uint64) {
        if (quarter == 0 || quarter > 4) return 0;
        return uint64(_totals[participant][flow][year] >> (64 * (quarter - 1)));
    }

    /// @inheritdoc IEmissionDataLog
    function quarterOf(uint40 timestamp) external pure returns (uint16 year, uint8 quarter) {
        return QuarterLib.yearQuarter(timestamp);
    }

    /// @dev Checks a batch, stores its root and adds its kg CO2e to the quarter's total.
    function _record(EmissionBatch memory b) internal returns (uint16 year, uint8 quarter) {
        if (b.readingsRoot == bytes32(0)) revert DataLogEmptyRoot();
        if (b.periodEnd < b.periodStart) revert DataLogInvalidPeriod(b.periodStart, b.periodEnd);
        if (b.periodEnd > block.timestamp) revert DataLogPeriodInFuture(b.periodEnd);
        if (b.qualityScore > MAX_SCORE) revert DataLogInvalidScore(b.qualityScore);
        (year, quarter) = QuarterLib.yearQuarter(b.periodStart);
        (uint16 endYear, uint8 endQuarter) = QuarterLib.yearQuarter(b.periodEnd);
        if (endYear != year || endQuarter != quarter) revert DataLogPeriodSpansQuarters(b.periodStart, b.periodEnd);
        if (_roots[b.batchId] != bytes32(0)) revert DataLogBatchAlreadyCommitted(b.batchId);
        if (!_registry.isRegistered(b.participant)) revert DataLogUnknownParticipant(b.participant);

        _roots[b.batchId] = b.readingsRoot;
        uint256 shift = 64 * (quarter - 1);
        uint256 quarters = _totals[b.participant][b.flow][year];
        // Checked: a quarter's total is capped at 2^64 - 1 kg (1.8e16 t); beyond that the add panics.
        uint64 total = uint64(quarters >> shift) + b.kgCO2e;
        _totals[b.participant][b.flow][year] =
            (quarters & ~(uint256(type(uint64).max) << shift)) | (uint256(total) << shift);
    }

    function _emitCommitted(EmissionBatch memory b, uint16 year, uint8 quarter) internal {
        emit EmissionBatchCommitted(
            b.batchId,
            b.participant,
            b.projectKey,
            b.flow,
            year,
            quarter,
            b.periodStart,
            b.periodEnd,
            b.readingCount,
            b.readingsRoot,
            b.kgCO2e,
            b.qualityScore,
            b.gradeCounts
        );
    }

    function _histogramTotal(uint192 gradeCounts) internal pure returns (uint256 total) {
        for (uint256 i; i < GRADES; ++i) {
            total += uint32(gradeCounts >> (32 * i));
        }
    }
}
