"""Standard Webhooks signing and verification: the spec vector, tampering, replays, ids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.notify.webhook import (
    ReplayCache,
    decode_secret,
    encode_secret,
    sign_webhook,
    verify_webhook,
    webhook_headers,
)
from waypost.registry.errors import ErrorCode, ParseError, VerificationError

# standard-webhooks/standard-webhooks: the published test vector.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = encode_secret(bytes(range(32)))
BODY = b'{"type":"key.rotated","timestamp":"2023-11-14T22:13:20Z","data":{"id":"evt_0000000000000001"}}'
NOW = 1_700_000_000


def test_spec_vector() -> None:
    assert sign_webhook(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIG
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIG}
    assert verify_webhook(SPEC_SECRET, headers, SPEC_BODY, SPEC_TS) == SPEC_ID
    # the whsec_ prefix is optional when verifying
    assert verify_webhook(SPEC_SECRET.removeprefix("whsec_"), headers, SPEC_BODY, SPEC_TS + 10) == SPEC_ID


def test_round_trip_and_case_insensitive_headers() -> None:
    headers = webhook_headers(SECRET, "evt_0000000000000001", NOW, BODY)
    assert verify_webhook(SECRET, headers, BODY, NOW + 299) == "evt_0000000000000001"
    upper = {k.upper(): v for k, v in headers.items()}
    assert verify_webhook(SECRET, upper, BODY, NOW) == "evt_0000000000000001"
    assert decode_secret(SECRET) == bytes(range(32))


def _tampered() -> list[tuple[str, dict[str, str], bytes]]:
    good = webhook_headers(SECRET, "evt_0000000000000001", NOW, BODY)
    other = encode_secret(bytes(32))
    return [
        ("body byte flipped", good, BODY.replace(b"key.rotated", b"key.rotatee")),
        ("body appended", good, BODY + b" "),
        ("id changed", {**good, "webhook-id": "evt_0000000000000002"}, BODY),
        ("timestamp changed", {**good, "webhook-timestamp": str(NOW + 1)}, BODY),
        ("signed with another secret", webhook_headers(other, "evt_0000000000000001", NOW, BODY), BODY),
        ("signature garbage", {**good, "webhook-signature": "v1,!!!"}, BODY),
        ("wrong version", {**good, "webhook-signature": good["webhook-signature"].replace("v1,", "v2,")}, BODY),
        ("missing signature", {k: v for k, v in good.items() if k != "webhook-signature"}, BODY),
        ("missing id", {k: v for k, v in good.items() if k != "webhook-id"}, BODY),
        ("timestamp not a number", {**good, "webhook-timestamp": "17e8"}, BODY),
    ]


@pytest.mark.parametrize(("headers", "body"), [pytest.param(h, b, id=n) for n, h, b in _tampered()])
def test_tampered_fails(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(VerificationError) as exc:
        verify_webhook(SECRET, headers, body, NOW)
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_SIGNATURE


def test_one_valid_signature_among_several_passes() -> None:
    good = webhook_headers(SECRET, "evt_0000000000000001", NOW, BODY)
    sig = "v1,AAAA v1a,xyz " + good["webhook-signature"]
    assert verify_webhook(SECRET, {**good, "webhook-signature": sig}, BODY, NOW) == "evt_0000000000000001"


@pytest.mark.parametrize("skew", [301, -301, 10_000])
def test_replay_outside_window_fails_even_when_signed(skew: int) -> None:
    headers = webhook_headers(SECRET, "evt_0000000000000001", NOW, BODY)
    with pytest.raises(VerificationError) as exc:
        verify_webhook(SECRET, headers, BODY, NOW + skew)
    assert exc.value.code == ErrorCode.WEBHOOK_REPLAY


def test_replay_cache_catches_a_replay_inside_the_window() -> None:
    cache = ReplayCache(tolerance_s=300)
    headers = webhook_headers(SECRET, "evt_0000000000000001", NOW, BODY)
    msg_id = verify_webhook(SECRET, headers, BODY, NOW)
    cache.check_and_add(msg_id, NOW)
    again = verify_webhook(SECRET, headers, BODY, NOW + 60)  # still a valid signature
    with pytest.raises(VerificationError) as exc:
        cache.check_and_add(again, NOW + 60)
    assert exc.value.code == ErrorCode.WEBHOOK_REPLAY
    cache.check_and_add("evt_0000000000000002", NOW + 60)
    cache.check_and_add(msg_id, NOW + 601)  # forgotten after 2 * tolerance (the signature check refuses it by then)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", "whsec_c2hvcnQ=\n"])
def test_bad_secret(secret: str) -> None:
    with pytest.raises(ParseError) as exc:
        sign_webhook(secret, "x", NOW, BODY)
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_SECRET


@pytest.mark.parametrize("size", [0, 23, 65])
def test_encode_secret_size(size: int) -> None:
    with pytest.raises(ParseError) as exc:
        encode_secret(bytes(size))
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_SECRET


@settings(max_examples=200)
@given(data=st.binary(min_size=1, max_size=200), bit=st.integers(min_value=0))
def test_any_flipped_body_bit_fails(data: bytes, bit: int) -> None:
    headers = webhook_headers(SECRET, "evt_0000000000000003", NOW, data)
    assert verify_webhook(SECRET, headers, data, NOW) == "evt_0000000000000003"
    pos = bit % (len(data) * 8)
    flipped = bytearray(data)
    flipped[pos // 8] ^= 1 << (pos % 8)
    with pytest.raises(VerificationError) as exc:
        verify_webhook(SECRET, headers, bytes(flipped), NOW)
    assert exc.value.code == ErrorCode.WEBHOOK_BAD_SIGNATURE
