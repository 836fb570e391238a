// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISensorRegistry
/// @notice The sensors whose signed readings the oracle accepts (issue 4, seed: only certified
/// equipment). A sensor is its device key (secp256k1 address): a verified participant registers
/// it for one of its projects, a verifier (validation and verification body) approves it with a
/// certification that expires, and the owner or a verifier marks maintenance or offline periods.
/// Only an approved, active sensor with an unexpired certification counts (`isActive`). A verifier
/// may also designate a sensor a reference method (a regulator's station, such as a Pollution
/// Control Department analyser): the oracle measures co-located low-cost sensors against it.
interface ISensorRegistry {
    enum SensorType {
        Pm25,
        Pm10,
        Co2,
        Ch4,
        Co2Flux,
        FuelMeter,
        EnergyMeter,
        Temperature,
        Humidity,
        Other
    }

    enum SensorStatus {
        Active,
        Maintenance,
        Offline
    }

    /// @dev Two slots: owner, type, status, approval, expiry and reference designation; then the project.
    struct Sensor {
        address owner;
        SensorType sensorType;
        SensorStatus status;
        bool approved;
        uint40 certifiedUntil;
        bool referenceMethod;
        bytes32 projectKey;
    }

    error SensorZeroDevice();
    error SensorAlreadyRegistered(address device);
    error SensorUnknown(address device);
    error SensorOwnerNotVerified(address owner);
    error SensorNotOwnerOrVerifier(address device, address caller);
    error SensorCertificationExpired(uint40 certifiedUntil);
    error SensorInvalidCoordinates(int32 latitudeE6, int32 longitudeE6);

    event SensorRegistered(
        address indexed device,
        address indexed owner,
        bytes32 indexed projectKey,
        SensorType sensorType,
        int32 latitudeE6,
        int32 longitudeE6,
        string label
    );
    event SensorApproved(address indexed device, address indexed verifier, bytes32 certificationHash, uint40 certifiedUntil);
    event SensorRevoked(address indexed device, address indexed verifier, string reason);
    event SensorStatusSet(address indexed device, SensorStatus status, address by);
    event SensorReferenceMethodSet(
        address indexed device, address indexed verifier, bool referenceMethod, bytes32 evidenceHash
    );

    /// @notice Registers `device` for the caller (a verified participant); not approved yet.
    function registerSensor(
        address device,
        SensorType sensorType,
        bytes32 projectKey,
        int32 latitudeE6,
        int32 longitudeE6,
        string calldata label
    ) external;

    /// @notice Approves a sensor with the hash of its certification document (verifier role).
    function approveSensor(address device, bytes32 certificationHash, uint40 certifiedUntil) external;

    /// @notice Withdraws a sensor's approval and any reference designation (verifier role).
    function revokeSensor(address device, string calldata reason) external;

    /// @notice Designates `device` a reference method, or withdraws the designation, with the hash
    /// of the evidence (the regulator's listing or the equivalence test report) (verifier role).
    function setReferenceMethod(address device, bool referenceMethod, bytes32 evidenceHash) external;

    /// @notice Sets active, maintenance or offline (the owner or a verifier).
    function setStatus(address device, SensorStatus status) external;

    function sensor(address device) external view returns (Sensor memory);

    /// @notice Approved, active and certified now: its readings count.
    function isActive(address device) external view returns (bool);
}
