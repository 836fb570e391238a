// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IExchange
/// @notice The CarboniX order book: one market per credit batch, baht (2 decimals) against whole
/// tonnes, price-time priority, partial fills, a regulator's price band (R3) and trading periods
/// that follow TGO quarters (R7).
/// @dev Traders keep balances in the exchange (deposit, withdraw at will): an ask escrows tonnes
/// of its market, a bid escrows the baht it may pay, and fills move balances inside the exchange,
/// so a fill costs storage writes, not token transfers. Only verified participants trade (R1).
///
/// Prices are ticks: price (satang per tonne) = tick * tickSize of the market, tick in 0..65,535.
/// The book of each market, period and side is a two-level bitmap of ticks with a FIFO queue per
/// tick, so placing, filling and cancelling cost the same at any depth; a taker's fills are capped
/// (`maxFills`) and resting orders have a minimum size, so no call loops without bound.
///
/// An order id encodes where the order rests: market (32 bits) | period (16) | side (8) |
/// tick (16) | sequence within the tick (32), so `orderId >> 32` names its queue.
/// Periods are TGO quarters in Thai time, numbered year * 4 + quarter - 1. When a quarter ends,
/// its orders can no longer fill; owners cancel them, or anyone reclaims them in batches, and the
/// escrow returns to the owners' balances.
///
/// Fees: `feeBps` of each trade's value is deducted from the seller's proceeds and accrues to the
/// market until swept to the treasury; the buyer pays exactly price * quantity, so a bid's escrow
/// always covers its fills.
interface IExchange {
    enum Side {
        Ask,
        Bid
    }

    /// @dev One slot per market.
    struct Market {
        uint32 tickSize;
        uint16 floorTick;
        uint16 ceilingTick;
        uint32 minQuantity;
        uint16 feeBps;
        bool listed;
        uint128 feesAccrued;
    }

    /// @dev One slot per resting order; `prev` and `next` are sequence numbers within its tick.
    /// `next` is 0 when the successor is simply the next sequence number (or the order is the
    /// tail); `prev` is meaningless for the head of the queue.
    struct Order {
        address owner;
        uint32 remaining;
        uint32 prev;
        uint32 next;
    }

    /// @dev The FIFO queue of one tick; `lastSeq` only grows, so sequence numbers are never reused.
    struct Level {
        uint32 head;
        uint32 tail;
        uint32 lastSeq;
    }

    /// @dev One leg of a taker call: up to `quantity` tonnes of `market`, at ticks no worse than
    /// `limitTick`, in at most `maxFills` fills.
    struct Leg {
        uint32 market;
        uint32 quantity;
        uint16 limitTick;
        uint16 maxFills;
    }

    error ExchangeNotVerified(address trader);
    error ExchangeUnknownMarket(uint32 market);
    error ExchangeMarketExists(uint256 batchId);
    error ExchangeUnknownBatch(uint256 batchId);
    error ExchangeInvalidMarket();
    error ExchangeInvalidBand(uint16 floorTick, uint16 ceilingTick);
    error ExchangePriceOutsideBand(uint16 tick, uint16 floorTick, uint16 ceilingTick);
    error ExchangeZeroAmount();
    error ExchangeInsufficientBalance(uint256 available, uint256 needed);
    error ExchangeDeadlinePassed(uint40 deadline);
    error ExchangeTooManyFills(uint256 maxFills);
    error ExchangeCostAboveLimit(uint256 cost, uint256 maxCost);
    error ExchangeProceedsBelowLimit(uint256 proceeds, uint256 minProceeds);
    error ExchangeUnknownOrder(uint256 orderId);
    error ExchangeNotOrderOwner(uint256 orderId, address caller);
    error ExchangePeriodOpen(uint256 orderId);
    error ExchangeFeeTooHigh(uint16 feeBps);
    error ExchangeZeroAddress();
    error ExchangeBatchTooLarge(uint256 length);

    /// @notice The regulator listed a market for a credit batch.
    event MarketListed(
        uint32 indexed market,
        uint256 indexed batchId,
        uint32 tickSize,
        uint16 floorTick,
        uint16 ceilingTick,
        uint32 minQuantity,
        uint16 feeBps
    );
    /// @notice The regulator moved a market's price band (R3) or minimum order size.
    event MarketRulesSet(uint32 indexed market, uint16 floorTick, uint16 ceilingTick, uint32 minQuantity);
    /// @notice The admin set a market's fee.
    event MarketFeeSet(uint32 indexed market, uint16 feeBps);
    /// @notice An order rests in the book with `quantity` tonnes (after any immediate fills).
    event OrderPlaced(uint256 indexed orderId, uint32 indexed market, address indexed owner, uint32 quantity);
    /// @notice A trade (R10): the on-chain trade record. `takerSide` is the side of the order that
    /// arrived; price is in satang per tonne; the fee (satang) was paid by the seller.
    /// `tradeId` = makerOrderId << 32 | maker's remaining tonnes after the fill: unique, as the
    /// remaining quantity of an order only decreases.
    event Traded(
        uint256 indexed tradeId,
        uint32 indexed market,
        address indexed maker,
        address taker,
        Side takerSide,
        uint64 price,
        uint32 quantity,
        uint128 fee
    );
    /// @notice An order left the book unfilled: cancelled by its owner or reclaimed after its
    /// period closed; `quantity` tonnes (or their baht) went back to the owner's balance.
    event OrderClosed(uint256 indexed orderId, address indexed owner, uint32 quantity, bool reclaimed);
    event BahtDeposited(address indexed trader, uint256 amount);
    event BahtWithdrawn(address indexed trader, uint256 amount);
    event CreditsDeposited(address indexed trader, uint32 indexed market, uint256 amount);
    event CreditsWithdrawn(address indexed trader, uint32 indexed market, uint256 amount);
    event FeesSwept(uint32 indexed market, address indexed treasury, uint256 amount);
    event TreasurySet(address treasury);
    event DefaultFeeSet(uint16 feeBps);

