// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IEmissionDataLog
/// @notice The on-chain record of measured emissions and removals (rule R10).
/// @dev The oracle commits one batch per participant (or project) and period: the Merkle root of
/// the graded sensor readings, their count, total kg CO2e and a quality summary. Readings stay off
/// chain; any one of them can be proven against its batch root with `verifyReading`. Totals per
/// participant, flow and TGO quarter accumulate on-chain for quarterly cap-and-trade settlement.
/// A batch id can be committed once. A batch must lie within one quarter (Thai time).
/// The contract does not call the registry: the reporter role is held by the oracle, which checks
/// that the participant is registered before it commits (a cross-contract check would cost ~5,000
/// gas on every commit, a twelfth of the budget of one commit).
///
/// Operator quorum (m of n). The n holders of REPORTER_ROLE are the oracle operators; each
/// validates a batch on its own and signs its EIP-712 digest (`batchDigest`). The admin sets the
/// quorum m (1-16, default 1). With m = 1 an operator commits alone with `commitBatch` (or
/// `logEmission`): its transaction signature is its operator signature. With m >= 2 those two
/// functions revert with `DataLogQuorumRequired`, and a batch commits only through
/// `commitBatchSigned` with the signatures of at least m distinct operators. Anyone may send that
/// call (an operator, a relayer): the signatures authorize it, bind every field of the batch, the
/// chain and this contract, and a batch id commits once, so the sender chooses nothing but when.
interface IEmissionDataLog {
    enum Flow {
        Emission,
        Removal
    }

    /// @dev `gradeCounts` packs the number of readings graded A..F as six uint32, A in the lowest
    /// 32 bits; zero means no histogram was given. `qualityScore` is the batch's 0-100 score.
    struct EmissionBatch {
        bytes32 batchId;
        address participant;
        bytes32 projectKey;
        uint40 periodStart;
        uint40 periodEnd;
        uint32 readingCount;
        bytes32 readingsRoot;
        uint64 kgCO2e;
        uint8 qualityScore;
        uint192 gradeCounts;
        Flow flow;
    }

    /// @notice This batch id was already committed (replay).
    error DataLogBatchAlreadyCommitted(bytes32 batchId);
    /// @notice The readings root must not be zero.
    error DataLogEmptyRoot();
    /// @notice A batch must cover at least one reading.
    error DataLogEmptyBatch();
    /// @notice The period ends before it starts.
    error DataLogInvalidPeriod(uint40 periodStart, uint40 periodEnd);
    /// @notice The period ends in the future.
    error DataLogPeriodInFuture(uint40 periodEnd);
    /// @notice A batch must lie within one TGO quarter.
    error DataLogPeriodSpansQuarters(uint40 periodStart, uint40 periodEnd);
    /// @notice The quality score is a percentage (0-100).
    error DataLogInvalidScore(uint8 qualityScore);
    /// @notice The grade histogram does not add up to the reading count.
    error DataLogGradeCountMismatch(uint256 histogramTotal, uint32 readingCount);
    /// @notice The participant must be named (non-zero address).
    error DataLogZeroParticipant();
    /// @notice A quorum of `quorum` operators is set: commit with `commitBatchSigned`.
    error DataLogQuorumRequired(uint8 quorum);
    /// @notice Fewer valid operator signatures than the quorum.
    error DataLogQuorumNotMet(uint256 signatures, uint8 quorum);
    /// @notice The signatures are not a whole number of 65-byte (r, s, v) signatures.
    error DataLogInvalidSignaturesLength(uint256 length);
    /// @notice Signature `index` is not a valid ECDSA signature of the batch digest (bad v, zero
    /// recovery, or a malleable high-s form).
    error DataLogInvalidSignature(uint256 index);
    /// @notice Signers must be given in strictly ascending address order (so each counts once).
    error DataLogSignersNotAscending(address previous, address signer);
    /// @notice The address a signature recovers to does not hold the operator (reporter) role.
    error DataLogSignerNotOperator(address signer);
    /// @notice The quorum must be between 1 and MAX_QUORUM.
    error DataLogInvalidQuorum(uint256 quorum);
    /// @notice No more than MAX_OPERATORS operators can hold the reporter role.
    error DataLogTooManyOperators(uint256 maxOperators);

