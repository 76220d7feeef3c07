"""SQLite log store: append inside the caller's transaction, proofs, map, checkpoints, tiles."""

from __future__ import annotations

import dataclasses

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import merkle_reference as ref
from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, NotFoundError, StoreError, ValidationError
from waypost.registry.model import BlockHash, Sha256, Txid
from waypost.tlog import note, smt, store, tiles
from waypost.tlog.leaf import VERDICT_REORG_RESTORED, LogLeaf, NamecoinSource, address_key

ORIGIN = "waypost.test/log"


def _leaf(i: int, who: int | None = None, seq: int = 0) -> LogLeaf:
    return LogLeaf(
        address=f"user{i if who is None else who}@example.bit",
        epoch=0,
        seq=seq,
        record_hash=Sha256(hashlib.sha256(b"%d" % i).digest()),
        source=NamecoinSource(height=i, txid=Txid(hashlib.sha256(b"tx%d" % i).digest()), vout=0),
    )


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
    store.ensure_schema(c)
    return c


def _append(conn: sqlite3.Connection, leaves: list[LogLeaf]) -> range:
    conn.execute("BEGIN IMMEDIATE")
    r = store.append_leaves(conn, leaves)
    conn.execute("COMMIT")
    return r


def test_schema_version_row_and_idempotent(conn: sqlite3.Connection) -> None:
    store.ensure_schema(conn)
    assert conn.execute("SELECT version FROM schema_versions WHERE component = 'tlog'").fetchone() == (1,)
    conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'tlog'")
    with pytest.raises(StoreError) as e:
        store.ensure_schema(conn)
    assert e.value.code == ErrorCode.STORE_NEWER_SCHEMA


def test_append_requires_open_transaction(conn: sqlite3.Connection) -> None:
    with pytest.raises(StoreError):
        store.append_leaves(conn, [_leaf(0)])


