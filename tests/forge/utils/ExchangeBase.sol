// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Exchange} from "../../../contracts/Exchange.sol";
import {TestBaht} from "../../../contracts/TestBaht.sol";
import {IExchange} from "../../../contracts/interfaces/IExchange.sol";
import {Roles} from "../../../contracts/libraries/Roles.sol";

import {SystemTest} from "./BaseTest.sol";

/// @title ExchangeBase
/// @notice SystemTest plus a live exchange: TestBaht, the Exchange (0.45% fee), a regulator, two
/// markets on batches of P-ADD, and four verified traders (alice, bob, carol, frank) with baht and
/// credits deposited and the exchange as their ERC-6909 operator. No order rests yet.
abstract contract ExchangeBase is SystemTest {
    /// @dev 1 THB (100 satang) per tick; the band is 1..50 THB at setUp.
    uint32 internal constant TICK_SIZE = 100;
    uint16 internal constant FLOOR = 100;
    uint16 internal constant CEILING = 5000;
    uint32 internal constant MIN_QTY = 10;
    uint16 internal constant FEE_BPS = 45;
    uint16 internal constant MAX_FILLS = 256;
    uint16 internal constant BPS = 10_000;
    /// @dev 2026-07-01T00:00:00+07:00, the first second of Q3 2026 in Thai time.
    uint40 internal constant Q3_START = 1_782_838_800;
    /// @dev Periods are year * 4 + quarter - 1.
    uint16 internal constant Q2_2026 = 2026 * 4 + 1;
    uint16 internal constant Q3_2026 = 2026 * 4 + 2;

    /// @dev Batch A (market 1): serials 1..1,000,000; batch B (market 2): 1,000,001..1,100,000.
    uint48 internal constant SUPPLY_A = 1_000_000;
    uint48 internal constant SUPPLY_B = 100_000;
    /// @dev Every trader's wallet gets these from alice (alice keeps the rest of each batch).
    uint256 internal constant WALLET_A = 200_000;
    uint256 internal constant WALLET_B = 20_000;
    /// @dev Deposited into the exchange by every trader at setUp.
    uint256 internal constant DEPOSIT_A = 100_000;
    uint256 internal constant DEPOSIT_B = 10_000;
    /// @dev Every trader mints 4,000,000 THB and deposits 3,000,000 THB.
    uint256 internal constant MINT_BAHT = 400_000_000;
    uint256 internal constant DEPOSIT_BAHT = 300_000_000;

    IExchange.Side internal constant ASK = IExchange.Side.Ask;
    IExchange.Side internal constant BID = IExchange.Side.Bid;

    address internal constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    address internal regulator = makeAddr("regulator");
    address internal treasury = makeAddr("treasury");
    /// @dev A fourth verified participant.
    address internal frank = makeAddr("frank");

    TestBaht internal baht;
    Exchange internal exchange;
    uint256 internal batchA;
    uint256 internal batchB;
    uint32 internal mkt;
    uint32 internal mkt2;
    address[] internal traders;

    function setUp() public virtual override {
        super.setUp();
        // frank joins alice, bob and carol in a new participant tree (everyone re-proves).
        address[] memory wallets = new address[](4);
        (wallets[0], wallets[1], wallets[2], wallets[3]) = (alice, bob, carol, frank);
        _onboard(wallets);
        traders = wallets;

        baht = new TestBaht();
        exchange = new Exchange(admin, registry, address(credits), address(baht), treasury, FEE_BPS);
        vm.label(address(baht), "TestBaht");
        vm.label(address(exchange), "Exchange");
        vm.startPrank(admin);
        exchange.grantRole(Roles.REGULATOR, regulator);
        credits.setSystemHolder(address(exchange), true);
        vm.stopPrank();

        batchA = _issue(pAdd, 1, SUPPLY_A, 0);
        batchB = _issue(pAdd, SUPPLY_A + 1, SUPPLY_A + SUPPLY_B, 1);
        vm.startPrank(regulator);
        mkt = exchange.listMarket(batchA, TICK_SIZE, FLOOR, CEILING, MIN_QTY);
        mkt2 = exchange.listMarket(batchB, TICK_SIZE, FLOOR, CEILING, MIN_QTY);
        vm.stopPrank();

        for (uint256 i; i < traders.length; ++i) {
            address t = traders[i];
            if (t != alice) {
                vm.startPrank(alice);
                credits.transfer(t, batchA, WALLET_A);
                credits.transfer(t, batchB, WALLET_B);
                vm.stopPrank();
            }
            _mintBaht(t, MINT_BAHT);
            vm.startPrank(t);
            baht.approve(address(exchange), type(uint256).max);
            credits.setOperator(address(exchange), true);
            exchange.depositBaht(DEPOSIT_BAHT);
            exchange.depositCredits(mkt, DEPOSIT_A);
            exchange.depositCredits(mkt2, DEPOSIT_B);
            vm.stopPrank();
        }
    }

    // --- balances ---

    /// @dev Mints `amount` satang to `who` through the faucet (at most 1,000,000 THB a call).
    function _mintBaht(address who, uint256 amount) internal {
        uint256 limit = baht.FAUCET_LIMIT();
        vm.startPrank(who);
        while (amount != 0) {
            uint256 chunk = amount < limit ? amount : limit;
            baht.faucet(chunk);
            amount -= chunk;
        }
        vm.stopPrank();
    }

    function _depositBaht(address who, uint256 amount) internal {
        _mintBaht(who, amount);
        vm.startPrank(who);
        baht.approve(address(exchange), type(uint256).max);
        exchange.depositBaht(amount);
        vm.stopPrank();
    }

    function _depositCredits(address who, uint32 market_, uint256 amount) internal {
        vm.prank(who);
        exchange.depositCredits(market_, amount);
    }

    // --- orders ---

    function _place(
        address who,
        uint32 market_,
        IExchange.Side side,
        uint16 tick,
        uint32 quantity,
        uint16 maxFills
    ) internal returns (uint256 orderId, uint32 filled) {
        uint40 deadline = uint40(block.timestamp);
        vm.prank(who);
        (orderId, filled) = exchange.placeOrder(market_, side, tick, quantity, maxFills, deadline);
    }

    /// @dev A resting ask in market 1 (nothing to cross, or fills first: maxFills 256).
    function _ask(address who, uint16 tick, uint32 quantity) internal returns (uint256 orderId) {
        (orderId,) = _place(who, mkt, IExchange.Side.Ask, tick, quantity, MAX_FILLS);
    }

    function _bid(address who, uint16 tick, uint32 quantity) internal returns (uint256 orderId) {
        (orderId,) = _place(who, mkt, IExchange.Side.Bid, tick, quantity, MAX_FILLS);
    }

    function _leg(uint32 market_, uint32 quantity, uint16 limitTick, uint16 maxFills)
        internal
        pure
        returns (IExchange.Leg memory)
    {
        return IExchange.Leg({market: market_, quantity: quantity, limitTick: limitTick, maxFills: maxFills});
    }

    function _legs(IExchange.Leg memory a) internal pure returns (IExchange.Leg[] memory legs) {
        legs = new IExchange.Leg[](1);
        legs[0] = a;
    }

    function _legs(IExchange.Leg memory a, IExchange.Leg memory b)
        internal
        pure
        returns (IExchange.Leg[] memory legs)
    {
        legs = new IExchange.Leg[](2);
        (legs[0], legs[1]) = (a, b);
    }

    /// @dev A market buy in one market with no cost limit.
    function _buy(address who, uint32 market_, uint32 quantity, uint16 limitTick, uint16 maxFills)
        internal
        returns (uint256 bought, uint256 cost)
    {
        IExchange.Leg[] memory legs = _legs(_leg(market_, quantity, limitTick, maxFills));
        uint40 deadline = uint40(block.timestamp);
        vm.prank(who);
        (bought, cost) = exchange.buy(legs, type(uint256).max, deadline);
    }

    /// @dev A market sell in one market with no proceeds limit.
    function _sell(address who, uint32 market_, uint32 quantity, uint16 limitTick, uint16 maxFills)
        internal
        returns (uint256 sold, uint256 proceeds)
    {
        IExchange.Leg[] memory legs = _legs(_leg(market_, quantity, limitTick, maxFills));
        uint40 deadline = uint40(block.timestamp);
        vm.prank(who);
        (sold, proceeds) = exchange.sell(legs, 0, deadline);
    }

    function _cancel(address who, uint256 orderId) internal {
        vm.prank(who);
        exchange.cancel(orderId);
    }

    // --- arithmetic of the model ---

    /// @dev The id of an order in the current period, computed without the contract.
    function _orderId(uint32 market_, IExchange.Side side, uint16 tick, uint32 seq)
        internal
        view
        returns (uint256)
    {
        return _orderIdIn(market_, _periodAt(block.timestamp), side, tick, seq);
    }

    function _orderIdIn(uint32 market_, uint16 period, IExchange.Side side, uint16 tick, uint32 seq)
        internal
        pure
        returns (uint256)
    {
        return uint256(market_) << 72 | uint256(period) << 56 | uint256(uint8(side)) << 48 | uint256(tick)
            << 32 | seq;
    }

    /// @dev The TGO quarter of `ts` in Thai time as year * 4 + quarter - 1, by plain calendar
    /// arithmetic (an independent check of QuarterLib for the years the tests use).
    function _periodAt(uint256 ts) internal pure returns (uint16) {
        uint256 local = ts + 7 hours;
        // 2026-01-01T00:00:00Z and the starts of its quarters, then 2027.
        uint256[9] memory starts = [
            uint256(1_767_225_600),
            1_775_001_600,
            1_782_864_000,
            1_790_812_800,
            1_798_761_600,
            1_806_537_600,
            1_814_400_000,
            1_822_348_800,
            1_830_297_600
        ];
        require(local >= starts[0] && local < starts[8], "ExchangeBase: period outside 2026-2027");
        uint256 q;
        while (local >= starts[q + 1]) ++q;
        return uint16(2026 * 4 + q);
    }

    function _tradeId(uint256 makerOrderId, uint32 makerRemaining) internal pure returns (uint256) {
        return makerOrderId << 32 | makerRemaining;
    }

    function _price(uint16 tick) internal pure returns (uint64) {
        return uint64(tick) * TICK_SIZE;
    }

    function _value(uint16 tick, uint256 quantity) internal pure returns (uint256) {
        return uint256(tick) * TICK_SIZE * quantity;
    }

    function _fee(uint256 value) internal pure returns (uint256) {
        return value * FEE_BPS / BPS;
    }

    // --- participants ---

    /// @dev Publishes a participant tree without `who` and re-verifies everyone else.
    function _revoke(address who) internal {
        address[] memory rest = new address[](traders.length - 1);
        uint256 n;
        for (uint256 i; i < traders.length; ++i) {
            if (traders[i] != who) rest[n++] = traders[i];
        }
        _publishParticipants(rest);
        for (uint256 i; i < rest.length; ++i) {
            _verify(rest[i]);
        }
    }

    // --- output ---

    /// @dev console.log(string, uint256): forge prints it with -vv.
    function _log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}
