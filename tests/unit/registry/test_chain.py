"""Unit tests for registry.chain: canonical CBOR, entries, chain validation, duplicity."""

from __future__ import annotations

import dataclasses

import pytest
from nacl.signing import SigningKey

from waypost.registry.chain import (
    ChainEntry,
    DuplicityEvidence,
    EntryKind,
    apply_entry,
    commit_key,
    decode_canonical,
    detect_duplicity,
    encode_canonical,
    encode_entry,
    entry_hash,
    make_entry,
    parse_entry,
    validate_chain,
    verify_duplicity_evidence,
    verify_entry_signature,
)
from waypost.registry.errors import (
    ChainError,
    ErrorCode,
    ParseError,
    ValidationError,
    VerificationError,
)
from waypost.registry.model import PublicKey


def sk(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


def pk(n: int) -> PublicKey:
    return PublicKey(bytes(sk(n).verify_key))


def build_chain(n_updates: int = 2, rotate: bool = True) -> list[ChainEntry]:
    """genesis (key 1, next=commit(2)), updates, a rotation to key 2 (next=commit(3)), an update."""
    g = make_entry(sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(pk(2)), body={"name": "alice"})
    chain = [g]
    for i in range(n_updates):
        prev = chain[-1]
        chain.append(
            make_entry(sk(1), seq=prev.seq + 1, prev=entry_hash(prev), kind=EntryKind.UPDATE,
                       next_commitment=commit_key(pk(2)), body={"name": "alice", "n": i})
        )
    if rotate:
        prev = chain[-1]
        chain.append(
            make_entry(sk(2), seq=prev.seq + 1, prev=entry_hash(prev), kind=EntryKind.ROTATE,
                       next_commitment=commit_key(pk(3)), body={"name": "alice", "rotated": True})
        )
        prev = chain[-1]
        chain.append(
            make_entry(sk(2), seq=prev.seq + 1, prev=entry_hash(prev), kind=EntryKind.UPDATE,
                       next_commitment=commit_key(pk(3)), body={"name": "alice2"})
        )
    return chain


# ---------------------------------------------------------------- canonical CBOR


def test_map_keys_sorted_bytewise_not_length_first() -> None:
    # RFC 8949 §4.2.1: 1000 (19 03e8) sorts before -1 (20) before "a" (61 61) before "bb".
    assert encode_canonical({"a": 1, 1000: 2, -1: 3, "bb": 4}).hex() == "a41903e802200361610162626204"


def test_rfc8949_appendix_a_examples() -> None:
    cases: list[tuple[object, str]] = [
        (0, "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65536, "1a00010000"),
        (2**64 - 1, "1bffffffffffffffff"), (-1, "20"), (-(2**64), "3bffffffffffffffff"),
        ("", "60"), ("IETF", "6449455446"), (b"\x01\x02\x03\x04", "4401020304"), (False, "f4"), (True, "f5"),
        (None, "f6"), ((), "80"), ((1, (2, 3)), "8201820203"), ("\u00fc", "62c3bc"),
    ]
    for value, hexed in cases:
        assert encode_canonical(value).hex() == hexed, value  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.5, 2**64, -(2**64) - 1, {b"k": 1}, {True: 1}, {1, 2}, object()])
def test_encode_refuses_outside_closed_set(bad: object) -> None:
    with pytest.raises(ValidationError) as ei:
        encode_canonical(bad)  # type: ignore[arg-type]
    assert ei.value.code is ErrorCode.CBOR_UNSUPPORTED


