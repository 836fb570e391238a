// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ICarbonixAccount} from "../../../contracts/interfaces/ICarbonixAccount.sol";
import {IEntryPoint, PackedUserOperation} from "../../../contracts/interfaces/IERC4337.sol";

import {FuzzSelector} from "../utils/BaseTest.sol";
import {Vm} from "../utils/Vm.sol";
import {AccountBase} from "./AccountBase.sol";

/// @title PaymasterHandler
/// @notice What the fuzzer calls: each call forwards to the invariant test, which builds and
/// sends the operation (the helpers live there) and never reverts.
contract PaymasterHandler {
    PaymasterInvariantSuite internal immutable _suite;

    constructor(PaymasterInvariantSuite suite) {
        _suite = suite;
    }

    function sendOperation(uint256 seed) external {
        _suite.sendOperation(seed);
    }

    function deposit(uint256 amount) external {
        _suite.topUp(amount);
    }

    function warp(uint256 seconds_) external {
        _suite.passTime(seconds_);
    }
}

/// @title PaymasterInvariantSuite
/// @notice The paymaster's EntryPoint deposit falls only by what its sponsored operations cost:
/// deposit = initial + top-ups - sum of actualGasCost of the UserOperationEvents naming it, and
/// the bundler received exactly that sum, under random sequences of good operations, operations
/// whose call reverts (still paid for), and operations refused in validation (never paid for):
/// expired or not-yet-valid sponsorships, another signer, a wrong passkey, gas above the caps, an
/// unverified sender.
abstract contract PaymasterInvariantSuite is AccountBase {
    PaymasterHandler internal handler;
    uint256 internal initialDeposit;
    uint256 internal initialBundler;

    uint256 public ghostToppedUp;
    uint256 public ghostCharged;
    uint256 public ghostIncluded;
    uint256 public ghostRefused;

    address internal outsider;

    function setUp() public virtual override {
        super.setUp();
        _deployAndOnboard();
        (bytes32 x, bytes32 y) = _publicKey(_p256Key("outsider"));
        outsider = factory.createAccount(x, y, recoveryDesk, RECOVERY_DELAY, 0);
        handler = new PaymasterHandler(this);
        vm.deal(bundler, 1 ether);
        initialDeposit = paymaster.getDeposit();
        initialBundler = bundler.balance;
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        bytes4[] memory s = new bytes4[](5);
        s[0] = PaymasterHandler.sendOperation.selector;
        s[1] = PaymasterHandler.sendOperation.selector;
        s[2] = PaymasterHandler.sendOperation.selector;
        s[3] = PaymasterHandler.deposit.selector;
        s[4] = PaymasterHandler.warp.selector;
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector({addr: address(handler), selectors: s});
    }

    // --- actions (called through the handler) ---

    function sendOperation(uint256 seed) external {
        uint256 kind = seed % 9;
        address sender = kind == 8 ? outsider : account;
        bytes memory callData = kind == 1
            ? _execute(address(exchange), abi.encodeCall(exchange.depositBaht, (1_000_000)))  // reverts: no baht
            : _execute(address(baht), abi.encodeCall(baht.faucet, (seed % 1000 + 1)));
        PackedUserOperation memory op = _op(sender, callData);
        uint48 now_ = uint48(block.timestamp);
        uint256 key = sponsorKey;
        (uint48 validUntil, uint48 validAfter) = (now_ + SPONSOR_WINDOW, 0);
        if (kind == 2) validUntil = now_ - 1;
        if (kind == 3) validAfter = now_ + 60;
        if (kind == 4) key = uint256(keccak256("not the sponsor"));
        if (kind == 6) op.preVerificationGas = _caps().preVerificationGas + 1;
        if (kind == 7) {
            op.accountGasLimits = bytes32(uint256(VERIFICATION_GAS) << 128 | (_caps().callGasLimit + 1));
        }
        _sponsorWith(op, paymaster, key, validUntil, validAfter, 0);
        _sign(op, kind == 5 ? _p256Key("stranger") : kind == 8 ? _p256Key("outsider") : ownerKey);

        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        vm.recordLogs();
        try ENTRY_POINT.handleOps(ops, bundler) {
            ++ghostIncluded;
            ghostCharged += _chargedToPaymaster(vm.getRecordedLogs());
            require(kind <= 1, "PaymasterInvariants: a refused operation was included");
        } catch {
            ++ghostRefused;
            require(kind >= 2, "PaymasterInvariants: a good operation was refused");
        }
    }

    function topUp(uint256 amount) external {
        amount = bound(amount, 0, 1 ether);
        vm.deal(bob, amount);
        vm.prank(bob);
        paymaster.deposit{value: amount}();
        ghostToppedUp += amount;
    }

    function passTime(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 1 hours));
    }

    function _chargedToPaymaster(Vm.Log[] memory logs) internal view returns (uint256 charged) {
        bytes32 topic = IEntryPoint.UserOperationEvent.selector;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(ENTRY_POINT) || logs[i].topics[0] != topic) continue;
            if (address(uint160(uint256(logs[i].topics[3]))) != address(paymaster)) continue;
            (,, uint256 actualGasCost,) = abi.decode(logs[i].data, (uint256, bool, uint256, uint256));
            charged += actualGasCost;
        }
    }

    // --- invariants ---

    function invariant_depositFallsOnlyBySponsoredCost() public view {
        vm.assertEq(paymaster.getDeposit(), initialDeposit + ghostToppedUp - ghostCharged);
    }

    function invariant_bundlerReceivesWhatThePaymasterPaid() public view {
        vm.assertEq(bundler.balance, initialBundler + ghostCharged);
    }
}

contract PaymasterInvariantTest is PaymasterInvariantSuite {}

/// forge-config: default.evm_version = "osaka"
/// forge-config: bench.evm_version = "osaka"
contract PaymasterInvariantOsakaTest is PaymasterInvariantSuite {}
