"""Property tests for registry/address.py: round trip, idempotence, total error typing."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from waypost.registry.address import (
    Address,
    AddressKind,
    address_public_key,
    decode_key_domain,
    encode_key_domain,
    encode_onion_domain,
    format_address,
    parse_address,
)
from waypost.registry.errors import WaypostError

_LDH = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(lambda s: "--" not in s)
_ID_LOCAL = st.from_regex(r"[a-z0-9]{1,12}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)
_NIP05_LOCAL = st.from_regex(r"[a-z0-9._-]{1,20}", fullmatch=True)
_SCRIPTS = [
    "abcdefghijklmnopqrstuvwxyzäöüéèçñß",
    "абвгдежзийклмнопрстуфхцчшщыэюя",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "あいうえおかきくけこさしすせそ山田花子",
    "한국어사람",
]


@st.composite
def _unicode_local(draw: st.DrawFn) -> str:
    alphabet = draw(st.sampled_from(_SCRIPTS))
    body = draw(st.text(alphabet=alphabet + "0123456789_+-", min_size=1, max_size=20))
    return body if not body[0] in "_+-" else "x" + body


@st.composite
def _tld(draw: st.DrawFn) -> str:
    return draw(st.from_regex(r"[a-z]{2,6}", fullmatch=True).filter(lambda t: t not in ("bit", "key", "onion")))


@st.composite
def address_texts(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(list(AddressKind)))
    if kind is AddressKind.NAMECOIN_ID:
        return draw(_ID_LOCAL) + "@id.bit"
    if kind is AddressKind.NAMECOIN_D:
        label = draw(_LDH.filter(lambda s: s != "id"))
        local = draw(_NIP05_LOCAL)
        return f"{local}@{label}.bit"
    if kind is AddressKind.KEY:
        return draw(_unicode_local()) + "@" + encode_key_domain(draw(st.binary(min_size=32, max_size=32)))
    if kind is AddressKind.ONION:
        return draw(_unicode_local()) + "@" + encode_onion_domain(draw(st.binary(min_size=32, max_size=32)))
    labels = draw(st.lists(_LDH, min_size=1, max_size=3))
    return draw(_unicode_local()) + "@" + ".".join([*labels, draw(_tld())])


def _parse_or_none(text: str) -> Address | None:
    try:
        return parse_address(text)
    except WaypostError:
        return None


@settings(max_examples=300)
@given(address_texts())
def test_round_trip(text: str) -> None:
    a = _parse_or_none(text)
    assume(a is not None)  # generated text may still break a rule (e.g. scripts mixed with digits)
    assert a is not None
    assert parse_address(format_address(a)) == a
    assert format_address(parse_address(format_address(a))) == format_address(a)


@settings(max_examples=200)
@given(st.sampled_from([AddressKind.NAMECOIN_ID, AddressKind.KEY, AddressKind.ONION]), st.data())
def test_generated_valid_addresses_parse(kind: AddressKind, data: st.DataObject) -> None:
    # These generators only produce valid addresses: every one must parse.
    key = data.draw(st.binary(min_size=32, max_size=32))
    if kind is AddressKind.NAMECOIN_ID:
        text = data.draw(_ID_LOCAL) + "@id.bit"
    elif kind is AddressKind.KEY:
        text = "alice@" + encode_key_domain(key)
    else:
        text = "alice@" + encode_onion_domain(key)
    a = parse_address(text)
    assert a.kind is kind and format_address(a) == text
    if kind is not AddressKind.NAMECOIN_ID:
        assert address_public_key(a) == key


@settings(max_examples=200)
@given(st.binary(min_size=32, max_size=32))
def test_key_domain_round_trip(key: bytes) -> None:
    assert decode_key_domain(encode_key_domain(key)) == key


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=80), st.builds(lambda a, b: a + "@" + b, st.text(max_size=30), st.text(max_size=40))))
def test_any_text_gives_address_or_typed_error(text: str) -> None:
    try:
        a = parse_address(text)
    except WaypostError:
        return
    assert isinstance(a, Address)
    assert parse_address(format_address(a)) == a
