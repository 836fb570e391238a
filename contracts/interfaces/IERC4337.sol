// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @dev The ERC-4337 v0.7 user operation as the EntryPoint passes it to accounts and paymasters.
/// `accountGasLimits` = verificationGasLimit (high 128 bits) | callGasLimit (low 128);
/// `gasFees` = maxPriorityFeePerGas (high 128) | maxFeePerGas (low 128);
/// `initCode` = factory (20 bytes) | factoryData, or empty;
/// `paymasterAndData` = paymaster (20) | paymasterVerificationGasLimit (16) |
/// paymasterPostOpGasLimit (16) | paymasterData, or empty.
/// @dev Declared here (MIT) from the ERC-4337 specification rather than imported from
/// the npm package of eth-infinitism (account-abstraction 0.7.0), whose sources are GPL-3.0; it provides only the
/// EntryPoint bytecode the tests and the deploy script use.
struct PackedUserOperation {
    address sender;
    uint256 nonce;
    bytes initCode;
    bytes callData;
    bytes32 accountGasLimits;
    uint256 preVerificationGas;
    bytes32 gasFees;
    bytes paymasterAndData;
    bytes signature;
}

/// @title IAccount
/// @notice What the EntryPoint calls on a smart account during validation.
interface IAccount {
    /// @notice Checks `userOp.signature` against `userOpHash` and pays the EntryPoint
    /// `missingAccountFunds` (zero when a paymaster pays). Returns 0 for a valid signature, 1 for an
    /// invalid one, with an optional time range in the upper bits (see IPaymaster).
    function validateUserOp(
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        uint256 missingAccountFunds
    ) external returns (uint256 validationData);
}

/// @title IPaymaster
/// @notice What the EntryPoint calls on a paymaster.
interface IPaymaster {
    enum PostOpMode {
        opSucceeded,
        opReverted,
        postOpReverted
    }

    /// @notice Agrees to pay for `userOp` (at most `maxCost` wei) or not. `validationData` is
    /// sigFailed (bit 0: 1 = invalid signature) | validUntil << 160 | validAfter << 208 (uint48
    /// seconds; validUntil 0 means no expiry). The EntryPoint calls `postOp` only when `context` is
    /// not empty.
    function validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 maxCost)
        external
        returns (bytes memory context, uint256 validationData);

    /// @notice Called after the operation when `context` was not empty.
    function postOp(
        PostOpMode mode,
        bytes calldata context,
        uint256 actualGasCost,
        uint256 actualUserOpFeePerGas
    ) external;
}

/// @title IEntryPoint
/// @notice The part of the EntryPoint v0.7 (0x0000000071727De22E5E9d8BAf0edAc6f37da032) CarboniX uses.
interface IEntryPoint {
    /// @notice Emitted for every operation handled, with what it cost whoever paid for it.
    event UserOperationEvent(
        bytes32 indexed userOpHash,
        address indexed sender,
        address indexed paymaster,
        uint256 nonce,
        bool success,
        uint256 actualGasCost,
        uint256 actualGasUsed
    );

    /// @notice A failed validation of operation `opIndex` ("AAxx ..." reason).
    error FailedOp(uint256 opIndex, string reason);
    /// @notice A failed validation whose entity reverted with `inner`.
    error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);

    function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;

    function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);

    function getNonce(address sender, uint192 key) external view returns (uint256 nonce);

    function balanceOf(address account) external view returns (uint256);

    function depositTo(address account) external payable;

    function withdrawTo(address payable withdrawAddress, uint256 withdrawAmount) external;

    function addStake(uint32 unstakeDelaySec) external payable;

    function unlockStake() external;

    function withdrawStake(address payable withdrawAddress) external;
}
