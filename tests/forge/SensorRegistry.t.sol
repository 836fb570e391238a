// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {SensorRegistry} from "../../contracts/SensorRegistry.sol";
import {ISensorRegistry} from "../../contracts/interfaces/ISensorRegistry.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {SystemTest} from "./utils/BaseTest.sol";

contract SensorRegistryTest is SystemTest {
    SensorRegistry internal sensors;
    address internal verifier = makeAddr("verifier");
    address internal device = makeAddr("kiln-fuel-meter-01");
    bytes32 internal constant CERT = keccak256("TIS 17025 calibration certificate 2026-0042");

    function setUp() public override {
        super.setUp();
        sensors = new SensorRegistry(admin, registry);
        vm.prank(admin);
        sensors.grantRole(Roles.VERIFIER, verifier);
    }

    function _registerDevice(address owner, address d) internal {
        vm.prank(owner);
        sensors.registerSensor(d, ISensorRegistry.SensorType.FuelMeter, pAdd, 13_756_331, 100_501_765, "kiln 1");
    }

    function _approve(address d, uint40 until) internal {
        vm.prank(verifier);
        sensors.approveSensor(d, CERT, until);
    }

    function test_registerSensor_storesAndEmits() public {
        vm.expectEmit(address(sensors));
        emit ISensorRegistry.SensorRegistered(
            device, alice, pAdd, ISensorRegistry.SensorType.FuelMeter, 13_756_331, 100_501_765, "kiln 1"
        );
        _registerDevice(alice, device);
        ISensorRegistry.Sensor memory s = sensors.sensor(device);
        vm.assertEq(s.owner, alice);
        vm.assertEq(uint256(s.sensorType), uint256(ISensorRegistry.SensorType.FuelMeter));
        vm.assertEq(uint256(s.status), uint256(ISensorRegistry.SensorStatus.Active));
        vm.assertFalse(s.approved);
        vm.assertEq(s.projectKey, pAdd);
        vm.assertFalse(sensors.isActive(device)); // not approved yet
    }

    function test_registerSensor_refusals() public {
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorZeroDevice.selector));
        _registerDevice(alice, address(0));
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorOwnerNotVerified.selector, dave));
        _registerDevice(dave, device);
        _registerDevice(alice, device);
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorAlreadyRegistered.selector, device));
        _registerDevice(bob, device);
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorInvalidCoordinates.selector, 90_000_001, 0));
        vm.prank(alice);
        sensors.registerSensor(makeAddr("d2"), ISensorRegistry.SensorType.Co2, pAdd, 90_000_001, 0, "x");
    }

    function test_approval_makesItActive_untilExpiryOrRevocation() public {
        _registerDevice(alice, device);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.VERIFIER)
        );
        vm.prank(alice); // an owner cannot approve its own sensor
        sensors.approveSensor(device, CERT, NOW + 365 days);
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorCertificationExpired.selector, NOW));
        _approve(device, NOW);
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorUnknown.selector, eve));
        _approve(eve, NOW + 1);

        vm.expectEmit(address(sensors));
        emit ISensorRegistry.SensorApproved(device, verifier, CERT, NOW + 365 days);
        _approve(device, NOW + 365 days);
        vm.assertTrue(sensors.isActive(device));
        vm.warp(NOW + 365 days);
        vm.assertFalse(sensors.isActive(device)); // certification expired
        vm.warp(NOW);
        vm.prank(verifier);
        sensors.revokeSensor(device, "failed field audit");
        vm.assertFalse(sensors.isActive(device));
        vm.assertFalse(sensors.sensor(device).approved);
    }

    function test_setStatus_byOwnerOrVerifierOnly() public {
        _registerDevice(alice, device);
        _approve(device, NOW + 365 days);
        vm.prank(alice);
        sensors.setStatus(device, ISensorRegistry.SensorStatus.Maintenance);
        vm.assertFalse(sensors.isActive(device));
        vm.prank(verifier);
        sensors.setStatus(device, ISensorRegistry.SensorStatus.Active);
        vm.assertTrue(sensors.isActive(device));
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorNotOwnerOrVerifier.selector, device, bob));
        vm.prank(bob);
        sensors.setStatus(device, ISensorRegistry.SensorStatus.Offline);
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorUnknown.selector, eve));
        vm.prank(alice);
        sensors.setStatus(eve, ISensorRegistry.SensorStatus.Offline);
    }

    function test_setReferenceMethod_verifierOnly_clearedByRevocation() public {
        bytes32 listing = keccak256("PCD Air4Thai station list 2026: 50t Chulalongkorn Hospital");
        _registerDevice(alice, device);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.VERIFIER)
        );
        vm.prank(alice); // an owner cannot make its own sensor the yardstick for others
        sensors.setReferenceMethod(device, true, listing);
        vm.expectRevert(abi.encodeWithSelector(ISensorRegistry.SensorUnknown.selector, eve));
        vm.prank(verifier);
        sensors.setReferenceMethod(eve, true, listing);

        vm.expectEmit(address(sensors));
        emit ISensorRegistry.SensorReferenceMethodSet(device, verifier, true, listing);
        vm.prank(verifier);
        sensors.setReferenceMethod(device, true, listing);
        ISensorRegistry.Sensor memory s = sensors.sensor(device);
        vm.assertTrue(s.referenceMethod);
        vm.assertEq(s.projectKey, pAdd); // packed beside the approval: the project is untouched
        vm.assertEq(s.owner, alice);

        vm.prank(verifier);
        sensors.setReferenceMethod(device, false, bytes32(0));
        vm.assertFalse(sensors.sensor(device).referenceMethod);

        _approve(device, NOW + 365 days);
        vm.prank(verifier);
        sensors.setReferenceMethod(device, true, listing);
        vm.prank(verifier);
        sensors.revokeSensor(device, "analyser replaced");
        vm.assertFalse(sensors.sensor(device).referenceMethod); // a new approval needs a new designation
        _approve(device, NOW + 365 days);
        vm.assertFalse(sensors.sensor(device).referenceMethod);
    }

    function test_fuzz_isActive(bool approved, uint8 status, uint40 until, uint40 at) public {
        status = uint8(bound(status, 0, 2));
        until = uint40(bound(until, NOW + 1, NOW + 3650 days));
        at = uint40(bound(at, NOW, NOW + 3650 days));
        _registerDevice(alice, device);
        if (approved) _approve(device, until);
        vm.prank(alice);
        sensors.setStatus(device, ISensorRegistry.SensorStatus(status));
        vm.warp(at);
        vm.assertEq(sensors.isActive(device), approved && status == 0 && until > at);
    }
}