@pytest.mark.parametrize(
    ("hexed", "code"),
    [
        ("1801", ErrorCode.CBOR_NON_CANONICAL),  # 1 with a one-byte argument
        ("190001", ErrorCode.CBOR_NON_CANONICAL),
        ("5800", ErrorCode.CBOR_NON_CANONICAL),  # empty bytes with long length
        ("a26161011903e802", ErrorCode.CBOR_NON_CANONICAL),  # length-first key order
        ("a2616201616101", ErrorCode.CBOR_NON_CANONICAL),  # "b" before "a"
        ("a2616101616102", ErrorCode.CBOR_BAD),  # duplicate key
        ("c11a00000000", ErrorCode.CBOR_BAD),  # tag
        ("c249010000000000000000", ErrorCode.CBOR_BAD),  # bignum tag
        ("f93c00", ErrorCode.CBOR_BAD),  # half float
        ("fb3ff8000000000000", ErrorCode.CBOR_BAD),  # double
        ("f7", ErrorCode.CBOR_BAD),  # undefined
        ("e0", ErrorCode.CBOR_BAD),  # simple value
        ("5f4101ff", ErrorCode.CBOR_BAD),  # indefinite bytes
        ("9fff", ErrorCode.CBOR_BAD),  # indefinite array
        ("0000", ErrorCode.CBOR_BAD),  # trailing bytes
        ("", ErrorCode.CBOR_BAD),
        ("82", ErrorCode.CBOR_BAD),  # truncated
        ("9bffffffffffffffff", ErrorCode.CBOR_BAD),  # absurd count
        ("62c3", ErrorCode.CBOR_BAD),  # truncated text
        ("62ff00", ErrorCode.CBOR_BAD),  # invalid UTF-8
        ("1c", ErrorCode.CBOR_BAD),  # reserved additional info
        ("a1410101", ErrorCode.CBOR_BAD),  # bytes map key
        ("a1f501", ErrorCode.CBOR_BAD),  # bool map key
    ],
)
def test_decode_refuses(hexed: str, code: ErrorCode) -> None:
    with pytest.raises(ParseError) as ei:
        decode_canonical(bytes.fromhex(hexed))
    assert ei.value.code is code


def test_decode_refuses_deep_nesting() -> None:
    ok = bytes([0x81] * 16) + b"\x00"
    assert decode_canonical(ok) is not None
    with pytest.raises(ParseError) as ei:
        decode_canonical(bytes([0x81] * 17) + b"\x00")
    assert ei.value.code is ErrorCode.CBOR_BAD
    with pytest.raises(ParseError) as ei:
        decode_canonical(bytes([0x81] * 100_000) + b"\x00")
    assert ei.value.code is ErrorCode.CBOR_BAD


def test_decode_round_trip() -> None:
    value = {"v": 1, "list": [1, -2, b"x", None, True, {"z": "ü"}], 7: "seven"}
    assert decode_canonical(encode_canonical(value)) == value


# ---------------------------------------------------------------- entries


def test_entry_round_trip_and_hash() -> None:
    for e in build_chain():
        data = encode_entry(e)
        again = parse_entry(data)
        assert again == e
        assert entry_hash(again) == entry_hash(e)
        assert ChainEntry.parse(e.encode()) == e
        verify_entry_signature(again)


def test_signed_bytes_are_domain_separated() -> None:
    g = build_chain()[0]
    assert g.signed_bytes().startswith(b"waypost-chain-v1\x00")
    assert "sig" not in decode_canonical(g.signed_bytes()[len(b"waypost-chain-v1\x00"):])  # type: ignore[operator]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda m: m.pop("sig"), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(extra=1), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(v=2), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(seq=-1), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(kind="fork"), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(key=b"short"), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(prev=b"x" * 31), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(next="nope"), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(sig=b"\x00" * 63), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(body=[1]), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(body={1: 2}), ErrorCode.CHAIN_BAD_ENTRY),
        (lambda m: m.update(time_s=-5), ErrorCode.CHAIN_BAD_ENTRY),
    ],
)
def test_parse_entry_refuses_bad_structure(mutate, code: ErrorCode) -> None:  # type: ignore[no-untyped-def]
    m = decode_canonical(encode_entry(build_chain()[0]))
    assert isinstance(m, dict)
    mutate(m)
    with pytest.raises(ParseError) as ei:
        parse_entry(encode_canonical(m))
    assert ei.value.code is code


def test_parse_entry_refuses_oversize_and_non_map() -> None:
    with pytest.raises(ParseError) as ei:
        parse_entry(encode_canonical({"body": "x" * 70_000}))
    assert ei.value.code is ErrorCode.CHAIN_BAD_ENTRY
    with pytest.raises(ParseError) as ei:
        parse_entry(encode_canonical([1, 2]))
    assert ei.value.code is ErrorCode.CHAIN_BAD_ENTRY


# ---------------------------------------------------------------- chain validation


def test_validate_chain_happy_path() -> None:
    chain = build_chain()
    state = validate_chain(chain, address_key=pk(1))
    assert state.key == pk(2)
    assert state.next == commit_key(pk(3))
    assert state.seq == len(chain) - 1
    assert state.head == entry_hash(chain[-1])
    assert state.body == {"name": "alice2"}
    assert [v.rotated for v in state.verdicts] == [False, False, False, True, False]
    assert not state.revoked


