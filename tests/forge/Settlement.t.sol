// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SafeTransferLib} from "solady/utils/SafeTransferLib.sol";

import {Settlement} from "../../contracts/Settlement.sol";
import {TestBaht} from "../../contracts/TestBaht.sol";
import {ICarbonCredits} from "../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../contracts/interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "../../contracts/interfaces/IEmissionDataLog.sol";
import {ISettlement} from "../../contracts/interfaces/ISettlement.sol";
import {QuarterLib} from "../../contracts/libraries/QuarterLib.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {BaseTest, SystemTest} from "./utils/BaseTest.sol";
import {GasBudgets} from "./utils/GasBudgets.sol";

/// @notice Shared by the unit and gas suites: the settlement deployment and the data-log and
/// billing helpers. The quarter under test is Q2 2026 (NOW = 2026-06-15 lies in it).
abstract contract SettlementFixture is BaseTest {
    /// @dev Periods are year * 4 + quarter - 1.
    uint16 internal constant P = 2026 * 4 + 1;
    /// @dev 2026-04-01 00:00 ICT and 2026-07-01 00:00 ICT: the bounds of Q2 2026 in Thai time.
    uint40 internal constant Q2_START = 1_774_976_400;
    uint40 internal constant Q3_START = 1_782_838_800;

    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    ICarbonRegistry.Sector internal constant ENERGY = ICarbonRegistry.Sector.Energy;
    ICarbonRegistry.Sector internal constant INDUSTRY = ICarbonRegistry.Sector.Industry;
    ICarbonRegistry.Sector internal constant TRANSPORT = ICarbonRegistry.Sector.Transport;
    ICarbonRegistry.Sector internal constant FORESTRY = ICarbonRegistry.Sector.Forestry;

    IEmissionDataLog.Flow internal constant EMISSION = IEmissionDataLog.Flow.Emission;
    IEmissionDataLog.Flow internal constant REMOVAL = IEmissionDataLog.Flow.Removal;

    address internal regulator = makeAddr("regulator");
    address internal treasury = makeAddr("treasury");

    TestBaht internal baht;
    Settlement internal settlement;
    uint256 internal _nonce;

    function _deploySettlement() internal {
        baht = new TestBaht();
        settlement = new Settlement(admin, registry, credits, dataLog, address(baht), treasury);
        vm.startPrank(admin);
        settlement.grantRole(Roles.REGULATOR, regulator);
        credits.grantRole(Roles.ALLOWANCE_ISSUER, address(settlement));
        vm.stopPrank();
        vm.label(address(settlement), "Settlement");
        vm.label(address(baht), "TestBaht");
    }

    /// @dev Registers (only) a new participant of `sector`: settlement needs no verification.
    function _newParticipant(string memory name, ICarbonRegistry.Sector sector) internal returns (address a) {
        a = makeAddr(name);
        _registerIn(a, sector);
    }

    function _registerIn(address a, ICarbonRegistry.Sector sector) internal {
        vm.prank(a);
        registry.registerParticipant(
            orgIdOf(a), ICarbonRegistry.AccountType.Corporation, ICarbonRegistry.TradeRole.Both, sector
        );
    }

    function _terms(uint64 capKg, uint40 surchargeRate, uint40 baseRate, uint32 toleranceKg)
        internal
        pure
        returns (ISettlement.Terms memory)
    {
        return ISettlement.Terms({
            capKg: capKg,
            surchargeRate: surchargeRate,
            baseRate: baseRate,
            floorPrice: 50_000,
            toleranceKg: toleranceKg,
            set: false // setTerms marks them set whatever the caller passes
        });
    }

    function _setTerms(uint16 period, ICarbonRegistry.Sector sector, ISettlement.Terms memory t) internal {
        vm.prank(regulator);
        settlement.setTerms(period, sector, t);
    }

    /// @dev Commits one batch of `kg` of `flow` for `who` covering Q2 2026 up to NOW.
    function _commit(address who, IEmissionDataLog.Flow flow, uint64 kg) internal {
        _commitIn(who, flow, kg, Q2_START, NOW);
    }

    function _commitIn(address who, IEmissionDataLog.Flow flow, uint64 kg, uint40 start, uint40 end)
        internal
    {
        bytes32 id = keccak256(abi.encode("settlement-test", ++_nonce));
        vm.prank(oracle);
        dataLog.commitBatch(
            IEmissionDataLog.EmissionBatch({
                batchId: id,
                participant: who,
                projectKey: bytes32(0),
                periodStart: start,
                periodEnd: end,
                readingCount: 96,
                readingsRoot: keccak256(abi.encode("readings", id)),
                kgCO2e: kg,
                qualityScore: 90,
                gradeCounts: 0,
                flow: flow
            })
        );
    }

    function _close() internal {
        vm.warp(settlement.opensAt(P));
    }

    function _settle(address a) internal {
        address[] memory ps = new address[](1);
        ps[0] = a;
        settlement.settle(P, ps);
    }

    function _settle(address a, address b) internal {
        address[] memory ps = new address[](2);
        (ps[0], ps[1]) = (a, b);
        settlement.settle(P, ps);
    }

    function _record(address a) internal view returns (ISettlement.Record memory) {
        return settlement.record(P, a);
    }

    function _log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}

