// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {ERC6909} from "solady/tokens/ERC6909.sol";

import {ICarbonCredits} from "./interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {QuarterLib} from "./libraries/QuarterLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title CarbonCredits
/// @notice Tokenized carbon credits: issuance for certified projects, serial ranges issued at most
/// once, transfers among verified participants only, and irreversible retirement with certificates.
contract CarbonCredits is ICarbonCredits, ERC6909, AccessControl {
    bytes32 public constant ISSUER_ROLE = Roles.ISSUER;
    bytes32 public constant ALLOWANCE_ISSUER_ROLE = Roles.ALLOWANCE_ISSUER;

    uint16 private constant BPS = 10_000;
    uint16 private constant MIN_VINTAGE = 1990;
    uint16 private constant MAX_VINTAGE = 2199;

    ICarbonRegistry private immutable _registry;

    mapping(uint256 batchId => Batch) private _batches;
    mapping(bytes32 serialNamespace => uint48 serialStart) private _firstSerialStart;
    mapping(address account => bool) private _systemHolders;
    mapping(address holder => mapping(uint16 period => uint256 tonnes)) private _complianceRetired;

    constructor(address admin, ICarbonRegistry registry_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
    }

    /// @inheritdoc ICarbonCredits
    function issueBatch(IssueParams calldata params) external onlyRole(ISSUER_ROLE) returns (uint256) {
        return _issue(params);
    }

    /// @inheritdoc ICarbonCredits
    function issueBatches(IssueParams[] calldata params)
        external
        onlyRole(ISSUER_ROLE)
        returns (uint256[] memory batchIds)
    {
        batchIds = new uint256[](params.length);
        for (uint256 i; i < params.length; ++i) {
            batchIds[i] = _issue(params[i]);
        }
    }

    /// @inheritdoc ICarbonCredits
    function retire(
        uint256 batchId,
        uint48 amount,
        string calldata beneficiary,
        RetirementPurpose purpose,
        uint40 claimStart,
        uint40 claimEnd
    ) external returns (uint48 serialFirst, uint48 serialLast) {
        if (bytes(beneficiary).length == 0) revert CreditsEmptyBeneficiary();
        if (claimEnd < claimStart) revert CreditsInvalidClaimPeriod(claimStart, claimEnd);
        (serialFirst, serialLast) = _retire(batchId, amount);
        if (purpose == RetirementPurpose.Compliance) _recordCompliance(claimStart, claimEnd, amount);
        emit CreditsRetired(batchId, msg.sender, purpose, serialFirst, serialLast, claimStart, claimEnd, beneficiary);
    }

    /// @inheritdoc ICarbonCredits
    function issueAllowance(address to, uint16 period, uint48 serialStart, uint48 serialEnd, uint48 prevSerialStart)
        external
        onlyRole(ALLOWANCE_ISSUER_ROLE)
        returns (uint256 batchId)
    {
        if (serialStart == 0 || serialEnd < serialStart) revert CreditsInvalidSerialRange(serialStart, serialEnd);
        string memory prefix = allowancePrefix(period);
        bytes32 namespace = keccak256(bytes(prefix));
        uint48 next = _linkRange(namespace, serialStart, serialEnd, prevSerialStart);
        batchId = _batchId(namespace, serialStart);
        uint16 year = period / 4;
        _batches[batchId] = Batch({
            projectIndex: 0,
            vintage: year,
            creditType: CreditType.Allowance,
            bufferBps: 0,
            serialStart: serialStart,
            serialEnd: serialEnd,
            nextSerialStart: next,
            retired: 0
        });
        emit BatchIssued(batchId, bytes32(0), to, 0, year, CreditType.Allowance, serialStart, serialEnd, 0, prefix);
        _mint(to, batchId, serialEnd - serialStart + 1);
    }

    /// @inheritdoc ICarbonCredits
    function complianceRetired(address holder, uint16 period) external view returns (uint256) {
        return _complianceRetired[holder][period];
    }

    /// @inheritdoc ICarbonCredits
    function allowancePrefix(uint16 period) public pure returns (string memory) {
        return string.concat("TH-ALLOWANCE-", Strings.toString(period / 4), "Q", Strings.toString(period % 4 + 1));
    }

    /// @inheritdoc ICarbonCredits
    function setSystemHolder(address account, bool allowed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _systemHolders[account] = allowed;
        emit SystemHolderSet(account, allowed);
    }

    /// @inheritdoc ICarbonCredits
    function isSystemHolder(address account) external view returns (bool) {
        return _systemHolders[account];
    }

    /// @inheritdoc ICarbonCredits
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc ICarbonCredits
    function bufferOf(uint256 batchId) external view returns (uint48) {
        Batch storage b = _batches[batchId];
        if (b.serialStart == 0) return 0;
        return _bufferCredits(b.serialEnd - b.serialStart + 1, b.bufferBps);
    }

    /// @inheritdoc ICarbonCredits
    function firstSerialStart(bytes32 serialNamespace) external view returns (uint48) {
        return _firstSerialStart[serialNamespace];
    }

    /// @inheritdoc ICarbonCredits
    function serialNamespaceOf(string calldata serialPrefix) external pure returns (bytes32) {
        return keccak256(bytes(serialPrefix));
    }

    /// @inheritdoc ICarbonCredits
    function batchIdOf(bytes32 serialNamespace, uint48 serialStart) external pure returns (uint256) {
        return _batchId(serialNamespace, serialStart);
    }

    /// @inheritdoc ICarbonCredits
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice ERC-6909 metadata: every batch is a carbon credit of one tonne CO2e.
    function name(uint256) public pure override returns (string memory) {
        return "CarboniX carbon credit";
    }

    /// @notice ERC-6909 metadata.
    function symbol(uint256) public pure override returns (string memory) {
        return "tCO2e";
    }

    /// @notice Whole tonnes: 1 credit = 1 tCO2e, never fractions.
    function decimals(uint256) public pure override returns (uint8) {
        return 0;
    }

    /// @notice No off-chain metadata: a batch is described on-chain by `batch` and `BatchIssued`.
    function tokenURI(uint256) public pure override returns (string memory) {
        return "";
    }

    /// @inheritdoc ERC6909
    function supportsInterface(bytes4 interfaceId) public view override(ERC6909, AccessControl) returns (bool) {
        return ERC6909.supportsInterface(interfaceId) || AccessControl.supportsInterface(interfaceId);
    }

    /// @dev Burns the caller's credits and assigns them the lowest unretired serials of the batch.
    function _retire(uint256 batchId, uint48 amount) internal returns (uint48 serialFirst, uint48 serialLast) {
        if (amount == 0) revert CreditsZeroAmount();
        Batch storage b = _batches[batchId];
        (uint48 serialStart, uint48 retired) = (b.serialStart, b.retired);
        if (serialStart == 0) revert CreditsUnknownBatch(batchId);
        // Cannot overflow: the burn below reverts unless the caller holds `amount`, and the credits
        // in circulation never exceed the range, so serialStart + retired + amount - 1 <= serialEnd.
        unchecked {
            serialFirst = serialStart + retired;
            serialLast = serialFirst + amount - 1;
            b.retired = retired + amount;
        }
        _burn(msg.sender, batchId, amount);
    }

    /// @dev A compliance retirement counts for the quarter of its claim period (CB in settlement).
    function _recordCompliance(uint40 claimStart, uint40 claimEnd, uint48 amount) internal {
        uint16 period = QuarterLib.period(claimStart);
        if (QuarterLib.period(claimEnd) != period) revert CreditsClaimSpansQuarters(claimStart, claimEnd);
        _complianceRetired[msg.sender][period] += amount;
    }

    function _issue(IssueParams calldata p) internal returns (uint256 batchId) {
        (uint24 projectIndex, address owner, bool additional) = _registry.certifiedProject(p.projectKey);
        if (projectIndex == 0) revert CreditsProjectNotCertified(p.projectKey);
        if (!additional) revert CreditsProjectNotAdditional(p.projectKey);
        uint48 buffer = _checkIssue(p);

        bytes32 namespace = keccak256(bytes(p.serialPrefix));
        uint48 next = _linkRange(namespace, p.serialStart, p.serialEnd, p.prevSerialStart);
        batchId = _batchId(namespace, p.serialStart);
        _batches[batchId] = Batch({
            projectIndex: projectIndex,
            vintage: p.vintage,
            creditType: p.creditType,
            bufferBps: p.bufferBps,
            serialStart: p.serialStart,
            serialEnd: p.serialEnd,
            nextSerialStart: next,
            retired: 0
        });
        _emitIssued(batchId, p, owner, projectIndex, buffer);
        // _checkIssue proved serialEnd >= serialStart and buffer < quantity.
        _mint(owner, batchId, p.serialEnd - p.serialStart + 1 - buffer);
    }

    /// @dev Validates vintage, serial range, prefix and buffer; returns the buffer credits.
    function _checkIssue(IssueParams calldata p) internal pure returns (uint48 buffer) {
        if (p.vintage < MIN_VINTAGE || p.vintage > MAX_VINTAGE) revert CreditsInvalidVintage(p.vintage);
        if (p.serialStart == 0 || p.serialEnd < p.serialStart) {
            revert CreditsInvalidSerialRange(p.serialStart, p.serialEnd);
        }
        if (bytes(p.serialPrefix).length == 0) revert CreditsEmptySerialPrefix();
        if (p.bufferBps >= BPS) revert CreditsInvalidBuffer(p.bufferBps);
        if (p.creditType == CreditType.Allowance) revert CreditsAllowanceOnlyBySettlement();
        uint48 quantity = p.serialEnd - p.serialStart + 1;
        buffer = _bufferCredits(quantity, p.bufferBps);
        if (buffer >= quantity) revert CreditsInvalidBuffer(p.bufferBps);
    }

    function _emitIssued(uint256 batchId, IssueParams calldata p, address owner, uint24 projectIndex, uint48 buffer)
        internal
    {
        emit BatchIssued(
            batchId,
            p.projectKey,
            owner,
            projectIndex,
            p.vintage,
            p.creditType,
            p.serialStart,
            p.serialEnd,
            buffer,
            p.serialPrefix
        );
    }

    /// @dev Inserts [start, end] into the namespace's sorted list after the range starting at
    /// `prevStart` (0: at the head) and returns the start of the range that follows it.
    /// Reverts with an overlap when serials are shared, and with a bad hint when `prevStart` is not
    /// the start of the range immediately below.
    function _linkRange(bytes32 namespace, uint48 start, uint48 end, uint48 prevStart)
        internal
        returns (uint48 next)
    {
        if (prevStart == 0) {
            next = _firstSerialStart[namespace];
        } else {
            if (prevStart > start) revert CreditsBadSerialHint(prevStart);
            Batch storage prev = _batches[_batchId(namespace, prevStart)];
            if (prev.serialStart == 0) revert CreditsBadSerialHint(prevStart);
            if (prev.serialEnd >= start) revert CreditsSerialRangeOverlaps(namespace, start, end);
            next = prev.nextSerialStart;
        }
        if (next != 0) {
            if (next < start) revert CreditsBadSerialHint(prevStart);
            if (next <= end) revert CreditsSerialRangeOverlaps(namespace, start, end);
        }
        if (prevStart == 0) _firstSerialStart[namespace] = start;
        else _batches[_batchId(namespace, prevStart)].nextSerialStart = start;
    }

    /// @dev Every balance change passes here (Solady calls it before mint, transfer and burn):
    /// receivers must be verified participants or system holders (R1), amounts are whole, non-zero
    /// tonnes, and no ether rides along (Solady's transfer functions are payable; ether sent to
    /// this contract could never leave).
    function _beforeTokenTransfer(address, address to, uint256, uint256 amount) internal view override {
        if (msg.value != 0) revert CreditsEtherNotAccepted();
        if (amount == 0) revert CreditsZeroAmount();
        if (to != address(0) && !_isVerified(to) && !_systemHolders[to]) revert CreditsReceiverNotVerified(to);
    }

    /// @dev `_registry.isVerified(wallet)` without the ABI round trip through memory: this runs on
    /// every transfer. A failed call or a short or non-boolean answer counts as not verified.
    function _isVerified(address wallet) internal view returns (bool verified) {
        address registry_ = address(_registry);
        bytes4 selector = ICarbonRegistry.isVerified.selector;
        assembly ("memory-safe") {
            mstore(0x00, selector)
            mstore(0x04, wallet)
            let ok := staticcall(gas(), registry_, 0x00, 0x24, 0x00, 0x20)
            verified := and(and(ok, gt(returndatasize(), 0x1f)), eq(mload(0x00), 1))
        }
    }

    function _bufferCredits(uint48 quantity, uint16 bufferBps) internal pure returns (uint48) {
        // Rounded up so the pool never holds less than its share. quantity * 10_000 < 2^62.
        return uint48((uint256(quantity) * bufferBps + BPS - 1) / BPS);
    }

    function _batchId(bytes32 namespace, uint48 serialStart) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(namespace, serialStart)));
    }
}
