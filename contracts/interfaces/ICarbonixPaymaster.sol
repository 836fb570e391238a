// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPaymaster, PackedUserOperation} from "./IERC4337.sol";

/// @title ICarbonixPaymaster
/// @notice CarboniX's verifying paymaster for EntryPoint v0.7: it pays the gas of a participant's
/// user operation when CarboniX's sponsor service signed the whole operation and the sender is a
/// verified participant, or the operation only registers and verifies the sender itself.
/// @dev `paymasterAndData` (129 bytes):
///
///   offset  size  field
///   0       20    paymaster address
///   20      16    paymasterVerificationGasLimit (uint128)
///   36      16    paymasterPostOpGasLimit (uint128)
///   52      6     validUntil (uint48, unix seconds, not 0)
///   58      6     validAfter (uint48, unix seconds)
///   64      65    sponsor signature r (32) | s (32) | v (1), s at most N/2
///
/// The sponsor signs the EIP-712 digest (`sponsorshipHash`) of
///   Sponsorship(address sender,uint256 nonce,bytes initCode,bytes callData,bytes32 accountGasLimits,
///     uint256 preVerificationGas,bytes32 gasFees,uint128 paymasterVerificationGasLimit,
///     uint128 paymasterPostOpGasLimit,uint48 validUntil,uint48 validAfter)
/// under the domain {name: "CarbonixPaymaster", version: "1", chainId, verifyingContract: this
/// paymaster}: digest = keccak256("\x19\x01" || domainSeparator || structHash) with
///   structHash = keccak256(abi.encode(SPONSORSHIP_TYPEHASH, sender, nonce, keccak256(initCode),
///     keccak256(callData), accountGasLimits, preVerificationGas, gasFees,
///     paymasterVerificationGasLimit, paymasterPostOpGasLimit, validUntil, validAfter)).
/// Every field of the operation but the signatures is covered (the paymaster's own address is the
/// domain's verifyingContract), so a sponsorship is good for one operation, on one chain, through
/// one paymaster, in one time window, and any change after signing makes it invalid.
///
/// A bad sponsor signature returns SIG_VALIDATION_FAILED (1) with the time range; validUntil and
/// validAfter go back to the EntryPoint as the validation data's time range (for a verified
/// participant validUntil is lowered to the end of its certification), so a stale sponsorship
/// is refused by the EntryPoint, never by a revert here (ERC-7562 forbids TIMESTAMP in validation).
/// Policy failures revert: malformed paymasterAndData, validUntil 0 (a sponsorship must expire),
/// a gas field above its cap, an unverified sender doing anything but onboarding itself.
///
/// ERC-7562: the paymaster reads its own storage and the registry's, so it must be staked.
/// It returns an empty context: the EntryPoint never calls postOp.
interface ICarbonixPaymaster is IPaymaster {
    /// @dev The operation fields the paymaster caps, in `PaymasterGasCapExceeded`.
    enum GasField {
        VerificationGasLimit,
        CallGasLimit,
        PreVerificationGas,
        PaymasterVerificationGasLimit,
        PaymasterPostOpGasLimit,
        MaxFeePerGas
    }

    /// @dev The most a sponsored operation may declare, one slot. The EntryPoint reserves
    /// (sum of the gas limits) * maxFeePerGas from the deposit and charges 10 % of the unused
    /// callGasLimit + paymasterPostOpGasLimit as a penalty, so inflated limits cost real money.
    struct GasCaps {
        uint32 verificationGasLimit;
        uint32 callGasLimit;
        uint32 preVerificationGas;
        uint32 paymasterVerificationGasLimit;
        uint32 paymasterPostOpGasLimit;
        uint64 maxFeePerGas;
    }

    /// @notice Only the EntryPoint calls validatePaymasterUserOp.
    error PaymasterUnauthorized(address caller);
    /// @notice paymasterAndData is not 129 bytes long.
    error PaymasterInvalidDataLength(uint256 length);
    /// @notice validUntil is 0: a sponsorship without expiry is refused.
    error PaymasterNoExpiry();
    /// @notice A gas field of the operation is above the paymaster's cap.
    error PaymasterGasCapExceeded(GasField field, uint256 value, uint256 cap);
    /// @notice The sender is not a verified participant and the operation does more than register
    /// and verify the sender itself.
    error PaymasterSenderNotVerified(address sender);
    /// @notice The sponsor signer cannot be the zero address.
    error PaymasterZeroSigner();
    /// @notice postOp is never expected (the context is always empty).
    error PaymasterNoPostOp();

    /// @notice The owner rotated the sponsor key.
    event SponsorSignerChanged(address indexed previousSigner, address indexed newSigner);
    /// @notice The owner set new gas caps.
    event GasCapsChanged(
        uint32 verificationGasLimit,
        uint32 callGasLimit,
        uint32 preVerificationGas,
        uint32 paymasterVerificationGasLimit,
        uint32 paymasterPostOpGasLimit,
        uint64 maxFeePerGas
    );

    /// @notice The EIP-712 digest the sponsor signs for `userOp` (its paymasterAndData must hold
    /// at least the paymaster's two gas limits, bytes 20-51; the rest is ignored).
    function sponsorshipHash(PackedUserOperation calldata userOp, uint48 validUntil, uint48 validAfter)
        external
        view
        returns (bytes32);

    /// @notice Rotates the sponsor key (owner).
    function setSponsorSigner(address signer) external;

    /// @notice Sets the gas caps (owner).
    function setGasCaps(GasCaps calldata caps) external;

    /// @notice Adds the sent ether to the paymaster's EntryPoint deposit (anyone).
    function deposit() external payable;

    /// @notice Withdraws from the paymaster's EntryPoint deposit (owner).
    function withdrawTo(address payable to, uint256 amount) external;

    /// @notice Adds the sent ether to the paymaster's EntryPoint stake (owner).
    function addStake(uint32 unstakeDelaySec) external payable;

    /// @notice Starts the stake's unstake delay (owner).
    function unlockStake() external;

    /// @notice Withdraws the unlocked stake (owner).
    function withdrawStake(address payable to) external;

    /// @notice The current sponsor key.
    function sponsorSigner() external view returns (address);

    /// @notice The current gas caps.
    function gasCaps() external view returns (GasCaps memory);

    /// @notice The paymaster's deposit in the EntryPoint, which pays for sponsored operations.
    function getDeposit() external view returns (uint256);

    /// @notice The EntryPoint v0.7 this paymaster serves.
    function entryPoint() external view returns (address);

    /// @notice The registry whose verified participants are sponsored.
    function registry() external view returns (address);
}
