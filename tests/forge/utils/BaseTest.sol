// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CarbonCredits} from "../../../contracts/CarbonCredits.sol";
import {CarbonRegistry} from "../../../contracts/CarbonRegistry.sol";
import {EmissionDataLog} from "../../../contracts/EmissionDataLog.sol";
import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {QuarterLib} from "../../../contracts/libraries/QuarterLib.sol";
import {Roles} from "../../../contracts/libraries/Roles.sol";

import {MerkleBuilder} from "./MerkleBuilder.sol";
import {Vm} from "./Vm.sol";

/// @notice What forge reads from `targetSelectors()` of an invariant test.
struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}

/// @title Test
/// @notice The cheatcode handle and the helpers forge-std would give (forge-std from npm is too old).
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev forge-std's `bound`: maps `x` into [min, max] keeping small values stable.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        if (x <= 3 && size > x) return min + x;
        if (x >= type(uint256).max - 3 && size > type(uint256).max - x) return max - (type(uint256).max - x);
        if (x > max) {
            uint256 diff = x - max;
            uint256 rem = diff % size;
            if (rem == 0) return max;
            return min + rem - 1;
        }
        uint256 diff2 = min - x;
        uint256 rem2 = diff2 % size;
        if (rem2 == 0) return min;
        return max - rem2 + 1;
    }

    /// @dev A labelled address derived from a name.
    function makeAddr(string memory name) internal returns (address a) {
        a = vm.addr(uint256(keccak256(bytes(name))));
        vm.label(a, name);
    }
}

