// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICarbonCredits
/// @notice Carbon credits as ERC-6909 tokens: one token id per issued batch, 1 token = 1 tCO2e.
/// @dev A batch is one serial range of one project and vintage. Its id is
/// uint256(keccak256(abi.encode(serialNamespace, serialStart))), the address of its serial range,
/// so one range can never be two tokens. Ranges of one serial namespace (a registry's numbering,
/// e.g. Verra's "VCS" or one Gold Standard block prefix) are kept as a sorted linked list; an
/// issuer passes the start of the preceding range as a hint, which makes the overlap check O(1)
/// (CCP #8: no double counting). Retirement (R6) takes serials from the bottom of the range, so a
/// certificate names exactly which serials it retired; the buffer pool share is withheld from the
/// top of the range at issuance and never minted. For every batch:
///   quantity = sum of balances + retired + buffer.
interface ICarbonCredits {
    enum CreditType {
        Reduction,
        Removal,
        Avoidance,
        Allowance
    }

    /// @dev `Compliance` retirements count against a participant's cap in quarterly settlement, in
    /// the quarter of their claim period.
    enum RetirementPurpose {
        VoluntaryOffset,
        Compliance,
        Cbam,
        Corsia,
        Article6,
        Other
    }

    /// @dev One storage slot. Serials are inclusive; `nextSerialStart` links the namespace's list.
    struct Batch {
        uint24 projectIndex;
        uint16 vintage;
        CreditType creditType;
        uint16 bufferBps;
        uint48 serialStart;
        uint48 serialEnd;
        uint48 nextSerialStart;
        uint48 retired;
    }

    /// @dev `prevSerialStart` is the start of the range right below this one in its namespace,
    /// or 0 when this range becomes the lowest.
    struct IssueParams {
        bytes32 projectKey;
        uint16 vintage;
        CreditType creditType;
        uint16 bufferBps;
        string serialPrefix;
        uint48 serialStart;
        uint48 serialEnd;
        uint48 prevSerialStart;
    }

    /// @notice The project is unknown or not certified under the current TGO project root.
    error CreditsProjectNotCertified(bytes32 projectKey);
    /// @notice The project's certification does not establish additionality (CCP #5).
    error CreditsProjectNotAdditional(bytes32 projectKey);
    /// @notice A serial range must start at 1 or above and not end before it starts.
    error CreditsInvalidSerialRange(uint48 serialStart, uint48 serialEnd);
    /// @notice The serial prefix must not be empty.
    error CreditsEmptySerialPrefix();
    /// @notice Some serials of this range were already tokenized (CCP #8).
    error CreditsSerialRangeOverlaps(bytes32 serialNamespace, uint48 serialStart, uint48 serialEnd);
    /// @notice The hint is not the start of the range right below the new one.
    error CreditsBadSerialHint(uint48 prevSerialStart);
    /// @notice The buffer share must be below 100% and leave at least one credit to mint.
    error CreditsInvalidBuffer(uint16 bufferBps);
    /// @notice The vintage year must be between 1990 and 2199.
    error CreditsInvalidVintage(uint16 vintage);
    /// @notice Amounts are whole tonnes and must not be zero.
    error CreditsZeroAmount();
    /// @notice A compliance retirement's claim period must lie within one TGO quarter (Thai time).
    error CreditsClaimSpansQuarters(uint40 claimStart, uint40 claimEnd);
    /// @notice Allowance credits come only from quarterly settlement (`issueAllowance`).
    error CreditsAllowanceOnlyBySettlement();
    /// @notice Ether was sent with a credit transfer; credits move without payment here.
    error CreditsEtherNotAccepted();
    /// @notice No batch has this id.
    error CreditsUnknownBatch(uint256 batchId);
    /// @notice Only verified participants and system contracts may receive credits (R1).
    error CreditsReceiverNotVerified(address receiver);
    /// @notice The beneficiary of a retirement must be named.
    error CreditsEmptyBeneficiary();
    /// @notice A claim period must not end before it starts.
    error CreditsInvalidClaimPeriod(uint40 claimStart, uint40 claimEnd);

