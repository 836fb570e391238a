// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title GeoLib
/// @notice Locations as degrees times 1e6 (int32), the unit of projects and sensors.
library GeoLib {
    int32 internal constant MAX_LATITUDE_E6 = 90_000_000;
    int32 internal constant MAX_LONGITUDE_E6 = 180_000_000;

    /// @notice Whether (latitudeE6, longitudeE6) is a point on Earth.
    function isValid(int32 latitudeE6, int32 longitudeE6) internal pure returns (bool) {
        return latitudeE6 >= -MAX_LATITUDE_E6 && latitudeE6 <= MAX_LATITUDE_E6 && longitudeE6 >= -MAX_LONGITUDE_E6
            && longitudeE6 <= MAX_LONGITUDE_E6;
    }
}
