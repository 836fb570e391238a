// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ICarbonRegistry} from "../../contracts/interfaces/ICarbonRegistry.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {BaseTest} from "./utils/BaseTest.sol";
import {MerkleBuilder} from "./utils/MerkleBuilder.sol";

contract CarbonRegistryTest is BaseTest {
    string internal constant PROJECT = "TH-CCEP-2025-0001";

    // --- registerParticipant ---

    function test_registerParticipant_storesRecordAndEmits() public {
        bytes20 orgKey = bytes20(keccak256(bytes("0105536000011")));
        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ParticipantRegistered(
            alice,
            orgKey,
            ICarbonRegistry.AccountType.Ngo,
            ICarbonRegistry.TradeRole.Seller,
            ICarbonRegistry.Sector.Forestry,
            "0105536000011"
        );
        vm.prank(alice);
        registry.registerParticipant(
            "0105536000011",
            ICarbonRegistry.AccountType.Ngo,
            ICarbonRegistry.TradeRole.Seller,
            ICarbonRegistry.Sector.Forestry
        );

        ICarbonRegistry.Participant memory p = registry.participant(alice);
        vm.assertEq(bytes32(p.orgKey), bytes32(orgKey));
        vm.assertEq(uint256(p.accountType), uint256(ICarbonRegistry.AccountType.Ngo));
        vm.assertEq(uint256(p.tradeRole), uint256(ICarbonRegistry.TradeRole.Seller));
        vm.assertEq(uint256(p.sector), uint256(ICarbonRegistry.Sector.Forestry));
        vm.assertEq(p.certifiedEpoch, 0);
        vm.assertEq(p.certifiedUntil, 0);
        vm.assertTrue(registry.isRegistered(alice));
        vm.assertFalse(registry.isVerified(alice));
    }

    function test_registerParticipant_revertsOnEmptyOrgId() public {
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryEmptyId.selector));
        vm.prank(alice);
        registry.registerParticipant(
            "",
            ICarbonRegistry.AccountType.Corporation,
            ICarbonRegistry.TradeRole.Both,
            ICarbonRegistry.Sector.Energy
        );
    }

    function test_registerParticipant_revertsWhenAlreadyRegistered() public {
        _register(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryAlreadyRegistered.selector, alice));
        vm.prank(alice);
        registry.registerParticipant(
            "another-org",
            ICarbonRegistry.AccountType.Corporation,
            ICarbonRegistry.TradeRole.Both,
            ICarbonRegistry.Sector.Energy
        );
    }

    function test_registerParticipant_revertsOnEnumOutOfRange() public {
        vm.prank(alice);
        (bool ok,) = address(registry)
            .call(
                abi.encodeWithSelector(
                    registry.registerParticipant.selector, "org", uint8(4), uint8(0), uint8(0)
                )
            );
        vm.assertFalse(ok);
        vm.assertFalse(registry.isRegistered(alice));
    }

    // --- verifyParticipant ---

    function test_verifyParticipant_certifiesUnderCurrentEpoch() public {
        _register(alice);
        _register(bob);
        address[] memory w = new address[](2);
        (w[0], w[1]) = (alice, bob);
        _publishParticipants(w);

        bytes32[] memory proof = _participantProof(alice);
        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ParticipantVerified(alice, 1, CERTIFIED_UNTIL);
        vm.prank(eve); // anyone may submit the proof: the leaf binds the wallet
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL, proof);

        ICarbonRegistry.Participant memory p = registry.participant(alice);
        vm.assertEq(p.certifiedEpoch, 1);
        vm.assertEq(p.certifiedUntil, CERTIFIED_UNTIL);
        vm.assertTrue(registry.isVerified(alice));
        vm.assertFalse(registry.isVerified(bob));
    }

    function test_verifyParticipant_revertsWhenNotRegistered() public {
        address[] memory w = new address[](1);
        w[0] = eve;
        _publishParticipants(w);
        bytes32[] memory proof = _participantProof(eve);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryNotRegistered.selector, eve));
        registry.verifyParticipant(eve, orgIdOf(eve), CERTIFIED_UNTIL, proof);
    }

    function test_verifyParticipant_revertsOnOrgIdMismatch() public {
        _onboard(alice);
        // The tree certifies alice's wallet under a different organisation than she registered.
        bytes32 leaf = MerkleBuilder.participantLeaf("0999999999999", alice, CERTIFIED_UNTIL);
        vm.prank(oracle);
        registry.publishParticipantRoot(leaf);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryOrgIdMismatch.selector, alice));
        registry.verifyParticipant(alice, "0999999999999", CERTIFIED_UNTIL, new bytes32[](0));
    }

    function test_verifyParticipant_revertsWhenCertificationExpired() public {
        _register(alice);
        _certifiedUntil[alice] = NOW;
        address[] memory w = new address[](1);
        w[0] = alice;
        _publishParticipants(w);
        bytes32[] memory proof = _participantProof(alice);

        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryCertificationExpired.selector, NOW));
        registry.verifyParticipant(alice, orgIdOf(alice), NOW, proof);

        vm.expectRevert(
            abi.encodeWithSelector(ICarbonRegistry.RegistryCertificationExpired.selector, NOW - 1)
        );
        registry.verifyParticipant(alice, orgIdOf(alice), NOW - 1, proof);
    }

    function test_verifyParticipant_revertsWithoutRoot() public {
        _register(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryNoRoot.selector));
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL, new bytes32[](0));
    }

    function test_verifyParticipant_revertsOnInvalidProof() public {
        _register(alice);
        _register(bob);
        address[] memory w = new address[](3);
        (w[0], w[1], w[2]) = (alice, bob, carol);
        _publishParticipants(w);
        bytes32[] memory proof = _participantProof(alice);

        // Another wallet's proof.
        bytes32[] memory bobProof = _participantProof(bob);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL, bobProof);

        // A certification date the tree does not hold.
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL + 1, proof);

        // A tampered proof.
        proof[0] = bytes32(uint256(proof[0]) ^ 1);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL, proof);

        vm.assertFalse(registry.isVerified(alice));
    }

    function test_verifyParticipant_revertsOnInternalNodeProof() public {
        _register(alice);
        _register(bob);
        address[] memory w = new address[](4);
        (w[0], w[1], w[2], w[3]) = (alice, bob, carol, dave);
        bytes32 root = _publishParticipants(w);
        (bytes32 node, bytes32[] memory nodeProof) = MerkleBuilder.parentOf(_participantLeaves(), 0);
        // The node is in the tree, one level up, with the shortened proof...
        vm.assertTrue(MerkleProof.verify(nodeProof, root, node));
        // ...but the registry computes the leaf itself, so the shortened proof never verifies.
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL, nodeProof);
    }

    function test_verifyParticipant_revertsOnStaleProofAfterNewRoot() public {
        _onboard(alice, bob, carol);
        bytes32[] memory oldProof = _participantProof(alice);
        vm.assertTrue(registry.isVerified(alice));

        // TGO drops alice: the new root revokes everyone until they re-prove, and alice cannot.
        address[] memory w = new address[](2);
        (w[0], w[1]) = (bob, carol);
        _publishParticipants(w);
        vm.assertFalse(registry.isVerified(alice));
        vm.assertFalse(registry.isVerified(bob));

        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.verifyParticipant(alice, orgIdOf(alice), CERTIFIED_UNTIL, oldProof);

        // bob is still certified and re-proves under epoch 2.
        _verify(bob);
        vm.assertTrue(registry.isVerified(bob));
        vm.assertEq(registry.participant(bob).certifiedEpoch, 2);
        vm.assertFalse(registry.isVerified(alice));
    }

    function test_verifyParticipant_canExtendCertification() public {
        _onboard(alice);
        _certifiedUntil[alice] = CERTIFIED_UNTIL + 365 days;
        address[] memory w = new address[](1);
        w[0] = alice;
        _publishParticipants(w);
        _verify(alice);
        vm.assertEq(registry.participant(alice).certifiedUntil, CERTIFIED_UNTIL + 365 days);
    }

    function test_isVerified_falseAfterExpiry() public {
        _onboard(alice);
        vm.warp(CERTIFIED_UNTIL - 1);
        vm.assertTrue(registry.isVerified(alice));
        vm.warp(CERTIFIED_UNTIL);
        vm.assertFalse(registry.isVerified(alice));
    }

    function test_fuzz_verifyParticipant(uint256 size, uint256 index) public {
        size = bound(size, 1, 40);
        index = bound(index, 0, size - 1);
        address[] memory w = new address[](size);
        for (uint256 i; i < size; ++i) {
            w[i] = address(uint160(0x1000 + i));
        }
        _register(w[index]);
        _publishParticipants(w);
        _verify(w[index]);
        vm.assertTrue(registry.isVerified(w[index]));
    }

    // --- publishParticipantRoot ---

    function test_publishParticipantRoot_startsNewEpoch() public {
        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ParticipantRootPublished(1, bytes32(uint256(1)));
        vm.prank(oracle);
        registry.publishParticipantRoot(bytes32(uint256(1)));
        vm.prank(oracle);
        registry.publishParticipantRoot(bytes32(uint256(2)));
        (bytes32 root, uint32 epoch) = registry.participantRoot();
        vm.assertEq(root, bytes32(uint256(2)));
        vm.assertEq(epoch, 2);
        (, uint32 projectEpoch) = registry.projectRoot();
        vm.assertEq(projectEpoch, 0);
    }

    function test_publishParticipantRoot_revertsForNonOracle() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.ORACLE
            )
        );
        vm.prank(alice);
        registry.publishParticipantRoot(bytes32(uint256(1)));

        // The admin grants roles but does not hold them.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, admin, Roles.ORACLE
            )
        );
        vm.prank(admin);
        registry.publishParticipantRoot(bytes32(uint256(1)));
    }

    function test_publishParticipantRoot_revertsOnZeroRoot() public {
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryZeroRoot.selector));
        vm.prank(oracle);
        registry.publishParticipantRoot(bytes32(0));
    }

    // --- registerProject ---

    function _projectEpoch() internal view returns (uint32 epoch) {
        (, epoch) = registry.projectRoot();
    }

    function test_registerProject_storesCertifiedRecordAndEmits() public {
        _onboard(alice);
        _listProject(alice, PROJECT, false);
        ICarbonRegistry.ProjectRegistration memory r = _registration(PROJECT);
        bytes32 key = keccak256(bytes(PROJECT));
        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ProjectRegistered(
            key, alice, 1, r.standard, r.projectType, r.latitudeE6, r.longitudeE6, r.projectId, r.methodology
        );
        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ProjectCertified(key, 1, false);
        vm.prank(alice);
        vm.assertEq(registry.registerProject(r, false, _projectProof(PROJECT)), key);

        ICarbonRegistry.Project memory p = registry.project(key);
        vm.assertEq(p.owner, alice);
        vm.assertEq(uint256(p.standard), uint256(r.standard));
        vm.assertEq(uint256(p.projectType), uint256(r.projectType));
        vm.assertFalse(p.additional);
        vm.assertEq(p.certifiedEpoch, 1);
        vm.assertEq(p.index, 1);
        vm.assertEq(p.methodologyHash, keccak256(bytes(r.methodology)));
        vm.assertEq(int256(p.latitudeE6), int256(r.latitudeE6));
        vm.assertEq(int256(p.longitudeE6), int256(r.longitudeE6));
        vm.assertEq(registry.projectKeyAt(1), key);
        vm.assertEq(registry.projectCount(), 1);
        vm.assertEq(registry.projectKeyOf(PROJECT), key);
        (uint24 index, address owner, bool additional) = registry.certifiedProject(key);
        vm.assertEq(index, 1);
        vm.assertEq(owner, alice);
        vm.assertFalse(additional);
    }

    function test_registerProject_recordsAdditionality() public {
        _onboard(alice);
        bytes32 key = _registerProject(alice, PROJECT, true);
        (uint24 index,, bool additional) = registry.certifiedProject(key);
        vm.assertEq(index, 1);
        vm.assertTrue(additional);
    }

    function test_registerProject_revertsOnEmptyId() public {
        _onboard(alice);
        _listProject(alice, PROJECT, true);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryEmptyId.selector));
        vm.prank(alice);
        registry.registerProject(_registration(""), true, new bytes32[](0));
    }

    function test_registerProject_revertsForUnverifiedCaller() public {
        _onboard(alice);
        _register(dave);
        _listProject(dave, PROJECT, true);
        bytes32[] memory proof = _projectProof(PROJECT);

        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryNotVerified.selector, dave));
        vm.prank(dave); // registered and TGO-listed as the owner, but not certified as a participant
        registry.registerProject(_registration(PROJECT), true, proof);

        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryNotVerified.selector, eve));
        vm.prank(eve); // not even registered
        registry.registerProject(_registration(PROJECT), true, proof);

        // alice is revoked by a new root that leaves her out.
        _listProject(alice, "TH-CCEP-2025-0002", true);
        proof = _projectProof("TH-CCEP-2025-0002");
        address[] memory w = new address[](1);
        w[0] = bob;
        _publishParticipants(w);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryNotVerified.selector, alice));
        vm.prank(alice);
        registry.registerProject(_registration("TH-CCEP-2025-0002"), true, proof);
        vm.assertEq(registry.projectCount(), 0);
    }

    function test_registerProject_revertsWithoutRoot() public {
        _onboard(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryNoRoot.selector));
        vm.prank(alice);
        registry.registerProject(_registration(PROJECT), true, new bytes32[](0));
    }

    function test_registerProject_revertsOnInvalidProof() public {
        _onboard(alice, bob, carol);
        _listProject(alice, PROJECT, false);
        _listProject(bob, "TH-CCEP-2025-0002", true);
        bytes32[] memory proof = _projectProof(PROJECT);

        // The tree says not additional: claiming additionality does not verify (CCP #5).
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        vm.prank(alice);
        registry.registerProject(_registration(PROJECT), true, proof);

        // Another project's proof; a project TGO never listed.
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        vm.prank(alice);
        registry.registerProject(_registration(PROJECT), false, _projectProof("TH-CCEP-2025-0002"));
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        vm.prank(carol);
        registry.registerProject(_registration("TH-CCEP-2025-0099"), false, proof);
        vm.assertEq(registry.projectCount(), 0);
    }

    function test_registerProject_revertsOnInternalNodeProof() public {
        _onboard(alice, bob, carol);
        _listProject(alice, PROJECT, true);
        _listProject(bob, "TH-CCEP-2025-0002", true);
        _listProject(carol, "TH-CCEP-2025-0003", true);
        (bytes32[] memory leaves,) = _projectLeaves();
        (bytes32 node, bytes32[] memory nodeProof) = MerkleBuilder.parentOf(leaves, 0);
        vm.assertTrue(MerkleProof.verify(nodeProof, MerkleBuilder.root(leaves), node));
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        vm.prank(alice);
        registry.registerProject(_registration(PROJECT), true, nodeProof);
    }

    /// @dev Nobody but the owner TGO listed can take a project id: a squatter's registration
    /// reverts, and the owner registers and certifies it afterwards.
    function test_registerProject_squatterCannotTakeCertifiedProject() public {
        _onboard(alice, bob, carol);
        bytes32 key = _listProject(alice, PROJECT, true);
        bytes32[] memory proof = _projectProof(PROJECT);

        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        vm.prank(bob);
        registry.registerProject(_registration(PROJECT), true, proof);

        vm.prank(alice);
        registry.registerProject(_registration(PROJECT), true, proof);
        (, address owner,) = registry.certifiedProject(key);
        vm.assertEq(owner, alice);
        vm.assertEq(registry.project(key).owner, alice);
    }

    function test_registerProject_revertsOnBadCoordinates() public {
        _onboard(alice);
        _listProject(alice, PROJECT, true);
        bytes32[] memory proof = _projectProof(PROJECT);
        int32[4] memory lats = [int32(90_000_001), -90_000_001, 0, 0];
        int32[4] memory lons = [int32(0), 0, 180_000_001, -180_000_001];
        for (uint256 i; i < 4; ++i) {
            ICarbonRegistry.ProjectRegistration memory r = _registration(PROJECT);
            (r.latitudeE6, r.longitudeE6) = (lats[i], lons[i]);
            vm.expectRevert(
                abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidCoordinates.selector, lats[i], lons[i])
            );
            vm.prank(alice);
            registry.registerProject(r, true, proof);
        }
    }

    function test_registerProject_acceptsBoundaryCoordinates() public {
        _onboard(alice);
        int32[4] memory lats = [int32(90_000_000), -90_000_000, 90_000_000, -90_000_000];
        int32[4] memory lons = [int32(180_000_000), -180_000_000, -180_000_000, 180_000_000];
        for (uint256 i; i < 4; ++i) {
            _listProject(alice, string.concat(PROJECT, vm.toString(i)), true);
        }
        for (uint256 i; i < 4; ++i) {
            string memory id = string.concat(PROJECT, vm.toString(i));
            ICarbonRegistry.ProjectRegistration memory r = _registration(id);
            (r.latitudeE6, r.longitudeE6) = (lats[i], lons[i]);
            vm.prank(alice);
            registry.registerProject(r, true, _projectProof(id));
        }
        vm.assertEq(registry.projectCount(), 4);
    }

    function test_fuzz_registerProject_coordinates(int32 lat, int32 lon) public {
        _onboard(alice);
        _listProject(alice, PROJECT, true);
        ICarbonRegistry.ProjectRegistration memory r = _registration(PROJECT);
        (r.latitudeE6, r.longitudeE6) = (lat, lon);
        bool valid = lat >= -90_000_000 && lat <= 90_000_000 && lon >= -180_000_000 && lon <= 180_000_000;
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidCoordinates.selector, lat, lon)
            );
        }
        bytes32[] memory proof = _projectProof(PROJECT);
        vm.prank(alice);
        registry.registerProject(r, true, proof);
        vm.assertEq(registry.projectCount(), valid ? 1 : 0);
    }

    function test_registerProject_revertsWhenDuplicate() public {
        _onboard(alice, bob, carol);
        bytes32 key = _registerProject(alice, PROJECT, true);
        bytes32[] memory proof = _projectProof(PROJECT);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonRegistry.RegistryProjectAlreadyRegistered.selector, key)
        );
        vm.prank(alice);
        registry.registerProject(_registration(PROJECT), true, proof);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonRegistry.RegistryProjectAlreadyRegistered.selector, key)
        );
        vm.prank(bob);
        registry.registerProject(_registration(PROJECT), true, proof);
        vm.assertEq(registry.projectCount(), 1);
    }

    // --- certifyProject ---

    function test_certifyProject_recertifiesUnderNewRootAndEmits() public {
        _onboard(alice, bob, carol);
        bytes32 key = _registerProject(alice, PROJECT, true);
        _registerProject(bob, "TH-CCEP-2025-0002", false);
        (bytes32[] memory leaves,) = _projectLeaves();
        vm.prank(oracle);
        registry.publishProjectRoot(MerkleBuilder.root(leaves)); // same tree, new epoch
        uint32 epoch = _projectEpoch();
        (uint24 index,,) = registry.certifiedProject(key);
        vm.assertEq(index, 0); // lapsed until re-proved

        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ProjectCertified(key, epoch, true);
        vm.prank(eve); // anyone may submit
        registry.certifyProject(PROJECT, true, MerkleBuilder.proof(leaves, 0));

        address owner;
        bool additional;
        (index, owner, additional) = registry.certifiedProject(key);
        vm.assertEq(index, 1);
        vm.assertEq(owner, alice);
        vm.assertTrue(additional);
        vm.assertEq(registry.project(key).certifiedEpoch, epoch);
    }

    function test_certifyProject_updatesAdditionality() public {
        _onboard(alice);
        bytes32 key = _registerProject(alice, PROJECT, true);
        _projectAdditional[key] = false; // TGO revises its assessment
        _publishProjects();
        (uint24 index,, bool additional) = registry.certifiedProject(key);
        vm.assertEq(index, 1);
        vm.assertFalse(additional);
    }

    function test_certifyProject_revertsOnUnknownProject() public {
        vm.prank(oracle);
        registry.publishProjectRoot(bytes32(uint256(1)));
        bytes32 key = keccak256(bytes(PROJECT));
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryUnknownProject.selector, key));
        registry.certifyProject(PROJECT, true, new bytes32[](0));
    }

    function test_certifyProject_revertsOnInvalidProof() public {
        _onboard(alice, bob, carol);
        _registerProject(alice, PROJECT, false);
        _registerProject(bob, "TH-CCEP-2025-0002", true);
        (bytes32[] memory leaves,) = _projectLeaves();
        vm.prank(oracle);
        registry.publishProjectRoot(MerkleBuilder.root(leaves));

        // The tree says not additional: claiming additionality does not verify (CCP #5).
        bytes32[] memory proof = MerkleBuilder.proof(leaves, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.certifyProject(PROJECT, true, proof);

        // Another project's proof.
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.certifyProject(PROJECT, false, MerkleBuilder.proof(leaves, 1));
    }

    function test_certifyProject_revertsOnInternalNodeProof() public {
        _onboard(alice, bob, carol);
        _registerProject(alice, PROJECT, true);
        _registerProject(bob, "TH-CCEP-2025-0002", true);
        _registerProject(carol, "TH-CCEP-2025-0003", true);
        (bytes32[] memory leaves,) = _projectLeaves();
        bytes32 root = MerkleBuilder.root(leaves);
        vm.prank(oracle);
        registry.publishProjectRoot(root);
        (bytes32 node, bytes32[] memory nodeProof) = MerkleBuilder.parentOf(leaves, 0);
        vm.assertTrue(MerkleProof.verify(nodeProof, root, node));
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.certifyProject(PROJECT, true, nodeProof);
    }

    function test_certifyProject_revertsOnStaleProofAfterNewRoot() public {
        _onboard(alice, bob, carol);
        bytes32 key = _registerProject(alice, PROJECT, true);
        _registerProject(bob, "TH-CCEP-2025-0002", true);
        bytes32[] memory oldProof = _projectProof(PROJECT);

        _projectInTree[key] = false; // TGO withdraws the project
        _publishProjects();
        (uint24 index, address owner, bool additional) = registry.certifiedProject(key);
        vm.assertEq(index, 0);
        vm.assertEq(owner, address(0));
        vm.assertFalse(additional);

        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
        registry.certifyProject(PROJECT, true, oldProof);
    }

    function test_certifiedProject_zeroForUnknown() public view {
        (uint24 index, address owner, bool additional) = registry.certifiedProject(keccak256("nope"));
        vm.assertEq(index, 0);
        vm.assertEq(owner, address(0));
        vm.assertFalse(additional);
    }

    // --- publishProjectRoot ---

    function test_publishProjectRoot_startsNewEpoch() public {
        vm.expectEmit(address(registry));
        emit ICarbonRegistry.ProjectRootPublished(1, bytes32(uint256(7)));
        vm.prank(oracle);
        registry.publishProjectRoot(bytes32(uint256(7)));
        (bytes32 root, uint32 epoch) = registry.projectRoot();
        vm.assertEq(root, bytes32(uint256(7)));
        vm.assertEq(epoch, 1);
        (, uint32 participantEpoch) = registry.participantRoot();
        vm.assertEq(participantEpoch, 0);
    }

    function test_publishProjectRoot_revertsForNonOracle() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, tgo, Roles.ORACLE
            )
        );
        vm.prank(tgo);
        registry.publishProjectRoot(bytes32(uint256(1)));
    }

    function test_publishProjectRoot_revertsOnZeroRoot() public {
        vm.expectRevert(abi.encodeWithSelector(ICarbonRegistry.RegistryZeroRoot.selector));
        vm.prank(oracle);
        registry.publishProjectRoot(bytes32(0));
    }
}
