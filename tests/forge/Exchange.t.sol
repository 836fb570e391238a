// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC6909} from "solady/tokens/ERC6909.sol";
import {SafeTransferLib} from "solady/utils/SafeTransferLib.sol";

import {Exchange} from "../../contracts/Exchange.sol";
import {ICarbonCredits} from "../../contracts/interfaces/ICarbonCredits.sol";
import {IExchange} from "../../contracts/interfaces/IExchange.sol";
import {QuarterLib} from "../../contracts/libraries/QuarterLib.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";
import {TickBitmap} from "../../contracts/libraries/TickBitmap.sol";

import {ExchangeBase} from "./utils/ExchangeBase.sol";
import {Test} from "./utils/BaseTest.sol";
import {Vm} from "./utils/Vm.sol";

/// @title ExchangeTest
/// @notice Unit tests of the order book, one group per external function, plus events, fees,
/// periods and a model-based fuzz of random order flow.
contract ExchangeTest is ExchangeBase {
    // ------------------------------------------------------------------ helpers

    function _assertOrder(uint256 id, address owner, uint32 remaining, uint32 prev, uint32 next)
        internal
        view
    {
        IExchange.Order memory o = exchange.order(id);
        vm.assertEq(o.owner, owner, "order owner");
        vm.assertEq(o.remaining, remaining, "order remaining");
        vm.assertEq(o.prev, prev, "order prev");
        // `next` is stored only around cancelled orders: compare the queue's actual successor.
        uint32 seq = uint32(id);
        IExchange.Level memory l = exchange.level(
            uint32(id >> 72), uint16(id >> 56), IExchange.Side(uint8(id >> 48)), uint16(id >> 32)
        );
        uint32 successor = seq == l.tail ? 0 : (o.next != 0 ? o.next : seq + 1);
        vm.assertEq(successor, next, "order next");
    }

    function _assertGone(uint256 id) internal view {
        IExchange.Order memory o = exchange.order(id);
        vm.assertEq(o.owner, address(0), "order still stored");
        vm.assertEq(o.remaining, 0);
    }

    function _assertLevel(
        uint32 market_,
        IExchange.Side side,
        uint16 tick,
        uint32 head,
        uint32 tail,
        uint32 lastSeq
    ) internal view {
        IExchange.Level memory l = exchange.level(market_, exchange.currentPeriod(), side, tick);
        vm.assertEq(l.head, head, "level head");
        vm.assertEq(l.tail, tail, "level tail");
        vm.assertEq(l.lastSeq, lastSeq, "level lastSeq");
    }

    function _assertBest(uint32 market_, IExchange.Side side, bool found, uint16 tick) internal view {
        (bool f, uint16 t) = exchange.bestTick(market_, side);
        vm.assertEq(f, found, "bestTick found");
        vm.assertEq(t, tick, "bestTick tick");
    }

    function _batchC() internal returns (uint256) {
        return _issue(pAdd, SUPPLY_A + SUPPLY_B + 1, SUPPLY_A + SUPPLY_B + 10_000, SUPPLY_A + 1);
    }

    /// @dev A market on a third batch with ticks of one satang over the whole tick range.
    function _fullRangeMarket() internal returns (uint32 m) {
        uint256 batchC = _batchC();
        vm.prank(regulator);
        m = exchange.listMarket(batchC, 1, 1, type(uint16).max, 1);
        vm.startPrank(alice);
        credits.transfer(bob, batchC, 1000);
        exchange.depositCredits(m, 5000);
        vm.stopPrank();
        _depositCredits(bob, m, 1000);
    }

    /// @dev Baht the exchange holds: internal balances + bid escrow + fees; called with the
    /// expected escrow and fees, asserts the token balance matches.
    function _assertBahtBacked(uint256 bidEscrow) internal view {
        uint256 sum;
        for (uint256 i; i < traders.length; ++i) {
            sum += exchange.bahtBalance(traders[i]);
        }
        uint256 fees = exchange.market(mkt).feesAccrued + exchange.market(mkt2).feesAccrued;
        vm.assertEq(baht.balanceOf(address(exchange)), sum + bidEscrow + fees, "baht not backed");
    }

    function _assertCreditsBacked(uint32 market_, uint256 batchId, uint256 askEscrow) internal view {
        uint256 sum;
        for (uint256 i; i < traders.length; ++i) {
            sum += exchange.creditBalance(traders[i], market_);
        }
        vm.assertEq(credits.balanceOf(address(exchange), batchId), sum + askEscrow, "credits not backed");
    }

    // ------------------------------------------------------------------ constructor and setUp

    function test_setUp_state() public view {
        vm.assertEq(exchange.treasury(), treasury);
        vm.assertEq(exchange.defaultFeeBps(), FEE_BPS);
        vm.assertTrue(exchange.hasRole(bytes32(0), admin));
        vm.assertTrue(exchange.hasRole(Roles.REGULATOR, regulator));
        vm.assertEq(exchange.REGULATOR_ROLE(), Roles.REGULATOR);
        vm.assertEq(exchange.marketCount(), 2);
        vm.assertEq(exchange.currentPeriod(), Q2_2026);
        vm.assertEq(baht.balanceOf(address(exchange)), 4 * DEPOSIT_BAHT);
        vm.assertEq(credits.balanceOf(address(exchange), batchA), 4 * DEPOSIT_A);
        vm.assertEq(credits.balanceOf(address(exchange), batchB), 4 * DEPOSIT_B);
        for (uint256 i; i < traders.length; ++i) {
            vm.assertEq(exchange.bahtBalance(traders[i]), DEPOSIT_BAHT);
            vm.assertEq(exchange.creditBalance(traders[i], mkt), DEPOSIT_A);
            vm.assertEq(exchange.creditBalance(traders[i], mkt2), DEPOSIT_B);
        }
    }

    function test_constructor_revertsOnZeroAddressOrFee() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAddress.selector));
        new Exchange(admin, registry, address(0), address(baht), treasury, FEE_BPS);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAddress.selector));
        new Exchange(admin, registry, address(credits), address(0), treasury, FEE_BPS);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAddress.selector));
        new Exchange(admin, registry, address(credits), address(baht), address(0), FEE_BPS);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeFeeTooHigh.selector, uint16(101)));
        new Exchange(admin, registry, address(credits), address(baht), treasury, 101);
        Exchange e = new Exchange(admin, registry, address(credits), address(baht), treasury, 100);
        vm.assertEq(e.defaultFeeBps(), 100);
    }

    function test_orderIdOf_layout() public view {
        uint256 id = exchange.orderIdOf(7, Q3_2026, BID, 4321, 99);
        vm.assertEq(
            id, uint256(7) << 72 | uint256(Q3_2026) << 56 | uint256(1) << 48 | uint256(4321) << 32 | 99
        );
        vm.assertEq(id, _orderIdIn(7, Q3_2026, BID, 4321, 99));
        vm.assertEq(
            exchange.orderIdOf(type(uint32).max, type(uint16).max, ASK, type(uint16).max, type(uint32).max)
                >> 104,
            0
        );
    }

    // ------------------------------------------------------------------ listMarket

    function test_listMarket_storesAndEmits() public {
        uint256 batchC = _batchC();
        vm.expectEmit(address(exchange));
        emit IExchange.MarketListed(3, batchC, 250, 40, 400, 5, FEE_BPS);
        vm.prank(regulator);
        uint32 m = exchange.listMarket(batchC, 250, 40, 400, 5);
        vm.assertEq(m, 3);
        IExchange.Market memory mk = exchange.market(m);
        vm.assertEq(mk.tickSize, 250);
        vm.assertEq(mk.floorTick, 40);
        vm.assertEq(mk.ceilingTick, 400);
        vm.assertEq(mk.minQuantity, 5);
        vm.assertEq(mk.feeBps, FEE_BPS);
        vm.assertTrue(mk.listed);
        vm.assertEq(mk.feesAccrued, 0);
        vm.assertEq(exchange.marketBatch(m), batchC);
        vm.assertEq(exchange.marketOf(batchC), m);
        vm.assertEq(exchange.marketCount(), 3);
        vm.assertEq(exchange.marketOf(batchA), mkt);
        vm.assertEq(exchange.marketOf(batchB), mkt2);
        vm.assertEq(exchange.marketOf(12345), 0);
        vm.assertFalse(exchange.market(4).listed);
    }

    function test_listMarket_singleTickBand() public {
        uint256 batchC = _batchC();
        vm.prank(regulator);
        uint32 m = exchange.listMarket(batchC, 100, 300, 300, 1);
        vm.assertEq(exchange.market(m).floorTick, 300);
        vm.assertEq(exchange.market(m).ceilingTick, 300);
    }

    function test_listMarket_usesDefaultFee() public {
        vm.expectEmit(address(exchange));
        emit IExchange.DefaultFeeSet(10);
        vm.prank(admin);
        exchange.setDefaultFee(10);
        vm.assertEq(exchange.defaultFeeBps(), 10);
        uint256 batchC = _batchC();
        vm.prank(regulator);
        uint32 m = exchange.listMarket(batchC, 100, 100, 200, 1);
        vm.assertEq(exchange.market(m).feeBps, 10);
        vm.assertEq(exchange.market(mkt).feeBps, FEE_BPS, "existing market keeps its fee");
    }

    function test_listMarket_revertsForNonRegulator() public {
        uint256 batchC = _batchC();
        address[3] memory callers = [alice, admin, tgo];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IAccessControl.AccessControlUnauthorizedAccount.selector, callers[i], Roles.REGULATOR
                )
            );
            vm.prank(callers[i]);
            exchange.listMarket(batchC, 100, 100, 200, 1);
        }
    }

    function test_listMarket_revertsOnUnknownBatch() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownBatch.selector, uint256(12345)));
        vm.prank(regulator);
        exchange.listMarket(12345, 100, 100, 200, 1);
        uint256 notYet = _batchId(PREFIX, SUPPLY_A + SUPPLY_B + 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownBatch.selector, notYet));
        vm.prank(regulator);
        exchange.listMarket(notYet, 100, 100, 200, 1);
    }

    function test_listMarket_revertsOnDuplicate() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeMarketExists.selector, batchA));
        vm.prank(regulator);
        exchange.listMarket(batchA, 100, 100, 200, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeMarketExists.selector, batchB));
        vm.prank(regulator);
        exchange.listMarket(batchB, 7, 1, 2, 3);
    }

    function test_listMarket_revertsOnBadBand() public {
        uint256 batchC = _batchC();
        vm.startPrank(regulator);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInvalidBand.selector, uint16(0), uint16(200))
        );
        exchange.listMarket(batchC, 100, 0, 200, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInvalidBand.selector, uint16(201), uint16(200))
        );
        exchange.listMarket(batchC, 100, 201, 200, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInvalidBand.selector, uint16(0), uint16(0)));
        exchange.listMarket(batchC, 100, 0, 0, 1);
        vm.stopPrank();
    }

    function test_listMarket_revertsOnZeroTickSizeOrMinimum() public {
        uint256 batchC = _batchC();
        vm.startPrank(regulator);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInvalidMarket.selector));
        exchange.listMarket(batchC, 0, 100, 200, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInvalidMarket.selector));
        exchange.listMarket(batchC, 100, 100, 200, 0);
        vm.stopPrank();
        vm.assertEq(exchange.marketCount(), 2);
    }

    // ------------------------------------------------------------------ setMarketRules

    function test_setMarketRules_setsAndEmits() public {
        vm.expectEmit(address(exchange));
        emit IExchange.MarketRulesSet(mkt, 200, 300, 20);
        vm.prank(regulator);
        exchange.setMarketRules(mkt, 200, 300, 20);
        IExchange.Market memory m = exchange.market(mkt);
        vm.assertEq(m.floorTick, 200);
        vm.assertEq(m.ceilingTick, 300);
        vm.assertEq(m.minQuantity, 20);
        vm.assertEq(m.tickSize, TICK_SIZE, "tick size fixed");
        vm.assertEq(m.feeBps, FEE_BPS);
        vm.assertTrue(m.listed);
    }

    function test_setMarketRules_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, admin, Roles.REGULATOR
            )
        );
        vm.prank(admin);
        exchange.setMarketRules(mkt, 200, 300, 20);
        vm.startPrank(regulator);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(9)));
        exchange.setMarketRules(9, 200, 300, 20);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(0)));
        exchange.setMarketRules(0, 200, 300, 20);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInvalidBand.selector, uint16(301), uint16(300))
        );
        exchange.setMarketRules(mkt, 301, 300, 20);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInvalidBand.selector, uint16(0), uint16(300))
        );
        exchange.setMarketRules(mkt, 0, 300, 20);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInvalidMarket.selector));
        exchange.setMarketRules(mkt, 200, 300, 0);
        vm.stopPrank();
    }

    /// @dev R3: after the band moves, orders outside it neither fill nor count as best, and no new
    /// order may be placed outside it; back inside the band they trade again.
    function test_setMarketRules_bandExcludesRestingOrders() public {
        uint256 low = _ask(alice, 150, 10);
        uint256 high = _bid(bob, 140, 10);
        vm.prank(regulator);
        exchange.setMarketRules(mkt, 200, 300, MIN_QTY);
        _assertBest(mkt, ASK, false, 0);
        _assertBest(mkt, BID, false, 0);
        (uint256 bought,) = _buy(carol, mkt, 10, 300, 10);
        vm.assertEq(bought, 0, "ask below the floor filled");
        (uint256 sold,) = _sell(carol, mkt, 10, 0, 10);
        vm.assertEq(sold, 0, "bid below the floor filled");
        vm.expectRevert(
            abi.encodeWithSelector(
                IExchange.ExchangePriceOutsideBand.selector, uint16(150), uint16(200), uint16(300)
            )
        );
        _place(carol, mkt, ASK, 150, 10, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IExchange.ExchangePriceOutsideBand.selector, uint16(301), uint16(200), uint16(300)
            )
        );
        _place(carol, mkt, BID, 301, 10, 0);
        // A bid at 200 does not reach the ask at 150 either: it rests.
        (uint256 id, uint32 filled) = _place(carol, mkt, BID, 200, 10, 10);
        vm.assertEq(filled, 0);
        vm.assertNotEq(id, 0);
        // Widen again: the old orders are back in the book.
        vm.prank(regulator);
        exchange.setMarketRules(mkt, 100, 300, MIN_QTY);
        _assertBest(mkt, ASK, true, 150);
        _assertBest(mkt, BID, true, 200);
        (bought,) = _buy(frank, mkt, 10, 150, 10);
        vm.assertEq(bought, 10);
        _assertGone(low);
        _assertOrder(high, bob, 10, 0, 0);
    }

    function test_setMarketRules_minimumAppliesToNewOrders() public {
        vm.prank(regulator);
        exchange.setMarketRules(mkt, FLOOR, CEILING, 50);
        (uint256 id,) = _place(alice, mkt, ASK, 150, 49, 0);
        vm.assertEq(id, 0, "below the new minimum rested");
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A);
        id = _ask(alice, 150, 50);
        _assertOrder(id, alice, 50, 0, 0);
    }

    // ------------------------------------------------------------------ fees: setters

    function test_setMarketFee_setsAndEmits() public {
        vm.expectEmit(address(exchange));
        emit IExchange.MarketFeeSet(mkt2, 100);
        vm.prank(admin);
        exchange.setMarketFee(mkt2, 100);
        vm.assertEq(exchange.market(mkt2).feeBps, 100);
        vm.assertEq(exchange.market(mkt).feeBps, FEE_BPS);
        vm.prank(admin);
        exchange.setMarketFee(mkt2, 0);
        vm.assertEq(exchange.market(mkt2).feeBps, 0);
    }

    function test_setMarketFee_reverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, regulator, bytes32(0)
            )
        );
        vm.prank(regulator);
        exchange.setMarketFee(mkt, 10);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeFeeTooHigh.selector, uint16(101)));
        exchange.setMarketFee(mkt, 101);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(9)));
        exchange.setMarketFee(9, 10);
        vm.stopPrank();
    }

    function test_setDefaultFee_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeFeeTooHigh.selector, uint16(101)));
        vm.prank(admin);
        exchange.setDefaultFee(101);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, bytes32(0)
            )
        );
        vm.prank(alice);
        exchange.setDefaultFee(1);
    }

    function test_setTreasury_setsAndReverts() public {
        address t2 = makeAddr("treasury2");
        vm.expectEmit(address(exchange));
        emit IExchange.TreasurySet(t2);
        vm.prank(admin);
        exchange.setTreasury(t2);
        vm.assertEq(exchange.treasury(), t2);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAddress.selector));
        vm.prank(admin);
        exchange.setTreasury(address(0));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, regulator, bytes32(0)
            )
        );
        vm.prank(regulator);
        exchange.setTreasury(regulator);
        // Sweeps go to the new treasury.
        _ask(alice, 200, 10);
        _buy(bob, mkt, 10, 200, 1);
        uint32[] memory ms = new uint32[](1);
        ms[0] = mkt;
        exchange.sweepFees(ms);
        vm.assertEq(baht.balanceOf(t2), _fee(_value(200, 10)));
        vm.assertEq(baht.balanceOf(treasury), 0);
    }

    // ------------------------------------------------------------------ baht deposits and withdrawals

    function test_depositBaht_creditsBalance() public {
        uint256 before = baht.balanceOf(address(exchange));
        vm.expectEmit(address(exchange));
        emit IExchange.BahtDeposited(alice, 12_345);
        vm.prank(alice);
        exchange.depositBaht(12_345);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT + 12_345);
        vm.assertEq(baht.balanceOf(alice), MINT_BAHT - DEPOSIT_BAHT - 12_345);
        vm.assertEq(baht.balanceOf(address(exchange)), before + 12_345);
    }

    function test_depositBaht_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        vm.prank(alice);
        exchange.depositBaht(0);
        // Not verified: registered only (dave) or unknown (eve), even with baht and allowance.
        address[2] memory outsiders = [dave, eve];
        for (uint256 i; i < 2; ++i) {
            _mintBaht(outsiders[i], 1000);
            vm.prank(outsiders[i]);
            baht.approve(address(exchange), 1000);
            vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, outsiders[i]));
            vm.prank(outsiders[i]);
            exchange.depositBaht(1000);
        }
        // More than the wallet holds, and no allowance.
        vm.expectRevert(abi.encodeWithSelector(SafeTransferLib.TransferFromFailed.selector));
        vm.prank(alice);
        exchange.depositBaht(MINT_BAHT - DEPOSIT_BAHT + 1);
        vm.prank(bob);
        baht.approve(address(exchange), 0);
        vm.expectRevert(abi.encodeWithSelector(SafeTransferLib.TransferFromFailed.selector));
        vm.prank(bob);
        exchange.depositBaht(1);
    }

    function test_withdrawBaht_paysOut() public {
        vm.expectEmit(address(exchange));
        emit IExchange.BahtWithdrawn(bob, DEPOSIT_BAHT);
        vm.prank(bob);
        exchange.withdrawBaht(DEPOSIT_BAHT);
        vm.assertEq(exchange.bahtBalance(bob), 0);
        vm.assertEq(baht.balanceOf(bob), MINT_BAHT);
        vm.assertEq(baht.balanceOf(address(exchange)), 3 * DEPOSIT_BAHT);
    }

    function test_withdrawBaht_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        vm.prank(bob);
        exchange.withdrawBaht(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IExchange.ExchangeInsufficientBalance.selector, DEPOSIT_BAHT, DEPOSIT_BAHT + 1
            )
        );
        vm.prank(bob);
        exchange.withdrawBaht(DEPOSIT_BAHT + 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, 0, 1));
        vm.prank(eve);
        exchange.withdrawBaht(1);
        // Escrowed baht is not available.
        _bid(bob, 1000, 100); // 100 t at 10 THB: 10,000,000 satang escrowed
        uint256 available = DEPOSIT_BAHT - _value(1000, 100);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, available, DEPOSIT_BAHT)
        );
        vm.prank(bob);
        exchange.withdrawBaht(DEPOSIT_BAHT);
    }

    /// @dev Baht is not a credit: a trader who lost verification still gets their money out.
    function test_withdrawBaht_allowedAfterRevocation() public {
        _revoke(alice);
        vm.assertFalse(registry.isVerified(alice));
        vm.prank(alice);
        exchange.withdrawBaht(DEPOSIT_BAHT);
        vm.assertEq(baht.balanceOf(alice), MINT_BAHT);
    }

    // ------------------------------------------------------------------ credit deposits and withdrawals

    function test_depositCredits_creditsBalance() public {
        vm.expectEmit(address(exchange));
        emit IExchange.CreditsDeposited(bob, mkt2, 500);
        vm.prank(bob);
        exchange.depositCredits(mkt2, 500);
        vm.assertEq(exchange.creditBalance(bob, mkt2), DEPOSIT_B + 500);
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A);
        vm.assertEq(credits.balanceOf(bob, batchB), WALLET_B - DEPOSIT_B - 500);
        vm.assertEq(credits.balanceOf(address(exchange), batchB), 4 * DEPOSIT_B + 500);
    }

    function test_depositCredits_reverts() public {
        vm.startPrank(bob);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        exchange.depositCredits(mkt, 0);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(3)));
        exchange.depositCredits(3, 1);
        // More than the wallet holds.
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientBalance.selector));
        exchange.depositCredits(mkt, WALLET_A - DEPOSIT_A + 1);
        // The exchange is no longer bob's operator.
        credits.setOperator(address(exchange), false);
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientPermission.selector));
        exchange.depositCredits(mkt, 1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, dave));
        vm.prank(dave);
        exchange.depositCredits(mkt, 1);
    }

    function test_withdrawCredits_paysOut() public {
        vm.expectEmit(address(exchange));
        emit IExchange.CreditsWithdrawn(carol, mkt, 700);
        vm.prank(carol);
        exchange.withdrawCredits(mkt, 700);
        vm.assertEq(exchange.creditBalance(carol, mkt), DEPOSIT_A - 700);
        vm.assertEq(credits.balanceOf(carol, batchA), WALLET_A - DEPOSIT_A + 700);
        vm.assertEq(credits.balanceOf(address(exchange), batchA), 4 * DEPOSIT_A - 700);
    }

    function test_withdrawCredits_reverts() public {
        vm.startPrank(carol);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        exchange.withdrawCredits(mkt, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, DEPOSIT_A, DEPOSIT_A + 1)
        );
        exchange.withdrawCredits(mkt, DEPOSIT_A + 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, 0, 1));
        exchange.withdrawCredits(9, 1);
        vm.stopPrank();
        // Escrowed tonnes are not available.
        _ask(carol, 150, 60);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, DEPOSIT_A - 60, DEPOSIT_A)
        );
        vm.prank(carol);
        exchange.withdrawCredits(mkt, DEPOSIT_A);
    }

    /// @dev R1: credits only go to verified participants; the exchange's transfer reverts in
    /// CarbonCredits and the internal balance stays.
    function test_withdrawCredits_toRevokedParticipantReverts() public {
        _revoke(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, alice));
        vm.prank(alice);
        exchange.withdrawCredits(mkt, 1);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A);
        // Nor may she trade, deposit or buy; she may still cancel.
        uint256 id = _ask(bob, 150, 10);
        vm.prank(bob);
        exchange.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, alice));
        _place(alice, mkt, ASK, 150, 10, 0);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, alice));
        _buy(alice, mkt, 10, 150, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, alice));
        _sell(alice, mkt, 10, 150, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, alice));
        vm.prank(alice);
        exchange.depositBaht(1);
    }

    function test_revokedOwnerMayCancel() public {
        uint256 id = _ask(alice, 150, 10);
        _revoke(alice);
        _cancel(alice, id);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A);
    }

    // ------------------------------------------------------------------ placeOrder: resting

    function test_placeOrder_askRests() public {
        uint256 id = _orderId(mkt, ASK, 150, 1);
        vm.assertEq(id, exchange.orderIdOf(mkt, Q2_2026, ASK, 150, 1));
        vm.expectEmit(address(exchange));
        emit IExchange.OrderPlaced(id, mkt, alice, 25);
        (uint256 got, uint32 filled) = _place(alice, mkt, ASK, 150, 25, 8);
        vm.assertEq(got, id);
        vm.assertEq(filled, 0);
        _assertOrder(id, alice, 25, 0, 0);
        _assertLevel(mkt, ASK, 150, 1, 1, 1);
        _assertBest(mkt, ASK, true, 150);
        _assertBest(mkt, BID, false, 0);
        _assertBest(mkt2, ASK, false, 0);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 25);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT);
        _assertCreditsBacked(mkt, batchA, 25);
    }

    function test_placeOrder_bidRestsAndEscrowsBaht() public {
        uint256 id = _orderId(mkt, BID, 1234, 1);
        vm.expectEmit(address(exchange));
        emit IExchange.OrderPlaced(id, mkt, bob, 40);
        (uint256 got,) = _place(bob, mkt, BID, 1234, 40, 8);
        vm.assertEq(got, id);
        _assertOrder(id, bob, 40, 0, 0);
        _assertLevel(mkt, BID, 1234, 1, 1, 1);
        _assertBest(mkt, BID, true, 1234);
        vm.assertEq(exchange.bahtBalance(bob), DEPOSIT_BAHT - 40 * 1234 * 100);
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A);
        _assertBahtBacked(40 * 1234 * 100);
    }

    function test_placeOrder_queuesAtOneTick() public {
        uint256 a = _ask(alice, 150, 10);
        uint256 b = _ask(bob, 150, 20);
        uint256 c = _ask(alice, 150, 30);
        vm.assertEq(a, _orderId(mkt, ASK, 150, 1));
        vm.assertEq(b, _orderId(mkt, ASK, 150, 2));
        vm.assertEq(c, _orderId(mkt, ASK, 150, 3));
        _assertOrder(a, alice, 10, 0, 2);
        _assertOrder(b, bob, 20, 1, 3);
        _assertOrder(c, alice, 30, 2, 0);
        _assertLevel(mkt, ASK, 150, 1, 3, 3);
        // Other ticks, sides and markets have their own queues.
        vm.assertEq(_ask(alice, 151, 10), _orderId(mkt, ASK, 151, 1));
        vm.assertEq(_bid(alice, 140, 10), _orderId(mkt, BID, 140, 1));
        (uint256 d,) = _place(alice, mkt2, ASK, 150, 10, 0);
        vm.assertEq(d, _orderId(mkt2, ASK, 150, 1));
    }

    function test_placeOrder_reverts() public {
        uint40 late = uint40(block.timestamp) - 1;
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        exchange.placeOrder(mkt, ASK, 150, 0, 1, uint40(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeTooManyFills.selector, uint256(257)));
        exchange.placeOrder(mkt, ASK, 150, 10, 257, uint40(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeDeadlinePassed.selector, late));
        exchange.placeOrder(mkt, ASK, 150, 10, 1, late);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(3)));
        exchange.placeOrder(3, ASK, 150, 10, 1, uint40(block.timestamp));
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangePriceOutsideBand.selector, uint16(99), FLOOR, CEILING)
        );
        exchange.placeOrder(mkt, ASK, 99, 10, 1, uint40(block.timestamp));
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangePriceOutsideBand.selector, uint16(5001), FLOOR, CEILING)
        );
        exchange.placeOrder(mkt, BID, 5001, 10, 1, uint40(block.timestamp));
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, DEPOSIT_A, DEPOSIT_A + 1)
        );
        exchange.placeOrder(mkt, ASK, 150, uint32(DEPOSIT_A + 1), 1, uint40(block.timestamp));
        // 1,000 t at 50 THB = 50,000,000 THB: more than the 3,000,000 THB deposited.
        vm.expectRevert(
            abi.encodeWithSelector(
                IExchange.ExchangeInsufficientBalance.selector, DEPOSIT_BAHT, _value(5000, 1000)
            )
        );
        exchange.placeOrder(mkt, BID, 5000, 1000, 1, uint40(block.timestamp));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, dave));
        _place(dave, mkt, BID, 150, 10, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, eve));
        _place(eve, mkt, ASK, 150, 10, 1);
        // The edges of the band and a deadline of now are accepted.
        _place(alice, mkt, ASK, CEILING, 10, 1);
        _place(alice, mkt, BID, FLOOR, 10, 1);
    }

    /// @dev The buyer's balance must cover the fills and the escrow of the rest together.
    function test_placeOrder_bidRevertsWhenFillsAndEscrowExceedBalance() public {
        vm.prank(frank);
        exchange.withdrawBaht(DEPOSIT_BAHT - 200_000);
        _ask(alice, 110, 10); // 110,000 satang
        uint256 needed = _value(110, 10) + _value(130, 10);
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, 200_000, needed)
        );
        _place(frank, mkt, BID, 130, 20, 8);
        // 15 t: 110,000 filled + 5 t dropped (below the minimum) fits.
        (uint256 id, uint32 filled) = _place(frank, mkt, BID, 130, 15, 8);
        vm.assertEq(id, 0);
        vm.assertEq(filled, 10);
        vm.assertEq(exchange.bahtBalance(frank), 200_000 - _value(110, 10));
    }

    function test_placeOrder_belowMinimumWithoutFillIsNoop() public {
        vm.recordLogs();
        (uint256 id, uint32 filled) = _place(bob, mkt, BID, 130, MIN_QTY - 1, 8);
        vm.assertEq(vm.getRecordedLogs().length, 0, "no event");
        vm.assertEq(id, 0);
        vm.assertEq(filled, 0);
        vm.assertEq(exchange.bahtBalance(bob), DEPOSIT_BAHT);
        _assertBest(mkt, BID, false, 0);
        _assertLevel(mkt, BID, 130, 0, 0, 0);
    }

    // ------------------------------------------------------------------ matching: priority and fills

    /// @dev FIFO within a tick: the earliest order fills first; a partly filled maker keeps its place.
    function test_match_fifoWithinTick() public {
        uint256 a = _ask(alice, 150, 10);
        uint256 b = _ask(bob, 150, 10);
        uint256 c = _ask(alice, 150, 10);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(a, 0), mkt, alice, carol, BID, _price(150), 10, uint128(_fee(_value(150, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b, 5), mkt, bob, carol, BID, _price(150), 5, uint128(_fee(_value(150, 5)))
        );
        (uint256 bought, uint256 cost) = _buy(carol, mkt, 15, 150, 10);
        vm.assertEq(bought, 15);
        vm.assertEq(cost, _value(150, 15));
        _assertGone(a);
        _assertOrder(b, bob, 5, 1, 3); // prev is stale once an order heads the queue
        _assertOrder(c, alice, 10, 2, 0);
        _assertLevel(mkt, ASK, 150, 2, 3, 3);
        // Next taker: the rest of b, then c.
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b, 0), mkt, bob, frank, BID, _price(150), 5, uint128(_fee(_value(150, 5)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(c, 7), mkt, alice, frank, BID, _price(150), 3, uint128(_fee(_value(150, 3)))
        );
        _buy(frank, mkt, 8, 150, 10);
        _assertLevel(mkt, ASK, 150, 3, 3, 3);
    }

    function test_match_fifoWithinTickBids() public {
        uint256 a = _bid(alice, 130, 10);
        uint256 b = _bid(bob, 130, 10);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(a, 0), mkt, alice, carol, ASK, _price(130), 10, uint128(_fee(_value(130, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b, 4), mkt, bob, carol, ASK, _price(130), 6, uint128(_fee(_value(130, 6)))
        );
        (uint256 sold, uint256 proceeds) = _sell(carol, mkt, 16, 0, 10);
        vm.assertEq(sold, 16);
        vm.assertEq(proceeds, _value(130, 10) - _fee(_value(130, 10)) + _value(130, 6) - _fee(_value(130, 6)));
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A + 10);
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A + 6);
        vm.assertEq(exchange.creditBalance(carol, mkt), DEPOSIT_A - 16);
        _assertOrder(b, bob, 4, 1, 0);
    }

    /// @dev Better price first: the lowest ask, then the next; limits stop the walk.
    function test_match_bestPriceFirst() public {
        uint256 a120 = _ask(alice, 120, 10);
        uint256 b110 = _ask(bob, 110, 10);
        uint256 c130 = _ask(carol, 130, 10);
        _assertBest(mkt, ASK, true, 110);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b110, 0), mkt, bob, frank, BID, _price(110), 10, uint128(_fee(_value(110, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(a120, 5), mkt, alice, frank, BID, _price(120), 5, uint128(_fee(_value(120, 5)))
        );
        (uint256 bought, uint256 cost) = _buy(frank, mkt, 15, 200, 10);
        vm.assertEq(bought, 15);
        vm.assertEq(cost, _value(110, 10) + _value(120, 5));
        _assertBest(mkt, ASK, true, 120);
        // Limit 125: only the 5 t left at 120.
        (bought, cost) = _buy(frank, mkt, 50, 125, 10);
        vm.assertEq(bought, 5);
        vm.assertEq(cost, _value(120, 5));
        _assertBest(mkt, ASK, true, 130);
        _assertOrder(c130, carol, 10, 0, 0);
    }

    function test_match_bestBidFirst() public {
        uint256 b130 = _bid(bob, 130, 10);
        uint256 a140 = _bid(alice, 140, 10);
        _bid(carol, 120, 10);
        _assertBest(mkt, BID, true, 140);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(a140, 0), mkt, alice, frank, ASK, _price(140), 10, uint128(_fee(_value(140, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b130, 5), mkt, bob, frank, ASK, _price(130), 5, uint128(_fee(_value(130, 5)))
        );
        (uint256 sold, uint256 proceeds) = _sell(frank, mkt, 15, 125, 10);
        vm.assertEq(sold, 15);
        vm.assertEq(proceeds, _value(140, 10) - _fee(_value(140, 10)) + _value(130, 5) - _fee(_value(130, 5)));
        // Limit 125 leaves the bid at 120.
        (sold,) = _sell(frank, mkt, 50, 125, 10);
        vm.assertEq(sold, 5);
        _assertBest(mkt, BID, true, 120);
    }

    /// @dev A crossing bid fills at the makers' prices, then rests the remainder at its own tick.
    function test_placeOrder_crossingBidFillsThenRests() public {
        uint256 a = _ask(alice, 110, 10);
        uint256 b = _ask(carol, 120, 10);
        _ask(carol, 140, 10); // beyond the bid's limit
        uint256 rest = _orderId(mkt, BID, 130, 1);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(a, 0), mkt, alice, bob, BID, _price(110), 10, uint128(_fee(_value(110, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b, 0), mkt, carol, bob, BID, _price(120), 10, uint128(_fee(_value(120, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.OrderPlaced(rest, mkt, bob, 20);
        (uint256 id, uint32 filled) = _place(bob, mkt, BID, 130, 40, 8);
        vm.assertEq(id, rest);
        vm.assertEq(filled, 20);
        _assertOrder(rest, bob, 20, 0, 0);
        vm.assertEq(
            exchange.bahtBalance(bob), DEPOSIT_BAHT - _value(110, 10) - _value(120, 10) - _value(130, 20)
        );
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A + 20);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT + _value(110, 10) - _fee(_value(110, 10)));
        _assertBest(mkt, ASK, true, 140);
        _assertBest(mkt, BID, true, 130);
        _assertBahtBacked(_value(130, 20));
        _assertCreditsBacked(mkt, batchA, 10);
    }

    function test_placeOrder_crossingAskFillsThenRests() public {
        uint256 b = _bid(bob, 130, 10);
        uint256 rest = _orderId(mkt, ASK, 120, 1);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b, 0), mkt, bob, alice, ASK, _price(130), 10, uint128(_fee(_value(130, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.OrderPlaced(rest, mkt, alice, 20);
        (uint256 id, uint32 filled) = _place(alice, mkt, ASK, 120, 30, 8);
        vm.assertEq(id, rest);
        vm.assertEq(filled, 10);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 30);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT + _value(130, 10) - _fee(_value(130, 10)));
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A + 10);
        _assertBest(mkt, ASK, true, 120);
        _assertBest(mkt, BID, false, 0);
        _assertCreditsBacked(mkt, batchA, 20);
    }

    /// @dev A remainder below the market minimum does not rest: it stays in the balance.
    function test_placeOrder_remainderBelowMinimumDoesNotRest() public {
        _ask(alice, 110, 10);
        vm.recordLogs();
        (uint256 id, uint32 filled) = _place(bob, mkt, BID, 130, 19, 8);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 1, "only the trade");
        vm.assertEq(logs[0].topics[0], IExchange.Traded.selector);
        vm.assertEq(id, 0);
        vm.assertEq(filled, 10);
        vm.assertEq(exchange.bahtBalance(bob), DEPOSIT_BAHT - _value(110, 10));
        _assertBest(mkt, BID, false, 0);
        _assertBahtBacked(0);
        // Same for an ask: 9 t left over stay with the seller.
        _bid(carol, 140, 10);
        (id, filled) = _place(alice, mkt, ASK, 120, 19, 8);
        vm.assertEq(id, 0);
        vm.assertEq(filled, 10);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 10 - 10);
        _assertCreditsBacked(mkt, batchA, 0);
    }

    /// @dev `maxFills` caps a limit order's fills too; what is left rests at its tick even if the
    /// book then crosses (documented behaviour: fills are bounded, the rest rests).
    function test_placeOrder_maxFillsThenRests() public {
        _ask(alice, 110, 10);
        uint256 second = _ask(alice, 110, 10);
        (uint256 id, uint32 filled) = _place(bob, mkt, BID, 130, 30, 1);
        vm.assertEq(filled, 10);
        _assertOrder(id, bob, 20, 0, 0);
        _assertOrder(second, alice, 10, 1, 0);
        _assertBest(mkt, ASK, true, 110);
        _assertBest(mkt, BID, true, 130);
        // maxFills 0: nothing fills, everything rests.
        (id, filled) = _place(carol, mkt, BID, 120, 10, 0);
        vm.assertEq(filled, 0);
        _assertOrder(id, carol, 10, 0, 0);
    }

    /// @dev The bitmap crosses words: ticks at 255/256, 511/512 and the ends of the range.
    function test_match_acrossBitmapWords() public {
        uint32 m = _fullRangeMarket();
        uint16[7] memory ticks = [uint16(65_535), 512, 256, 1, 511, 255, 40_000];
        for (uint256 i; i < ticks.length; ++i) {
            _place(alice, m, ASK, ticks[i], 1, 0);
        }
        uint16[7] memory sorted = [uint16(1), 255, 256, 511, 512, 40_000, 65_535];
        for (uint256 i; i < sorted.length; ++i) {
            _assertBest(m, ASK, true, sorted[i]);
            (uint256 bought, uint256 cost) = _buy(bob, m, 1, type(uint16).max, 1);
            vm.assertEq(bought, 1);
            vm.assertEq(cost, sorted[i], "cheapest first");
        }
        _assertBest(m, ASK, false, 0);
        for (uint256 i; i < ticks.length; ++i) {
            _place(alice, m, BID, ticks[i], 1, 0);
        }
        for (uint256 i = sorted.length; i > 0; --i) {
            _assertBest(m, BID, true, sorted[i - 1]);
            (uint256 sold, uint256 proceeds) = _sell(bob, m, 1, 0, 1);
            vm.assertEq(sold, 1);
            vm.assertEq(proceeds, sorted[i - 1] - _fee(sorted[i - 1]), "dearest first");
        }
        _assertBest(m, BID, false, 0);
    }

    // ------------------------------------------------------------------ buy

    /// @dev Two legs in two markets, each with its own limit; cheapest first within each leg.
    function test_buy_acrossMarketsWithLimit() public {
        _ask(alice, 110, 10);
        _ask(alice, 120, 10);
        _ask(alice, 130, 10);
        _place(bob, mkt2, ASK, 200, 10, 0);
        _place(bob, mkt2, ASK, 210, 10, 0);
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 25, 120, 10), _leg(mkt2, 15, 205, 10));
        uint256 expected = _value(110, 10) + _value(120, 10) + _value(200, 10);
        vm.prank(carol);
        (uint256 bought, uint256 cost) = exchange.buy(legs, expected, uint40(block.timestamp));
        vm.assertEq(bought, 30);
        vm.assertEq(cost, expected);
        vm.assertEq(exchange.creditBalance(carol, mkt), DEPOSIT_A + 20);
        vm.assertEq(exchange.creditBalance(carol, mkt2), DEPOSIT_B + 10);
        vm.assertEq(exchange.bahtBalance(carol), DEPOSIT_BAHT - expected);
        vm.assertEq(exchange.market(mkt).feesAccrued, _fee(_value(110, 10)) + _fee(_value(120, 10)));
        vm.assertEq(exchange.market(mkt2).feesAccrued, _fee(_value(200, 10)));
        _assertBest(mkt, ASK, true, 130);
        _assertBest(mkt2, ASK, true, 210);
        _assertBahtBacked(0);
        _assertCreditsBacked(mkt, batchA, 10);
        _assertCreditsBacked(mkt2, batchB, 10);
    }

    function test_buy_maxFillsCaps() public {
        _ask(alice, 110, 10);
        _ask(bob, 110, 10);
        _ask(alice, 111, 10);
        (uint256 bought, uint256 cost) = _buy(carol, mkt, 30, 200, 2);
        vm.assertEq(bought, 20);
        vm.assertEq(cost, _value(110, 20));
        (bought,) = _buy(carol, mkt, 30, 200, 0);
        vm.assertEq(bought, 0, "maxFills 0 fills nothing");
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeTooManyFills.selector, uint256(257)));
        _buy(carol, mkt, 30, 200, 257);
        (bought,) = _buy(carol, mkt, 30, 200, 256);
        vm.assertEq(bought, 10);
    }

    function test_buy_nothingToFill() public {
        vm.recordLogs();
        vm.prank(carol);
        (uint256 bought, uint256 cost) =
            exchange.buy(_legs(_leg(mkt, 10, 200, 5)), 0, uint40(block.timestamp));
        vm.assertEq(bought, 0);
        vm.assertEq(cost, 0);
        vm.assertEq(vm.getRecordedLogs().length, 0);
        // An empty call is a no-op too.
        vm.prank(carol);
        (bought, cost) = exchange.buy(new IExchange.Leg[](0), 0, uint40(block.timestamp));
        vm.assertEq(bought + cost, 0);
    }

    function test_buy_deadline() public {
        _ask(alice, 110, 10);
        uint40 deadline = uint40(block.timestamp);
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 10, 200, 5));
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeDeadlinePassed.selector, deadline));
        vm.prank(carol);
        exchange.buy(legs, type(uint256).max, deadline);
        vm.prank(carol);
        (uint256 bought,) = exchange.buy(legs, type(uint256).max, deadline + 1);
        vm.assertEq(bought, 10);
    }

    function test_buy_maxCost() public {
        _ask(alice, 110, 10);
        _ask(alice, 120, 10);
        uint256 cost = _value(110, 10) + _value(120, 10);
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 20, 200, 5));
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeCostAboveLimit.selector, cost, cost - 1));
        vm.prank(carol);
        exchange.buy(legs, cost - 1, uint40(block.timestamp));
        _assertBest(mkt, ASK, true, 110);
        vm.prank(carol);
        (uint256 bought, uint256 paid) = exchange.buy(legs, cost, uint40(block.timestamp));
        vm.assertEq(bought, 20);
        vm.assertEq(paid, cost);
    }

    function test_buy_reverts() public {
        _ask(alice, 110, 10);
        _ask(alice, 120, 10);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, dave));
        _buy(dave, mkt, 10, 200, 5);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        _buy(carol, mkt, 0, 200, 5);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(7)));
        _buy(carol, 7, 10, 200, 5);
        // The second leg is bad: the first leg's fills are undone too.
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 10, 200, 5), _leg(mkt2, 0, 200, 5));
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        vm.prank(carol);
        exchange.buy(legs, type(uint256).max, uint40(block.timestamp));
        _assertBest(mkt, ASK, true, 110);
        // Not enough baht.
        vm.prank(frank);
        exchange.withdrawBaht(DEPOSIT_BAHT - 200_000);
        uint256 cost = _value(110, 10) + _value(120, 10);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, 200_000, cost));
        _buy(frank, mkt, 20, 200, 5);
    }

    /// @dev Buying from one's own ask is allowed and consistent: the fee is the only cost.
    function test_buy_fromOwnAsk() public {
        _ask(alice, 150, 10);
        (uint256 bought, uint256 cost) = _buy(alice, mkt, 10, 150, 5);
        vm.assertEq(bought, 10);
        vm.assertEq(cost, _value(150, 10));
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT - _fee(_value(150, 10)));
        _assertBahtBacked(0);
        _assertCreditsBacked(mkt, batchA, 0);
    }

    // ------------------------------------------------------------------ sell

    function test_sell_acrossMarketsWithLimit() public {
        _bid(bob, 140, 10);
        _bid(carol, 130, 10);
        _place(bob, mkt2, BID, 300, 10, 0);
        _place(bob, mkt2, BID, 290, 10, 0);
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 30, 135, 10), _leg(mkt2, 15, 0, 10));
        uint256 proceeds = _value(140, 10) - _fee(_value(140, 10)) + _value(300, 10) - _fee(_value(300, 10))
            + _value(290, 5) - _fee(_value(290, 5));
        vm.prank(alice);
        (uint256 sold, uint256 got) = exchange.sell(legs, proceeds, uint40(block.timestamp));
        vm.assertEq(sold, 25);
        vm.assertEq(got, proceeds);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT + proceeds);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 10);
        vm.assertEq(exchange.creditBalance(alice, mkt2), DEPOSIT_B - 15);
        vm.assertEq(exchange.creditBalance(bob, mkt2), DEPOSIT_B + 15);
        _assertBest(mkt, BID, true, 130);
        _assertBest(mkt2, BID, true, 290);
        _assertBahtBacked(_value(130, 10) + _value(290, 5));
    }

    function test_sell_minProceeds() public {
        _bid(bob, 140, 10);
        uint256 proceeds = _value(140, 10) - _fee(_value(140, 10));
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 10, 0, 5));
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeProceedsBelowLimit.selector, proceeds, proceeds + 1)
        );
        vm.prank(alice);
        exchange.sell(legs, proceeds + 1, uint40(block.timestamp));
        // Nothing to sell into is below any positive minimum.
        IExchange.Leg[] memory none = _legs(_leg(mkt2, 10, 0, 5));
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeProceedsBelowLimit.selector, 0, 1));
        vm.prank(alice);
        exchange.sell(none, 1, uint40(block.timestamp));
        vm.prank(alice);
        (uint256 sold, uint256 got) = exchange.sell(legs, proceeds, uint40(block.timestamp));
        vm.assertEq(sold, 10);
        vm.assertEq(got, proceeds);
    }

    function test_sell_reverts() public {
        _bid(bob, 140, 10);
        uint40 late = uint40(block.timestamp) - 1;
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 10, 0, 5));
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeDeadlinePassed.selector, late));
        vm.prank(alice);
        exchange.sell(legs, 0, late);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotVerified.selector, eve));
        _sell(eve, mkt, 10, 0, 5);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeZeroAmount.selector));
        _sell(alice, mkt, 0, 0, 5);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeTooManyFills.selector, uint256(300)));
        _sell(alice, mkt, 10, 0, 300);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(0)));
        _sell(alice, 0, 10, 0, 5);
        // The whole leg quantity must be held, not just what fills.
        vm.expectRevert(
            abi.encodeWithSelector(IExchange.ExchangeInsufficientBalance.selector, DEPOSIT_A, DEPOSIT_A + 1)
        );
        _sell(alice, mkt, uint32(DEPOSIT_A + 1), 0, 5);
    }

    /// @dev Selling into one's own bid: the seller is also the maker who buys. Net credits must
    /// not change (bought 10, sold 10); the fee is the only cost. Regression: `sell` wrote back a
    /// balance read before matching and lost the tonnes the own bid had just bought.
    function test_sell_intoOwnBid() public {
        _bid(alice, 140, 10);
        (uint256 sold, uint256 proceeds) = _sell(alice, mkt, 10, 0, 5);
        vm.assertEq(sold, 10);
        vm.assertEq(proceeds, _value(140, 10) - _fee(_value(140, 10)));
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A, "credits lost in a self-trade");
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT - _fee(_value(140, 10)));
        _assertCreditsBacked(mkt, batchA, 0);
        _assertBahtBacked(0);
        // Mixed: own bid first, then bob's.
        _bid(alice, 150, 10);
        _bid(bob, 145, 10);
        (sold,) = _sell(alice, mkt, 20, 0, 5);
        vm.assertEq(sold, 20);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 10);
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A + 10);
        _assertCreditsBacked(mkt, batchA, 0);
    }

    function test_placeOrder_crossingOwnOrders() public {
        _bid(alice, 140, 10);
        (uint256 id, uint32 filled) = _place(alice, mkt, ASK, 130, 10, 5);
        vm.assertEq(id, 0);
        vm.assertEq(filled, 10);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A);
        _ask(alice, 130, 10);
        (id, filled) = _place(alice, mkt, BID, 140, 10, 5);
        vm.assertEq(filled, 10);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT - _fee(_value(140, 10)) - _fee(_value(130, 10)));
        _assertCreditsBacked(mkt, batchA, 0);
        _assertBahtBacked(0);
    }

    // ------------------------------------------------------------------ fees

    /// @dev 0.45%: the seller receives value - fee, the buyer pays exactly the value, the fee
    /// accrues to the market and sweeping pays the treasury.
    function test_fees_sellerPaysAndTreasurySweeps() public {
        _ask(alice, 333, 11); // 11 t at 333 THB: 366,300 satang
        uint256 value = _value(333, 11);
        uint256 fee = _fee(value);
        vm.assertEq(fee, 1648); // 0.45% of 366,300 = 1,648.35, rounded down
        (, uint256 cost) = _buy(carol, mkt, 11, 333, 1);
        vm.assertEq(cost, value);
        vm.assertEq(exchange.bahtBalance(carol), DEPOSIT_BAHT - value, "buyer pays the value");
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT + value - fee, "seller pays the fee");
        vm.assertEq(exchange.market(mkt).feesAccrued, fee);
        vm.assertEq(exchange.market(mkt2).feesAccrued, 0);

        // A taker seller pays the fee too.
        _place(bob, mkt2, BID, 1000, 20, 0);
        uint256 value2 = _value(1000, 20);
        (, uint256 proceeds) = _sell(frank, mkt2, 20, 0, 1);
        vm.assertEq(proceeds, value2 - _fee(value2));
        vm.assertEq(exchange.market(mkt2).feesAccrued, _fee(value2));
        vm.assertEq(exchange.market(mkt).feesAccrued, fee, "fees accrue per market");
        _assertBahtBacked(0);

        uint256 held = baht.balanceOf(address(exchange));
        uint32[] memory ms = new uint32[](2);
        (ms[0], ms[1]) = (mkt, mkt2);
        vm.expectEmit(address(exchange));
        emit IExchange.FeesSwept(mkt, treasury, fee);
        vm.expectEmit(address(exchange));
        emit IExchange.FeesSwept(mkt2, treasury, _fee(value2));
        vm.prank(eve); // anyone may sweep
        exchange.sweepFees(ms);
        vm.assertEq(baht.balanceOf(treasury), fee + _fee(value2));
        vm.assertEq(baht.balanceOf(address(exchange)), held - fee - _fee(value2));
        vm.assertEq(exchange.market(mkt).feesAccrued, 0);
        vm.assertEq(exchange.market(mkt2).feesAccrued, 0);
        _assertBahtBacked(0);

        // Nothing accrued: no event, no transfer.
        vm.recordLogs();
        exchange.sweepFees(ms);
        vm.assertEq(vm.getRecordedLogs().length, 0);
        vm.assertEq(baht.balanceOf(treasury), fee + _fee(value2));
    }

    function test_fees_sweepUnknownMarketReverts() public {
        uint32[] memory ms = new uint32[](2);
        (ms[0], ms[1]) = (mkt, 9);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownMarket.selector, uint32(9)));
        exchange.sweepFees(ms);
    }

    function test_fees_roundDownAndFollowMarketFee() public {
        uint32 m = _fullRangeMarket(); // tick size 1 satang
        _place(alice, m, ASK, 222, 1, 0); // 222 satang: fee 0.999 rounds to 0
        (, uint256 cost) = _buy(bob, m, 1, 222, 1);
        vm.assertEq(cost, 222);
        vm.assertEq(exchange.market(m).feesAccrued, 0);
        _place(alice, m, ASK, 223, 1, 0); // 1.0035 -> 1
        _buy(bob, m, 1, 223, 1);
        vm.assertEq(exchange.market(m).feesAccrued, 1);
        // A new fee applies to the next trade.
        vm.prank(admin);
        exchange.setMarketFee(mkt, 0);
        _ask(alice, 200, 10);
        _buy(bob, mkt, 10, 200, 1);
        vm.assertEq(exchange.market(mkt).feesAccrued, 0);
        vm.assertEq(exchange.bahtBalance(alice), DEPOSIT_BAHT + _value(200, 10) + 222 + 223 - 1);
        vm.prank(admin);
        exchange.setMarketFee(mkt, 100); // 1%
        _ask(alice, 200, 10);
        _buy(bob, mkt, 10, 200, 1);
        vm.assertEq(exchange.market(mkt).feesAccrued, _value(200, 10) / 100);
    }

    // ------------------------------------------------------------------ cancel

    function _threeAsks() internal returns (uint256 a, uint256 b, uint256 c) {
        a = _ask(alice, 150, 10);
        b = _ask(alice, 150, 20);
        c = _ask(alice, 150, 30);
    }

    function test_cancel_head() public {
        (uint256 a, uint256 b, uint256 c) = _threeAsks();
        vm.expectEmit(address(exchange));
        emit IExchange.OrderClosed(a, alice, 10, false);
        _cancel(alice, a);
        _assertGone(a);
        _assertLevel(mkt, ASK, 150, 2, 3, 3);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 50);
        // b fills first now.
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(b, 0), mkt, alice, bob, BID, _price(150), 20, uint128(_fee(_value(150, 20)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(c, 25), mkt, alice, bob, BID, _price(150), 5, uint128(_fee(_value(150, 5)))
        );
        _buy(bob, mkt, 25, 150, 5);
        _assertLevel(mkt, ASK, 150, 3, 3, 3);
        _assertCreditsBacked(mkt, batchA, 25);
    }

    function test_cancel_middle() public {
        (uint256 a, uint256 b, uint256 c) = _threeAsks();
        vm.expectEmit(address(exchange));
        emit IExchange.OrderClosed(b, alice, 20, false);
        _cancel(alice, b);
        _assertGone(b);
        _assertOrder(a, alice, 10, 0, 3);
        _assertOrder(c, alice, 30, 1, 0);
        _assertLevel(mkt, ASK, 150, 1, 3, 3);
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(a, 0), mkt, alice, bob, BID, _price(150), 10, uint128(_fee(_value(150, 10)))
        );
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(c, 0), mkt, alice, bob, BID, _price(150), 30, uint128(_fee(_value(150, 30)))
        );
        (uint256 bought,) = _buy(bob, mkt, 100, 150, 5);
        vm.assertEq(bought, 40);
        _assertLevel(mkt, ASK, 150, 0, 0, 3);
        _assertBest(mkt, ASK, false, 0);
    }

    function test_cancel_tail() public {
        (uint256 a, uint256 b, uint256 c) = _threeAsks();
        _cancel(alice, c);
        _assertGone(c);
        _assertOrder(b, alice, 20, 1, 0);
        _assertLevel(mkt, ASK, 150, 1, 2, 3);
        // The next order links after b with a fresh sequence.
        uint256 d = _ask(bob, 150, 10);
        vm.assertEq(d, _orderId(mkt, ASK, 150, 4));
        _assertOrder(b, alice, 20, 1, 4);
        _assertOrder(d, bob, 10, 2, 0);
        _assertLevel(mkt, ASK, 150, 1, 4, 4);
        (uint256 bought,) = _buy(carol, mkt, 100, 150, 5);
        vm.assertEq(bought, 40);
        _assertGone(a);
        _assertGone(d);
    }

    /// @dev The last order of a tick: the queue empties and the tick leaves the bitmap.
    function test_cancel_lastClearsLevel() public {
        uint256 a = _ask(alice, 150, 10);
        uint256 b = _ask(alice, 160, 10);
        _assertBest(mkt, ASK, true, 150);
        _cancel(alice, a);
        _assertLevel(mkt, ASK, 150, 0, 0, 1);
        _assertBest(mkt, ASK, true, 160);
        _cancel(alice, b);
        _assertBest(mkt, ASK, false, 0);
        // A buy finds nothing; a new order at 150 takes sequence 2.
        (uint256 bought,) = _buy(bob, mkt, 10, CEILING, 5);
        vm.assertEq(bought, 0);
        vm.assertEq(_ask(alice, 150, 10), _orderId(mkt, ASK, 150, 2));
        _assertLevel(mkt, ASK, 150, 2, 2, 2);
        _assertBest(mkt, ASK, true, 150);
    }

    /// @dev After fills the head's `prev` is stale; cancelling it, or the tail behind it, still
    /// leaves a consistent queue.
    function test_cancel_afterPartialConsumption() public {
        (uint256 a, uint256 b, uint256 c) = _threeAsks();
        _buy(bob, mkt, 15, 150, 5); // a gone, b has 15 left and heads the queue
        _assertGone(a);
        _assertLevel(mkt, ASK, 150, 2, 3, 3);
        _cancel(alice, c); // tail behind the head
        _assertLevel(mkt, ASK, 150, 2, 2, 3);
        _assertOrder(b, alice, 15, 1, 0);
        uint256 d = _ask(carol, 150, 10);
        _assertOrder(b, alice, 15, 1, 4);
        _cancel(alice, b); // the head, with a stale prev
        _assertLevel(mkt, ASK, 150, 4, 4, 4);
        _assertOrder(d, carol, 10, 2, 0);
        _cancel(carol, d);
        _assertLevel(mkt, ASK, 150, 0, 0, 4);
        _assertBest(mkt, ASK, false, 0);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 10 - 5);
        _assertCreditsBacked(mkt, batchA, 0);
    }

    function test_cancel_partlyFilledReturnsRemainder() public {
        uint256 id = _bid(bob, 140, 30);
        _sell(carol, mkt, 12, 0, 1);
        vm.expectEmit(address(exchange));
        emit IExchange.OrderClosed(id, bob, 18, false);
        _cancel(bob, id);
        vm.assertEq(exchange.bahtBalance(bob), DEPOSIT_BAHT - _value(140, 12));
        vm.assertEq(exchange.creditBalance(bob, mkt), DEPOSIT_A + 12);
        _assertBahtBacked(0);
    }

    function test_cancel_bidReturnsEscrow() public {
        uint256 id = _bid(bob, 2500, 100);
        vm.assertEq(exchange.bahtBalance(bob), DEPOSIT_BAHT - _value(2500, 100));
        _cancel(bob, id);
        vm.assertEq(exchange.bahtBalance(bob), DEPOSIT_BAHT);
        _assertBest(mkt, BID, false, 0);
        _assertBahtBacked(0);
    }

    function test_cancel_reverts() public {
        uint256 id = _ask(alice, 150, 10);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotOrderOwner.selector, id, bob));
        _cancel(bob, id);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeNotOrderOwner.selector, id, admin));
        _cancel(admin, id);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownOrder.selector, id + 1));
        _cancel(alice, id + 1);
        _cancel(alice, id);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownOrder.selector, id));
        _cancel(alice, id);
        // A filled order is gone too.
        uint256 id2 = _ask(alice, 150, 10);
        _buy(bob, mkt, 10, 150, 1);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeUnknownOrder.selector, id2));
        _cancel(alice, id2);
    }

    // ------------------------------------------------------------------ periods

    function test_period_followsThaiQuarters() public {
        (uint16 y, uint8 q) = QuarterLib.yearQuarter(Q3_START);
        vm.assertEq(y, 2026);
        vm.assertEq(q, 3);
        (y, q) = QuarterLib.yearQuarter(Q3_START - 1);
        vm.assertEq(q, 2);
        vm.assertEq(exchange.currentPeriod(), Q2_2026);
        vm.assertEq(_periodAt(block.timestamp), Q2_2026);
        vm.warp(Q3_START - 1);
        vm.assertEq(exchange.currentPeriod(), Q2_2026);
        vm.warp(Q3_START); // 2026-06-30T17:00:00Z
        vm.assertEq(exchange.currentPeriod(), Q3_2026);
        vm.assertEq(_periodAt(block.timestamp), Q3_2026);
        vm.warp(1_798_736_400); // 2027-01-01T00:00:00+07:00
        vm.assertEq(exchange.currentPeriod(), 2027 * 4);
        vm.warp(1_798_736_399);
        vm.assertEq(exchange.currentPeriod(), 2026 * 4 + 3);
    }

    /// @dev When the quarter ends its book is frozen: its orders no longer fill or count as best;
    /// the new quarter starts an empty book with fresh queues.
    function test_period_oldOrdersDoNotFill() public {
        uint256 ask = _ask(alice, 150, 10);
        uint256 bid = _bid(bob, 120, 10);
        vm.warp(Q3_START);
        _assertBest(mkt, ASK, false, 0);
        _assertBest(mkt, BID, false, 0);
        (uint256 bought,) = _buy(carol, mkt, 10, CEILING, 10);
        vm.assertEq(bought, 0);
        (uint256 sold,) = _sell(carol, mkt, 10, 0, 10);
        vm.assertEq(sold, 0);
        // A crossing limit order rests instead of filling the old orders.
        (uint256 newBid, uint32 filled) = _place(carol, mkt, BID, 160, 10, 10);
        vm.assertEq(filled, 0);
        vm.assertEq(newBid, _orderIdIn(mkt, Q3_2026, BID, 160, 1));
        // The old orders are still stored with their escrow, in the frozen book.
        _assertOrder(ask, alice, 10, 0, 0);
        _assertOrder(bid, bob, 10, 0, 0);
        vm.assertEq(exchange.level(mkt, Q2_2026, ASK, 150).head, 1);
        // A new ask at the same tick starts a fresh queue and fills against Q3 orders only.
        uint256 newAsk = _ask(frank, 150, 10);
        vm.assertEq(newAsk, 0, "filled against carol's Q3 bid");
        vm.assertEq(exchange.creditBalance(carol, mkt), DEPOSIT_A + 10);
        newAsk = _ask(frank, 150, 10);
        vm.assertEq(newAsk, _orderIdIn(mkt, Q3_2026, ASK, 150, 1));
        vm.expectEmit(address(exchange));
        emit IExchange.Traded(
            _tradeId(newAsk, 0), mkt, frank, carol, BID, _price(150), 10, uint128(_fee(_value(150, 10)))
        );
        (bought,) = _buy(carol, mkt, 20, CEILING, 10);
        vm.assertEq(bought, 10);
        _assertOrder(ask, alice, 10, 0, 0);
    }

    /// @dev Anyone reclaims closed-period orders in a batch; escrow returns to the owners.
    function test_reclaim_byAnyoneReturnsEscrow() public {
        uint256 ask = _ask(alice, 150, 30);
        uint256 bid = _bid(bob, 120, 20);
        _buy(carol, mkt, 10, 150, 1); // ask partly filled: 20 left
        uint256 bobBaht = exchange.bahtBalance(bob);
        vm.warp(Q3_START + 3 days);
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (ask, bid, ask + 77); // an unknown id is skipped
        vm.expectEmit(address(exchange));
        emit IExchange.OrderClosed(ask, alice, 20, true);
        vm.expectEmit(address(exchange));
        emit IExchange.OrderClosed(bid, bob, 20, true);
        vm.prank(eve);
        exchange.reclaim(ids);
        _assertGone(ask);
        _assertGone(bid);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 10);
        vm.assertEq(exchange.bahtBalance(bob), bobBaht + _value(120, 20));
        _assertBahtBacked(0);
        _assertCreditsBacked(mkt, batchA, 0);
        // Twice: a no-op.
        vm.recordLogs();
        vm.prank(eve);
        exchange.reclaim(ids);
        vm.assertEq(vm.getRecordedLogs().length, 0);
        vm.assertEq(exchange.bahtBalance(bob), bobBaht + _value(120, 20));
        // Owners may cancel closed-period orders as well.
        vm.warp(Q3_START + 4 days);
        uint256 q3 = _ask(alice, 150, 10);
        vm.warp(1_790_787_600); // Q4
        vm.expectEmit(address(exchange));
        emit IExchange.OrderClosed(q3, alice, 10, false);
        _cancel(alice, q3);
        vm.assertEq(exchange.creditBalance(alice, mkt), DEPOSIT_A - 10);
    }

    function test_reclaim_openPeriodReverts() public {
        uint256 old = _ask(alice, 150, 10);
        vm.warp(Q3_START);
        uint256 open = _ask(alice, 150, 10);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (old, open);
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangePeriodOpen.selector, open));
        exchange.reclaim(ids);
        _assertOrder(old, alice, 10, 0, 0); // the whole call reverted
        // An id without an order is skipped whatever period it names.
        uint256[] memory future = new uint256[](1);
        future[0] = _orderIdIn(mkt, Q3_2026 + 1, ASK, 150, 1);
        exchange.reclaim(future);
        uint256[] memory one = new uint256[](1);
        one[0] = old;
        exchange.reclaim(one);
        _assertGone(old);
    }

    function test_reclaim_batchLimit() public {
        vm.expectRevert(abi.encodeWithSelector(IExchange.ExchangeBatchTooLarge.selector, uint256(257)));
        exchange.reclaim(new uint256[](257));
        exchange.reclaim(new uint256[](256)); // ids 0: unknown, skipped
    }

    // ------------------------------------------------------------------ gas at depth

    /// @dev Placing at an existing tick and a partial fill of the best order cost the same with one
    /// order in the book as with ~2,000 orders over 200 ticks. Every slot involved was written
    /// earlier in this test, so both measurements meet the same warm, dirty storage.
    function test_gas_independentOfDepth() public {
        _ask(alice, 1000, 40);
        uint40 ts = uint40(block.timestamp);
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 5, CEILING, 4));
        // Warm-up: the same two calls once, so every balance and book slot they touch is warm.
        _place(bob, mkt, ASK, 1000, 10, 4);
        _buy(carol, mkt, 5, CEILING, 4);

        vm.prank(bob);
        uint256 g = gasleft();
        exchange.placeOrder(mkt, ASK, 1000, 10, 4, ts);
        uint256 placeShallow = g - gasleft();
        vm.prank(carol);
        g = gasleft();
        exchange.buy(legs, type(uint256).max, ts);
        uint256 fillShallow = g - gasleft();

        // ~2,000 orders over 200 ticks behind the best ask, from four makers.
        for (uint256 i; i < 2000; ++i) {
            _place(traders[i % 4], mkt, ASK, uint16(1001 + i % 200), 10, 0);
        }
        vm.prank(bob);
        g = gasleft();
        exchange.placeOrder(mkt, ASK, 1100, 10, 4, ts);
        uint256 placeDeep = g - gasleft();
        vm.prank(carol);
        g = gasleft();
        exchange.buy(legs, type(uint256).max, ts);
        uint256 fillDeep = g - gasleft();

        _log("place at existing tick, depth 3", placeShallow);
        _log("place at existing tick, depth 2,003", placeDeep);
        _log("partial fill, depth 3", fillShallow);
        _log("partial fill, depth 2,004", fillDeep);
        vm.assertApproxEqRel(placeDeep, placeShallow, 0.05e18, "placeOrder gas grows with depth");
        vm.assertApproxEqRel(fillDeep, fillShallow, 0.05e18, "fill gas grows with depth");
        vm.assertEq(exchange.order(_orderId(mkt, ASK, 1000, 1)).remaining, 25);
    }

    // ------------------------------------------------------------------ fuzz: random order flow

    struct Tracked {
        uint256 id;
        uint32 original;
        uint32 filled;
        uint32 closed;
        bool isBid;
        uint16 tick;
    }

    Tracked[] internal _tracked;
    uint256 internal _lastValue;
    uint256 internal _lastFees;
    mapping(uint256 orderId => uint256) internal _trackedIndex; // 1-based

    /// @dev Random asks, bids, buys, sells and cancels by four traders at ticks around the same
    /// prices, against a model that knows only what the events and return values say:
    /// for every order, original = filled + remaining + closed; for every taker call, the fills
    /// of its events add up to what it returned; and after every step the tokens the exchange
    /// holds equal balances + escrow (+ fees).
    function testFuzz_randomFlow_conservesQuantities(uint256 seed) public {
        uint256 steps = 24;
        for (uint256 i; i < steps; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            _fuzzStep(r);
            _checkModel();
        }
    }

    function _fuzzStep(uint256 r) internal {
        address who = traders[r % 4];
        uint256 action = (r >> 8) % 5;
        uint16 tick = uint16(FLOOR + (r >> 16) % 16);
        uint32 qty = uint32(1 + (r >> 32) % 40);
        uint16 maxFills = uint16((r >> 64) % 6);
        vm.recordLogs();
        if (action < 2) {
            IExchange.Side side = action == 0 ? ASK : BID;
            (uint256 id, uint32 filled) = _place(who, mkt, side, tick, qty, maxFills);
            uint32 traded = _absorb(vm.getRecordedLogs(), who);
            vm.assertEq(traded, filled, "placeOrder: fills != events");
            if (id == 0) {
                vm.assertLt(qty - filled, MIN_QTY, "remainder >= minimum did not rest");
            } else {
                vm.assertEq(
                    _tracked[_trackedIndex[id] - 1].original, qty - filled, "rested != quantity - filled"
                );
                vm.assertEq(_tracked[_trackedIndex[id] - 1].tick, tick);
            }
        } else if (action == 2) {
            (uint256 bought, uint256 cost) = _buy(who, mkt, qty, tick, maxFills);
            uint32 traded = _absorb(vm.getRecordedLogs(), who);
            vm.assertEq(traded, bought, "buy: fills != events");
            vm.assertEq(cost, _lastValue, "buy: cost != value of the fills");
            vm.assertLe(cost, _value(tick, bought), "paid above the limit");
        } else if (action == 3) {
            (uint256 sold, uint256 proceeds) = _sell(who, mkt, qty, tick, maxFills);
            uint32 traded = _absorb(vm.getRecordedLogs(), who);
            vm.assertEq(traded, sold, "sell: fills != events");
            vm.assertEq(proceeds, _lastValue - _lastFees, "sell: proceeds != value - fees");
            vm.assertGe(_lastValue, _value(tick, sold), "sold below the limit");
        } else {
            uint256 n = _tracked.length;
            for (uint256 k; k < n; ++k) {
                Tracked storage t = _tracked[((r >> 80) + k) % n];
                IExchange.Order memory o = exchange.order(t.id);
                if (o.owner == address(0)) continue;
                _cancel(o.owner, t.id);
                _absorb(vm.getRecordedLogs(), o.owner);
                return;
            }
            vm.getRecordedLogs();
        }
    }

    /// @dev Folds a call's events into the model; returns the tonnes traded (their value and
    /// fees in _lastValue and _lastFees).
    function _absorb(Vm.Log[] memory logs, address taker) internal returns (uint32 traded) {
        (_lastValue, _lastFees) = (0, 0);
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(exchange)) continue;
            bytes32 sig = logs[i].topics[0];
            if (sig == IExchange.Traded.selector) {
                uint256 tradeId = uint256(logs[i].topics[1]);
                (address t,, uint64 price, uint32 q, uint128 fee) =
                    abi.decode(logs[i].data, (address, IExchange.Side, uint64, uint32, uint128));
                vm.assertEq(t, taker);
                uint256 k = _trackedIndex[tradeId >> 32];
                vm.assertGt(k, 0, "fill of an unknown order");
                Tracked storage o = _tracked[k - 1];
                vm.assertEq(price, _price(o.tick), "fill not at the maker's price");
                vm.assertEq(fee, _fee(uint256(price) * q));
                o.filled += q;
                _lastValue += uint256(price) * q;
                _lastFees += fee;
                vm.assertEq(uint32(tradeId), o.original - o.filled, "tradeId: maker remaining");
                traded += q;
            } else if (sig == IExchange.OrderPlaced.selector) {
                uint256 id = uint256(logs[i].topics[1]);
                _tracked.push(
                    Tracked({
                        id: id,
                        original: abi.decode(logs[i].data, (uint32)),
                        filled: 0,
                        closed: 0,
                        isBid: uint8(id >> 48) == 1,
                        tick: uint16(id >> 32)
                    })
                );
                _trackedIndex[id] = _tracked.length;
            } else if (sig == IExchange.OrderClosed.selector) {
                (uint32 q,) = abi.decode(logs[i].data, (uint32, bool));
                _tracked[_trackedIndex[uint256(logs[i].topics[1])] - 1].closed += q;
            }
        }
    }

    function _checkModel() internal view {
        uint256 askEscrow;
        uint256 bidEscrow;
        for (uint256 i; i < _tracked.length; ++i) {
            Tracked memory t = _tracked[i];
            uint32 remaining = exchange.order(t.id).remaining;
            vm.assertEq(uint256(t.filled) + remaining + t.closed, t.original, "filled + remaining + closed");
            if (t.isBid) bidEscrow += _value(t.tick, remaining);
            else askEscrow += remaining;
        }
        _assertCreditsBacked(mkt, batchA, askEscrow);
        _assertBahtBacked(bidEscrow);
        // Trading moves tonnes between traders; the total in the exchange never changes.
        uint256 total = askEscrow;
        for (uint256 i; i < traders.length; ++i) {
            total += exchange.creditBalance(traders[i], mkt);
        }
        vm.assertEq(total, 4 * DEPOSIT_A, "tonnes created or destroyed");
    }
}