def test_rollback_of_caller_transaction_leaves_nothing(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    store.append_leaves(conn, [_leaf(i) for i in range(5)])
    conn.execute("ROLLBACK")
    assert store.LogReader(conn).size() == 0
    assert store.LogReader(conn).map_root() == smt.MAP_EMPTY


def test_proofs_match_reference_across_batches(conn: sqlite3.Connection) -> None:
    leaves = [_leaf(i) for i in range(77)]
    r1 = _append(conn, leaves[:30])
    r2 = _append(conn, leaves[30:31])
    r3 = _append(conn, leaves[31:])
    assert (r1, r2, r3) == (range(0, 30), range(30, 31), range(31, 77))
    reader = store.LogReader(conn)
    data = [leaf.encode() for leaf in leaves]
    assert reader.root() == ref.mth(data)
    for size in (1, 30, 31, 64, 77):
        assert reader.root_at(size) == ref.mth(data[:size])
        for idx in {0, size // 2, size - 1}:
            assert list(reader.inclusion_proof(idx, size)) == ref.path(idx, data[:size])
        for m in {1, size // 3 or 1, size}:
            assert list(reader.consistency_proof(m, size)) == ref.proof(m, data[:size])
    assert reader.leaf(5) == data[5]
    assert reader.leaves(75, 100) == data[75:]
    with pytest.raises(NotFoundError):
        reader.inclusion_proof(0, 78)


def test_map_points_to_latest_leaf_and_reorg_restore(conn: sqlite3.Connection) -> None:
    _append(conn, [_leaf(i) for i in range(10)])
    _append(conn, [_leaf(100, who=3, seq=1)])  # user3 updates: leaf 10
    reader = store.LogReader(conn)
    k3 = address_key("user3@example.bit")
    assert reader.latest_leaf(k3) == (10, _leaf(100, who=3, seq=1).leaf_hash())
    # a reorg drops the update: the previous state is appended again, the map follows
    history = store.address_history(conn, k3)
    assert [i for i, _ in history] == [3, 10]
    prev = history[-2][1]
    restored = LogLeaf(
        address=prev.address,
        epoch=prev.epoch,
        seq=prev.seq,
        record_hash=prev.record_hash,
        source=prev.source,
        verdict=VERDICT_REORG_RESTORED,
    )
    _append(conn, [restored])
    assert reader.size() == 12
    idx, lh = reader.latest_leaf(k3) or (0, b"")
    assert idx == 11 and LogLeaf.parse(reader.leaf(11)).verdict == VERDICT_REORG_RESTORED
    root = reader.map_root()
    smt.verify_map_proof(root, k3, smt.map_value_hash(idx, lh), reader.map_proof(k3))
    absent = address_key("nobody@example.bit")
    smt.verify_map_proof(root, absent, None, reader.map_proof(absent))
    # the map root equals a map rebuilt from scratch with the latest leaf of each address
    fresh = smt.MemoryMapStore()
    latest = {bytes(LogLeaf.parse(reader.leaf(i)).address_key): (i, merkle.leaf_hash(reader.leaf(i))) for i in range(12)}
    fresh.apply(smt.apply_map_updates(fresh, [(k, smt.map_value_hash(i, h)) for k, (i, h) in latest.items()]))
    assert smt.map_root(fresh) == root


def test_checkpoints_signed_when_grown_or_due(conn: sqlite3.Connection) -> None:
    signer = note.signer_from_seed(ORIGIN, b"\x07" * 32)
    tip = (500, BlockHash(b"\xaa" * 32))
    cp0 = store.sign_checkpoint_if_due(conn, signer, ORIGIN, 1000, 600, tip)
    assert cp0.size == 0 and cp0.root_hash == merkle.EMPTY_ROOT
    _append(conn, [_leaf(i) for i in range(3)])
    conn.execute("BEGIN IMMEDIATE")
    store.append_leaves(conn, [_leaf(3)])
    cp1 = store.sign_checkpoint_if_due(conn, signer, ORIGIN, 1001, 600, tip)
    conn.execute("COMMIT")
    reader = store.LogReader(conn)
    assert cp1.size == 4 and cp1.map_root == reader.map_root() and cp1.root_hash == reader.root()
    same = store.sign_checkpoint_if_due(conn, signer, ORIGIN, 1100, 600, tip)
    assert same == cp1 and conn.execute("SELECT count(*) FROM checkpoints").fetchone() == (2,)
    store.sign_checkpoint_if_due(conn, signer, ORIGIN, 1700, 600, tip)  # frozen log: re-signed
    assert conn.execute("SELECT count(*) FROM checkpoints").fetchone() == (3,)
    latest = reader.latest_checkpoint()
    assert latest is not None
    opened = note.open_checkpoint(latest, [signer.verifier], origin=ORIGIN)
    # the same tree, re-signed with a later time: the log is visibly alive (not frozen)
    assert cp1.time_s == 1001 and opened.checkpoint == dataclasses.replace(cp1, time_s=1700)
    w = note.signer_from_seed("w.test/w", b"\x08" * 32, note.ALG_COSIGNATURE_V1)
    with_cosig = store.add_cosignatures(conn, latest, note.cosign(opened, w, 1700))
    assert reader.latest_checkpoint() == with_cosig
    note.verify_cosignatures(with_cosig, [w.verifier], 1)


def test_tiles(conn: sqlite3.Connection) -> None:
    n = 600
    _append(conn, [_leaf(i) for i in range(n)])
    reader = store.LogReader(conn)
    hashes = [_leaf(i).leaf_hash() for i in range(n)]
    assert reader.tile(0, 0, 256) == b"".join(hashes[:256])
    assert reader.tile(0, 2, 88) == b"".join(hashes[512:600])
    level8 = merkle.MemoryHashReader(hashes)
    assert reader.tile(1, 0, 2) == level8.get_node(8, 0) + level8.get_node(8, 1)
    with pytest.raises(NotFoundError):
        reader.tile(0, 2, 89)
    with pytest.raises(NotFoundError):
        reader.tile(1, 0, 3)
    bundle = tiles.parse_entry_bundle(reader.entries_tile(1, 256))
    assert bundle == [_leaf(i).encode() for i in range(256, 512)]


def test_signer_key_file(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    s1 = store.load_or_create_signer(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load_or_create_signer(path, ORIGIN) == s1
    assert note.parse_vkey((tmp_path / "log.key.vkey").read_text()) == s1.verifier
    with pytest.raises(ValidationError):
        store.load_or_create_signer(path, "other.origin")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6), st.integers(1, 25))
def test_random_batches_match_reference(tmp_path: Path, batches: list[int], addresses: int) -> None:
    c = sqlite3.connect(":memory:", isolation_level=None)
    store.ensure_schema(c)
    leaves: list[LogLeaf] = []
    for k in batches:
        new = [_leaf(len(leaves) + j, who=(len(leaves) + j) % addresses) for j in range(k)]
        _append(c, new)
        leaves += new
    reader = store.LogReader(c)
    data = [leaf.encode() for leaf in leaves]
    assert reader.root() == ref.mth(data)
    n = len(data)
    assert list(reader.inclusion_proof(n - 1, n)) == ref.path(n - 1, data)
    assert list(reader.consistency_proof(batches[0], n)) == ref.proof(batches[0], data)
    for who in range(min(addresses, n)):
        key = address_key(f"user{who}@example.bit")
        last = max(i for i in range(n) if i % addresses == who)
        assert reader.latest_leaf(key) == (last, merkle.leaf_hash(data[last]))
        smt.verify_map_proof(reader.map_root(), key, smt.map_value_hash(last, merkle.leaf_hash(data[last])), reader.map_proof(key))


def test_deferred_map_equals_immediate(tmp_path: Path) -> None:
    immediate = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    deferred = sqlite3.connect(tmp_path / "b.db", isolation_level=None)
    for c in (immediate, deferred):
        store.ensure_schema(c)
    leaves = [_leaf(i, who=i % 13) for i in range(60)]
    for s in range(0, 60, 20):
        _append(immediate, leaves[s : s + 20])
        deferred.execute("BEGIN IMMEDIATE")
        store.append_leaves(deferred, leaves[s : s + 20], defer_map=True)
        deferred.execute("COMMIT")
    r_imm, r_def = store.LogReader(immediate), store.LogReader(deferred)
    assert r_def.root() == r_imm.root()
    assert r_def.map_root() == smt.MAP_EMPTY and r_def.latest_leaf(address_key("user1@example.bit")) is None
    # histories follow prev_idx through queued updates too
    hist = [i for i, _ in store.address_history(deferred, address_key("user1@example.bit"))]
    assert hist == [i for i, _ in store.address_history(immediate, address_key("user1@example.bit"))] == list(range(1, 60, 13))
    signer = note.signer_from_seed(ORIGIN, b"\x07" * 32)
    cp = store.sign_checkpoint_if_due(deferred, signer, ORIGIN, 5, 60)  # flushes the queue first
    assert cp.map_root == r_imm.map_root() == r_def.map_root()
    assert r_def.latest_leaf(address_key("user1@example.bit")) == r_imm.latest_leaf(address_key("user1@example.bit"))
    assert deferred.execute("SELECT count(*) FROM map_pending").fetchone() == (0,)
