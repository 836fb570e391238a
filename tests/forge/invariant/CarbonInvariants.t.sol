// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";

import {BaseTest, FuzzSelector} from "../utils/BaseTest.sol";
import {Handler} from "./Handler.sol";

/// @title CarbonInvariantTest
/// @notice Supply conservation, serial uniqueness, no double retirement and certification, under
/// random sequences of registrations, new roots, issuance, transfers, retirements and time.
contract CarbonInvariantTest is BaseTest {
    Handler internal handler;
    address internal exchange = makeAddr("exchange");

    function setUp() public override {
        super.setUp();
        vm.prank(admin);
        credits.setSystemHolder(exchange, true);
        handler = new Handler(registry, credits, oracle, tgo, exchange);

        handler.bootstrap(); // every run starts from a live market
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev A selector listed twice is picked twice as often: the market actions (issue, transfer,
    /// retire) are weighted up so every run builds some state; each certification step is listed once.
    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        bytes4[] memory s = new bytes4[](21);
        s[0] = Handler.registerParticipant.selector;
        s[1] = Handler.publishParticipantRoot.selector;
        s[2] = Handler.verifyParticipant.selector;
        s[3] = Handler.tryStaleProof.selector;
        s[4] = Handler.tryInternalNode.selector;
        s[5] = Handler.registerProject.selector;
        s[6] = Handler.publishProjectRoot.selector;
        s[7] = Handler.certifyProject.selector;
        s[8] = Handler.tryIssueOverlapping.selector;
        s[9] = Handler.tryIssueBadHint.selector;
        s[10] = Handler.tryIssueIneligible.selector;
        s[11] = Handler.tryTransferToUnverified.selector;
        s[12] = Handler.warp.selector;
        s[13] = Handler.issue.selector;
        s[14] = Handler.issue.selector;
        s[15] = Handler.issue.selector;
        s[16] = Handler.transfer.selector;
        s[17] = Handler.transfer.selector;
        s[18] = Handler.retire.selector;
        s[19] = Handler.retire.selector;
        s[20] = Handler.retire.selector;
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector({addr: address(handler), selectors: s});
    }

    /// @dev For every batch: quantity = sum of balances + retired + buffer, and every balance and
    /// the retired count equal the handler's ledger (balances only move by transfer and retire).
    function invariant_supplyConservation() public {
        vm.warp(handler.time());
        address[] memory holders = handler.holders();
        uint256 n = handler.batchCount();
        for (uint256 i; i < n; ++i) {
            Handler.GhostBatch memory g = handler.batchAt(i);
            ICarbonCredits.Batch memory b = credits.batch(g.id);
            uint256 balances;
            for (uint256 j; j < holders.length; ++j) {
                uint256 bal = credits.balanceOf(holders[j], g.id);
                vm.assertEq(bal, handler.ghostBalance(g.id, holders[j]), "balance != ledger");
                balances += bal;
            }
            uint256 quantity = uint256(b.serialEnd) - b.serialStart + 1;
            vm.assertEq(credits.bufferOf(g.id), g.buffer, "buffer");
            vm.assertEq(b.retired, g.retired, "retired != ledger");
            vm.assertEq(quantity, balances + b.retired + g.buffer, "quantity != balances + retired + buffer");
        }
    }

    /// @dev Each namespace's on-chain list is sorted, its ranges disjoint, and it holds exactly the
    /// batches the handler issued there.
    function invariant_serialListsSortedDisjointComplete() public view {
        uint256 n = handler.batchCount();
        for (uint8 ns; ns < 3; ++ns) {
            bytes32 namespace = keccak256(bytes(handler.prefix(ns)));
            uint48 cursor = credits.firstSerialStart(namespace);
            uint256 prevEnd;
            uint256 seen;
            while (cursor != 0) {
                uint256 id = uint256(keccak256(abi.encode(namespace, cursor)));
                ICarbonCredits.Batch memory b = credits.batch(id);
                vm.assertEq(b.serialStart, cursor, "list node is not a batch");
                vm.assertGt(cursor, prevEnd, "ranges overlap or list unsorted");
                vm.assertGe(b.serialEnd, b.serialStart, "inverted range");
                (bool exists, Handler.GhostBatch memory g) = handler.ghostBatch(id);
                vm.assertTrue(exists, "batch the handler never issued");
                vm.assertEq(g.ns, ns);
                vm.assertEq(g.end, b.serialEnd, "range end moved");
                prevEnd = b.serialEnd;
                cursor = b.nextSerialStart;
                ++seen;
            }
            uint256 expected;
            for (uint256 i; i < n; ++i) {
                if (handler.batchAt(i).ns == ns) ++expected;
            }
            vm.assertEq(seen, expected, "list incomplete");
        }
    }

    /// @dev Retirements are consecutive from the bottom of the range, never reach the buffer and
    /// never move: the recorded certificates still tile [serialStart, serialStart + retired).
    function invariant_retiredSerialsFixed() public view {
        uint256 n = handler.batchCount();
        for (uint256 i; i < n; ++i) {
            Handler.GhostBatch memory g = handler.batchAt(i);
            Handler.Retirement[] memory r = handler.retirements(g.id);
            uint256 next = g.start;
            for (uint256 k; k < r.length; ++k) {
                vm.assertEq(r[k].first, next, "gap or overlap between retirements");
                vm.assertGe(r[k].last, r[k].first);
                next = uint256(r[k].last) + 1;
            }
            vm.assertEq(next - g.start, credits.batch(g.id).retired, "retired moved");
            vm.assertLe(next - g.start, uint256(g.end) - g.start + 1 - g.buffer, "retired into the buffer");
        }
    }

    /// @dev Every batch belongs to a project the model held certified and additional at issuance,
    /// and the registry's view of verification and certification equals the model's.
    function invariant_certification() public {
        vm.warp(handler.time());
        uint256 n = handler.batchCount();
        for (uint256 i; i < n; ++i) {
            Handler.GhostBatch memory g = handler.batchAt(i);
            vm.assertTrue(handler.eligibleAtIssue(g.id), "batch for an ineligible project");
            ICarbonCredits.Batch memory b = credits.batch(g.id);
            vm.assertEq(b.projectIndex, g.projectIndex);
            vm.assertEq(registry.projectKeyAt(b.projectIndex), handler.projectKey(g.projectIndex));
        }
        address[6] memory actors = handler.actors();
        for (uint256 i; i < actors.length; ++i) {
            vm.assertEq(registry.isRegistered(actors[i]), handler.registered(actors[i]), "registration");
            vm.assertEq(registry.isVerified(actors[i]), handler.isVerifiedModel(actors[i]), "verification");
        }
    }

    /// @dev The campaign really drives the handler (forge also prints per-selector metrics).
    function afterInvariant() public view {
        vm.assertGt(handler.totalCalls(), 0, "handler never called");
    }
}