/// @title TickBitmapHarness
/// @notice Exposes the library's internal functions over one bitmap.
contract TickBitmapHarness {
    using TickBitmap for TickBitmap.Bitmap;

    TickBitmap.Bitmap internal _b;

    function set(uint256 tick) external {
        _b.set(tick);
    }

    function clear(uint256 tick) external {
        _b.clear(tick);
    }

    function lowestIn(uint256 from, uint256 to) external view returns (uint256) {
        return _b.lowestIn(from, to);
    }

    function highestIn(uint256 from, uint256 to) external view returns (uint256) {
        return _b.highestIn(from, to);
    }

    function summary() external view returns (uint256) {
        return _b.summary;
    }
}

/// @title TickBitmapTest
/// @notice The two-level bitmap against a plain list of ticks.
contract TickBitmapTest is Test {
    TickBitmapHarness internal h;
    bool[65_536] internal _marked;

    function setUp() public {
        h = new TickBitmapHarness();
    }

    function _naiveLowest(uint16[] memory ticks, uint256 from, uint256 to)
        internal
        view
        returns (uint256 best)
    {
        best = TickBitmap.NONE;
        for (uint256 i; i < ticks.length; ++i) {
            uint256 t = ticks[i];
            if (_marked[t] && t >= from && t <= to && (best == TickBitmap.NONE || t < best)) best = t;
        }
    }

    function _naiveHighest(uint16[] memory ticks, uint256 from, uint256 to)
        internal
        view
        returns (uint256 best)
    {
        best = TickBitmap.NONE;
        for (uint256 i; i < ticks.length; ++i) {
            uint256 t = ticks[i];
            if (_marked[t] && t >= from && t <= to && (best == TickBitmap.NONE || t > best)) best = t;
        }
    }

    /// @dev Ticks drawn near word edges (x*256 - 1, x*256, x*256 + 1) and at random; some cleared
    /// again; every query range agrees with a scan.
    function testFuzz_bitmap_matchesScan(uint256 seed) public {
        uint16[] memory ticks = new uint16[](24);
        for (uint256 i; i < ticks.length; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, "tick", i)));
            uint256 t = r % 4 == 0 ? r >> 8 : ((r >> 8) % 256) * 256 + (r >> 16) % 3;
            t = t % 65_536;
            if (r % 4 == 1 && t > 0) t -= 1;
            ticks[i] = uint16(t);
            h.set(t);
            _marked[t] = true;
        }
        for (uint256 i; i < ticks.length; i += 3) {
            h.clear(ticks[i]);
            _marked[ticks[i]] = false;
        }
        for (uint256 q; q < 24; ++q) {
            uint256 r = uint256(keccak256(abi.encode(seed, "query", q)));
            uint256 a = q < 12 ? ticks[q] + (r % 3) : r % 65_536;
            if (q < 12 && a > 0) a -= 1; // around a marked tick: t - 1, t or t + 1
            uint256 b = (r >> 16) % 65_536;
            if (a > 65_535) a = 65_535;
            (uint256 from, uint256 to) = a <= b ? (a, b) : (b, a);
            vm.assertEq(h.lowestIn(from, to), _naiveLowest(ticks, from, to), "lowestIn");
            vm.assertEq(h.highestIn(from, to), _naiveHighest(ticks, from, to), "highestIn");
        }
        vm.assertEq(h.lowestIn(10, 9), TickBitmap.NONE, "empty range");
        vm.assertEq(h.highestIn(10, 9), TickBitmap.NONE, "empty range");
    }

    function test_bitmap_edges() public {
        vm.assertEq(h.lowestIn(0, 65_535), TickBitmap.NONE);
        vm.assertEq(h.highestIn(0, 65_535), TickBitmap.NONE);
        h.set(0);
        h.set(65_535);
        vm.assertEq(h.lowestIn(0, 65_535), 0);
        vm.assertEq(h.lowestIn(1, 65_535), 65_535);
        vm.assertEq(h.highestIn(0, 65_535), 65_535);
        vm.assertEq(h.highestIn(0, 65_534), 0);
        vm.assertEq(h.lowestIn(1, 65_534), TickBitmap.NONE);
        vm.assertEq(h.highestIn(1, 65_534), TickBitmap.NONE);
        vm.assertEq(h.summary(), 1 | 1 << 255);
        h.set(256);
        h.clear(0);
        vm.assertEq(h.summary(), 1 << 1 | 1 << 255);
        vm.assertEq(h.lowestIn(0, 255), TickBitmap.NONE);
        vm.assertEq(h.lowestIn(0, 256), 256);
        vm.assertEq(h.highestIn(257, 65_534), TickBitmap.NONE);
        h.clear(256);
        h.clear(65_535);
        vm.assertEq(h.summary(), 0);
    }
}

