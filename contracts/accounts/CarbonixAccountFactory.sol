// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {LibClone} from "solady/utils/LibClone.sol";

import {ICarbonixAccount} from "../interfaces/ICarbonixAccount.sol";
import {ICarbonixAccountFactory} from "../interfaces/ICarbonixAccountFactory.sol";
import {CarbonixAccount} from "./CarbonixAccount.sol";

/// @title CarbonixAccountFactory
/// @notice Deterministic CarbonixAccount deployment (see ICarbonixAccountFactory).
/// @dev A minimal proxy (45 bytes, PUSH0 variant) costs ~60k gas to deploy and initialise where a
/// full copy of the account's code would cost over 2M; each call through the proxy costs ~2.7k more
/// (one cold delegatecall), which the EntryPoint's two calls per operation share.
/// ERC-7562: during deployment it uses CREATE2 once, for the sender, and touches only the sender.
contract CarbonixAccountFactory is ICarbonixAccountFactory {
    /// @inheritdoc ICarbonixAccountFactory
    address public immutable implementation;

    /// @param entryPoint The EntryPoint v0.7 the accounts trust.
    constructor(address entryPoint) {
        implementation = address(new CarbonixAccount(entryPoint));
    }

    /// @inheritdoc ICarbonixAccountFactory
    function createAccount(bytes32 x, bytes32 y, address recovery, uint32 recoveryDelay, bytes32 salt)
        external
        returns (address account)
    {
        bytes32 create2Salt = _salt(x, y, recovery, recoveryDelay, salt);
        account = LibClone.predictDeterministicAddress_PUSH0(implementation, create2Salt, address(this));
        if (account.code.length != 0) return account;

        LibClone.cloneDeterministic_PUSH0(implementation, create2Salt);
        ICarbonixAccount(account).initialize(x, y, recovery, recoveryDelay);
        emit AccountCreated(account, keccak256(abi.encode(x, y)), recovery, recoveryDelay, salt);
    }

    /// @inheritdoc ICarbonixAccountFactory
    function getAddress(bytes32 x, bytes32 y, address recovery, uint32 recoveryDelay, bytes32 salt)
        external
        view
        returns (address)
    {
        return LibClone.predictDeterministicAddress_PUSH0(
            implementation, _salt(x, y, recovery, recoveryDelay, salt), address(this)
        );
    }

    function _salt(bytes32 x, bytes32 y, address recovery, uint32 recoveryDelay, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(x, y, recovery, recoveryDelay, salt));
    }
}
