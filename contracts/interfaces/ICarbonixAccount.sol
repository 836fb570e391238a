// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccount} from "./IERC4337.sol";

/// @title ICarbonixAccount
/// @notice An ERC-4337 (EntryPoint v0.7) smart account owned by passkeys: WebAuthn P-256 keys, one
/// per member of staff of a participant organisation. It holds credits and baht like any wallet.
/// @dev Owners are passkeys, identified by `keyId = keccak256(abi.encode(x, y))` of their public
/// key. Any one passkey authorises a user operation (no multisig): each signs with a WebAuthn
/// assertion whose challenge is the 32-byte userOpHash. Only the account itself, that is a user
/// operation of one of its passkeys, adds or removes passkeys; the last one cannot be removed.
///
/// Signature encoding (both `userOp.signature` and ERC-1271), tightly packed, big-endian:
///
///   offset  size  field
///   0       32    keyId              keccak256(abi.encode(x, y)) of the signing passkey
///   32      32    r                  P-256 signature r
///   64      32    s                  P-256 signature s, at most N/2 (the signer sends N - s otherwise)
///   96      2     challengeIndex     byte index of `"challenge":"` in clientDataJSON
///   98      2     typeIndex          byte index of `"type":"webauthn.get"` in clientDataJSON
///   100     2     authDataLength     length of authenticatorData (at least 37)
///   102     n     authenticatorData  as the authenticator returned it
///   102+n   rest  clientDataJSON     as the browser returned it (UTF-8 JSON), to the end
///
/// The assertion is valid when clientDataJSON has `"type":"webauthn.get"` at typeIndex and
/// `"challenge":"<base64url(challenge), no padding>"` at challengeIndex, authenticatorData's flags
/// byte (offset 32) has User Present (0x01) and User Verified (0x04) set, and (r, s) is a P-256
/// signature by (x, y) over sha256(authenticatorData || sha256(clientDataJSON)). The challenge is
/// the userOpHash for a user operation, and `replaySafeHash(hash)` for ERC-1271.
///
/// Recovery without a seed phrase: the recovery address (the organisation's offline key, or
/// TGO's recovery desk for organisations without one) may only propose one new passkey; it can be
/// added by anyone once `recoveryDelay` has passed since the proposal, unless the account (or the
/// recovery address itself) cancelled it first. The recovery address cannot execute calls, move
/// tokens or remove passkeys.
///
/// Not upgradeable: the account is a minimal proxy (ERC-1167) of one immutable implementation.
interface ICarbonixAccount is IAccount {
    /// @dev One call of `executeBatch`.
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    /// @notice The caller is neither the EntryPoint nor the account itself.
    error AccountUnauthorized(address caller);
    /// @notice The account was initialised already (or this is the implementation).
    error AccountAlreadyInitialized();
    /// @notice The public key is not a point of P-256.
    error AccountInvalidPasskey(bytes32 x, bytes32 y);
    /// @notice The passkey is an owner already.
    error AccountPasskeyExists(bytes32 keyId);
    /// @notice No such passkey owns the account.
    error AccountUnknownPasskey(bytes32 keyId);
    /// @notice The last passkey cannot be removed.
    error AccountLastPasskey(bytes32 keyId);
    /// @notice The recovery delay lies outside [MIN_RECOVERY_DELAY, MAX_RECOVERY_DELAY].
    error AccountInvalidRecoveryDelay(uint32 delay);
    /// @notice Only the recovery address may propose a recovery.
    error AccountNotRecovery(address caller);
    /// @notice A recovery is pending already; cancel it first.
    error AccountRecoveryPending(bytes32 keyId);
    /// @notice There is no pending recovery.
    error AccountNoPendingRecovery();
    /// @notice The recovery's time lock has not passed yet.
    error AccountRecoveryLocked(uint40 executableAt);

    /// @notice The account was set up with its first passkey and recovery settings.
    event AccountInitialized(bytes32 indexed keyId, address indexed recovery, uint32 recoveryDelay);
    /// @notice A passkey became an owner.
    event PasskeyAdded(bytes32 indexed keyId, bytes32 x, bytes32 y);
    /// @notice A passkey stopped being an owner.
    event PasskeyRemoved(bytes32 indexed keyId);
    /// @notice The account changed its recovery address or delay (a pending recovery is cancelled).
    event RecoveryChanged(address indexed recovery, uint32 recoveryDelay);
    /// @notice The recovery address proposed a new passkey, which can be added from `executableAt`.
    event RecoveryProposed(bytes32 indexed keyId, bytes32 x, bytes32 y, uint40 executableAt);
    /// @notice A pending recovery was cancelled (by the account or the recovery address).
    event RecoveryCancelled(bytes32 indexed keyId);
    /// @notice A pending recovery took effect: its passkey is an owner (PasskeyAdded follows).
    event RecoveryCompleted(bytes32 indexed keyId);

    /// @notice Sets the first passkey and the recovery settings; called once, by the factory, in
    /// the transaction that deploys the account.
    function initialize(bytes32 x, bytes32 y, address recovery, uint32 recoveryDelay) external;

    /// @notice Calls `target` with `value` and `data`; reverts with the callee's revert data.
    /// Only the EntryPoint or the account itself.
    function execute(address target, uint256 value, bytes calldata data)
        external
        payable
        returns (bytes memory);

    /// @notice Makes the calls in order, all or none (e.g. deposit then order, approve then retire).
    /// Only the EntryPoint or the account itself.
    function executeBatch(Call[] calldata calls) external payable returns (bytes[] memory);

    /// @notice Adds a passkey owner. Only the account itself.
    function addPasskey(bytes32 x, bytes32 y) external returns (bytes32 keyId);

    /// @notice Removes a passkey owner, never the last one. Only the account itself.
    function removePasskey(bytes32 keyId) external;

    /// @notice Sets the recovery address (zero: none) and delay, cancelling a pending recovery.
    /// Only the account itself.
    function setRecovery(address recovery, uint32 recoveryDelay) external;

    /// @notice Proposes `(x, y)` as a new passkey; it can be added after the recovery delay.
    /// Only the recovery address, and only while no recovery is pending.
    function proposeRecovery(bytes32 x, bytes32 y) external;

    /// @notice Cancels the pending recovery. The account itself or the recovery address.
    function cancelRecovery() external;

    /// @notice Adds the pending recovery's passkey once its time lock has passed. Anyone.
    function completeRecovery() external;

    /// @notice ERC-1271: the magic value 0x1626ba7e when `signature` is a passkey assertion whose
    /// challenge is `replaySafeHash(hash)`, else 0xffffffff.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4);

    /// @notice The challenge an owner signs for ERC-1271: the EIP-712 hash of
    /// `CarbonixAccountMessage(bytes32 hash)` under the domain {name: "CarbonixAccount",
    /// version: "1", chainId, verifyingContract: this account}, so a signature for one account
    /// and chain never counts for another account of the same passkey.
    function replaySafeHash(bytes32 hash) external view returns (bytes32);

    /// @notice The EntryPoint this account trusts.
    function entryPoint() external view returns (address);

    /// @notice The public key of passkey `keyId` (zero when it is not an owner).
    function passkey(bytes32 keyId) external view returns (bytes32 x, bytes32 y);

    /// @notice How many passkeys own the account.
    function passkeyCount() external view returns (uint256);

    /// @notice The recovery address and delay.
    function recovery() external view returns (address recoveryAddress, uint32 recoveryDelay);

    /// @notice The pending recovery (all zero when none).
    function pendingRecovery() external view returns (bytes32 x, bytes32 y, uint40 executableAt);
}
