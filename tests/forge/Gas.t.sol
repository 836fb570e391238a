// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICarbonCredits} from "../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../contracts/interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "../../contracts/interfaces/IEmissionDataLog.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";

import {BaseTest} from "./utils/BaseTest.sol";
import {GasBudgets} from "./utils/GasBudgets.sol";

/// @title GasTest
/// @notice gasUsed of the core operations, each held to its budget in bench/gas-budgets.json and
/// written to bench/snapshots/GasTest.json: the scenarios of bench/gas.py, step for step.
/// @dev Isolation mode: every call below is a transaction of its own (cold accounts and slots,
/// 21,000 + calldata + execution - refund), so a test replays the steps before the measured
/// transaction and each figure is what anvil reports for it (see GasBudgets).
/// forge-config: default.isolate = true
/// forge-config: bench.isolate = true
contract GasTest is BaseTest {
    uint256 internal constant TREE_SIZE = 1024;
    string internal constant PROJECT_ID = "TH-TVER-2025-0001";
    string internal constant SERIAL_PREFIX = "TVER-TH-TVER-2025-0001-2025";

    /// @dev The four wallets the benchmark uses, at the head of the 1,024-leaf participant tree.
    address[4] internal users;
    bytes32 internal projectKey;

    function setUp() public override {
        super.setUp();
        address[] memory wallets = new address[](TREE_SIZE);
        for (uint256 i; i < TREE_SIZE; ++i) {
            wallets[i] =
                i < 4 ? makeAddr(string.concat("user ", vm.toString(i))) : address(uint160(0xC0FFEE0000 + i));
            _orgIds[wallets[i]] = _orgId(i);
        }
        users = [wallets[0], wallets[1], wallets[2], wallets[3]];
        _publishParticipants(wallets);
        projectKey = keccak256(bytes(PROJECT_ID));
    }

    // --- participants ---

    function test_gas_registerParticipant() public {
        _registerUser(0);
        _registerUser(1);
        GasBudgets.measure("register_participant");
    }

    function test_gas_verifyParticipant1024() public {
        for (uint256 i; i < 4; ++i) {
            _registerUser(i);
        }
        _verifyUser(0);
        _verifyUser(1);
        GasBudgets.measure("verify_participant");
        vm.assertTrue(registry.isVerified(users[1]));
    }

    function test_gas_registerProject() public {
        _onboardUsers();
        _registerProject(users[0], PROJECT_ID, true);
        GasBudgets.report("register_project");
    }

    // --- credits ---

    function test_gas_issueBatch() public {
        _onboardUsers();
        _registerProject(users[0], PROJECT_ID, true);
        _issueBatch(1, 10_000, 0);
        GasBudgets.measure("issue_batch_first_in_namespace");
        _issueBatch(10_001, 20_000, 1);
        GasBudgets.measure("issue_batch");
    }

    function test_gas_transfer() public {
        uint256 batchId = _issuedBatch();
        vm.prank(users[0]);
        credits.transfer(users[1], batchId, 2000);
        GasBudgets.measure("transfer");
    }

    function test_gas_retire() public {
        uint256 batchId = _issuedBatch();
        vm.prank(users[0]);
        credits.transfer(users[1], batchId, 2000);
        vm.prank(users[1]);
        credits.retire(batchId, 100, "warm-up", ICarbonCredits.RetirementPurpose.VoluntaryOffset, NOW, NOW);
        vm.prank(users[1]);
        credits.retire(
            batchId, 250, "Siam Cement Exports", ICarbonCredits.RetirementPurpose.Cbam, NOW - 90 days, NOW
        );
        GasBudgets.measure("retire");
    }

    // --- emission data ---

    function test_gas_commitBatch1000() public {
        _onboardUsers();
        vm.startPrank(oracle);
        dataLog.commitBatch(_emissionBatch(0));
        GasBudgets.measure("log_emission_batch_1000_first_of_year");
        dataLog.commitBatch(_emissionBatch(1000));
        vm.stopPrank();
        GasBudgets.measure("log_emission_batch_1000");
        GasBudgets.measure("batch_commit_gas_1000"); // the oracle's name for the same transaction
    }

    function test_gas_commitBatchSigned2of3() public {
        _onboardUsers();
        vm.prank(oracle);
        dataLog.commitBatch(_emissionBatch(0));
        // Operators: the oracle and two more; the oracle and the second sign (the third is down).
        uint256[2] memory keys = [uint256(keccak256("oracle")), uint256(keccak256("bench operator 2"))];
        vm.startPrank(admin);
        dataLog.grantRole(Roles.REPORTER, vm.addr(keys[1]));
        dataLog.grantRole(Roles.REPORTER, vm.addr(uint256(keccak256("bench operator 3"))));
        dataLog.setQuorum(2);
        vm.stopPrank();
        for (uint256 offset = 2000; offset <= 3000; offset += 1000) {
            IEmissionDataLog.EmissionBatch memory b = _emissionBatch(offset);
            bytes memory signatures = _sign2(keys, dataLog.batchDigest(b));
            vm.prank(admin); // a relayer: the signatures authorize the commit
            dataLog.commitBatchSigned(b, signatures);
        }
        GasBudgets.measure("batch_commit_gas_1000_quorum_2_of_3");
    }

    function test_gas_logEmissionSingle() public {
        _onboardUsers();
        vm.startPrank(oracle);
        dataLog.logEmission(users[2], bytes32(0), 13_700_000, 100_500_000, 1200, 90, NOW - 30);
        dataLog.logEmission(users[2], bytes32(0), 13_700_000, 100_500_000, 1300, 90, NOW - 29);
        vm.stopPrank();
        GasBudgets.measure("log_emission_single");
    }

    // --- steps ---

    /// @dev TGO's organisation ids as the benchmark writes them.
    function _orgId(uint256 i) internal pure returns (string memory) {
        bytes memory digits = bytes(vm.toString(10_000 + i)); // 5 digits: drop the leading 1
        return string.concat("TGO-ORG-", string(abi.encodePacked(digits[1], digits[2], digits[3], digits[4])));
    }

    function _registerUser(uint256 i) internal {
        vm.prank(users[i]);
        registry.registerParticipant(
            orgIdOf(users[i]),
            ICarbonRegistry.AccountType.Corporation,
            ICarbonRegistry.TradeRole.Both,
            ICarbonRegistry.Sector.Industry
        );
    }

    /// @dev The wallet submits its own proof, as in the benchmark.
    function _verifyUser(uint256 i) internal {
        bytes32[] memory proof = _participantProof(users[i]);
        vm.prank(users[i]);
        registry.verifyParticipant(users[i], orgIdOf(users[i]), CERTIFIED_UNTIL, proof);
    }

    function _onboardUsers() internal {
        for (uint256 i; i < 4; ++i) {
            _registerUser(i);
        }
        for (uint256 i; i < 4; ++i) {
            _verifyUser(i);
        }
    }

    function _issueBatch(uint48 serialStart, uint48 serialEnd, uint48 prevSerialStart)
        internal
        returns (uint256 batchId)
    {
        ICarbonCredits.IssueParams memory p = ICarbonCredits.IssueParams({
            projectKey: projectKey,
            vintage: 2025,
            creditType: ICarbonCredits.CreditType.Removal,
            bufferBps: 1000,
            serialPrefix: SERIAL_PREFIX,
            serialStart: serialStart,
            serialEnd: serialEnd,
            prevSerialStart: prevSerialStart
        });
        vm.prank(tgo);
        batchId = credits.issueBatch(p);
    }

    /// @dev Users onboarded, the project registered, both batches of the namespace issued to
    /// users[0]; returns the second batch.
    function _issuedBatch() internal returns (uint256) {
        _onboardUsers();
        _registerProject(users[0], PROJECT_ID, true);
        _issueBatch(1, 10_000, 0);
        return _issueBatch(10_001, 20_000, 1);
    }

    /// @dev The benchmark's batch of 1,000 graded readings of users[2] (sequence numbers from
    /// `offset`), 3 s apart within the last two hours, in Q2 2026.
    function _emissionBatch(uint256 offset) internal view returns (IEmissionDataLog.EmissionBatch memory) {
        uint40 start = NOW - 2 hours;
        return IEmissionDataLog.EmissionBatch({
            batchId: keccak256(abi.encode("bench batch", offset)),
            participant: users[2],
            projectKey: bytes32(0),
            periodStart: start,
            periodEnd: start + 2997,
            readingCount: 1000,
            readingsRoot: keccak256(abi.encode("bench readings", offset)),
            kgCO2e: 2_524_500,
            qualityScore: 83,
            gradeCounts: uint192(334) | uint192(333) << 32 | uint192(333) << 64,
            flow: IEmissionDataLog.Flow.Emission
        });
    }

    /// @dev Signatures of both keys over `digest`, in ascending signer order.
    function _sign2(uint256[2] memory keys, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v0, bytes32 r0, bytes32 s0) = vm.sign(keys[0], digest);
        (uint8 v1, bytes32 r1, bytes32 s1) = vm.sign(keys[1], digest);
        return vm.addr(keys[0]) < vm.addr(keys[1])
            ? abi.encodePacked(r0, s0, v0, r1, s1, v1)
            : abi.encodePacked(r1, s1, v1, r0, s0, v0);
    }
}
