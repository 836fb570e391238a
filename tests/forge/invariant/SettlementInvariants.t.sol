// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Settlement} from "../../../contracts/Settlement.sol";
import {TestBaht} from "../../../contracts/TestBaht.sol";
import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {ISettlement} from "../../../contracts/interfaces/ISettlement.sol";
import {Roles} from "../../../contracts/libraries/Roles.sol";

import {BaseTest, FuzzSelector} from "../utils/BaseTest.sol";
import {SettlementHandler} from "./SettlementHandler.sol";

/// @title SettlementInvariantTest
/// @notice Once-per-quarter settlement, debts that only fall by payments, allowances minted
/// exactly as earned and claimed, and a treasury holding exactly what was paid, under random
/// sequences of commits, retirements, warps, new terms and grace, settle batches, payments and
/// claims over five quarters.
contract SettlementInvariantTest is BaseTest {
    uint256 internal constant CREDITS_EACH = 100_000;

    address internal regulator = makeAddr("regulator");
    address internal treasury = makeAddr("treasury");
    address internal outsider = makeAddr("outsider");

    TestBaht internal baht;
    Settlement internal settlement;
    SettlementHandler internal handler;

    function setUp() public override {
        super.setUp();
        baht = new TestBaht();
        settlement = new Settlement(admin, registry, credits, dataLog, address(baht), treasury);
        vm.startPrank(admin);
        settlement.grantRole(Roles.REGULATOR, regulator);
        credits.grantRole(Roles.ALLOWANCE_ISSUER, address(settlement));
        vm.stopPrank();

        // Five participants in four sectors (Transport has terms only in some quarters), verified for years.
        address[] memory actors = new address[](5);
        ICarbonRegistry.Sector[] memory sectors = new ICarbonRegistry.Sector[](5);
        (sectors[0], sectors[1], sectors[2], sectors[3], sectors[4]) =
        (
            ICarbonRegistry.Sector.Energy,
            ICarbonRegistry.Sector.Energy,
            ICarbonRegistry.Sector.Industry,
            ICarbonRegistry.Sector.Forestry,
            ICarbonRegistry.Sector.Transport
        );
        for (uint256 i; i < actors.length; ++i) {
            actors[i] = makeAddr(string.concat("participant", vm.toString(i)));
            _certifiedUntil[actors[i]] = NOW + 3650 days;
            vm.prank(actors[i]);
            registry.registerParticipant(
                orgIdOf(actors[i]),
                ICarbonRegistry.AccountType.Corporation,
                ICarbonRegistry.TradeRole.Both,
                sectors[i]
            );
        }
        _onboard(actors);

        // Credits for compliance retirements: participant0's project, 100,000 t for everyone.
        bytes32 key = _registerProject(actors[0], "TH-CCEP-2026-0100", true);
        uint256 projectBatch = _issue(key, 1, uint48(CREDITS_EACH * actors.length), 0);
        for (uint256 i = 1; i < actors.length; ++i) {
            vm.prank(actors[0]);
            credits.transfer(actors[i], projectBatch, CREDITS_EACH);
        }

        handler = new SettlementHandler(
            SettlementHandler.Config({
                settlement: settlement,
                credits: credits,
                dataLog: dataLog,
                baht: baht,
                admin: admin,
                oracle: oracle,
                regulator: regulator,
                projectBatch: projectBatch,
                creditsEach: CREDITS_EACH
            }),
            actors,
            sectors,
            outsider
        );
        handler.bootstrap();
        vm.label(address(handler), "SettlementHandler");
        vm.label(address(settlement), "Settlement");
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev A selector listed twice is picked twice as often: data, time and settlement drive
    /// the state; terms and grace changes are rarer.
    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        bytes4[] memory s = new bytes4[](16);
        s[0] = SettlementHandler.commit.selector;
        s[1] = SettlementHandler.commit.selector;
        s[2] = SettlementHandler.commit.selector;
        s[3] = SettlementHandler.retire.selector;
        s[4] = SettlementHandler.retire.selector;
        s[5] = SettlementHandler.warp.selector;
        s[6] = SettlementHandler.warp.selector;
        s[7] = SettlementHandler.warp.selector;
        s[8] = SettlementHandler.settle.selector;
        s[9] = SettlementHandler.settle.selector;
        s[10] = SettlementHandler.settle.selector;
        s[11] = SettlementHandler.payDebt.selector;
        s[12] = SettlementHandler.payDebt.selector;
        s[13] = SettlementHandler.claimAllowance.selector;
        s[14] = SettlementHandler.setTerms.selector;
        s[15] = SettlementHandler.setGrace.selector;
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector({addr: address(handler), selectors: s});
    }

    /// @dev Nobody is settled twice in a quarter: the handler's count of successful settlements
    /// per (quarter, participant) is at most one and matches the on-chain `settled` flag.
    function invariant_settledAtMostOncePerQuarter() public view {
        address[] memory all = handler.all();
        uint16 first = handler.firstPeriod();
        for (uint16 k; k < handler.PERIODS(); ++k) {
            for (uint256 i; i < all.length; ++i) {
                uint256 n = handler.settleCount(first + k, all[i]);
                vm.assertLe(n, 1, "settled twice");
                vm.assertEq(settlement.record(first + k, all[i]).settled, n == 1, "settled flag != model");
            }
        }
    }

    /// @dev Every record is the model's bill: the debt is the computed surcharge + base charge
    /// minus the payments (so it never exceeds the charge and falls only by payments), and the
    /// allowance, classification and claim flag match.
    function invariant_recordsMatchModel() public view {
        uint256 n = handler.settledCount();
        for (uint256 i; i < n; ++i) {
            SettlementHandler.Key memory key = handler.settledAt(i);
            ISettlement.Record memory r = settlement.record(key.period, key.participant);
            uint256 charged = handler.charged(key.period, key.participant);
            uint256 paid = handler.paid(key.period, key.participant);
            vm.assertLe(paid, charged, "paid more than charged");
            vm.assertLe(r.debt, charged, "debt above the computed charge");
            vm.assertEq(r.debt, charged - paid, "debt != charge - payments");
            vm.assertEq(r.allowanceTonnes, handler.allowanceOf(key.period, key.participant), "allowance");
            vm.assertEq(
                uint256(r.classification),
                uint256(handler.classificationOf(key.period, key.participant)),
                "classification"
            );
            vm.assertEq(r.allowanceClaimed, handler.claimed(key.period, key.participant), "claimed flag");
        }
    }

    /// @dev Allowance minted == sum of the allowanceTonnes claimed: per batch (range, type,
    /// vintage, holder) and per quarter (the namespace's ranges tile 1..next - 1 without gaps).
    function invariant_allowanceMintedEqualsClaimed() public view {
        uint256 minted;
        uint256 n = handler.allowanceCount();
        for (uint256 i; i < n; ++i) {
            SettlementHandler.AllowanceBatch memory a = handler.allowanceAt(i);
            ICarbonCredits.Batch memory b = credits.batch(a.id);
            vm.assertEq(uint256(b.creditType), uint256(ICarbonCredits.CreditType.Allowance), "type");
            vm.assertEq(b.vintage, a.period / 4, "vintage");
            vm.assertEq(b.serialStart, a.start, "serial start");
            vm.assertEq(uint256(b.serialEnd) - b.serialStart + 1, a.tonnes, "range != claimed tonnes");
            vm.assertEq(credits.balanceOf(a.owner, a.id), a.tonnes, "holder balance");
            vm.assertEq(settlement.record(a.period, a.owner).allowanceTonnes, a.tonnes, "record tonnes");
            minted += a.tonnes;
        }
        vm.assertEq(minted, handler.totalClaimedTonnes(), "minted != claimed");

        uint256 listed;
        uint16 first = handler.firstPeriod();
        for (uint16 k; k < handler.PERIODS(); ++k) {
            bytes32 ns = keccak256(bytes(handler.allowancePrefix(first + k)));
            uint48 cursor = credits.firstSerialStart(ns);
            uint256 expectedStart = 1;
            while (cursor != 0) {
                vm.assertEq(cursor, expectedStart, "gap or overlap in allowance serials");
                ICarbonCredits.Batch memory b = credits.batch(uint256(keccak256(abi.encode(ns, cursor))));
                listed += uint256(b.serialEnd) - b.serialStart + 1;
                expectedStart = uint256(b.serialEnd) + 1;
                cursor = b.nextSerialStart;
            }
            uint48 next = handler.nextSerial(first + k);
            vm.assertEq(expectedStart, next == 0 ? 1 : next, "serial cursor");
        }
        vm.assertEq(listed, minted, "namespaces hold other allowances");
    }

    /// @dev Every satang paid reached the treasury; the settlement contract keeps none.
    function invariant_treasuryHoldsPayments() public view {
        vm.assertEq(baht.balanceOf(treasury), handler.totalPaid(), "treasury != payments");
        vm.assertEq(baht.balanceOf(address(settlement)), 0, "settlement holds baht");
    }

    function afterInvariant() public view {
        vm.assertGt(handler.totalCalls(), 0, "handler never called");
    }
}