    /// @notice A batch was issued; `bufferCredits` were withheld for the buffer pool.
    event BatchIssued(
        uint256 indexed batchId,
        bytes32 indexed projectKey,
        address indexed owner,
        uint24 projectIndex,
        uint16 vintage,
        CreditType creditType,
        uint48 serialStart,
        uint48 serialEnd,
        uint48 bufferCredits,
        string serialPrefix
    );
    /// @notice Credits were retired for good; the event is the retirement certificate.
    /// @dev Serials `serialFirst..serialLast` of the batch were retired by `holder` on behalf of
    /// `beneficiary`, for `purpose`, claimed against emissions of `claimStart..claimEnd`.
    event CreditsRetired(
        uint256 indexed batchId,
        address indexed holder,
        RetirementPurpose indexed purpose,
        uint48 serialFirst,
        uint48 serialLast,
        uint40 claimStart,
        uint40 claimEnd,
        string beneficiary
    );
    /// @notice The admin allowed or disallowed a system contract (e.g. the exchange) to hold credits.
    event SystemHolderSet(address indexed account, bool allowed);

    /// @notice Issues one batch to the owner of a certified project (issuer role).
    function issueBatch(IssueParams calldata params) external returns (uint256 batchId);

    /// @notice Issues several batches in one transaction: all or none (issuer role).
    function issueBatches(IssueParams[] calldata params) external returns (uint256[] memory batchIds);

    /// @notice Retires `amount` credits of `batchId` held by the caller (R6). Irreversible.
    function retire(
        uint256 batchId,
        uint48 amount,
        string calldata beneficiary,
        RetirementPurpose purpose,
        uint40 claimStart,
        uint40 claimEnd
    ) external returns (uint48 serialFirst, uint48 serialLast);

    /// @notice Issues cap-and-trade allowance credits earned in quarterly settlement (allowance
    /// issuer role, held by the Settlement contract): a batch of type Allowance, vintage = the year
    /// of `period`, serial prefix `TH-ALLOWANCE-<year>Q<quarter>`, no project.
    function issueAllowance(address to, uint16 period, uint48 serialStart, uint48 serialEnd, uint48 prevSerialStart)
        external
        returns (uint256 batchId);

    /// @notice Tonnes `holder` retired for compliance against emissions of `period` (year * 4 +
    /// quarter - 1, Thai time): what quarterly settlement counts as CB.
    function complianceRetired(address holder, uint16 period) external view returns (uint256);

    /// @notice The serial prefix of the allowance batches of `period`.
    function allowancePrefix(uint16 period) external pure returns (string memory);

    /// @notice Allows or disallows a system contract to hold credits (admin role).
    function setSystemHolder(address account, bool allowed) external;

    /// @notice Whether `account` is a system contract allowed to hold credits.
    function isSystemHolder(address account) external view returns (bool);

    /// @notice The batch record (zero if unknown).
    function batch(uint256 batchId) external view returns (Batch memory);

    /// @notice Number of credits withheld in the buffer pool for a batch.
    function bufferOf(uint256 batchId) external view returns (uint48);

    /// @notice Start of the lowest range of a namespace (0 if none).
    function firstSerialStart(bytes32 serialNamespace) external view returns (uint48);

    /// @notice The namespace of a serial prefix: keccak256(bytes(prefix)).
    function serialNamespaceOf(string calldata serialPrefix) external pure returns (bytes32);

    /// @notice The id of the batch whose range starts at `serialStart` in `serialNamespace`.
    function batchIdOf(bytes32 serialNamespace, uint48 serialStart) external pure returns (uint256);

    /// @notice The registry consulted for certification and verification.
    function registry() external view returns (address);
}
