// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {IERC6909} from "@openzeppelin/contracts/interfaces/draft-IERC6909.sol";
import {ERC6909} from "solady/tokens/ERC6909.sol";

import {ICarbonCredits} from "../../contracts/interfaces/ICarbonCredits.sol";
import {QuarterLib} from "../../contracts/libraries/QuarterLib.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {SystemTest} from "./utils/BaseTest.sol";
import {MerkleBuilder} from "./utils/MerkleBuilder.sol";
import {Vm} from "./utils/Vm.sol";

contract CarbonCreditsTest is SystemTest {
    bytes32 internal ns = keccak256(bytes(PREFIX));
    address internal exchange = makeAddr("exchange");

    // --- issueBatch ---

    function test_issueBatch_mintsToOwnerAndEmits() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1001, 2000, 0);
        p.bufferBps = 1000;
        uint256 expectedId = _batchId(PREFIX, 1001);
        vm.expectEmit(address(credits));
        emit ICarbonCredits.BatchIssued(
            expectedId, pAdd, alice, 1, 2025, ICarbonCredits.CreditType.Removal, 1001, 2000, 100, PREFIX
        );
        uint256 id = _issue(p);

        vm.assertEq(id, expectedId);
        vm.assertEq(id, credits.batchIdOf(ns, 1001));
        vm.assertEq(credits.serialNamespaceOf(PREFIX), ns);
        vm.assertEq(credits.balanceOf(alice, id), 900);
        vm.assertEq(credits.bufferOf(id), 100);
        vm.assertEq(credits.firstSerialStart(ns), 1001);
        ICarbonCredits.Batch memory b = credits.batch(id);
        vm.assertEq(b.projectIndex, 1);
        vm.assertEq(b.vintage, 2025);
        vm.assertEq(uint256(b.creditType), uint256(ICarbonCredits.CreditType.Removal));
        vm.assertEq(b.bufferBps, 1000);
        vm.assertEq(b.serialStart, 1001);
        vm.assertEq(b.serialEnd, 2000);
        vm.assertEq(b.nextSerialStart, 0);
        vm.assertEq(b.retired, 0);
    }

    function test_issueBatch_roundsBufferUp() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 7, 0);
        p.bufferBps = 1; // 7 * 0.01% = 0.0007 t, withheld as 1 whole credit
        uint256 id = _issue(p);
        vm.assertEq(credits.bufferOf(id), 1);
        vm.assertEq(credits.balanceOf(alice, id), 6);
    }

    function test_issueBatch_acceptsSingleCreditAndMaxSerial() public {
        uint48 max = type(uint48).max;
        uint256 id = _issue(pAdd, max, max, 0);
        vm.assertEq(credits.balanceOf(alice, id), 1);
        uint256 id2 = _issue(pAdd, 1, max - 1, 0);
        vm.assertEq(credits.balanceOf(alice, id2), max - 1);
        vm.assertEq(credits.batch(id2).nextSerialStart, max);
    }

    function test_issueBatch_revertsForNonIssuer() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 10, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.ISSUER
            )
        );
        vm.prank(alice);
        credits.issueBatch(p);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, oracle, Roles.ISSUER
            )
        );
        vm.prank(oracle);
        credits.issueBatch(p);
    }

    function test_issueBatch_revertsForUncertifiedProject() public {
        // Unknown project.
        bytes32 unknown = keccak256("TH-CCEP-UNKNOWN");
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotCertified.selector, unknown));
        _issue(unknown, 1, 10, 0);
        // Registered, then left out of the current tree.
        bytes32 key = _registerProject(carol, "TH-CCEP-2025-0003", true);
        _projectInTree[key] = false;
        _publishProjects();
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotCertified.selector, key));
        _issue(key, 1, 10, 0);
    }

    function test_issueBatch_revertsForNonAdditionalProject() public {
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotAdditional.selector, pNonAdd));
        _issue(pNonAdd, 1, 10, 0);
    }

    function test_issueBatch_revertsForProjectRevokedByNewRoot() public {
        _issue(pAdd, 1, 10, 0);
        _projectInTree[pAdd] = false;
        _publishProjects();
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotCertified.selector, pAdd));
        _issue(pAdd, 11, 20, 1);
    }

    function test_issueBatch_revertsUntilProjectReproved() public {
        (bytes32[] memory leaves,) = _projectLeaves();
        vm.prank(oracle);
        registry.publishProjectRoot(MerkleBuilder.root(leaves)); // same tree, new epoch
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotCertified.selector, pAdd));
        _issue(pAdd, 1, 10, 0);
        registry.certifyProject(P_ADD, true, _projectProof(P_ADD));
        _issue(pAdd, 1, 10, 0);
    }

    function test_issueBatch_revertsWhenOwnerRevoked() public {
        address[] memory w = new address[](2);
        (w[0], w[1]) = (bob, carol);
        _publishParticipants(w); // alice, the project owner, is no longer certified
        _verify(bob);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, alice));
        _issue(pAdd, 1, 10, 0);
    }

    function test_issueBatch_revertsOnBadVintage() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 10, 0);
        p.vintage = 1989;
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidVintage.selector, uint16(1989)));
        _issue(p);
        p.vintage = 2200;
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidVintage.selector, uint16(2200)));
        _issue(p);
        p.vintage = 1990;
        _issue(p);
        p = _params(pAdd, 11, 20, 1);
        p.vintage = 2199;
        _issue(p);
    }

    function test_issueBatch_revertsOnInvalidSerialRange() public {
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidSerialRange.selector, 0, 10));
        _issue(pAdd, 0, 10, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidSerialRange.selector, 0, 0));
        _issue(pAdd, 0, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidSerialRange.selector, 11, 10));
        _issue(pAdd, 11, 10, 0);
    }

    function test_issueBatch_revertsOnEmptyPrefix() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 10, 0);
        p.serialPrefix = "";
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsEmptySerialPrefix.selector));
        _issue(p);
    }

    function test_issueBatch_revertsOnFullBuffer() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 1000, 0);
        p.bufferBps = 10_000;
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidBuffer.selector, uint16(10_000)));
        _issue(p);
        p.bufferBps = type(uint16).max;
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredits.CreditsInvalidBuffer.selector, type(uint16).max)
        );
        _issue(p);
    }

    function test_issueBatch_revertsWhenBufferLeavesNothing() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 1, 0);
        p.bufferBps = 1; // ceil(1 * 0.0001) = 1 = the whole batch
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidBuffer.selector, uint16(1)));
        _issue(p);
        p = _params(pAdd, 1, 10, 0);
        p.bufferBps = 9001; // ceil(9.001) = 10
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidBuffer.selector, uint16(9001)));
        _issue(p);
        p.bufferBps = 9000; // 9 withheld, 1 minted
        uint256 id = _issue(p);
        vm.assertEq(credits.balanceOf(alice, id), 1);
    }

    /// @dev Existing ranges [100, 199] and [300, 399]; every overlapping geometry reverts.
    function _twoRanges() internal {
        _issue(pAdd, 100, 199, 0);
        _issue(pAdd, 300, 399, 100);
    }

    function _expectOverlap(uint48 start, uint48 end, uint48 hint) internal {
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredits.CreditsSerialRangeOverlaps.selector, ns, start, end)
        );
        _issue(pAdd, start, end, hint);
    }

    function _expectBadHint(uint48 start, uint48 end, uint48 hint) internal {
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsBadSerialHint.selector, hint));
        _issue(pAdd, start, end, hint);
    }

    function test_issueBatch_revertsOnOverlapSameStart() public {
        _twoRanges();
        _expectOverlap(100, 150, 0);
        _expectOverlap(100, 199, 100);
        _expectOverlap(300, 300, 100);
        _expectOverlap(300, 500, 300);
    }

    function test_issueBatch_revertsOnOverlapInside() public {
        _twoRanges();
        _expectOverlap(120, 150, 100);
        _expectOverlap(301, 398, 300);
        _expectOverlap(399, 399, 300);
    }

    function test_issueBatch_revertsOnOverlapCovering() public {
        _twoRanges();
        _expectOverlap(50, 250, 0);
        _expectOverlap(99, 200, 0);
        _expectOverlap(50, 500, 0);
        _expectOverlap(250, 400, 100);
    }

    function test_issueBatch_revertsOnOverlapTouchingPrevEnd() public {
        _twoRanges();
        _expectOverlap(199, 250, 100);
        _expectOverlap(399, 450, 300);
    }

    function test_issueBatch_revertsOnOverlapTouchingNextStart() public {
        _twoRanges();
        _expectOverlap(200, 300, 100);
        _expectOverlap(1, 100, 0);
    }

    function test_issueBatch_fillsExactGapsAndKeepsListSorted() public {
        _twoRanges();
        _issue(pAdd, 200, 299, 100); // exactly between
        _issue(pAdd, 1, 99, 0); // new head, ends right below the old head
        _issue(pAdd, 400, 400, 300); // new tail
        uint48[5] memory starts = [uint48(1), 100, 200, 300, 400];
        uint48[5] memory ends = [uint48(99), 199, 299, 399, 400];
        uint48 cursor = credits.firstSerialStart(ns);
        for (uint256 i; i < 5; ++i) {
            vm.assertEq(cursor, starts[i]);
            ICarbonCredits.Batch memory b = credits.batch(_batchId(PREFIX, cursor));
            vm.assertEq(b.serialEnd, ends[i]);
            cursor = b.nextSerialStart;
        }
        vm.assertEq(cursor, 0);
    }

    function test_issueBatch_revertsOnWrongHint() public {
        _twoRanges();
        _issue(pAdd, 500, 599, 300);
        // The range right below 700 starts at 500, not 300 or 100 (hint too far below: next < start).
        _expectBadHint(700, 710, 300);
        _expectBadHint(700, 710, 100);
        _expectBadHint(250, 260, 0); // 100 lies below: the head hint is wrong
        _expectBadHint(700, 710, 0);
    }

    function test_issueBatch_revertsOnNonexistentHint() public {
        _twoRanges();
        _expectBadHint(250, 260, 150); // a serial inside [100, 199], not a range start
        _expectBadHint(250, 260, 249); // an unused serial
        _expectBadHint(250, 260, 250); // the new range's own start
    }

    function test_issueBatch_revertsOnHintAboveStart() public {
        _twoRanges();
        _expectBadHint(250, 260, 300);
        _expectBadHint(50, 60, 100);
    }

    function test_issueBatch_revertsOnHintFromAnotherNamespace() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 100, 199, 0);
        p.serialPrefix = "VCS";
        _issue(p);
        _expectBadHint(300, 399, 100); // 100 starts a range of VCS, not of PREFIX
    }

    function test_issueBatch_namespacesAreIndependent() public {
        uint256 a = _issue(pAdd, 1, 100, 0);
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 100, 0);
        p.serialPrefix = "VCS";
        uint256 b = _issue(p);
        vm.assertNotEq(a, b);
        vm.assertEq(credits.firstSerialStart(keccak256("VCS")), 1);
        vm.assertEq(credits.balanceOf(alice, a), 100);
        vm.assertEq(credits.balanceOf(alice, b), 100);
    }

    // --- issueBatches ---

    function test_issueBatches_issuesAllInOrder() public {
        ICarbonCredits.IssueParams[] memory ps = new ICarbonCredits.IssueParams[](3);
        ps[0] = _params(pAdd, 1, 100, 0);
        ps[1] = _params(pAdd, 101, 200, 1); // hints may name a range of the same call
        ps[2] = _params(pAdd, 1, 50, 0);
        ps[2].serialPrefix = "VCS";
        vm.prank(tgo);
        uint256[] memory ids = credits.issueBatches(ps);
        vm.assertEq(ids.length, 3);
        vm.assertEq(ids[0], _batchId(PREFIX, 1));
        vm.assertEq(ids[1], _batchId(PREFIX, 101));
        vm.assertEq(ids[2], _batchId("VCS", 1));
        vm.assertEq(credits.balanceOf(alice, ids[1]), 100);
        vm.assertEq(credits.batch(ids[0]).nextSerialStart, 101);
    }

    function test_issueBatches_revertsAllOrNone() public {
        ICarbonCredits.IssueParams[] memory ps = new ICarbonCredits.IssueParams[](3);
        ps[0] = _params(pAdd, 1, 100, 0);
        ps[1] = _params(pAdd, 101, 200, 1);
        ps[2] = _params(pAdd, 150, 250, 101); // overlaps ps[1]
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredits.CreditsSerialRangeOverlaps.selector, ns, 150, 250)
        );
        vm.prank(tgo);
        credits.issueBatches(ps);
        vm.assertEq(credits.firstSerialStart(ns), 0);
        vm.assertEq(credits.batch(_batchId(PREFIX, 1)).serialStart, 0);
        vm.assertEq(credits.balanceOf(alice, _batchId(PREFIX, 1)), 0);

        ps[2] = _params(pNonAdd, 300, 400, 101);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotAdditional.selector, pNonAdd));
        vm.prank(tgo);
        credits.issueBatches(ps);
    }

    function test_issueBatches_revertsForNonIssuer() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.ISSUER
            )
        );
        vm.prank(alice);
        credits.issueBatches(new ICarbonCredits.IssueParams[](0));
    }

    function test_issueBatches_emptyIsNoop() public {
        vm.prank(tgo);
        vm.assertEq(credits.issueBatches(new ICarbonCredits.IssueParams[](0)).length, 0);
    }

    // --- transfer ---

    function test_transfer_toVerifiedParticipant() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectEmit(address(credits));
        emit IERC6909.Transfer(alice, alice, bob, id, 40);
        vm.prank(alice);
        vm.assertTrue(credits.transfer(bob, id, 40));
        vm.assertEq(credits.balanceOf(alice, id), 60);
        vm.assertEq(credits.balanceOf(bob, id), 40);
    }

    function test_transfer_revertsToUnverifiedReceiver() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, dave));
        vm.prank(alice);
        credits.transfer(dave, id, 1); // registered, not certified
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, eve));
        vm.prank(alice);
        credits.transfer(eve, id, 1); // unregistered
    }

    function test_transfer_revertsToRevokedReceiver() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        address[] memory w = new address[](2);
        (w[0], w[1]) = (alice, carol);
        _publishParticipants(w); // bob dropped
        _verify(alice);
        _verify(carol);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, bob));
        vm.prank(alice);
        credits.transfer(bob, id, 1);
        vm.prank(alice);
        credits.transfer(carol, id, 1);
    }

    function test_transfer_revertsToExpiredReceiver() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.warp(CERTIFIED_UNTIL);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, bob));
        vm.prank(alice);
        credits.transfer(bob, id, 1);
    }

    function test_transfer_revertsOnZeroAmount() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsZeroAmount.selector));
        vm.prank(alice);
        credits.transfer(bob, id, 0);
    }

    function test_transfer_revertsWhenInsufficient() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientBalance.selector));
        vm.prank(alice);
        credits.transfer(bob, id, 101);
    }

    function test_transfer_toSystemHolder() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectEmit(address(credits));
        emit ICarbonCredits.SystemHolderSet(exchange, true);
        vm.prank(admin);
        credits.setSystemHolder(exchange, true);
        vm.assertTrue(credits.isSystemHolder(exchange));
        vm.prank(alice);
        credits.transfer(exchange, id, 30);
        vm.assertEq(credits.balanceOf(exchange, id), 30);
        // The exchange settles to a verified buyer.
        vm.prank(exchange);
        credits.transfer(bob, id, 30);

        vm.prank(admin);
        credits.setSystemHolder(exchange, false);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, exchange));
        vm.prank(alice);
        credits.transfer(exchange, id, 1);
    }

    function test_transferFrom_checksReceiver() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.prank(alice);
        credits.approve(exchange, id, 50);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, eve));
        vm.prank(exchange);
        credits.transferFrom(alice, eve, id, 10);
        vm.prank(exchange);
        credits.transferFrom(alice, carol, id, 10);
        vm.assertEq(credits.balanceOf(carol, id), 10);
        vm.assertEq(credits.allowance(alice, exchange, id), 40);
    }

    function test_setSystemHolder_revertsForNonAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, tgo, bytes32(0))
        );
        vm.prank(tgo);
        credits.setSystemHolder(exchange, true);
    }

    // --- retire ---

    function test_retire_burnsAndEmitsCertificate() public {
        uint256 id = _issue(pAdd, 1001, 2000, 0);
        vm.recordLogs();
        vm.prank(alice);
        (uint48 first, uint48 last) = credits.retire(
            id,
            250,
            "PTT Global Chemical",
            ICarbonCredits.RetirementPurpose.Cbam,
            1_767_225_600,
            1_774_976_399
        );
        vm.assertEq(first, 1001);
        vm.assertEq(last, 1250);

        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 2); // ERC-6909 Transfer (burn), then the certificate
        Vm.Log memory cert = logs[1];
        vm.assertEq(cert.emitter, address(credits));
        vm.assertEq(cert.topics.length, 4);
        vm.assertEq(cert.topics[0], ICarbonCredits.CreditsRetired.selector);
        vm.assertEq(uint256(cert.topics[1]), id);
        vm.assertEq(address(uint160(uint256(cert.topics[2]))), alice);
        vm.assertEq(uint256(cert.topics[3]), uint256(ICarbonCredits.RetirementPurpose.Cbam));
        (uint48 sFirst, uint48 sLast, uint40 cStart, uint40 cEnd, string memory beneficiary) =
            abi.decode(cert.data, (uint48, uint48, uint40, uint40, string));
        vm.assertEq(sFirst, 1001);
        vm.assertEq(sLast, 1250);
        vm.assertEq(cStart, 1_767_225_600);
        vm.assertEq(cEnd, 1_774_976_399);
        vm.assertEq(beneficiary, "PTT Global Chemical");

        vm.assertEq(credits.balanceOf(alice, id), 750);
        vm.assertEq(credits.batch(id).retired, 250);
    }

    function test_retire_sequentialRangesAreConsecutive() public {
        uint256 id = _issue(pAdd, 1001, 2000, 0);
        vm.prank(alice);
        credits.transfer(bob, id, 300);

        (uint48 f1, uint48 l1) = _retire(alice, id, 10);
        (uint48 f2, uint48 l2) = _retire(bob, id, 1);
        (uint48 f3, uint48 l3) = _retire(alice, id, 89);
        vm.expectEmit(address(credits));
        emit ICarbonCredits.CreditsRetired(
            id,
            bob,
            ICarbonCredits.RetirementPurpose.Compliance,
            1101,
            1399,
            uint40(QuarterLib.periodStart(QuarterLib.period(NOW))),
            NOW,
            "Siam Cement PCL"
        );
        (uint48 f4, uint48 l4) = _retire(bob, id, 299);

        vm.assertEq(f1, 1001);
        vm.assertEq(l1, 1010);
        vm.assertEq(f2, 1011);
        vm.assertEq(l2, 1011);
        vm.assertEq(f3, 1012);
        vm.assertEq(l3, 1100);
        vm.assertEq(f4, 1101);
        vm.assertEq(l4, 1399);
        vm.assertEq(credits.batch(id).retired, 399);
    }

    function test_retire_neverReachesBuffer() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 100, 0);
        p.bufferBps = 2000;
        uint256 id = _issue(p);
        (uint48 first, uint48 last) = _retire(alice, id, 80);
        vm.assertEq(first, 1);
        vm.assertEq(last, 80); // serials 81..100 are the buffer, withheld from the top
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientBalance.selector));
        _retire(alice, id, 1);
    }

    function test_retire_revertsWhenMoreThanHeld() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientBalance.selector));
        _retire(alice, id, 101);
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientBalance.selector));
        _retire(bob, id, 1);
        vm.expectRevert(abi.encodeWithSelector(ERC6909.InsufficientBalance.selector));
        _retire(alice, id, type(uint48).max);
        vm.assertEq(credits.batch(id).retired, 0);
    }

    function test_retire_revertsOnZeroAmount() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsZeroAmount.selector));
        _retire(alice, id, 0);
    }

    function test_retire_revertsOnUnknownBatch() public {
        uint256 id = _batchId(PREFIX, 1);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsUnknownBatch.selector, id));
        _retire(alice, id, 1);
    }

    function test_retire_revertsOnEmptyBeneficiary() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsEmptyBeneficiary.selector));
        vm.prank(alice);
        credits.retire(id, 1, "", ICarbonCredits.RetirementPurpose.VoluntaryOffset, 0, 0);
    }

    function test_retire_revertsOnBadClaimPeriod() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredits.CreditsInvalidClaimPeriod.selector, NOW, NOW - 1)
        );
        vm.prank(alice);
        credits.retire(id, 1, "x", ICarbonCredits.RetirementPurpose.VoluntaryOffset, NOW, NOW - 1);
        vm.prank(alice); // a one-instant period is fine
        credits.retire(id, 1, "x", ICarbonCredits.RetirementPurpose.VoluntaryOffset, NOW, NOW);
    }

    // --- views ---

    function test_views_unknownBatchIsZero() public view {
        uint256 id = _batchId(PREFIX, 42);
        vm.assertEq(credits.bufferOf(id), 0);
        vm.assertEq(credits.batch(id).serialStart, 0);
        vm.assertEq(credits.firstSerialStart(ns), 0);
        vm.assertEq(credits.registry(), address(registry));
    }

    function test_supportsInterface() public view {
        vm.assertTrue(credits.supportsInterface(type(IERC6909).interfaceId));
        vm.assertTrue(credits.supportsInterface(type(IAccessControl).interfaceId));
        vm.assertTrue(credits.supportsInterface(type(IERC165).interfaceId));
        vm.assertFalse(credits.supportsInterface(0xffffffff));
    }

    // --- compliance accounting and allowances (quarterly settlement) ---

    function test_retire_compliance_countsForTheClaimQuarter() public {
        uint256 id = _issue(pAdd, 1, 1000, 0);
        uint16 q2 = QuarterLib.period(NOW);
        uint40 q2Start = uint40(QuarterLib.periodStart(q2));
        vm.startPrank(alice);
        credits.retire(id, 30, "Siam Cement PCL", ICarbonCredits.RetirementPurpose.Compliance, q2Start, NOW);
        credits.retire(id, 12, "Siam Cement PCL", ICarbonCredits.RetirementPurpose.Compliance, q2Start - 10, q2Start - 1);
        credits.retire(id, 5, "Siam Cement PCL", ICarbonCredits.RetirementPurpose.Cbam, q2Start, NOW); // not CB
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonCredits.CreditsClaimSpansQuarters.selector, q2Start - 1, NOW)
        );
        credits.retire(id, 1, "Siam Cement PCL", ICarbonCredits.RetirementPurpose.Compliance, q2Start - 1, NOW);
        vm.stopPrank();
        vm.assertEq(credits.complianceRetired(alice, q2), 30);
        vm.assertEq(credits.complianceRetired(alice, q2 - 1), 12);
        vm.assertEq(credits.complianceRetired(bob, q2), 0);
    }

    function test_issueAllowance_onlyByTheAllowanceIssuer() public {
        address settlement = makeAddr("settlement");
        vm.prank(admin);
        credits.grantRole(Roles.ALLOWANCE_ISSUER, settlement);
        uint16 period = 2026 * 4; // 2026Q1
        vm.assertEq(credits.allowancePrefix(period), "TH-ALLOWANCE-2026Q1");

        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, tgo, Roles.ALLOWANCE_ISSUER)
        );
        vm.prank(tgo);
        credits.issueAllowance(alice, period, 1, 10, 0);

        vm.prank(settlement);
        uint256 id = credits.issueAllowance(alice, period, 1, 120, 0);
        vm.assertEq(id, _batchId("TH-ALLOWANCE-2026Q1", 1));
        vm.assertEq(credits.balanceOf(alice, id), 120);
        ICarbonCredits.Batch memory b = credits.batch(id);
        vm.assertEq(uint256(b.creditType), uint256(ICarbonCredits.CreditType.Allowance));
        vm.assertEq(b.vintage, 2026);
        vm.assertEq(b.projectIndex, 0);
        vm.prank(settlement);
        credits.issueAllowance(bob, period, 121, 130, 1); // the next participant's range follows
        vm.expectRevert(
            abi.encodeWithSelector(
                ICarbonCredits.CreditsSerialRangeOverlaps.selector, keccak256("TH-ALLOWANCE-2026Q1"), 125, 140
            )
        );
        vm.prank(settlement);
        credits.issueAllowance(bob, period, 125, 140, 121);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, dave));
        vm.prank(settlement);
        credits.issueAllowance(dave, period, 131, 140, 121);
    }

    function test_issueBatch_refusesAllowanceType() public {
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, 10, 0);
        p.creditType = ICarbonCredits.CreditType.Allowance;
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsAllowanceOnlyBySettlement.selector));
        _issue(p);
    }

    function test_metadata_wholeTonnes() public view {
        vm.assertEq(credits.decimals(1), 0);
        vm.assertEq(credits.symbol(1), "tCO2e");
        vm.assertEq(credits.name(1), "CarboniX carbon credit");
        vm.assertEq(bytes(credits.tokenURI(1)).length, 0);
    }

    function test_transfer_revertsWithEther() public {
        uint256 id = _issue(pAdd, 1, 100, 0);
        vm.deal(alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsEtherNotAccepted.selector));
        vm.prank(alice);
        credits.transfer{value: 1}(bob, id, 10);
        vm.prank(alice);
        credits.setOperator(carol, true);
        vm.deal(carol, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsEtherNotAccepted.selector));
        vm.prank(carol);
        credits.transferFrom{value: 1}(alice, bob, id, 10);
        vm.assertEq(credits.balanceOf(alice, id), 100);
        vm.assertEq(address(credits).balance, 0);
    }

    // --- fuzz ---

    /// @dev Inserts `count` random ranges into one namespace, each in a free gap with the correct
    /// hint, then proves that a random overlapping range reverts under every possible hint and that
    /// the on-chain list is sorted, disjoint and complete.
    function test_fuzz_issueBatch_rangesNeverOverlap(uint256 seed, uint256 count, uint48 oStart, uint48 oLen)
        public
    {
        count = bound(count, 1, 12);
        uint48[] memory starts = new uint48[](count);
        uint48[] memory ends = new uint48[](count);
        uint256 n;
        for (uint256 i; i < count; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            uint48 start = uint48(bound(seed, 1, 1000));
            uint48 len = uint48(bound(seed >> 64, 1, 120));
            (bool free, uint48 hint, uint48 maxEnd) = _gap(starts, ends, n, start);
            if (!free) continue;
            uint48 end = start + len - 1 > maxEnd ? maxEnd : start + len - 1;
            _issue(pAdd, start, end, hint);
            (starts[n], ends[n]) = (start, end);
            ++n;
        }

        // An overlapping candidate: shares at least one serial with range k.
        if (n > 0) {
            uint256 k = oStart % n;
            uint48 s = uint48(bound(oStart, 1, ends[k]));
            uint48 e = uint48(bound(oLen, s > starts[k] ? s : starts[k], uint256(ends[k]) + 200));
            for (uint256 h; h <= n; ++h) {
                uint48 hint = h == n ? 0 : starts[h];
                vm.prank(tgo);
                try credits.issueBatch(_params(pAdd, s, e, hint)) {
                    revert("overlapping range accepted");
                } catch (bytes memory err) {
                    bytes4 sel = bytes4(err);
                    vm.assertTrue(
                        sel == ICarbonCredits.CreditsSerialRangeOverlaps.selector
                            || sel == ICarbonCredits.CreditsBadSerialHint.selector
                    );
                }
            }
        }

        _assertList(starts, ends, n);
    }

    /// @dev For a free `start`: the start of the range right below (0: head) and the last serial
    /// before the next range.
    function _gap(uint48[] memory starts, uint48[] memory ends, uint256 n, uint48 start)
        internal
        pure
        returns (bool free, uint48 hint, uint48 maxEnd)
    {
        maxEnd = type(uint48).max;
        for (uint256 j; j < n; ++j) {
            if (starts[j] <= start) {
                if (ends[j] >= start) return (false, 0, 0);
                if (starts[j] > hint) hint = starts[j];
            } else if (starts[j] - 1 < maxEnd) {
                maxEnd = starts[j] - 1;
            }
        }
        free = true;
    }

    function _assertList(uint48[] memory starts, uint48[] memory ends, uint256 n) internal view {
        uint48 cursor = credits.firstSerialStart(ns);
        uint48 prevEnd;
        uint256 seen;
        while (cursor != 0) {
            ICarbonCredits.Batch memory b = credits.batch(_batchId(PREFIX, cursor));
            vm.assertEq(b.serialStart, cursor);
            vm.assertGt(cursor, prevEnd);
            bool known;
            for (uint256 j; j < n; ++j) {
                if (starts[j] == cursor && ends[j] == b.serialEnd) known = true;
            }
            vm.assertTrue(known);
            prevEnd = b.serialEnd;
            cursor = b.nextSerialStart;
            ++seen;
        }
        vm.assertEq(seen, n);
    }

    function test_fuzz_issueBatch_buffer(uint48 quantity, uint16 bps) public {
        quantity = uint48(bound(quantity, 1, 1e12));
        bps = uint16(bound(bps, 0, 10_000));
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1, quantity, 0);
        p.bufferBps = bps;
        uint256 buffer = (uint256(quantity) * bps + 9999) / 10_000;
        if (buffer >= quantity) {
            vm.expectRevert(abi.encodeWithSelector(ICarbonCredits.CreditsInvalidBuffer.selector, bps));
            _issue(p);
            return;
        }
        uint256 id = _issue(p);
        vm.assertEq(credits.bufferOf(id), buffer);
        vm.assertEq(credits.balanceOf(alice, id), quantity - buffer);
        vm.assertGe(buffer * 10_000, uint256(quantity) * bps); // never less than its share
        if (buffer != 0) vm.assertLt((buffer - 1) * 10_000, uint256(quantity) * bps); // rounded up by < 1
    }

    /// @dev Random retirement amounts by two holders: serials are consecutive from the bottom and
    /// quantity = balances + retired + buffer throughout.
    function test_fuzz_retire(uint48 quantity, uint16 bps, uint48[6] memory amounts) public {
        quantity = uint48(bound(quantity, 2, 1e9));
        bps = uint16(bound(bps, 0, 5000));
        ICarbonCredits.IssueParams memory p = _params(pAdd, 1_000_000, 1_000_000 + quantity - 1, 0);
        p.bufferBps = bps;
        uint256 id = _issue(p);
        uint48 buffer = credits.bufferOf(id);
        vm.prank(alice);
        credits.transfer(bob, id, (quantity - buffer) / 2 + 1);

        uint48 nextSerial = 1_000_000;
        for (uint256 i; i < amounts.length; ++i) {
            address holder = i % 2 == 0 ? alice : bob;
            uint256 bal = credits.balanceOf(holder, id);
            if (bal == 0) continue;
            uint48 amount = uint48(bound(amounts[i], 1, bal));
            (uint48 first, uint48 last) = _retire(holder, id, amount);
            vm.assertEq(first, nextSerial);
            vm.assertEq(last, nextSerial + amount - 1);
            nextSerial = last + 1;
            uint256 balances = credits.balanceOf(alice, id) + credits.balanceOf(bob, id);
            vm.assertEq(quantity, balances + credits.batch(id).retired + buffer);
        }
        vm.assertLe(nextSerial - 1, p.serialEnd - buffer);
    }
}
