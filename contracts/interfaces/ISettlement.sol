// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICarbonRegistry} from "./ICarbonRegistry.sol";

/// @title ISettlement
/// @notice Quarterly cap-and-trade settlement (Algorithm 1 lines 1-14, the billing equation).
/// @dev The regulator sets per sector and quarter a cap K_s, a surcharge rate, a base rate and a
/// floor price (Table 3 presets or custom). After the quarter closes (plus a grace period for late
/// sensor data), anyone settles participants in batches, each exactly once per quarter, in O(1):
/// E = verified emissions from the data log, CB = credits retired for compliance against that
/// quarter. If E > K_s, the uncovered excess max(0, E - K_s - CB) is charged at the surcharge rate
/// as a debt in baht; otherwise the participant earns K_s - E whole tonnes of allowance credits,
/// which it claims as an Allowance batch. Amounts are kg CO2e inside (the data log's unit), whole
/// tonnes for credits, satang for baht.
///
/// The `Settled` event carries the on-chain terms of the billing equation
/// TC_i = base * min(E, K) + surcharge * max(0, E - K - CB) * a_i - sell * CS_i + buy * CB_i:
/// the trading terms (CS_i, CB_i bought, and their prices) are the participant's trades, which
/// the indexer sums from the exchange's `Traded` events.
interface ISettlement {
    /// @dev Classification by net flow (emissions minus removals) against the sector tolerance.
    enum Classification {
        NetEmitter,
        NetNeutral,
        NetAbsorber
    }

    /// @dev The regulator's terms for one sector and quarter (one slot). Rates in satang per tonne.
    struct Terms {
        uint64 capKg;
        uint40 surchargeRate;
        uint40 baseRate;
        uint40 floorPrice;
        uint32 toleranceKg;
        bool set;
    }

    /// @dev One participant's settlement of one quarter (one slot).
    struct Record {
        bool settled;
        Classification classification;
        bool allowanceClaimed;
        uint64 allowanceTonnes;
        uint128 debt;
    }

    error SettlementPeriodNotClosed(uint16 period, uint256 opensAt);
    error SettlementNoTerms(uint16 period, ICarbonRegistry.Sector sector);
    error SettlementTermsFrozen(uint16 period, ICarbonRegistry.Sector sector);
    error SettlementAlreadySettled(uint16 period, address participant);
    error SettlementNotRegistered(address participant);
    error SettlementNothingToClaim(uint16 period, address participant);
    error SettlementNothingOwed(uint16 period, address participant);
    error SettlementOverpaid(uint256 debt, uint256 amount);
    error SettlementZeroPayment();
    error SettlementBatchTooLarge(uint256 length);
    error SettlementZeroAddress();

    event TermsSet(
        uint16 indexed period,
        ICarbonRegistry.Sector indexed sector,
        uint64 capKg,
        uint40 surchargeRate,
        uint40 baseRate,
        uint40 floorPrice,
        uint32 toleranceKg
    );
    /// @notice One participant settled for one quarter: the billing equation's on-chain terms.
    event Settled(
        uint16 indexed period,
        address indexed participant,
        ICarbonRegistry.Sector indexed sector,
        uint64 emissionsKg,
        uint64 removalsKg,
        uint64 capKg,
        uint64 complianceRetiredKg,
        uint64 uncoveredKg,
        uint128 surcharge,
        uint128 baseCharge,
        uint64 allowanceTonnes,
        Classification classification
    );
    event DebtPaid(uint16 indexed period, address indexed participant, address payer, uint256 amount);
    event AllowanceClaimed(uint16 indexed period, address indexed participant, uint256 batchId, uint64 tonnes);
    event GraceSet(uint32 graceSeconds);

    /// @notice Sets a sector's terms for a quarter (regulator); frozen once anyone settled under them.
    function setTerms(uint16 period, ICarbonRegistry.Sector sector, Terms calldata terms) external;

    /// @notice Seconds after a quarter ends before it can be settled (admin), for late sensor data.
    function setGrace(uint32 graceSeconds) external;

    /// @notice Settles `participants` for `period` (anyone, at most 200 per call); reverts if any
    /// of them is already settled or unregistered, or their sector has no terms.
    function settle(uint16 period, address[] calldata participants) external;

    /// @notice Pays (part of) a participant's surcharge debt in baht, to the treasury. Anyone may pay.
    function payDebt(uint16 period, address participant, uint256 amount) external;

    /// @notice Mints the allowance credits the caller earned in `period` (an Allowance batch).
    function claimAllowance(uint16 period) external returns (uint256 batchId);

    function terms(uint16 period, ICarbonRegistry.Sector sector) external view returns (Terms memory);
    function record(uint16 period, address participant) external view returns (Record memory);
    /// @notice When `period` can first be settled: its end plus the grace period.
    function opensAt(uint16 period) external view returns (uint256);
    function grace() external view returns (uint32);
}