    /// @notice The admin set the operator quorum m (from `previousQuorum`).
    event QuorumChanged(uint8 previousQuorum, uint8 quorum);
    /// @notice An emission (or removal) batch was committed.
    event EmissionBatchCommitted(
        bytes32 indexed batchId,
        address indexed participant,
        bytes32 indexed projectKey,
        uint40 periodStart,
        uint40 periodEnd,
        uint32 readingCount,
        bytes32 readingsRoot,
        uint64 kgCO2e,
        uint8 qualityScore,
        uint192 gradeCounts,
        Flow flow
    );
    /// @notice A single record was logged with `logEmission` (location in degrees times 1e6).
    event EmissionRecordLogged(
        bytes32 indexed batchId,
        address indexed participant,
        bytes32 indexed projectKey,
        uint40 timestamp,
        uint64 kgCO2e,
        uint8 qualityScore,
        int32 latitudeE6,
        int32 longitudeE6
    );

    /// @notice Commits one batch of graded readings (reporter role, while the quorum is 1).
    function commitBatch(EmissionBatch calldata batch) external;

    /// @notice Commits one batch carrying at least `quorum()` operator signatures; anyone may send it.
    /// @param signatures Concatenated 65-byte signatures `r ‖ s ‖ v` (v 27 or 28, s in the lower
    /// half order) of `batchDigest(batch)`, ordered by strictly ascending signer address. Every
    /// signature must be valid and every signer an operator.
    function commitBatchSigned(EmissionBatch calldata batch, bytes calldata signatures) external;

    /// @notice The EIP-712 digest an operator signs for `batch`:
    /// keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(batch)), domain {name: "CarboniX
    /// EmissionDataLog", version: "1", chainId, verifyingContract: this contract}, and
    /// hashStruct(batch) = keccak256(abi.encode(EMISSION_BATCH_TYPEHASH, batch)) over every field in
    /// struct order, the flow as uint8 (see EMISSION_BATCH_TYPEHASH).
    function batchDigest(EmissionBatch calldata batch) external view returns (bytes32);

    /// @notice Sets the operator quorum m, 1 to MAX_QUORUM (admin). The admin keeps m no higher
    /// than the number of operators it has granted, or nothing can commit until it grants more.
    function setQuorum(uint8 quorum) external;

    /// @notice The operator quorum m: how many operator signatures a commit needs.
    function quorum() external view returns (uint8);

    /// @notice The operators (holders of the reporter role), in the order they were granted
    /// (a revocation moves the last one into the freed place).
    function operators() external view returns (address[] memory);

    /// @notice Logs one measurement, like the paper's logEmission (reporter role, while the quorum
    /// is 1; under a larger quorum a record commits as a one-reading batch with `commitBatchSigned`).
    /// @dev Stored as a one-reading batch whose id and root are the record's leaf hash
    /// keccak256(keccak256(abi.encode(participant, projectKey, latitudeE6, longitudeE6, kgCO2e,
    /// qualityScore, timestamp))), so logging the same record twice reverts.
    function logEmission(
        address participant,
        bytes32 projectKey,
        int32 latitudeE6,
        int32 longitudeE6,
        uint64 kgCO2e,
        uint8 qualityScore,
        uint40 timestamp
    ) external returns (bytes32 batchId);

    /// @notice The readings root committed under `batchId` (zero if none).
    function readingsRoot(bytes32 batchId) external view returns (bytes32);

    /// @notice Whether a reading is in the batch, by its Merkle proof.
    /// @param readingHash keccak256 of the ABI-encoded reading (the single hash); the contract
    /// applies the outer hash of the StandardMerkleTree leaf itself, so an internal node of the
    /// tree is never accepted as a reading.
    function verifyReading(bytes32 batchId, bytes32 readingHash, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Verified kg CO2e of `flow` for a participant in a quarter (1-4) of a year.
    function totalOf(address participant, Flow flow, uint16 year, uint8 quarter)
        external
        view
        returns (uint64 kgCO2e);

    /// @notice The TGO quarter (Thai time) of a timestamp.
    function quarterOf(uint40 timestamp) external pure returns (uint16 year, uint8 quarter);
}
