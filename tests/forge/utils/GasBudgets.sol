// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vm} from "./Vm.sol";

/// @title GasBudgets
/// @notice Holds the gas of a measured transaction to its budget in bench/gas-budgets.json, the
/// file bench/gas.py checks the same figures against on anvil.
/// @dev Suites using it run in isolation mode (inline config `isolate = true` for the default
/// and the bench profiles, above the contract): forge then runs every top-level call of a
/// test as a transaction of its own, with cold accounts and slots and storage refunds settled,
/// and `vm.lastCallGas().gasTotalUsed` is that transaction's gasUsed (21,000 + calldata +
/// execution - refund), the figure anvil puts in the receipt. A budget bounds that figure.
library GasBudgets {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    string internal constant FILE = "bench/gas-budgets.json";

    /// @dev The last call's gasUsed, recorded as `key` in the suite's snapshot file and held to
    /// the budget of `key`.
    function measure(string memory key) internal returns (uint256 gasUsed) {
        gasUsed = vm.snapshotGasLastCall(key);
        check(key, gasUsed);
    }

    /// @dev The last call's gasUsed, recorded as `key`; `key` has no budget (a reported figure).
    function report(string memory key) internal returns (uint256 gasUsed) {
        gasUsed = vm.snapshotGasLastCall(key);
    }

    /// @dev A figure derived from several transactions (e.g. gas per fill), recorded and checked.
    function record(string memory key, uint256 value) internal {
        vm.snapshotValue(key, value);
        check(key, value);
    }

    /// @dev Reverts unless `gasUsed` is within the absolute budget of `key`.
    function check(string memory key, uint256 gasUsed) internal view {
        uint256 budget = vm.parseJsonUint(_file(), string.concat(".budgets.", key, ".max_gas"));
        vm.assertLe(gasUsed, budget, string.concat(key, ": gasUsed above its budget in ", FILE));
    }

    /// @dev Reverts unless `gasUsed` is within the budget of `key`, a percentage of the figure of
    /// `referenceKey` (`referenceGas`, measured in the same test).
    function checkRelative(
        string memory key,
        uint256 gasUsed,
        string memory referenceKey,
        uint256 referenceGas
    ) internal view {
        string memory json = _file();
        string memory path = string.concat(".budgets.", key, ".max_percent_of");
        string memory budgetReference = vm.parseJsonString(json, string.concat(path, ".key"));
        vm.assertEq(
            keccak256(bytes(budgetReference)),
            keccak256(bytes(referenceKey)),
            string.concat(key, ": its budget is relative to ", budgetReference)
        );
        uint256 percent = vm.parseJsonUint(json, string.concat(path, ".percent"));
        vm.assertLe(
            gasUsed * 100,
            referenceGas * percent,
            string.concat(
                key, ": gasUsed x 100 above ", vm.toString(percent), " x ", referenceKey, " (", FILE, ")"
            )
        );
    }

    function _file() private view returns (string memory) {
        return vm.readFile(FILE);
    }
}
