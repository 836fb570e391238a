// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {CarbonixPaymaster} from "../../../contracts/accounts/CarbonixPaymaster.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {ICarbonixAccount} from "../../../contracts/interfaces/ICarbonixAccount.sol";
import {ICarbonixPaymaster} from "../../../contracts/interfaces/ICarbonixPaymaster.sol";
import {IPaymaster, PackedUserOperation} from "../../../contracts/interfaces/IERC4337.sol";

import {AccountBase} from "./AccountBase.sol";

/// @title PaymasterSuite
/// @notice CarbonixPaymaster through the real EntryPoint v0.7: the sponsorship signature and
/// its hash layout, the time window, replay across chains and paymasters, the participant
/// policy, the gas caps and the owner's controls. The account is deployed and verified at setUp.
abstract contract PaymasterSuite is AccountBase {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant SPONSORSHIP_TYPEHASH = keccak256(
        "Sponsorship(address sender,uint256 nonce,bytes initCode,bytes callData,bytes32 accountGasLimits,"
        "uint256 preVerificationGas,bytes32 gasFees,uint128 paymasterVerificationGasLimit,"
        "uint128 paymasterPostOpGasLimit,uint48 validUntil,uint48 validAfter)"
    );

    uint256 internal outsiderKey = _p256Key("outsider staff");
    /// @dev A deployed account TGO never listed.
    address internal outsider;

    function setUp() public virtual override {
        super.setUp();
        _deployAndOnboard();
        (bytes32 x, bytes32 y) = _publicKey(outsiderKey);
        outsider = factory.createAccount(x, y, recoveryDesk, RECOVERY_DELAY, 0);
    }

    function _faucet() internal view returns (bytes memory) {
        return _execute(address(baht), abi.encodeCall(baht.faucet, (1)));
    }

    function _signedOp(
        address sender,
        uint256 key,
        bytes memory callData,
        uint48 validUntil,
        uint48 validAfter
    ) internal view returns (PackedUserOperation memory op) {
        op = _op(sender, callData);
        _sponsorWith(op, paymaster, sponsorKey, validUntil, validAfter, 0);
        _sign(op, key);
    }

    function _window() internal view returns (uint48) {
        return uint48(block.timestamp) + SPONSOR_WINDOW;
    }

    // --- sponsorship ---

    function test_validate_sponsorsVerifiedParticipant() public {
        uint256 depositBefore = paymaster.getDeposit();
        vm.recordLogs();
        _handle(_sponsoredOp(account, _faucet()));
        (bool success, uint256 cost) = _lastOpEvent(vm.getRecordedLogs());
        vm.assertTrue(success);
        vm.assertEq(baht.balanceOf(account), 1);
        vm.assertEq(paymaster.getDeposit(), depositBefore - cost);
    }

    function test_validate_refusesExpiredSponsorship() public {
        PackedUserOperation memory op =
            _signedOp(account, ownerKey, _faucet(), uint48(block.timestamp) - 1, 0);
        _expectFailedOp("AA32 paymaster expired or not due");
        _handle(op);
    }

    function test_validate_refusesNotYetValidSponsorship() public {
        uint48 validAfter = uint48(block.timestamp) + 60;
        PackedUserOperation memory op = _signedOp(account, ownerKey, _faucet(), _window(), validAfter);
        _expectFailedOp("AA32 paymaster expired or not due");
        _handle(op);

        vm.warp(validAfter);
        op = _signedOp(account, ownerKey, _faucet(), _window(), validAfter);
        _handle(op);
        vm.assertEq(baht.balanceOf(account), 1);
    }

    function test_validate_refusesSponsorshipWithoutExpiry() public {
        PackedUserOperation memory op = _signedOp(account, ownerKey, _faucet(), 0, 0);
        _expectPaymasterRevert(abi.encodeWithSelector(ICarbonixPaymaster.PaymasterNoExpiry.selector));
        _handle(op);
    }

    function test_validate_refusesOperationAlteredAfterSigning() public {
        for (uint256 field; field < 8; ++field) {
            PackedUserOperation memory op = _op(account, _faucet());
            _sponsor(op);
            _alter(op, field);
            _sign(op, ownerKey); // the passkey signs the altered operation: only the sponsorship is stale
            _expectFailedOp("AA34 signature error");
            _handle(op);
        }
    }

    /// @dev Changes one signed field of `op` to another value the EntryPoint and the caps accept.
    function _alter(PackedUserOperation memory op, uint256 field) internal view {
        if (field == 0) op.nonce = ENTRY_POINT.getNonce(account, 1); // another nonce key
        if (field == 1) op.callData = _execute(address(baht), abi.encodeCall(baht.faucet, (2)));
        if (field == 2) op.accountGasLimits = bytes32(uint256(op.accountGasLimits) + 1);
        if (field == 3) op.accountGasLimits = bytes32(uint256(op.accountGasLimits) + (1 << 128));
        if (field == 4) op.preVerificationGas += 1;
        if (field == 5) op.gasFees = bytes32(uint256(op.gasFees) - 1); // maxFeePerGas
        if (field == 6) op.gasFees = bytes32(uint256(op.gasFees) + (1 << 128)); // priority fee
        if (field == 7) op.paymasterAndData[35] = bytes1(uint8(op.paymasterAndData[35]) + 1); // pm gas
    }

    function test_validate_refusesSponsorshipOfAnotherChain() public {
        PackedUserOperation memory op = _op(account, _faucet());
        uint48 validUntil = _window();
        op.paymasterAndData = abi.encodePacked(
            address(paymaster), PM_VERIFICATION_GAS, uint128(0), validUntil, uint48(0), new bytes(65)
        );
        uint256 chainId = block.chainid;
        vm.chainId(8899); // the L1
        bytes32 digest = paymaster.sponsorshipHash(op, validUntil, 0);
        vm.chainId(chainId);
        vm.assertNotEq(digest, paymaster.sponsorshipHash(op, validUntil, 0));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sponsorKey, digest);
        op.paymasterAndData = abi.encodePacked(
            address(paymaster), PM_VERIFICATION_GAS, uint128(0), validUntil, uint48(0), r, s, v
        );
        _sign(op, ownerKey);
        _expectFailedOp("AA34 signature error");
        _handle(op);
    }

    function test_validate_refusesSponsorshipOfAnotherPaymaster() public {
        CarbonixPaymaster other =
            new CarbonixPaymaster(admin, ENTRY_POINT, ICarbonRegistry(address(registry)), sponsor, _caps());
        PackedUserOperation memory op = _op(account, _faucet());
        uint48 validUntil = _window();
        op.paymasterAndData = abi.encodePacked(
            address(paymaster), PM_VERIFICATION_GAS, uint128(0), validUntil, uint48(0), new bytes(65)
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(sponsorKey, other.sponsorshipHash(op, validUntil, 0));
        op.paymasterAndData = abi.encodePacked(
            address(paymaster), PM_VERIFICATION_GAS, uint128(0), validUntil, uint48(0), r, s, v
        );
        _sign(op, ownerKey);
        _expectFailedOp("AA34 signature error");
        _handle(op);
    }

    function test_validate_refusesOtherSigner() public {
        PackedUserOperation memory op = _op(account, _faucet());
        _sponsorWith(op, paymaster, uint256(keccak256("not the sponsor")), _window(), 0, 0);
        _sign(op, ownerKey);
        _expectFailedOp("AA34 signature error");
        _handle(op);
    }

    function test_setSponsorSigner_rotates() public {
        uint256 newKey = uint256(keccak256("sponsor 2027"));
        vm.expectEmit(address(paymaster));
        emit ICarbonixPaymaster.SponsorSignerChanged(sponsor, vm.addr(newKey));
        vm.prank(admin);
        paymaster.setSponsorSigner(vm.addr(newKey));
        vm.assertEq(paymaster.sponsorSigner(), vm.addr(newKey));

        PackedUserOperation memory op = _sponsoredOp(account, _faucet()); // the old key
        _expectFailedOp("AA34 signature error");
        _handle(op);

        op = _op(account, _faucet());
        _sponsorWith(op, paymaster, newKey, _window(), 0, 0);
        _sign(op, ownerKey);
        _handle(op);
        vm.assertEq(baht.balanceOf(account), 1);
    }

    function test_ownerFunctions_revertForOthers() public {
        bytes memory notOwner = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, sponsor);
        vm.startPrank(sponsor);
        vm.expectRevert(notOwner);
        paymaster.setSponsorSigner(sponsor);
        vm.expectRevert(notOwner);
        paymaster.setGasCaps(_caps());
        vm.expectRevert(notOwner);
        paymaster.withdrawTo(payable(sponsor), 1);
        vm.expectRevert(notOwner);
        paymaster.unlockStake();
        vm.expectRevert(notOwner);
        paymaster.withdrawStake(payable(sponsor));
        vm.stopPrank();

        vm.prank(admin);
        vm.expectRevert(ICarbonixPaymaster.PaymasterZeroSigner.selector);
        paymaster.setSponsorSigner(address(0));
    }

    function test_depositWithdrawAndStake() public {
        uint256 depositBefore = paymaster.getDeposit();
        vm.deal(bob, 1 ether);
        vm.prank(bob); // anyone may top up
        paymaster.deposit{value: 1 ether}();
        vm.assertEq(paymaster.getDeposit(), depositBefore + 1 ether);

        address payable treasury_ = payable(makeAddr("paymaster treasury"));
        vm.prank(admin);
        paymaster.withdrawTo(treasury_, 2 ether);
        vm.assertEq(treasury_.balance, 2 ether);
        vm.assertEq(paymaster.getDeposit(), depositBefore - 1 ether);

        vm.startPrank(admin);
        paymaster.unlockStake();
        vm.warp(block.timestamp + 1 days);
        paymaster.withdrawStake(treasury_);
        vm.stopPrank();
        vm.assertEq(treasury_.balance, 3 ether);
    }

    // --- participant policy ---

    function test_validate_refusesUnverifiedSender() public {
        PackedUserOperation memory op = _signedOp(outsider, outsiderKey, _faucet(), _window(), 0);
        _expectPaymasterRevert(
            abi.encodeWithSelector(ICarbonixPaymaster.PaymasterSenderNotVerified.selector, outsider)
        );
        _handle(op);
    }

    function test_validate_refusesRevokedParticipant() public {
        // TGO publishes a tree without the account: its certification lapses.
        address[] memory wallets = new address[](4);
        (wallets[0], wallets[1], wallets[2], wallets[3]) = (alice, bob, carol, frank);
        _publishParticipants(wallets);
        PackedUserOperation memory op = _sponsoredOp(account, _faucet());
        _expectPaymasterRevert(
            abi.encodeWithSelector(ICarbonixPaymaster.PaymasterSenderNotVerified.selector, account)
        );
        _handle(op);
    }

    function test_validate_certificationEndBoundsTheWindow() public {
        // Re-listed with a certification that ends in an hour; the sponsorship says a day.
        uint40 until = uint40(block.timestamp) + 1 hours;
        _certifiedUntil[account] = until;
        address[] memory wallets = new address[](1);
        wallets[0] = account;
        _publishParticipants(wallets);
        _verify(account);

        PackedUserOperation memory op =
            _signedOp(account, ownerKey, _faucet(), uint48(block.timestamp + 1 days), 0);
        vm.prank(address(ENTRY_POINT));
        (, uint256 validationData) = paymaster.validatePaymasterUserOp(op, bytes32(0), 0);
        vm.assertEq(validationData >> 160 & type(uint48).max, until, "validUntil = end of certification");

        vm.warp(until + 1);
        _expectFailedOp("AA32 paymaster expired or not due");
        _handle(op);
    }

    function test_validate_sponsorsSelfRegistrationOfUnlistedSender() public {
        bytes memory register = _execute(address(registry), _registerCall(outsider));
        _handle(_signedOp(outsider, outsiderKey, register, _window(), 0));
        vm.assertTrue(registry.isRegistered(outsider));
    }

    function test_validate_refusesOnboardingThatDoesMore() public {
        bytes memory register = _registerCall(outsider);
        bytes memory verifyAlice = abi.encodeCall(
            registry.verifyParticipant, (alice, orgIdOf(alice), CERTIFIED_UNTIL, _participantProof(alice))
        );
        ICarbonixAccount.Call[] memory two = new ICarbonixAccount.Call[](2);
        two[0] = _call(address(registry), register);
        two[1] = _call(address(baht), abi.encodeCall(baht.faucet, (1)));
        ICarbonixAccount.Call[] memory three = new ICarbonixAccount.Call[](3);
        (three[0], three[1], three[2]) = (two[0], two[0], two[0]);
        ICarbonixAccount.Call[] memory withValue = new ICarbonixAccount.Call[](1);
        withValue[0] = ICarbonixAccount.Call({target: address(registry), value: 1, data: register});

        bytes[6] memory callDatas = [
            _execute(address(registry), verifyAlice), // verifies someone else
            _executeBatch(two), // registers, then anything else
            _executeBatch(three), // more than two calls
            _executeBatch(withValue), // sends value
            _execute(address(credits), register), // not the registry
            abi.encodeCall(ICarbonixAccount.addPasskey, (bytes32(0), bytes32(0))) // not execute
        ];
        for (uint256 i; i < callDatas.length; ++i) {
            PackedUserOperation memory op = _signedOp(outsider, outsiderKey, callDatas[i], _window(), 0);
            _expectPaymasterRevert(
                abi.encodeWithSelector(ICarbonixPaymaster.PaymasterSenderNotVerified.selector, outsider)
            );
            _handle(op);
        }
    }

    // --- gas caps ---

    function test_validate_refusesGasAboveCaps() public {
        ICarbonixPaymaster.GasCaps memory c = _caps();
        for (uint256 field; field < 6; ++field) {
            PackedUserOperation memory op = _op(account, _faucet());
            uint256 cap;
            uint128 postOp;
            if (field == 0) {
                cap = c.verificationGasLimit;
                op.accountGasLimits = bytes32((cap + 1) << 128 | CALL_GAS);
            } else if (field == 1) {
                cap = c.callGasLimit;
                op.accountGasLimits = bytes32(uint256(VERIFICATION_GAS) << 128 | (cap + 1));
            } else if (field == 2) {
                cap = c.preVerificationGas;
                op.preVerificationGas = cap + 1;
            } else if (field == 3) {
                cap = c.paymasterVerificationGasLimit;
            } else if (field == 4) {
                cap = c.paymasterPostOpGasLimit;
                postOp = uint128(cap + 1);
            } else {
                cap = c.maxFeePerGas;
                op.gasFees = bytes32(uint256(MAX_PRIORITY_FEE) << 128 | (cap + 1));
            }
            _sponsorWith(op, paymaster, sponsorKey, _window(), 0, postOp);
            if (field == 3) {
                bytes memory data = op.paymasterAndData;
                uint128 limit = uint128(cap + 1);
                assembly {
                    // paymasterVerificationGasLimit: bytes 20-35 of paymasterAndData
                    let p := add(data, 0x34)
                    mstore(p, or(shl(128, limit), and(mload(p), 0xffffffffffffffffffffffffffffffff)))
                }
            }
            _sign(op, ownerKey);
            _expectPaymasterRevert(
                abi.encodeWithSelector(
                    ICarbonixPaymaster.PaymasterGasCapExceeded.selector,
                    ICarbonixPaymaster.GasField(field),
                    cap + 1,
                    cap
                )
            );
            _handle(op);
        }
    }

    function test_setGasCaps_appliesAndEmits() public {
        ICarbonixPaymaster.GasCaps memory c = _caps();
        c.callGasLimit = 50_000;
        vm.expectEmit(address(paymaster));
        emit ICarbonixPaymaster.GasCapsChanged(
            c.verificationGasLimit,
            c.callGasLimit,
            c.preVerificationGas,
            c.paymasterVerificationGasLimit,
            c.paymasterPostOpGasLimit,
            c.maxFeePerGas
        );
        vm.prank(admin);
        paymaster.setGasCaps(c);
        vm.assertEq(paymaster.gasCaps().callGasLimit, 50_000);

        PackedUserOperation memory op = _sponsoredOp(account, _faucet());
        _expectPaymasterRevert(
            abi.encodeWithSelector(
                ICarbonixPaymaster.PaymasterGasCapExceeded.selector,
                ICarbonixPaymaster.GasField.CallGasLimit,
                CALL_GAS,
                50_000
            )
        );
        _handle(op);
    }

    // --- interface ---

    function test_validate_refusesMalformedData() public {
        PackedUserOperation memory op = _op(account, _faucet());
        _sponsor(op);
        op.paymasterAndData = bytes.concat(op.paymasterAndData, hex"00");
        _sign(op, ownerKey);
        _expectPaymasterRevert(
            abi.encodeWithSelector(ICarbonixPaymaster.PaymasterInvalidDataLength.selector, uint256(130))
        );
        _handle(op);
    }

    function test_validate_onlyEntryPoint() public {
        PackedUserOperation memory op = _sponsoredOp(account, _faucet());
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixPaymaster.PaymasterUnauthorized.selector, address(this))
        );
        paymaster.validatePaymasterUserOp(op, bytes32(0), 0);
    }

    function test_postOp_neverExpected() public {
        vm.prank(address(ENTRY_POINT));
        vm.expectRevert(ICarbonixPaymaster.PaymasterNoPostOp.selector);
        paymaster.postOp(IPaymaster.PostOpMode.opSucceeded, "", 0, 0);
    }

    // --- hash layout ---

    /// @dev The digest as the README describes it, computed independently of the contract.
    function _documentedHash(PackedUserOperation memory op, uint48 validUntil, uint48 validAfter)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("CarbonixPaymaster"),
                keccak256("1"),
                block.chainid,
                address(paymaster)
            )
        );
        bytes memory data = op.paymasterAndData;
        uint256 limits;
        assembly {
            limits := mload(add(data, 0x34)) // bytes 20-51
        }
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(
                    SPONSORSHIP_TYPEHASH,
                    op.sender,
                    op.nonce,
                    keccak256(op.initCode),
                    keccak256(op.callData),
                    op.accountGasLimits,
                    op.preVerificationGas,
                    op.gasFees
                ),
                abi.encode(limits >> 128, uint128(limits), validUntil, validAfter)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function test_fuzz_sponsorshipHash_layout(
        address sender,
        uint256 nonce,
        bytes calldata initCode,
        bytes calldata callData,
        bytes32 accountGasLimits,
        uint256 preVerificationGas,
        bytes32 gasFees,
        uint256 pmLimits,
        uint48 validUntil,
        uint48 validAfter
    ) public view {
        PackedUserOperation memory op;
        (op.sender, op.nonce, op.initCode, op.callData) = (sender, nonce, initCode, callData);
        (op.accountGasLimits, op.preVerificationGas, op.gasFees) =
        (accountGasLimits, preVerificationGas, gasFees);
        op.paymasterAndData = abi.encodePacked(address(paymaster), pmLimits, validUntil, validAfter);
        vm.assertEq(
            paymaster.sponsorshipHash(op, validUntil, validAfter), _documentedHash(op, validUntil, validAfter)
        );
    }

    /// @dev Any change to any signed field, or to the window, fails the sponsor's signature.
    function test_fuzz_validate_anyChangeFails(uint8 field, uint256 delta) public {
        delta = bound(delta, 1, 1000);
        field = uint8(bound(field, 0, 9));
        PackedUserOperation memory op = _op(account, _faucet());
        _sponsor(op);
        vm.prank(address(ENTRY_POINT));
        (, uint256 data) = paymaster.validatePaymasterUserOp(op, bytes32(0), 0);
        vm.assertEq(data & 1, 0, "signed as is");

        bytes memory pmd = op.paymasterAndData;
        if (field == 0) op.sender = address(uint160(op.sender) ^ uint160(delta));
        if (field == 1) op.nonce += delta;
        if (field == 2) op.initCode = abi.encodePacked(delta);
        if (field == 3) op.callData = bytes.concat(op.callData, bytes32(delta));
        if (field == 4) op.accountGasLimits = bytes32(uint256(op.accountGasLimits) - delta);
        if (field == 5) op.preVerificationGas -= delta;
        if (field == 6) op.gasFees = bytes32(uint256(op.gasFees) - delta);
        if (field == 7) pmd[35] = bytes1(uint8(pmd[35]) ^ uint8(delta % 255 + 1)); // verification gas
        if (field == 8) pmd[57] = bytes1(uint8(pmd[57]) ^ uint8(delta % 255 + 1)); // validUntil
        if (field == 9) pmd[63] = bytes1(uint8(pmd[63]) ^ uint8(delta % 255 + 1)); // validAfter

        vm.prank(address(ENTRY_POINT));
        try paymaster.validatePaymasterUserOp(op, bytes32(0), 0) returns (bytes memory, uint256 changed) {
            vm.assertEq(changed & 1, 1, "the sponsorship no longer matches");
        } catch {
            // A change that breaks a policy (the sender is not a participant) reverts instead.
            vm.assertTrue(field == 0);
        }
    }
}

contract CarbonixPaymasterTest is PaymasterSuite {}

/// forge-config: default.evm_version = "osaka"
/// forge-config: bench.evm_version = "osaka"
contract CarbonixPaymasterOsakaTest is PaymasterSuite {}
