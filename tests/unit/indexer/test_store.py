"""Unit tests for indexer/store.py: schema checks, batch atomicity, reorgs, reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.replaynode import ChainGenerator
from waypost.indexer.store import BatchResult, open_reader, open_store, state_digest
from waypost.indexer.wire import Block, parse_block
from waypost.registry.errors import ChainError, ErrorCode, StoreError


def _chain(n: int, seed: int = 5, gen: ChainGenerator | None = None) -> list[tuple[Block, int]]:
    g = gen or ChainGenerator(seed=seed, txs_per_block=6, name_op_ratio=0.5)
    return [(parse_block(b.raw), b.height) for b in g.blocks(n)]


def test_network_mismatch_and_newer_schema(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    open_store(db, "regtest").close()
    with pytest.raises(StoreError) as exc:
        open_store(db, "mainnet")
    assert exc.value.code == ErrorCode.STORE_NETWORK_MISMATCH
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_versions SET version = 99 WHERE component = 'indexer'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as exc:
        open_store(db, "regtest")
    assert exc.value.code == ErrorCode.STORE_NEWER_SCHEMA
    with pytest.raises(StoreError) as exc:
        open_reader(db)
    assert exc.value.code == ErrorCode.STORE_NEWER_SCHEMA


def test_missing_db_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as exc:
        open_store(tmp_path / "none.db", "regtest", create=False)
    assert exc.value.code == ErrorCode.STORE_IO
    with pytest.raises(StoreError):
        open_reader(tmp_path / "none.db")


def test_failing_hook_rolls_back_whole_batch(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    blocks = _chain(80)
    store.apply_batch(blocks[:40])
    before = state_digest(store)

    def hook(conn: sqlite3.Connection, batch: BatchResult) -> None:
        assert batch.tip_height == 79 and len(batch.deltas) == 40
        conn.execute("CREATE TABLE IF NOT EXISTS hook_rows (x)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.apply_batch(blocks[40:], hooks=[hook])
    assert state_digest(store) == before
    assert store.fetch_tip() is not None and store.fetch_tip()[0] == 39  # type: ignore[index]
    store.apply_batch(blocks[40:])
    assert store.fetch_tip()[0] == 79  # type: ignore[index]


def test_block_not_extending_tip_is_refused(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    blocks = _chain(10)
    store.apply_batch(blocks[:5])
    with pytest.raises(ChainError) as exc:
        store.apply_batch(blocks[6:])
    assert exc.value.code == ErrorCode.CHAIN_DISCONNECTED
    other = _chain(6, seed=99)
    with pytest.raises(ChainError) as exc:
        store.apply_batch([other[5]])
    assert exc.value.code == ErrorCode.CHAIN_DISCONNECTED
    with pytest.raises(ChainError) as exc:
        store.apply_batch([], [other[4][0].hash])
    assert exc.value.code == ErrorCode.CHAIN_DISCONNECTED


def test_reorg_equals_from_scratch(tmp_path: Path) -> None:
    gen = ChainGenerator(seed=11, txs_per_block=8, name_op_ratio=0.6)
    common = [(parse_block(b.raw), b.height) for b in gen.blocks(60)]
    branch_a_gen = gen.fork(1)
    branch_b_gen = gen.fork(2)
    branch_a = [(parse_block(b.raw), b.height) for b in branch_a_gen.blocks(25)]
    branch_b = [(parse_block(b.raw), b.height) for b in branch_b_gen.blocks(30)]

    store = open_store(tmp_path / "a.db", "regtest")
    store.apply_batch(common + branch_a)
    result = store.apply_batch(branch_b, [b.hash for b, _ in reversed(branch_a)])
    assert result.tip_height == 89
    assert [d.connected for d in result.deltas].count(False) == 25

    clean = open_store(tmp_path / "b.db", "regtest")
    clean.apply_batch(common + branch_b)
    assert state_digest(store) == state_digest(clean)
    assert store.fetch_tip() == clean.fetch_tip()


def test_reader_lookups_and_listing(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    store = open_store(db, "regtest")
    store.apply_batch(_chain(150))
    store.save_node_status(node_height=149, node_headers=150, node_ibd=False, checked_at_s=1234)
    reader = open_reader(db)
    status = reader.fetch_status()
    assert (status.tip_height, status.node_headers, status.checked_at_s, status.schema_version) == (149, 150, 1234, 2)
    assert status.state_root is not None and len(status.state_root) == 32
    every = list(reader.fetch_names(limit=10_000))
    assert every and [r.name for r in every] == sorted(r.name for r in every)
    page1 = reader.fetch_names(limit=3)
    page2 = reader.fetch_names(after=page1[-1].name, limit=3)
    assert [r.name for r in list(page1) + list(page2)] == [r.name for r in every[:6]]
    ids = reader.fetch_names(prefix=b"id/", limit=10_000)
    assert ids and all(r.name.startswith(b"id/") for r in ids)
    assert len(ids) == sum(r.name.startswith(b"id/") for r in every)
    rec = every[0]
    assert reader.fetch_name(rec.name) == rec
    hist = reader.fetch_history(rec.name)
    assert hist[-1] == rec and [(h.height, h.tx_index) for h in hist] == sorted((h.height, h.tx_index) for h in hist)
    with pytest.raises(sqlite3.OperationalError):  # read-only
        reader.conn.execute("DELETE FROM names")
    reader.close()


def test_prefix_upper_bound() -> None:
    from waypost.indexer.store import _prefix_upper

    assert _prefix_upper(b"d/") == b"d0"
    assert _prefix_upper(b"a\xff") == b"b"
    assert _prefix_upper(b"\xff\xff") is None
    assert _prefix_upper(b"") is None


def test_schema_1_database_migrates_and_still_reorgs(tmp_path: Path) -> None:
    """A database in schema 1's layout (undo records in a table of their own) opens at schema 2
    with every undo record in its block row: a reorg through migrated blocks equals a clean index."""
    gen = ChainGenerator(seed=12, txs_per_block=8, name_op_ratio=0.6)
    common = [(parse_block(b.raw), b.height) for b in gen.blocks(40)]
    branch_a = [(parse_block(b.raw), b.height) for b in gen.fork(1).blocks(15)]
    branch_b = [(parse_block(b.raw), b.height) for b in gen.fork(2).blocks(20)]

    db = tmp_path / "old.db"
    store = open_store(db, "regtest")
    store.apply_batch(common + branch_a)
    store.close()
    conn = sqlite3.connect(db, isolation_level=None)  # back to schema 1's layout
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE undo ([height] INTEGER PRIMARY KEY, [hash] BLOB, [data] BLOB)")
    conn.execute("INSERT INTO undo (height, hash, data) SELECT height, hash, undo FROM blocks")
    conn.execute("ALTER TABLE blocks DROP COLUMN undo")
    conn.execute("UPDATE schema_versions SET version = 1 WHERE component = 'indexer'")
    conn.execute("COMMIT")
    conn.close()

    store = open_store(db, "regtest")
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "undo" not in tables
    assert store.conn.execute("SELECT count(*) FROM blocks WHERE undo IS NULL").fetchone()[0] == 0
    assert store.fetch_status().schema_version == 2
    result = store.apply_batch(branch_b, [b.hash for b, _ in reversed(branch_a)])
    assert [d.connected for d in result.deltas].count(False) == 15
    clean = open_store(tmp_path / "clean.db", "regtest")
    clean.apply_batch(common + branch_b)
    assert state_digest(store) == state_digest(clean)
    assert store.fetch_tip() == clean.fetch_tip()
