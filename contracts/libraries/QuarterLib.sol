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

    /// @notice Year and quarter (1-4) of `timestamp` in Thai time.
    function yearQuarter(uint256 timestamp) internal pure returns (uint16 year, uint8 quarter) {
        // Every intermediate value is bounded by the day count of a uint40 timestamp; no step can
        // overflow or underflow for timestamps >= 0, so the checks are skipped.
        unchecked {
            uint256 z = (timestamp + ICT_OFFSET) / 1 days + 719_468;
            uint256 era = z / 146_097;
            uint256 doe = z - era * 146_097;
            uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            uint256 mp = (5 * doy + 2) / 153;
            uint256 month = mp < 10 ? mp + 3 : mp - 9;
            uint256 y = yoe + era * 400 + (month <= 2 ? 1 : 0);
            year = uint16(y);
            quarter = uint8((month - 1) / 3 + 1);
        }
    }
}
