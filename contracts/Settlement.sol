// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SafeTransferLib} from "solady/utils/SafeTransferLib.sol";

import {ICarbonCredits} from "./interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "./interfaces/IEmissionDataLog.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {QuarterLib} from "./libraries/QuarterLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title Settlement
/// @notice Quarterly cap-and-trade settlement (see ISettlement).
contract Settlement is ISettlement, AccessControl {
    bytes32 public constant REGULATOR_ROLE = Roles.REGULATOR;

    uint256 private constant KG_PER_TONNE = 1000;
    uint256 private constant MAX_BATCH = 200;

    ICarbonRegistry private immutable _registry;
    ICarbonCredits private immutable _credits;
    IEmissionDataLog private immutable _dataLog;
    address private immutable _baht;
    address public immutable treasury;

    /// @inheritdoc ISettlement
    uint32 public grace;

    /// @dev Where the next allowance batch of a quarter starts in its serial namespace.
    struct AllowanceCursor {
        uint48 nextSerial;
        uint48 lastStart;
    }

    mapping(uint16 period => mapping(ICarbonRegistry.Sector sector => Terms)) private _terms;
    mapping(uint16 period => mapping(address participant => Record)) private _records;
    mapping(uint16 period => AllowanceCursor) private _cursors;
    /// @dev Whether anyone was settled in the period: its terms stay frozen even if a longer
    /// grace moves `opensAt` back into the future.
    mapping(uint16 period => bool) private _settling;

    constructor(
        address admin,
        ICarbonRegistry registry_,
        ICarbonCredits credits_,
        IEmissionDataLog dataLog_,
        address baht_,
        address treasury_
    ) {
        if (baht_ == address(0) || treasury_ == address(0)) revert SettlementZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
        _credits = credits_;
        _dataLog = dataLog_;
        _baht = baht_;
        treasury = treasury_;
    }

    /// @inheritdoc ISettlement
    function setTerms(uint16 period, ICarbonRegistry.Sector sector, Terms calldata t)
        external
        onlyRole(REGULATOR_ROLE)
    {
        // Terms are fixed before anyone can settle under them: nobody is billed by rules that
        // changed after the fact.
        if (block.timestamp >= opensAt(period) || _settling[period]) {
            revert SettlementTermsFrozen(period, sector);
        }
        _terms[period][sector] = Terms({
            capKg: t.capKg,
            surchargeRate: t.surchargeRate,
            baseRate: t.baseRate,
            floorPrice: t.floorPrice,
            toleranceKg: t.toleranceKg,
            set: true
        });
        emit TermsSet(period, sector, t.capKg, t.surchargeRate, t.baseRate, t.floorPrice, t.toleranceKg);
    }

    /// @inheritdoc ISettlement
    function setGrace(uint32 graceSeconds) external onlyRole(DEFAULT_ADMIN_ROLE) {
        grace = graceSeconds;
        emit GraceSet(graceSeconds);
    }

    /// @inheritdoc ISettlement
    function settle(uint16 period, address[] calldata participants) external {
        if (participants.length > MAX_BATCH) revert SettlementBatchTooLarge(participants.length);
        uint256 open = opensAt(period);
        if (block.timestamp < open) revert SettlementPeriodNotClosed(period, open);
        if (participants.length != 0 && !_settling[period]) _settling[period] = true;
        (uint16 year, uint8 quarter) = (period / 4, uint8(period % 4 + 1));
        for (uint256 i; i < participants.length; ++i) {
            _settleOne(period, year, quarter, participants[i]);
        }
    }

    /// @inheritdoc ISettlement
    function payDebt(uint16 period, address participant, uint256 amount) external {
        Record storage r = _records[period][participant];
        uint128 debt = r.debt;
        if (debt == 0) revert SettlementNothingOwed(period, participant);
        if (amount == 0) revert SettlementZeroPayment();
        if (amount > debt) revert SettlementOverpaid(debt, amount);
        unchecked {
            r.debt = debt - uint128(amount);
        }
        emit DebtPaid(period, participant, msg.sender, amount);
        SafeTransferLib.safeTransferFrom(_baht, msg.sender, treasury, amount);
    }

    /// @inheritdoc ISettlement
    function claimAllowance(uint16 period) external returns (uint256 batchId) {
        Record storage r = _records[period][msg.sender];
        uint64 tonnes = r.allowanceTonnes;
        if (!r.settled || tonnes == 0 || r.allowanceClaimed) revert SettlementNothingToClaim(period, msg.sender);
        r.allowanceClaimed = true;
        AllowanceCursor memory c = _cursors[period];
        uint48 start = c.nextSerial == 0 ? 1 : c.nextSerial;
        // Checked: an allowance beyond the uint48 serials reverts instead of minting a truncated range.
        uint48 end = SafeCast.toUint48(uint256(start) + tonnes - 1);
        _cursors[period] = AllowanceCursor({nextSerial: end + 1, lastStart: start});
        batchId = _credits.issueAllowance(msg.sender, period, start, end, c.lastStart);
        emit AllowanceClaimed(period, msg.sender, batchId, tonnes);
    }

    /// @inheritdoc ISettlement
    function terms(uint16 period, ICarbonRegistry.Sector sector) external view returns (Terms memory) {
        return _terms[period][sector];
    }

    /// @inheritdoc ISettlement
    function record(uint16 period, address participant) external view returns (Record memory) {
        return _records[period][participant];
    }

    /// @inheritdoc ISettlement
    function opensAt(uint16 period) public view returns (uint256) {
        return QuarterLib.periodStart(period + 1) + grace;
    }

    /// @dev One participant's quarter, in kg CO2e, satang and whole tonnes of allowance.
    struct Bill {
        ICarbonRegistry.Sector sector;
        uint256 emissions;
        uint256 removals;
        uint256 cap;
        uint256 complianceRetired;
        uint256 uncovered;
        uint256 surcharge;
        uint256 baseCharge;
        uint256 allowance;
        Classification classification;
    }

    function _settleOne(uint16 period, uint16 year, uint8 quarter, address p) internal {
        Record storage r = _records[period][p];
        if (r.settled) revert SettlementAlreadySettled(period, p);
        Bill memory b = _bill(period, year, quarter, p);
        r.settled = true;
        r.classification = b.classification;
        r.allowanceTonnes = uint64(b.allowance);
        r.debt = uint128(b.surcharge + b.baseCharge);
        emit Settled(
            period,
            p,
            b.sector,
            uint64(b.emissions),
            uint64(b.removals),
            uint64(b.cap),
            uint64(b.complianceRetired),
            uint64(b.uncovered),
            uint128(b.surcharge),
            uint128(b.baseCharge),
            uint64(b.allowance),
            b.classification
        );
    }

    /// @dev Algorithm 1 lines 4-9 and the billing equation's on-chain terms for one participant.
    function _bill(uint16 period, uint16 year, uint8 quarter, address p) internal view returns (Bill memory b) {
        ICarbonRegistry.Participant memory info = _registry.participant(p);
        if (info.orgKey == bytes20(0)) revert SettlementNotRegistered(p);
        Terms memory t = _terms[period][info.sector];
        if (!t.set) revert SettlementNoTerms(period, info.sector);
        b.sector = info.sector;
        b.emissions = _dataLog.totalOf(p, IEmissionDataLog.Flow.Emission, year, quarter);
        b.removals = _dataLog.totalOf(p, IEmissionDataLog.Flow.Removal, year, quarter);
        b.complianceRetired = _credits.complianceRetired(p, period) * KG_PER_TONNE;
        b.cap = t.capKg;
        if (b.emissions > b.cap) {
            uint256 excess = b.emissions - b.cap;
            b.uncovered = excess > b.complianceRetired ? excess - b.complianceRetired : 0;
        } else {
            b.allowance = (b.cap - b.emissions) / KG_PER_TONNE; // whole credits only
        }
        // Charges round up to the satang: a fraction of a tonne is never left uncharged.
        b.surcharge = _ceilDiv(b.uncovered * t.surchargeRate, KG_PER_TONNE);
        b.baseCharge = _ceilDiv((b.emissions < b.cap ? b.emissions : b.cap) * t.baseRate, KG_PER_TONNE);
        b.classification = _classify(b.emissions, b.removals, t.toleranceKg);
    }

    /// @dev Net emitter, neutral or absorber by emissions minus removals, within the tolerance.
    function _classify(uint256 e, uint256 removals, uint256 toleranceKg) internal pure returns (Classification) {
        if (e > removals + toleranceKg) return Classification.NetEmitter;
        if (removals > e + toleranceKg) return Classification.NetAbsorber;
        return Classification.NetNeutral;
    }

    function _ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a + b - 1) / b;
    }
}
