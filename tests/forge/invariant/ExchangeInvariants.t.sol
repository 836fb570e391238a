// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IExchange} from "../../../contracts/interfaces/IExchange.sol";

import {FuzzSelector} from "../utils/BaseTest.sol";
import {ExchangeBase} from "../utils/ExchangeBase.sol";
import {ExchangeHandler} from "./ExchangeHandler.sol";

/// @title ExchangeInvariantTest
/// @notice Escrow backing, conservation of baht and credits, order accounting, the price band and
/// trading periods, under random sequences of orders, taker calls, cancels, reclaims, deposits,
/// withdrawals, fee sweeps, rule changes and quarters passing, by four traders in two markets.
contract ExchangeInvariantTest is ExchangeBase {
    ExchangeHandler internal handler;

    function setUp() public override {
        super.setUp();
        uint32[] memory ms = new uint32[](2);
        (ms[0], ms[1]) = (mkt, mkt2);
        handler = new ExchangeHandler(
            exchange, baht, credits, admin, regulator, traders, ms, CERTIFIED_UNTIL - 1 days
        );
        vm.label(address(handler), "ExchangeHandler");
        handler.bootstrap(); // every run starts from a two-sided book
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev A selector listed twice is picked twice as often: trading is weighted up, and time
    /// moves often enough that most runs cross a quarter.
    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        bytes4[] memory s = new bytes4[](24);
        s[0] = ExchangeHandler.placeAsk.selector;
        s[1] = ExchangeHandler.placeAsk.selector;
        s[2] = ExchangeHandler.placeAsk.selector;
        s[3] = ExchangeHandler.placeBid.selector;
        s[4] = ExchangeHandler.placeBid.selector;
        s[5] = ExchangeHandler.placeBid.selector;
        s[6] = ExchangeHandler.buy.selector;
        s[7] = ExchangeHandler.buy.selector;
        s[8] = ExchangeHandler.sell.selector;
        s[9] = ExchangeHandler.sell.selector;
        s[10] = ExchangeHandler.cancel.selector;
        s[11] = ExchangeHandler.reclaim.selector;
        s[12] = ExchangeHandler.reclaim.selector;
        s[13] = ExchangeHandler.warp.selector;
        s[14] = ExchangeHandler.warp.selector;
        s[15] = ExchangeHandler.depositBaht.selector;
        s[16] = ExchangeHandler.withdrawBaht.selector;
        s[17] = ExchangeHandler.depositCredits.selector;
        s[18] = ExchangeHandler.withdrawCredits.selector;
        s[19] = ExchangeHandler.sweepFees.selector;
        s[20] = ExchangeHandler.setRules.selector;
        s[21] = ExchangeHandler.setFee.selector;
        s[22] = ExchangeHandler.tryBadOrder.selector;
        s[23] = ExchangeHandler.tryCancelOthers.selector;
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector({addr: address(handler), selectors: s});
    }

    /// @dev Tonnes escrowed in open asks and baht escrowed in open bids of market `m`, from the
    /// contract's own records of the orders the handler placed.
    function _escrow(ExchangeHandler.GhostOrder[] memory orders, uint32 m)
        internal
        view
        returns (uint256 askTonnes, uint256 bidBaht)
    {
        uint256 tickSize = handler.rules(m).tickSize;
        for (uint256 i; i < orders.length; ++i) {
            ExchangeHandler.GhostOrder memory o = orders[i];
            if (o.market != m || !o.open) continue;
            uint256 remaining = exchange.order(o.id).remaining;
            if (o.side == IExchange.Side.Ask) askTonnes += remaining;
            else bidBaht += remaining * o.tick * tickSize;
        }
    }

    /// @dev All properties, checked after every call. One invariant function on purpose: forge
    /// runs each `invariant_*` function as its own campaign from the same seed, i.e. the same call
    /// sequences again, so four functions would cost four times as much for the same coverage.
    /// A failure names the property in its message.
    function invariant_exchange() public {
        _checkEscrowBacked();
        _checkConservation();
        _checkOrderAccounting();
        _checkTradesInBandAndPeriod();
    }

    /// @dev (a) The exchange's baht = traders' balances + baht escrowed in open bids + fees not
    /// yet swept; (b) per market, its credits = traders' balances + tonnes escrowed in open asks.
    function _checkEscrowBacked() internal view {
        address[] memory actors = handler.actors();
        uint32[] memory ms = handler.markets();
        ExchangeHandler.GhostOrder[] memory orders = handler.orders();
        uint256 bahtOwed;
        for (uint256 j; j < actors.length; ++j) {
            bahtOwed += exchange.bahtBalance(actors[j]);
        }
        for (uint256 i; i < ms.length; ++i) {
            (uint256 askTonnes, uint256 bidBaht) = _escrow(orders, ms[i]);
            bahtOwed += bidBaht + exchange.market(ms[i]).feesAccrued;
            uint256 tonnesOwed = askTonnes;
            for (uint256 j; j < actors.length; ++j) {
                tonnesOwed += exchange.creditBalance(actors[j], ms[i]);
            }
            vm.assertEq(
                credits.balanceOf(address(exchange), handler.batchOf(ms[i])),
                tonnesOwed,
                "credits != balances + asks"
            );
        }
        vm.assertEq(baht.balanceOf(address(exchange)), bahtOwed, "baht != balances + bids + fees");
    }

    /// @dev (c) Nothing is created or destroyed: all baht ever minted is in wallets, the exchange
    /// or the treasury (which holds exactly the fees swept); every credit of both batches is in a
    /// wallet or the exchange.
    function _checkConservation() internal view {
        address[] memory actors = handler.actors();
        uint256 minted = traders.length * MINT_BAHT + handler.ghostMinted();
        uint256 bahtSum = baht.balanceOf(address(exchange)) + baht.balanceOf(treasury);
        for (uint256 j; j < actors.length; ++j) {
            bahtSum += baht.balanceOf(actors[j]);
        }
        vm.assertEq(baht.totalSupply(), minted, "baht supply");
        vm.assertEq(bahtSum, minted, "baht outside wallets, exchange and treasury");
        vm.assertEq(baht.balanceOf(treasury), handler.ghostSwept(), "treasury != fees swept");
        uint256[2] memory supply = [uint256(SUPPLY_A), SUPPLY_B];
        uint32[] memory ms = handler.markets();
        for (uint256 i; i < ms.length; ++i) {
            uint256 id = handler.batchOf(ms[i]);
            uint256 sum = credits.balanceOf(address(exchange), id);
            for (uint256 j; j < actors.length; ++j) {
                sum += credits.balanceOf(actors[j], id);
            }
            vm.assertEq(sum, supply[i], "credits outside wallets and exchange");
        }
    }

    /// @dev (d) Every order placed: filled + remaining + closed (cancelled or reclaimed) = its
    /// original quantity, it is stored exactly while open, and every balance, the fees and the
    /// escrow equal the handler's ledger built from events alone.
    function _checkOrderAccounting() internal view {
        ExchangeHandler.GhostOrder[] memory orders = handler.orders();
        for (uint256 i; i < orders.length; ++i) {
            ExchangeHandler.GhostOrder memory o = orders[i];
            IExchange.Order memory c = exchange.order(o.id);
            // The cheatcode only runs on a failure (thousands of orders are checked per run).
            if (uint256(o.filled) + c.remaining + o.closed != o.original) {
                vm.assertEq(
                    uint256(o.filled) + c.remaining + o.closed, o.original, "filled + remaining + closed"
                );
            }
            if (c.owner != (o.open ? o.owner : address(0))) {
                vm.assertEq(c.owner, o.open ? o.owner : address(0), "order stored iff open");
            }
            if ((c.remaining == 0) == o.open) {
                vm.assertEq(c.remaining == 0, !o.open, "an open order has tonnes");
            }
        }
        address[] memory actors = handler.actors();
        uint32[] memory ms = handler.markets();
        for (uint256 j; j < actors.length; ++j) {
            vm.assertEq(
                exchange.bahtBalance(actors[j]), handler.ghostBaht(actors[j]), "baht balance != ledger"
            );
            for (uint256 i; i < ms.length; ++i) {
                vm.assertEq(
                    exchange.creditBalance(actors[j], ms[i]),
                    handler.ghostCredits(actors[j], ms[i]),
                    "credit balance != ledger"
                );
            }
        }
        for (uint256 i; i < ms.length; ++i) {
            vm.assertEq(exchange.market(ms[i]).feesAccrued, handler.ghostFees(ms[i]), "fees != ledger");
        }
    }

    /// @dev (e) No trade outside the band in force, of an order from a closed period, at another
    /// price than the maker's, with a wrong fee or tradeId; and the best ticks the exchange shows
    /// are those of the open orders of the current period within the band.
    function _checkTradesInBandAndPeriod() internal {
        vm.assertEq(handler.fillsOutsideBand(), 0, "fill outside the band");
        vm.assertEq(handler.fillsOfClosedPeriods(), 0, "fill of a closed period's order");
        vm.assertEq(handler.fillsAtWrongPrice(), 0, "fill not at the maker's price");
        vm.assertEq(handler.wrongFees(), 0, "wrong fee");
        vm.assertEq(handler.fillsOfUnknownOrders(), 0, "fill of an unknown or closed order");
        vm.assertEq(handler.tradeIdMismatches(), 0, "tradeId != maker id << 32 | remaining");
        vm.assertEq(handler.badOrderIds(), 0, "order id does not encode market, period, side, tick");
        vm.assertEq(handler.closeMismatches(), 0, "OrderClosed quantity != what was left");
        vm.assertEq(handler.takerMismatches(), 0, "taker of a trade");
        vm.assertEq(handler.sweepMismatches(), 0, "sweep paid another amount");

        vm.warp(handler.time());
        uint16 period = handler.currentPeriod();
        vm.assertEq(exchange.currentPeriod(), period, "period");
        uint32[] memory ms = handler.markets();
        ExchangeHandler.GhostOrder[] memory orders = handler.orders();
        for (uint256 i; i < ms.length; ++i) {
            ExchangeHandler.Rules memory r = handler.rules(ms[i]);
            // The best ticks over the open orders of this period within the band.
            bool askFound;
            bool bidFound;
            uint16 bestAsk;
            uint16 bestBid;
            for (uint256 k; k < orders.length; ++k) {
                ExchangeHandler.GhostOrder memory o = orders[k];
                if (!o.open || o.market != ms[i] || o.period != period) continue;
                if (o.tick < r.floorTick || o.tick > r.ceilingTick) continue;
                if (o.side == IExchange.Side.Ask) {
                    if (!askFound || o.tick < bestAsk) bestAsk = o.tick;
                    askFound = true;
                } else {
                    if (!bidFound || o.tick > bestBid) bestBid = o.tick;
                    bidFound = true;
                }
            }
            (bool f, uint16 t) = exchange.bestTick(ms[i], IExchange.Side.Ask);
            vm.assertEq(f, askFound, "best ask found");
            vm.assertEq(t, bestAsk, "best ask");
            (f, t) = exchange.bestTick(ms[i], IExchange.Side.Bid);
            vm.assertEq(f, bidFound, "best bid found");
            vm.assertEq(t, bestBid, "best bid");
        }
    }

    /// @dev The campaign really trades (forge also prints per-selector metrics).
    function afterInvariant() public view {
        vm.assertGt(handler.totalCalls(), 0, "handler never called");
    }
}
