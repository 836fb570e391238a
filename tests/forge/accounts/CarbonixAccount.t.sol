// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Base64} from "solady/utils/Base64.sol";

import {CarbonixAccount} from "../../../contracts/accounts/CarbonixAccount.sol";
import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonixAccount} from "../../../contracts/interfaces/ICarbonixAccount.sol";
import {ICarbonixAccountFactory} from "../../../contracts/interfaces/ICarbonixAccountFactory.sol";
import {PackedUserOperation} from "../../../contracts/interfaces/IERC4337.sol";
import {QuarterLib} from "../../../contracts/libraries/QuarterLib.sol";
import {WebAuthnP256} from "../../../contracts/libraries/WebAuthnP256.sol";

import {AccountBase} from "./AccountBase.sol";

/// @title AccountSuite
/// @notice CarbonixAccount and its factory through the real EntryPoint v0.7: first operation,
/// execution, passkeys, WebAuthn checks, recovery, ERC-1271. Run twice: without the P-256
/// precompile (cancun, the pure-Solidity fallback) and with it (osaka).
abstract contract AccountSuite is AccountBase {
    uint256 internal staff2Key = _p256Key("staff 2");

    /// @dev Whether this run's EVM answers the precompile at 0x100.
    function _expectPrecompile() internal pure virtual returns (bool);

    function test_p256_precompileAsConfigured() public view {
        vm.assertEq(_hasPrecompile(), _expectPrecompile());
    }

    // --- first operation ---

    function test_firstOperation_deploysRegistersAndVerifies() public {
        vm.assertEq(account.code.length, 0);
        uint256 depositBefore = paymaster.getDeposit();
        vm.recordLogs();
        _handle(_firstOp());
        (bool success, uint256 cost) = _lastOpEvent(vm.getRecordedLogs());

        vm.assertTrue(success);
        vm.assertGt(account.code.length, 0);
        vm.assertTrue(registry.isVerified(account));
        vm.assertEq(registry.participant(account).orgKey, bytes20(keccak256(bytes(orgIdOf(account)))));
        vm.assertEq(paymaster.getDeposit(), depositBefore - cost, "the paymaster paid exactly the cost");
        vm.assertEq(account.balance, 0, "the account paid nothing");
        (bytes32 x, bytes32 y) = ICarbonixAccount(account).passkey(_keyIdOf(ownerKey));
        vm.assertEq(x, ownerX);
        vm.assertEq(y, ownerY);
        (address recovery_, uint32 delay) = ICarbonixAccount(account).recovery();
        vm.assertEq(recovery_, recoveryDesk);
        vm.assertEq(delay, RECOVERY_DELAY);
    }

    // --- execution ---

    function test_execute_retires() public {
        _deployAndOnboard();
        vm.prank(alice);
        credits.transfer(account, batchA, 500);

        bytes memory retire = abi.encodeCall(
            credits.retire,
            (
                batchA,
                120,
                "Khao Kho Rice Cooperative",
                ICarbonCredits.RetirementPurpose.VoluntaryOffset,
                uint40(QuarterLib.periodStart(QuarterLib.period(NOW))),
                NOW
            )
        );
        _handle(_sponsoredOp(account, _execute(address(credits), retire)));
        vm.assertEq(credits.balanceOf(account, batchA), 380);
    }

    function test_executeBatch_depositsAndPlacesOrder() public {
        _deployAndOnboard();
        uint16 period = exchange.currentPeriod();
        ICarbonixAccount.Call[] memory calls = new ICarbonixAccount.Call[](4);
        calls[0] = _call(address(baht), abi.encodeCall(baht.faucet, (5_000_000)));
        calls[1] = _call(address(baht), abi.encodeCall(baht.approve, (address(exchange), 5_000_000)));
        calls[2] = _call(address(exchange), abi.encodeCall(exchange.depositBaht, (5_000_000)));
        calls[3] = _call(
            address(exchange),
            abi.encodeCall(exchange.placeOrder, (mkt, BID, 120, 100, MAX_FILLS, uint40(block.timestamp)))
        );
        _handle(_sponsoredOp(account, _executeBatch(calls)));

        uint256 orderId = exchange.orderIdOf(mkt, period, BID, 120, 1);
        vm.assertEq(exchange.order(orderId).owner, account);
        vm.assertEq(exchange.bahtBalance(account), 5_000_000 - _value(120, 100));
    }

    function test_executeBatch_allOrNone() public {
        _deployAndOnboard();
        ICarbonixAccount.Call[] memory calls = new ICarbonixAccount.Call[](2);
        calls[0] = _call(address(baht), abi.encodeCall(baht.faucet, (1_000_000)));
        calls[1] = _call(address(exchange), abi.encodeCall(exchange.depositBaht, (1_000_000))); // no approval
        vm.recordLogs();
        _handle(_sponsoredOp(account, _executeBatch(calls)));
        (bool success,) = _lastOpEvent(vm.getRecordedLogs());
        vm.assertFalse(success);
        vm.assertEq(baht.balanceOf(account), 0, "the faucet call was rolled back");
    }

    function test_execute_revertsForOthers() public {
        _deployAndOnboard();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountUnauthorized.selector, alice));
        ICarbonixAccount(account).execute(address(baht), 0, abi.encodeCall(baht.faucet, (1)));

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountUnauthorized.selector, alice));
        ICarbonixAccount(account).executeBatch(new ICarbonixAccount.Call[](0));
    }

    function test_validateUserOp_revertsForOthers() public {
        _deployAndOnboard();
        PackedUserOperation memory op = _sponsoredOp(account, "");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountUnauthorized.selector, alice));
        ICarbonixAccount(account).validateUserOp(op, bytes32(0), 0);
    }

    function test_execute_paysItsOwnGasWithoutPaymaster() public {
        _deployAndOnboard();
        vm.deal(account, 1 ether);
        PackedUserOperation memory op =
            _op(account, _execute(address(baht), abi.encodeCall(baht.faucet, (5))));
        _sign(op, ownerKey);
        _handle(op);
        vm.assertEq(baht.balanceOf(account), 5);
        vm.assertLt(account.balance, 1 ether);
    }

    // --- passkeys ---

    function test_addPasskey_secondStaffSigns() public {
        _deployAndOnboard();
        (bytes32 x, bytes32 y) = _publicKey(staff2Key);
        vm.expectEmit(account);
        emit ICarbonixAccount.PasskeyAdded(_keyIdOf(staff2Key), x, y);
        _handle(_sponsoredOp(account, _execute(account, abi.encodeCall(ICarbonixAccount.addPasskey, (x, y)))));
        vm.assertEq(ICarbonixAccount(account).passkeyCount(), 2);

        PackedUserOperation memory op =
            _op(account, _execute(address(baht), abi.encodeCall(baht.faucet, (7))));
        _sponsor(op);
        _sign(op, staff2Key);
        _handle(op);
        vm.assertEq(baht.balanceOf(account), 7);
    }

    function test_removePasskey_removedKeyRefused() public {
        _deployAndOnboard();
        (bytes32 x, bytes32 y) = _publicKey(staff2Key);
        _handle(_sponsoredOp(account, _execute(account, abi.encodeCall(ICarbonixAccount.addPasskey, (x, y)))));
        bytes32 staff1 = _keyIdOf(ownerKey);

        // staff 2 removes staff 1.
        PackedUserOperation memory op =
            _op(account, _execute(account, abi.encodeCall(ICarbonixAccount.removePasskey, (staff1))));
        _sponsor(op);
        _sign(op, staff2Key);
        vm.expectEmit(account);
        emit ICarbonixAccount.PasskeyRemoved(staff1);
        _handle(op);
        vm.assertEq(ICarbonixAccount(account).passkeyCount(), 1);

        op = _sponsoredOp(account, _execute(address(baht), abi.encodeCall(baht.faucet, (1))));
        _expectFailedOp("AA24 signature error");
        _handle(op);
    }

    function test_removePasskey_revertsForLast() public {
        _deployAndOnboard();
        bytes32 keyId = _keyIdOf(ownerKey);
        vm.prank(account);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountLastPasskey.selector, keyId));
        ICarbonixAccount(account).removePasskey(keyId);
    }

    function test_removePasskey_revertsForUnknown() public {
        _deployAndOnboard();
        vm.prank(account);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountUnknownPasskey.selector, bytes32(uint256(1)))
        );
        ICarbonixAccount(account).removePasskey(bytes32(uint256(1)));
    }

    function test_addPasskey_revertsForInvalidOrDuplicate() public {
        _deployAndOnboard();
        vm.prank(account);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountInvalidPasskey.selector, ownerX, ownerX)
        );
        ICarbonixAccount(account).addPasskey(ownerX, ownerX);

        vm.prank(account);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountPasskeyExists.selector, _keyIdOf(ownerKey))
        );
        ICarbonixAccount(account).addPasskey(ownerX, ownerY);
    }

    function test_ownerFunctions_revertForEntryPointAndOthers() public {
        _deployAndOnboard();
        (bytes32 x, bytes32 y) = _publicKey(staff2Key);
        address[3] memory callers = [alice, recoveryDesk, address(ENTRY_POINT)];
        for (uint256 i; i < callers.length; ++i) {
            bytes memory unauthorized =
                abi.encodeWithSelector(ICarbonixAccount.AccountUnauthorized.selector, callers[i]);
            vm.prank(callers[i]);
            vm.expectRevert(unauthorized);
            ICarbonixAccount(account).addPasskey(x, y);
            vm.prank(callers[i]);
            vm.expectRevert(unauthorized);
            ICarbonixAccount(account).removePasskey(_keyIdOf(ownerKey));
            vm.prank(callers[i]);
            vm.expectRevert(unauthorized);
            ICarbonixAccount(account).setRecovery(callers[i], RECOVERY_DELAY);
        }
    }

    // --- WebAuthn checks ---

    function _refused(bytes memory signature) internal {
        PackedUserOperation memory op =
            _op(account, _execute(address(baht), abi.encodeCall(baht.faucet, (1))));
        _sponsor(op);
        op.signature = signature;
        _expectFailedOp("AA24 signature error");
        _handle(op);
    }

    function _opHash() internal view returns (bytes32 hash, PackedUserOperation memory op) {
        op = _op(account, _execute(address(baht), abi.encodeCall(baht.faucet, (1))));
        _sponsor(op);
        hash = ENTRY_POINT.getUserOpHash(op);
    }

    function test_signature_refusedFromUnknownPasskey() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        _refused(_passkeySign(staff2Key, hash));
    }

    function test_signature_refusedWithKeyIdOfAnotherOwner() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        bytes memory signature = _passkeySign(staff2Key, hash);
        bytes32 owner = _keyIdOf(ownerKey);
        assembly {
            mstore(add(signature, 0x20), owner)
        }
        _refused(signature);
    }

    function test_signature_refusedForAlteredChallenge() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        _refused(_passkeySign(ownerKey, bytes32(uint256(hash) ^ 1)));
    }

    function test_signature_refusedForHighS() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        bytes memory signature = _passkeySign(ownerKey, hash);
        uint256 s;
        assembly {
            s := mload(add(signature, 0x60))
        }
        uint256 highS = P256_N - s;
        assembly {
            mstore(add(signature, 0x60), highS)
        }
        _refused(signature);
    }

    function test_signature_refusedWithoutUserPresence() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        _refused(
            _assertion(ownerKey, _authenticatorData(0x04), _clientDataJSON(hash), CHALLENGE_INDEX, TYPE_INDEX)
        );
    }

    function test_signature_refusedWithoutUserVerification() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        _refused(
            _assertion(ownerKey, _authenticatorData(0x01), _clientDataJSON(hash), CHALLENGE_INDEX, TYPE_INDEX)
        );
    }

    function test_signature_refusedForCreateType() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        bytes memory json = _clientDataJSON(hash);
        bytes memory create = bytes("create");
        for (uint256 i; i < 3; ++i) {
            json[TYPE_INDEX + 17 + i] = create[i + 3]; // webauthn.get -> webauthn.ate
        }
        _refused(_assertion(ownerKey, _authenticatorData(UP_UV), json, CHALLENGE_INDEX, TYPE_INDEX));
    }

    function test_signature_refusedForWrongIndices() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        bytes memory json = _clientDataJSON(hash);
        _refused(_assertion(ownerKey, _authenticatorData(UP_UV), json, CHALLENGE_INDEX + 1, TYPE_INDEX));
        _refused(_assertion(ownerKey, _authenticatorData(UP_UV), json, CHALLENGE_INDEX, 0));
        _refused(_assertion(ownerKey, _authenticatorData(UP_UV), json, type(uint16).max, TYPE_INDEX));
    }

    function test_signature_refusedWhenTruncatedOrEmpty() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        bytes memory signature = _passkeySign(ownerKey, hash);
        _refused("");
        _refused(abi.encodePacked(_keyIdOf(ownerKey)));
        bytes memory cut = new bytes(signature.length - 1);
        for (uint256 i; i < cut.length; ++i) {
            cut[i] = signature[i];
        }
        _refused(cut);
        // authDataLength pointing past the end
        signature[100] = 0xff;
        _refused(signature);
    }

    function test_signature_refusedForShortAuthenticatorData() public {
        _deployAndOnboard();
        (bytes32 hash,) = _opHash();
        _refused(_assertion(ownerKey, abi.encodePacked(bytes32(0), UP_UV), _clientDataJSON(hash), 23, 1));
    }

    function test_signature_acceptsOtherFieldOrder() public {
        _deployAndOnboard();
        (bytes32 hash, PackedUserOperation memory op) = _opHash();
        bytes memory json = abi.encodePacked(
            '{"origin":"https://carbonix.example","challenge":"',
            _b64(hash),
            '","crossOrigin":false,"type":"webauthn.get","other_keys_can_be_added_here":"x"}'
        );
        op.signature = _assertion(
            ownerKey,
            _authenticatorData(0x1d), // UP, UV, backup eligible, backed up (a synced passkey)
            json,
            _indexOf(json, '"challenge":"'),
            _indexOf(json, '"type":"webauthn.get"')
        );
        _handle(op);
        vm.assertEq(baht.balanceOf(account), 1);
    }

    /// @dev An assertion made in Python with `cryptography`, as the client will make them: key
    /// scalar 0x2a2a...2a, challenge sha256("carbonix userOpHash"), rpIdHash
    /// sha256("carbonix.example"), flags UP|UV|BE|BS, signCount 7, JSON keys in browser order.
    function test_signature_pythonVector() public {
        WebAuthnHarness harness = new WebAuthnHarness();
        bytes32 x = 0x0c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd60133;
        bytes32 y = 0x1c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569e;
        bytes32 challenge = 0x0d11906e9b609663dd0c5629c4c096c805046047c5bb79cc2a681e13048418c5;
        bytes memory signature = abi.encodePacked(
            keccak256(abi.encode(x, y)),
            hex"f0fa60adc83a122a5565c242f7a61a8384ddd06d6687d7ce1f151bd017c7664e"
            hex"70218b7a7aea07a61511e7536e2603a60cbddbfa97b00f52e9b99420237096290017000100259883e9e3c4c89297"
            hex"150d46ff1442bec4adfb3c0af57d2687040ef9f5d71619151d00000007",
            '{"type":"webauthn.get","challenge":"DRGQbptglmPdDFYpxMCWyAUEYEfFu3nMKmgeEwSEGMU",'
            '"origin":"https://carbonix.example","crossOrigin":false}'
        );
        vm.assertTrue(harness.verify(challenge, signature, x, y));
        vm.assertFalse(harness.verify(bytes32(uint256(challenge) + 1), signature, x, y));
    }

    // --- recovery ---

    function _propose(uint256 key) internal returns (bytes32 x, bytes32 y) {
        (x, y) = _publicKey(key);
        vm.prank(recoveryDesk);
        ICarbonixAccount(account).proposeRecovery(x, y);
    }

    function test_recovery_afterTimeLock() public {
        _deployAndOnboard();
        uint256 newKey = _p256Key("new phone");
        (bytes32 x, bytes32 y) = _publicKey(newKey);
        uint40 executableAt = uint40(block.timestamp) + RECOVERY_DELAY;
        vm.expectEmit(account);
        emit ICarbonixAccount.RecoveryProposed(_keyIdOf(newKey), x, y, executableAt);
        _propose(newKey);

        vm.warp(executableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountRecoveryLocked.selector, executableAt));
        ICarbonixAccount(account).completeRecovery();

        vm.warp(executableAt);
        vm.expectEmit(account);
        emit ICarbonixAccount.RecoveryCompleted(_keyIdOf(newKey));
        vm.expectEmit(account);
        emit ICarbonixAccount.PasskeyAdded(_keyIdOf(newKey), x, y);
        vm.prank(bob); // anyone completes it
        ICarbonixAccount(account).completeRecovery();
        vm.assertEq(ICarbonixAccount(account).passkeyCount(), 2);
        (,, uint40 pendingAt) = ICarbonixAccount(account).pendingRecovery();
        vm.assertEq(pendingAt, 0);

        // The recovered passkey signs; the sponsorship window is re-signed at the new time.
        PackedUserOperation memory op =
            _op(account, _execute(address(baht), abi.encodeCall(baht.faucet, (3))));
        _sponsor(op);
        _sign(op, newKey);
        _handle(op);
        vm.assertEq(baht.balanceOf(account), 3);
    }

    function test_recovery_cancelledByAccount() public {
        _deployAndOnboard();
        uint256 newKey = _p256Key("thief's phone");
        _propose(newKey);
        vm.expectEmit(account);
        emit ICarbonixAccount.RecoveryCancelled(_keyIdOf(newKey));
        _handle(_sponsoredOp(account, _execute(account, abi.encodeCall(ICarbonixAccount.cancelRecovery, ()))));

        vm.warp(block.timestamp + RECOVERY_DELAY);
        vm.expectRevert(ICarbonixAccount.AccountNoPendingRecovery.selector);
        ICarbonixAccount(account).completeRecovery();
        vm.assertEq(ICarbonixAccount(account).passkeyCount(), 1);
    }

    function test_recovery_cancelledByRecoveryAddress() public {
        _deployAndOnboard();
        _propose(_p256Key("typo"));
        vm.prank(recoveryDesk);
        ICarbonixAccount(account).cancelRecovery();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountUnauthorized.selector, alice));
        ICarbonixAccount(account).cancelRecovery();
    }

    function test_recovery_onlyRecoveryAddressProposes() public {
        _deployAndOnboard();
        (bytes32 x, bytes32 y) = _publicKey(staff2Key);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountNotRecovery.selector, alice));
        ICarbonixAccount(account).proposeRecovery(x, y);
    }

    function test_recovery_oneProposalAtATime() public {
        _deployAndOnboard();
        _propose(staff2Key);
        (bytes32 x, bytes32 y) = _publicKey(_p256Key("other"));
        vm.prank(recoveryDesk);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountRecoveryPending.selector, _keyIdOf(staff2Key))
        );
        ICarbonixAccount(account).proposeRecovery(x, y);
    }

    function test_recovery_refusesInvalidOrExistingKey() public {
        _deployAndOnboard();
        vm.prank(recoveryDesk);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountInvalidPasskey.selector, bytes32(0), bytes32(0))
        );
        ICarbonixAccount(account).proposeRecovery(0, 0);
        vm.prank(recoveryDesk);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountPasskeyExists.selector, _keyIdOf(ownerKey))
        );
        ICarbonixAccount(account).proposeRecovery(ownerX, ownerY);
    }

    function test_recovery_addressCannotExecuteOrMoveTokens() public {
        _deployAndOnboard();
        vm.prank(alice);
        credits.transfer(account, batchA, 10);
        bytes memory unauthorized =
            abi.encodeWithSelector(ICarbonixAccount.AccountUnauthorized.selector, recoveryDesk);

        vm.startPrank(recoveryDesk);
        vm.expectRevert(unauthorized);
        ICarbonixAccount(account)
            .execute(address(credits), 0, abi.encodeCall(credits.transfer, (bob, batchA, 10)));
        vm.expectRevert(unauthorized);
        ICarbonixAccount(account).executeBatch(new ICarbonixAccount.Call[](1));
        vm.expectRevert(unauthorized);
        ICarbonixAccount(account).removePasskey(_keyIdOf(ownerKey));
        vm.expectRevert(); // the recovery desk holds no credits of its own to move
        credits.transferFrom(account, bob, batchA, 10);
        vm.stopPrank();
        vm.assertEq(credits.balanceOf(account, batchA), 10);

        // Its only power is a proposal the account can cancel within the delay.
        _propose(staff2Key);
        vm.assertEq(ICarbonixAccount(account).passkeyCount(), 1);
    }

    function test_setRecovery_changesAndCancelsPending() public {
        _deployAndOnboard();
        _propose(staff2Key);
        address newDesk = makeAddr("org offline key");
        vm.expectEmit(account);
        emit ICarbonixAccount.RecoveryCancelled(_keyIdOf(staff2Key));
        vm.expectEmit(account);
        emit ICarbonixAccount.RecoveryChanged(newDesk, 7 days);
        _handle(
            _sponsoredOp(
                account, _execute(account, abi.encodeCall(ICarbonixAccount.setRecovery, (newDesk, 7 days)))
            )
        );
        (address r, uint32 d) = ICarbonixAccount(account).recovery();
        vm.assertEq(r, newDesk);
        vm.assertEq(d, 7 days);

        vm.prank(recoveryDesk);
        vm.expectRevert(abi.encodeWithSelector(ICarbonixAccount.AccountNotRecovery.selector, recoveryDesk));
        ICarbonixAccount(account).proposeRecovery(ownerY, ownerX);
    }

    function test_setRecovery_revertsOutsideBounds() public {
        _deployAndOnboard();
        uint32 minDelay = CarbonixAccount(payable(account)).MIN_RECOVERY_DELAY();
        uint32 maxDelay = CarbonixAccount(payable(account)).MAX_RECOVERY_DELAY();
        vm.startPrank(account);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountInvalidRecoveryDelay.selector, minDelay - 1)
        );
        ICarbonixAccount(account).setRecovery(recoveryDesk, minDelay - 1);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountInvalidRecoveryDelay.selector, maxDelay + 1)
        );
        ICarbonixAccount(account).setRecovery(recoveryDesk, maxDelay + 1);
        ICarbonixAccount(account).setRecovery(address(0), minDelay); // recovery switched off
        vm.stopPrank();
    }

    // --- ERC-1271 ---

    function test_isValidSignature_boundToAccount() public {
        _deployAndOnboard();
        bytes32 hash = keccak256("CBAM declaration 2026-Q2");
        bytes memory signature = _passkeySign(ownerKey, ICarbonixAccount(account).replaySafeHash(hash));
        vm.assertEq(ICarbonixAccount(account).isValidSignature(hash, signature), bytes4(0x1626ba7e));
        vm.assertEq(
            ICarbonixAccount(account).isValidSignature(keccak256("other"), signature), bytes4(0xffffffff)
        );

        // Another account of the same passkey (another salt) does not accept it.
        address twin =
            factory.createAccount(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, bytes32(uint256(1)));
        vm.assertEq(ICarbonixAccount(twin).isValidSignature(hash, signature), bytes4(0xffffffff));
        // Nor does a raw assertion of the hash itself.
        vm.assertEq(
            ICarbonixAccount(account).isValidSignature(hash, _passkeySign(ownerKey, hash)), bytes4(0xffffffff)
        );
    }

    // --- factory ---

    function test_createAccount_deterministicAndIdempotent() public {
        vm.expectEmit(address(factory));
        emit ICarbonixAccountFactory.AccountCreated(
            account, _keyIdOf(ownerKey), recoveryDesk, RECOVERY_DELAY, 0
        );
        address created = factory.createAccount(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, 0);
        vm.assertEq(created, account);
        vm.recordLogs();
        vm.assertEq(factory.createAccount(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, 0), account);
        vm.assertEq(vm.getRecordedLogs().length, 0, "no second deployment");
        vm.assertEq(ICarbonixAccount(account).passkeyCount(), 1);
        vm.assertEq(ICarbonixAccount(account).entryPoint(), address(ENTRY_POINT));
    }

    function test_getAddress_commitsToEveryParameter() public view {
        address[4] memory others = [
            factory.getAddress(ownerY, ownerX, recoveryDesk, RECOVERY_DELAY, 0),
            factory.getAddress(ownerX, ownerY, alice, RECOVERY_DELAY, 0),
            factory.getAddress(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY + 1, 0),
            factory.getAddress(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, bytes32(uint256(1)))
        ];
        for (uint256 i; i < 4; ++i) {
            vm.assertTrue(others[i] != account);
        }
    }

    function test_initialize_revertsTwiceAndOnImplementation() public {
        factory.createAccount(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, 0);
        vm.expectRevert(ICarbonixAccount.AccountAlreadyInitialized.selector);
        ICarbonixAccount(account).initialize(ownerX, ownerY, alice, RECOVERY_DELAY);
        address implementation = factory.implementation();
        vm.expectRevert(ICarbonixAccount.AccountAlreadyInitialized.selector);
        ICarbonixAccount(implementation).initialize(ownerX, ownerY, alice, RECOVERY_DELAY);
    }

    function test_createAccount_revertsForBadParameters() public {
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountInvalidRecoveryDelay.selector, uint32(1 hours))
        );
        factory.createAccount(ownerX, ownerY, recoveryDesk, 1 hours, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ICarbonixAccount.AccountInvalidPasskey.selector, ownerX, bytes32(0))
        );
        factory.createAccount(ownerX, 0, recoveryDesk, RECOVERY_DELAY, 0);
    }

    // --- fuzz ---

    /// @dev Any challenge, any origin length (so any offsets), any extra authenticator data:
    /// the assertion passes; flipping any one byte of it fails.
    function test_fuzz_signature_layout(bytes32 challenge, uint8 originLength, uint8 extraAuth, uint256 flip)
        public
    {
        WebAuthnHarness harness = new WebAuthnHarness();
        bytes memory signature = _fuzzAssertion(challenge, originLength, extraAuth);
        vm.assertTrue(harness.verify(challenge, signature, ownerX, ownerY));

        flip = bound(flip, 32, signature.length - 1); // the harness takes (x, y), not the keyId
        signature[flip] = bytes1(uint8(signature[flip]) ^ 0x01);
        // A flipped bit anywhere else changes an index, a length, a flag, r, s, or what was signed.
        vm.assertFalse(harness.verify(challenge, signature, ownerX, ownerY));
    }

    /// @dev The origin's length moves both JSON fields; extra authenticator data (extensions)
    /// moves the JSON's start.
    function _fuzzAssertion(bytes32 challenge, uint8 originLength, uint8 extraAuth)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory origin = new bytes(originLength);
        for (uint256 i; i < origin.length; ++i) {
            origin[i] = "a";
        }
        bytes memory json = abi.encodePacked(
            '{"origin":"', origin, '","type":"webauthn.get","challenge":"', _b64(challenge), '"}'
        );
        uint16 typeIndex = uint16(13 + origin.length);
        bytes memory auth = abi.encodePacked(_authenticatorData(UP_UV), new bytes(extraAuth));
        return _assertion(_p256Key("staff 1"), auth, json, typeIndex + 22, typeIndex);
    }

    function _b64(bytes32 value) internal pure returns (bytes memory) {
        return bytes(Base64.encode(abi.encodePacked(value), true, true));
    }

    function _indexOf(bytes memory haystack, bytes memory needle) internal pure returns (uint16) {
        for (uint256 i; i + needle.length <= haystack.length; ++i) {
            bool match_ = true;
            for (uint256 j; j < needle.length && match_; ++j) {
                match_ = haystack[i + j] == needle[j];
            }
            if (match_) return uint16(i);
        }
        revert("not found");
    }
}

/// @notice Exposes WebAuthnP256.verify on calldata.
contract WebAuthnHarness {
    function verify(bytes32 challenge, bytes calldata signature, bytes32 x, bytes32 y)
        external
        view
        returns (bool)
    {
        return WebAuthnP256.verify(challenge, signature, x, y);
    }
}

contract CarbonixAccountTest is AccountSuite {
    function _expectPrecompile() internal pure override returns (bool) {
        return false;
    }
}

/// forge-config: default.evm_version = "osaka"
/// forge-config: bench.evm_version = "osaka"
contract CarbonixAccountOsakaTest is AccountSuite {
    function _expectPrecompile() internal pure override returns (bool) {
        return true;
    }
}
