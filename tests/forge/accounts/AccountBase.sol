// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Base64} from "solady/utils/Base64.sol";

import {CarbonixAccountFactory} from "../../../contracts/accounts/CarbonixAccountFactory.sol";
import {CarbonixPaymaster} from "../../../contracts/accounts/CarbonixPaymaster.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {ICarbonixAccount} from "../../../contracts/interfaces/ICarbonixAccount.sol";
import {ICarbonixPaymaster} from "../../../contracts/interfaces/ICarbonixPaymaster.sol";
import {IEntryPoint, PackedUserOperation} from "../../../contracts/interfaces/IERC4337.sol";

import {ExchangeBase} from "../utils/ExchangeBase.sol";
import {Vm} from "../utils/Vm.sol";

/// @title AccountBase
/// @notice ExchangeBase plus the passkey-account layer: the real EntryPoint v0.7 (from the npm
/// package of eth-infinitism, 0.7.0, bytecode only) deployed through the CREATE2 deployer at its
/// canonical address, the account factory, and the paymaster (staked, 50 ETH deposited, sponsor
/// key `sponsor`). The participant tree TGO published at setUp already lists `account`, the
/// not-yet-deployed account of passkey `staff 1` with the recovery desk, so its first operation
/// can deploy, register and verify it. Passkeys sign WebAuthn assertions built here, as a browser
/// and an authenticator would (P-256 through forge's signP256).
abstract contract AccountBase is ExchangeBase {
    IEntryPoint internal constant ENTRY_POINT = IEntryPoint(0x0000000071727De22E5E9d8BAf0edAc6f37da032);
    address internal constant CREATE2_DEPLOYER = 0x4e59b44847b379578588920cA78FbF26c0B4956C;
    bytes32 internal constant ENTRY_POINT_SALT =
        0x90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3;
    string internal constant ENTRY_POINT_ARTIFACT =
        "node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json";
    uint256 internal constant P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551;
    address internal constant P256_PRECOMPILE = address(0x100);

    uint32 internal constant RECOVERY_DELAY = 3 days;
    bytes1 internal constant UP_UV = 0x05;
    /// @dev Where a browser puts the two fields: `{"type":"webauthn.get","challenge":"...`.
    uint16 internal constant TYPE_INDEX = 1;
    uint16 internal constant CHALLENGE_INDEX = 23;

    /// @dev Gas limits of the test operations: enough for the pure-Solidity P-256 fallback and a
    /// deployment; the caps are above them.
    uint128 internal constant VERIFICATION_GAS = 700_000;
    uint128 internal constant CALL_GAS = 1_000_000;
    uint256 internal constant PRE_VERIFICATION_GAS = 80_000;
    uint128 internal constant PM_VERIFICATION_GAS = 120_000;
    uint128 internal constant MAX_PRIORITY_FEE = 1 gwei;
    uint128 internal constant MAX_FEE = 2 gwei;
    uint48 internal constant SPONSOR_WINDOW = 1 hours;

    CarbonixAccountFactory internal factory;
    CarbonixPaymaster internal paymaster;

    uint256 internal sponsorKey = uint256(keccak256("sponsor"));
    address internal sponsor = vm.addr(sponsorKey);
    address internal recoveryDesk = makeAddr("recovery desk");
    address payable internal bundler = payable(makeAddr("bundler"));

    uint256 internal ownerKey = _p256Key("staff 1");
    bytes32 internal ownerX;
    bytes32 internal ownerY;
    /// @dev The counterfactual account of `ownerKey`, listed by TGO at setUp, not deployed.
    address internal account;

    function setUp() public virtual override {
        super.setUp();
        _deployEntryPoint();
        factory = new CarbonixAccountFactory(address(ENTRY_POINT));
        paymaster =
            new CarbonixPaymaster(admin, ENTRY_POINT, ICarbonRegistry(address(registry)), sponsor, _caps());
        vm.label(address(factory), "CarbonixAccountFactory");
        vm.label(address(paymaster), "CarbonixPaymaster");
        vm.deal(admin, 100 ether);
        vm.startPrank(admin);
        paymaster.deposit{value: 50 ether}();
        paymaster.addStake{value: 1 ether}(1 days);
        vm.stopPrank();

        (ownerX, ownerY) = _publicKey(ownerKey);
        account = factory.getAddress(ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, 0);
        vm.label(account, "account");

        // TGO lists the account's address before it exists; the traders re-prove.
        address[] memory wallets = new address[](5);
        (wallets[0], wallets[1], wallets[2], wallets[3], wallets[4]) = (alice, bob, carol, frank, account);
        _publishParticipants(wallets);
        for (uint256 i; i < 4; ++i) {
            _verify(wallets[i]);
        }
    }

    // --- deployment ---

    function _deployEntryPoint() internal {
        bytes memory initCode = vm.parseJsonBytes(vm.readFile(ENTRY_POINT_ARTIFACT), ".bytecode");
        (bool ok, bytes memory deployed) = CREATE2_DEPLOYER.call(abi.encodePacked(ENTRY_POINT_SALT, initCode));
        require(
            ok && address(bytes20(deployed)) == address(ENTRY_POINT), "AccountBase: EntryPoint not canonical"
        );
        vm.label(address(ENTRY_POINT), "EntryPoint");
    }

    function _caps() internal pure returns (ICarbonixPaymaster.GasCaps memory) {
        return ICarbonixPaymaster.GasCaps({
            verificationGasLimit: 1_000_000,
            callGasLimit: 2_000_000,
            preVerificationGas: 200_000,
            paymasterVerificationGasLimit: 150_000,
            paymasterPostOpGasLimit: 0,
            maxFeePerGas: 100 gwei
        });
    }

    // --- passkeys ---

    function _p256Key(string memory name) internal pure returns (uint256) {
        return uint256(keccak256(bytes(name))) % (P256_N - 1) + 1;
    }

    function _publicKey(uint256 privateKey) internal pure returns (bytes32 x, bytes32 y) {
        (uint256 px, uint256 py) = vm.publicKeyP256(privateKey);
        return (bytes32(px), bytes32(py));
    }

    function _keyIdOf(uint256 privateKey) internal pure returns (bytes32) {
        (bytes32 x, bytes32 y) = _publicKey(privateKey);
        return keccak256(abi.encode(x, y));
    }

    function _authenticatorData(bytes1 flags) internal pure returns (bytes memory) {
        return abi.encodePacked(sha256("localhost"), flags, uint32(0));
    }

    /// @dev What a browser sends for `navigator.credentials.get` with this challenge.
    function _clientDataJSON(bytes32 challenge) internal pure returns (bytes memory) {
        return abi.encodePacked(
            '{"type":"webauthn.get","challenge":"',
            Base64.encode(abi.encodePacked(challenge), true, true),
            '","origin":"http://localhost","crossOrigin":false}'
        );
    }

    /// @dev The packed signature of ICarbonixAccount: keyId | r | s | challengeIndex | typeIndex |
    /// authDataLength | authenticatorData | clientDataJSON, s normalised to the lower half.
    function _assertion(
        uint256 privateKey,
        bytes memory authenticatorData,
        bytes memory clientDataJSON,
        uint16 challengeIndex,
        uint16 typeIndex
    ) internal pure returns (bytes memory) {
        bytes32 message = sha256(abi.encodePacked(authenticatorData, sha256(clientDataJSON)));
        (bytes32 r, bytes32 s) = vm.signP256(privateKey, message);
        if (uint256(s) > P256_N / 2) s = bytes32(P256_N - uint256(s));
        return abi.encodePacked(
            _keyIdOf(privateKey),
            r,
            s,
            challengeIndex,
            typeIndex,
            uint16(authenticatorData.length),
            authenticatorData,
            clientDataJSON
        );
    }

    function _passkeySign(uint256 privateKey, bytes32 challenge) internal pure returns (bytes memory) {
        return _assertion(
            privateKey, _authenticatorData(UP_UV), _clientDataJSON(challenge), CHALLENGE_INDEX, TYPE_INDEX
        );
    }

    // --- user operations ---

    function _op(address sender, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op.sender = sender;
        op.nonce = ENTRY_POINT.getNonce(sender, 0);
        op.callData = callData;
        op.accountGasLimits = bytes32(uint256(VERIFICATION_GAS) << 128 | CALL_GAS);
        op.preVerificationGas = PRE_VERIFICATION_GAS;
        op.gasFees = bytes32(uint256(MAX_PRIORITY_FEE) << 128 | MAX_FEE);
    }

    function _initCode() internal view returns (bytes memory) {
        return abi.encodePacked(
            address(factory),
            abi.encodeCall(factory.createAccount, (ownerX, ownerY, recoveryDesk, RECOVERY_DELAY, 0))
        );
    }

    function _execute(address target, bytes memory data) internal pure returns (bytes memory) {
        return abi.encodeCall(ICarbonixAccount.execute, (target, 0, data));
    }

    function _executeBatch(ICarbonixAccount.Call[] memory calls) internal pure returns (bytes memory) {
        return abi.encodeCall(ICarbonixAccount.executeBatch, (calls));
    }

    function _call(address target, bytes memory data) internal pure returns (ICarbonixAccount.Call memory) {
        return ICarbonixAccount.Call({target: target, value: 0, data: data});
    }

    /// @dev Sets paymasterAndData to a sponsorship of `op` by `key` through `pm`.
    function _sponsorWith(
        PackedUserOperation memory op,
        CarbonixPaymaster pm,
        uint256 key,
        uint48 validUntil,
        uint48 validAfter,
        uint128 postOpGas
    ) internal view {
        op.paymasterAndData = abi.encodePacked(
            address(pm), PM_VERIFICATION_GAS, postOpGas, validUntil, validAfter, new bytes(65)
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, pm.sponsorshipHash(op, validUntil, validAfter));
        op.paymasterAndData =
            abi.encodePacked(address(pm), PM_VERIFICATION_GAS, postOpGas, validUntil, validAfter, r, s, v);
    }

    function _sponsor(PackedUserOperation memory op) internal view {
        _sponsorWith(op, paymaster, sponsorKey, uint48(block.timestamp) + SPONSOR_WINDOW, 0, 0);
    }

    function _sign(PackedUserOperation memory op, uint256 privateKey) internal view {
        op.signature = _passkeySign(privateKey, ENTRY_POINT.getUserOpHash(op));
    }

    /// @dev An operation of `sender` (the account unless said otherwise), sponsored and signed by
    /// the account's first passkey.
    function _sponsoredOp(address sender, bytes memory callData)
        internal
        view
        returns (PackedUserOperation memory op)
    {
        op = _op(sender, callData);
        _sponsor(op);
        _sign(op, ownerKey);
    }

    function _handle(PackedUserOperation memory op) internal {
        PackedUserOperation[] memory ops = new PackedUserOperation[](1);
        ops[0] = op;
        ENTRY_POINT.handleOps(ops, bundler);
    }

    function _expectFailedOp(string memory reason) internal {
        vm.expectRevert(abi.encodeWithSelector(IEntryPoint.FailedOp.selector, 0, reason));
    }

    function _expectPaymasterRevert(bytes memory inner) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IEntryPoint.FailedOpWithRevert.selector, 0, "AA33 reverted", inner)
        );
    }

    // --- onboarding ---

    function _registerCall(address wallet) internal view returns (bytes memory) {
        return abi.encodeCall(
            registry.registerParticipant,
            (
                orgIdOf(wallet),
                ICarbonRegistry.AccountType.Corporation,
                ICarbonRegistry.TradeRole.Both,
                ICarbonRegistry.Sector.Agriculture
            )
        );
    }

    function _onboardingCalls(address wallet) internal view returns (ICarbonixAccount.Call[] memory calls) {
        calls = new ICarbonixAccount.Call[](2);
        calls[0] = _call(address(registry), _registerCall(wallet));
        calls[1] = _call(
            address(registry),
            abi.encodeCall(
                registry.verifyParticipant,
                (wallet, orgIdOf(wallet), CERTIFIED_UNTIL, _participantProof(wallet))
            )
        );
    }

    /// @dev The account's first operation: deploy, register and verify, sponsored.
    function _firstOp() internal view returns (PackedUserOperation memory op) {
        op = _op(account, _executeBatch(_onboardingCalls(account)));
        op.initCode = _initCode();
        _sponsor(op);
        _sign(op, ownerKey);
    }

    function _deployAndOnboard() internal {
        _handle(_firstOp());
        require(registry.isVerified(account), "AccountBase: onboarding failed");
    }

    /// @dev Success and cost of the last UserOperationEvent among the recorded logs.
    function _lastOpEvent(Vm.Log[] memory logs) internal pure returns (bool success, uint256 actualGasCost) {
        bytes32 topic = IEntryPoint.UserOperationEvent.selector;
        bool found;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics.length != 0 && logs[i].topics[0] == topic) {
                (, success, actualGasCost,) = abi.decode(logs[i].data, (uint256, bool, uint256, uint256));
                found = true;
            }
        }
        require(found, "AccountBase: no UserOperationEvent");
    }

    function _hasPrecompile() internal view returns (bool) {
        // A valid signature (Wycheproof vector OpenZeppelin also uses): the precompile returns 1.
        (bool ok, bytes memory out) = P256_PRECOMPILE.staticcall(
            abi.encode(
                0xbb5a52f42f9c9261ed4361f59422a1e30036e7c32b270c8807a419feca605023,
                uint256(5),
                uint256(1),
                0xa71af64de5126a4a4e02b7922d66ce9415ce88a4c9d25514d91082c8725ac957,
                0x5d47723c8fbe580bb369fec9c2665d8e30a435b9932645482e7c9f11e872296b
            )
        );
        return ok && out.length == 32 && uint256(bytes32(out)) == 1;
    }
}
