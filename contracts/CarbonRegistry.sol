// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ICarbonRegistry} from "./interfaces/ICarbonRegistry.sol";
import {GeoLib} from "./libraries/GeoLib.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title CarbonRegistry
/// @notice Participants and carbon projects, certified against TGO Merkle roots.
contract CarbonRegistry is ICarbonRegistry, AccessControl {
    bytes32 public constant ORACLE_ROLE = Roles.ORACLE;

    /// @dev Both epochs share one slot so `isVerified` and `certifiedProject` read two slots.
    struct Epochs {
        uint32 participant;
        uint32 project;
    }

    mapping(address wallet => Participant) private _participants;
    mapping(bytes32 projectKey => Project) private _projects;
    mapping(uint24 index => bytes32 projectKey) private _projectKeys;
    bytes32 private _participantRoot;
    bytes32 private _projectRoot;
    Epochs private _epochs;
    uint24 private _projectCount;

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc ICarbonRegistry
    function registerParticipant(
        string calldata orgId,
        AccountType accountType,
        TradeRole tradeRole,
        Sector sector
    ) external {
        if (bytes(orgId).length == 0) revert RegistryEmptyId();
        Participant storage p = _participants[msg.sender];
        if (p.orgKey != bytes20(0)) revert RegistryAlreadyRegistered(msg.sender);

        bytes20 orgKey = bytes20(keccak256(bytes(orgId)));
        p.orgKey = orgKey;
        p.accountType = accountType;
        p.tradeRole = tradeRole;
        p.sector = sector;

        emit ParticipantRegistered(msg.sender, orgKey, accountType, tradeRole, sector, orgId);
    }

    /// @inheritdoc ICarbonRegistry
    function verifyParticipant(
        address wallet,
        string calldata orgId,
        uint40 certifiedUntil,
        bytes32[] calldata proof
    ) external {
        Participant storage p = _participants[wallet];
        bytes20 orgKey = p.orgKey;
        if (orgKey == bytes20(0)) revert RegistryNotRegistered(wallet);
        if (orgKey != bytes20(keccak256(bytes(orgId)))) revert RegistryOrgIdMismatch(wallet);
        if (certifiedUntil <= block.timestamp) revert RegistryCertificationExpired(certifiedUntil);
        bytes32 root = _participantRoot;
        if (root == bytes32(0)) revert RegistryNoRoot();
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(orgId, wallet, uint64(certifiedUntil)))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert RegistryInvalidProof();

        uint32 epoch = _epochs.participant;
        p.certifiedEpoch = epoch;
        p.certifiedUntil = certifiedUntil;

        emit ParticipantVerified(wallet, epoch, certifiedUntil);
    }

    /// @inheritdoc ICarbonRegistry
    function publishParticipantRoot(bytes32 root) external onlyRole(ORACLE_ROLE) {
        if (root == bytes32(0)) revert RegistryZeroRoot();
        _participantRoot = root;
        uint32 epoch = ++_epochs.participant;
        emit ParticipantRootPublished(epoch, root);
    }

    /// @inheritdoc ICarbonRegistry
    function registerProject(ProjectRegistration calldata r, bool additional, bytes32[] calldata proof)
        external
        returns (bytes32 projectKey)
    {
        if (bytes(r.projectId).length == 0) revert RegistryEmptyId();
        if (!isVerified(msg.sender)) revert RegistryNotVerified(msg.sender);
        int32 lat = r.latitudeE6;
        int32 lon = r.longitudeE6;
        if (!GeoLib.isValid(lat, lon)) revert RegistryInvalidCoordinates(lat, lon);
        projectKey = keccak256(bytes(r.projectId));
        Project storage project_ = _projects[projectKey];
        if (project_.owner != address(0)) revert RegistryProjectAlreadyRegistered(projectKey);
        // Only the owner TGO certified can register a project id, so no one can squat it first.
        uint32 epoch = _checkProjectLeaf(r.projectId, msg.sender, additional, proof);

        uint24 index = ++_projectCount;
        project_.owner = msg.sender;
        project_.standard = r.standard;
        project_.projectType = r.projectType;
        project_.index = index;
        project_.certifiedEpoch = epoch;
        project_.additional = additional;
        project_.methodologyHash = keccak256(bytes(r.methodology));
        project_.latitudeE6 = lat;
        project_.longitudeE6 = lon;
        _projectKeys[index] = projectKey;

        _emitProjectRegistered(projectKey, index, r);
        emit ProjectCertified(projectKey, epoch, additional);
    }

    /// @inheritdoc ICarbonRegistry
    function certifyProject(string calldata projectId, bool additional, bytes32[] calldata proof) external {
        bytes32 projectKey = keccak256(bytes(projectId));
        Project storage project_ = _projects[projectKey];
        address owner = project_.owner;
        if (owner == address(0)) revert RegistryUnknownProject(projectKey);
        uint32 epoch = _checkProjectLeaf(projectId, owner, additional, proof);

        project_.certifiedEpoch = epoch;
        project_.additional = additional;

        emit ProjectCertified(projectKey, epoch, additional);
    }

    /// @inheritdoc ICarbonRegistry
    function publishProjectRoot(bytes32 root) external onlyRole(ORACLE_ROLE) {
        if (root == bytes32(0)) revert RegistryZeroRoot();
        _projectRoot = root;
        uint32 epoch = ++_epochs.project;
        emit ProjectRootPublished(epoch, root);
    }

    /// @inheritdoc ICarbonRegistry
    function participant(address wallet) external view returns (Participant memory) {
        return _participants[wallet];
    }

    /// @inheritdoc ICarbonRegistry
    function isRegistered(address wallet) external view returns (bool) {
        return _participants[wallet].orgKey != bytes20(0);
    }

    /// @inheritdoc ICarbonRegistry
    /// @dev Runs on every credit transfer (CarbonCredits asks it for each receiver): one read of
    /// the participant's slot, one of the epochs. A wallet never verified has certifiedUntil 0 and
    /// fails the expiry check; verifyParticipant needs a published root, so a verified wallet's
    /// certifiedEpoch is >= 1 and equals the current epoch only while no newer root replaced it.
    function isVerified(address wallet) public view returns (bool) {
        Participant storage p = _participants[wallet];
        (uint32 epoch, uint40 until) = (p.certifiedEpoch, p.certifiedUntil);
        return until > block.timestamp && epoch == _epochs.participant;
    }

    /// @inheritdoc ICarbonRegistry
    function project(bytes32 projectKey) external view returns (Project memory) {
        return _projects[projectKey];
    }

    /// @inheritdoc ICarbonRegistry
    function projectKeyAt(uint24 index) external view returns (bytes32) {
        return _projectKeys[index];
    }

    /// @inheritdoc ICarbonRegistry
    function projectCount() external view returns (uint24) {
        return _projectCount;
    }

    /// @inheritdoc ICarbonRegistry
    function certifiedProject(bytes32 projectKey)
        external
        view
        returns (uint24 index, address owner, bool additional)
    {
        Project storage project_ = _projects[projectKey];
        uint32 epoch = project_.certifiedEpoch;
        if (epoch == 0 || epoch != _epochs.project) return (0, address(0), false);
        return (project_.index, project_.owner, project_.additional);
    }

    /// @inheritdoc ICarbonRegistry
    function participantRoot() external view returns (bytes32 root, uint32 epoch) {
        return (_participantRoot, _epochs.participant);
    }

    /// @inheritdoc ICarbonRegistry
    function projectRoot() external view returns (bytes32 root, uint32 epoch) {
        return (_projectRoot, _epochs.project);
    }

    /// @inheritdoc ICarbonRegistry
    function projectKeyOf(string calldata projectId) external pure returns (bytes32) {
        return keccak256(bytes(projectId));
    }

    function _emitProjectRegistered(bytes32 projectKey, uint24 index, ProjectRegistration calldata r) internal {
        emit ProjectRegistered(
            projectKey,
            msg.sender,
            index,
            r.standard,
            r.projectType,
            r.latitudeE6,
            r.longitudeE6,
            r.projectId,
            r.methodology
        );
    }

    /// @dev Reverts unless (projectId, owner, additional) is a leaf of the current project root;
    /// returns the root's epoch.
    function _checkProjectLeaf(string calldata projectId, address owner, bool additional, bytes32[] calldata proof)
        internal
        view
        returns (uint32 epoch)
    {
        bytes32 root = _projectRoot;
        if (root == bytes32(0)) revert RegistryNoRoot();
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(projectId, owner, additional))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert RegistryInvalidProof();
        return _epochs.project;
    }
}