/// @title SettlementTest
/// @notice Quarterly cap-and-trade settlement: terms, the settlement window, the billing equation
/// against hand-computed figures and a reference model, classification, debts and allowances.
/// @dev World: alice, bob and carol (Energy, verified; SystemTest), ind (Industry), forest
/// (Forestry) and truck (Transport, no terms) verified too; dave registered (Energy) only, eve
/// unregistered. alice holds 100,000 credits of P-ADD for compliance retirements.
contract SettlementTest is SystemTest, SettlementFixture {
    // Energy: 1,000 t cap, 1,500.07 THB/t surcharge (rounding shows), 20.01 THB/t base, 10 t tolerance.
    uint64 internal constant E_CAP = 1_000_000;
    uint40 internal constant E_SURCHARGE = 150_007;
    uint40 internal constant E_BASE = 2_001;
    uint32 internal constant E_TOL = 10_000;
    // Industry: 500 t cap, 2,000 THB/t surcharge, no base charge, no tolerance.
    uint64 internal constant I_CAP = 500_000;
    uint40 internal constant I_SURCHARGE = 200_000;
    // Forestry: 200 t cap, 1,000 THB/t surcharge, 10 THB/t base, 5 t tolerance.
    uint64 internal constant F_CAP = 200_000;
    uint40 internal constant F_SURCHARGE = 100_000;
    uint40 internal constant F_BASE = 1_000;
    uint32 internal constant F_TOL = 5_000;

    string internal constant ALLOWANCE_PREFIX = "TH-ALLOWANCE-2026Q2";

    address internal ind;
    address internal forest;
    address internal truck;
    uint256 internal projectBatch;

    function setUp() public override(BaseTest, SystemTest) {
        SystemTest.setUp();
        _deploySettlement();
        ind = _newParticipant("ind", INDUSTRY);
        forest = _newParticipant("forest", FORESTRY);
        truck = _newParticipant("truck", TRANSPORT);
        address[] memory w = new address[](6);
        (w[0], w[1], w[2], w[3], w[4], w[5]) = (alice, bob, carol, ind, forest, truck);
        _onboard(w); // one tree for all six: alice, bob and carol stay verified
        _setTerms(P, ENERGY, _terms(E_CAP, E_SURCHARGE, E_BASE, E_TOL));
        _setTerms(P, INDUSTRY, _terms(I_CAP, I_SURCHARGE, 0, 0));
        _setTerms(P, FORESTRY, _terms(F_CAP, F_SURCHARGE, F_BASE, F_TOL));
        projectBatch = _issue(pAdd, 1, 100_000, 0);
    }

    /// @dev `who` retires `tonnes` of P-ADD for compliance against Q2 2026 (alice supplies them).
    function _comply(address who, uint48 tonnes) internal {
        if (who != alice) {
            vm.prank(alice);
            credits.transfer(who, projectBatch, tonnes);
        }
        _retire(who, projectBatch, tonnes);
    }

    function _notClosed(uint16 period, uint256 opens) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ISettlement.SettlementPeriodNotClosed.selector, period, opens);
    }

    function _alreadySettled(address a) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ISettlement.SettlementAlreadySettled.selector, P, a);
    }

    function _nothingToClaim(address a) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ISettlement.SettlementNothingToClaim.selector, P, a);
    }

    function _nothingOwed(address a) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(ISettlement.SettlementNothingOwed.selector, P, a);
    }

    function _fund(address payer, uint256 amount) internal {
        vm.startPrank(payer);
        baht.faucet(amount);
        baht.approve(address(settlement), amount);
        vm.stopPrank();
    }

    function _pay(address payer, address participant, uint256 amount) internal {
        _fund(payer, amount);
        vm.prank(payer);
        settlement.payDebt(P, participant, amount);
    }

    function _claim(address who) internal returns (uint256 batchId) {
        vm.prank(who);
        batchId = settlement.claimAllowance(P);
    }

    function _assertRecord(
        address a,
        ISettlement.Classification classification,
        uint256 allowanceTonnes,
        uint256 debt
    ) internal view {
        ISettlement.Record memory r = _record(a);
        vm.assertTrue(r.settled, "settled");
        vm.assertEq(uint256(r.classification), uint256(classification), "classification");
        vm.assertEq(r.allowanceTonnes, allowanceTonnes, "allowance");
        vm.assertEq(r.debt, debt, "debt");
        vm.assertFalse(r.allowanceClaimed, "claimed");
    }

    // ------------------------------------------------------------------ deployment and quarters

    function test_constructor_revertsOnZeroAddress() public {
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        new Settlement(admin, registry, credits, dataLog, address(0), treasury);
        vm.expectRevert(ISettlement.SettlementZeroAddress.selector);
        new Settlement(admin, registry, credits, dataLog, address(baht), address(0));
    }

    function test_period_constants() public view {
        vm.assertEq(QuarterLib.period(NOW), P);
        vm.assertEq(QuarterLib.periodStart(P), Q2_START);
        vm.assertEq(QuarterLib.periodStart(P + 1), Q3_START);
        vm.assertEq(QuarterLib.period(Q3_START - 1), P);
        vm.assertEq(settlement.opensAt(P), Q3_START);
        vm.assertEq(settlement.grace(), 0);
        vm.assertEq(settlement.treasury(), treasury);
    }

    // ------------------------------------------------------------------ terms and grace

    function test_setTerms_storesAndEmits() public {
        ISettlement.Terms memory t = _terms(7_000_000, 90_000, 1_500, 2_500);
        vm.expectEmit(address(settlement));
        emit ISettlement.TermsSet(
            P, ICarbonRegistry.Sector.Agriculture, 7_000_000, 90_000, 1_500, 50_000, 2_500
        );
        _setTerms(P, ICarbonRegistry.Sector.Agriculture, t);
        ISettlement.Terms memory s = settlement.terms(P, ICarbonRegistry.Sector.Agriculture);
        vm.assertEq(s.capKg, 7_000_000);
        vm.assertEq(s.surchargeRate, 90_000);
        vm.assertEq(s.baseRate, 1_500);
        vm.assertEq(s.floorPrice, 50_000);
        vm.assertEq(s.toleranceKg, 2_500);
        vm.assertTrue(s.set, "set although the caller passed set = false");
        // Other sectors and quarters are untouched.
        vm.assertFalse(settlement.terms(P + 1, ICarbonRegistry.Sector.Agriculture).set);
        vm.assertFalse(settlement.terms(P, TRANSPORT).set);
    }

    function test_setTerms_overwritesBeforeOpen() public {
        _setTerms(P, ENERGY, _terms(2_000_000, 1, 2, 3));
        vm.assertEq(settlement.terms(P, ENERGY).capKg, 2_000_000);
        vm.assertEq(settlement.terms(P, ENERGY).surchargeRate, 1);
    }

    function test_setTerms_revertsForNonRegulator() public {
        ISettlement.Terms memory t = _terms(1, 1, 1, 1);
        address[2] memory callers = [alice, admin];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IAccessControl.AccessControlUnauthorizedAccount.selector, callers[i], Roles.REGULATOR
                )
            );
            vm.prank(callers[i]);
            settlement.setTerms(P, ENERGY, t);
        }
    }

    function test_setTerms_frozenOncePeriodOpens() public {
        ISettlement.Terms memory t = _terms(1, 1, 1, 1);
        vm.warp(Q3_START - 1); // the last second of Q2: still open to change
        _setTerms(P, TRANSPORT, t);
        vm.warp(Q3_START);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, P, TRANSPORT));
        _setTerms(P, TRANSPORT, t);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, P, ENERGY));
        _setTerms(P, ENERGY, t);
        // The next quarter's terms can still be set.
        _setTerms(P + 1, ENERGY, t);
    }

    function test_setTerms_frozenForEndedQuarter() public {
        // At NOW (Q2) the settlement of Q1 is already open.
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, P - 1, ENERGY));
        _setTerms(P - 1, ENERGY, _terms(1, 1, 1, 1));
    }

    function test_setTerms_graceExtendsTheWindow() public {
        vm.prank(admin);
        settlement.setGrace(7 days);
        vm.warp(Q3_START);
        _setTerms(P, TRANSPORT, _terms(1, 1, 1, 1));
        vm.warp(Q3_START + 7 days - 1);
        _setTerms(P, TRANSPORT, _terms(2, 2, 2, 2));
        vm.warp(Q3_START + 7 days);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, P, TRANSPORT));
        _setTerms(P, TRANSPORT, _terms(3, 3, 3, 3));
        vm.assertEq(settlement.terms(P, TRANSPORT).capKg, 2);
    }

    /// @dev Regression: raising the grace after a quarter opened moved `opensAt` back into the
    /// future and unfroze the terms of a quarter in which participants were already billed, so
    /// the rest of the sector could be billed under other terms.
    function test_setTerms_staysFrozenAfterSettlementWhenGraceGrows() public {
        _commit(alice, EMISSION, 1_234_567);
        _commit(bob, EMISSION, 1_234_567);
        _close();
        _settle(alice);
        vm.prank(admin);
        settlement.setGrace(30 days);
        vm.assertEq(settlement.opensAt(P), Q3_START + 30 days);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, P, ENERGY));
        _setTerms(P, ENERGY, _terms(10_000_000, 0, 0, 0));
        // The whole quarter is frozen, even sectors nobody was settled in yet.
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, P, TRANSPORT));
        _setTerms(P, TRANSPORT, _terms(10_000_000, 0, 0, 0));
        // The settlement window follows the new grace; bob is billed exactly as alice was.
        vm.expectRevert(_notClosed(P, Q3_START + 30 days));
        _settle(bob);
        vm.warp(Q3_START + 30 days);
        _settle(bob);
        vm.assertEq(_record(bob).debt, _record(alice).debt);
        vm.assertEq(_record(bob).debt, 35_186_692 + 2_001_000);
    }

    /// @dev A quarter nobody settled yet may get new terms when the grace grows (nobody was billed).
    function test_setTerms_unfrozenByGraceWhenNobodySettled() public {
        vm.warp(Q3_START + 1 days);
        vm.prank(admin);
        settlement.setGrace(3 days);
        _setTerms(P, TRANSPORT, _terms(1, 1, 1, 1));
        vm.assertTrue(settlement.terms(P, TRANSPORT).set);
    }

    function test_setGrace_adminOnlyAndEmits() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, regulator, bytes32(0)
            )
        );
        vm.prank(regulator);
        settlement.setGrace(1 days);
        vm.expectEmit(address(settlement));
        emit ISettlement.GraceSet(2 days);
        vm.prank(admin);
        settlement.setGrace(2 days);
        vm.assertEq(settlement.grace(), 2 days);
        vm.assertEq(settlement.opensAt(P), Q3_START + 2 days);
    }

    // ------------------------------------------------------------------ settlement window and guards

    function test_settle_revertsBeforeQuarterCloses() public {
        _commit(alice, EMISSION, 1);
        vm.expectRevert(_notClosed(P, Q3_START));
        _settle(alice);
        vm.warp(Q3_START - 1);
        vm.expectRevert(_notClosed(P, Q3_START));
        _settle(alice);
        // The current and future quarters are never settleable early either.
        address[] memory none = new address[](0);
        vm.expectRevert(_notClosed(P + 1, QuarterLib.periodStart(P + 2)));
        settlement.settle(P + 1, none);
        vm.warp(Q3_START);
        _settle(alice);
        vm.assertTrue(_record(alice).settled);
    }

    function test_settle_waitsForGrace() public {
        vm.prank(admin);
        settlement.setGrace(5 days);
        vm.warp(Q3_START);
        vm.expectRevert(_notClosed(P, Q3_START + 5 days));
        _settle(alice);
        vm.warp(Q3_START + 5 days - 1);
        vm.expectRevert(_notClosed(P, Q3_START + 5 days));
        _settle(alice);
        vm.warp(Q3_START + 5 days);
        _settle(alice);
        vm.assertTrue(_record(alice).settled);
    }

    function test_settle_countsLateDataCommittedDuringGrace() public {
        vm.prank(admin);
        settlement.setGrace(3 days);
        _commit(alice, EMISSION, 600_000);
        vm.warp(Q3_START + 1 days);
        _commitIn(alice, EMISSION, 600_000, NOW, Q3_START - 1); // late Q2 data
        _commitIn(alice, EMISSION, 999_999, Q3_START, Q3_START + 1 hours); // Q3: not this quarter
        vm.warp(Q3_START + 3 days);
        _settle(alice);
        // E = 1,200,000 kg: 200 t over the cap.
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 0, 30_001_400 + 2_001_000);
    }

    function test_settle_ignoresDataCommittedAfterSettlement() public {
        _commit(alice, EMISSION, 400_123);
        _close();
        _settle(alice);
        _commitIn(alice, EMISSION, 5_000_000, NOW + 1, NOW + 2);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 599, 800_647);
    }

    function test_settle_revertsForUnregistered() public {
        _close();
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotRegistered.selector, eve));
        _settle(eve);
        // All or nothing: alice, first in the batch, is not settled either.
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotRegistered.selector, eve));
        _settle(alice, eve);
        vm.assertFalse(_record(alice).settled);
    }

    function test_settle_registeredButUnverifiedIsSettled() public {
        _commit(dave, EMISSION, 1_500_000);
        _close();
        _settle(dave);
        _assertRecord(dave, ISettlement.Classification.NetEmitter, 0, 75_003_500 + 2_001_000);
    }

    function test_settle_revertsForSectorWithoutTerms() public {
        _commit(truck, EMISSION, 10);
        _close();
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoTerms.selector, P, TRANSPORT));
        _settle(truck);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNoTerms.selector, P, TRANSPORT));
        _settle(alice, truck);
        vm.assertFalse(_record(alice).settled);
        vm.assertFalse(_record(truck).settled);
    }

    function test_settle_revertsOnDoubleSettlementInOneBatch() public {
        _close();
        address[] memory ps = new address[](3);
        (ps[0], ps[1], ps[2]) = (alice, bob, alice);
        vm.expectRevert(_alreadySettled(alice));
        settlement.settle(P, ps);
        vm.assertFalse(_record(alice).settled);
        vm.assertFalse(_record(bob).settled);
    }

    function test_settle_revertsOnDoubleSettlementInLaterBatch() public {
        _commit(alice, EMISSION, 1_234_567);
        _close();
        _settle(alice);
        ISettlement.Record memory before = _record(alice);
        _commit(alice, EMISSION, 1_000_000);
        vm.expectRevert(_alreadySettled(alice));
        _settle(alice);
        vm.expectRevert(_alreadySettled(alice));
        _settle(bob, alice);
        vm.assertFalse(_record(bob).settled);
        vm.assertEq(_record(alice).debt, before.debt);
        // Even after the debt is paid the quarter stays settled.
        _pay(carol, alice, before.debt);
        vm.expectRevert(_alreadySettled(alice));
        _settle(alice);
    }

    function test_settle_batchLimit() public {
        _close();
        address[] memory ps = new address[](201);
        for (uint256 i; i < ps.length; ++i) {
            ps[i] = address(uint160(0xBEEF0000 + i));
        }
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, 201));
        settlement.settle(P, ps);
        // 200 pass the size check (and then fail on the first unregistered address).
        assembly ("memory-safe") {
            mstore(ps, 200)
        }
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNotRegistered.selector, ps[0]));
        settlement.settle(P, ps);
        // The size check comes before the window check.
        vm.warp(NOW);
        assembly ("memory-safe") {
            mstore(ps, 201)
        }
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBatchTooLarge.selector, 201));
        settlement.settle(P, ps);
    }

    function test_settle_emptyBatchAndAnyCaller() public {
        _close();
        settlement.settle(P, new address[](0));
        vm.prank(eve); // anyone, even an unregistered address, may settle others
        _settle(alice, bob);
        vm.assertTrue(_record(alice).settled);
        vm.assertTrue(_record(bob).settled);
        vm.assertFalse(_record(carol).settled);
    }

    function test_settle_quartersAreIndependent() public {
        _setTerms(P + 1, ENERGY, _terms(E_CAP, E_SURCHARGE, E_BASE, E_TOL));
        _commitIn(alice, EMISSION, 9_000_000, Q2_START - 10 days, Q2_START - 1); // Q1: not counted
        _commit(alice, EMISSION, 400_123);
        vm.warp(Q3_START + 10 days);
        _commitIn(alice, EMISSION, 1_500_000, Q3_START, Q3_START + 10 days); // Q3
        _settle(alice);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 599, 800_647);
        vm.assertFalse(settlement.record(P + 1, alice).settled);

        address[] memory ps = new address[](1);
        ps[0] = alice;
        vm.expectRevert(_notClosed(P + 1, QuarterLib.periodStart(P + 2)));
        settlement.settle(P + 1, ps);
        vm.warp(QuarterLib.periodStart(P + 2));
        settlement.settle(P + 1, ps);
        ISettlement.Record memory q3 = settlement.record(P + 1, alice);
        vm.assertEq(q3.debt, 75_003_500 + 2_001_000);
        vm.assertEq(q3.allowanceTonnes, 0);
    }

    // ------------------------------------------------------------------ billing

    /// @dev E = 1,234,567 kg > K = 1,000,000, no CB: uncovered 234,567 kg;
    /// surcharge = ceil(234,567 * 150,007 / 1000) = ceil(35,186,691.969) = 35,186,692 satang;
    /// base = 1,000,000 * 2,001 / 1000 = 2,001,000 satang.
    function test_bill_overCapWithoutCompliance() public {
        _commit(alice, EMISSION, 1_000_000);
        vm.prank(oracle);
        dataLog.logEmission(alice, pAdd, 13_756_331, 100_501_765, 234_567, 90, NOW - 1 hours);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            alice,
            ENERGY,
            1_234_567,
            0,
            E_CAP,
            0,
            234_567,
            35_186_692,
            2_001_000,
            0,
            ISettlement.Classification.NetEmitter
        );
        _settle(alice);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 0, 35_186_692 + 2_001_000);
    }

    /// @dev E = 1,500,000 kg, CB = 200 t: uncovered 500,000 - 200,000 = 300,000 kg;
    /// surcharge = 300,000 * 150,007 / 1000 = 45,002,100 satang.
    function test_bill_overCapPartlyCoveredByCompliance() public {
        _commit(bob, EMISSION, 1_500_000);
        _comply(bob, 120);
        _comply(bob, 80); // retirements add up
        vm.assertEq(credits.complianceRetired(bob, P), 200);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            bob,
            ENERGY,
            1_500_000,
            0,
            E_CAP,
            200_000,
            300_000,
            45_002_100,
            2_001_000,
            0,
            ISettlement.Classification.NetEmitter
        );
        _settle(bob);
        _assertRecord(bob, ISettlement.Classification.NetEmitter, 0, 45_002_100 + 2_001_000);
    }

    function test_bill_overCapFullyCoveredByCompliance() public {
        _commit(carol, EMISSION, 1_100_000);
        _comply(carol, 150); // 150 t cover the 100 t excess with room to spare
        _commit(alice, EMISSION, 1_100_000);
        _comply(alice, 100); // exactly covered
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            carol,
            ENERGY,
            1_100_000,
            0,
            E_CAP,
            150_000,
            0,
            0,
            2_001_000,
            0,
            ISettlement.Classification.NetEmitter
        );
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            alice,
            ENERGY,
            1_100_000,
            0,
            E_CAP,
            100_000,
            0,
            0,
            2_001_000,
            0,
            ISettlement.Classification.NetEmitter
        );
        _settle(carol, alice);
        // No surcharge, no allowance: only the base charge on the cap.
        _assertRecord(carol, ISettlement.Classification.NetEmitter, 0, 2_001_000);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 0, 2_001_000);
    }

    /// @dev One tonne short of full cover: 1,000 kg uncovered, 150,007 satang.
    function test_bill_overCapCoveredButOneTonne() public {
        _commit(bob, EMISSION, 1_100_000);
        _comply(bob, 99);
        _close();
        _settle(bob);
        _assertRecord(bob, ISettlement.Classification.NetEmitter, 0, 150_007 + 2_001_000);
    }

    /// @dev Only compliance retirements of this quarter count: a voluntary retirement and a
    /// compliance retirement claimed against Q1 leave CB at zero.
    function test_bill_complianceOfOtherQuarterOrPurposeIgnored() public {
        _commit(alice, EMISSION, 1_234_567);
        vm.startPrank(alice);
        credits.retire(
            projectBatch,
            500,
            "Siam Cement PCL",
            ICarbonCredits.RetirementPurpose.VoluntaryOffset,
            Q2_START,
            NOW
        );
        credits.retire(
            projectBatch,
            500,
            "Siam Cement PCL",
            ICarbonCredits.RetirementPurpose.Compliance,
            Q2_START - 90 days,
            Q2_START - 1
        );
        vm.stopPrank();
        vm.assertEq(credits.complianceRetired(alice, P), 0);
        vm.assertEq(credits.complianceRetired(alice, P - 1), 500);
        _close();
        _settle(alice);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 0, 35_186_692 + 2_001_000);
    }

    /// @dev E = 123,456 kg < K = 500,000 (Industry, no base rate): allowance floor(376,544 / 1000)
    /// = 376 t, no debt.
    function test_bill_underCapEarnsAllowance() public {
        _commit(ind, EMISSION, 123_456);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P, ind, INDUSTRY, 123_456, 0, I_CAP, 0, 0, 0, 0, 376, ISettlement.Classification.NetEmitter
        );
        _settle(ind);
        _assertRecord(ind, ISettlement.Classification.NetEmitter, 376, 0);
    }

    /// @dev E = 400,123 kg < K: base = ceil(400,123 * 2,001 / 1000) = ceil(800,646.123) = 800,647
    /// satang on E (not K); allowance floor(599,877 / 1000) = 599 t.
    function test_bill_baseChargeOnEmissionsUnderCap() public {
        _commit(alice, EMISSION, 400_123);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P, alice, ENERGY, 400_123, 0, E_CAP, 0, 0, 0, 800_647, 599, ISettlement.Classification.NetEmitter
        );
        _settle(alice);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 599, 800_647);
    }

    function test_bill_atCapAndJustUnder() public {
        _commit(alice, EMISSION, E_CAP); // E = K: neither surcharge nor allowance
        _commit(bob, EMISSION, E_CAP - 999); // 999 kg under: less than a whole credit
        _commit(carol, EMISSION, E_CAP - 1000); // exactly one credit
        _close();
        address[] memory ps = new address[](3);
        (ps[0], ps[1], ps[2]) = (alice, bob, carol);
        settlement.settle(P, ps);
        _assertRecord(alice, ISettlement.Classification.NetEmitter, 0, 2_001_000);
        _assertRecord(bob, ISettlement.Classification.NetEmitter, 0, 1_999_002); // ceil(999,001 * 2.001)
        _assertRecord(carol, ISettlement.Classification.NetEmitter, 1, 1_998_999);
    }

    function test_bill_noDataEarnsWholeCap() public {
        _close();
        _settle(alice); // nothing committed: E = 0
        _assertRecord(alice, ISettlement.Classification.NetNeutral, 1000, 0);
    }

    /// @dev Compliance credits retired under the cap neither add allowance nor reduce the base.
    function test_bill_complianceUnderCapChangesNothing() public {
        _commit(ind, EMISSION, 123_456);
        _comply(ind, 50);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P, ind, INDUSTRY, 123_456, 0, I_CAP, 50_000, 0, 0, 0, 376, ISettlement.Classification.NetEmitter
        );
        _settle(ind);
    }

    /// @dev Removals classify but do not offset the bill.
    function test_bill_removalsDoNotOffsetEmissions() public {
        _commit(alice, EMISSION, 1_234_567);
        _commit(alice, REMOVAL, 5_000_000);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            alice,
            ENERGY,
            1_234_567,
            5_000_000,
            E_CAP,
            0,
            234_567,
            35_186_692,
            2_001_000,
            0,
            ISettlement.Classification.NetAbsorber
        );
        _settle(alice);
    }

    // ------------------------------------------------------------------ classification

    function _classified(string memory name, ICarbonRegistry.Sector sector, uint64 e, uint64 r)
        internal
        returns (ISettlement.Classification)
    {
        address a = _newParticipant(name, sector);
        if (e != 0) _commit(a, EMISSION, e);
        if (r != 0) _commit(a, REMOVAL, r);
        vm.warp(settlement.opensAt(P));
        _settle(a);
        vm.warp(NOW); // back inside Q2 for the next commits
        return _record(a).classification;
    }

    function test_classify_withTolerance() public {
        // Forestry tolerance: 5,000 kg either way counts as neutral.
        ISettlement.Classification emitter = ISettlement.Classification.NetEmitter;
        ISettlement.Classification neutral = ISettlement.Classification.NetNeutral;
        ISettlement.Classification absorber = ISettlement.Classification.NetAbsorber;
        vm.assertEq(uint256(_classified("f1", FORESTRY, 10_000, 50_000)), uint256(absorber));
        vm.assertEq(uint256(_classified("f2", FORESTRY, 10_000, 15_000)), uint256(neutral));
        vm.assertEq(uint256(_classified("f3", FORESTRY, 10_000, 15_001)), uint256(absorber));
        vm.assertEq(uint256(_classified("f4", FORESTRY, 15_000, 10_000)), uint256(neutral));
        vm.assertEq(uint256(_classified("f5", FORESTRY, 15_001, 10_000)), uint256(emitter));
        vm.assertEq(uint256(_classified("f6", FORESTRY, 0, 0)), uint256(neutral));
        vm.assertEq(uint256(_classified("f7", FORESTRY, 0, 5_000)), uint256(neutral));
        vm.assertEq(uint256(_classified("f8", FORESTRY, 0, 5_001)), uint256(absorber));
        vm.assertEq(uint256(_classified("f9", FORESTRY, 300_000, 300_000)), uint256(neutral));
        // Industry has no tolerance: any net flow decides.
        vm.assertEq(uint256(_classified("i1", INDUSTRY, 100, 100)), uint256(neutral));
        vm.assertEq(uint256(_classified("i2", INDUSTRY, 101, 100)), uint256(emitter));
        vm.assertEq(uint256(_classified("i3", INDUSTRY, 100, 101)), uint256(absorber));
    }

    /// @dev A net absorber under the cap: the Settled event in full.
    function test_classify_absorberEvent() public {
        _commit(forest, EMISSION, 20_000);
        _commit(forest, REMOVAL, 480_000);
        _close();
        // base = 20,000 * 1,000 / 1000 = 20,000; allowance floor(180,000 / 1000) = 180.
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            forest,
            FORESTRY,
            20_000,
            480_000,
            F_CAP,
            0,
            0,
            0,
            20_000,
            180,
            ISettlement.Classification.NetAbsorber
        );
        _settle(forest);
        _assertRecord(forest, ISettlement.Classification.NetAbsorber, 180, 20_000);
    }

    // ------------------------------------------------------------------ debts

    function test_payDebt_partialThenFull() public {
        _commit(alice, EMISSION, 1_234_567);
        _close();
        _settle(alice);
        uint256 debt = 35_186_692 + 2_001_000;

        // Anyone may pay for a participant: bob pays part of alice's debt.
        _fund(bob, 10_000_000);
        vm.expectEmit(address(settlement));
        emit ISettlement.DebtPaid(P, alice, bob, 10_000_000);
        vm.prank(bob);
        settlement.payDebt(P, alice, 10_000_000);
        vm.assertEq(_record(alice).debt, debt - 10_000_000);
        vm.assertEq(baht.balanceOf(treasury), 10_000_000);
        vm.assertEq(baht.balanceOf(bob), 0);

        _pay(alice, alice, debt - 10_000_000);
        vm.assertEq(_record(alice).debt, 0);
        vm.assertEq(baht.balanceOf(treasury), debt);
        vm.assertEq(baht.balanceOf(address(settlement)), 0);
        vm.assertTrue(_record(alice).settled);

        _fund(alice, 1);
        vm.expectRevert(_nothingOwed(alice));
        vm.prank(alice);
        settlement.payDebt(P, alice, 1);
    }

    function test_payDebt_revertsOnOverpayAndZero() public {
        _commit(bob, EMISSION, 1_100_000);
        _comply(bob, 99);
        _close();
        _settle(bob);
        uint256 debt = 150_007 + 2_001_000;
        _fund(bob, debt + 1);
        vm.startPrank(bob);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementOverpaid.selector, debt, debt + 1));
        settlement.payDebt(P, bob, debt + 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementZeroPayment.selector));
        settlement.payDebt(P, bob, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementOverpaid.selector, debt, type(uint256).max)
        );
        settlement.payDebt(P, bob, type(uint256).max);
        // Paying exactly the debt works; one satang more after a partial payment does not.
        settlement.payDebt(P, bob, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementOverpaid.selector, debt - 1, debt));
        settlement.payDebt(P, bob, debt);
        settlement.payDebt(P, bob, debt - 1);
        vm.stopPrank();
        vm.assertEq(baht.balanceOf(treasury), debt);
        vm.assertEq(baht.balanceOf(bob), 1);
    }

    function test_payDebt_revertsWhenNothingOwed() public {
        _fund(alice, 100);
        vm.startPrank(alice);
        vm.expectRevert(_nothingOwed(alice)); // not settled
        settlement.payDebt(P, alice, 1);
        vm.stopPrank();

        _commit(ind, EMISSION, 123_456); // under cap, no base rate: settled with zero debt
        _close();
        _settle(ind);
        vm.expectRevert(_nothingOwed(ind));
        vm.prank(alice);
        settlement.payDebt(P, ind, 1);
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingOwed.selector, P - 1, eve));
        vm.prank(alice);
        settlement.payDebt(P - 1, eve, 1);
        vm.assertEq(baht.balanceOf(treasury), 0);
    }

    function test_payDebt_outsiderPaysToTreasury() public {
        _commit(dave, EMISSION, 1_500_000);
        _close();
        _settle(dave);
        uint256 debt = 75_003_500 + 2_001_000;
        _pay(eve, dave, debt); // eve is not even registered
        vm.assertEq(baht.balanceOf(treasury), debt);
        vm.assertEq(baht.balanceOf(eve), 0);
        vm.assertEq(_record(dave).debt, 0);
    }

    function test_payDebt_revertsWithoutAllowanceOrBalance() public {
        _commit(alice, EMISSION, 1_234_567);
        _close();
        _settle(alice);
        vm.prank(bob);
        baht.faucet(1000);
        vm.expectRevert(SafeTransferLib.TransferFromFailed.selector); // not approved
        vm.prank(bob);
        settlement.payDebt(P, alice, 1000);
        vm.prank(carol);
        baht.approve(address(settlement), 1000);
        vm.expectRevert(SafeTransferLib.TransferFromFailed.selector); // no baht
        vm.prank(carol);
        settlement.payDebt(P, alice, 1000);
        vm.assertEq(_record(alice).debt, 35_186_692 + 2_001_000);
    }

    // ------------------------------------------------------------------ allowances

    function test_claimAllowance_mintsAllowanceBatch() public {
        _commit(ind, EMISSION, 123_456);
        _close();
        _settle(ind);
        vm.assertEq(credits.allowancePrefix(P), ALLOWANCE_PREFIX);
        uint256 expectedId = _batchId(ALLOWANCE_PREFIX, 1);

        vm.expectEmit(address(credits));
        emit ICarbonCredits.BatchIssued(
            expectedId,
            bytes32(0),
            ind,
            0,
            2026,
            ICarbonCredits.CreditType.Allowance,
            1,
            376,
            0,
            ALLOWANCE_PREFIX
        );
        vm.expectEmit(address(settlement));
        emit ISettlement.AllowanceClaimed(P, ind, expectedId, 376);
        uint256 id = _claim(ind);

        vm.assertEq(id, expectedId);
        vm.assertEq(credits.balanceOf(ind, id), 376);
        ICarbonCredits.Batch memory b = credits.batch(id);
        vm.assertEq(uint256(b.creditType), uint256(ICarbonCredits.CreditType.Allowance));
        vm.assertEq(b.vintage, 2026);
        vm.assertEq(b.projectIndex, 0);
        vm.assertEq(b.bufferBps, 0);
        vm.assertEq(b.serialStart, 1);
        vm.assertEq(b.serialEnd, 376);
        vm.assertEq(b.retired, 0);
        vm.assertEq(credits.firstSerialStart(keccak256(bytes(ALLOWANCE_PREFIX))), 1);
        ISettlement.Record memory r = _record(ind);
        vm.assertTrue(r.allowanceClaimed);
        vm.assertEq(r.allowanceTonnes, 376); // kept for the record

        // Allowance credits are ordinary credits: they can be transferred and retired.
        vm.prank(ind);
        credits.transfer(alice, id, 100);
        _retire(alice, id, 100);
        vm.assertEq(credits.complianceRetired(alice, P), 100);
    }

    function test_claimAllowance_consecutiveSerialRanges() public {
        _commit(ind, EMISSION, 123_456); // 376 t
        _commit(alice, EMISSION, 400_123); // 599 t
        _commit(forest, REMOVAL, 50_000); // E = 0: the whole 200 t cap
        _close();
        address[] memory ps = new address[](3);
        (ps[0], ps[1], ps[2]) = (ind, alice, forest);
        settlement.settle(P, ps);

        uint256 a = _claim(ind);
        uint256 b = _claim(alice);
        uint256 c = _claim(forest);
        vm.assertEq(a, _batchId(ALLOWANCE_PREFIX, 1));
        vm.assertEq(b, _batchId(ALLOWANCE_PREFIX, 377));
        vm.assertEq(c, _batchId(ALLOWANCE_PREFIX, 976));
        vm.assertEq(credits.batch(a).serialEnd, 376);
        vm.assertEq(credits.batch(b).serialStart, 377);
        vm.assertEq(credits.batch(b).serialEnd, 975);
        vm.assertEq(credits.batch(c).serialStart, 976);
        vm.assertEq(credits.batch(c).serialEnd, 1175);
        // The namespace's list links the ranges in order.
        vm.assertEq(credits.batch(a).nextSerialStart, 377);
        vm.assertEq(credits.batch(b).nextSerialStart, 976);
        vm.assertEq(credits.batch(c).nextSerialStart, 0);
        vm.assertEq(credits.balanceOf(ind, a), 376);
        vm.assertEq(credits.balanceOf(alice, b), 599);
        vm.assertEq(credits.balanceOf(forest, c), 200);
    }

    function test_claimAllowance_revertsOnSecondClaim() public {
        _commit(ind, EMISSION, 123_456);
        _close();
        _settle(ind);
        uint256 id = _claim(ind);
        vm.expectRevert(_nothingToClaim(ind));
        _claim(ind);
        vm.assertEq(credits.balanceOf(ind, id), 376);
    }

    function test_claimAllowance_revertsWithoutAllowance() public {
        _commit(alice, EMISSION, 1_234_567); // over the cap
        _commit(bob, EMISSION, E_CAP); // at the cap
        _commit(carol, EMISSION, E_CAP - 999); // under it by less than a tonne
        vm.expectRevert(_nothingToClaim(alice)); // not settled yet
        _claim(alice);
        _close();
        address[] memory ps = new address[](3);
        (ps[0], ps[1], ps[2]) = (alice, bob, carol);
        settlement.settle(P, ps);
        vm.expectRevert(_nothingToClaim(alice));
        _claim(alice);
        vm.expectRevert(_nothingToClaim(bob));
        _claim(bob);
        vm.expectRevert(_nothingToClaim(carol));
        _claim(carol);
        // A quarter nobody settled: nothing either.
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementNothingToClaim.selector, P - 1, ind));
        vm.prank(ind);
        settlement.claimAllowance(P - 1);
    }

    function test_claimAllowance_unverifiedWaitsForVerification() public {
        _close();
        _settle(dave); // registered, never verified; E = 0: 1,000 t
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, dave));
        _claim(dave);
        vm.assertFalse(_record(dave).allowanceClaimed);
        address[] memory w = new address[](7);
        (w[0], w[1], w[2], w[3], w[4], w[5], w[6]) = (alice, bob, carol, ind, forest, truck, dave);
        _onboard(w);
        uint256 id = _claim(dave);
        vm.assertEq(id, _batchId(ALLOWANCE_PREFIX, 1)); // the failed claim took no serials
        vm.assertEq(credits.balanceOf(dave, id), 1000);
    }

    function test_claimAllowance_needsAllowanceIssuerRole() public {
        _close();
        _settle(alice);
        vm.prank(admin);
        credits.revokeRole(Roles.ALLOWANCE_ISSUER, address(settlement));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                address(settlement),
                Roles.ALLOWANCE_ISSUER
            )
        );
        _claim(alice);
        vm.assertFalse(_record(alice).allowanceClaimed);
        // Nobody else can mint allowances either.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.ALLOWANCE_ISSUER
            )
        );
        vm.prank(alice);
        credits.issueAllowance(alice, P, 1, 1000, 0);
    }

    function test_claimAllowance_eachQuarterItsOwnNamespace() public {
        _setTerms(P + 1, INDUSTRY, _terms(I_CAP, I_SURCHARGE, 0, 0));
        _commit(ind, EMISSION, 123_456);
        vm.warp(QuarterLib.periodStart(P + 2));
        _commitIn(ind, EMISSION, 450_000, Q3_START, Q3_START + 1 days);
        address[] memory ps = new address[](1);
        ps[0] = ind;
        settlement.settle(P, ps);
        settlement.settle(P + 1, ps);
        vm.startPrank(ind);
        uint256 q2 = settlement.claimAllowance(P);
        uint256 q3 = settlement.claimAllowance(P + 1);
        vm.stopPrank();
        vm.assertEq(q3, _batchId("TH-ALLOWANCE-2026Q3", 1));
        vm.assertEq(credits.batch(q2).serialEnd, 376);
        vm.assertEq(credits.batch(q3).serialEnd, 50);
        vm.assertEq(credits.balanceOf(ind, q3), 50);
    }

    /// @dev Regression: the claim cast the earned tonnes to uint48 serials, so a (cap-sized)
    /// allowance of 2^48 tonnes or more was silently truncated: the participant got a fraction of
    /// it and the record was marked claimed. Such a claim now reverts and stays claimable.
    function test_claimAllowance_neverTruncatesHugeAllowance() public {
        address giant = _newParticipant("giant", ICarbonRegistry.Sector.Buildings);
        _setTerms(P, ICarbonRegistry.Sector.Buildings, _terms(type(uint64).max, 0, 0, 0));
        address[] memory w = new address[](7);
        (w[0], w[1], w[2], w[3], w[4], w[5], w[6]) = (alice, bob, carol, ind, forest, truck, giant);
        _onboard(w);
        _close();
        _settle(giant);
        uint256 tonnes = uint256(type(uint64).max) / 1000;
        vm.assertEq(_record(giant).allowanceTonnes, tonnes);
        vm.expectRevert(abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 48, tonnes));
        _claim(giant);
        vm.assertFalse(_record(giant).allowanceClaimed);
    }

    // ------------------------------------------------------------------ fuzz: reference model

    struct Expected {
        uint256 uncovered;
        uint256 surcharge;
        uint256 baseCharge;
        uint256 allowance;
        ISettlement.Classification classification;
    }

    /// @dev The billing equation written independently of the contract: divisions with an explicit
    /// remainder test, classification by signed net flow.
    function _reference(uint256 e, uint256 r, uint256 cbTonnes, ISettlement.Terms memory t)
        internal
        pure
        returns (Expected memory x)
    {
        uint256 k = t.capKg;
        uint256 cb = cbTonnes * 1000;
        if (e > k) {
            x.uncovered = e - k <= cb ? 0 : e - k - cb;
        } else {
            x.allowance = (k - e) / 1000;
        }
        uint256 s = x.uncovered * t.surchargeRate;
        x.surcharge = s / 1000 + (s % 1000 == 0 ? 0 : 1);
        uint256 b = (e < k ? e : k) * t.baseRate;
        x.baseCharge = b / 1000 + (b % 1000 == 0 ? 0 : 1);
        int256 net = int256(e) - int256(r);
        if (net > int256(uint256(t.toleranceKg))) {
            x.classification = ISettlement.Classification.NetEmitter;
        } else if (-net > int256(uint256(t.toleranceKg))) {
            x.classification = ISettlement.Classification.NetAbsorber;
        } else {
            x.classification = ISettlement.Classification.NetNeutral;
        }
    }

    function _checkAgainstReference(uint64 e, uint64 r, uint48 cb, ISettlement.Terms memory t) internal {
        _setTerms(P, ENERGY, t);
        if (e != 0) _commit(alice, EMISSION, e);
        if (r != 0) _commit(alice, REMOVAL, r);
        if (cb != 0) _retire(alice, projectBatch, cb);
        Expected memory x = _reference(e, r, cb, t);
        _close();
        vm.expectEmit(address(settlement));
        emit ISettlement.Settled(
            P,
            alice,
            ENERGY,
            e,
            r,
            t.capKg,
            uint64(uint256(cb) * 1000),
            uint64(x.uncovered),
            uint128(x.surcharge),
            uint128(x.baseCharge),
            uint64(x.allowance),
            x.classification
        );
        _settle(alice);
        _assertRecord(alice, x.classification, x.allowance, x.surcharge + x.baseCharge);

        uint256 debt = x.surcharge + x.baseCharge;
        if (debt != 0) {
            uint256 part = debt > baht.FAUCET_LIMIT() ? baht.FAUCET_LIMIT() : debt;
            _pay(bob, alice, part);
            vm.assertEq(_record(alice).debt, debt - part);
            vm.assertEq(baht.balanceOf(treasury), part);
        }
        if (x.allowance == 0) {
            vm.expectRevert(_nothingToClaim(alice));
            _claim(alice);
        } else if (x.allowance <= type(uint48).max) {
            uint256 id = _claim(alice);
            vm.assertEq(credits.balanceOf(alice, id), x.allowance);
            vm.assertEq(credits.batch(id).serialEnd, x.allowance);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 48, x.allowance)
            );
            _claim(alice);
        }
    }

    /// @dev Whole ranges of every input.
    function testFuzz_billing_matchesReference(
        uint64 e,
        uint64 r,
        uint256 cb,
        uint64 cap,
        uint40 surcharge,
        uint40 base,
        uint32 tolerance
    ) public {
        _checkAgainstReference(e, r, uint48(bound(cb, 0, 100_000)), _terms(cap, surcharge, base, tolerance));
    }

    /// @dev E near K, the excess within reach of CB, realistic caps: the edges of the equation.
    function testFuzz_billing_nearCap(
        uint256 cap,
        uint256 delta,
        bool over,
        uint256 cb,
        uint40 surcharge,
        uint40 base,
        uint256 r,
        uint32 tolerance
    ) public {
        cap = bound(cap, 0, 1e12);
        cb = bound(cb, 0, 100_000);
        delta = bound(delta, 0, over ? 2 * cb * 1000 + 2000 : cap);
        uint256 e = over ? cap + delta : cap - delta;
        r = bound(r, 0, e + 2 * uint256(tolerance) + 1);
        _checkAgainstReference(
            uint64(e), uint64(r), uint48(cb), _terms(uint64(cap), surcharge, base, tolerance)
        );
    }
}