/// @title BaseTest
/// @notice Deploys CarboniX once per test and offers the onboarding steps every suite needs:
/// participants registered and verified against a published TGO root, projects registered and
/// certified, batches issued.
abstract contract BaseTest is Test {
    /// @dev 2026-06-15T00:00:00Z, a Monday in Q2 2026 (Thai time).
    uint40 internal constant NOW = 1_781_481_600;
    uint40 internal constant CERTIFIED_UNTIL = NOW + 365 days;
    string internal constant PREFIX = "TH-TVER";

    address internal admin = makeAddr("admin");
    address internal oracle = makeAddr("oracle");
    address internal tgo = makeAddr("tgo");
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    /// @dev Registered, never in a TGO tree.
    address internal dave = makeAddr("dave");
    /// @dev Never registered.
    address internal eve = makeAddr("eve");

    CarbonRegistry internal registry;
    CarbonCredits internal credits;
    EmissionDataLog internal dataLog;

    /// @dev The participant tree last published by `_publishParticipants`.
    address[] internal _treeWallets;
    mapping(address wallet => string) internal _orgIds;
    mapping(address wallet => uint40) internal _certifiedUntil;

    /// @dev Every project known to the test, and the tree last published by `_publishProjects`.
    string[] internal _projectIds;
    mapping(bytes32 projectKey => address) internal _projectOwners;
    mapping(bytes32 projectKey => bool) internal _projectAdditional;
    mapping(bytes32 projectKey => bool) internal _projectInTree;

    function setUp() public virtual {
        vm.warp(NOW);
        registry = new CarbonRegistry(admin);
        credits = new CarbonCredits(admin, registry);
        dataLog = new EmissionDataLog(admin, registry);
        vm.startPrank(admin);
        registry.grantRole(Roles.ORACLE, oracle);
        dataLog.grantRole(Roles.REPORTER, oracle);
        credits.grantRole(Roles.ISSUER, tgo);
        vm.stopPrank();
        vm.label(address(registry), "CarbonRegistry");
        vm.label(address(credits), "CarbonCredits");
        vm.label(address(dataLog), "EmissionDataLog");
    }

    // --- participants ---

    function orgIdOf(address wallet) internal view returns (string memory) {
        string memory id = _orgIds[wallet];
        if (bytes(id).length != 0) return id;
        return string.concat("TH-ORG-", vm.toString(uint256(uint160(wallet))));
    }

    function _register(address wallet) internal {
        if (registry.isRegistered(wallet)) return;
        vm.prank(wallet);
        registry.registerParticipant(
            orgIdOf(wallet),
            ICarbonRegistry.AccountType.Corporation,
            ICarbonRegistry.TradeRole.Both,
            ICarbonRegistry.Sector.Energy
        );
    }

    function _participantLeaf(address wallet) internal view returns (bytes32) {
        uint40 until = _certifiedUntil[wallet];
        return MerkleBuilder.participantLeaf(orgIdOf(wallet), wallet, until == 0 ? CERTIFIED_UNTIL : until);
    }

    function _participantLeaves() internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](_treeWallets.length);
        for (uint256 i; i < leaves.length; ++i) {
            leaves[i] = _participantLeaf(_treeWallets[i]);
        }
    }

    /// @dev Publishes a TGO participant tree over `wallets` (a new epoch); nobody is verified yet.
    function _publishParticipants(address[] memory wallets) internal returns (bytes32 root) {
        delete _treeWallets;
        for (uint256 i; i < wallets.length; ++i) {
            _treeWallets.push(wallets[i]);
        }
        root = MerkleBuilder.root(_participantLeaves());
        vm.prank(oracle);
        registry.publishParticipantRoot(root);
    }

    function _participantProof(address wallet) internal view returns (bytes32[] memory) {
        for (uint256 i; i < _treeWallets.length; ++i) {
            if (_treeWallets[i] == wallet) return MerkleBuilder.proof(_participantLeaves(), i);
        }
        revert("BaseTest: wallet not in tree");
    }

    function _verify(address wallet) internal {
        uint40 until = _certifiedUntil[wallet];
        registry.verifyParticipant(
            wallet, orgIdOf(wallet), until == 0 ? CERTIFIED_UNTIL : until, _participantProof(wallet)
        );
    }

    /// @dev Registers every wallet, publishes a tree of exactly these wallets and verifies them.
    function _onboard(address[] memory wallets) internal {
        for (uint256 i; i < wallets.length; ++i) {
            _register(wallets[i]);
        }
        _publishParticipants(wallets);
        for (uint256 i; i < wallets.length; ++i) {
            _verify(wallets[i]);
        }
    }

    function _onboard(address a) internal {
        address[] memory w = new address[](1);
        w[0] = a;
        _onboard(w);
    }

    function _onboard(address a, address b, address c) internal {
        address[] memory w = new address[](3);
        (w[0], w[1], w[2]) = (a, b, c);
        _onboard(w);
    }

    // --- projects ---

    function _registration(string memory projectId)
        internal
        pure
        returns (ICarbonRegistry.ProjectRegistration memory)
    {
        return ICarbonRegistry.ProjectRegistration({
            projectId: projectId,
            standard: ICarbonRegistry.Standard.TVer,
            projectType: ICarbonRegistry.ProjectType.Forestry,
            methodology: "T-VER-S-METH-13-01",
            latitudeE6: 18_787_747,
            longitudeE6: 98_993_128
        });
    }

    /// @dev TGO lists `projectId` as owned by `owner`: publishes a new project tree with it and
    /// re-certifies the registered projects still listed. The project is not registered yet.
    function _listProject(address owner, string memory projectId, bool additional)
        internal
        returns (bytes32 projectKey)
    {
        projectKey = keccak256(bytes(projectId));
        _projectIds.push(projectId);
        _projectOwners[projectKey] = owner;
        _projectAdditional[projectKey] = additional;
        _projectInTree[projectKey] = true;
        _publishProjects();
    }

    /// @dev Lists `projectId` for `owner` (a verified participant), who then registers it with its
    /// proof: the project is registered and certified under the current root.
    function _registerProject(address owner, string memory projectId, bool additional)
        internal
        returns (bytes32 projectKey)
    {
        projectKey = _listProject(owner, projectId, additional);
        vm.prank(owner);
        registry.registerProject(_registration(projectId), additional, _projectProof(projectId));
    }

    function _projectLeaves() internal view returns (bytes32[] memory leaves, string[] memory ids) {
        uint256 n;
        for (uint256 i; i < _projectIds.length; ++i) {
            if (_projectInTree[keccak256(bytes(_projectIds[i]))]) ++n;
        }
        leaves = new bytes32[](n);
        ids = new string[](n);
        n = 0;
        for (uint256 i; i < _projectIds.length; ++i) {
            bytes32 key = keccak256(bytes(_projectIds[i]));
            if (!_projectInTree[key]) continue;
            ids[n] = _projectIds[i];
            leaves[n++] =
                MerkleBuilder.projectLeaf(_projectIds[i], _projectOwners[key], _projectAdditional[key]);
        }
    }

    /// @dev Publishes a project tree over every project still marked in-tree and certifies them all.
    function _publishProjects() internal returns (bytes32 root) {
        (bytes32[] memory leaves, string[] memory ids) = _projectLeaves();
        root = MerkleBuilder.root(leaves);
        vm.prank(oracle);
        registry.publishProjectRoot(root);
        for (uint256 i; i < ids.length; ++i) {
            bytes32 key = keccak256(bytes(ids[i]));
            if (registry.project(key).owner == address(0)) continue; // listed, not registered yet
            registry.certifyProject(ids[i], _projectAdditional[key], MerkleBuilder.proof(leaves, i));
        }
    }

    function _projectProof(string memory projectId) internal view returns (bytes32[] memory) {
        (bytes32[] memory leaves, string[] memory ids) = _projectLeaves();
        for (uint256 i; i < ids.length; ++i) {
            if (keccak256(bytes(ids[i])) == keccak256(bytes(projectId))) {
                return MerkleBuilder.proof(leaves, i);
            }
        }
        revert("BaseTest: project not in tree");
    }

    // --- credits ---

    function _params(bytes32 projectKey, uint48 serialStart, uint48 serialEnd, uint48 prevSerialStart)
        internal
        pure
        returns (ICarbonCredits.IssueParams memory)
    {
        return ICarbonCredits.IssueParams({
            projectKey: projectKey,
            vintage: 2025,
            creditType: ICarbonCredits.CreditType.Removal,
            bufferBps: 0,
            serialPrefix: PREFIX,
            serialStart: serialStart,
            serialEnd: serialEnd,
            prevSerialStart: prevSerialStart
        });
    }

    function _issue(ICarbonCredits.IssueParams memory p) internal returns (uint256 batchId) {
        vm.prank(tgo);
        batchId = credits.issueBatch(p);
    }

    function _issue(bytes32 projectKey, uint48 serialStart, uint48 serialEnd, uint48 prevSerialStart)
        internal
        returns (uint256)
    {
        return _issue(_params(projectKey, serialStart, serialEnd, prevSerialStart));
    }

    function _batchId(string memory prefix, uint48 serialStart) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(keccak256(bytes(prefix)), serialStart)));
    }

    function _retire(address holder, uint256 batchId, uint48 amount)
        internal
        returns (uint48 first, uint48 last)
    {
        vm.prank(holder);
        (first, last) = credits.retire(
            batchId,
            amount,
            "Siam Cement PCL",
            ICarbonCredits.RetirementPurpose.Compliance,
            uint40(QuarterLib.periodStart(QuarterLib.period(NOW))), // a compliance claim is one quarter
            NOW
        );
    }
}

/// @title SystemTest
/// @notice BaseTest plus a standard world: alice, bob and carol verified (dave registered only),
/// project P-ADD (alice, additional) and P-NONADD (bob, not additional) certified.
abstract contract SystemTest is BaseTest {
    string internal constant P_ADD = "TH-CCEP-2025-0001";
    string internal constant P_NONADD = "TH-CCEP-2025-0002";
    bytes32 internal pAdd;
    bytes32 internal pNonAdd;

    function setUp() public virtual override {
        super.setUp();
        _register(dave);
        _onboard(alice, bob, carol);
        pAdd = _registerProject(alice, P_ADD, true);
        pNonAdd = _registerProject(bob, P_NONADD, false);
        _publishProjects();
    }
}
