// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ICarbonixAccountFactory
/// @notice Deploys CarbonixAccounts at CREATE2 addresses known before deployment, so TGO can list
/// a participant's wallet before it exists and the participant's first user operation both
/// deploys the account (its initCode calls `createAccount`) and registers it.
/// @dev Each account is an ERC-1167 minimal proxy of one implementation. The CREATE2 salt is
/// keccak256(abi.encode(x, y, recovery, recoveryDelay, salt)): the address commits to the first
/// passkey and the recovery settings, so nobody can deploy that address with other owners.
interface ICarbonixAccountFactory {
    /// @notice A new account was deployed and initialised.
    event AccountCreated(
        address indexed account,
        bytes32 indexed keyId,
        address indexed recovery,
        uint32 recoveryDelay,
        bytes32 salt
    );

    /// @notice Deploys the account of these parameters, or returns it when it exists already.
    function createAccount(bytes32 x, bytes32 y, address recovery, uint32 recoveryDelay, bytes32 salt)
        external
        returns (address account);

    /// @notice The address `createAccount` deploys (or deployed) for these parameters.
    function getAddress(bytes32 x, bytes32 y, address recovery, uint32 recoveryDelay, bytes32 salt)
        external
        view
        returns (address);

    /// @notice The CarbonixAccount implementation every account delegates to.
    function implementation() external view returns (address);
}
