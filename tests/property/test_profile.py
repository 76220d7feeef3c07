"""Property tests for registry/profile.py: encode/parse round trips and total error typing."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.registry.errors import WaypostError
from waypost.registry.model import PublicKey, Sha256
from waypost.registry.profile import (
    MAX_DOCUMENT_BYTES,
    PROTOCOL_PREFERENCE,
    DocRef,
    Endpoint,
    LinkedProof,
    Policy,
    PolicyMode,
    Profile,
    Protocol,
    Redirect,
    RedirectReason,
    contact_intersection,
    encode_profile,
    encode_profile_document,
    parse_profile,
    parse_profile_document,
    validate_no_downgrade,
)

_ENDPOINT_VALUES = {
    Protocol.EMAIL: ["alice@example.com", "a.b+c@mail.example.org"],
    Protocol.XMPP: ["alice@jabber.example", "bob@chat.example/phone"],
    Protocol.MATRIX: ["@alice:matrix.org", "@a.b:m.example:8448"],
    Protocol.NOSTR: ["ab" * 32, "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"],
    Protocol.ACTIVITYPUB: ["https://social.example/users/alice"],
    Protocol.SIGNAL: ["+14155550123", "alice.01"],
    Protocol.WEB: ["https://alice.example/", "https://alice.example:8443/p?q=1"],
}
_ADDRESSES = ["bob@id.bit", "alice@example.bit", "jörg@xn--bcher-kva.example"]

_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
_token = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=8
).filter(lambda s: not any(c.isspace() for c in s))
_b32 = st.binary(min_size=32, max_size=32)


def _canonical(v: object) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    members = draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "waypost"), _json, max_size=4))
    namecoin = tuple(sorted((k, _canonical(v)) for k, v in members.items()))
    if not draw(st.booleans()):
        return Profile(namecoin=namecoin)
    protocols = draw(st.sets(st.sampled_from(list(Protocol))))
    endpoints = tuple(
        Endpoint(protocol=p, value=draw(st.sampled_from(_ENDPOINT_VALUES[p]))) for p in PROTOCOL_PREFERENCE if p in protocols
    )
    opt = lambda s: draw(st.one_of(st.none(), s))  # noqa: E731
    policy = opt(
        st.builds(
            lambda req, mode: Policy(require=tuple(p for p in PROTOCOL_PREFERENCE if p in req), mode=mode),
            st.sets(st.sampled_from(list(Protocol)), min_size=1),
            st.sampled_from(list(PolicyMode)),
        )
    )
    redirect = opt(
        st.builds(
            lambda to, reason, sig: Redirect(to=to, reason=reason, sig=sig),
            st.sampled_from(_ADDRESSES),
            st.sampled_from(list(RedirectReason)),
            st.binary(min_size=64, max_size=64),
        )
    )
    doc = opt(
        st.builds(
            lambda h, at: DocRef(hash=Sha256(h), locations=tuple(at)),
            _b32,
            st.lists(st.sampled_from(["https://a.example/p.cbor", "https://b.example/x"]), max_size=3),
        )
    )
    proofs = tuple(
        draw(
            st.lists(
                st.builds(lambda s, h, loc: LinkedProof(service=s, handle=h, location=loc), _token, _token, _token),
                max_size=3,
            )
        )
    )
    return Profile(
        namecoin=namecoin,
        version=1,
        key=opt(_b32.map(PublicKey)),
        next_commitment=opt(_b32.map(Sha256)),
        recovery_commitment=opt(_b32.map(Sha256)),
        custodian=opt(_b32.map(PublicKey)),
        endpoints=endpoints,
        policy=policy,
        redirect=redirect,
        doc=doc,
        proofs=proofs,
        sig=opt(st.binary(min_size=64, max_size=64)),
    )


@settings(max_examples=100)
@given(profiles())
def test_encode_parse_round_trip(p: Profile) -> None:
    value = encode_profile(p)
    assert parse_profile(value, limit=MAX_DOCUMENT_BYTES) == p
    assert encode_profile(parse_profile(value, limit=MAX_DOCUMENT_BYTES)) == value


@settings(max_examples=50)
@given(profiles())
def test_document_round_trip(p: Profile) -> None:
    assert parse_profile_document(encode_profile_document(p)) == p


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_give_profile_or_typed_error(value: bytes) -> None:
    try:
        parse_profile(value)
    except WaypostError:
        pass


@settings(max_examples=100)
@given(profiles(), st.data())
def test_mutated_values_give_profile_or_typed_error(p: Profile, data: st.DataObject) -> None:
    value = bytearray(encode_profile(p))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(value)))
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "insert" or not value or pos == len(value):
            value.insert(pos, data.draw(st.sampled_from(b'{}[]",:\\0aZ\xff\x80 ')))
        elif op == "flip":
            value[pos] ^= 1 << data.draw(st.integers(0, 7))
        else:
            del value[pos]
    try:
        q = parse_profile(bytes(value), limit=MAX_DOCUMENT_BYTES)
    except WaypostError:
        return
    assert parse_profile(encode_profile(q), limit=MAX_DOCUMENT_BYTES) == q


@settings(max_examples=60)
@given(profiles(), profiles())
def test_contact_intersection_is_symmetric_and_allowed(a: Profile, b: Profile) -> None:
    got = contact_intersection(a, b)
    assert got == contact_intersection(b, a)
    if got is not None:
        for p in (a, b):
            assert p.endpoint(got) is not None
            if p.policy is not None and p.policy.mode is PolicyMode.ENFORCE:
                assert got in p.policy.require


@settings(max_examples=40)
@given(profiles())
def test_a_profile_never_downgrades_itself(p: Profile) -> None:
    validate_no_downgrade(p, p)
