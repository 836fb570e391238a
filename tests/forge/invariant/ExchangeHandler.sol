// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CarbonCredits} from "../../../contracts/CarbonCredits.sol";
import {Exchange} from "../../../contracts/Exchange.sol";
import {TestBaht} from "../../../contracts/TestBaht.sol";
import {IExchange} from "../../../contracts/interfaces/IExchange.sol";
import {QuarterLib} from "../../../contracts/libraries/QuarterLib.sol";

import {Test} from "../utils/BaseTest.sol";
import {Vm} from "../utils/Vm.sol";

/// @title ExchangeHandler
/// @notice Drives the exchange with bounded inputs for the invariant suite: verified actors place
/// asks and bids near each other (so they cross), buy and sell across two markets, cancel,
/// reclaim, deposit, withdraw and sweep; the regulator moves bands, the admin fees; time crosses
/// quarters. Every call it makes must succeed (fail_on_revert), except inside the `try*`
/// functions, which check the exact error and count it.
/// The ghost state is built only from the handler's own calls and the exchange's events: every
/// order's life (placed, filled, closed), every actor's internal balances, fees, the band in force.
/// Properties an event can break on the spot (a fill outside the band, of a closed period, at a
/// wrong price or fee) are counted here; the invariants compare the rest with the contracts.
contract ExchangeHandler is Test {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_QTY = 60;
    /// @dev Orders go to the lowest ticks of the band, so books overlap and cross.
    uint256 internal constant TICK_WINDOW = 20;
    uint256 internal constant MAX_FILLS = 12;
    uint256 internal constant MAX_RECLAIM = 8;
    address internal constant KEEPER = address(0xBEEF);

    struct GhostOrder {
        uint256 id;
        address owner;
        uint32 market;
        IExchange.Side side;
        uint16 tick;
        uint16 period;
        uint32 original;
        uint32 filled;
        uint32 closed;
        bool open;
    }

    /// @dev The rules in force, as the handler set them.
    struct Rules {
        uint16 floorTick;
        uint16 ceilingTick;
        uint32 minQuantity;
        uint16 feeBps;
        uint32 tickSize;
    }

    Exchange internal immutable exchange;
    TestBaht internal immutable baht;
    CarbonCredits internal immutable credits;
    address internal immutable admin;
    address internal immutable regulator;
    address public immutable treasury;
    /// @dev The actors stay verified until then: time never passes it.
    uint40 internal immutable timeLimit;

    address[] internal _actors;
    uint32[] internal _markets;
    mapping(uint32 market => uint256) public batchOf;
    mapping(uint32 market => Rules) internal _rules;

    /// @dev The model clock; every entry point re-applies it with vm.warp.
    uint40 public time;

    GhostOrder[] internal _orders;
    mapping(uint256 orderId => uint256) internal _orderIndex; // 1-based

    mapping(address actor => uint256) public ghostBaht;
    mapping(address actor => mapping(uint32 market => uint256)) public ghostCredits;
    mapping(uint32 market => uint256) public ghostFees;
    uint256 public ghostSwept;
    /// @dev Baht minted by the handler's own faucet calls.
    uint256 public ghostMinted;

    // what the events must never show
    uint256 public fillsOutsideBand;
    uint256 public fillsOfClosedPeriods;
    uint256 public fillsAtWrongPrice;
    uint256 public wrongFees;
    uint256 public fillsOfUnknownOrders;
    uint256 public tradeIdMismatches;
    uint256 public badOrderIds;
    uint256 public closeMismatches;
    uint256 public takerMismatches;
    uint256 public sweepMismatches;

    // metrics
    uint256 public trades;
    uint256 public quartersCrossed;
    mapping(bytes32 name => uint256) public calls;
    uint256 public totalCalls;
    uint256 public expectedReverts;

    modifier step(bytes32 name) {
        vm.warp(time);
        ++calls[name];
        ++totalCalls;
        _;
    }

    constructor(
        Exchange exchange_,
        TestBaht baht_,
        CarbonCredits credits_,
        address admin_,
        address regulator_,
        address[] memory actors_,
        uint32[] memory markets_,
        uint40 timeLimit_
    ) {
        exchange = exchange_;
        baht = baht_;
        credits = credits_;
        admin = admin_;
        regulator = regulator_;
        treasury = exchange_.treasury();
        timeLimit = timeLimit_;
        time = uint40(block.timestamp);
        _actors = actors_;
        _markets = markets_;
        // The starting state: listed markets, deposits, no order.
        for (uint256 i; i < markets_.length; ++i) {
            uint32 m = markets_[i];
            IExchange.Market memory mk = exchange_.market(m);
            _rules[m] = Rules(mk.floorTick, mk.ceilingTick, mk.minQuantity, mk.feeBps, mk.tickSize);
            batchOf[m] = exchange_.marketBatch(m);
            require(mk.feesAccrued == 0, "handler: fees already accrued");
            for (uint256 j; j < actors_.length; ++j) {
                ghostCredits[actors_[j]][m] = exchange_.creditBalance(actors_[j], m);
            }
        }
        for (uint256 j; j < actors_.length; ++j) {
            ghostBaht[actors_[j]] = exchange_.bahtBalance(actors_[j]);
        }
    }

    /// @dev A starting book for every run (called from setUp): each actor bids and asks in each
    /// market, asks above bids.
    function bootstrap() external {
        for (uint256 i; i < _actors.length; ++i) {
            for (uint256 k; k < _markets.length; ++k) {
                uint32 m = _markets[k];
                uint16 floorTick = _rules[m].floorTick;
                _place(_actors[i], m, IExchange.Side.Bid, uint16(floorTick + i), 20, 0);
                _place(_actors[i], m, IExchange.Side.Ask, uint16(floorTick + 10 + i), 20, 0);
            }
        }
    }

    // ------------------------------------------------------------------ trading

    function placeAsk(
        uint256 actorSeed,
        uint256 marketSeed,
        uint256 tickSeed,
        uint256 qtySeed,
        uint256 fillsSeed
    ) public step("placeAsk") {
        address a = _actor(actorSeed);
        uint32 m = _market(marketSeed);
        uint256 held = ghostCredits[a][m];
        if (held == 0) return;
        uint16 tick = _tick(m, tickSeed);
        uint32 qty = uint32(bound(qtySeed, 1, _min(held, MAX_QTY)));
        _place(a, m, IExchange.Side.Ask, tick, qty, uint16(bound(fillsSeed, 0, MAX_FILLS)));
    }

    function placeBid(
        uint256 actorSeed,
        uint256 marketSeed,
        uint256 tickSeed,
        uint256 qtySeed,
        uint256 fillsSeed
    ) public step("placeBid") {
        address a = _actor(actorSeed);
        uint32 m = _market(marketSeed);
        uint16 tick = _tick(m, tickSeed);
        // The fills cost at most the limit price, so a balance covering qty at the limit suffices.
        uint256 affordable = ghostBaht[a] / (uint256(tick) * _rules[m].tickSize);
        if (affordable == 0) return;
        uint32 qty = uint32(bound(qtySeed, 1, _min(affordable, MAX_QTY)));
        _place(a, m, IExchange.Side.Bid, tick, qty, uint16(bound(fillsSeed, 0, MAX_FILLS)));
    }

    function _place(address a, uint32 m, IExchange.Side side, uint16 tick, uint32 qty, uint16 maxFills)
        internal
    {
        vm.recordLogs();
        vm.prank(a);
        (uint256 id, uint32 filled) = exchange.placeOrder(m, side, tick, qty, maxFills, time);
        (uint256 traded,,) = _absorb(a);
        vm.assertEq(traded, filled, "placeOrder: filled != traded events");
        vm.assertLe(filled, qty);
        if (id == 0) {
            vm.assertLt(qty - filled, _rules[m].minQuantity, "a remainder >= minimum did not rest");
        } else {
            GhostOrder storage o = _orders[_orderIndex[id] - 1];
            vm.assertEq(o.original, qty - filled, "rested != quantity - filled");
            if (o.market != m || o.side != side || o.tick != tick || o.owner != a) ++badOrderIds;
        }
    }

    /// @dev One leg, or one per market; cost is capped at what the limits allow, which the
    /// buyer's balance covers.
    function buy(uint256 actorSeed, uint256 qtySeed, uint256 limitSeed, uint256 fillsSeed, bool bothMarkets)
        public
        step("buy")
    {
        address a = _actor(actorSeed);
        IExchange.Leg[] memory legs = new IExchange.Leg[](bothMarkets ? 2 : 1);
        uint256 maxCost;
        for (uint256 i; i < legs.length; ++i) {
            uint256 unit;
            (legs[i], unit) = _buyLeg(
                bothMarkets ? _markets[i] : _market(qtySeed >> 128), qtySeed, limitSeed, fillsSeed, i
            );
            uint256 qty = _min(legs[i].quantity, (ghostBaht[a] - maxCost) / unit / (legs.length - i));
            if (qty == 0) return;
            legs[i].quantity = uint32(qty);
            maxCost += qty * unit;
        }
        vm.recordLogs();
        vm.prank(a);
        (uint256 bought, uint256 cost) = exchange.buy(legs, maxCost, time);
        (uint256 traded, uint256 value,) = _absorb(a);
        vm.assertEq(bought, traded, "buy: bought != traded events");
        vm.assertEq(cost, value, "buy: cost != value of the fills");
    }

    /// @dev A buy leg and the most a tonne of it can cost (at its limit, or the ceiling).
    function _buyLeg(uint32 m, uint256 qtySeed, uint256 limitSeed, uint256 fillsSeed, uint256 i)
        internal
        view
        returns (IExchange.Leg memory leg, uint256 unit)
    {
        Rules memory r = _rules[m];
        uint256 limit =
            bound(uint256(keccak256(abi.encode(limitSeed, i))), r.floorTick, r.floorTick + TICK_WINDOW + 5);
        unit = _min(limit, r.ceilingTick) * r.tickSize;
        leg = IExchange.Leg({
            market: m,
            quantity: uint32(bound(uint256(keccak256(abi.encode(qtySeed, i))), 1, MAX_QTY * 3)),
            limitTick: uint16(limit),
            maxFills: uint16(bound(fillsSeed >> (16 * i), 0, MAX_FILLS))
        });
    }

    /// @dev One leg, or one per market; never more than the seller holds in each.
    function sell(uint256 actorSeed, uint256 qtySeed, uint256 limitSeed, uint256 fillsSeed, bool bothMarkets)
        public
        step("sell")
    {
        address a = _actor(actorSeed);
        IExchange.Leg[] memory legs = new IExchange.Leg[](bothMarkets ? 2 : 1);
        for (uint256 i; i < legs.length; ++i) {
            uint32 m = bothMarkets ? _markets[i] : _market(qtySeed >> 128);
            uint256 held = ghostCredits[a][m];
            if (held == 0) return;
            legs[i] = _sellLeg(m, held, qtySeed, limitSeed, fillsSeed, i);
        }
        vm.recordLogs();
        vm.prank(a);
        (uint256 sold, uint256 proceeds) = exchange.sell(legs, 0, time);
        (uint256 traded, uint256 value, uint256 fees) = _absorb(a);
        vm.assertEq(sold, traded, "sell: sold != traded events");
        vm.assertEq(proceeds, value - fees, "sell: proceeds != value - fees");
    }

    /// @dev Limits from a little below the floor (any bid) to the top of the window.
    function _sellLeg(
        uint32 m,
        uint256 held,
        uint256 qtySeed,
        uint256 limitSeed,
        uint256 fillsSeed,
        uint256 i
    ) internal view returns (IExchange.Leg memory) {
        Rules memory r = _rules[m];
        return IExchange.Leg({
            market: m,
            quantity: uint32(bound(uint256(keccak256(abi.encode(qtySeed, i))), 1, _min(held, MAX_QTY * 3))),
            limitTick: uint16(
                bound(
                    uint256(keccak256(abi.encode(limitSeed, i))), r.floorTick - 5, r.floorTick + TICK_WINDOW
                )
            ),
            maxFills: uint16(bound(fillsSeed >> (16 * i), 0, MAX_FILLS))
        });
    }

    /// @dev The owner cancels one open order, of any period.
    function cancel(uint256 seed) public step("cancel") {
        uint256 n = _orders.length;
        for (uint256 k; k < n; ++k) {
            GhostOrder storage o = _orders[(seed % n + k) % n];
            if (!o.open) continue;
            vm.recordLogs();
            vm.prank(o.owner);
            exchange.cancel(o.id);
            _absorb(address(0));
            return;
        }
    }

    /// @dev A keeper reclaims orders of closed periods, open or already closed ones (a no-op);
    /// with none to reclaim, it checks that an open-period order cannot be reclaimed.
    function reclaim(uint256 seed, uint256 countSeed) public step("reclaim") {
        uint256 n = _orders.length;
        if (n == 0) return;
        uint16 period = _period();
        uint256[] memory ids = new uint256[](bound(countSeed, 1, MAX_RECLAIM));
        uint256 found;
        uint256 openNow;
        for (uint256 k; k < n && found < ids.length; ++k) {
            GhostOrder storage o = _orders[(seed % n + k) % n];
            if (o.period < period) ids[found++] = o.id;
            else if (o.open && openNow == 0) openNow = o.id;
        }
        if (found == 0) {
            if (openNow == 0) return;
            ids = new uint256[](1);
            ids[0] = openNow;
            vm.prank(KEEPER);
            try exchange.reclaim(ids) {
                revert("reclaimed an order of the open period");
            } catch (bytes memory err) {
                _assertError(err, abi.encodeWithSelector(IExchange.ExchangePeriodOpen.selector, openNow));
            }
            return;
        }
        assembly ("memory-safe") {
            mstore(ids, found)
        }
        vm.recordLogs();
        vm.prank(KEEPER);
        exchange.reclaim(ids);
        _absorb(address(0));
    }

    // ------------------------------------------------------------------ balances

    function depositBaht(uint256 actorSeed, uint256 amount) public step("depositBaht") {
        address a = _actor(actorSeed);
        amount = bound(amount, 1, 5_000_000);
        vm.prank(a);
        baht.faucet(amount);
        ghostMinted += amount;
        vm.prank(a);
        exchange.depositBaht(amount);
        ghostBaht[a] += amount;
    }

    function withdrawBaht(uint256 actorSeed, uint256 amount) public step("withdrawBaht") {
        address a = _actor(actorSeed);
        uint256 available = ghostBaht[a];
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(a);
        exchange.withdrawBaht(amount);
        ghostBaht[a] -= amount;
    }

    function depositCredits(uint256 actorSeed, uint256 marketSeed, uint256 amount)
        public
        step("depositCredits")
    {
        address a = _actor(actorSeed);
        uint32 m = _market(marketSeed);
        uint256 wallet = credits.balanceOf(a, batchOf[m]);
        if (wallet == 0) return;
        amount = bound(amount, 1, _min(wallet, 500));
        vm.prank(a);
        exchange.depositCredits(m, amount);
        ghostCredits[a][m] += amount;
    }

    function withdrawCredits(uint256 actorSeed, uint256 marketSeed, uint256 amount)
        public
        step("withdrawCredits")
    {
        address a = _actor(actorSeed);
        uint32 m = _market(marketSeed);
        uint256 available = ghostCredits[a][m];
        if (available == 0) return;
        amount = bound(amount, 1, _min(available, 500));
        vm.prank(a);
        exchange.withdrawCredits(m, amount);
        ghostCredits[a][m] -= amount;
    }

    function sweepFees() public step("sweepFees") {
        uint256 expected;
        for (uint256 i; i < _markets.length; ++i) {
            expected += ghostFees[_markets[i]];
            ghostFees[_markets[i]] = 0;
        }
        uint256 before = baht.balanceOf(treasury);
        vm.prank(KEEPER);
        exchange.sweepFees(_markets);
        if (baht.balanceOf(treasury) - before != expected) ++sweepMismatches;
        ghostSwept += expected;
    }

    // ------------------------------------------------------------------ rules and time

    /// @dev The regulator moves a band (R3) and the minimum size; the window of order ticks moves
    /// with it, and resting orders may end up outside.
    function setRules(uint256 marketSeed, uint256 floorSeed, uint256 widthSeed, uint256 minSeed)
        public
        step("setRules")
    {
        uint32 m = _market(marketSeed);
        uint16 floorTick = uint16(bound(floorSeed, 95, 115));
        uint16 ceilingTick = uint16(floorTick + bound(widthSeed, 0, 40));
        uint32 minQuantity = uint32(bound(minSeed, 1, 15));
        vm.prank(regulator);
        exchange.setMarketRules(m, floorTick, ceilingTick, minQuantity);
        Rules storage r = _rules[m];
        (r.floorTick, r.ceilingTick, r.minQuantity) = (floorTick, ceilingTick, minQuantity);
    }

    function setFee(uint256 marketSeed, uint256 feeSeed) public step("setFee") {
        uint32 m = _market(marketSeed);
        uint16 feeBps = uint16(bound(feeSeed, 0, 100));
        vm.prank(admin);
        exchange.setMarketFee(m, feeBps);
        _rules[m].feeBps = feeBps;
    }

    /// @dev Up to 40 days at a time: a run crosses one or more TGO quarters.
    function warp(uint256 seconds_) public step("warp") {
        uint256 dt = bound(seconds_, 1 hours, 40 days);
        if (time + dt > timeLimit) return;
        uint16 before = _period();
        time += uint40(dt);
        vm.warp(time);
        if (_period() != before) ++quartersCrossed;
    }

    // ------------------------------------------------------------------ expected reverts

    /// @dev Outside the band, or a limit order too large for the balance.
    function tryBadOrder(uint256 actorSeed, uint256 marketSeed, bool above) public step("tryBadOrder") {
        address a = _actor(actorSeed);
        uint32 m = _market(marketSeed);
        Rules memory r = _rules[m];
        uint16 tick = above ? r.ceilingTick + 1 : r.floorTick - 1;
        vm.prank(a);
        try exchange.placeOrder(m, IExchange.Side.Bid, tick, 10, 0, time) {
            revert("order outside the band accepted");
        } catch (bytes memory err) {
            _assertError(
                err,
                abi.encodeWithSelector(
                    IExchange.ExchangePriceOutsideBand.selector, tick, r.floorTick, r.ceilingTick
                )
            );
        }
    }

    /// @dev Someone else's order cannot be cancelled.
    function tryCancelOthers(uint256 seed, uint256 actorSeed) public step("tryCancelOthers") {
        uint256 n = _orders.length;
        for (uint256 k; k < n; ++k) {
            GhostOrder storage o = _orders[(seed % n + k) % n];
            if (!o.open) continue;
            address other = _actor(actorSeed);
            if (other == o.owner) other = _actor(actorSeed % _actors.length + 1);
            vm.prank(other);
            try exchange.cancel(o.id) {
                revert("cancelled someone else's order");
            } catch (bytes memory err) {
                _assertError(
                    err, abi.encodeWithSelector(IExchange.ExchangeNotOrderOwner.selector, o.id, other)
                );
            }
            return;
        }
    }

    // ------------------------------------------------------------------ events into the model

    /// @dev Folds the recorded events of one call into the ghost state. Returns the tonnes, value
    /// and fees of its trades. `taker` (if not zero) must be the taker of every trade.
    function _absorb(address taker) internal returns (uint256 traded, uint256 value, uint256 fees) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(exchange)) continue;
            bytes32 sig = logs[i].topics[0];
            if (sig == IExchange.Traded.selector) {
                (uint256 q, uint256 v, uint256 f) = _onTrade(logs[i], taker);
                traded += q;
                value += v;
                fees += f;
            } else if (sig == IExchange.OrderPlaced.selector) {
                _onPlaced(logs[i]);
            } else if (sig == IExchange.OrderClosed.selector) {
                _onClosed(logs[i]);
            }
        }
    }

    function _onTrade(Vm.Log memory log, address expectedTaker)
        internal
        returns (uint256 q, uint256 v, uint256 f)
    {
        ++trades;
        uint256 tradeId = uint256(log.topics[1]);
        uint32 m = uint32(uint256(log.topics[2]));
        address maker = address(uint160(uint256(log.topics[3])));
        (address taker, IExchange.Side takerSide, uint64 price, uint32 quantity, uint128 fee) =
            abi.decode(log.data, (address, IExchange.Side, uint64, uint32, uint128));
        (q, v, f) = (quantity, uint256(price) * quantity, fee);
        if (expectedTaker != address(0) && taker != expectedTaker) ++takerMismatches;

        Rules memory r = _rules[m];
        if (price % r.tickSize != 0 || price / r.tickSize < r.floorTick || price / r.tickSize > r.ceilingTick)
        {
            ++fillsOutsideBand;
        }
        if (f != v * r.feeBps / BPS) ++wrongFees;

        uint256 k = _orderIndex[tradeId >> 32];
        if (k == 0) {
            ++fillsOfUnknownOrders;
            return (q, v, f);
        }
        GhostOrder storage o = _orders[k - 1];
        if (!o.open || o.owner != maker || o.market != m || o.side == takerSide) ++fillsOfUnknownOrders;
        if (o.period != _period()) ++fillsOfClosedPeriods;
        if (price != uint256(o.tick) * r.tickSize) ++fillsAtWrongPrice;
        o.filled += quantity;
        if (uint32(tradeId) != o.original - o.filled) ++tradeIdMismatches;
        if (o.filled == o.original) o.open = false;

        // The maker's escrow left its balance when the order was placed.
        if (takerSide == IExchange.Side.Bid) {
            ghostBaht[maker] += v - f;
            ghostCredits[taker][m] += q;
            ghostBaht[taker] -= v;
        } else {
            ghostCredits[maker][m] += q;
            ghostCredits[taker][m] -= q;
            ghostBaht[taker] += v - f;
        }
        ghostFees[m] += f;
    }

    function _onPlaced(Vm.Log memory log) internal {
        uint256 id = uint256(log.topics[1]);
        uint32 m = uint32(uint256(log.topics[2]));
        address owner = address(uint160(uint256(log.topics[3])));
        uint32 quantity = abi.decode(log.data, (uint32));
        if (_orderIndex[id] != 0 || uint32(id >> 72) != m || uint16(id >> 56) != _period() || id >> 104 != 0)
        {
            ++badOrderIds;
        }
        GhostOrder memory o = GhostOrder({
            id: id,
            owner: owner,
            market: m,
            side: IExchange.Side(uint8(id >> 48)),
            tick: uint16(id >> 32),
            period: uint16(id >> 56),
            original: quantity,
            filled: 0,
            closed: 0,
            open: true
        });
        _orders.push(o);
        _orderIndex[id] = _orders.length;
        if (o.side == IExchange.Side.Ask) ghostCredits[owner][m] -= quantity;
        else ghostBaht[owner] -= _escrow(o, quantity);
    }

    function _onClosed(Vm.Log memory log) internal {
        uint256 id = uint256(log.topics[1]);
        address owner = address(uint160(uint256(log.topics[2])));
        (uint32 quantity,) = abi.decode(log.data, (uint32, bool));
        uint256 k = _orderIndex[id];
        if (k == 0) {
            ++closeMismatches;
            return;
        }
        GhostOrder storage o = _orders[k - 1];
        if (!o.open || o.owner != owner || quantity != o.original - o.filled) ++closeMismatches;
        o.closed += quantity;
        o.open = false;
        if (o.side == IExchange.Side.Ask) ghostCredits[owner][o.market] += quantity;
        else ghostBaht[owner] += _escrow(o, quantity);
    }

    // ------------------------------------------------------------------ helpers and views

    function _escrow(GhostOrder memory o, uint256 quantity) internal view returns (uint256) {
        return quantity * o.tick * _rules[o.market].tickSize;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return _actors[seed % _actors.length];
    }

    function _market(uint256 seed) internal view returns (uint32) {
        return _markets[seed % _markets.length];
    }

    function _tick(uint32 m, uint256 seed) internal view returns (uint16) {
        Rules memory r = _rules[m];
        return uint16(bound(seed, r.floorTick, _min(r.ceilingTick, r.floorTick + TICK_WINDOW)));
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _period() internal view returns (uint16) {
        (uint16 year, uint8 quarter) = QuarterLib.yearQuarter(time);
        return year * 4 + quarter - 1;
    }

    function _assertError(bytes memory err, bytes memory expected) internal {
        vm.assertEq(err, expected, "unexpected revert data");
        ++expectedReverts;
    }

    function currentPeriod() external view returns (uint16) {
        return _period();
    }

    function actors() external view returns (address[] memory) {
        return _actors;
    }

    function markets() external view returns (uint32[] memory) {
        return _markets;
    }

    function rules(uint32 m) external view returns (Rules memory) {
        return _rules[m];
    }

    function orderCount() external view returns (uint256) {
        return _orders.length;
    }

    function orders() external view returns (GhostOrder[] memory) {
        return _orders;
    }
}
