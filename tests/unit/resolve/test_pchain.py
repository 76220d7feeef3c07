"""Private-chain submissions (pure core): parsing caps, extension rules, duplicity; snapshot codec hostile input."""

from __future__ import annotations

import base64
import hashlib

import nacl.signing
import pytest

from waypost.registry.address import encode_key_domain
from waypost.registry.chain import ChainEntry, EntryKind, encode_canonical, entry_hash, make_entry, verify_duplicity_evidence
from waypost.registry.errors import ErrorCode, ParseError, WaypostError
from waypost.registry.model import PublicKey
from waypost.resolve import pchain
from waypost.resolve.snapshot import decode_snapshot

_K = nacl.signing.SigningKey(hashlib.sha256(b"pchain-unit").digest())
_PK = PublicKey(bytes(_K.verify_key))
_ADDR = f"ann@{encode_key_domain(_PK)}"


def _chain(n: int, tag: str = "") -> list[ChainEntry]:
    out = [make_entry(_K, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=None, body={"t": tag})]
    for seq in range(1, n):
        out.append(make_entry(_K, seq=seq, prev=entry_hash(out[-1]), kind=EntryKind.UPDATE, next_commitment=None,
                              body={"seq": seq, "t": tag}))
    return out


def test_key_address_is_canonical_and_only_key_addresses() -> None:
    assert pchain.key_address(_ADDR.upper().replace("ANN@", "ann@")) == (_ADDR, _PK)
    with pytest.raises(ParseError) as ei:
        pchain.key_address("ann@id.bit")
    assert ei.value.code == ErrorCode.CHAINS_NOT_KEY_ADDRESS


def test_parse_submission_both_forms_and_caps() -> None:
    chain = _chain(3)
    cbor = encode_canonical([e.encode() for e in chain])
    js = ('{"entries": [%s]}' % ",".join(
        '"%s"' % base64.urlsafe_b64encode(e.encode()).decode().rstrip("=") for e in chain)).encode()
    assert pchain.parse_submission(cbor, json_form=False) == tuple(chain)
    assert pchain.parse_submission(js, json_form=True) == tuple(chain)
    cases: list[tuple[bytes, bool, ErrorCode]] = [
        (b"\x00" * (pchain.MAX_SUBMISSION_BYTES + 1), False, ErrorCode.CHAINS_TOO_LARGE),
        (encode_canonical([b"x"] * (pchain.MAX_SUBMISSION_ENTRIES + 1)), False, ErrorCode.CHAINS_TOO_LARGE),
        (encode_canonical([]), False, ErrorCode.CHAIN_BAD_ENTRY),
        (encode_canonical(["text"]), False, ErrorCode.CHAIN_BAD_ENTRY),
        (b'{"entries": ["***"]}', True, ErrorCode.CHAIN_BAD_ENTRY),
        (b'{"entries": 1}', True, ErrorCode.CHAIN_BAD_ENTRY),
        (b"\xff", True, ErrorCode.CHAIN_BAD_ENTRY),
    ]
    for body, json_form, code in cases:
        with pytest.raises(ParseError) as ei:
            pchain.parse_submission(body, json_form=json_form)
        assert ei.value.code == code, body[:20]


def test_plan_extension_suffix_noop_fork_and_rewrite() -> None:
    chain = _chain(4)
    plan = pchain.plan_submission(_ADDR, _PK, chain[:2], chain)
    assert plan.new_entries == tuple(chain[2:]) and plan.state is not None and plan.state.seq == 3
    # a suffix starting inside the stored chain is enough
    assert pchain.plan_submission(_ADDR, _PK, chain[:2], chain[1:]).new_entries == tuple(chain[2:])
    assert pchain.plan_submission(_ADDR, _PK, chain, chain).new_entries == ()
    # a different genesis (body) signed by the same key: a fork at seq 0
    fork = pchain.plan_submission(_ADDR, _PK, chain, _chain(4, tag="fork"))
    assert fork.evidence is not None
    verify_duplicity_evidence(fork.evidence)
    # a different entry at seq 2 on the same prefix
    alt = make_entry(_K, seq=2, prev=entry_hash(chain[1]), kind=EntryKind.UPDATE, next_commitment=None, body={"x": 1})
    fork2 = pchain.plan_submission(_ADDR, _PK, chain, [*chain[:2], alt])
    assert fork2.evidence is not None and {fork2.evidence.a, fork2.evidence.b} == {chain[2], alt}
    with pytest.raises(WaypostError) as ei:
        pchain.plan_submission(_ADDR, _PK, chain[:1], chain[2:])
    assert ei.value.code == ErrorCode.CHAINS_NOT_EXTENSION


def test_leaf_commits_to_entry_and_body() -> None:
    e = _chain(2)[1]
    leaf = pchain.chain_leaf(_ADDR, e, seq=5, flagged=True)
    assert leaf.source.entry_hash == entry_hash(e) and leaf.source.seq == 1 and leaf.seq == 5  # type: ignore[union-attr]
    assert leaf.record_hash == hashlib.sha256(encode_canonical(dict(e.body))).digest()
    assert leaf.verdict == "flagged" and leaf.codes == (str(ErrorCode.CHAIN_DUPLICITY),)


@pytest.mark.parametrize("data", [b"", b"\xa0", encode_canonical({"v": 1}), encode_canonical({"v": 2, "st": {}}),
                                  encode_canonical({"v": 1, "st": {"a": 1}, "vd": [], "val": b"", "exp": None, "dep": 30})])
def test_snapshot_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(ParseError):
        decode_snapshot(data)
