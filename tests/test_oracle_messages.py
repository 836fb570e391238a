"""The signed sensor message: a valid message round-trips, and every malformed one is refused with
its reason (never an exception), including signatures for another chain or data log."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from oracle.messages import MAX_MESSAGE_BYTES, REASONS, Domain, Rejection, SensorMessage, parse_message, sign_message

DATALOG = "0x" + "ab" * 20
DOMAIN = Domain(555888, DATALOG)
KEY = Account.create().key


def readings(n: int = 2) -> list[dict]:
    return [
        {
            "sequence": 100 + i,
            "timestamp": 1_767_225_600 + 60 * i,
            "values": [
                {"quantity": "co2", "unit": "ppm", "value": 41_250 + i, "decimals": 2},
                {"quantity": "temperature", "unit": "degC", "value": -315, "decimals": 1},
            ],
        }
        for i in range(n)
    ]


def signed(**overrides) -> dict:
    message = sign_message(KEY, readings(), DOMAIN)
    message.update(overrides)
    return message


def rejected(raw: bytes | str | dict) -> Rejection:
    data = json.dumps(raw) if isinstance(raw, dict) else raw
    result = parse_message(data, DOMAIN)
    assert isinstance(result, Rejection), result
    assert result.reason in REASONS
    return result


def test_a_signed_message_parses() -> None:
    result = parse_message(json.dumps(signed()), DOMAIN)
    assert isinstance(result, SensorMessage)
    assert result.device == Account.from_key(KEY).address
    assert [r.sequence for r in result.readings] == [100, 101]
    co2, temperature = result.readings[0].values
    assert (co2.amount, temperature.amount) == (412.5, -31.5)


def test_tampering_breaks_the_signature() -> None:
    message = signed()
    message["readings"][0]["values"][0]["value"] += 1
    assert rejected(message).reason == "bad_signature"
    other = Account.create()
    assert rejected(signed(device=other.address)).reason == "bad_signature"
    assert rejected(signed(signature="0x" + "00" * 65)).reason == "bad_signature"


def test_a_signature_for_another_chain_or_data_log_does_not_count() -> None:
    elsewhere = sign_message(KEY, readings(), Domain(8899, DATALOG))
    assert rejected(elsewhere).reason == "wrong_domain"
    # Claiming our domain while signed for another: the signature fails.
    elsewhere["domain"] = {"chainId": 555888, "verifyingContract": DATALOG}
    assert rejected(elsewhere).reason == "bad_signature"
    other_log = sign_message(KEY, readings(), Domain(555888, "0x" + "cd" * 20))
    assert rejected(other_log).reason == "wrong_domain"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "bad_field"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "oversized"),
    ],
)
def test_unreadable_payloads(raw: bytes | str, reason: str) -> None:
    assert rejected(raw).reason == reason


def test_field_problems_are_named() -> None:
    base = signed()
    for key in ("device", "domain", "readings", "signature"):
        broken = dict(base)
        del broken[key]
        assert (rejected(broken).reason, rejected(broken).detail) == ("missing_field", key)
    nan = json.dumps(signed()).replace('"value": 41250', '"value": NaN', 1)
    assert rejected(nan).reason == "bad_value"
    cases = [
        ({"value": 1.5}, "bad_value"),
        ({"value": 2**63}, "bad_value"),
        ({"value": True}, "bad_value"),
        ({"decimals": -1}, "bad_field"),
        ({"decimals": 19}, "bad_field"),
        ({"quantity": ""}, "bad_field"),
    ]
    for change, reason in cases:
        message = signed()
        message["readings"][0]["values"][0].update(change)
        assert rejected(message).reason == reason, change
    message = signed()
    del message["readings"][1]["timestamp"]
    assert rejected(message) == Rejection("missing_field", "readings[1].timestamp")
    message = signed()
    message["readings"][1]["sequence"] = 100  # not ascending within the message
    assert rejected(message).reason == "bad_field"
    message = signed()
    message["readings"][0]["sequence"] = -1
    assert rejected(message).reason == "bad_field"
    assert rejected(signed(readings=[])).reason == "bad_field"
    assert rejected(signed(device="0x1234")).reason == "bad_field"
    assert rejected(signed(signature="0xzz")).reason == "bad_field"


def test_the_digest_matches_a_reference_eip712_encoder() -> None:
    """The hand-rolled hashing (fast path) equals eth-account's generic EIP-712 encoder, so firmware
    built on any standard EIP-712 library produces signatures the oracle accepts."""
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    from oracle.messages import TYPES, message_digest

    message = signed()
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **TYPES,
        },
        "primaryType": "SensorMessage",
        "domain": {"name": "CarboniX Oracle", "version": "1", "chainId": 555888, "verifyingContract": DATALOG},
        "message": {"device": message["device"], "readings": message["readings"]},
    }
    reference = _hash_eip191_message(encode_typed_data(full_message=typed))
    parsed = parse_message(json.dumps(message), DOMAIN)
    assert isinstance(parsed, SensorMessage)
    assert parsed.digest == "0x" + reference.hex()
    assert message_digest(parsed.device, [r.hash for r in parsed.readings], DOMAIN) == reference
    # and a signature made by eth-account's own signer is accepted
    account = Account.from_key(KEY)
    message["signature"] = "0x" + bytes(account.sign_message(encode_typed_data(full_message=typed)).signature).hex()
    assert isinstance(parse_message(json.dumps(message), DOMAIN), SensorMessage)


def test_a_malleable_high_s_signature_is_refused() -> None:
    message = signed()
    raw = bytes.fromhex(message["signature"][2:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = n - int.from_bytes(raw[32:64], "big")
    v = 27 + 28 - raw[64]
    message["signature"] = "0x" + raw[:32].hex() + s.to_bytes(32, "big").hex() + bytes([v]).hex()
    assert rejected(message).reason == "bad_signature"