/// @title ExchangeGriefingTest
/// @notice A book stuffed with minimum-size orders: 10,000 asks in market 1 from three makers over
/// 1,000 ticks (10 per tick), and 2,000 asks in market 2, one per tick. setUp is its own
/// transaction, so each test's call meets cold storage as a real transaction would.
contract ExchangeGriefingTest is ExchangeBase {
    uint256 internal constant DEEP = 10_000;
    uint256 internal constant LEVELS = 1000;
    uint256 internal constant SPARSE = 2000;

    function setUp() public override {
        super.setUp();
        address[3] memory makers = [alice, bob, frank];
        for (uint256 i; i < DEEP; ++i) {
            _place(makers[i % 3], mkt, ASK, uint16(FLOOR + i % LEVELS), MIN_QTY, 0);
        }
        for (uint256 i; i < SPARSE; ++i) {
            _place(makers[i % 3], mkt2, ASK, uint16(FLOOR + i), MIN_QTY, 0);
        }
    }

    function _buyMeasured(uint32 market_, uint32 quantity, uint16 maxFills)
        internal
        returns (uint256 bought, uint256 gasUsed)
    {
        IExchange.Leg[] memory legs = _legs(_leg(market_, quantity, CEILING, maxFills));
        uint40 ts = uint40(block.timestamp);
        vm.prank(carol);
        uint256 g = gasleft();
        (bought,) = exchange.buy(legs, type(uint256).max, ts);
        gasUsed = g - gasleft();
    }

    function test_griefing_setUp() public view {
        vm.assertEq(credits.balanceOf(address(exchange), batchA), 4 * DEPOSIT_A);
        vm.assertEq(exchange.level(mkt, Q2_2026, ASK, FLOOR).tail, 10);
        vm.assertEq(exchange.level(mkt, Q2_2026, ASK, uint16(FLOOR + LEVELS - 1)).tail, 10);
        (bool found, uint16 best) = exchange.bestTick(mkt2, ASK);
        vm.assertTrue(found);
        vm.assertEq(best, FLOOR);
    }

    /// @dev A taker wanting the whole book stops after maxFills 20 with bounded gas.
    function test_griefing_buyMaxFills20Bounded() public {
        (uint256 bought, uint256 gasUsed) = _buyMeasured(mkt, type(uint32).max, 20);
        _log("buy, 20 fills over 2 ticks of a 10,000-order book", gasUsed);
        vm.assertEq(bought, 20 * MIN_QTY);
        vm.assertLt(gasUsed, 1_500_000);
        (bool found, uint16 best) = exchange.bestTick(mkt, ASK);
        vm.assertTrue(found);
        vm.assertEq(best, FLOOR + 2);
    }

    /// @dev The worst case for maxFills 20: every fill empties a tick.
    function test_griefing_buyMaxFills20OneOrderPerTick() public {
        (uint256 bought, uint256 gasUsed) = _buyMeasured(mkt2, type(uint32).max, 20);
        _log("buy, 20 fills over 20 ticks", gasUsed);
        vm.assertEq(bought, 20 * MIN_QTY);
        vm.assertLt(gasUsed, 1_500_000);
        (, uint16 best) = exchange.bestTick(mkt2, ASK);
        vm.assertEq(best, FLOOR + 20);
    }

    /// @dev Even the largest allowed maxFills (256) stays far below a block.
    function test_griefing_buyMaxFills256Bounded() public {
        (uint256 bought, uint256 gasUsed) = _buyMeasured(mkt2, type(uint32).max, 256);
        _log("buy, 256 fills over 256 ticks", gasUsed);
        vm.assertEq(bought, 256 * MIN_QTY);
        vm.assertLt(gasUsed, 12_000_000);
    }

    /// @dev A limit bid crossing the deep book is capped the same way; the rest rests.
    function test_griefing_limitBidBounded() public {
        uint40 ts = uint40(block.timestamp);
        vm.prank(carol);
        uint256 g = gasleft();
        (uint256 id, uint32 filled) = exchange.placeOrder(mkt, BID, 1099, 2000, 20, ts);
        uint256 gasUsed = g - gasleft();
        _log("limit bid, 20 fills then rests", gasUsed);
        vm.assertEq(filled, 20 * MIN_QTY);
        vm.assertEq(exchange.order(id).remaining, 2000 - 20 * MIN_QTY);
        vm.assertLt(gasUsed, 1_500_000);
    }

    /// @dev Placing and cancelling in the deep book cost what they cost in an empty one.
    function test_griefing_placeAndCancelAtDepth() public {
        uint40 ts = uint40(block.timestamp);
        vm.prank(carol);
        uint256 g = gasleft();
        (uint256 id,) = exchange.placeOrder(mkt, ASK, 600, MIN_QTY, 20, ts);
        uint256 placeGas = g - gasleft();
        uint256 middle = _orderIdIn(mkt, Q2_2026, ASK, 700, 5);
        address owner = exchange.order(middle).owner;
        vm.prank(owner);
        g = gasleft();
        exchange.cancel(middle);
        uint256 cancelGas = g - gasleft();
        _log("place at depth 10,000", placeGas);
        _log("cancel at depth 10,000", cancelGas);
        vm.assertEq(exchange.order(id).remaining, MIN_QTY);
        vm.assertLt(placeGas, 100_000);
        vm.assertLt(cancelGas, 60_000);
    }
}

