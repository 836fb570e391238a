// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EmissionDataLog} from "../../contracts/EmissionDataLog.sol";
import {ICarbonCredits} from "../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../contracts/interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "../../contracts/interfaces/IEmissionDataLog.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {BaseTest} from "./utils/BaseTest.sol";
import {MerkleBuilder} from "./utils/MerkleBuilder.sol";

/// @title GasTest
/// @notice Execution gas of each operation in a steady state, written to bench/snapshots/GasTest.json.
/// @dev setUp prepares the state and each test makes exactly one call, so that call meets cold
/// accounts and slots as a real transaction does (setUp runs as its own transaction). The numbers
/// exclude the 21,000 intrinsic gas and calldata; the anvil benchmark measures full gasUsed.
contract GasTest is BaseTest {
    uint256 internal constant TREE_SIZE = 1024;
    uint48 internal constant BATCH_SIZE = 1000;

    address internal frank = makeAddr("frank");
    address internal grace = makeAddr("grace");

    bytes32 internal pKey;
    uint256 internal batchA;
    bytes32[] internal _graceProof;

    /// @dev A second data log run by three operators with a quorum of two, and the signatures of
    /// operators 1 and 2 over its next batch (operator 3 is down).
    EmissionDataLog internal quorumLog;
    bytes internal _quorumSignatures;

    function setUp() public virtual override {
        super.setUp();
        // Thai juristic-person ids (13 digits), as TGO's registry holds them.
        _orgIds[alice] = "0105536000011";
        _orgIds[bob] = "0105536000012";
        _orgIds[carol] = "0105536000013";
        _orgIds[frank] = "0105536000014";
        _orgIds[grace] = "0105536000015";

        // A 1,024-leaf participant tree: four real wallets and 1,020 other certified organisations.
        address[] memory wallets = new address[](TREE_SIZE);
        (wallets[0], wallets[1], wallets[2], wallets[3]) = (alice, bob, carol, grace);
        for (uint256 i = 4; i < TREE_SIZE; ++i) {
            wallets[i] = address(uint160(0xC0FFEE0000 + i));
            _orgIds[wallets[i]] = string.concat("01055", vm.toString(36_000_000 + i));
        }
        for (uint256 i; i < 4; ++i) {
            _register(wallets[i]);
        }
        _publishParticipants(wallets);
        bytes32[] memory leaves = _participantLeaves();
        for (uint256 i; i < 3; ++i) {
            registry.verifyParticipant(
                wallets[i], orgIdOf(wallets[i]), CERTIFIED_UNTIL, MerkleBuilder.proof(leaves, i)
            );
        }
        _graceProof = MerkleBuilder.proof(leaves, 3);
        require(_graceProof.length == 10, "1,024 leaves: 10 proof elements");

        // One certified additional project with one batch, part of it already retired.
        pKey = _registerProject(alice, "TH-CCEP-2025-0001", true);
        _publishProjects();
        ICarbonCredits.IssueParams memory p = _params(pKey, 1, BATCH_SIZE, 0);
        p.bufferBps = 1000;
        batchA = _issue(p);
        _retire(alice, batchA, 5);

        // The data log already holds Q1 2026 for alice: later commits update her year slot.
        vm.prank(oracle);
        dataLog.commitBatch(_emissionBatch("2026-Q1", 1_767_200_400, 1_774_976_399));

        quorumLog = new EmissionDataLog(admin, registry);
        uint256[3] memory keys = [uint256(keccak256("operator 1")), uint256(keccak256("operator 2")), 0];
        keys[2] = uint256(keccak256("operator 3"));
        vm.startPrank(admin);
        for (uint256 i; i < 3; ++i) {
            quorumLog.grantRole(Roles.REPORTER, vm.addr(keys[i]));
        }
        quorumLog.setQuorum(2);
        vm.stopPrank();
        quorumLog.commitBatchSigned(
            _emissionBatch("2026-Q1", 1_767_200_400, 1_774_976_399),
            _sign2(keys, _emissionBatch("2026-Q1", 1_767_200_400, 1_774_976_399))
        );
        _quorumSignatures = _sign2(keys, _emissionBatch("2026-Q2", 1_774_976_400, NOW));
    }

    /// @dev Signatures of the first two keys over `b` on the quorum log, in ascending signer order.
    function _sign2(uint256[3] memory keys, IEmissionDataLog.EmissionBatch memory b)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = quorumLog.batchDigest(b);
        (uint8 v0, bytes32 r0, bytes32 s0) = vm.sign(keys[0], digest);
        (uint8 v1, bytes32 r1, bytes32 s1) = vm.sign(keys[1], digest);
        return vm.addr(keys[0]) < vm.addr(keys[1])
            ? abi.encodePacked(r0, s0, v0, r1, s1, v1)
            : abi.encodePacked(r1, s1, v1, r0, s0, v0);
    }

    function _emissionBatch(bytes32 id, uint40 start, uint40 end)
        internal
        view
        returns (IEmissionDataLog.EmissionBatch memory)
    {
        return IEmissionDataLog.EmissionBatch({
            batchId: id,
            participant: alice,
            projectKey: pKey,
            periodStart: start,
            periodEnd: end,
            readingCount: 1000,
            readingsRoot: keccak256(abi.encode("readings", id)),
            kgCO2e: 1_250_000,
            qualityScore: 94,
            gradeCounts: uint192(700) | uint192(250) << 32 | uint192(40) << 64 | uint192(10) << 96,
            flow: IEmissionDataLog.Flow.Emission
        });
    }

    function test_gas_registerParticipant() public {
        vm.prank(frank);
        registry.registerParticipant(
            "0105536000014",
            ICarbonRegistry.AccountType.Corporation,
            ICarbonRegistry.TradeRole.Both,
            ICarbonRegistry.Sector.Industry
        );
        vm.snapshotGasLastCall("register_participant");
    }

    function test_gas_verifyParticipant1024() public {
        registry.verifyParticipant(grace, "0105536000015", CERTIFIED_UNTIL, _graceProof);
        vm.snapshotGasLastCall("verify_participant_1024");
        vm.assertTrue(registry.isVerified(grace));
    }

    function test_gas_issueBatch() public {
        ICarbonCredits.IssueParams memory p = _params(pKey, BATCH_SIZE + 1, 2 * BATCH_SIZE, 1);
        p.bufferBps = 1000;
        vm.prank(tgo);
        credits.issueBatch(p);
        vm.snapshotGasLastCall("issue_batch");
    }

    function test_gas_transfer() public {
        vm.prank(alice);
        credits.transfer(bob, batchA, 100);
        vm.snapshotGasLastCall("transfer");
    }

    function test_gas_retire() public {
        vm.prank(alice);
        credits.retire(
            batchA,
            100,
            "Siam Cement PCL",
            ICarbonCredits.RetirementPurpose.Compliance,
            1_767_200_400,
            1_774_976_399
        );
        vm.snapshotGasLastCall("retire");
    }

    function test_gas_logEmissionBatch1000() public {
        IEmissionDataLog.EmissionBatch memory b = _emissionBatch("2026-Q2", 1_774_976_400, NOW);
        vm.prank(oracle);
        dataLog.commitBatch(b);
        vm.snapshotGasLastCall("log_emission_batch_1000");
    }

    function test_gas_commitBatchSigned2of3() public {
        IEmissionDataLog.EmissionBatch memory b = _emissionBatch("2026-Q2", 1_774_976_400, NOW);
        quorumLog.commitBatchSigned(b, _quorumSignatures);
        vm.snapshotGasLastCall("batch_commit_gas_1000_quorum_2_of_3");
    }

    function test_gas_logEmissionSingle() public {
        vm.prank(oracle);
        dataLog.logEmission(alice, pKey, 13_756_331, 100_501_765, 1250, 94, NOW - 900);
        vm.snapshotGasLastCall("log_emission_single");
    }
}
