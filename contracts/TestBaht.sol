// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "solady/tokens/ERC20.sol";

/// @title TestBaht
/// @notice A THB-denominated ERC-20 for local chains and demos: 2 decimals (satang) and a faucet.
/// @dev `carbonix deploy` deploys it only on local networks; on a real network the exchange is
/// given the address of a real baht token from configuration.
contract TestBaht is ERC20 {
    /// @notice At most 1,000,000.00 THB per faucet call.
    uint256 public constant FAUCET_LIMIT = 100_000_000;

    error TestBahtFaucetLimit(uint256 amount);

    function name() public pure override returns (string memory) {
        return "Test Thai Baht";
    }

    function symbol() public pure override returns (string memory) {
        return "tTHB";
    }

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Mints up to 1,000,000 THB (in satang) to the caller.
    function faucet(uint256 amount) external {
        if (amount > FAUCET_LIMIT) revert TestBahtFaucetLimit(amount);
        _mint(msg.sender, amount);
    }
}