/// @title ExchangeGasTest
/// @notice Execution gas of the trading calls in a steady state, printed with -vv (forge's
/// measurement of the last call, without the 21,000 intrinsic gas and calldata). setUp builds the
/// book, so each test's single call meets cold accounts and slots as a real transaction does.
/// Market 1: 20 asks of 10 t at tick 200 (alice and bob in turn) and 20 bids of 10 t at tick 150
/// (bob and frank in turn). Market 2: one ask of 10 t at each of ticks 200..219 (alice).
contract ExchangeGasTest is ExchangeBase {
    function setUp() public override {
        super.setUp();
        for (uint256 i; i < 20; ++i) {
            _place(i % 2 == 0 ? alice : bob, mkt, ASK, 200, 10, 0);
            _place(i % 2 == 0 ? bob : frank, mkt, BID, 150, 10, 0);
            _place(alice, mkt2, ASK, uint16(200 + i), 10, 0);
        }
    }

    /// @dev Gas the last call used, before the refund for storage it cleared (logged apart: the
    /// refund is capped at a fifth of the whole transaction's gas).
    function _gas(string memory label) internal view returns (uint256 used) {
        Vm.Gas memory g = vm.lastCallGas();
        used = g.gasTotalUsed;
        _log(label, used);
        if (g.gasRefunded > 0) _log("    refund counter", uint256(int256(g.gasRefunded)));
    }

    function test_gas_placeAskExistingTick() public {
        vm.prank(frank);
        exchange.placeOrder(mkt, ASK, 200, 10, 16, uint40(block.timestamp));
        vm.assertLt(_gas("placeOrder: ask rests at an existing tick"), 90_000);
    }

    function test_gas_placeAskNewTick() public {
        vm.prank(frank);
        exchange.placeOrder(mkt, ASK, 201, 10, 16, uint40(block.timestamp));
        vm.assertLt(_gas("placeOrder: ask rests at a new tick"), 110_000);
    }

    function test_gas_placeBidExistingTick() public {
        vm.prank(carol);
        exchange.placeOrder(mkt, BID, 150, 10, 16, uint40(block.timestamp));
        vm.assertLt(_gas("placeOrder: bid rests at an existing tick"), 90_000);
    }

    function test_gas_buyOneFill() public {
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 10, 200, 16));
        vm.prank(carol);
        (uint256 bought,) = exchange.buy(legs, type(uint256).max, uint40(block.timestamp));
        vm.assertEq(bought, 10);
        vm.assertLt(_gas("buy: 1 fill (maker order consumed, tick keeps orders)"), 90_000);
    }

    function test_gas_buyTenFillsOneTick() public {
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 100, 200, 16));
        vm.prank(carol);
        (uint256 bought,) = exchange.buy(legs, type(uint256).max, uint40(block.timestamp));
        vm.assertEq(bought, 100);
        vm.assertLt(_gas("buy: 10 fills at one tick"), 250_000);
    }

    function test_gas_buyOneFillEmptiesTick() public {
        IExchange.Leg[] memory legs = _legs(_leg(mkt2, 10, 300, 16));
        vm.prank(carol);
        (uint256 bought,) = exchange.buy(legs, type(uint256).max, uint40(block.timestamp));
        vm.assertEq(bought, 10);
        vm.assertLt(_gas("buy: 1 fill that empties its tick"), 90_000);
    }

    function test_gas_buyTenFillsTenTicks() public {
        IExchange.Leg[] memory legs = _legs(_leg(mkt2, 100, 300, 16));
        vm.prank(carol);
        (uint256 bought,) = exchange.buy(legs, type(uint256).max, uint40(block.timestamp));
        vm.assertEq(bought, 100);
        vm.assertLt(_gas("buy: 10 fills over 10 ticks"), 300_000);
    }

    function test_gas_sellOneFill() public {
        IExchange.Leg[] memory legs = _legs(_leg(mkt, 10, 150, 16));
        vm.prank(carol);
        (uint256 sold,) = exchange.sell(legs, 0, uint40(block.timestamp));
        vm.assertEq(sold, 10);
        vm.assertLt(_gas("sell: 1 fill"), 90_000);
    }

    function test_gas_placeBidCrossingOneFill() public {
        vm.prank(carol);
        (, uint32 filled) = exchange.placeOrder(mkt, BID, 200, 10, 16, uint40(block.timestamp));
        vm.assertEq(filled, 10);
        vm.assertLt(_gas("placeOrder: bid fills 1 ask, nothing rests"), 90_000);
    }

    function test_gas_cancelMiddle() public {
        uint256 id = _orderIdIn(mkt, Q2_2026, ASK, 200, 11); // alice's, mid-queue
        vm.prank(alice);
        exchange.cancel(id);
        vm.assertLt(_gas("cancel: mid-queue order"), 60_000);
    }

    function test_gas_cancelLastAtTick() public {
        uint256 id = _orderIdIn(mkt2, Q2_2026, ASK, 219, 1);
        vm.prank(alice);
        exchange.cancel(id);
        vm.assertLt(_gas("cancel: last order of its tick"), 60_000);
    }

    function test_gas_reclaimTen() public {
        uint256[] memory ids = new uint256[](10);
        for (uint256 i; i < 10; ++i) {
            ids[i] = _orderIdIn(mkt2, Q2_2026, ASK, uint16(200 + i), 1);
        }
        vm.warp(Q3_START);
        exchange.reclaim(ids);
        vm.assertLt(_gas("reclaim: 10 orders of a closed period"), 150_000);
    }
}