    // --- regulator and admin ---

    /// @notice Lists a market for `batchId` (regulator role); fee from `defaultFeeBps`.
    function listMarket(uint256 batchId, uint32 tickSize, uint16 floorTick, uint16 ceilingTick, uint32 minQuantity)
        external
        returns (uint32 market);

    /// @notice Sets a market's price band and minimum order size (regulator role).
    function setMarketRules(uint32 market, uint16 floorTick, uint16 ceilingTick, uint32 minQuantity) external;

    /// @notice Sets a market's fee in basis points, at most 100 (admin).
    function setMarketFee(uint32 market, uint16 feeBps) external;

    /// @notice Sets the fee new markets start with, at most 100 bps (admin).
    function setDefaultFee(uint16 feeBps) external;

    /// @notice Sets where swept fees go (admin).
    function setTreasury(address treasury) external;

    /// @notice Sends the fees accrued in `markets` to the treasury. Callable by anyone.
    function sweepFees(uint32[] calldata markets) external;

    // --- balances ---

    function depositBaht(uint256 amount) external;
    function withdrawBaht(uint256 amount) external;
    /// @notice Moves tonnes of the market's batch from the caller's wallet into the exchange (the
    /// caller must have made the exchange an ERC-6909 operator of its credits).
    function depositCredits(uint32 market, uint256 amount) external;
    function withdrawCredits(uint32 market, uint256 amount) external;

    // --- trading ---

    /// @notice A limit order: fills against the other side at `tick` or better (at most
    /// `maxFills` fills), then rests what is left if it is at least the market minimum; a smaller
    /// remainder goes back to the balance. Returns the resting order id (0 if none).
    function placeOrder(uint32 market, Side side, uint16 tick, uint32 quantity, uint16 maxFills, uint40 deadline)
        external
        returns (uint256 orderId, uint32 filled);

    /// @notice Buys across markets, cheapest first within each leg; reverts if the total cost would
    /// exceed `maxCost` satang. Nothing rests. Returns tonnes bought and satang paid.
    function buy(Leg[] calldata legs, uint256 maxCost, uint40 deadline) external returns (uint256 bought, uint256 cost);

    /// @notice Sells across markets, best bid first; reverts if net proceeds (after fees) would be
    /// below `minProceeds` satang. Nothing rests.
    function sell(Leg[] calldata legs, uint256 minProceeds, uint40 deadline)
        external
        returns (uint256 sold, uint256 proceeds);

    /// @notice Cancels the caller's resting order; its escrow returns to the caller's balance.
    function cancel(uint256 orderId) external;

    /// @notice Returns the escrow of orders whose period has closed to their owners (anyone may
    /// call; at most 256 orders per call).
    function reclaim(uint256[] calldata orderIds) external;

    // --- views ---

    function market(uint32 market_) external view returns (Market memory);
    function marketBatch(uint32 market_) external view returns (uint256 batchId);
    function marketOf(uint256 batchId) external view returns (uint32 market_);
    function marketCount() external view returns (uint32);
    function defaultFeeBps() external view returns (uint16);
    /// @notice The THB ERC-20 (2 decimals) trades settle in.
    function baht() external view returns (address);
    function treasury() external view returns (address);
    function order(uint256 orderId) external view returns (Order memory);
    function level(uint32 market_, uint16 period, Side side, uint16 tick) external view returns (Level memory);
    /// @notice Best tick of a side in the current period within the band (`found` false if none).
    function bestTick(uint32 market_, Side side) external view returns (bool found, uint16 tick);
    function bahtBalance(address trader) external view returns (uint256);
    function creditBalance(address trader, uint32 market_) external view returns (uint256);
    /// @notice The current trading period: TGO quarter in Thai time as year * 4 + quarter - 1.
    function currentPeriod() external view returns (uint16);
    function orderIdOf(uint32 market_, uint16 period, Side side, uint16 tick, uint32 seq)
        external
        pure
        returns (uint256);
}
