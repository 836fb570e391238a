// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {CarbonCredits} from "../../../contracts/CarbonCredits.sol";
import {CarbonRegistry} from "../../../contracts/CarbonRegistry.sol";
import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {QuarterLib} from "../../../contracts/libraries/QuarterLib.sol";

import {Test} from "../utils/BaseTest.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @title Handler
/// @notice Drives registry and credits with bounded inputs for the invariant suite. Every call it
/// makes must succeed (fail_on_revert), except inside the `try*` functions, which assert that a
/// bad call reverts with the exact error. The ghost state is the handler's own model of who is
/// verified, which projects are certified, which serial ranges exist and who holds what; it never
/// reads it back from the contracts, so the invariants compare two independent accounts.
contract Handler is Test {
    uint256 internal constant ACTORS = 6;
    uint256 internal constant NAMESPACES = 3;
    uint256 internal constant SPAN = 3000;
    uint256 internal constant MAX_PROJECTS = 12;

    struct GhostProject {
        string id;
        bytes32 key;
        address owner;
    }

    struct GhostBatch {
        uint256 id;
        uint8 ns;
        uint48 start;
        uint48 end;
        uint48 buffer;
        uint24 projectIndex;
        uint48 retired;
    }

    struct Retirement {
        uint48 first;
        uint48 last;
    }

    CarbonRegistry internal immutable registry;
    CarbonCredits internal immutable credits;
    address internal immutable oracle;
    address internal immutable tgo;
    address public immutable exchange;

    address[ACTORS] internal _actors;
    string[NAMESPACES] internal _prefixes = ["TH-TVER", "VCS", "GS"];
    uint48[NAMESPACES] internal _bases = [uint48(1), 1_000_000, type(uint48).max - uint48(SPAN) + 1];

    /// @dev The model clock; every entry point re-applies it with vm.warp.
    uint40 public time;

    // participants
    uint32 public participantEpoch;
    mapping(address actor => bool) public registered;
    address[] internal _tree;
    mapping(address actor => uint40) internal _treeUntil;
    mapping(address actor => bool) internal _inTree;
    address[] internal _prevTree;
    mapping(address actor => uint40) internal _prevUntil;
    mapping(address actor => uint32) internal _verifiedEpoch;
    mapping(address actor => uint40) internal _verifiedUntil;

    // projects
    uint32 public projectEpoch;
    GhostProject[] internal _projects;
    uint256[] internal _projectTree; // indexes into _projects
    mapping(bytes32 key => bool) internal _projectTreeAdditional;
    mapping(bytes32 key => uint32) internal _projectCertifiedEpoch;
    mapping(bytes32 key => bool) internal _projectAdditional;

    // credits
    GhostBatch[] internal _batches;
    mapping(uint256 batchId => uint256 index) internal _batchIndex; // 1-based
    mapping(uint256 batchId => mapping(address holder => uint256)) public ghostBalance;
    mapping(uint256 batchId => Retirement[]) internal _retirements;
    /// @dev Whether the model judged the project certified, additional and owned by a verified
    /// participant when the batch was issued.
    mapping(uint256 batchId => bool) public eligibleAtIssue;

    // metrics
    mapping(bytes32 name => uint256) public calls;
    uint256 public totalCalls;
    uint256 public expectedReverts;

    modifier step(bytes32 name) {
        vm.warp(time);
        ++calls[name];
        ++totalCalls;
        _;
    }

    constructor(
        CarbonRegistry registry_,
        CarbonCredits credits_,
        address oracle_,
        address tgo_,
        address exchange_
    ) {
        registry = registry_;
        credits = credits_;
        oracle = oracle_;
        tgo = tgo_;
        exchange = exchange_;
        time = uint40(block.timestamp);
        for (uint256 i; i < ACTORS; ++i) {
            _actors[i] = address(uint160(uint256(keccak256(abi.encode("actor", i)))));
        }
    }

    // ------------------------------------------------------------------ participants

    function registerParticipant(uint256 seed) public step("registerParticipant") {
        for (uint256 k; k < ACTORS; ++k) {
            address a = _actors[(seed % ACTORS + k) % ACTORS];
            if (registered[a]) continue;
            vm.prank(a);
            registry.registerParticipant(
                orgIdOf(a),
                ICarbonRegistry.AccountType(seed % 4),
                ICarbonRegistry.TradeRole((seed >> 8) % 3),
                ICarbonRegistry.Sector((seed >> 16) % 8)
            );
            registered[a] = true;
            return;
        }
    }

    /// @dev A new TGO participant tree over about three quarters of the actors, each with its own
    /// expiry. Keepers then re-prove the members, except about a quarter of them, who stay
    /// unverified until `verifyParticipant` picks them. The seeds are hashed into bit masks: the
    /// fuzzer favours 0, 1 and type(uint256).max, not random bits.
    function publishParticipantRoot(uint256 mask, uint256 untilSeed, uint256 lazy)
        public
        step("publishParticipantRoot")
    {
        mask = uint256(keccak256(abi.encode(mask)));
        lazy = uint256(keccak256(abi.encode(lazy)));
        _publishParticipants(mask | mask >> ACTORS, untilSeed, lazy & lazy >> 8);
    }

    /// @dev Publishes the tree of the actors in `members` (bit i: actor i; at least one) and
    /// verifies every member not in `lazy`.
    function _publishParticipants(uint256 members, uint256 untilSeed, uint256 lazy) internal {
        delete _prevTree;
        for (uint256 i; i < _tree.length; ++i) {
            _prevTree.push(_tree[i]);
            _prevUntil[_tree[i]] = _treeUntil[_tree[i]];
            _inTree[_tree[i]] = false;
        }
        delete _tree;
        if (members % (1 << ACTORS) == 0) members |= 1 << (members >> 128) % ACTORS;
        for (uint256 i; i < ACTORS; ++i) {
            if (members & (1 << i) == 0) continue;
            address a = _actors[i];
            _tree.push(a);
            _inTree[a] = true;
            _treeUntil[a] =
                time + uint40(bound(uint256(keccak256(abi.encode(untilSeed, i))), 1 days, 730 days));
        }
        vm.prank(oracle);
        registry.publishParticipantRoot(MerkleBuilder.root(_leaves(_tree, false)));
        ++participantEpoch;
        for (uint256 i; i < _tree.length; ++i) {
            if (lazy & (1 << i) == 0) _verifyAt(i, address(this));
        }
    }

    /// @dev The starting market of every run (called from setUp, not a fuzz target): four
    /// registered and verified actors, two certified additional projects.
    function bootstrap() external {
        for (uint256 i; i < 4; ++i) {
            registerParticipant(i);
        }
        _publishParticipants(0x0f, 1, 0);
        registerProject(0, 0, 0);
        registerProject(1, 0, 0);
        _publishProjects(0x3, 0x3, 0);
    }

    function verifyParticipant(uint256 seed, address submitter) public step("verifyParticipant") {
        uint256 n = _tree.length;
        for (uint256 k; k < n; ++k) {
            if (_verifyAt((seed % n + k) % n, submitter)) return;
        }
    }

    /// @dev Verifies the tree member at `i` if it can be: registered and not expired.
    function _verifyAt(uint256 i, address submitter) internal returns (bool) {
        address a = _tree[i];
        if (!registered[a] || _treeUntil[a] <= time) return false;
        bytes32[] memory proof = MerkleBuilder.proof(_leaves(_tree, false), i);
        vm.prank(submitter); // anyone may submit
        registry.verifyParticipant(a, orgIdOf(a), _treeUntil[a], proof);
        _verifiedEpoch[a] = participantEpoch;
        _verifiedUntil[a] = _treeUntil[a];
        return true;
    }

    /// @dev Proofs of the previous tree must not verify against the new root (revocation).
    function tryStaleProof(uint256 seed) public step("tryStaleProof") {
        uint256 n = _prevTree.length;
        for (uint256 k; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            address a = _prevTree[i];
            if (_inTree[a] || !registered[a] || _prevUntil[a] <= time) continue;
            bytes32[] memory proof = MerkleBuilder.proof(_leaves(_prevTree, true), i);
            try registry.verifyParticipant(a, orgIdOf(a), _prevUntil[a], proof) {
                revert("stale proof accepted");
            } catch (bytes memory err) {
                _assertError(err, abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
            }
            return;
        }
    }

    /// @dev An internal node with the shortened proof is in the tree, but is never taken as a leaf.
    function tryInternalNode(uint256 seed) public step("tryInternalNode") {
        uint256 n = _tree.length;
        if (n < 2) return;
        bytes32[] memory leaves = _leaves(_tree, false);
        for (uint256 k; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            address a = _tree[i];
            if ((i ^ 1) >= n || !registered[a] || _treeUntil[a] <= time) continue;
            (bytes32 node, bytes32[] memory nodeProof) = MerkleBuilder.parentOf(leaves, i);
            vm.assertTrue(MerkleProof.verify(nodeProof, MerkleBuilder.root(leaves), node));
            try registry.verifyParticipant(a, orgIdOf(a), _treeUntil[a], nodeProof) {
                revert("internal node accepted as participant leaf");
            } catch (bytes memory err) {
                _assertError(err, abi.encodeWithSelector(ICarbonRegistry.RegistryInvalidProof.selector));
            }
            return;
        }
    }

    // ------------------------------------------------------------------ projects

    function registerProject(uint256 seed, int256 lat, int256 lon) public step("registerProject") {
        if (_projects.length >= MAX_PROJECTS) return;
        for (uint256 k; k < ACTORS; ++k) {
            address a = _actors[(seed % ACTORS + k) % ACTORS];
            if (!isVerifiedModel(a)) continue;
            string memory id = string.concat("TH-CCEP-", vm.toString(_projects.length + 1));
            ICarbonRegistry.ProjectRegistration memory r = ICarbonRegistry.ProjectRegistration({
                projectId: id,
                standard: ICarbonRegistry.Standard(seed % 3),
                projectType: ICarbonRegistry.ProjectType((seed >> 8) % 8),
                methodology: "AMS-III.D",
                latitudeE6: int32(int256(bound(uint256(lat), 0, 180_000_000)) - 90_000_000),
                longitudeE6: int32(int256(bound(uint256(lon), 0, 360_000_000)) - 180_000_000)
            });
            // TGO lists the project for its owner in a new tree (keepers re-certify the others,
            // lazily), then the owner registers it with its proof.
            bytes32 key = keccak256(bytes(id));
            bool additional = (seed >> 16) % 4 != 0;
            _projects.push(GhostProject({id: id, key: key, owner: a}));
            _projectTree.push(_projects.length - 1);
            _projectTreeAdditional[key] = additional;
            vm.prank(oracle);
            registry.publishProjectRoot(MerkleBuilder.root(_projectLeaves()));
            ++projectEpoch;
            uint256 last = _projectTree.length - 1;
            for (uint256 i; i < last; ++i) {
                if ((seed >> 24) & (1 << i) == 0) _certifyAt(i);
            }
            vm.prank(a);
            vm.assertEq(registry.registerProject(r, additional, MerkleBuilder.proof(_projectLeaves(), last)), key);
            _projectCertifiedEpoch[key] = projectEpoch;
            _projectAdditional[key] = additional;
            vm.assertEq(registry.projectCount(), _projects.length);
            return;
        }
    }

    /// @dev A new TGO project tree over about three quarters of the projects, about three quarters
    /// of them additional; keepers re-certify all but about a quarter.
    function publishProjectRoot(uint256 mask, uint256 additionalMask, uint256 lazy)
        public
        step("publishProjectRoot")
    {
        mask = uint256(keccak256(abi.encode(mask)));
        additionalMask = uint256(keccak256(abi.encode(additionalMask)));
        lazy = uint256(keccak256(abi.encode(lazy)));
        _publishProjects(mask | mask >> 16, additionalMask | additionalMask >> 16, lazy & lazy >> 16);
    }

    function _publishProjects(uint256 members, uint256 additional, uint256 lazy) internal {
        uint256 n = _projects.length;
        if (n == 0) return;
        delete _projectTree;
        if (members % (1 << n) == 0) members |= 1 << (members >> 128) % n;
        for (uint256 i; i < n; ++i) {
            if (members & (1 << i) == 0) continue;
            _projectTree.push(i);
            _projectTreeAdditional[_projects[i].key] = additional & (1 << i) != 0;
        }
        vm.prank(oracle);
        registry.publishProjectRoot(MerkleBuilder.root(_projectLeaves()));
        ++projectEpoch;
        for (uint256 i; i < _projectTree.length; ++i) {
            if (lazy & (1 << i) == 0) _certifyAt(i);
        }
    }

    function certifyProject(uint256 seed) public step("certifyProject") {
        uint256 n = _projectTree.length;
        if (n == 0) return;
        _certifyAt(seed % n);
    }

    function _certifyAt(uint256 i) internal {
        GhostProject storage p = _projects[_projectTree[i]];
        bool additional = _projectTreeAdditional[p.key];
        registry.certifyProject(p.id, additional, MerkleBuilder.proof(_projectLeaves(), i));
        _projectCertifiedEpoch[p.key] = projectEpoch;
        _projectAdditional[p.key] = additional;
    }

    // ------------------------------------------------------------------ issuance

    /// @dev Issues a random range into a free gap of a random namespace, with the hint computed
    /// from the ghost list.
    /// @dev Issues one to three random ranges into free gaps of random namespaces, with hints
    /// computed from the ghost list; several go through `issueBatches`, later hints may name
    /// ranges of the same call.
    function issue(uint256 projectSeed, uint256 nsSeed, uint256 rangeSeed) public step("issue") {
        (bool found, uint256 p) = _readyProject(projectSeed);
        if (!found) return;
        uint256 count = 1 + (projectSeed >> 128) % 3;
        ICarbonCredits.IssueParams[] memory all = new ICarbonCredits.IssueParams[](count);
        uint256 n;
        for (uint256 c; c < count; ++c) {
            (bool free, ICarbonCredits.IssueParams memory params) = _planBatch(
                p, uint8((nsSeed % NAMESPACES + c) % NAMESPACES), keccak256(abi.encode(rangeSeed, c))
            );
            if (free) all[n++] = params;
        }
        if (n == 0) return;
        uint256[] memory ids;
        vm.startPrank(tgo);
        if (n == 1) {
            ids = new uint256[](1);
            ids[0] = credits.issueBatch(all[0]);
        } else {
            assembly ("memory-safe") {
                mstore(all, n) // shrink to the ranges found
            }
            ids = credits.issueBatches(all);
        }
        vm.stopPrank();
        vm.assertEq(ids.length, n);
        for (uint256 i; i < n; ++i) {
            vm.assertEq(ids[i], _batches[_batches.length - n + i].id, "batch id");
        }
    }

    /// @dev Picks a free range for project `p` in namespace `ns` and books it in the ghost ledger.
    function _planBatch(uint256 p, uint8 ns, bytes32 seed)
        internal
        returns (bool free, ICarbonCredits.IssueParams memory params)
    {
        uint48 buffer;
        // Start from the whole seed, length from its hash, buffer from its top half.
        (free, params, buffer) = _freshRange(
            _projects[p].key, ns, uint256(seed), uint256(keccak256(abi.encode(seed))), uint256(seed) >> 128
        );
        if (free) _recordBatch(params, ns, buffer, p);
    }

    function _recordBatch(ICarbonCredits.IssueParams memory params, uint8 ns, uint48 buffer, uint256 p)
        internal
    {
        uint256 id = uint256(keccak256(abi.encode(keccak256(bytes(_prefixes[ns])), params.serialStart)));
        _batches.push(
            GhostBatch({
                id: id,
                ns: ns,
                start: params.serialStart,
                end: params.serialEnd,
                buffer: buffer,
                projectIndex: uint24(p + 1),
                retired: 0
            })
        );
        _batchIndex[id] = _batches.length;
        ghostBalance[id][_projects[p].owner] += params.serialEnd - params.serialStart + 1 - buffer;
        eligibleAtIssue[id] = true; // _eligibleProject applied the model
    }

    /// @dev A random range in a free gap of namespace `ns`, its hint taken from the ghost list.
    function _freshRange(bytes32 key, uint8 ns, uint256 startSeed, uint256 lenSeed, uint256 bpsSeed)
        internal
        view
        returns (bool free, ICarbonCredits.IssueParams memory params, uint48 buffer)
    {
        uint256 start = _bases[ns] + bound(startSeed, 0, SPAN - 1);
        uint48 hint;
        uint256 maxEnd;
        (free, hint, maxEnd) = _gap(ns, start);
        if (!free) return (false, params, 0);
        uint256 top = uint256(_bases[ns]) + SPAN - 1;
        if (maxEnd > top) maxEnd = top;
        uint256 end = start + bound(lenSeed, 1, 300) - 1;
        if (end > maxEnd) end = maxEnd;
        uint48 quantity = uint48(end - start + 1);
        uint16 bps = uint16(bound(bpsSeed, 0, 5000));
        buffer = uint48((uint256(quantity) * bps + 9999) / 10_000);
        if (buffer >= quantity) (bps, buffer) = (0, 0);
        params = _params(key, ns, uint48(start), uint48(end), hint, bps);
    }

    /// @dev A range sharing a serial with an existing batch reverts under any hint.
    function tryIssueOverlapping(uint256 batchSeed, uint256 startSeed, uint256 endSeed, uint256 hintSeed)
        public
        step("tryIssueOverlapping")
    {
        if (_batches.length == 0) return;
        (bool found, uint256 p) = _readyProject(batchSeed);
        if (!found) return;
        GhostBatch memory b = _batches[batchSeed % _batches.length];
        uint256 low = b.start > _bases[b.ns] + 300 ? b.start - 300 : _bases[b.ns];
        uint256 s = bound(startSeed, low, b.end);
        uint256 highEnd = uint256(b.end) + 300 > type(uint48).max ? type(uint48).max : uint256(b.end) + 300;
        uint256 e = bound(endSeed, s > b.start ? s : b.start, highEnd);
        uint48 hint = _anyHint(b.ns, hintSeed);

        vm.prank(tgo);
        try credits.issueBatch(_params(_projects[p].key, b.ns, uint48(s), uint48(e), hint, 0)) {
            revert("overlapping range accepted");
        } catch (bytes memory err) {
            bytes4 sel = bytes4(err);
            vm.assertTrue(
                sel == ICarbonCredits.CreditsSerialRangeOverlaps.selector
                    || sel == ICarbonCredits.CreditsBadSerialHint.selector,
                "unexpected error"
            );
            ++expectedReverts;
        }
    }

    /// @dev A free range with any hint but the right one reverts with exactly that hint.
    function tryIssueBadHint(uint256 nsSeed, uint256 startSeed, uint256 hintSeed)
        public
        step("tryIssueBadHint")
    {
        (bool found, uint256 p) = _readyProject(nsSeed);
        if (!found) return;
        uint8 ns = uint8(nsSeed % NAMESPACES);
        uint256 start = _bases[ns] + bound(startSeed, 0, SPAN - 1);
        (bool free, uint48 hint,) = _gap(ns, start);
        if (!free) return;
        uint48 wrong = _anyHint(ns, hintSeed);
        if (wrong == hint) wrong = uint48(start); // its own start is never a valid hint
        vm.prank(tgo);
        try credits.issueBatch(_params(_projects[p].key, ns, uint48(start), uint48(start), wrong, 0)) {
            revert("bad hint accepted");
        } catch (bytes memory err) {
            _assertError(err, abi.encodeWithSelector(ICarbonCredits.CreditsBadSerialHint.selector, wrong));
        }
    }

    /// @dev Projects the model does not hold certified and additional never get a batch.
    function tryIssueIneligible(uint256 seed) public step("tryIssueIneligible") {
        uint256 n = _projects.length;
        for (uint256 k; k < n; ++k) {
            GhostProject storage p = _projects[(seed % n + k) % n];
            bool certified = projectEpoch != 0 && _projectCertifiedEpoch[p.key] == projectEpoch;
            if (certified && _projectAdditional[p.key]) continue;
            bytes memory expected = certified
                ? abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotAdditional.selector, p.key)
                : abi.encodeWithSelector(ICarbonCredits.CreditsProjectNotCertified.selector, p.key);
            vm.prank(tgo);
            try credits.issueBatch(_params(p.key, 0, 1, 1, 0, 0)) {
                revert("ineligible project issued");
            } catch (bytes memory err) {
                _assertError(err, expected);
            }
            return;
        }
    }

    // ------------------------------------------------------------------ transfers and retirement

    function transfer(uint256 batchSeed, uint256 fromSeed, uint256 toSeed, uint256 amount)
        public
        step("transfer")
    {
        (bool found, uint256 id, address from) = _holding(batchSeed, fromSeed);
        if (!found) return;
        address to = _receiver(toSeed);
        amount = bound(amount, 1, ghostBalance[id][from]);
        vm.prank(from);
        credits.transfer(to, id, amount);
        ghostBalance[id][from] -= amount;
        ghostBalance[id][to] += amount;
    }

    /// @dev Unverified, expired or revoked receivers are refused (R1).
    function tryTransferToUnverified(uint256 batchSeed, uint256 fromSeed, uint256 toSeed)
        public
        step("tryTransferToUnverified")
    {
        (bool found, uint256 id, address from) = _holding(batchSeed, fromSeed);
        if (!found) return;
        for (uint256 k; k < ACTORS; ++k) {
            address to = _actors[(toSeed % ACTORS + k) % ACTORS];
            if (isVerifiedModel(to)) continue;
            vm.prank(from);
            try credits.transfer(to, id, 1) {
                revert("unverified receiver accepted");
            } catch (bytes memory err) {
                _assertError(
                    err, abi.encodeWithSelector(ICarbonCredits.CreditsReceiverNotVerified.selector, to)
                );
            }
            return;
        }
    }

    function retire(uint256 batchSeed, uint256 holderSeed, uint256 amount, uint256 purpose)
        public
        step("retire")
    {
        (bool found, uint256 id, address holder) = _holding(batchSeed, holderSeed);
        if (!found) return;
        GhostBatch storage b = _batches[_batchIndex[id] - 1];
        uint48 a = uint48(bound(amount, 1, ghostBalance[id][holder]));
        vm.prank(holder);
        (uint48 first, uint48 last) = credits.retire(
            id,
            a,
            "beneficiary",
            ICarbonCredits.RetirementPurpose(purpose % 6),
            uint40(QuarterLib.periodStart(QuarterLib.period(time))), // one quarter, as compliance requires
            time
        );
        vm.assertEq(first, b.start + b.retired, "retirement must continue from the bottom");
        vm.assertEq(last, uint256(first) + a - 1, "retirement range"); // widened: the top serial is 2^48 - 1
        _retirements[id].push(Retirement(first, last));
        b.retired += a;
        ghostBalance[id][holder] -= a;
    }

    function warp(uint256 seconds_) public step("warp") {
        time += uint40(bound(seconds_, 1 minutes, 45 days));
        vm.warp(time);
    }

    // ------------------------------------------------------------------ views for the invariants

    function actors() external view returns (address[ACTORS] memory) {
        return _actors;
    }

    function holders() public view returns (address[] memory h) {
        h = new address[](ACTORS + 1);
        for (uint256 i; i < ACTORS; ++i) {
            h[i] = _actors[i];
        }
        h[ACTORS] = exchange;
    }

    function prefix(uint256 ns) external view returns (string memory) {
        return _prefixes[ns];
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function batchAt(uint256 i) external view returns (GhostBatch memory) {
        return _batches[i];
    }

    function ghostBatch(uint256 id) external view returns (bool exists, GhostBatch memory b) {
        uint256 i = _batchIndex[id];
        if (i == 0) return (false, b);
        return (true, _batches[i - 1]);
    }

    function retirements(uint256 id) external view returns (Retirement[] memory) {
        return _retirements[id];
    }

    function projectKey(uint24 index) external view returns (bytes32) {
        return _projects[index - 1].key;
    }

    function isVerifiedModel(address a) public view returns (bool) {
        return participantEpoch != 0 && _verifiedEpoch[a] == participantEpoch && _verifiedUntil[a] > time;
    }

    function orgIdOf(address a) public pure returns (string memory) {
        return string.concat("0105", vm.toString(uint256(uint160(a)) % 1e9));
    }

    // ------------------------------------------------------------------ internals

    function _leaves(address[] storage tree, bool previous) internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](tree.length);
        for (uint256 i; i < tree.length; ++i) {
            address a = tree[i];
            leaves[i] = MerkleBuilder.participantLeaf(orgIdOf(a), a, previous ? _prevUntil[a] : _treeUntil[a]);
        }
    }

    function _projectLeaves() internal view returns (bytes32[] memory leaves) {
        leaves = new bytes32[](_projectTree.length);
        for (uint256 i; i < leaves.length; ++i) {
            GhostProject storage p = _projects[_projectTree[i]];
            leaves[i] = MerkleBuilder.projectLeaf(p.id, p.owner, _projectTreeAdditional[p.key]);
        }
    }

    /// @dev A project the model holds eligible; failing that, one whose current TGO leaves allow it,
    /// after the keeper steps a real issuer would take first: re-prove the owner, re-certify the
    /// project. Returns false when no project can be made eligible.
    function _readyProject(uint256 seed) internal returns (bool, uint256) {
        (bool found, uint256 p) = _eligibleProject(seed);
        if (found) return (true, p);
        uint256 n = _projectTree.length;
        for (uint256 k; k < n; ++k) {
            uint256 t = (seed % n + k) % n;
            GhostProject storage project = _projects[_projectTree[t]];
            if (!_projectTreeAdditional[project.key]) continue;
            address owner = project.owner;
            if (!isVerifiedModel(owner)) {
                if (!_inTree[owner]) continue;
                uint256 i;
                while (_tree[i] != owner) ++i;
                if (!_verifyAt(i, address(this))) continue;
            }
            if (_projectCertifiedEpoch[project.key] != projectEpoch) _certifyAt(t);
            return (true, _projectTree[t]);
        }
        return (false, 0);
    }

    /// @dev A project the model holds certified (current epoch), additional, with a verified owner.
    function _eligibleProject(uint256 seed) internal view returns (bool, uint256) {
        uint256 n = _projects.length;
        for (uint256 k; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            GhostProject storage p = _projects[i];
            if (
                projectEpoch != 0 && _projectCertifiedEpoch[p.key] == projectEpoch
                    && _projectAdditional[p.key] && isVerifiedModel(p.owner)
            ) return (true, i);
        }
        return (false, 0);
    }

    /// @dev Whether `start` is free in namespace `ns`; if so the start of the range right below
    /// (0: none) and the last serial before the next range.
    function _gap(uint8 ns, uint256 start) internal view returns (bool free, uint48 hint, uint256 maxEnd) {
        maxEnd = type(uint48).max;
        for (uint256 j; j < _batches.length; ++j) {
            GhostBatch storage b = _batches[j];
            if (b.ns != ns) continue;
            if (b.start <= start) {
                if (b.end >= start) return (false, 0, 0);
                if (b.start > hint) hint = b.start;
            } else if (b.start - 1 < maxEnd) {
                maxEnd = b.start - 1;
            }
        }
        free = true;
    }

    /// @dev 0, the start of a range of `ns`, or an arbitrary serial of the namespace's span.
    function _anyHint(uint8 ns, uint256 seed) internal view returns (uint48) {
        uint256 kind = seed % 3;
        if (kind == 0) return 0;
        if (kind == 1) {
            uint256 n = _batches.length;
            for (uint256 k; k < n; ++k) {
                GhostBatch storage b = _batches[(seed / 3 % n + k) % n];
                if (b.ns == ns) return b.start;
            }
        }
        return uint48(_bases[ns] + (seed / 3) % SPAN);
    }

    /// @dev A batch and a holder with a non-zero ghost balance of it.
    function _holding(uint256 batchSeed, uint256 holderSeed) internal view returns (bool, uint256, address) {
        uint256 n = _batches.length;
        address[] memory h = holders();
        for (uint256 k; k < n; ++k) {
            uint256 id = _batches[(batchSeed % n + k) % n].id;
            for (uint256 j; j < h.length; ++j) {
                address a = h[(holderSeed % h.length + j) % h.length];
                if (ghostBalance[id][a] != 0) return (true, id, a);
            }
        }
        return (false, 0, address(0));
    }

    /// @dev A verified actor or the exchange (a system holder).
    function _receiver(uint256 seed) internal view returns (address) {
        for (uint256 k; k < ACTORS; ++k) {
            address a = _actors[(seed % ACTORS + k) % ACTORS];
            if (seed % 7 != 0 && isVerifiedModel(a)) return a;
        }
        return exchange;
    }

    function _params(bytes32 key, uint8 ns, uint48 start, uint48 end, uint48 hint, uint16 bps)
        internal
        view
        returns (ICarbonCredits.IssueParams memory)
    {
        return ICarbonCredits.IssueParams({
            projectKey: key,
            vintage: uint16(2020 + start % 10),
            creditType: ICarbonCredits.CreditType(start % 3), // Allowance comes only from settlement
            bufferBps: bps,
            serialPrefix: _prefixes[ns],
            serialStart: start,
            serialEnd: end,
            prevSerialStart: hint
        });
    }

    function _assertError(bytes memory err, bytes memory expected) internal {
        vm.assertEq(err, expected, "unexpected revert data");
        ++expectedReverts;
    }
}
