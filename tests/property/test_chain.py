"""Property tests for canonical CBOR and private chains (hypothesis)."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from waypost.registry.chain import (
    CBOR_MAX_INT,
    CBOR_MIN_INT,
    ChainEntry,
    EntryKind,
    commit_key,
    decode_canonical,
    encode_canonical,
    encode_entry,
    entry_hash,
    make_entry,
    parse_entry,
    validate_chain,
)
from waypost.registry.errors import (
    ChainError,
    ErrorCode,
    ParseError,
    VerificationError,
    WaypostError,
)
from waypost.registry.model import PublicKey

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=CBOR_MIN_INT, max_value=CBOR_MAX_INT)
    | st.text(max_size=30)
    | st.binary(max_size=30)
)


def cbor_values(depth: int = 4) -> st.SearchStrategy[object]:
    if depth == 0:
        return SCALARS
    inner = cbor_values(depth - 1)
    return SCALARS | st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=8) | st.integers(min_value=-1000, max_value=2**40), inner, max_size=4
    )


@settings(max_examples=300)
@given(cbor_values())
def test_cbor_round_trip(value: object) -> None:
    data = encode_canonical(value)  # type: ignore[arg-type]
    assert decode_canonical(data) == value
    assert encode_canonical(decode_canonical(data)) == data


@settings(max_examples=100)
@given(st.dictionaries(st.text(max_size=6) | st.integers(min_value=-300, max_value=300), SCALARS, min_size=2, max_size=6),
       st.randoms(use_true_random=False))
def test_map_encoding_ignores_insertion_order_and_refuses_unsorted(d: dict[object, object], rnd: random.Random) -> None:
    items = list(d.items())
    rnd.shuffle(items)
    data = encode_canonical(dict(items))  # type: ignore[arg-type]
    assert data == encode_canonical(d)  # type: ignore[arg-type]
    # rebuild the map with its pairs in reverse (bytewise-descending) order: not canonical
    pairs = sorted((encode_canonical(k), encode_canonical(v)) for k, v in d.items())  # type: ignore[arg-type]
    header = data[: len(data) - sum(len(k) + len(v) for k, v in pairs)]
    reversed_bytes = header + b"".join(k + v for k, v in reversed(pairs))
    with pytest.raises(ParseError) as ei:
        decode_canonical(reversed_bytes)
    assert ei.value.code is ErrorCode.CBOR_NON_CANONICAL


def _widen(data: bytes) -> bytes | None:
    """Re-encode the first header of ``data`` with an 8-byte argument (never canonical)."""
    major, info = data[0] >> 5, data[0] & 0x1F
    if major == 7 or info == 27:
        return None
    if info < 24:
        arg, rest = info, data[1:]
    else:
        width = 1 << (info - 24)
        arg, rest = int.from_bytes(data[1 : 1 + width], "big"), data[1 + width :]
    return bytes([(major << 5) | 27]) + arg.to_bytes(8, "big") + rest


@settings(max_examples=200)
@given(cbor_values(2))
def test_longer_arguments_refused(value: object) -> None:
    wide = _widen(encode_canonical(value))  # type: ignore[arg-type]
    assume(wide is not None)
    assert wide is not None
    with pytest.raises(ParseError) as ei:
        decode_canonical(wide)
    assert ei.value.code is ErrorCode.CBOR_NON_CANONICAL


@settings(max_examples=300)
@given(st.binary(max_size=64))
def test_random_bytes_never_escape_as_foreign_errors(data: bytes) -> None:
    try:
        value = decode_canonical(data)
    except ParseError as exc:
        assert exc.code in (ErrorCode.CBOR_BAD, ErrorCode.CBOR_NON_CANONICAL)
    else:
        assert encode_canonical(value) == data


# ---------------------------------------------------------------- chains


def _sk(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


def _pk(n: int) -> PublicKey:
    return PublicKey(bytes(_sk(n).verify_key))


OPS = st.lists(st.sampled_from(["update", "rotate", "redirect"]), max_size=6)


def _build(ops: list[str]) -> tuple[list[ChainEntry], int]:
    cur = 1
    chain = [make_entry(_sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(_pk(2)),
                        body={"n": 0}, time_s=1000)]
    for i, op in enumerate(ops, start=1):
        prev = entry_hash(chain[-1])
        if op == "rotate":
            cur += 1
            chain.append(make_entry(_sk(cur), seq=i, prev=prev, kind=EntryKind.ROTATE,
                                    next_commitment=commit_key(_pk(cur + 1)), body={"n": i}))
        else:
            kind = EntryKind.UPDATE if op == "update" else EntryKind.REDIRECT
            chain.append(make_entry(_sk(cur), seq=i, prev=prev, kind=kind,
                                    next_commitment=commit_key(_pk(cur + 1)), body={"n": i, "to": "b@id.bit"}))
    return chain, cur


@settings(max_examples=40)
@given(OPS)
def test_random_valid_chains(ops: list[str]) -> None:
    chain, cur = _build(ops)
    reparsed = [parse_entry(encode_entry(e)) for e in chain]
    assert reparsed == chain
    state = validate_chain(reparsed, address_key=_pk(1))
    assert state.key == _pk(cur) and state.seq == len(ops) and state.head == entry_hash(chain[-1])
    assert state.next == commit_key(_pk(cur + 1))
    assert sum(v.rotated for v in state.verdicts) == ops.count("rotate")


@settings(max_examples=150)
@given(OPS, st.data())
def test_any_flipped_bit_is_refused(ops: list[str], data: st.DataObject) -> None:
    chain, _ = _build(ops)
    idx = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    raw = bytearray(encode_entry(chain[idx]))
    bit = data.draw(st.integers(min_value=0, max_value=len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(WaypostError) as ei:
        tampered = parse_entry(bytes(raw))
        validate_chain([*chain[:idx], tampered, *chain[idx + 1 :]], address_key=_pk(1))
    assert isinstance(ei.value, (ParseError, ChainError, VerificationError)) or ei.value.code.startswith("key.")


@settings(max_examples=60)
@given(OPS, st.data())
def test_flipped_signature_or_link_bit(ops: list[str], data: st.DataObject) -> None:
    chain, _ = _build(ops)
    idx = data.draw(st.integers(min_value=0, max_value=len(chain) - 1))
    e = chain[idx]
    bit = data.draw(st.integers(min_value=0, max_value=511))
    sig = bytearray(e.sig)
    sig[bit // 8] ^= 1 << (bit % 8)
    from dataclasses import replace

    with pytest.raises(VerificationError) as ei:
        validate_chain([*chain[:idx], replace(e, sig=bytes(sig)), *chain[idx + 1 :]], address_key=_pk(1))
    assert ei.value.code is ErrorCode.CHAIN_BAD_SIGNATURE
    assume(idx > 0)
    assert e.prev is not None
    prev = bytearray(e.prev)
    prev[bit % 256 // 8] ^= 1 << (bit % 8)
    with pytest.raises(ChainError) as ce:
        validate_chain([*chain[:idx], replace(e, prev=bytes(prev)), *chain[idx + 1 :]], address_key=_pk(1))
    assert ce.value.code is ErrorCode.CHAIN_BAD_LINK
