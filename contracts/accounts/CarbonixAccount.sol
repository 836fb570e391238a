// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";

import {ICarbonixAccount} from "../interfaces/ICarbonixAccount.sol";
import {PackedUserOperation} from "../interfaces/IERC4337.sol";
import {WebAuthnP256} from "../libraries/WebAuthnP256.sol";

/// @title CarbonixAccount
/// @notice ERC-4337 v0.7 account owned by passkeys, with time-locked recovery (see ICarbonixAccount).
/// @dev The implementation behind every account's ERC-1167 minimal proxy (CarbonixAccountFactory).
/// Nothing can change the code an account runs: there is no upgrade, no delegatecall and no raw
/// storage write, so what an owner or a recovery address can do is exactly what this file says.
contract CarbonixAccount is ICarbonixAccount {
    /// @notice Shortest and longest recovery time lock an account may choose.
    uint32 public constant MIN_RECOVERY_DELAY = 2 days;
    uint32 public constant MAX_RECOVERY_DELAY = 30 days;

    uint256 private constant _SIG_VALIDATION_FAILED = 1;
    bytes4 private constant _ERC1271_MAGIC = 0x1626ba7e;
    bytes4 private constant _ERC1271_INVALID = 0xffffffff;
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("CarbonixAccount");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    bytes32 private constant _MESSAGE_TYPEHASH = keccak256("CarbonixAccountMessage(bytes32 hash)");

    struct Passkey {
        bytes32 x;
        bytes32 y;
    }

    /// @dev One slot: read together when the recovery address acts, written together at set-up.
    struct Settings {
        address recovery;
        uint32 recoveryDelay;
        uint32 passkeyCount;
    }

    struct PendingRecovery {
        bytes32 x;
        bytes32 y;
        uint40 executableAt;
    }

    address private immutable _entryPoint;
    /// @dev The implementation's own address: it is never initialised, so it has no owner.
    address private immutable _self;

    mapping(bytes32 keyId => Passkey) private _passkeys;
    Settings private _settings;
    PendingRecovery private _pending;

    constructor(address entryPoint_) {
        _entryPoint = entryPoint_;
        _self = address(this);
    }

    modifier onlyEntryPointOrSelf() {
        if (msg.sender != _entryPoint && msg.sender != address(this)) revert AccountUnauthorized(msg.sender);
        _;
    }

    modifier onlySelf() {
        if (msg.sender != address(this)) revert AccountUnauthorized(msg.sender);
        _;
    }

    /// @notice Takes ether, e.g. to pay for its own operations when none is sponsored.
    receive() external payable {}

    /// @inheritdoc ICarbonixAccount
    function initialize(bytes32 x, bytes32 y, address recovery_, uint32 recoveryDelay) external {
        if (address(this) == _self || _settings.passkeyCount != 0) revert AccountAlreadyInitialized();
        _checkRecoveryDelay(recoveryDelay);
        _settings = Settings({recovery: recovery_, recoveryDelay: recoveryDelay, passkeyCount: 0});
        bytes32 keyId = _addPasskey(x, y);
        emit AccountInitialized(keyId, recovery_, recoveryDelay);
    }

    // --- ERC-4337 ---

    /// @notice Returns 0 when `userOp.signature` is a valid assertion of `userOpHash` by one of the
    /// passkeys, 1 otherwise (no time range), and pays the EntryPoint what it asks for.
    /// @dev Reads only this account's storage and calls only the sha256 and P-256 precompiles
    /// (ERC-7562); a malformed signature is a failed signature, never a revert.
    function validateUserOp(
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        uint256 missingAccountFunds
    ) external returns (uint256 validationData) {
        if (msg.sender != _entryPoint) revert AccountUnauthorized(msg.sender);
        if (!_isValidSignature(userOpHash, userOp.signature)) validationData = _SIG_VALIDATION_FAILED;
        if (missingAccountFunds != 0) {
            // The EntryPoint checks that it was paid; a short payment fails the operation there.
            (bool paid,) = payable(msg.sender).call{value: missingAccountFunds}("");
            paid;
        }
    }

    /// @inheritdoc ICarbonixAccount
    function execute(address target, uint256 value, bytes calldata data)
        external
        payable
        onlyEntryPointOrSelf
        returns (bytes memory)
    {
        return _call(target, value, data);
    }

    /// @inheritdoc ICarbonixAccount
    function executeBatch(Call[] calldata calls)
        external
        payable
        onlyEntryPointOrSelf
        returns (bytes[] memory results)
    {
        results = new bytes[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            results[i] = _call(calls[i].target, calls[i].value, calls[i].data);
        }
    }

    // --- owners ---

    /// @inheritdoc ICarbonixAccount
    function addPasskey(bytes32 x, bytes32 y) external onlySelf returns (bytes32) {
        return _addPasskey(x, y);
    }

    /// @inheritdoc ICarbonixAccount
    function removePasskey(bytes32 keyId) external onlySelf {
        Passkey storage key = _passkeys[keyId];
        if (!_exists(key)) revert AccountUnknownPasskey(keyId);
        if (_settings.passkeyCount == 1) revert AccountLastPasskey(keyId);
        delete _passkeys[keyId];
        unchecked {
            // At least two passkeys: the count stays positive.
            --_settings.passkeyCount;
        }
        emit PasskeyRemoved(keyId);
    }

    // --- recovery ---

    /// @inheritdoc ICarbonixAccount
    function setRecovery(address recovery_, uint32 recoveryDelay) external onlySelf {
        _checkRecoveryDelay(recoveryDelay);
        if (_pending.executableAt != 0) _cancelRecovery();
        Settings storage settings = _settings;
        settings.recovery = recovery_;
        settings.recoveryDelay = recoveryDelay;
        emit RecoveryChanged(recovery_, recoveryDelay);
    }

    /// @inheritdoc ICarbonixAccount
    function proposeRecovery(bytes32 x, bytes32 y) external {
        Settings memory settings = _settings;
        if (msg.sender != settings.recovery) revert AccountNotRecovery(msg.sender);
        if (_pending.executableAt != 0) revert AccountRecoveryPending(_keyId(_pending.x, _pending.y));
        if (!P256.isValidPublicKey(x, y)) revert AccountInvalidPasskey(x, y);
        bytes32 keyId = _keyId(x, y);
        if (_exists(_passkeys[keyId])) revert AccountPasskeyExists(keyId);

        uint40 executableAt = uint40(block.timestamp) + settings.recoveryDelay;
        _pending = PendingRecovery({x: x, y: y, executableAt: executableAt});
        emit RecoveryProposed(keyId, x, y, executableAt);
    }

    /// @inheritdoc ICarbonixAccount
    function cancelRecovery() external {
        if (msg.sender != address(this) && msg.sender != _settings.recovery) {
            revert AccountUnauthorized(msg.sender);
        }
        _cancelRecovery();
    }

    /// @inheritdoc ICarbonixAccount
    function completeRecovery() external {
        PendingRecovery memory pending = _pending;
        if (pending.executableAt == 0) revert AccountNoPendingRecovery();
        if (block.timestamp < pending.executableAt) revert AccountRecoveryLocked(pending.executableAt);
        delete _pending;
        bytes32 keyId = _keyId(pending.x, pending.y);
        emit RecoveryCompleted(keyId);
        // The account may have added the same passkey itself meanwhile.
        if (!_exists(_passkeys[keyId])) _addPasskey(pending.x, pending.y);
    }

    // --- ERC-1271 ---

    /// @inheritdoc ICarbonixAccount
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        return _isValidSignature(replaySafeHash(hash), signature) ? _ERC1271_MAGIC : _ERC1271_INVALID;
    }

    /// @inheritdoc ICarbonixAccount
    function replaySafeHash(bytes32 hash) public view returns (bytes32) {
        bytes32 domainSeparator =
            keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this)));
        return keccak256(
            abi.encodePacked("\x19\x01", domainSeparator, keccak256(abi.encode(_MESSAGE_TYPEHASH, hash)))
        );
    }

    // --- views ---

    /// @inheritdoc ICarbonixAccount
    function entryPoint() external view returns (address) {
        return _entryPoint;
    }

    /// @inheritdoc ICarbonixAccount
    function passkey(bytes32 keyId) external view returns (bytes32 x, bytes32 y) {
        Passkey storage key = _passkeys[keyId];
        return (key.x, key.y);
    }

    /// @inheritdoc ICarbonixAccount
    function passkeyCount() external view returns (uint256) {
        return _settings.passkeyCount;
    }

    /// @inheritdoc ICarbonixAccount
    function recovery() external view returns (address recoveryAddress, uint32 recoveryDelay) {
        Settings storage settings = _settings;
        return (settings.recovery, settings.recoveryDelay);
    }

    /// @inheritdoc ICarbonixAccount
    function pendingRecovery() external view returns (bytes32 x, bytes32 y, uint40 executableAt) {
        PendingRecovery storage pending = _pending;
        return (pending.x, pending.y, pending.executableAt);
    }

    // --- internal ---

    function _addPasskey(bytes32 x, bytes32 y) internal returns (bytes32 keyId) {
        if (!P256.isValidPublicKey(x, y)) revert AccountInvalidPasskey(x, y);
        keyId = _keyId(x, y);
        Passkey storage key = _passkeys[keyId];
        if (_exists(key)) revert AccountPasskeyExists(keyId);
        key.x = x;
        key.y = y;
        ++_settings.passkeyCount;
        emit PasskeyAdded(keyId, x, y);
    }

    function _cancelRecovery() internal {
        PendingRecovery storage pending = _pending;
        if (pending.executableAt == 0) revert AccountNoPendingRecovery();
        bytes32 keyId = _keyId(pending.x, pending.y);
        delete _pending;
        emit RecoveryCancelled(keyId);
    }

    /// @dev An unknown keyId reads as (0, 0), which is not a point of P-256, so `verify` is false.
    function _isValidSignature(bytes32 challenge, bytes calldata signature) internal view returns (bool) {
        Passkey storage key = _passkeys[WebAuthnP256.keyIdOf(signature)];
        return WebAuthnP256.verify(challenge, signature, key.x, key.y);
    }

    function _call(address target, uint256 value, bytes calldata data)
        internal
        returns (bytes memory result)
    {
        bool success;
        (success, result) = target.call{value: value}(data);
        if (!success) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    /// @dev (0, 0) is not on the curve, so a stored passkey is never all zero.
    function _exists(Passkey storage key) internal view returns (bool) {
        return key.x != 0 || key.y != 0;
    }

    function _checkRecoveryDelay(uint32 recoveryDelay) internal pure {
        if (recoveryDelay < MIN_RECOVERY_DELAY || recoveryDelay > MAX_RECOVERY_DELAY) {
            revert AccountInvalidRecoveryDelay(recoveryDelay);
        }
    }

    function _keyId(bytes32 x, bytes32 y) internal pure returns (bytes32) {
        return keccak256(abi.encode(x, y));
    }
}
