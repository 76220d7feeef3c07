"""Proof bundles: CBOR/JSON round trips; any flipped bit in an encoded bundle is rejected."""

from __future__ import annotations

import functools
import hashlib
import sqlite3

import nacl.signing
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.resolve.logfixture import append, memory_log, signer
from waypost.registry.address import encode_key_domain
from waypost.registry.chain import ChainEntry, EntryKind, entry_hash, make_entry
from waypost.registry.errors import WaypostError
from waypost.resolve import chainstore
from waypost.resolve.bundle import bundle_from_json, bundle_to_json, encode_bundle, parse_bundle, verify_bundle
from waypost.resolve.pchain import chain_leaf
from waypost.resolve.store import ResolveReader
from waypost.tlog.leaf import address_key

_S = signer()
_KEY = nacl.signing.SigningKey(hashlib.sha256(b"bundle-property").digest())
_DOMAIN = encode_key_domain(bytes(_KEY.verify_key))


@functools.lru_cache(maxsize=None)
def _entry(i: int, seq: int) -> ChainEntry:
    """Entry ``seq`` of address ``u{i}``'s private chain (genesis, then updates)."""
    if seq == 0:
        return make_entry(_KEY, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=None, body={"i": i})
    prev = _entry(i, seq - 1)
    return make_entry(_KEY, seq=seq, prev=entry_hash(prev), kind=EntryKind.UPDATE, next_commitment=None,
                      body={"i": i, "seq": seq})


def _append(conn: sqlite3.Connection, pairs: list[tuple[int, int]], now_s: int) -> None:
    leaves = [chain_leaf(f"u{i}@{_DOMAIN}", _entry(i, seq), seq=seq) for i, seq in pairs]
    idx = append(conn, leaves, _S, now_s=now_s)
    conn.executemany(
        "INSERT INTO chain_entries (address_key, seq, entry, entry_hash, leaf_idx) VALUES (?, ?, ?, ?, ?)",
        [(bytes(address_key(f"u{i}@{_DOMAIN}")), seq, _entry(i, seq).encode(), bytes(entry_hash(_entry(i, seq))), x)
         for (i, seq), x in zip(pairs, idx, strict=True)],
    )


def _reader(n_addr: int, updates: list[int]) -> ResolveReader:
    conn = memory_log()
    chainstore.ensure_schema(conn)
    _append(conn, [(i, 0) for i in range(n_addr)], 1000)
    seqs = [0] * n_addr
    batch = []
    for u in updates:
        i = u % n_addr
        seqs[i] += 1
        batch.append((i, seqs[i]))
    if batch:
        _append(conn, batch, 2000)
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
