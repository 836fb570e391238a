// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "./interfaces/IEmissionDataLog.sol";
import {QuarterLib} from "./libraries/QuarterLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title EmissionDataLog
/// @notice Committed batches of graded sensor readings and per-quarter emission totals (R10),
/// by one operator or by a quorum of m of n operators.
/// @dev Storage of the operator (reporter) role: instead of AccessControl's role mapping, one slot
/// per operator holds the quorum m (zero: not an operator), so the plain commit reads a single cold
/// slot for both "is an operator" and "may commit alone". `setQuorum` rewrites the snapshot of every
/// operator (at most MAX_OPERATORS), `_grantRole` writes the current quorum; the quorum itself is
/// also kept in `_quorum` for new grants and the `quorum()` getter. `hasRole`, `grantRole`,
/// `revokeRole`, `renounceRole` and the RoleGranted / RoleRevoked events behave as AccessControl's.
contract EmissionDataLog is IEmissionDataLog, AccessControl, EIP712 {
    bytes32 public constant REPORTER_ROLE = Roles.REPORTER;

    /// @notice The EIP-712 type of a batch: every field of EmissionBatch in struct order; `flow` is
    /// encoded as uint8 (EIP-712 has no enums; 0 emission, 1 removal).
    bytes32 public constant EMISSION_BATCH_TYPEHASH = keccak256(
        "EmissionBatch(bytes32 batchId,address participant,bytes32 projectKey,uint40 periodStart,uint40 periodEnd,"
        "uint32 readingCount,bytes32 readingsRoot,uint64 kgCO2e,uint8 qualityScore,uint192 gradeCounts,uint8 flow)"
    );

    /// @notice The largest quorum the admin can set.
    uint8 public constant MAX_QUORUM = 16;
    /// @notice The most operators that can hold the reporter role at once (bounds `setQuorum`).
    uint256 public constant MAX_OPERATORS = 32;

    uint8 private constant MAX_SCORE = 100;
    /// @dev A 65-byte signature: r (32), s (32), v (1).
    uint256 private constant SIGNATURE_LENGTH = 65;

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
    /// @dev Keyed by `_totalsKey(participant, flow, year)`: one hash to find the slot, not three.
    mapping(uint256 participantFlowYear => YearTotals) private _totals;
    /// @dev The quorum m as of the operator's grant or the last `setQuorum`; zero: not an operator.
    mapping(address operator => uint256 quorum) private _operatorQuorum;
    address[] private _operators;
    uint8 private _quorum;

    constructor(address admin, ICarbonRegistry registry_) EIP712("CarboniX EmissionDataLog", "1") {
        _quorum = 1;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
    }

    /// @inheritdoc IEmissionDataLog
    function commitBatch(EmissionBatch calldata b) external {
        _checkSoleOperator();
        _commit(b);
    }

    /// @inheritdoc IEmissionDataLog
    function commitBatchSigned(EmissionBatch calldata b, bytes calldata signatures) external {
        _checkQuorum(_batchDigest(b), signatures);
        _commit(b);
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
    ) external returns (bytes32 batchId) {
        _checkSoleOperator();
        batchId = keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(
                        participant, projectKey, latitudeE6, longitudeE6, kgCO2e, qualityScore, timestamp
                    )
                )
            )
        );
        _checkRecord(participant, batchId, qualityScore);
        if (timestamp > block.timestamp) revert DataLogPeriodInFuture(timestamp);
        {
            (uint16 year, uint8 quarter) = QuarterLib.yearQuarter(timestamp);
            _store(batchId, batchId, participant, Flow.Emission, year, quarter, kgCO2e);
        }
        emit EmissionRecordLogged(
            batchId, participant, projectKey, timestamp, kgCO2e, qualityScore, latitudeE6, longitudeE6
        );
    }

    /// @inheritdoc IEmissionDataLog
    function setQuorum(uint8 quorum_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (quorum_ == 0 || quorum_ > MAX_QUORUM) revert DataLogInvalidQuorum(quorum_);
        uint8 previous = _quorum;
        _quorum = quorum_;
        uint256 n = _operators.length;
        for (uint256 i; i < n; ++i) {
            _operatorQuorum[_operators[i]] = quorum_;
        }
        emit QuorumChanged(previous, quorum_);
    }

    /// @inheritdoc IEmissionDataLog
    function quorum() external view returns (uint8) {
        return _quorum;
    }

    /// @inheritdoc IEmissionDataLog
    function operators() external view returns (address[] memory) {
        return _operators;
    }

    /// @inheritdoc IEmissionDataLog
    function batchDigest(EmissionBatch calldata b) external view returns (bytes32) {
        return _batchDigest(b);
    }

    /// @dev The reporter role lives in `_operatorQuorum` (see the contract's notes).
    function hasRole(bytes32 role, address account) public view override returns (bool) {
        if (role == REPORTER_ROLE) return _operatorQuorum[account] != 0;
        return super.hasRole(role, account);
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
    function totalOf(address participant, Flow flow, uint16 year, uint8 quarter)
        external
        view
        returns (uint64)
    {
        if (quarter == 0 || quarter > 4) return 0;
        return uint64(_totals[_totalsKey(participant, flow, year)].quarters >> (64 * (quarter - 1)));
    }

    /// @inheritdoc IEmissionDataLog
    function quarterOf(uint40 timestamp) external pure returns (uint16 year, uint8 quarter) {
        return QuarterLib.yearQuarter(timestamp);
    }

    /// @dev Adds an operator: its slot takes the current quorum.
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        if (role != REPORTER_ROLE) return super._grantRole(role, account);
        if (_operatorQuorum[account] != 0) return false;
        if (_operators.length == MAX_OPERATORS) revert DataLogTooManyOperators(MAX_OPERATORS);
        _operatorQuorum[account] = _quorum;
        _operators.push(account);
        emit RoleGranted(role, account, _msgSender());
        return true;
    }

    /// @dev Removes an operator: its slot is cleared and the last operator takes its place in the list.
    function _revokeRole(bytes32 role, address account) internal override returns (bool) {
        if (role != REPORTER_ROLE) return super._revokeRole(role, account);
        if (_operatorQuorum[account] == 0) return false;
        delete _operatorQuorum[account];
        uint256 last = _operators.length - 1;
        for (uint256 i; i < last; ++i) {
            if (_operators[i] == account) {
                _operators[i] = _operators[last];
                break;
            }
        }
        _operators.pop();
        emit RoleRevoked(role, account, _msgSender());
        return true;
    }

    /// @dev The sender is an operator and the quorum is 1: one cold slot read for both.
    function _checkSoleOperator() internal view {
        uint256 quorum_ = _operatorQuorum[msg.sender];
        if (quorum_ != 1) {
            if (quorum_ == 0) revert AccessControlUnauthorizedAccount(msg.sender, REPORTER_ROLE);
            revert DataLogQuorumRequired(uint8(quorum_));
        }
    }

    /// @dev Every signature is a valid low-s ECDSA signature of `digest` by an operator, signers
    /// strictly ascend (so they are distinct), and there are at least m of them. The quorum is read
    /// from the signers' own slots (each holds the same current m), not from `_quorum`.
    function _checkQuorum(bytes32 digest, bytes calldata signatures) internal view {
        uint256 count = signatures.length / SIGNATURE_LENGTH;
        if (count * SIGNATURE_LENGTH != signatures.length) {
            revert DataLogInvalidSignaturesLength(signatures.length);
        }
        if (count == 0) revert DataLogQuorumNotMet(0, _quorum);
        address previous;
        uint256 quorum_;
        for (uint256 i; i < count; ++i) {
            bytes calldata signature = signatures[i * SIGNATURE_LENGTH:(i + 1) * SIGNATURE_LENGTH];
            bytes32 r = bytes32(signature[:32]);
            bytes32 s = bytes32(signature[32:64]);
            uint8 v = uint8(signature[64]);
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
            if (err != ECDSA.RecoverError.NoError) revert DataLogInvalidSignature(i);
            if (signer <= previous) revert DataLogSignersNotAscending(previous, signer);
            quorum_ = _operatorQuorum[signer];
            if (quorum_ == 0) revert DataLogSignerNotOperator(signer);
            previous = signer;
        }
        if (count < quorum_) revert DataLogQuorumNotMet(count, uint8(quorum_));
    }

    /// @dev EIP-712 digest of the batch: hashStruct over the typehash and the eleven fields. All
    /// fields are static, so abi.encode(typehash, b) is exactly EIP-712's encodeData.
    function _batchDigest(EmissionBatch calldata b) internal view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(EMISSION_BATCH_TYPEHASH, b)));
    }

    /// @dev The checks, effects and event shared by both commit paths. The fields are read from
    /// calldata here rather than through `b.field`: the ABI decoder validates each field on each
    /// read (~80 gas a field); this reads each word once and checks in one expression that every
    /// narrow field fits its type, reverting without data as the decoder does. The event and the
    /// EIP-712 digest use the same calldata words, so they see only validated values.
    function _commit(EmissionBatch calldata b) internal {
        bytes32 batchId;
        address participant;
        uint256 periodStart;
        uint256 periodEnd;
        uint256 readingCount;
        bytes32 root;
        uint256 kgCO2e;
        uint256 qualityScore;
        uint256 gradeCounts;
        uint256 flow;
        assembly ("memory-safe") {
            batchId := calldataload(b)
            participant := calldataload(add(b, 0x20))
            periodStart := calldataload(add(b, 0x60))
            periodEnd := calldataload(add(b, 0x80))
            readingCount := calldataload(add(b, 0xa0))
            root := calldataload(add(b, 0xc0))
            kgCO2e := calldataload(add(b, 0xe0))
            qualityScore := calldataload(add(b, 0x100))
            gradeCounts := calldataload(add(b, 0x120))
            flow := calldataload(add(b, 0x140))
            let dirty := or(shr(160, participant), or(shr(40, periodStart), shr(40, periodEnd)))
            dirty := or(dirty, or(shr(32, readingCount), shr(64, kgCO2e)))
            dirty := or(dirty, or(shr(8, qualityScore), or(shr(192, gradeCounts), gt(flow, 1))))
            if dirty { revert(0, 0) }
        }
        if (readingCount == 0) revert DataLogEmptyBatch();
        if (gradeCounts != 0) {
            uint256 histogramTotal = _histogramTotal(gradeCounts);
            if (histogramTotal != readingCount) {
                revert DataLogGradeCountMismatch(histogramTotal, uint32(readingCount));
            }
        }
        _checkRecord(participant, root, uint8(qualityScore));
        (uint16 year, uint8 quarter) = _quarterOfPeriod(periodStart, periodEnd);
        _store(batchId, root, participant, Flow(flow), year, quarter, uint64(kgCO2e));
        _emitCommitted(b, batchId, participant);
    }

    function _checkRecord(address participant, bytes32 root, uint8 qualityScore) internal pure {
        if (participant == address(0)) revert DataLogZeroParticipant();
        if (root == bytes32(0)) revert DataLogEmptyRoot();
        if (qualityScore > MAX_SCORE) revert DataLogInvalidScore(qualityScore);
    }

    /// @dev The quarter of a period that is ordered, not in the future and inside one quarter: it
    /// ends before the next quarter starts (one civil-date conversion, not two).
    function _quarterOfPeriod(uint256 periodStart, uint256 periodEnd)
        internal
        view
        returns (uint16 year, uint8 quarter)
    {
        if (periodEnd < periodStart) revert DataLogInvalidPeriod(uint40(periodStart), uint40(periodEnd));
        if (periodEnd > block.timestamp) revert DataLogPeriodInFuture(uint40(periodEnd));
        (year, quarter) = QuarterLib.yearQuarter(periodStart);
        uint16 next;
        // year * 4 + quarter (the next quarter's period number) fits in uint16 for years before
        // 16384, and periodStart <= block.timestamp.
        unchecked {
            next = year * 4 + quarter;
        }
        if (periodEnd >= QuarterLib.periodStart(next)) {
            revert DataLogPeriodSpansQuarters(uint40(periodStart), uint40(periodEnd));
        }
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
        YearTotals storage totals = _totals[_totalsKey(participant, flow, year)];
        uint256 shift;
        // quarter is 1-4 (QuarterLib): no underflow, shift is 0-192.
        unchecked {
            shift = 64 * (uint256(quarter) - 1);
        }
        uint256 quarters = totals.quarters;
        // Checked: a quarter's total is capped at 2^64 - 1 kg (1.8e16 t); beyond that the add panics.
        uint64 total = uint64(quarters >> shift) + kgCO2e;
        totals.quarters = (quarters & ~(uint256(type(uint64).max) << shift)) | (uint256(total) << shift);
    }

    /// @dev participant (160 bits) | flow (8 bits) | year (16 bits): distinct for distinct triples.
    function _totalsKey(address participant, Flow flow, uint16 year) internal pure returns (uint256) {
        return uint256(uint160(participant)) << 24 | uint256(flow) << 16 | year;
    }

    /// @dev Emits EmissionBatchCommitted straight from calldata: its data fields are the struct's
    /// last eight words in order, all validated in `_commit`; projectKey (a bytes32) needs no check.
    function _emitCommitted(EmissionBatch calldata b, bytes32 batchId, address participant) internal {
        bytes32 signature = EmissionBatchCommitted.selector;
        assembly ("memory-safe") {
            let data := mload(0x40)
            calldatacopy(data, add(b, 0x60), 0x100)
            log4(data, 0x100, signature, batchId, participant, calldataload(add(b, 0x40)))
        }
    }

    /// @dev Sum of the six packed uint32 grade counts (at most 6 * (2^32 - 1): no overflow).
    function _histogramTotal(uint256 g) internal pure returns (uint256 total) {
        uint256 m = type(uint32).max;
        unchecked {
            total = (g & m) + (g >> 32 & m) + (g >> 64 & m) + (g >> 96 & m) + (g >> 128 & m) + (g >> 160);
        }
    }
}
