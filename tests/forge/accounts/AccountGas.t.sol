// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CarbonixAccount} from "../../../contracts/accounts/CarbonixAccount.sol";
import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {PackedUserOperation} from "../../../contracts/interfaces/IERC4337.sol";
import {QuarterLib} from "../../../contracts/libraries/QuarterLib.sol";

import {AccountBase} from "./AccountBase.sol";

/// @title AccountGasSuite
/// @notice What a passkey account costs against a plain wallet: the same call sent by an EOA and
/// as a sponsored user operation through EntryPoint.handleOps, in the same state. Written to
/// bench/snapshots/AccountGas{,Osaka}Test.json and printed (forge test -vv).
/// @dev Every figure is a whole transaction: 21,000 + calldata (4 per zero byte, 16 per other
/// byte) + execution gas of the one call each test makes (setUp builds and signs the operations
/// as its own transaction, so the measured call meets cold accounts and slots as a real one does).
/// overhead = handleOps transaction - EOA transaction(s). The account's first operation
/// (deploy + register + verify) is compared with an EOA's two transactions (register, verify),
/// measured in two tests.
abstract contract AccountGasSuite is AccountBase {
    uint256 internal constant TX_BASE = 21_000;

    uint256 internal coopKey = _p256Key("cooperative chair");
    uint256 internal secondKey = _p256Key("second organisation");
    /// @dev A second deployed, verified account holding credits, for the bundle figure.
    address internal second;
    /// @dev A second counterfactual account, listed, for the first-operation figure.
    address internal coop;
    /// @dev EOA participants: grace listed and not registered, heidi listed and registered.
    address internal grace = makeAddr("grace");
    address internal heidi = makeAddr("heidi");

    PackedUserOperation internal _retireOp;
    PackedUserOperation internal _orderOp;
    PackedUserOperation internal _coopFirstOp;
    PackedUserOperation internal _secondRetireOp;

    function setUp() public virtual override {
        super.setUp();
        vm.deal(bundler, 1 ether); // the bundler's address exists, as on a live chain
        (bytes32 x, bytes32 y) = _publicKey(coopKey);
        coop = factory.getAddress(x, y, recoveryDesk, RECOVERY_DELAY, 0);

        (bytes32 x2, bytes32 y2) = _publicKey(secondKey);
        second = factory.getAddress(x2, y2, recoveryDesk, RECOVERY_DELAY, 0);
        address[] memory wallets = new address[](9);
        (wallets[0], wallets[1], wallets[2], wallets[3]) = (alice, bob, carol, frank);
        (wallets[4], wallets[5], wallets[6], wallets[7], wallets[8]) = (account, coop, grace, heidi, second);
        _publishParticipants(wallets);
        for (uint256 i; i < 4; ++i) {
            _verify(wallets[i]);
        }
        _register(heidi);
        _deployAndOnboard();
        factory.createAccount(x2, y2, recoveryDesk, RECOVERY_DELAY, 0);
        _handle(_signedBy(second, secondKey, _executeBatch(_onboardingCalls(second))));

        // The accounts hold credits and baht in the exchange, as alice and frank do.
        vm.startPrank(alice);
        credits.transfer(account, batchA, 1000);
        credits.transfer(second, batchA, 1000);
        vm.stopPrank();
        _mintBaht(account, 10_000_000);
        vm.startPrank(account);
        baht.approve(address(exchange), type(uint256).max);
        exchange.depositBaht(10_000_000);
        vm.stopPrank();

        _retireOp = _sponsoredOp(account, _execute(address(credits), _retireData()));
        _orderOp = _sponsoredOp(account, _execute(address(exchange), _orderCall()));
        _secondRetireOp = _signedBy(second, secondKey, _execute(address(credits), _retireData()));

        PackedUserOperation memory first = _op(coop, _executeBatch(_onboardingCalls(coop)));
        first.initCode = abi.encodePacked(
            address(factory), abi.encodeCall(factory.createAccount, (x, y, recoveryDesk, RECOVERY_DELAY, 0))
        );
        _sponsor(first);
        _sign(first, coopKey);
        _coopFirstOp = first;
    }

    function _signedBy(address sender, uint256 key, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = _op(sender, callData);
        _sponsor(op);
        _sign(op, key);
    }

    function _retireCall() internal pure returns (bytes memory) {
        return abi.encodeCall(
            ICarbonCredits.retire,
            (
                0, // batchA, set by _retireData
                100,
                "Siam Cement PCL",
                ICarbonCredits.RetirementPurpose.Compliance,
                uint40(QuarterLib.periodStart(QuarterLib.period(NOW))),
                NOW
            )
        );
    }

    function _orderCall() internal view returns (bytes memory) {
        return abi.encodeCall(exchange.placeOrder, (mkt, BID, 120, 100, MAX_FILLS, uint40(NOW)));
    }

    // --- measurement ---

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    function _handleMeasured(PackedUserOperation storage stored, string memory name)
        internal
        returns (uint256)
    {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = stored;
        ENTRY_POINT.handleOps(ops, bundler);
        uint256 execution = vm.snapshotGasLastCall(_group(), name);
        return TX_BASE + _calldataGas(abi.encodeCall(ENTRY_POINT.handleOps, (ops, bundler))) + execution;
    }

    function _eoaTotal(bytes memory data, string memory name) internal returns (uint256) {
        uint256 execution = vm.snapshotGasLastCall(_group(), name);
        return TX_BASE + _calldataGas(data) + execution;
    }

    function _group() internal pure virtual returns (string memory);

    function _report(string memory name, uint256 value) internal {
        _log(name, value);
        vm.snapshotValue(_group(), name, value);
    }

    // --- retire ---

    function test_gas_retire_eoa() public {
        bytes memory data = _retireData();
        vm.prank(alice);
        (bool ok,) = address(credits).call(data);
        require(ok);
        _report("retire_eoa_tx", _eoaTotal(data, "retire_eoa_execution"));
    }

    function test_gas_retire_account() public {
        _report("retire_account_tx", _handleMeasured(_retireOp, "retire_account_execution"));
        vm.assertEq(credits.balanceOf(account, batchA), 900);
    }

    /// @dev Two organisations' retirements in one bundle: the transaction's 21,000, the
    /// bundler's payment and the contracts' cold access are paid once for both.
    function test_gas_retire_bundleOfTwo() public {
        PackedUserOperation[] memory ops = new PackedUserOperation[](2);
        (ops[0], ops[1]) = (_retireOp, _secondRetireOp);
        ENTRY_POINT.handleOps(ops, bundler);
        uint256 execution = vm.snapshotGasLastCall(_group(), "retire_bundle_of_two_execution");
        uint256 total =
            TX_BASE + _calldataGas(abi.encodeCall(ENTRY_POINT.handleOps, (ops, bundler))) + execution;
        _report("retire_bundle_of_two_tx", total);
        vm.assertEq(credits.balanceOf(second, batchA), 900);
    }

    // --- place order ---

    function test_gas_placeOrder_eoa() public {
        bytes memory data = _orderCall();
        vm.prank(frank);
        (bool ok,) = address(exchange).call(data);
        require(ok);
        _report("place_order_eoa_tx", _eoaTotal(data, "place_order_eoa_execution"));
    }

    function test_gas_placeOrder_account() public {
        _report("place_order_account_tx", _handleMeasured(_orderOp, "place_order_account_execution"));
        vm.assertEq(exchange.bahtBalance(account), 10_000_000 - _value(120, 100));
    }

    // --- onboarding ---

    function test_gas_register_eoa() public {
        bytes memory data = _registerCall(grace);
        vm.prank(grace);
        (bool ok,) = address(registry).call(data);
        require(ok);
        _report("register_eoa_tx", _eoaTotal(data, "register_eoa_execution"));
    }

    function test_gas_verify_eoa() public {
        bytes memory data = abi.encodeCall(
            registry.verifyParticipant, (heidi, orgIdOf(heidi), CERTIFIED_UNTIL, _participantProof(heidi))
        );
        vm.prank(heidi);
        (bool ok,) = address(registry).call(data);
        require(ok);
        _report("verify_eoa_tx", _eoaTotal(data, "verify_eoa_execution"));
    }

    function test_gas_firstOperation_account() public {
        _report(
            "first_operation_account_tx", _handleMeasured(_coopFirstOp, "first_operation_account_execution")
        );
        vm.assertTrue(registry.isVerified(coop));
    }

    // --- deployment: minimal proxy against a full copy ---

    function test_gas_deployment_clone() public {
        (bytes32 x, bytes32 y) = _publicKey(_p256Key("clone figure"));
        factory.createAccount(x, y, recoveryDesk, RECOVERY_DELAY, 0);
        _report("create_account_clone", vm.snapshotGasLastCall(_group(), "create_account_clone_execution"));
    }

    /// @dev What a factory without proxies would pay: a full copy of the account's code (before
    /// the same initialisation the clone figure includes).
    function test_gas_deployment_fullCopy() public {
        FullCopyDeployer deployer = new FullCopyDeployer();
        _report("deploy_account_full_copy", deployer.deploy(address(ENTRY_POINT)));
    }

    function _retireData() internal view returns (bytes memory data) {
        data = _retireCall();
        uint256 id = batchA;
        assembly {
            mstore(add(data, 0x24), id)
        }
    }
}

/// @notice Deploys a whole CarbonixAccount, as a factory without proxies would.
contract FullCopyDeployer {
    /// @dev Returns the gas the creation used.
    function deploy(address entryPoint) external returns (uint256 gasUsed) {
        gasUsed = gasleft();
        new CarbonixAccount(entryPoint);
        gasUsed -= gasleft();
    }
}

contract AccountGasTest is AccountGasSuite {
    function _group() internal pure override returns (string memory) {
        return "AccountGasTest";
    }
}

/// forge-config: default.evm_version = "osaka"
/// forge-config: bench.evm_version = "osaka"
contract AccountGasOsakaTest is AccountGasSuite {
    function _group() internal pure override returns (string memory) {
        return "AccountGasOsakaTest";
    }
}