/// @title SettlementGasTest
/// @notice One `settle` of 100 participants, each with an emission batch and a sector with terms:
/// gasUsed / 100 held to the settle_participant budget in bench/gas-budgets.json.
/// @dev Isolation mode: setUp's calls and the settle call are transactions of their own, so the
/// settle meets cold accounts and slots and its figure is its gasUsed, as on anvil (see GasBudgets).
/// forge-config: default.isolate = true
/// forge-config: bench.isolate = true
contract SettlementGasTest is SettlementFixture {
    uint256 internal constant N = 100;

    address[] internal _participants;

    function setUp() public override {
        super.setUp();
        _deploySettlement();
        for (uint8 s; s < 8; ++s) {
            _setTerms(
                P, ICarbonRegistry.Sector(s), _terms(1_000_000 + uint64(s) * 100_000, 150_000, 2_000, 5_000)
            );
        }
        for (uint256 i; i < N; ++i) {
            address a = address(uint160(0x5E771E0000 + i));
            _registerIn(a, ICarbonRegistry.Sector(i % 8));
            // Half over their cap (surcharge), half under it (allowance).
            _commit(a, EMISSION, uint64(i % 2 == 0 ? 1_600_000 + i * 1_111 : 300_000 + i * 1_111));
            _participants.push(a);
        }
        _close();
    }

    function test_gas_settle100() public {
        address[] memory ps = _participants;
        settlement.settle(P, ps);
        uint256 used = vm.snapshotGasLastCall("SettlementGas", "settle_100");
        _log("settle(100): gasUsed", used);
        _log("settle(100): gasUsed per participant", used / N);
        vm.snapshotValue("SettlementGas", "settle_participant", used / N);
        GasBudgets.check("settle_participant", used / N);
        for (uint256 i; i < N; ++i) {
            vm.assertTrue(settlement.record(P, ps[i]).settled);
        }
    }
}
