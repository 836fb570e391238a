// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {QuarterLib} from "../../contracts/libraries/QuarterLib.sol";

import {BaseTest} from "./utils/BaseTest.sol";

contract QuarterLibTest is BaseTest {
    /// @dev 2200-12-31T23:59:59Z.
    uint256 internal constant END_2200 = 7_289_654_399;

    function _assertQuarter(uint256 ts, uint16 year, uint8 quarter) internal pure {
        (uint16 y, uint8 q) = QuarterLib.yearQuarter(ts);
        vm.assertEq(y, year, "year");
        vm.assertEq(q, quarter, "quarter");
    }

    function test_yearQuarter_knownDates() public pure {
        _assertQuarter(0, 1970, 1); // 1970-01-01 07:00 ICT
        _assertQuarter(951_782_400, 2000, 1); // 2000-02-29 (leap century)
        _assertQuarter(1_709_208_000, 2024, 1); // 2024-02-29 19:00 ICT
        _assertQuarter(1_781_481_600, 2026, 2); // 2026-06-15
        _assertQuarter(4_107_517_200, 2100, 1); // 2100-03-01 00:00 ICT (2100 is no leap year)
    }

    function test_yearQuarter_ictBoundaries() public pure {
        // 2026-03-31T16:59:59Z is 23:59:59 ICT on 31 March; one second later is 1 April 00:00 ICT.
        _assertQuarter(1_774_976_399, 2026, 1);
        _assertQuarter(1_774_976_400, 2026, 2);
        // New year: 2023-12-31T17:00:00Z is 2024-01-01 00:00 ICT.
        _assertQuarter(1_704_041_999, 2023, 4);
        _assertQuarter(1_704_042_000, 2024, 1);
        // Leap year Q1 -> Q2 (the 29 February must be counted).
        _assertQuarter(1_711_904_399, 2024, 1);
        _assertQuarter(1_711_904_400, 2024, 2);
        _assertQuarter(1_719_766_799, 2024, 2);
        _assertQuarter(1_719_766_800, 2024, 3);
        _assertQuarter(1_727_715_599, 2024, 3);
        _assertQuarter(1_727_715_600, 2024, 4);
        // Century years: 2000 is leap, 2100 is not.
        _assertQuarter(954_521_999, 2000, 1);
        _assertQuarter(954_522_000, 2000, 2);
        _assertQuarter(4_110_195_599, 2100, 1);
        _assertQuarter(4_110_195_600, 2100, 2);
        // The last vintage year ends.
        _assertQuarter(7_258_093_199, 2199, 4);
        _assertQuarter(7_258_093_200, 2200, 1);
    }

    function test_quarterOf_matchesLibrary() public view {
        (uint16 y, uint8 q) = dataLog.quarterOf(1_774_976_400);
        vm.assertEq(y, 2026);
        vm.assertEq(q, 2);
    }

    function test_fuzz_yearQuarter_matchesReference(uint256 ts) public pure {
        ts = bound(ts, 0, END_2200);
        (uint16 y, uint8 q) = QuarterLib.yearQuarter(ts);
        (uint16 ry, uint8 rq) = _reference(ts);
        vm.assertEq(y, ry, "year");
        vm.assertEq(q, rq, "quarter");
    }

    /// @dev Across the whole uint40 range the quarter never goes backwards and stays in 1..4.
    function test_fuzz_yearQuarter_monotonic(uint40 ts, uint32 step) public view {
        uint256 t = bound(ts, 0, uint256(type(uint40).max) - type(uint32).max);
        (uint16 y1, uint8 q1) = dataLog.quarterOf(uint40(t));
        (uint16 y2, uint8 q2) = dataLog.quarterOf(uint40(t + step));
        vm.assertTrue(q1 >= 1 && q1 <= 4 && q2 >= 1 && q2 <= 4);
        vm.assertLe(uint256(y1) * 4 + q1, uint256(y2) * 4 + q2);
    }

    function test_periodStart_knownQuarters() public pure {
        vm.assertEq(QuarterLib.periodStart(2026 * 4 + 1), 1_774_976_400); // 2026-04-01 00:00 ICT
        vm.assertEq(QuarterLib.periodStart(2024 * 4 + 0), 1_704_042_000); // 2024-01-01 00:00 ICT
        vm.assertEq(QuarterLib.periodStart(2024 * 4 + 1), 1_711_904_400); // after 29 February
        vm.assertEq(QuarterLib.periodStart(2100 * 4 + 1), 4_110_195_600); // 2100 is no leap year
    }

    /// @dev periodStart(p) is in period p and one second earlier is in p - 1, across 1971-2199.
    function test_fuzz_periodStart_isTheBoundary(uint16 p) public pure {
        p = uint16(bound(p, 1971 * 4, 2199 * 4 + 3));
        uint256 start = QuarterLib.periodStart(p);
        vm.assertEq(QuarterLib.period(start), p);
        vm.assertEq(QuarterLib.period(start - 1), p - 1);
    }

    /// @dev Walks years, then months, from 1970 in Thai time.
    function _reference(uint256 ts) internal pure returns (uint16, uint8) {
        uint256 day = (ts + 7 hours) / 1 days;
        uint256 year = 1970;
        while (true) {
            uint256 len = _isLeap(year) ? 366 : 365;
            if (day < len) break;
            day -= len;
            ++year;
        }
        uint8[12] memory monthDays = [31, _isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        uint256 month;
        while (day >= monthDays[month]) {
            day -= monthDays[month];
            ++month;
        }
        return (uint16(year), uint8(month / 3 + 1));
    }

    function _isLeap(uint256 y) internal pure returns (bool) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    }
}
