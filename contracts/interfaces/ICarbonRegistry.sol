// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICarbonRegistry
/// @notice Participants (rules R1, R2) and carbon projects of CarboniX, certified by TGO through
/// Merkle roots that the oracle publishes.
/// @dev Certification follows roots, not accounts: publishing a new root starts a new epoch, and a
/// participant or project counts as certified only while its last proof was checked against the
/// current root. Whoever is no longer in the new tree is revoked by that publication; whoever is
/// still in it re-proves (anyone may submit the proof, since the leaf binds the wallet).
/// Leaves use OpenZeppelin StandardMerkleTree encoding: keccak256(keccak256(abi.encode(...))).
///   participant leaf: (string orgId, address wallet, uint64 certifiedUntil)
///   project leaf:     (string projectId, address owner, bool additional)
interface ICarbonRegistry {
    enum AccountType {
        Individual,
        Corporation,
        Government,
        Ngo
    }

    enum TradeRole {
        Buyer,
        Seller,
        Both
    }

    enum Sector {
        Energy,
        Industry,
        Transport,
        Agriculture,
        Waste,
        Forestry,
        Buildings,
        Other
    }

    enum Standard {
        TVer,
        Verra,
        GoldStandard
    }

    enum ProjectType {
        Forestry,
        RenewableEnergy,
        Methane,
        EnergyEfficiency,
        Agriculture,
        Waste,
        BlueCarbon,
        Other
    }

    /// @dev Packed into one storage slot. `orgKey` is the first 20 bytes of keccak256(orgId).
    struct Participant {
        bytes20 orgKey;
        AccountType accountType;
        TradeRole tradeRole;
        Sector sector;
        uint32 certifiedEpoch;
        uint40 certifiedUntil;
    }

    /// @dev Slot 0 holds everything the credits contract reads at issuance.
    struct Project {
        address owner;
        Standard standard;
        ProjectType projectType;
        bool additional;
        uint32 certifiedEpoch;
        uint24 index;
        bytes32 methodologyHash;
        int32 latitudeE6;
        int32 longitudeE6;
    }

    /// @dev What a project owner submits to register a project.
    struct ProjectRegistration {
        string projectId;
        Standard standard;
        ProjectType projectType;
        string methodology;
        int32 latitudeE6;
        int32 longitudeE6;
    }

    /// @notice The wallet is already registered.
    error RegistryAlreadyRegistered(address wallet);
    /// @notice The wallet is not registered.
    error RegistryNotRegistered(address wallet);
    /// @notice The participant is not certified under the current root, or its certification expired.
    error RegistryNotVerified(address wallet);
    /// @notice An organisation or project id is empty.
    error RegistryEmptyId();
    /// @notice The organisation id does not match the one the wallet registered with.
    error RegistryOrgIdMismatch(address wallet);
    /// @notice The certification in the leaf has already expired.
    error RegistryCertificationExpired(uint40 certifiedUntil);
    /// @notice No root has been published yet for this kind of certification.
    error RegistryNoRoot();
    /// @notice A published root must not be zero.
    error RegistryZeroRoot();
    /// @notice The Merkle proof does not lead to the current root.
    error RegistryInvalidProof();
    /// @notice The project id is already registered.
    error RegistryProjectAlreadyRegistered(bytes32 projectKey);
    /// @notice No project is registered under this key.
    error RegistryUnknownProject(bytes32 projectKey);
    /// @notice Latitude must lie in [-90, 90] and longitude in [-180, 180] degrees (times 1e6).
    error RegistryInvalidCoordinates(int32 latitudeE6, int32 longitudeE6);

    /// @notice A wallet registered as a participant; `orgId` is kept in the log, not in storage.
    event ParticipantRegistered(
        address indexed wallet,
        bytes20 indexed orgKey,
        AccountType accountType,
        TradeRole tradeRole,
        Sector sector,
        string orgId
    );
    /// @notice A participant proved its TGO certification against the root of `epoch`.
    event ParticipantVerified(address indexed wallet, uint32 indexed epoch, uint40 certifiedUntil);
    /// @notice A new TGO participant root took effect; certifications of earlier epochs lapse.
    event ParticipantRootPublished(uint32 indexed epoch, bytes32 root);
    /// @notice A carbon project was registered by its owner.
    event ProjectRegistered(
        bytes32 indexed projectKey,
        address indexed owner,
        uint24 indexed index,
        Standard standard,
        ProjectType projectType,
        int32 latitudeE6,
        int32 longitudeE6,
        string projectId,
        string methodology
    );
    /// @notice A project proved its TGO certification (with its additionality flag, CCP #5).
    event ProjectCertified(bytes32 indexed projectKey, uint32 indexed epoch, bool additional);
    /// @notice A new TGO project root took effect; certifications of earlier epochs lapse.
    event ProjectRootPublished(uint32 indexed epoch, bytes32 root);

    /// @notice Registers the caller's wallet as a participant (R1, R2).
    function registerParticipant(
        string calldata orgId,
        AccountType accountType,
        TradeRole tradeRole,
        Sector sector
    ) external;

    /// @notice Certifies `wallet` under the current participant root. Callable by anyone.
    function verifyParticipant(
        address wallet,
        string calldata orgId,
        uint40 certifiedUntil,
        bytes32[] calldata proof
    ) external;

    /// @notice Publishes a new TGO participant root (oracle role).
    function publishParticipantRoot(bytes32 root) external;

    /// @notice Registers and certifies a project owned by the caller, who must be a verified
    /// participant listed as its owner in the current TGO project root: leaf
    /// (projectId, msg.sender, additional). Requiring the proof at registration means nobody can
    /// take a project id before the owner TGO certified.
    function registerProject(ProjectRegistration calldata registration, bool additional, bytes32[] calldata proof)
        external
        returns (bytes32 projectKey);

    /// @notice Re-certifies a registered project under the current project root (after a new root
    /// was published). Callable by anyone: the leaf binds the stored owner.
    function certifyProject(string calldata projectId, bool additional, bytes32[] calldata proof)
        external;

    /// @notice Publishes a new TGO project root (oracle role).
    function publishProjectRoot(bytes32 root) external;

    /// @notice The stored participant record (zero if unregistered).
    function participant(address wallet) external view returns (Participant memory);

    /// @notice Whether `wallet` registered.
    function isRegistered(address wallet) external view returns (bool);

    /// @notice Whether `wallet` is certified under the current root and not expired (R1).
    function isVerified(address wallet) external view returns (bool);

    /// @notice The stored project record (zero if unknown).
    function project(bytes32 projectKey) external view returns (Project memory);

    /// @notice The key of the project with 1-based `index`.
    function projectKeyAt(uint24 index) external view returns (bytes32);

    /// @notice Number of registered projects.
    function projectCount() external view returns (uint24);

    /// @notice For issuance: index and owner of a project certified under the current root.
    /// @dev Returns index 0 when the project is unknown or not currently certified.
    function certifiedProject(bytes32 projectKey)
        external
        view
        returns (uint24 index, address owner, bool additional);

    /// @notice Current participant root and its epoch.
    function participantRoot() external view returns (bytes32 root, uint32 epoch);

    /// @notice Current project root and its epoch.
    function projectRoot() external view returns (bytes32 root, uint32 epoch);

    /// @notice keccak256 of a project id string: the key projects are stored under.
    function projectKeyOf(string calldata projectId) external pure returns (bytes32);
}
