// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title QuarterLib
/// @notice Maps a unix timestamp to its TGO reporting quarter (calendar quarters, Thai time).
/// @dev Thailand keeps UTC+7 all year (no daylight saving), so a quarter starts at 00:00 ICT on
/// 1 January, 1 April, 1 July and 1 October. The civil-date conversion is Howard Hinnant's
/// days-from-civil algorithm, restricted to timestamps after 1970.
library QuarterLib {
    /// @dev Offset of Indochina Time (ICT) from UTC, in seconds.
    uint256 internal constant ICT_OFFSET = 7 hours;

    /// @notice Year and quarter (1-4) of timestamp `ts` in Thai time.
    /// @dev Every intermediate value is bounded by the day count of the timestamp; no step can
    /// overflow or underflow for timestamps >= 0. In assembly because the data log computes it on
    /// every commit (twice), where the checked-free Solidity version cost ~700 gas a call.
    function yearQuarter(uint256 ts) internal pure returns (uint16 year, uint8 quarter) {
        assembly ("memory-safe") {
            let z := add(div(add(ts, ICT_OFFSET), 86400), 719468)
            let era := div(z, 146097)
            let doe := sub(z, mul(era, 146097))
            let yoe := div(sub(add(sub(doe, div(doe, 1460)), div(doe, 36524)), div(doe, 146096)), 365)
            let doy := sub(doe, sub(add(mul(365, yoe), div(yoe, 4)), div(yoe, 100)))
            let mp := div(add(mul(5, doy), 2), 153)
            // month = mp + 3 for March..December (mp < 10), mp - 9 for January and February.
            let month := sub(add(mp, 3), mul(12, iszero(lt(mp, 10))))
            year := add(add(yoe, mul(era, 400)), iszero(gt(month, 2)))
            quarter := add(div(sub(month, 1), 3), 1)
        }
    }

    /// @notice The period number of `ts`: its Thai-time quarter as year * 4 + quarter - 1 (the
    /// exchange's trading periods and the settlement's quarters use it).
    function period(uint256 ts) internal pure returns (uint16) {
        (uint16 year, uint8 quarter) = yearQuarter(ts);
        return year * 4 + quarter - 1;
    }

    /// @notice The first second of period `p` (00:00 ICT on the quarter's first day), as a unix time.
    /// @dev Howard Hinnant's days-from-civil for the first day of the quarter's first month.
    function periodStart(uint16 p) internal pure returns (uint256) {
        unchecked {
            uint256 y = p / 4;
            uint256 m = (p % 4) * 3 + 1; // January, April, July or October
            if (m <= 2) y -= 1; // the civil algorithm counts years from March
            uint256 era = y / 400;
            uint256 yoe = y - era * 400;
            uint256 mp = m > 2 ? m - 3 : m + 9;
            uint256 doy = (153 * mp + 2) / 5; // day 1 of the month
            uint256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            uint256 days_ = era * 146_097 + doe - 719_468;
            return days_ * 1 days - ICT_OFFSET;
        }
    }
}
