// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {ICarbonixAccount} from "../interfaces/ICarbonixAccount.sol";
import {ICarbonixPaymaster} from "../interfaces/ICarbonixPaymaster.sol";
import {IEntryPoint, IPaymaster, PackedUserOperation} from "../interfaces/IERC4337.sol";

/// @title CarbonixPaymaster
/// @notice Sponsors the gas of participants' user operations within a signed, capped policy
/// (see ICarbonixPaymaster).
contract CarbonixPaymaster is ICarbonixPaymaster, Ownable2Step, EIP712 {
    /// @notice The EIP-712 type of a sponsorship.
    bytes32 public constant SPONSORSHIP_TYPEHASH = keccak256(
        "Sponsorship(address sender,uint256 nonce,bytes initCode,bytes callData,bytes32 accountGasLimits,"
        "uint256 preVerificationGas,bytes32 gasFees,uint128 paymasterVerificationGasLimit,"
        "uint128 paymasterPostOpGasLimit,uint48 validUntil,uint48 validAfter)"
    );
    /// @notice At most this many calls in an onboarding batch (register, then verify).
    uint256 public constant MAX_ONBOARDING_CALLS = 2;

    uint256 private constant _SIG_VALIDATION_FAILED = 1;
    uint256 private constant _GAS_LIMITS_OFFSET = 20;
    uint256 private constant _DATA_OFFSET = 52;
    uint256 private constant _DATA_LENGTH = 52 + 6 + 6 + 65;

    IEntryPoint private immutable _entryPoint;
    ICarbonRegistry private immutable _registry;

    address private _signer;
    GasCaps private _gasCaps;

    constructor(
        address owner_,
        IEntryPoint entryPoint_,
        ICarbonRegistry registry_,
        address signer_,
        GasCaps memory caps
    ) Ownable(owner_) EIP712("CarbonixPaymaster", "1") {
        _entryPoint = entryPoint_;
        _registry = registry_;
        _setSponsorSigner(signer_);
        _setGasCaps(caps);
    }

    // --- ERC-4337 ---

    /// @inheritdoc IPaymaster
    function validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32, uint256)
        external
        view
        returns (bytes memory context, uint256 validationData)
    {
        if (msg.sender != address(_entryPoint)) revert PaymasterUnauthorized(msg.sender);
        bytes calldata data = userOp.paymasterAndData;
        if (data.length != _DATA_LENGTH) revert PaymasterInvalidDataLength(data.length);
        uint48 validUntil = uint48(bytes6(data[52:58]));
        uint48 validAfter = uint48(bytes6(data[58:64]));
        if (validUntil == 0) revert PaymasterNoExpiry();
        _checkGasCaps(userOp);

        (address recovered, ECDSA.RecoverError error,) =
            ECDSA.tryRecover(sponsorshipHash(userOp, validUntil, validAfter), data[64:_DATA_LENGTH]);
        bool sigFailed = error != ECDSA.RecoverError.NoError || recovered != _signer;

        uint48 certifiedUntil = _sponsorable(userOp.sender, userOp.callData);
        if (certifiedUntil != 0 && certifiedUntil < validUntil) validUntil = certifiedUntil;

        validationData = (sigFailed ? _SIG_VALIDATION_FAILED : 0) | uint256(validUntil) << 160
            | uint256(validAfter) << 208;
        return ("", validationData);
    }

    /// @notice Never called: the context is always empty.
    function postOp(PostOpMode, bytes calldata, uint256, uint256) external pure {
        revert PaymasterNoPostOp();
    }

    /// @inheritdoc ICarbonixPaymaster
    function sponsorshipHash(PackedUserOperation calldata userOp, uint48 validUntil, uint48 validAfter)
        public
        view
        returns (bytes32)
    {
        bytes calldata data = userOp.paymasterAndData;
        bytes memory head = abi.encode(
            SPONSORSHIP_TYPEHASH,
            userOp.sender,
            userOp.nonce,
            keccak256(userOp.initCode),
            keccak256(userOp.callData),
            userOp.accountGasLimits,
            userOp.preVerificationGas,
            userOp.gasFees
        );
        bytes memory tail = abi.encode(
            uint128(bytes16(data[_GAS_LIMITS_OFFSET:_GAS_LIMITS_OFFSET + 16])),
            uint128(bytes16(data[_GAS_LIMITS_OFFSET + 16:_DATA_OFFSET])),
            validUntil,
            validAfter
        );
        return _hashTypedDataV4(keccak256(bytes.concat(head, tail)));
    }

    // --- owner ---

    /// @inheritdoc ICarbonixPaymaster
    function setSponsorSigner(address signer) external onlyOwner {
        _setSponsorSigner(signer);
    }

    /// @inheritdoc ICarbonixPaymaster
    function setGasCaps(GasCaps calldata caps) external onlyOwner {
        _setGasCaps(caps);
    }

    /// @inheritdoc ICarbonixPaymaster
    function deposit() external payable {
        _entryPoint.depositTo{value: msg.value}(address(this));
    }

    /// @inheritdoc ICarbonixPaymaster
    function withdrawTo(address payable to, uint256 amount) external onlyOwner {
        _entryPoint.withdrawTo(to, amount);
    }

    /// @inheritdoc ICarbonixPaymaster
    function addStake(uint32 unstakeDelaySec) external payable onlyOwner {
        _entryPoint.addStake{value: msg.value}(unstakeDelaySec);
    }

    /// @inheritdoc ICarbonixPaymaster
    function unlockStake() external onlyOwner {
        _entryPoint.unlockStake();
    }

    /// @inheritdoc ICarbonixPaymaster
    function withdrawStake(address payable to) external onlyOwner {
        _entryPoint.withdrawStake(to);
    }

    // --- views ---

    /// @inheritdoc ICarbonixPaymaster
    function sponsorSigner() external view returns (address) {
        return _signer;
    }

    /// @inheritdoc ICarbonixPaymaster
    function gasCaps() external view returns (GasCaps memory) {
        return _gasCaps;
    }

    /// @inheritdoc ICarbonixPaymaster
    function getDeposit() external view returns (uint256) {
        return _entryPoint.balanceOf(address(this));
    }

    /// @inheritdoc ICarbonixPaymaster
    function entryPoint() external view returns (address) {
        return address(_entryPoint);
    }

    /// @inheritdoc ICarbonixPaymaster
    function registry() external view returns (address) {
        return address(_registry);
    }

    // --- internal ---

    /// @dev Reverts unless the sender may be sponsored; returns the end of its certification when
    /// it is a verified participant (the operation must land before it), 0 for an onboarding
    /// operation. Reads the record and the current epoch rather than `isVerified`, which reads
    /// the block's timestamp (forbidden in validation): the EntryPoint enforces the expiry.
    function _sponsorable(address sender, bytes calldata callData) internal view returns (uint48) {
        ICarbonRegistry.Participant memory participant = _registry.participant(sender);
        if (participant.certifiedEpoch != 0) {
            (, uint32 epoch) = _registry.participantRoot();
            if (participant.certifiedEpoch == epoch) return participant.certifiedUntil;
        }
        if (!_isSelfOnboarding(sender, callData)) revert PaymasterSenderNotVerified(sender);
        return 0;
    }

    /// @dev Whether `callData` is `execute` or `executeBatch` (at most MAX_ONBOARDING_CALLS) of
    /// registry calls without value that only register the sender or verify the sender.
    /// Malformed callData reverts in abi.decode.
    function _isSelfOnboarding(address sender, bytes calldata callData) internal view returns (bool) {
        if (callData.length < 4) return false;
        bytes4 selector = bytes4(callData[:4]);
        if (selector == ICarbonixAccount.execute.selector) {
            (address target, uint256 value, bytes memory data) =
                abi.decode(callData[4:], (address, uint256, bytes));
            return _isOnboardingCall(sender, target, value, data);
        }
        if (selector == ICarbonixAccount.executeBatch.selector) {
            ICarbonixAccount.Call[] memory calls = abi.decode(callData[4:], (ICarbonixAccount.Call[]));
            if (calls.length == 0 || calls.length > MAX_ONBOARDING_CALLS) return false;
            for (uint256 i; i < calls.length; ++i) {
                if (!_isOnboardingCall(sender, calls[i].target, calls[i].value, calls[i].data)) return false;
            }
            return true;
        }
        return false;
    }

    function _isOnboardingCall(address sender, address target, uint256 value, bytes memory data)
        internal
        view
        returns (bool)
    {
        if (target != address(_registry) || value != 0 || data.length < 4) return false;
        bytes4 selector = bytes4(data);
        if (selector == ICarbonRegistry.registerParticipant.selector) return true;
        if (selector != ICarbonRegistry.verifyParticipant.selector || data.length < 36) return false;
        uint256 wallet;
        assembly ("memory-safe") {
            wallet := mload(add(data, 0x24))
        }
        return wallet == uint256(uint160(sender));
    }

    function _checkGasCaps(PackedUserOperation calldata userOp) internal view {
        GasCaps memory caps = _gasCaps;
        uint256 accountGasLimits = uint256(userOp.accountGasLimits);
        bytes calldata data = userOp.paymasterAndData;
        _checkCap(GasField.VerificationGasLimit, accountGasLimits >> 128, caps.verificationGasLimit);
        _checkCap(GasField.CallGasLimit, uint128(accountGasLimits), caps.callGasLimit);
        _checkCap(GasField.PreVerificationGas, userOp.preVerificationGas, caps.preVerificationGas);
        _checkCap(
            GasField.PaymasterVerificationGasLimit,
            uint128(bytes16(data[_GAS_LIMITS_OFFSET:_GAS_LIMITS_OFFSET + 16])),
            caps.paymasterVerificationGasLimit
        );
        _checkCap(
            GasField.PaymasterPostOpGasLimit,
            uint128(bytes16(data[_GAS_LIMITS_OFFSET + 16:_DATA_OFFSET])),
            caps.paymasterPostOpGasLimit
        );
        _checkCap(GasField.MaxFeePerGas, uint128(uint256(userOp.gasFees)), caps.maxFeePerGas);
    }

    function _checkCap(GasField field, uint256 value, uint256 cap) internal pure {
        if (value > cap) revert PaymasterGasCapExceeded(field, value, cap);
    }

    function _setSponsorSigner(address signer) internal {
        if (signer == address(0)) revert PaymasterZeroSigner();
        address previous = _signer;
        _signer = signer;
        emit SponsorSignerChanged(previous, signer);
    }

    function _setGasCaps(GasCaps memory caps) internal {
        _gasCaps = caps;
        emit GasCapsChanged(
            caps.verificationGasLimit,
            caps.callGasLimit,
            caps.preVerificationGas,
            caps.paymasterVerificationGasLimit,
            caps.paymasterPostOpGasLimit,
            caps.maxFeePerGas
        );
    }
}
