// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {LibBit} from "solady/utils/LibBit.sol";

/// @title TickBitmap
/// @notice Which of 65,536 price ticks hold orders, in two levels: 256 words of 256 bits, and one
/// summary word whose bit w says word w is not empty. Finding the best tick at or beyond any tick
/// reads at most three slots, however many orders or price levels the book holds.
library TickBitmap {
    struct Bitmap {
        uint256 summary;
        mapping(uint256 wordIndex => uint256 bits) words;
    }

    uint256 internal constant NONE = type(uint256).max;

    /// @dev Marks `tick` as holding orders.
    function set(Bitmap storage b, uint256 tick) internal {
        uint256 w = tick >> 8;
        uint256 word = b.words[w];
        if (word == 0) b.summary |= 1 << w;
        b.words[w] = word | (1 << (tick & 0xff));
    }

    /// @dev Marks `tick` as empty.
    function clear(Bitmap storage b, uint256 tick) internal {
        uint256 w = tick >> 8;
        uint256 word = b.words[w] & ~(1 << (tick & 0xff));
        b.words[w] = word;
        if (word == 0) b.summary &= ~(1 << w);
    }

    /// @dev The lowest marked tick in [from, to], or NONE. Reads the summary first: an empty
    /// range costs one slot, a hit two (three when `from`'s own word holds only lower ticks).
    function lowestIn(Bitmap storage b, uint256 from, uint256 to) internal view returns (uint256) {
        if (from > to) return NONE;
        (uint256 wFrom, uint256 wTo) = (from >> 8, to >> 8);
        uint256 candidates = b.summary & (type(uint256).max << wFrom) & (type(uint256).max >> (255 - wTo));
        while (candidates != 0) {
            uint256 w = LibBit.ffs(candidates);
            uint256 word = b.words[w];
            if (w == wFrom) word &= type(uint256).max << (from & 0xff);
            if (w == wTo) word &= type(uint256).max >> (255 - (to & 0xff));
            if (word != 0) return (w << 8) | LibBit.ffs(word);
            // Only the edge words can be empty once masked: this loops at most three times.
            candidates &= candidates - 1;
        }
        return NONE;
    }

    /// @dev The highest marked tick in [from, to], or NONE (the mirror of `lowestIn`).
    function highestIn(Bitmap storage b, uint256 from, uint256 to) internal view returns (uint256) {
        if (from > to) return NONE;
        (uint256 wFrom, uint256 wTo) = (from >> 8, to >> 8);
        uint256 candidates = b.summary & (type(uint256).max << wFrom) & (type(uint256).max >> (255 - wTo));
        while (candidates != 0) {
            uint256 w = LibBit.fls(candidates);
            uint256 word = b.words[w];
            if (w == wFrom) word &= type(uint256).max << (from & 0xff);
            if (w == wTo) word &= type(uint256).max >> (255 - (to & 0xff));
            if (word != 0) return (w << 8) | LibBit.fls(word);
            candidates &= ~(1 << w);
        }
        return NONE;
    }
}
