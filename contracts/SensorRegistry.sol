// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {ISensorRegistry} from "./interfaces/ISensorRegistry.sol";
import {GeoLib} from "./libraries/GeoLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title SensorRegistry
/// @notice Registered, verifier-approved sensors (see ISensorRegistry).
contract SensorRegistry is ISensorRegistry, AccessControl {
    bytes32 public constant VERIFIER_ROLE = Roles.VERIFIER;

    ICarbonRegistry private immutable _registry;

    mapping(address device => Sensor) private _sensors;

    constructor(address admin, ICarbonRegistry registry_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
    }

    /// @inheritdoc ISensorRegistry
    function registerSensor(
        address device,
        SensorType sensorType,
        bytes32 projectKey,
        int32 latitudeE6,
        int32 longitudeE6,
        string calldata label
    ) external {
        if (device == address(0)) revert SensorZeroDevice();
        if (_sensors[device].owner != address(0)) revert SensorAlreadyRegistered(device);
        if (!_registry.isVerified(msg.sender)) revert SensorOwnerNotVerified(msg.sender);
        if (!GeoLib.isValid(latitudeE6, longitudeE6)) revert SensorInvalidCoordinates(latitudeE6, longitudeE6);
        _sensors[device] = Sensor({
            owner: msg.sender,
            sensorType: sensorType,
            status: SensorStatus.Active,
            approved: false,
            certifiedUntil: 0,
            referenceMethod: false,
            projectKey: projectKey
        });
        emit SensorRegistered(device, msg.sender, projectKey, sensorType, latitudeE6, longitudeE6, label);
    }

    /// @inheritdoc ISensorRegistry
    function approveSensor(address device, bytes32 certificationHash, uint40 certifiedUntil)
        external
        onlyRole(VERIFIER_ROLE)
    {
        Sensor storage s = _known(device);
        if (certifiedUntil <= block.timestamp) revert SensorCertificationExpired(certifiedUntil);
        (s.approved, s.certifiedUntil) = (true, certifiedUntil);
        emit SensorApproved(device, msg.sender, certificationHash, certifiedUntil);
    }

    /// @inheritdoc ISensorRegistry
    function revokeSensor(address device, string calldata reason) external onlyRole(VERIFIER_ROLE) {
        Sensor storage s = _known(device);
        (s.approved, s.certifiedUntil, s.referenceMethod) = (false, 0, false);
        emit SensorRevoked(device, msg.sender, reason);
    }

    /// @inheritdoc ISensorRegistry
    function setReferenceMethod(address device, bool referenceMethod, bytes32 evidenceHash)
        external
        onlyRole(VERIFIER_ROLE)
    {
        _known(device).referenceMethod = referenceMethod;
        emit SensorReferenceMethodSet(device, msg.sender, referenceMethod, evidenceHash);
    }

    /// @inheritdoc ISensorRegistry
    function setStatus(address device, SensorStatus status) external {
        Sensor storage s = _known(device);
        if (msg.sender != s.owner && !hasRole(VERIFIER_ROLE, msg.sender)) {
            revert SensorNotOwnerOrVerifier(device, msg.sender);
        }
        s.status = status;
        emit SensorStatusSet(device, status, msg.sender);
    }

    /// @inheritdoc ISensorRegistry
    function sensor(address device) external view returns (Sensor memory) {
        return _sensors[device];
    }

    /// @inheritdoc ISensorRegistry
    function isActive(address device) external view returns (bool) {
        Sensor storage s = _sensors[device];
        return s.approved && s.status == SensorStatus.Active && s.certifiedUntil > block.timestamp;
    }

    function _known(address device) internal view returns (Sensor storage s) {
        s = _sensors[device];
        if (s.owner == address(0)) revert SensorUnknown(device);
    }
}