def test_genesis_must_bind_address_key() -> None:
    with pytest.raises(ChainError) as ei:
        validate_chain(build_chain(), address_key=pk(9))
    assert ei.value.code is ErrorCode.CHAIN_BAD_GENESIS
    with pytest.raises(ChainError) as ei:
        validate_chain([], address_key=pk(1))
    assert ei.value.code is ErrorCode.CHAIN_BAD_GENESIS
    chain = build_chain()
    with pytest.raises(ChainError) as ei:
        validate_chain(chain[1:], address_key=pk(1))
    assert ei.value.code is ErrorCode.CHAIN_BAD_GENESIS


def test_bad_link_seq_signature() -> None:
    chain = build_chain()
    bad_link = dataclasses.replace(chain[2], prev=entry_hash(chain[0]))
    with pytest.raises(ChainError) as ei:
        validate_chain([*chain[:2], bad_link], address_key=pk(1))
    assert ei.value.code is ErrorCode.CHAIN_BAD_LINK
    e = chain[1]
    skipped = make_entry(sk(1), seq=5, prev=entry_hash(chain[0]), kind=EntryKind.UPDATE,
                         next_commitment=e.next, body={})
    with pytest.raises(ChainError) as ei:
        validate_chain([chain[0], skipped], address_key=pk(1))
    assert ei.value.code is ErrorCode.CHAIN_BAD_SEQ
    forged = dataclasses.replace(e, body={"name": "mallory"})
    with pytest.raises(VerificationError) as ei2:
        validate_chain([chain[0], forged], address_key=pk(1))
    assert ei2.value.code is ErrorCode.CHAIN_BAD_SIGNATURE


def test_wrong_signer_and_commitment_change() -> None:
    g = build_chain()[0]
    other = make_entry(sk(7), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={})
    with pytest.raises(ChainError) as ei:
        validate_chain([g, other], address_key=pk(1))
    assert ei.value.code is ErrorCode.CHAIN_WRONG_KEY
    # a thief holding key 1 may not move the pre-rotation commitment to their own key
    moved = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE,
                       next_commitment=commit_key(pk(7)), body={})
    with pytest.raises(ValidationError) as ei2:
        validate_chain([g, moved], address_key=pk(1))
    assert ei2.value.code is ErrorCode.KEY_COMMITMENT_CHANGED


def test_rotation_rules() -> None:
    g = build_chain()[0]
    uncommitted = make_entry(sk(7), seq=1, prev=entry_hash(g), kind=EntryKind.ROTATE,
                             next_commitment=commit_key(pk(8)), body={})
    with pytest.raises(ValidationError) as ei:
        validate_chain([g, uncommitted], address_key=pk(1))
    assert ei.value.code is ErrorCode.KEY_UNCOMMITTED
    # rotating back to the genesis key is a replay even if someone committed to it
    g2 = make_entry(sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(pk(1)), body={})
    back = make_entry(sk(1), seq=1, prev=entry_hash(g2), kind=EntryKind.ROTATE, next_commitment=None, body={})
    with pytest.raises(ValidationError) as ei:
        validate_chain([g2, back], address_key=pk(1))
    assert ei.value.code is ErrorCode.KEY_REPLAY
    # no commitment: no rotation possible
    g3 = make_entry(sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=None, body={})
    rot = make_entry(sk(2), seq=1, prev=entry_hash(g3), kind=EntryKind.ROTATE, next_commitment=None, body={})
    with pytest.raises(ValidationError) as ei:
        validate_chain([g3, rot], address_key=pk(1))
    assert ei.value.code is ErrorCode.KEY_UNCOMMITTED


def test_revoke_ends_chain_and_next_key_may_revoke() -> None:
    g = build_chain()[0]
    rev = make_entry(sk(2), seq=1, prev=entry_hash(g), kind=EntryKind.REVOKE, next_commitment=None, body={})
    state = validate_chain([g, rev], address_key=pk(1))
    assert state.revoked
    after = make_entry(sk(1), seq=2, prev=entry_hash(rev), kind=EntryKind.UPDATE, next_commitment=g.next, body={})
    with pytest.raises(ValidationError) as ei:
        apply_entry(state, after, address_key=pk(1))
    assert ei.value.code is ErrorCode.KEY_REVOKED
    stranger = make_entry(sk(5), seq=1, prev=entry_hash(g), kind=EntryKind.REVOKE, next_commitment=None, body={})
    with pytest.raises(ChainError) as ei2:
        validate_chain([g, stranger], address_key=pk(1))
    assert ei2.value.code is ErrorCode.CHAIN_WRONG_KEY


