// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";
import {Base64} from "solady/utils/Base64.sol";

/// @title WebAuthnP256
/// @notice Checks a WebAuthn assertion by a P-256 passkey, in the packed encoding of
/// ICarbonixAccount: keyId (32) | r (32) | s (32) | challengeIndex (2) | typeIndex (2) |
/// authDataLength (2) | authenticatorData | clientDataJSON.
/// @dev Checks what an on-chain verifier can (WebAuthn Level 2, section 7.2, steps 11, 12, 16, 17,
/// 19, 20): the type is "webauthn.get", the challenge is ours, User Present and User Verified are
/// set, and the signature is valid. It does not check the origin, the rpIdHash, the signature
/// counter or extensions: the authenticator scopes a credential to its relying party (a passkey
/// made for CarboniX signs only for CarboniX's RP ID), synced passkeys report a zero counter, and
/// the account's owners are only keys created for CarboniX.
///
/// User verification is required (flag UV), not only presence: a passkey moves an organisation's
/// credits and baht, so the authenticator must have checked the person (biometrics or PIN), not
/// only that someone touched it. The client requests `userVerification: "required"`.
///
/// P-256 goes through OpenZeppelin's `P256.verify`: the RIP-7212 / EIP-7951 precompile at 0x100
/// when it answers (OP Stack since Fjord, anvil's default hardfork, Osaka), a pure-Solidity
/// verification when it does not (~230k gas more). Both refuse s > N/2.
library WebAuthnP256 {
    /// @dev keyId, r, s, challengeIndex, typeIndex, authDataLength.
    uint256 internal constant HEADER_LENGTH = 102;
    /// @dev rpIdHash (32) | flags (1) | signCount (4).
    uint256 internal constant MIN_AUTH_DATA_LENGTH = 37;
    /// @dev User Present (bit 0) and User Verified (bit 2) of the flags byte.
    bytes1 internal constant REQUIRED_FLAGS = 0x05;

    bytes21 private constant _TYPE_GET = '"type":"webauthn.get"';
    bytes13 private constant _CHALLENGE_KEY = '"challenge":"';
    /// @dev '"challenge":"' (13) + base64url of 32 bytes without padding (43) + '"' (1).
    uint256 private constant _CHALLENGE_FIELD_LENGTH = 57;

    /// @dev The passkey a signature names (zero when it is too short to name one).
    function keyIdOf(bytes calldata signature) internal pure returns (bytes32 keyId) {
        if (signature.length >= 32) keyId = bytes32(signature[:32]);
    }

    /// @dev Whether `signature` is a valid assertion of `challenge` by the passkey (x, y).
    /// Never reverts on malformed input: it returns false.
    function verify(bytes32 challenge, bytes calldata signature, bytes32 x, bytes32 y)
        internal
        view
        returns (bool)
    {
        (bool wellFormed, bytes32 message) = _signedMessage(challenge, signature);
        return wellFormed && P256.verify(message, bytes32(signature[32:64]), bytes32(signature[64:96]), x, y);
    }

    /// @dev Checks everything but the signature and returns what the authenticator signed:
    /// sha256(authenticatorData || sha256(clientDataJSON)).
    function _signedMessage(bytes32 challenge, bytes calldata signature)
        private
        pure
        returns (bool wellFormed, bytes32 message)
    {
        if (signature.length < HEADER_LENGTH + MIN_AUTH_DATA_LENGTH) return (false, 0);
        uint256 authEnd = HEADER_LENGTH + uint16(bytes2(signature[100:102]));
        if (authEnd < HEADER_LENGTH + MIN_AUTH_DATA_LENGTH || authEnd > signature.length) return (false, 0);
        bytes calldata authenticatorData = signature[HEADER_LENGTH:authEnd];
        if (authenticatorData[32] & REQUIRED_FLAGS != REQUIRED_FLAGS) return (false, 0);
        bytes calldata clientDataJSON = signature[authEnd:];
        uint256 challengeIndex = uint16(bytes2(signature[96:98]));
        uint256 typeIndex = uint16(bytes2(signature[98:100]));
        if (!_isClientData(challenge, clientDataJSON, challengeIndex, typeIndex)) return (false, 0);
        return (true, sha256(abi.encodePacked(authenticatorData, sha256(clientDataJSON))));
    }

    /// @dev `"type":"webauthn.get"` at typeIndex and `"challenge":"<base64url(challenge)>"` at
    /// challengeIndex; the closing quote proves the encoded challenge is the whole JSON string.
    function _isClientData(
        bytes32 challenge,
        bytes calldata clientDataJSON,
        uint256 challengeIndex,
        uint256 typeIndex
    ) private pure returns (bool) {
        uint256 length = clientDataJSON.length;
        if (typeIndex + 21 > length || challengeIndex + _CHALLENGE_FIELD_LENGTH > length) return false;
        if (bytes21(clientDataJSON[typeIndex:typeIndex + 21]) != _TYPE_GET) return false;
        bytes memory field =
            abi.encodePacked(_CHALLENGE_KEY, Base64.encode(abi.encodePacked(challenge), true, true), '"');
        return keccak256(clientDataJSON[challengeIndex:challengeIndex + _CHALLENGE_FIELD_LENGTH])
            == keccak256(field);
    }
}
