"""Proof bundles: CBOR/JSON round trips; any flipped bit in an encoded bundle is rejected."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.resolve.logfixture import append, memory_log, signer
from waypost.registry.address import encode_key_domain
from waypost.registry.errors import WaypostError
from waypost.resolve.bundle import bundle_from_json, bundle_to_json, encode_bundle, parse_bundle, verify_bundle
from waypost.resolve.store import ResolveReader
from waypost.tlog.leaf import ChainSource, LogLeaf

_S = signer()
_DOMAIN = encode_key_domain(bytes(range(32)))


def _leaf(i: int, seq: int) -> LogLeaf:
    h = hashlib.sha256(b"%d/%d" % (i, seq)).digest()
    return LogLeaf(address=f"u{i}@{_DOMAIN}", epoch=0, seq=seq, record_hash=h, source=ChainSource(seq=seq, entry_hash=h))


def _reader(n_addr: int, updates: list[int]) -> ResolveReader:
    conn = memory_log()
    leaves = [_leaf(i, 0) for i in range(n_addr)]
    append(conn, leaves, _S)
    seqs = [0] * n_addr
    batch = []
    for u in updates:
        i = u % n_addr
        seqs[i] += 1
        batch.append(_leaf(i, seqs[i]))
    if batch:
        append(conn, batch, _S, now_s=2000)
    return ResolveReader(conn, "regtest")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), updates=st.lists(st.integers(0, 100), max_size=20), pick=st.integers(0, 40),
       since=st.integers(0, 60))
def test_round_trip_and_verification(n: int, updates: list[int], pick: int, since: int) -> None:
    r = _reader(n, updates)
    present = pick < n
    address = f"u{pick}@{_DOMAIN}"
    b, leaf = r.bundle(address, since_size=since or None)
    assert parse_bundle(encode_bundle(b)) == b
    assert bundle_from_json(bundle_to_json(b)) == b
    res = verify_bundle(b, address=address, log_verifiers=[_S.verifier], network="regtest")
    assert res.present is present and (leaf is not None) is present
    if present:
        assert res.leaf == leaf and res.leaf_index == r.log.latest_leaf(leaf.address_key)[0]  # type: ignore[union-attr,index]


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 20), updates=st.lists(st.integers(0, 100), max_size=8), pick=st.integers(0, 25),
       data=st.data())
def test_any_flipped_bit_is_rejected(n: int, updates: list[int], pick: int, data: st.DataObject) -> None:
    r = _reader(n, updates)
    address = f"u{pick}@{_DOMAIN}"
    b, _ = r.bundle(address, since_size=1)
    raw = bytearray(encode_bundle(b))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    prev = verify_bundle(b, address=address, log_verifiers=[_S.verifier], network="regtest").checkpoint
    first = prev.checkpoint.__class__(origin=prev.checkpoint.origin, size=1, root_hash=r.log.root_at(1),
                                      map_root=None)
    try:
        bad = parse_bundle(bytes(raw))
        verify_bundle(bad, address=address, log_verifiers=[_S.verifier], network="regtest",
                      previous=prev.__class__(checkpoint=first, note=""))
    except WaypostError:
        return
    raise AssertionError(f"bit {bit} flip accepted")
