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

    /// @dev The lowest marked tick in [from, to], or NONE.
    function lowestIn(Bitmap storage b, uint256 from, uint256 to) internal view returns (uint256 tick) {
        if (from > to) return NONE;
        uint256 w = from >> 8;
        uint256 word = b.words[w] & (type(uint256).max << (from & 0xff));
        if (word == 0) {
            // Words above w (w = 255 leaves none: the shift by 256 is zero).
            uint256 above = w == 255 ? 0 : b.summary & (type(uint256).max << (w + 1));
            if (above == 0) return NONE;
            w = LibBit.ffs(above);
            word = b.words[w];
        }
        tick = (w << 8) | LibBit.ffs(word);
        if (tick > to) return NONE;
    }

    /// @dev The highest marked tick in [from, to], or NONE.
    function highestIn(Bitmap storage b, uint256 from, uint256 to) internal view returns (uint256 tick) {
        if (from > to) return NONE;
        uint256 w = to >> 8;
        uint256 word = b.words[w] & (type(uint256).max >> (255 - (to & 0xff)));
        if (word == 0) {
            uint256 below = b.summary & ((1 << w) - 1);
            if (below == 0) return NONE;
            w = LibBit.fls(below);
            word = b.words[w];
        }
        tick = (w << 8) | LibBit.fls(word);
        if (tick < from) return NONE;
    }
}
