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
            "b2",
            alice,
            pAdd,
            b.periodStart,
            b.periodEnd,
            1000,
            b.readingsRoot,
            5000,
            92,
            0,
            IEmissionDataLog.Flow.Removal
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

    /// @dev The contract converts only the start and compares the end with the first second of
    /// the next quarter; the reference converts both ends. Half the runs end next to a boundary.
    function test_fuzz_commitBatch_periodCheckMatchesTwoConversions(
        uint256 start,
        uint256 length,
        bool nearBoundary
    ) public {
        uint256 end;
        if (nearBoundary) {
            uint256 boundary = quarterStarts[bound(start, 1, 4)];
            start = boundary - 1 - bound(length, 0, 10 days);
            end = boundary - 1 + (length & 1); // the last second of the quarter, or the next one's first
        } else {
            start = bound(start, quarterStarts[0] - 400 days, NOW);
            end = start + bound(length, 0, 200 days);
            if (end > NOW) end = NOW;
        }
        (uint40 s, uint40 e) = (uint40(start), uint40(end));
        (uint16 y1, uint8 q1) = dataLog.quarterOf(s);
        (uint16 y2, uint8 q2) = dataLog.quarterOf(e);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (b.periodStart, b.periodEnd) = (s, e);
        if (y1 != y2 || q1 != q2) {
            _expectCommitRevert(
                b, abi.encodeWithSelector(IEmissionDataLog.DataLogPeriodSpansQuarters.selector, s, e)
            );
        } else {
            _commit(b);
            vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, y1, q1), 5000);
        }
    }

    /// @dev The fields are read from calldata by hand: a value that does not fit its type reverts
    /// (without data, as Solidity's ABI decoder does), never commits a truncated or odd value.
    function test_fuzz_commitBatch_revertsOnDirtyField(uint256 field, uint256 high) public {
        // Word index of each narrow field and its bit width (flow: an enum of two members).
        uint8[8] memory words = [1, 3, 4, 5, 7, 8, 9, 10];
        uint16[8] memory bits = [uint16(160), 40, 40, 32, 64, 8, 192, 1];
        field = bound(field, 0, 7);
        high = bound(high, 1, type(uint256).max >> bits[field]) << bits[field];
        bytes memory data = abi.encodeCall(dataLog.commitBatch, (_batch("b1")));
        uint256 offset = 4 + 32 * uint256(words[field]);
        assembly ("memory-safe") {
            let p := add(add(data, 0x20), offset)
            mstore(p, or(mload(p), high))
        }
        vm.prank(oracle);
        (bool ok, bytes memory ret) = address(dataLog).call(data);
        vm.assertFalse(ok, "dirty field accepted");
        vm.assertEq(ret.length, 0);
        vm.assertEq(dataLog.readingsRoot("b1"), bytes32(0));
        // The same call, clean, commits.
        vm.prank(oracle);
        dataLog.commitBatch(_batch("b1"));
    }

    // --- quorum ---

    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @dev Private keys of five oracle operators (granted by `_operators`).
    function _operatorKey(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("operator", i)));
    }

    /// @dev Grants the reporter role to operators 0..n-1 (the BaseTest oracle stays one too) and sets m.
    function _operators(uint256 n, uint8 m) internal {
        vm.startPrank(admin);
        for (uint256 i; i < n; ++i) {
            dataLog.grantRole(Roles.REPORTER, vm.addr(_operatorKey(i)));
        }
        if (m != dataLog.quorum()) dataLog.setQuorum(m);
        vm.stopPrank();
    }

    function _sign(uint256 key, IEmissionDataLog.EmissionBatch memory b)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, dataLog.batchDigest(b));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The signatures of `keys` over `b`, in ascending signer order.
    function _signed(uint256[] memory keys, IEmissionDataLog.EmissionBatch memory b)
        internal
        view
        returns (bytes memory packed)
    {
        for (uint256 i = 1; i < keys.length; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j - 1]) > vm.addr(keys[j]); --j) {
                (keys[j - 1], keys[j]) = (keys[j], keys[j - 1]);
            }
        }
        for (uint256 i; i < keys.length; ++i) {
            packed = bytes.concat(packed, _sign(keys[i], b));
        }
    }

    function _keys(uint256 a, uint256 b) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](2);
        (keys[0], keys[1]) = (a, b);
    }

    function _expectSignedRevert(IEmissionDataLog.EmissionBatch memory b, bytes memory sigs, bytes memory err)
        internal
    {
        vm.expectRevert(err);
        vm.prank(eve);
        dataLog.commitBatchSigned(b, sigs);
        vm.assertEq(dataLog.readingsRoot(b.batchId), bytes32(0));
    }

    function test_batchDigest_isTheEip712DigestOfEveryField() public view {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.flow = IEmissionDataLog.Flow.Removal;
        bytes32 domain = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("CarboniX EmissionDataLog"),
                keccak256("1"),
                block.chainid,
                address(dataLog)
            )
        );
        bytes32 typeHash = keccak256(
            "EmissionBatch(bytes32 batchId,address participant,bytes32 projectKey,uint40 periodStart,"
            "uint40 periodEnd,uint32 readingCount,bytes32 readingsRoot,uint64 kgCO2e,uint8 qualityScore,"
            "uint192 gradeCounts,uint8 flow)"
        );
        vm.assertEq(dataLog.EMISSION_BATCH_TYPEHASH(), typeHash);
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(typeHash, b.batchId, b.participant, b.projectKey, b.periodStart, b.periodEnd),
                abi.encode(b.readingCount, b.readingsRoot, b.kgCO2e, b.qualityScore, b.gradeCounts, uint8(1))
            )
        );
        vm.assertEq(dataLog.batchDigest(b), keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        (, string memory name, string memory version, uint256 chainId, address verifying,,) =
            dataLog.eip712Domain();
        vm.assertEq(name, "CarboniX EmissionDataLog");
        vm.assertEq(version, "1");
        vm.assertEq(chainId, block.chainid);
        vm.assertEq(verifying, address(dataLog));
    }

    function test_batchDigest_changesWithEveryField() public view {
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        bytes32 d = dataLog.batchDigest(b);
        IEmissionDataLog.EmissionBatch[11] memory other;
        for (uint256 i; i < 11; ++i) {
            other[i] = _batch("b1");
        }
        other[0].batchId = "b2";
        other[1].participant = bob;
        other[2].projectKey = pNonAdd;
        other[3].periodStart -= 1;
        other[4].periodEnd -= 1;
        other[5].readingCount += 1;
        other[6].readingsRoot = keccak256("another root");
        other[7].kgCO2e += 1;
        other[8].qualityScore -= 1;
        other[9].gradeCounts += 1;
        other[10].flow = IEmissionDataLog.Flow.Removal;
        for (uint256 i; i < 11; ++i) {
            vm.assertNotEq(dataLog.batchDigest(other[i]), d);
        }
    }

    /// @dev Operator 0's signature of `b` and operator 1's of a batch differing only in kg CO2e,
    /// ordered by the addresses they recover to over `b`'s digest, and operator 1's stand-in there.
    function _pairWithWrongDigest(IEmissionDataLog.EmissionBatch memory b)
        internal
        view
        returns (bytes memory sigs, address stranger)
    {
        IEmissionDataLog.EmissionBatch memory wrong = _batch(b.batchId);
        wrong.kgCO2e = b.kgCO2e + 1;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_operatorKey(1), dataLog.batchDigest(wrong));
        stranger = ecrecover(dataLog.batchDigest(b), v, r, s);
        bytes memory sig1 = _sign(_operatorKey(0), b);
        bytes memory sig2 = abi.encodePacked(r, s, v);
        sigs = stranger > vm.addr(_operatorKey(0)) ? bytes.concat(sig1, sig2) : bytes.concat(sig2, sig1);
    }

    /// @dev The issue's scenario: 2-of-3, operator 3 down, operator 2 first signs another digest.
    function test_commitBatchSigned_twoOfThree() public {
        _operators(3, 2);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (bytes memory bad, address stranger) = _pairWithWrongDigest(b);
        _expectSignedRevert(
            b, bad, abi.encodeWithSelector(IEmissionDataLog.DataLogSignerNotOperator.selector, stranger)
        );

        bytes memory good = _signed(_keys(_operatorKey(0), _operatorKey(1)), b);
        vm.expectEmit(address(dataLog));
        emit IEmissionDataLog.EmissionBatchCommitted(
            "b1",
            alice,
            pAdd,
            b.periodStart,
            b.periodEnd,
            1000,
            b.readingsRoot,
            5000,
            92,
            b.gradeCounts,
            b.flow
        );
        vm.prank(eve); // anyone may send it: the signatures authorize the commit
        dataLog.commitBatchSigned(b, good);
        vm.assertEq(dataLog.readingsRoot("b1"), b.readingsRoot);
        vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), 5000);

        // Replaying the same signatures: the batch id commits once.
        _expectCommitSignedReplay(b, good);
    }

    function _expectCommitSignedReplay(IEmissionDataLog.EmissionBatch memory b, bytes memory sigs) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IEmissionDataLog.DataLogBatchAlreadyCommitted.selector, b.batchId)
        );
        dataLog.commitBatchSigned(b, sigs);
    }

    function test_commitBatchSigned_acceptsMoreThanQuorum() public {
        _operators(3, 2);
        uint256[] memory keys = new uint256[](3);
        (keys[0], keys[1], keys[2]) = (_operatorKey(0), _operatorKey(1), _operatorKey(2));
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        dataLog.commitBatchSigned(b, _signed(keys, b));
        vm.assertEq(dataLog.readingsRoot("b1"), b.readingsRoot);
    }

    function test_commitBatchSigned_oneOfOneWithOneSignature() public {
        _operators(1, 1);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        vm.prank(eve); // a relayer without any role
        dataLog.commitBatchSigned(b, _sign(_operatorKey(0), b));
        vm.assertEq(dataLog.readingsRoot("b1"), b.readingsRoot);
    }

    function test_commitBatchSigned_revertsOnDuplicateSigner() public {
        _operators(3, 2);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        bytes memory sig = _sign(_operatorKey(0), b);
        address signer = vm.addr(_operatorKey(0));
        _expectSignedRevert(
            b,
            bytes.concat(sig, sig),
            abi.encodeWithSelector(IEmissionDataLog.DataLogSignersNotAscending.selector, signer, signer)
        );
    }

    function test_commitBatchSigned_revertsOnUnsortedSigners() public {
        _operators(3, 2);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        bytes memory sorted = _signed(_keys(_operatorKey(0), _operatorKey(1)), b);
        (uint256 lo, uint256 hi) = vm.addr(_operatorKey(0)) < vm.addr(_operatorKey(1))
            ? (_operatorKey(0), _operatorKey(1))
            : (_operatorKey(1), _operatorKey(0));
        vm.assertEq(sorted, bytes.concat(_sign(lo, b), _sign(hi, b)));
        _expectSignedRevert(
            b,
            bytes.concat(_sign(hi, b), _sign(lo, b)),
            abi.encodeWithSelector(
                IEmissionDataLog.DataLogSignersNotAscending.selector, vm.addr(hi), vm.addr(lo)
            )
        );
    }

    function test_commitBatchSigned_revertsOnNonOperatorSigner() public {
        _operators(3, 2);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        uint256 outsider = uint256(keccak256("not an operator"));
        _expectSignedRevert(
            b,
            _signed(_keys(_operatorKey(0), outsider), b),
            abi.encodeWithSelector(IEmissionDataLog.DataLogSignerNotOperator.selector, vm.addr(outsider))
        );
        // A revoked operator no longer counts.
        vm.prank(admin);
        dataLog.revokeRole(Roles.REPORTER, vm.addr(_operatorKey(1)));
        _expectSignedRevert(
            b,
            _signed(_keys(_operatorKey(0), _operatorKey(1)), b),
            abi.encodeWithSelector(
                IEmissionDataLog.DataLogSignerNotOperator.selector, vm.addr(_operatorKey(1))
            )
        );
    }

    function test_commitBatchSigned_revertsOnSignatureOverAnotherBatch() public {
        _operators(3, 2);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        bytes memory sigs = _signed(_keys(_operatorKey(0), _operatorKey(1)), b);
        // The same signatures for another batch id, or the same id with other content.
        IEmissionDataLog.EmissionBatch memory other = _batch("b2");
        vm.expectRevert();
        dataLog.commitBatchSigned(other, sigs);
        other = _batch("b1");
        other.flow = IEmissionDataLog.Flow.Removal;
        vm.expectRevert();
        dataLog.commitBatchSigned(other, sigs);
        vm.assertEq(dataLog.readingsRoot("b1"), bytes32(0));
        vm.assertEq(dataLog.readingsRoot("b2"), bytes32(0));
        dataLog.commitBatchSigned(b, sigs);
    }

    function test_commitBatchSigned_revertsOnTooFewSignatures() public {
        _operators(3, 3);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        _expectSignedRevert(
            b,
            _signed(_keys(_operatorKey(0), _operatorKey(2)), b),
            abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumNotMet.selector, 2, 3)
        );
        _expectSignedRevert(
            b, "", abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumNotMet.selector, 0, 3)
        );
    }

    function test_commitBatchSigned_revertsOnMalformedSignatures() public {
        _operators(3, 1);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_operatorKey(0), dataLog.batchDigest(b));
        // The malleable twin (n - s, other v) recovers the same signer; only the low-s form counts.
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        vm.assertEq(ecrecover(dataLog.batchDigest(b), v == 27 ? 28 : 27, r, highS), vm.addr(_operatorKey(0)));
        bytes memory sigs =
            bytes.concat(_sign(_operatorKey(1), b), abi.encodePacked(r, highS, v == 27 ? 28 : 27));
        if (vm.addr(_operatorKey(1)) > vm.addr(_operatorKey(0))) {
            sigs = bytes.concat(abi.encodePacked(r, highS, v == 27 ? 28 : 27), _sign(_operatorKey(1), b));
        }
        _expectSignedRevert(
            b, sigs, _invalidSignature(vm.addr(_operatorKey(1)) > vm.addr(_operatorKey(0)) ? 0 : 1)
        );
        bytes memory invalidSignature = _invalidSignature(0);
        _expectSignedRevert(b, abi.encodePacked(r, s, uint8(29)), invalidSignature); // bad v
        _expectSignedRevert(b, abi.encodePacked(r, s, uint8(v - 27)), invalidSignature); // v as 0/1
        _expectSignedRevert(b, abi.encodePacked(bytes32(0), s, v), invalidSignature); // recovers to nobody
        bytes memory lengthError =
            abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidSignaturesLength.selector, uint256(64));
        _expectSignedRevert(b, abi.encodePacked(r, s), lengthError); // compact (EIP-2098) form
        _expectSignedRevert(
            b,
            abi.encodePacked(r, s, v, uint8(0)),
            abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidSignaturesLength.selector, uint256(66))
        );
        dataLog.commitBatchSigned(b, abi.encodePacked(r, s, v));
    }

    function _invalidSignature(uint256 index) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidSignature.selector, index);
    }

    /// @dev n operators, quorum m, a random subset signs: it commits exactly when the subset has m.
    function test_fuzz_commitBatchSigned(uint8 m, uint8 subset, uint16 kg) public {
        uint256 n = 5;
        m = uint8(bound(m, 1, n));
        _operators(n, m);
        IEmissionDataLog.EmissionBatch memory b = _batch("b1");
        b.kgCO2e = kg;
        uint256 count;
        for (uint256 i; i < n; ++i) {
            if (subset >> i & 1 == 1) ++count;
        }
        uint256[] memory keys = new uint256[](count);
        count = 0;
        for (uint256 i; i < n; ++i) {
            if (subset >> i & 1 == 1) keys[count++] = _operatorKey(i);
        }
        bytes memory sigs = _signed(keys, b);
        if (count < m) {
            _expectSignedRevert(
                b, sigs, abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumNotMet.selector, count, m)
            );
        } else {
            dataLog.commitBatchSigned(b, sigs);
            vm.assertEq(dataLog.totalOf(alice, IEmissionDataLog.Flow.Emission, 2026, 2), kg);
        }
    }

    // --- quorum administration ---

    function test_setQuorum_setsAndEmits() public {
        vm.assertEq(dataLog.quorum(), 1);
        vm.expectEmit(address(dataLog));
        emit IEmissionDataLog.QuorumChanged(1, 2);
        vm.prank(admin);
        dataLog.setQuorum(2);
        vm.assertEq(dataLog.quorum(), 2);
    }

    function test_setQuorum_revertsForNonAdmin() public {
        bytes32 adminRole = dataLog.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, oracle, adminRole
            )
        );
        vm.prank(oracle); // not even an operator may change it
        dataLog.setQuorum(2);
        vm.assertEq(dataLog.quorum(), 1);
    }

    function test_setQuorum_revertsOutOfBounds() public {
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidQuorum.selector, 0));
        dataLog.setQuorum(0);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogInvalidQuorum.selector, 17));
        dataLog.setQuorum(17);
        dataLog.setQuorum(16);
        vm.stopPrank();
        vm.assertEq(dataLog.quorum(), 16);
    }

    function test_commitBatch_revertsWhenQuorumAboveOne() public {
        _operators(3, 2);
        _expectCommitRevert(
            _batch("b1"), abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumRequired.selector, uint8(2))
        );
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumRequired.selector, uint8(2)));
        _logEmission(42, NOW);
        // An operator granted later takes the current quorum as well.
        address late = makeAddr("late operator");
        vm.prank(admin);
        dataLog.grantRole(Roles.REPORTER, late);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumRequired.selector, uint8(2)));
        vm.prank(late);
        dataLog.commitBatch(_batch("b1"));
        // Back to 1: every operator commits alone again.
        vm.prank(admin);
        dataLog.setQuorum(1);
        _commit(_batch("b1"));
        vm.prank(late);
        dataLog.commitBatch(_batch("b2"));
    }

    function test_operators_grantRevokeRenounce() public {
        address op1 = vm.addr(_operatorKey(0));
        address op2 = vm.addr(_operatorKey(1));
        _operators(2, 1);
        address[] memory ops = dataLog.operators();
        vm.assertEq(ops.length, 3);
        (address a, address b, address c) = (ops[0], ops[1], ops[2]);
        vm.assertEq(a, oracle);
        vm.assertEq(b, op1);
        vm.assertEq(c, op2);
        vm.assertTrue(dataLog.hasRole(Roles.REPORTER, op1));
        vm.assertFalse(dataLog.hasRole(Roles.REPORTER, alice));

        // Granting twice changes nothing (and emits nothing).
        vm.recordLogs();
        vm.prank(admin);
        dataLog.grantRole(Roles.REPORTER, op1);
        vm.assertEq(vm.getRecordedLogs().length, 0);
        vm.assertEq(dataLog.operators().length, 3);

        vm.prank(admin);
        dataLog.revokeRole(Roles.REPORTER, oracle); // the last one takes the freed place
        ops = dataLog.operators();
        vm.assertEq(ops.length, 2);
        (a, b) = (ops[0], ops[1]);
        vm.assertEq(a, op2);
        vm.assertEq(b, op1);
        vm.assertFalse(dataLog.hasRole(Roles.REPORTER, oracle));
        _expectCommitRevert(
            _batch("b1"),
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, oracle, Roles.REPORTER
            )
        );

        vm.prank(op2);
        dataLog.renounceRole(Roles.REPORTER, op2);
        vm.assertEq(dataLog.operators().length, 1);
        vm.assertEq(dataLog.operators()[0], op1);
        vm.prank(admin);
        dataLog.revokeRole(Roles.REPORTER, op1);
        vm.assertEq(dataLog.operators().length, 0);
        vm.prank(admin);
        dataLog.revokeRole(Roles.REPORTER, op1); // revoking a non-operator changes nothing
    }

    function test_operators_boundedAtMax() public {
        uint256 max = dataLog.MAX_OPERATORS();
        _operators(max - 1, 1); // with the BaseTest oracle: max operators
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogTooManyOperators.selector, max));
        vm.prank(admin);
        dataLog.grantRole(Roles.REPORTER, alice);
        // setQuorum rewrites every operator's slot.
        vm.prank(admin);
        dataLog.setQuorum(16);
        vm.expectRevert(abi.encodeWithSelector(IEmissionDataLog.DataLogQuorumRequired.selector, uint8(16)));
        vm.prank(vm.addr(_operatorKey(max - 2)));
        dataLog.commitBatch(_batch("b1"));
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
            hashes[i] =
                keccak256(abi.encode(bytes32("SENSOR-7"), uint40(Q2_2026 + i * 900), uint64(10 + i), "A"));
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
        vm.assertTrue(
            dataLog.verifyReading("b1", _readingHashes(n)[index], MerkleBuilder.proof(leaves, index))
        );
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
