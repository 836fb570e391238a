// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Exchange} from "../../contracts/Exchange.sol";
import {TestBaht} from "../../contracts/TestBaht.sol";
import {ICarbonCredits} from "../../contracts/interfaces/ICarbonCredits.sol";
import {IExchange} from "../../contracts/interfaces/IExchange.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {BaseTest} from "./utils/BaseTest.sol";
import {GasBudgets} from "./utils/GasBudgets.sol";

/// @title MarketGasTest
/// @notice gasUsed of the exchange's operations, each held to its budget in
/// bench/gas-budgets.json and written to bench/snapshots/MarketGasTest.json: the scenario of
/// bench/market_gas.py, step for step, including a book of 10,000 asks at 1,000 price levels.
/// @dev Isolation mode: every call is a transaction of its own (see GasBudgets and GasTest).
/// forge-config: default.isolate = true
/// forge-config: bench.isolate = true
contract MarketGasTest is BaseTest {
    uint16 internal constant DEPTH_LEVELS = 1000;
    uint16 internal constant DEPTH_PER_LEVEL = 10;
    /// @dev The CLI's default maximum number of fills of an order.
    uint16 internal constant MAX_FILLS = 32;
    /// @dev 1 THB, in satang.
    uint256 internal constant THB = 100;
    uint40 internal constant DEADLINE = NOW + 600;

    address internal regulator = makeAddr("regulator");
    address internal treasury = makeAddr("treasury");
    /// @dev The benchmark's four wallets, and a fifth verified participant that takes once.
    address internal maker = makeAddr("maker");
    address internal taker2 = makeAddr("taker 2");
    address internal bidder = makeAddr("bidder");
    address internal taker = makeAddr("taker");
    address internal crosser = makeAddr("crosser");

    TestBaht internal baht;
    Exchange internal exchange;
    uint32 internal mkt;

    /// @dev The benchmark's market: one batch of 100,000 credits owned by the maker, 1 THB ticks,
    /// a band of 100-5,000 THB, no minimum; the maker escrows 60,000 t, four others 1,000,000 THB.
    function setUp() public override {
        super.setUp();
        address[] memory wallets = new address[](5);
        (wallets[0], wallets[1], wallets[2], wallets[3], wallets[4]) = (maker, taker2, bidder, taker, crosser);
        _onboard(wallets);
        bytes32 projectKey = _registerProject(maker, "TH-TVER-2025-0001", true);
        ICarbonCredits.IssueParams memory p = _params(projectKey, 1, 100_000, 0);
        p.serialPrefix = "TVER-TH-TVER-2025-0001-2025-MKT";
        uint256 batchId = _issue(p);

        baht = new TestBaht();
        exchange = new Exchange(admin, registry, address(credits), address(baht), treasury, 45);
        vm.startPrank(admin);
        exchange.grantRole(Roles.REGULATOR, regulator);
        credits.setSystemHolder(address(exchange), true);
        vm.stopPrank();
        vm.prank(regulator);
        mkt = exchange.listMarket(batchId, uint32(THB), 100, 5000, 1);

        vm.startPrank(maker);
        credits.setOperator(address(exchange), true);
        exchange.depositCredits(mkt, 60_000);
        vm.stopPrank();
        for (uint256 i = 1; i < wallets.length; ++i) {
            vm.startPrank(wallets[i]);
            baht.faucet(1_000_000 * THB);
            baht.approve(address(exchange), 1_000_000 * THB);
            exchange.depositBaht(1_000_000 * THB);
            vm.stopPrank();
        }
    }

    function test_gas_exchange() public {
        _place(maker, IExchange.Side.Ask, 1000, 50);
        GasBudgets.report("place_ask_new_level");
        _place(maker, IExchange.Side.Ask, 1000, 50);
        GasBudgets.measure("place_ask");
        _place(maker, IExchange.Side.Ask, 1000, 50);
        _place(bidder, IExchange.Side.Bid, 900, 10);
        _place(bidder, IExchange.Side.Bid, 900, 10);
        GasBudgets.measure("place_bid");
        uint256 lastBid = _place(bidder, IExchange.Side.Bid, 900, 10);
        vm.prank(bidder);
        exchange.cancel(lastBid);
        GasBudgets.measure("cancel");

        // The maker has sold before (its baht balance exists); a first-time taker fills exactly
        // one ask and the level keeps two more.
        _place(maker, IExchange.Side.Ask, 999, 1);
        _buy(bidder, 1, 999, 1, 1000);
        _buy(taker, 50, 1000, 1, 50_000);
        uint256 fill1 = GasBudgets.measure("buy_fill_1");

        // 10,000 asks of 1 t at 1,001-2,000 THB. The same trade as above, by another first-time
        // taker: its limit (1,000 THB) is below all of them.
        vm.startPrank(maker);
        for (uint16 level; level < DEPTH_LEVELS; ++level) {
            for (uint256 i; i < DEPTH_PER_LEVEL; ++i) {
                exchange.placeOrder(mkt, IExchange.Side.Ask, 1001 + level, 1, 1, type(uint40).max);
            }
        }
        vm.stopPrank();
        _buy(taker2, 50, 1000, 1, 50_000);
        GasBudgets.checkRelative(
            "buy_fill_1_depth_10000", GasBudgets.report("buy_fill_1_depth_10000"), "buy_fill_1", fill1
        );

        // Clear the 1,000 THB level: the book is the 10,000 asks. A first-time taker whose limit
        // covers all of them fills one at the best level, which keeps nine.
        _buy(taker, 50, 1000, 5, 60_000);
        _buy(crosser, 1, 2000, 1, 5000);
        GasBudgets.checkRelative(
            "buy_fill_1_depth_10000_crossing",
            GasBudgets.report("buy_fill_1_depth_10000_crossing"),
            "buy_fill_1",
            fill1
        );

        // Marginal gas per fill: the taker (position held) fills 1 ask of 1 t, then 10 (8 at
        // 1,001 THB, 2 at 1,002).
        _buy(taker, 1, 1001, 1, 5000);
        uint256 one = GasBudgets.report("buy_fill_1_position_held");
        _buy(taker, 10, 1002, 10, 50_000);
        uint256 ten = GasBudgets.report("buy_fill_10");
        GasBudgets.record("buy_fill_10_marginal", (ten - one) / 9);
    }

    function _place(address who, IExchange.Side side, uint16 tick, uint32 tonnes)
        internal
        returns (uint256 id)
    {
        vm.prank(who);
        (id,) = exchange.placeOrder(mkt, side, tick, tonnes, MAX_FILLS, DEADLINE);
    }

    function _buy(address who, uint32 tonnes, uint16 limitTick, uint16 maxFills, uint256 maxCostThb)
        internal
    {
        IExchange.Leg[] memory legs = new IExchange.Leg[](1);
        legs[0] = IExchange.Leg({market: mkt, quantity: tonnes, limitTick: limitTick, maxFills: maxFills});
        vm.prank(who);
        exchange.buy(legs, maxCostThb * THB, DEADLINE);
    }
}
