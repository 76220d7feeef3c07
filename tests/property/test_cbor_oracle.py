"""The hand-written canonical CBOR encoder/decoder equals the previous cbor2-based one (kept here as the oracle)."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import cbor2
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.registry.chain import (
    CBOR_MAX_DEPTH,
    CBOR_MAX_INT,
    CBOR_MIN_INT,
    EntryKind,
    commit_key,
    decode_canonical,
    encode_canonical,
    encode_entry,
    entry_hash,
    make_entry,
    validate_chain,
)
from waypost.registry.errors import ErrorCode, ParseError, ValidationError, WaypostError
from waypost.registry.model import PublicKey

# ---- the oracle: the encoder/decoder as they were before the hand-written ones --------


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    if arg < 0x100:
        return bytes([major << 5 | 24, arg])
    if arg < 0x10000:
        return bytes([major << 5 | 25]) + arg.to_bytes(2, "big")
    if arg < 0x100000000:
        return bytes([major << 5 | 26]) + arg.to_bytes(4, "big")
    return bytes([major << 5 | 27]) + arg.to_bytes(8, "big")


def _key_bytes(key: object) -> bytes:
    if isinstance(key, str):
        raw = key.encode("utf-8")
        return _head(3, len(raw)) + raw
    assert isinstance(key, int)
    return _head(0, key) if key >= 0 else _head(1, -1 - key)


def _check_int(obj: int) -> int:
    if not CBOR_MIN_INT <= obj <= CBOR_MAX_INT:
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "integer out of 64-bit CBOR range", got=obj)
    return obj


def _sorted_for_cbor(obj: object, depth: int) -> object:
    t = type(obj)
    if t is str or t is bytes or t is bool or obj is None:
        return obj
    if t is int:
        return _check_int(obj)  # type: ignore[arg-type]
    if depth >= CBOR_MAX_DEPTH:
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "value nested too deeply", depth=depth)
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, bytes):
        return bytes(obj)
    if isinstance(obj, int):
        return _check_int(int(obj))
    if isinstance(obj, (list, tuple)):
        return [_sorted_for_cbor(item, depth + 1) for item in obj]
    if isinstance(obj, Mapping):
        pairs: list[tuple[bytes, object, object]] = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "map keys must be str or int", got=type(key).__name__)
            plain_key = _sorted_for_cbor(key, depth + 1)
            pairs.append((_key_bytes(plain_key), plain_key, _sorted_for_cbor(value, depth + 1)))
        pairs.sort(key=lambda p: p[0])
        return {key: value for _, key, value in pairs}
    raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "type not allowed in canonical CBOR", got=type(obj).__name__)


def oracle_encode(obj: object) -> bytes:
    return bytes(cbor2.dumps(_sorted_for_cbor(obj, 0)))


def _scan(data: bytes) -> None:
    pos, end, first = 0, len(data), True
    pending: list[int] = []

    def need(n: int) -> None:
        if pos + n > end:
            raise ParseError(ErrorCode.CBOR_BAD, "truncated")

    while first or pending:
        first = False
        need(1)
        initial = data[pos]
        major, info = initial >> 5, initial & 0x1F
        pos += 1
        if info < 24:
            arg = info
        elif info <= 27:
            width = 1 << (info - 24)
            need(width)
            arg = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:
            raise ParseError(ErrorCode.CBOR_BAD, "indefinite or reserved")
        children = 0
        if major in (2, 3):
            need(arg)
            pos += arg
        elif major == 4:
            children = arg
        elif major == 5:
            children = 2 * arg
        elif major == 6:
            raise ParseError(ErrorCode.CBOR_BAD, "tag")
        elif major == 7 and info not in (20, 21, 22):
            raise ParseError(ErrorCode.CBOR_BAD, "float or simple")
        if pending:
            pending[-1] -= 1
        if children:
            if len(pending) >= CBOR_MAX_DEPTH or children > end - pos:
                raise ParseError(ErrorCode.CBOR_BAD, "deep or truncated container")
            pending.append(children)
        while pending and pending[-1] == 0:
            pending.pop()
    if pos != end:
        raise ParseError(ErrorCode.CBOR_BAD, "trailing")


def oracle_decode(data: bytes) -> object:
    _scan(data)
    try:
        value = cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False)
    except (cbor2.CBORError, ValueError, TypeError, RecursionError) as exc:
        raise ParseError(ErrorCode.CBOR_BAD, str(exc)) from exc
    try:
        again = oracle_encode(value)
    except ValidationError as exc:
        raise ParseError(ErrorCode.CBOR_BAD, exc.message) from exc
    if again != data:
        raise ParseError(ErrorCode.CBOR_NON_CANONICAL, "non-canonical")
    return value


# ---- strategies ------------------------------------------------------------------------


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 1000


INTS = (st.integers(min_value=-30, max_value=30) | st.integers(min_value=CBOR_MIN_INT, max_value=CBOR_MAX_INT)
        | st.sampled_from([23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, CBOR_MAX_INT, CBOR_MIN_INT, -24, -25, -257]))
SCALARS = (st.none() | st.booleans() | INTS | st.text(max_size=30) | st.binary(max_size=30)
           | st.sampled_from([Color.RED, Level.HIGH]))
KEYS = st.text(max_size=6) | st.integers(min_value=-300, max_value=70000) | st.sampled_from([Color.RED, Level.HIGH])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
# values outside the closed set, somewhere inside
ODD = st.sampled_from([1.5, float("nan"), 2**64, -(2**64) - 1, bytearray(b"x"), {1.5: 1}, {None: 1}, {True: 1}, {b"k": 1},
                       {(1,): 1}, set(), object()])


def _outcome(fn: object, arg: object) -> tuple[str, object]:
    try:
        return "ok", fn(arg)  # type: ignore[operator]
    except WaypostError as exc:
        return "error", exc.code


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_encoder_equals_oracle(value: object) -> None:
    assert encode_canonical(value) == oracle_encode(value)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(VALUES, ODD, st.integers(min_value=0, max_value=3))
def test_encoder_refuses_what_the_oracle_refuses(value: object, odd: object, where: int) -> None:
    wrapped = [value, odd] if where == 0 else {"a": value, "z": [odd]} if where == 1 else (odd,) if where == 2 else {7: {"k": odd}}
    assert _outcome(encode_canonical, wrapped) == _outcome(oracle_encode, wrapped)


@pytest.mark.parametrize("depth", [CBOR_MAX_DEPTH - 1, CBOR_MAX_DEPTH, CBOR_MAX_DEPTH + 1])
def test_depth_limit_equals_oracle(depth: int) -> None:
    leaves: tuple[object, ...] = ([], {}, 1, Color.RED)
    for leaf in leaves:
        value: object = leaf
        for _ in range(depth):
            value = [value]
        assert _outcome(encode_canonical, value) == _outcome(oracle_encode, value)
        data = _head(4, 1) * depth + (b"\x80" if leaf == [] else b"\xa0" if leaf == {} else b"\x01")
        assert _outcome(decode_canonical, data) == _outcome(oracle_decode, data)


@settings(max_examples=400, deadline=None)
@given(VALUES, st.lists(st.tuples(st.integers(min_value=0, max_value=2), st.integers(min_value=0), st.integers(0, 255)),
                        max_size=3))
def test_decoder_equals_oracle_on_mutations(value: object, edits: list[tuple[int, int, int]]) -> None:
    data = bytearray(oracle_encode(value))
    for op, at, byte in edits:
        pos = at % (len(data) + 1)
        if op == 0 and pos < len(data):
            data[pos] = byte
        elif op == 1:
            data.insert(pos, byte)
        elif pos < len(data):
            del data[pos]
    assert _outcome(decode_canonical, bytes(data)) == _outcome(oracle_decode, bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_decoder_equals_oracle_on_noise(data: bytes) -> None:
    assert _outcome(decode_canonical, data) == _outcome(oracle_decode, data)


@pytest.mark.parametrize("hexdata", ["1801", "a2616201616101", "a2616101616102", "a2010102f5", "a2f501f402", "a1f6f6",
                                     "a14161f6", "a18001", "a1a001f6", "7f", "62c328", "63eda080", "f818", "1b0000000100000000",
                                     "3bffffffffffffffff", "5b0000000000000001ff", "9a00000001f6", "a2186401186401"])
def test_decoder_equals_oracle_on_edge_cases(hexdata: str) -> None:
    data = bytes.fromhex(hexdata)
    assert _outcome(decode_canonical, data) == _outcome(oracle_decode, data)


def test_chain_hashes_and_validation_use_the_same_bytes() -> None:
    """validate_chain encodes each entry once for its signature and hash: same hash as entry_hash."""
    k1, k2 = nacl.signing.SigningKey(b"\x01" * 32), nacl.signing.SigningKey(b"\x02" * 32)
    body: dict[str, object] = {"name": "Pat", "n": 1000, "a": [1, {"b": b"\x00"}], "endpoints": {"email": "p@example.org"}}
    g = make_entry(k1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(k2.verify_key)),
                   body=body, time_s=5)  # type: ignore[arg-type]
    u = make_entry(k1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={"n": 1})
    state = validate_chain([g, u], address_key=PublicKey(bytes(k1.verify_key)))
    assert [v.entry_hash for v in state.verdicts] == [entry_hash(g), entry_hash(u)]
    assert encode_entry(g) == oracle_encode({**g.unsigned_map(), "sig": g.sig})
