// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeTransferLib} from "solady/utils/SafeTransferLib.sol";

import {ICarbonCredits} from "./interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {IExchange} from "./interfaces/IExchange.sol";
import {QuarterLib} from "./libraries/QuarterLib.sol";
import {Roles} from "./libraries/Roles.sol";
import {TickBitmap} from "./libraries/TickBitmap.sol";

/// @dev The ERC-6909 calls the exchange makes on CarbonCredits.
interface ICreditsToken {
    function transfer(address receiver, uint256 id, uint256 amount) external returns (bool);
    function transferFrom(address sender, address receiver, uint256 id, uint256 amount) external returns (bool);
    function batch(uint256 batchId) external view returns (ICarbonCredits.Batch memory);
}

/// @title Exchange
/// @notice The CarboniX order book (see IExchange for the model).
contract Exchange is IExchange, AccessControl {
    using TickBitmap for TickBitmap.Bitmap;

    bytes32 public constant REGULATOR_ROLE = Roles.REGULATOR;

    uint16 private constant MAX_FEE_BPS = 100;
    uint16 private constant BPS = 10_000;
    uint256 private constant MAX_FILLS = 256;
    uint256 private constant MAX_RECLAIM = 256;

    ICarbonRegistry private immutable _registry;
    ICreditsToken private immutable _credits;
    address private immutable _baht;

    address public treasury;
    uint16 public defaultFeeBps;
    uint32 private _marketCount;

    mapping(uint32 market => Market) private _markets;
    mapping(uint32 market => uint256 batchId) private _marketBatch;
    mapping(uint256 batchId => uint32 market) private _marketOf;
    /// @dev bookId = market << 24 | period << 8 | side.
    mapping(uint256 bookId => TickBitmap.Bitmap) private _books;
    /// @dev queueId = bookId << 16 | tick = orderId >> 32.
    mapping(uint256 queueId => Level) private _levels;
    mapping(uint256 orderId => Order) private _orders;
    mapping(address trader => uint256 satang) private _bahtOf;
    mapping(address trader => mapping(uint32 market => uint256 tonnes)) private _creditsOf;

    /// @dev A taker's progress through one book.
    struct Taker {
        uint32 market;
        Side side;
        uint16 feeBps;
        uint32 tickSize;
        uint256 quantity;
        uint256 fillsLeft;
    }

    /// @dev What one taker pass over a book did.
    struct Fill {
        uint256 quantity;
        uint256 value;
        uint256 fees;
    }

    constructor(
        address admin,
        ICarbonRegistry registry_,
        address credits_,
        address baht_,
        address treasury_,
        uint16 feeBps
    ) {
        if (credits_ == address(0) || baht_ == address(0) || treasury_ == address(0)) revert ExchangeZeroAddress();
        if (feeBps > MAX_FEE_BPS) revert ExchangeFeeTooHigh(feeBps);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
        _credits = ICreditsToken(credits_);
        _baht = baht_;
        treasury = treasury_;
        defaultFeeBps = feeBps;
    }

    // ------------------------------------------------------------------ regulator and admin

    /// @inheritdoc IExchange
    function listMarket(uint256 batchId, uint32 tickSize, uint16 floorTick, uint16 ceilingTick, uint32 minQuantity)
        external
        onlyRole(REGULATOR_ROLE)
        returns (uint32 market_)
    {
        if (_marketOf[batchId] != 0) revert ExchangeMarketExists(batchId);
        if (_credits.batch(batchId).serialStart == 0) revert ExchangeUnknownBatch(batchId);
        if (tickSize == 0 || minQuantity == 0) revert ExchangeInvalidMarket();
        _checkBand(floorTick, ceilingTick);
        market_ = ++_marketCount;
        uint16 feeBps = defaultFeeBps;
        _markets[market_] = Market({
            tickSize: tickSize,
            floorTick: floorTick,
            ceilingTick: ceilingTick,
            minQuantity: minQuantity,
            feeBps: feeBps,
            listed: true,
            feesAccrued: 0
        });
        _marketBatch[market_] = batchId;
        _marketOf[batchId] = market_;
        emit MarketListed(market_, batchId, tickSize, floorTick, ceilingTick, minQuantity, feeBps);
    }

    /// @inheritdoc IExchange
    function setMarketRules(uint32 market_, uint16 floorTick, uint16 ceilingTick, uint32 minQuantity)
        external
        onlyRole(REGULATOR_ROLE)
    {
        Market storage m = _listed(market_);
        _checkBand(floorTick, ceilingTick);
        if (minQuantity == 0) revert ExchangeInvalidMarket();
        (m.floorTick, m.ceilingTick, m.minQuantity) = (floorTick, ceilingTick, minQuantity);
        emit MarketRulesSet(market_, floorTick, ceilingTick, minQuantity);
    }

    /// @inheritdoc IExchange
    function setMarketFee(uint32 market_, uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps > MAX_FEE_BPS) revert ExchangeFeeTooHigh(feeBps);
        _listed(market_).feeBps = feeBps;
        emit MarketFeeSet(market_, feeBps);
    }

    /// @inheritdoc IExchange
    function setDefaultFee(uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps > MAX_FEE_BPS) revert ExchangeFeeTooHigh(feeBps);
        defaultFeeBps = feeBps;
        emit DefaultFeeSet(feeBps);
    }

    /// @inheritdoc IExchange
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ExchangeZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc IExchange
    function sweepFees(uint32[] calldata markets) external {
        address to = treasury;
        for (uint256 i; i < markets.length; ++i) {
            Market storage m = _listed(markets[i]);
            uint256 amount = m.feesAccrued;
            if (amount == 0) continue;
            m.feesAccrued = 0;
            emit FeesSwept(markets[i], to, amount);
            SafeTransferLib.safeTransfer(_baht, to, amount);
        }
    }

    // ------------------------------------------------------------------ balances

    /// @inheritdoc IExchange
    function depositBaht(uint256 amount) external {
        if (amount == 0) revert ExchangeZeroAmount();
        _requireVerified(msg.sender);
        _bahtOf[msg.sender] += amount;
        emit BahtDeposited(msg.sender, amount);
        SafeTransferLib.safeTransferFrom(_baht, msg.sender, address(this), amount);
    }

    /// @inheritdoc IExchange
    function withdrawBaht(uint256 amount) external {
        if (amount == 0) revert ExchangeZeroAmount();
        uint256 available = _bahtOf[msg.sender];
        if (available < amount) revert ExchangeInsufficientBalance(available, amount);
        unchecked {
            _bahtOf[msg.sender] = available - amount;
        }
        emit BahtWithdrawn(msg.sender, amount);
        SafeTransferLib.safeTransfer(_baht, msg.sender, amount);
    }

    /// @inheritdoc IExchange
    function depositCredits(uint32 market_, uint256 amount) external {
        if (amount == 0) revert ExchangeZeroAmount();
        _listed(market_);
        _requireVerified(msg.sender);
        _creditsOf[msg.sender][market_] += amount;
        emit CreditsDeposited(msg.sender, market_, amount);
        _credits.transferFrom(msg.sender, address(this), _marketBatch[market_], amount);
    }

    /// @inheritdoc IExchange
    function withdrawCredits(uint32 market_, uint256 amount) external {
        if (amount == 0) revert ExchangeZeroAmount();
        uint256 available = _creditsOf[msg.sender][market_];
        if (available < amount) revert ExchangeInsufficientBalance(available, amount);
        unchecked {
            _creditsOf[msg.sender][market_] = available - amount;
        }
        emit CreditsWithdrawn(msg.sender, market_, amount);
        // CarbonCredits refuses a receiver who is no longer a verified participant (R1).
        _credits.transfer(msg.sender, _marketBatch[market_], amount);
    }

    // ------------------------------------------------------------------ trading

    /// @inheritdoc IExchange
    function placeOrder(uint32 market_, Side side, uint16 tick, uint32 quantity, uint16 maxFills, uint40 deadline)
        external
        returns (uint256 orderId, uint32 filled)
    {
        _checkCall(quantity, maxFills, deadline);
        Market memory m = _listedMemory(market_);
        if (tick < m.floorTick || tick > m.ceilingTick) {
            revert ExchangePriceOutsideBand(tick, m.floorTick, m.ceilingTick);
        }
        _requireVerified(msg.sender);
        uint16 period = _period();

        Fill memory f;
        if (side == Side.Ask) {
            uint256 held = _creditsOf[msg.sender][market_];
            if (held < quantity) revert ExchangeInsufficientBalance(held, quantity);
            f = _match(market_, m, period, Side.Ask, tick, m.ceilingTick, quantity, maxFills);
        } else {
            f = _match(market_, m, period, Side.Bid, m.floorTick, tick, quantity, maxFills);
        }
        filled = uint32(f.quantity);
        uint32 rest = quantity - filled;
        if (rest < m.minQuantity) rest = 0;
        if (rest != 0) orderId = _rest(market_, period, side, tick, rest);

        if (side == Side.Ask) _settleSeller(market_, f, rest);
        else _settleBuyer(market_, f, uint256(rest) * tick * m.tickSize);
        _accrue(market_, f.fees);
        if (rest != 0) emit OrderPlaced(orderId, market_, msg.sender, rest);
    }

    /// @inheritdoc IExchange
    function buy(Leg[] calldata legs, uint256 maxCost, uint40 deadline)
        external
        returns (uint256 bought, uint256 cost)
    {
        if (deadline < block.timestamp) revert ExchangeDeadlinePassed(deadline);
        _requireVerified(msg.sender);
        uint16 period = _period();
        for (uint256 i; i < legs.length; ++i) {
            Leg calldata leg = legs[i];
            _checkCall(leg.quantity, leg.maxFills, deadline);
            Market memory m = _listedMemory(leg.market);
            uint256 hi = leg.limitTick < m.ceilingTick ? leg.limitTick : m.ceilingTick;
            Fill memory f = _match(leg.market, m, period, Side.Bid, m.floorTick, hi, leg.quantity, leg.maxFills);
            if (f.quantity == 0) continue;
            _creditsOf[msg.sender][leg.market] += f.quantity;
            _accrue(leg.market, f.fees);
            bought += f.quantity;
            cost += f.value;
        }
        if (cost > maxCost) revert ExchangeCostAboveLimit(cost, maxCost);
        uint256 available = _bahtOf[msg.sender];
        if (available < cost) revert ExchangeInsufficientBalance(available, cost);
        unchecked {
            _bahtOf[msg.sender] = available - cost;
        }
    }

    /// @inheritdoc IExchange
    function sell(Leg[] calldata legs, uint256 minProceeds, uint40 deadline)
        external
        returns (uint256 sold, uint256 proceeds)
    {
        if (deadline < block.timestamp) revert ExchangeDeadlinePassed(deadline);
        _requireVerified(msg.sender);
        uint16 period = _period();
        for (uint256 i; i < legs.length; ++i) {
            Leg calldata leg = legs[i];
            _checkCall(leg.quantity, leg.maxFills, deadline);
            Market memory m = _listedMemory(leg.market);
            uint256 held = _creditsOf[msg.sender][leg.market];
            if (held < leg.quantity) revert ExchangeInsufficientBalance(held, leg.quantity);
            uint256 lo = leg.limitTick > m.floorTick ? leg.limitTick : m.floorTick;
            Fill memory f = _match(leg.market, m, period, Side.Ask, lo, m.ceilingTick, leg.quantity, leg.maxFills);
            if (f.quantity == 0) continue;
            // Read again: a fill against the seller's own bid credited tonnes during _match. The
            // balance is still >= held >= leg.quantity >= f.quantity.
            unchecked {
                _creditsOf[msg.sender][leg.market] -= f.quantity;
            }
            _accrue(leg.market, f.fees);
            sold += f.quantity;
            proceeds += f.value - f.fees;
        }
        if (proceeds < minProceeds) revert ExchangeProceedsBelowLimit(proceeds, minProceeds);
        _bahtOf[msg.sender] += proceeds;
    }

    /// @inheritdoc IExchange
    function cancel(uint256 orderId) external {
        Order memory o = _orders[orderId];
        if (o.owner == address(0)) revert ExchangeUnknownOrder(orderId);
        if (o.owner != msg.sender) revert ExchangeNotOrderOwner(orderId, msg.sender);
        // A closed period's book is never read again: only the current one is unlinked.
        if (_periodOf(orderId) == _period()) _unlink(orderId, o);
        _close(orderId, o, false);
    }

    /// @inheritdoc IExchange
    function reclaim(uint256[] calldata orderIds) external {
        if (orderIds.length > MAX_RECLAIM) revert ExchangeBatchTooLarge(orderIds.length);
        uint16 period = _period();
        for (uint256 i; i < orderIds.length; ++i) {
            uint256 orderId = orderIds[i];
            Order memory o = _orders[orderId];
            if (o.owner == address(0)) continue; // already closed (by its owner, or an earlier call)
            if (_periodOf(orderId) >= period) revert ExchangePeriodOpen(orderId);
            _close(orderId, o, true);
        }
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IExchange
    function market(uint32 market_) external view returns (Market memory) {
        return _markets[market_];
    }

    /// @inheritdoc IExchange
    function marketBatch(uint32 market_) external view returns (uint256) {
        return _marketBatch[market_];
    }

    /// @inheritdoc IExchange
    function marketOf(uint256 batchId) external view returns (uint32) {
        return _marketOf[batchId];
    }

    /// @inheritdoc IExchange
    function baht() external view returns (address) {
        return _baht;
    }

    /// @inheritdoc IExchange
    function marketCount() external view returns (uint32) {
        return _marketCount;
    }

    /// @inheritdoc IExchange
    function order(uint256 orderId) external view returns (Order memory) {
        return _orders[orderId];
    }

    /// @inheritdoc IExchange
    function level(uint32 market_, uint16 period, Side side, uint16 tick) external view returns (Level memory) {
        return _levels[_bookId(market_, period, side) << 16 | tick];
    }

    /// @inheritdoc IExchange
    function bestTick(uint32 market_, Side side) external view returns (bool found, uint16 tick) {
        Market memory m = _markets[market_];
        TickBitmap.Bitmap storage book = _books[_bookId(market_, _period(), side)];
        uint256 t = side == Side.Ask
            ? book.lowestIn(m.floorTick, m.ceilingTick)
            : book.highestIn(m.floorTick, m.ceilingTick);
        if (t == TickBitmap.NONE) return (false, 0);
        return (true, uint16(t));
    }

    /// @inheritdoc IExchange
    function bahtBalance(address trader) external view returns (uint256) {
        return _bahtOf[trader];
    }

    /// @inheritdoc IExchange
    function creditBalance(address trader, uint32 market_) external view returns (uint256) {
        return _creditsOf[trader][market_];
    }

    /// @inheritdoc IExchange
    function currentPeriod() external view returns (uint16) {
        return _period();
    }

    /// @inheritdoc IExchange
    function orderIdOf(uint32 market_, uint16 period, Side side, uint16 tick, uint32 seq)
        external
        pure
        returns (uint256)
    {
        return (_bookId(market_, period, side) << 16 | tick) << 32 | seq;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Fills the taker against the resting orders of the other side, best price first and
    /// FIFO within a price, over ticks [lo, hi]: a taker `Bid` consumes asks from `lo` up, a taker
    /// `Ask` consumes bids from `hi` down. Credits the makers; the caller settles the taker.
    function _match(
        uint32 market_,
        Market memory m,
        uint16 period,
        Side takerSide,
        uint256 lo,
        uint256 hi,
        uint256 quantity,
        uint256 maxFills
    ) internal returns (Fill memory f) {
        Taker memory t = Taker({
            market: market_,
            side: takerSide,
            feeBps: m.feeBps,
            tickSize: m.tickSize,
            quantity: quantity,
            fillsLeft: maxFills
        });
        bool takerBuys = takerSide == Side.Bid;
        uint256 bookId = _bookId(market_, period, takerBuys ? Side.Ask : Side.Bid);
        TickBitmap.Bitmap storage book = _books[bookId];
        while (t.quantity != 0 && t.fillsLeft != 0) {
            uint256 tick = takerBuys ? book.lowestIn(lo, hi) : book.highestIn(lo, hi);
            if (tick == TickBitmap.NONE) break;
            if (_consumeLevel(bookId << 16 | tick, uint64(tick) * t.tickSize, t, f)) book.clear(tick);
        }
    }

    /// @dev Fills the taker from one tick's queue, head first; returns whether the queue emptied.
    function _consumeLevel(uint256 queueId, uint64 price, Taker memory t, Fill memory f)
        internal
        returns (bool emptied)
    {
        Level storage lv = _levels[queueId];
        (uint32 head, uint32 tail) = (lv.head, lv.tail);
        uint32 seq = head;
        while (true) {
            uint32 next = _fillOne(queueId << 32 | seq, price, t, f);
            if (next == seq) break; // partly filled: the taker is done, the maker keeps its place
            seq = _successor(seq, next, tail);
            if (seq == 0 || t.quantity == 0 || t.fillsLeft == 0) break;
        }
        if (seq == head) return false;
        if (seq == 0) {
            (lv.head, lv.tail) = (0, 0);
            return true;
        }
        lv.head = seq; // the new head's `prev` is stale: a head is known by lv.head
    }

    /// @dev One fill against maker order `orderId`. Returns its stored `next` (0: implicit) if the
    /// order was consumed (and deleted), its own sequence if it keeps a remainder.
    function _fillOne(uint256 orderId, uint64 price, Taker memory t, Fill memory f) internal returns (uint32) {
        Order storage o = _orders[orderId];
        address maker = o.owner;
        uint32 available = o.remaining;
        uint32 fill = available < t.quantity ? available : uint32(t.quantity);
        uint256 value = uint256(fill) * price;
        uint256 fee = value * t.feeBps / BPS;
        if (t.side == Side.Bid) _bahtOf[maker] += value - fee; // the maker sold
        else _creditsOf[maker][t.market] += fill; // the maker bought, with escrowed baht
        unchecked {
            available -= fill;
            t.quantity -= fill;
            --t.fillsLeft;
        }
        f.quantity += fill;
        f.value += value;
        f.fees += fee;
        emit Traded(orderId << 32 | available, t.market, maker, msg.sender, t.side, price, fill, uint128(fee));
        if (available != 0) {
            o.remaining = available;
            return uint32(orderId);
        }
        uint32 next = o.next;
        delete _orders[orderId];
        return next;
    }

    /// @dev Appends an order of `quantity` to the FIFO queue of its tick.
    function _rest(uint32 market_, uint16 period, Side side, uint16 tick, uint32 quantity)
        internal
        returns (uint256 orderId)
    {
        uint256 bookId = _bookId(market_, period, side);
        uint256 queueId = bookId << 16 | tick;
        Level memory l = _levels[queueId];
        uint32 seq = l.lastSeq + 1;
        orderId = queueId << 32 | seq;
        _orders[orderId] = Order({owner: msg.sender, remaining: quantity, prev: l.tail, next: 0});
        if (l.tail == 0) {
            l.head = seq;
            _books[bookId].set(tick);
        } else if (l.tail + 1 != seq) {
            // The old tail's implicit successor (tail + 1) was cancelled: link explicitly.
            _orders[queueId << 32 | l.tail].next = seq;
        }
        (l.tail, l.lastSeq) = (seq, seq);
        _levels[queueId] = l;
    }

    /// @dev Takes a resting order of the current period out of its queue.
    function _unlink(uint256 orderId, Order memory o) internal {
        uint256 queueId = orderId >> 32;
        uint32 seq = uint32(orderId);
        Level memory l = _levels[queueId];
        uint32 next = _successor(seq, o.next, l.tail);
        if (l.head == seq) {
            l.head = next;
        } else if (next != 0) {
            // A middle order: link its neighbours (a removed tail's predecessor simply becomes
            // the tail, whose successor is never read).
            _orders[queueId << 32 | o.prev].next = next;
            _orders[queueId << 32 | next].prev = o.prev;
        }
        if (l.tail == seq) l.tail = l.head == 0 ? 0 : o.prev;
        _levels[queueId] = l;
        if (l.head == 0) _books[queueId >> 16].clear(uint16(queueId));
    }

    /// @dev The order after `seq` in its queue: none after the tail, else the stored `next`, or
    /// `seq + 1` when none is stored. Appending to a queue whose tail is the previous sequence
    /// number (the usual case) writes nothing to the tail; links are stored only around cancelled
    /// orders.
    function _successor(uint32 seq, uint32 storedNext, uint32 tail) internal pure returns (uint32) {
        if (seq == tail) return 0;
        return storedNext != 0 ? storedNext : seq + 1;
    }

    /// @dev Deletes an order and returns its escrow to the owner's balance.
    function _close(uint256 orderId, Order memory o, bool reclaimed) internal {
        delete _orders[orderId];
        uint32 market_ = uint32(orderId >> 72);
        if (Side(uint8(orderId >> 48)) == Side.Ask) {
            _creditsOf[o.owner][market_] += o.remaining;
        } else {
            uint256 tick = uint16(orderId >> 32);
            _bahtOf[o.owner] += uint256(o.remaining) * tick * _markets[market_].tickSize;
        }
        emit OrderClosed(orderId, o.owner, o.remaining, reclaimed);
    }

    /// @dev The placer of an ask sold `f.quantity` (proceeds net of fees) and escrows `rest` tonnes.
    function _settleSeller(uint32 market_, Fill memory f, uint256 rest) internal {
        _creditsOf[msg.sender][market_] -= f.quantity + rest;
        if (f.value != 0) _bahtOf[msg.sender] += f.value - f.fees;
    }

    /// @dev The placer of a bid bought `f.quantity` for `f.value` and escrows `escrow` satang.
    function _settleBuyer(uint32 market_, Fill memory f, uint256 escrow) internal {
        uint256 needed = f.value + escrow;
        uint256 available = _bahtOf[msg.sender];
        if (available < needed) revert ExchangeInsufficientBalance(available, needed);
        unchecked {
            _bahtOf[msg.sender] = available - needed;
        }
        if (f.quantity != 0) _creditsOf[msg.sender][market_] += f.quantity;
    }

    function _accrue(uint32 market_, uint256 fees) internal {
        if (fees != 0) _markets[market_].feesAccrued += uint128(fees);
    }

    function _checkCall(uint256 quantity, uint256 maxFills, uint40 deadline) internal view {
        if (quantity == 0) revert ExchangeZeroAmount();
        if (maxFills > MAX_FILLS) revert ExchangeTooManyFills(maxFills);
        if (deadline < block.timestamp) revert ExchangeDeadlinePassed(deadline);
    }

    function _checkBand(uint16 floorTick, uint16 ceilingTick) internal pure {
        if (floorTick == 0 || floorTick > ceilingTick) revert ExchangeInvalidBand(floorTick, ceilingTick);
    }

    function _requireVerified(address trader) internal view {
        if (!_registry.isVerified(trader)) revert ExchangeNotVerified(trader);
    }

    function _listed(uint32 market_) internal view returns (Market storage m) {
        m = _markets[market_];
        if (!m.listed) revert ExchangeUnknownMarket(market_);
    }

    function _listedMemory(uint32 market_) internal view returns (Market memory) {
        return _listed(market_);
    }

    /// @dev The current TGO quarter in Thai time as year * 4 + quarter - 1.
    function _period() internal view returns (uint16) {
        return QuarterLib.period(block.timestamp);
    }

    function _periodOf(uint256 orderId) internal pure returns (uint16) {
        return uint16(orderId >> 56);
    }

    function _bookId(uint32 market_, uint16 period, Side side) internal pure returns (uint256) {
        return uint256(market_) << 24 | uint256(period) << 8 | uint256(uint8(side));
    }
}