def test_second_genesis_refused() -> None:
    g = build_chain()[0]
    g_again = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.GENESIS, next_commitment=g.next, body={})
    with pytest.raises(ChainError) as ei:
        validate_chain([g, g_again], address_key=pk(1))
    assert ei.value.code is ErrorCode.CHAIN_BAD_GENESIS


# ---------------------------------------------------------------- duplicity


def test_duplicity_detect_encode_verify() -> None:
    g = build_chain()[0]
    a = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={"x": 1})
    b = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={"x": 2})
    ev = detect_duplicity(a, b)
    assert ev is not None
    assert detect_duplicity(b, a) == ev  # order-independent
    verify_duplicity_evidence(ev)
    again = DuplicityEvidence.parse(ev.encode())
    assert again == ev
    verify_duplicity_evidence(again)
    # each branch is individually a valid chain: only the pair shows the fork
    validate_chain([g, a], address_key=pk(1))
    validate_chain([g, b], address_key=pk(1))


def test_not_duplicity() -> None:
    g = build_chain()[0]
    a = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={"x": 1})
    later = make_entry(sk(1), seq=2, prev=entry_hash(a), kind=EntryKind.UPDATE, next_commitment=g.next, body={})
    other_key = make_entry(sk(4), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={})
    forged = dataclasses.replace(a, body={"x": 3})  # bad signature: not evidence
    assert detect_duplicity(a, a) is None
    assert detect_duplicity(a, later) is None
    assert detect_duplicity(a, other_key) is None
    assert detect_duplicity(a, forged) is None
    for x, y in [(a, a), (a, later), (a, other_key)]:
        with pytest.raises(ValidationError) as ei:
            verify_duplicity_evidence(DuplicityEvidence(a=x, b=y))
        assert ei.value.code is ErrorCode.CHAIN_NOT_DUPLICITY
    with pytest.raises(VerificationError) as ei2:
        verify_duplicity_evidence(DuplicityEvidence(a=a, b=forged))
    assert ei2.value.code is ErrorCode.CHAIN_BAD_SIGNATURE


def test_duplicity_evidence_parse_refuses_garbage() -> None:
    with pytest.raises(ParseError) as ei:
        DuplicityEvidence.parse(encode_canonical({"v": 1, "type": "other", "a": b"", "b": b""}))
    assert ei.value.code is ErrorCode.CHAIN_BAD_ENTRY


# ---------------------------------------------------------------- spec vectors (docs/spec.md §4.5)


def test_chain_vectors_match_code_and_spec() -> None:
    from tests.unit.registry import spec_vectors as sv
    from tests.vectors import load_json, vector_dir

    stored = load_json(vector_dir("waypost") / "chain.json")
    assert stored == sv.chain_vectors(), "run: .venv/bin/python -m tests.unit.registry.spec_vectors --write"
    assert sv.spec_block("chain-vectors") == sv.render_chain_block(stored)
    # the stored bytes verify on their own, independent of the generator
    entries = [parse_entry(bytes.fromhex(e["hex"])) for e in stored["entries"]]
    for e, v in zip(entries, stored["entries"]):
        assert entry_hash(e).hex() == v["entry_hash"] and e.kind == v["kind"]
    state = validate_chain(entries, address_key=PublicKey(bytes.fromhex(stored["public_keys"]["1"])))
    assert (state.key.hex(), state.next.hex() if state.next else None, state.seq, state.head.hex()) == (
        stored["final"]["key"], stored["final"]["next"], stored["final"]["seq"], stored["final"]["head"])
    verify_duplicity_evidence(DuplicityEvidence.parse(bytes.fromhex(stored["duplicity_evidence_hex"])))
    for case in stored["cbor"]:
        assert encode_canonical(decode_canonical(bytes.fromhex(case["hex"]))).hex() == case["hex"]


def test_encode_and_decode_share_the_depth_limit() -> None:
    value: object = 0
    for _ in range(16):
        value = [value]
    assert decode_canonical(encode_canonical(value)) == value  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as ei:
        encode_canonical([value])  # type: ignore[list-item]
    assert ei.value.code is ErrorCode.CBOR_UNSUPPORTED


def test_str_subclass_encodes_as_text() -> None:
    assert encode_canonical(EntryKind.ROTATE) == encode_canonical("rotate")
