"""Unit tests for registry.proofs with local fixtures (no network)."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from nacl.signing import SigningKey

from waypost.registry.chain import encode_canonical
from waypost.registry.errors import ErrorCode, NotFoundError, ParseError, VerificationError
from waypost.registry.proofs import (
    PROOF_PREFIX,
    LinkedAccountProof,
    make_proof,
    parse_proof,
    verify_dns_txt,
    verify_proof,
    verify_well_known,
)

KEY = SigningKey(b"\x01" * 32)
OTHER = SigningKey(b"\x02" * 32)
ADDR = "alice@id.bit"
PK = bytes(KEY.verify_key)


def dns_proof(address: str = ADDR, key: SigningKey = KEY, domain: str = "example.com") -> str:
    return PROOF_PREFIX + make_proof(key, address=address, service="dns", handle=domain, time_s=1_700_000_000).encode()


def test_round_trip_and_verify() -> None:
    p = make_proof(KEY, address=ADDR, service="github", handle="alice", time_s=1_700_000_000)
    text = p.encode()
    assert "=" not in text and len(text) < 200
    assert parse_proof(text) == p
    assert parse_proof(PROOF_PREFIX + text) == p
    verify_proof(p, PK)
    assert p.signed_bytes().startswith(b"waypost-proof-v1\x00")
    with pytest.raises(VerificationError) as ei:
        verify_proof(p, bytes(OTHER.verify_key))
    assert ei.value.code is ErrorCode.PROOF_BAD_SIGNATURE
    with pytest.raises(VerificationError) as ei:
        verify_proof(dataclasses.replace(p, handle="mallory"), PK)
    assert ei.value.code is ErrorCode.PROOF_BAD_SIGNATURE


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(encode_canonical(obj)).rstrip(b"=").decode()  # type: ignore[arg-type]


GOOD = {"v": 1, "address": ADDR, "service": "dns", "handle": "example.com", "time_s": 1, "sig": b"\x00" * 64}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", ErrorCode.PROOF_BAD),
        ("not base64!", ErrorCode.PROOF_BAD),
        ("a", ErrorCode.PROOF_BAD),
        ("A" * 2000, ErrorCode.PROOF_BAD),
        ("AB", ErrorCode.PROOF_BAD),  # trailing bits set: non-canonical base64
        (_b64([1, 2]), ErrorCode.PROOF_BAD),
        (_b64({**GOOD, "v": 2}), ErrorCode.PROOF_BAD),
        (_b64({**GOOD, "extra": 1}), ErrorCode.PROOF_BAD),
        (_b64({**GOOD, "handle": ""}), ErrorCode.PROOF_BAD),
        (_b64({**GOOD, "time_s": -1}), ErrorCode.PROOF_BAD),
        (_b64({**GOOD, "sig": b"x"}), ErrorCode.PROOF_BAD),
        (base64.urlsafe_b64encode(bytes.fromhex("1801")).rstrip(b"=").decode(), ErrorCode.CBOR_NON_CANONICAL),
        (base64.urlsafe_b64encode(bytes.fromhex("f93c00")).rstrip(b"=").decode(), ErrorCode.CBOR_BAD),
    ],
)
def test_parse_refuses(text: str, code: ErrorCode) -> None:
    with pytest.raises(ParseError) as ei:
        parse_proof(text)
    assert ei.value.code is code


def test_dns_txt() -> None:
    records = ["v=spf1 -all", dns_proof(address="bob@id.bit"), dns_proof()]
    got = verify_dns_txt(records, address=ADDR, domain="Example.COM.", key=PK)
    assert got.handle == "example.com" and got.address == ADDR


@pytest.mark.parametrize(
    ("records", "exc", "code"),
    [
        ([], NotFoundError, ErrorCode.PROOF_NOT_FOUND),
        (["v=spf1 -all"], NotFoundError, ErrorCode.PROOF_NOT_FOUND),
        ([dns_proof(address="bob@id.bit")], VerificationError, ErrorCode.PROOF_MISMATCH),
        ([dns_proof(domain="evil.example")], VerificationError, ErrorCode.PROOF_MISMATCH),
        ([dns_proof(key=OTHER)], VerificationError, ErrorCode.PROOF_BAD_SIGNATURE),
        ([PROOF_PREFIX + "garbage!"], ParseError, ErrorCode.PROOF_BAD),
        ([PROOF_PREFIX + "garbage!", dns_proof(key=OTHER), dns_proof(address="x@id.bit")],
         VerificationError, ErrorCode.PROOF_BAD_SIGNATURE),
    ],
)
def test_dns_txt_refuses(records: list[str], exc: type[Exception], code: ErrorCode) -> None:
    with pytest.raises(exc) as ei:
        verify_dns_txt(records, address=ADDR, domain="example.com", key=PK)
    assert ei.value.code is code  # type: ignore[attr-defined]


def test_well_known() -> None:
    web = make_proof(KEY, address=ADDR, service="web", handle="example.org", time_s=5).encode()
    body = f"# waypost proofs\n{PROOF_PREFIX}{web}\r\n".encode()
    assert verify_well_known(body, address=ADDR, host="EXAMPLE.org", key=PK).service == "web"
    # a DNS proof is not a web proof
    with pytest.raises(VerificationError) as ei:
        verify_well_known(dns_proof(domain="example.org").encode(), address=ADDR, host="example.org", key=PK)
    assert ei.value.code is ErrorCode.PROOF_MISMATCH
    for body, code in [(b"\xff\xfe", ErrorCode.PROOF_BAD), (b"x" * 70_000, ErrorCode.PROOF_BAD)]:
        with pytest.raises(ParseError) as pe:
            verify_well_known(body, address=ADDR, host="example.org", key=PK)
        assert pe.value.code is code
    with pytest.raises(NotFoundError):
        verify_well_known(b"<html>nothing</html>", address=ADDR, host="example.org", key=PK)


def test_proof_is_a_value() -> None:
    p = make_proof(KEY, address=ADDR, service="dns", handle="example.com", time_s=1)
    assert isinstance(p, LinkedAccountProof) and hash(p) == hash(parse_proof(p.encode()))


def test_proof_vectors_match_code_and_spec() -> None:
    from tests.unit.registry import spec_vectors as sv
    from tests.vectors import load_json, vector_dir
    from waypost.registry.keys import KeySpan, verify_message_at
    from waypost.registry.model import PublicKey

    stored = load_json(vector_dir("waypost") / "proofs.json")
    assert stored == sv.proof_vectors(), "run: .venv/bin/python -m tests.unit.registry.spec_vectors --write"
    assert sv.spec_block("proof-vectors") == sv.render_proof_block(stored)
    key = bytes.fromhex(stored["public_key"])
    pr = stored["proof"]
    got = verify_dns_txt([pr["txt"]], address=pr["address"], domain=pr["handle"], key=key)
    assert got.signed_bytes().hex() == pr["signed_hex"]
    msg = stored["message"]
    span = KeySpan(from_height=0, to_height=None, key=PublicKey(key), epoch=0)
    assert verify_message_at(msg["text"].encode(), bytes.fromhex(msg["signature_hex"]), [span], 1).key == key
