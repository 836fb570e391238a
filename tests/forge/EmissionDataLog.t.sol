// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IEmissionDataLog} from "../../contracts/interfaces/IEmissionDataLog.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {SystemTest} from "./utils/BaseTest.sol";
import {MerkleBuilder} from "./utils/MerkleBuilder.sol";

contract EmissionDataLogTest is SystemTest {
    /// @dev 2026-04-01 00:00 ICT, the start of Q2 2026.
    uint40 internal constant Q2_2026 = 1_774_976_400;
    /// @dev Starts of the four quarters of 2025 in ICT, and of 2026 Q1.
    uint40[5] internal quarterStarts =
        [1_735_664_400, 1_743_440_400, 1_751_302_800, 1_759_251_600, 1_767_200_400];

    function _packGrades(uint32[6] memory counts) internal pure returns (uint192 packed) {
        for (uint256 i; i < 6; ++i) {
            packed |= uint192(counts[i]) << uint192(32 * i);
        }
    }

    function _batch(bytes32 id) internal view returns (IEmissionDataLog.EmissionBatch memory) {
        return IEmissionDataLog.EmissionBatch({
            batchId: id,
            participant: alice,
            projectKey: pAdd,
            periodStart: Q2_2026,
            periodEnd: NOW,
            readingCount: 1000,
            readingsRoot: keccak256(abi.encode("root", id)),
            kgCO2e: 5000,
            qualityScore: 92,
            gradeCounts: _packGrades([uint32(600), 300, 80, 15, 4, 1]),
            flow: IEmissionDataLog.Flow.Emission
        });
    }

    function _commit(IEmissionDataLog.EmissionBatch memory b) internal {
        vm.prank(oracle);
        dataLog.commitBatch(b);
    }

    function _expectCommitRevert(IEmissionDataLog.EmissionBatch memory b, bytes memory err) internal {
        vm.expectRevert(err);
        _commit(b);
    }

    // --- commitBatch ---

    function test_commitBatch_storesRootAndEmits() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        vm.expectEmit(address(dataLog));
        emit IEmissionDataLog.EmissionBatchCommitted(
            b.batchId,
            alice,
            pAdd,
            b.periodStart,
            b.periodEnd,
            1000,
            b.readingsRoot,
            5000,
            92,
            b.gradeCounts,
            IEmissionDataLog.Flow.Emission
        );
        _commit(b);
        vm.assertEq(dataLog.readingsRoot("b1"), b.readingsRoot);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), 5000);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Removal, 2026, 2), 0);

        // The event is written from calldata: the last field (flow) must come out right too.
        b.batchId = "b2";
        b.flow = IEmissionDataLog.Flow.Removal;
        b.gradeCounts = 0;
        vm.expectEmit(address(dataLog));
        emit IEmissionDataLog.EmissionBatchCommitted(
            "b2", alice, pAdd, b.periodStart, b.periodEnd, 1000, b.readingsRoot, 5000, 92, 0, IEmissionDataLog.Flow.Removal
        );
        _commit(b);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 1), 0);
    }

    function test_commitBatch_revertsForNonReporter() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, Roles.REPORTER
            )
        );
        vm.prank(alice);
        dataLog.commitBatch(b);
    }

    function test_commitBatch_revertsOnReplay() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        _commit(b);
        _expectCommitRevert(
            b, abi.encodeWithSelector(IEmissionDataLog.DataLogBatchAlreadyCommitted.selector, b.batchId)
        );
        // Same id, different content: still a replay.
        b.readingsRoot = keccak256("other");
        b.kgCO2e = 1;
        _expectCommitRevert(
            b, abi.encodeWithSelector(IEmissionDataLog.DataLogBatchAlreadyCommitted.selector, b.batchId)
        );
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), 5000);
    }

    function test_commitBatch_revertsOnEmptyRoot() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.readingsRoot = bytes32(0);
        _expectCommitRevert(b, abi.encodeWithSelector(IEmissionDataLog.DataLogEmptyRoot.selector));
    }

    function test_commitBatch_revertsOnZeroReadings() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.readingCount = 0;
        b.gradeCounts = 0;
        _expectCommitRevert(b, abi.encodeWithSelector(IEmissionDataLog.DataLogEmptyBatch.selector));
    }

    function test_commitBatch_revertsOnInvertedPeriod() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.periodStart, b.periodEnd) = (NOW, NOW - 1);
        _expectCommitRevert(
            b, abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidPeriod.selector, NOW, NOW - 1)
        );
    }

    function test_commitBatch_revertsOnPeriodInFuture() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.periodEnd = NOW + 1;
        _expectCommitRevert(
            b, abi.encodeWithSelector(IEmissionDataLog.DataLogPeriodInFuture.selector, NOW + 1)
        );
        b.periodEnd = NOW; // ending now is fine
        _commit(b);
    }

    function test_commitBatch_revertsWhenPeriodSpansQuarters() public {
        // 2026-03-31T16:59:59Z is the last second of Q1 in Thai time; 17:00:00Z is 1 April 00:00 ICT.
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.periodStart, b.periodEnd) = (Q2_2026 - 1, Q2_2026);
        _expectCommitRevert(
            b,
            abi.encodeWithSelector(IEmissionDataLog.DataLogPeriodSpansQuarters.selector, Q2_2026 - 1, Q2_2026)
        );
        // Same quarter number, different year.
        (b.periodStart, b.periodEnd) = (quarterStarts[1], Q2_2026);
        _expectCommitRevert(
            b,
            abi.encodeWithSelector(
                IEmissionDataLog.DataLogPeriodSpansQuarters.selector, quarterStarts[1], Q2_2026
            )
        );

        // Each side of the boundary on its own is fine.
        (b.periodStart, b.periodEnd) = (quarterStarts[4], Q2_2026 - 1);
        _commit(b);
        b.batchId = "b2";
        (b.periodStart, b.periodEnd) = (Q2_2026, Q2_2026);
        _commit(b);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 1), 5000);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), 5000);
    }

    function test_commitBatch_revertsOnScoreAbove100() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.qualityScore = 101;
        _expectCommitRevert(
            b, abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidScore.selector, uint8(101))
        );
        b.qualityScore = 255;
        _expectCommitRevert(
            b, abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidScore.selector, uint8(255))
        );
        b.qualityScore = 100;
        _commit(b);
    }

    function test_commitBatch_revertsOnHistogramMismatch() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.gradeCounts = _packGrades([uint32(600), 300, 80, 15, 4, 2]);
        _expectCommitRevert(
            b,
            abi.encodeWithSelector(
                IEmissionDataLog.DataLogGradeCountMismatch.selector, uint256(1001), uint32(1000)
            )
        );
        // Sums are not truncated to 32 bits: six maximal grades.
        uint32 m = type(uint32).max;
        b.gradeCounts = _packGrades([m, m, m, m, m, m]);
        _expectCommitRevert(
            b,
            abi.encodeWithSelector(
                IEmissionDataLog.DataLogGradeCountMismatch.selector, uint256(m) * 6, uint32(1000)
            )
        );
        b.gradeCounts = 0; // no histogram
        _commit(b);
    }

    function test_commitBatch_revertsOnZeroParticipant() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.participant = address(0);
        _expectCommitRevert(b, abi.encodeWithSelector(IEmissionDataLog.DataLogZeroParticipant.selector));
    }

    /// @dev By design the log does not call the registry: the oracle checks registration off chain.
    function test_commitBatch_acceptsUnregisteredParticipant() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.participant = eve;
        _commit(b);
        vm.assertEq(dataLog.totalOf(eve, IEmissionDataLog.Flow.Emission, 2026, 2), 5000);
    }

    function test_commitBatch_totalsAccumulatePerQuarterAndFlow() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("e1");
        (b.periodStart, b.periodEnd, b.kgCO2e) = (quarterStarts[0], quarterStarts[0] + 1 days, 100);
        _commit(b);
        (b.batchId, b.periodStart, b.periodEnd, b.kgCO2e) =
        ("e2", quarterStarts[1] - 1, quarterStarts[1] - 1, 50);
        _commit(b); // last second of Q1 2025
        (b.batchId, b.periodStart, b.periodEnd, b.kgCO2e) = ("e3", quarterStarts[1], quarterStarts[2] - 1, 7);
        _commit(b); // the whole of Q2 2025
        (b.batchId, b.periodStart, b.periodEnd, b.kgCO2e) = ("e4", quarterStarts[3], quarterStarts[4] - 1, 9);
        _commit(b); // Q4 2025
        (b.batchId, b.flow, b.periodStart, b.periodEnd, b.kgCO2e) =
        ("r1", IEmissionDataLog.Flow.Removal, quarterStarts[0], quarterStarts[0], 30);
        _commit(b);
        (b.batchId, b.flow, b.participant, b.kgCO2e) = ("o1", IEmissionDataLog.Flow.Emission, bob, 1000);
        _commit(b);

        IEmissionDataLog.Flow e = IEmissionDataLog.Flow.Emission;
        vm.assertEq(dataLog.totalOf(alice, e, 2025, 1), 150);
        vm.assertEq(dataLog.totalOf(alice, e, 2025, 2), 7);
        vm.assertEq(dataLog.totalOf(alice, e, 2025, 3), 0);
        vm.assertEq(dataLog.totalOf(alice, e, 2025, 4), 9);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Removal, 2025, 1), 30);
        vm.assertEq(dataLog.totalOf(bob, e, 2025, 1), 1000);
        vm.assertEq(dataLog.totalOf(alice, e, 2026, 1), 0);
        vm.assertEq(dataLog.totalOf(alice, e, 2025, 0), 0);
        vm.assertEq(dataLog.totalOf(alice, e, 2025, 5), 0);
    }

    function test_commitBatch_quarterTotalOverflowPanics() public {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.kgCO2e = type(uint64).max;
        _commit(b);
        b.batchId = "b2";
        b.kgCO2e = 1;
        _expectCommitRevert(b, abi.encodeWithSignature("Panic(uint256)", 0x11));
        // The neighbouring quarter is untouched by the full one.
        b.periodStart = b.periodEnd = quarterStarts[4];
        _commit(b);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 1), 1);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), type(uint64).max);
    }

    function test_fuzz_commitBatch_quarterTotals(
        uint8[8] memory quarters,
        bool[8] memory removal,
        uint32[8] memory kg
    ) public {
        uint64[4][2] memory expected;
        for (uint256 i; i < 8; ++i) {
            uint256 q = quarters[i] % 4;
            IEmissionDataLog.EmissionBatch memory b = _batch(bytes32(i + 1));
            b.flow = removal[i] ? IEmissionDataLog.Flow.Removal : IEmissionDataLog.Flow.Emission;
            b.periodStart = quarterStarts[q] + uint40(kg[i] % 1 days);
            b.periodEnd = quarterStarts[q + 1] - 1;
            b.kgCO2e = kg[i];
            _commit(b);
            expected[removal[i] ? 1 : 0][q] += kg[i];
        }
        for (uint256 f; f < 2; ++f) {
            for (uint256 q; q < 4; ++q) {
                vm.assertEq(
                    dataLog.totalOf(alice, IEmissionDataLog.Flow(f), 2025, uint8(q + 1)),
                    expected[f][q],
                    "total"
                );
            }
        }
    }

    // --- logEmission ---

    function _logEmission(uint64 kg, uint40 timestamp) internal returns (bytes32) {
        vm.prank(oracle);
        return dataLog.logEmission(alice, pAdd, 13_756_331, 100_501_765, kg, 88, timestamp);
    }

    function test_logEmission_storesLeafAndEmits() public {
        bytes32 leaf = keccak256(
            bytes.concat(
                keccak256(
                    abi.encode(alice, pAdd, int32(13_756_331), int32(100_501_765), uint64(42), uint8(88), NOW)
                )
            )
        );
        vm.expectEmit(address(dataLog));
        emit IEmissionDataLog.EmissionRecordLogged(leaf, alice, pAdd, NOW, 42, 88, 13_756_331, 100_501_765);
        vm.assertEq(_logEmission(42, NOW), leaf);
        vm.assertEq(dataLog.readingsRoot(leaf), leaf);
        bytes32 recordHash = keccak256(
            abi.encode(alice, pAdd, int32(13_756_331), int32(100_501_765), uint64(42), uint8(88), NOW)
        );
        vm.assertTrue(dataLog.verifyReading(leaf, recordHash, new bytes32[](0)));
        vm.assertFalse(dataLog.verifyReading(leaf, leaf, new bytes32[](0)));
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), 42);
    }

    function test_logEmission_revertsOnReplay() public {
        bytes32 id = _logEmission(42, NOW);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogBatchAlreadyCommitted.selector, id));
        _logEmission(42, NOW);
        _logEmission(42, NOW - 1); // another record
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), 84);
    }

    function test_logEmission_revertsForNonReporter() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, tgo, Roles.REPORTER
            )
        );
        vm.prank(tgo);
        dataLog.logEmission(alice, pAdd, 0, 0, 1, 1, NOW);
    }

    function test_logEmission_revertsOnBadInput() public {
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogPeriodInFuture.selector, NOW + 1));
        _logEmission(1, NOW + 1);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidScore.selector, uint8(101)));
        vm.prank(oracle);
        dataLog.logEmission(alice, pAdd, 0, 0, 1, 101, NOW);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogZeroParticipant.selector));
        vm.prank(oracle);
        dataLog.logEmission(address(0), pAdd, 0, 0, 1, 1, NOW);
    }

    // --- verifyReading ---

    /// @dev Single hashes of `n` readings (what `verifyReading` takes).
    function _readingHashes(uint256 n) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            hashes[i] = keccak256(abi.encode(bytes32("SENSOR-7"), uint40(Q2_2026 + i * 900), uint64(10 + i), "A"));
        }
    }

    /// @dev The StandardMerkleTree leaves of `n` readings: their hashes hashed again.
    function _readingLeaves(uint256 n) internal pure returns (bytes32[] memory leaves) {
        leaves = _readingHashes(n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = keccak256(bytes.concat(leaves[i]));
        }
    }

    function test_verifyReading_trueForRealProof() public {
        bytes32[] memory leaves = _readingLeaves(5);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.readingsRoot, b.readingCount, b.gradeCounts) = (MerkleBuilder.root(leaves), 5, 0);
        _commit(b);
        bytes32[] memory hashes = _readingHashes(5);
        for (uint256 i; i < 5; ++i) {
            vm.assertTrue(dataLog.verifyReading("b1", hashes[i], MerkleBuilder.proof(leaves, i)));
        }
    }

    function test_verifyReading_falseForWrongLeafOrBatch() public {
        bytes32[] memory leaves = _readingLeaves(5);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.readingsRoot, b.readingCount, b.gradeCounts) = (MerkleBuilder.root(leaves), 5, 0);
        _commit(b);
        bytes32[] memory proof = MerkleBuilder.proof(leaves, 2);
        vm.assertFalse(dataLog.verifyReading("b1", keccak256("not a reading"), proof));
        bytes32[] memory hashes = _readingHashes(5);
        vm.assertFalse(dataLog.verifyReading("b1", hashes[3], proof));
        vm.assertFalse(dataLog.verifyReading("b1", leaves[2], proof)); // the leaf itself, hashed once more
        vm.assertFalse(dataLog.verifyReading("unknown", hashes[2], proof));
        vm.assertFalse(dataLog.verifyReading("unknown", bytes32(0), new bytes32[](0)));
    }

    function test_fuzz_verifyReading(uint256 n, uint256 index) public {
        n = bound(n, 1, 64);
        index = bound(index, 0, n - 1);
        bytes32[] memory leaves = _readingLeaves(n);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.readingsRoot, b.readingCount, b.gradeCounts) = (MerkleBuilder.root(leaves), uint32(n), 0);
        _commit(b);
        vm.assertTrue(dataLog.verifyReading("b1", _readingHashes(n)[index], MerkleBuilder.proof(leaves, index)));
    }

    /// @dev An internal node with the proof shortened by one level is in the tree, but it is
    /// not a reading: the contract hashes what it is given once more, so the node never matches.
    function test_verifyReading_rejectsInternalNode() public {
        bytes32[] memory leaves = _readingLeaves(4);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.readingsRoot, b.readingCount, b.gradeCounts) = (MerkleBuilder.root(leaves), 4, 0);
        _commit(b);
        (bytes32 node, bytes32[] memory nodeProof) = MerkleBuilder.parentOf(leaves, 0);
        vm.assertTrue(MerkleProof.verify(nodeProof, b.readingsRoot, node)); // the node is in the tree...
        vm.assertFalse(dataLog.verifyReading("b1", node, nodeProof), "internal node accepted as a reading");
    }

    function test_fuzz_verifyReading_rejectsEveryInternalNode(uint256 n, uint256 index) public {
        n = bound(n, 2, 64);
        index = bound(index, 0, n - 1);
        if ((index ^ 1) >= n) --index; // the last leaf of an odd level has no sibling
        bytes32[] memory leaves = _readingLeaves(n);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.readingsRoot, b.readingCount, b.gradeCounts) = (MerkleBuilder.root(leaves), uint32(n), 0);
        _commit(b);
        (bytes32 node, bytes32[] memory nodeProof) = MerkleBuilder.parentOf(leaves, index);
        vm.assertFalse(dataLog.verifyReading("b1", node, nodeProof));
    }
}
