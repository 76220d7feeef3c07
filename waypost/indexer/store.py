"""SQLite store of the name index (shell): schema, migrations, batched writes, reads.

Makes no consensus decisions: ``state`` computes deltas, this module writes them, one
SQLite transaction per batch (tip, names, history, undo, and the hooks' rows together).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from waypost.indexer import state as st
from waypost.indexer.view import IndexStatus, NameRecord
from waypost.indexer.wire import Block, hash_to_hex
from waypost.registry.errors import ChainError, ErrorCode, ParseError, StoreError
from waypost.registry.model import BlockHash, Txid

__all__ = [
    "COMPONENT",
    "SCHEMA_VERSION",
    "MIGRATIONS",
    "BatchResult",
    "BatchHook",
    "Store",
    "NameIndexReader",
    "open_store",
    "open_reader",
    "state_digest",
]

_log = logging.getLogger(__name__)

COMPONENT = "indexer"


# --- schema --------------------------------------------------------------------------
#
# meta(key TEXT PK, value TEXT)             "network" -> mainnet|testnet|regtest
# schema_versions(component TEXT PK, version INTEGER)   one row per component sharing the DB
# blocks(height INTEGER PK, hash BLOB[32], prev BLOB[32], time_s INTEGER, state_root BLOB[32],
#        undo BLOB)  the active chain as indexed; hashes in wire order; undo = state.encode_undo
#        (layout there; schema 1 kept it in a table of its own)
# names(name BLOB PK, value BLOB, txid BLOB[32], vout INTEGER, height INTEGER, block_hash BLOB[32],
#       tx_index INTEGER, op TEXT, address TEXT NULL, expires_at_height INTEGER, epoch INTEGER)
#        current operation per name, WITHOUT ROWID (clustered by name bytes)
# name_ops(same columns as names) PK (name, height, tx_index), WITHOUT ROWID: the history
# name_news(txid BLOB[32], vout INTEGER, commitment BLOB[20], height INTEGER) PK (txid, vout)
# node_status(id INTEGER PK = 1, node_height, node_headers, node_ibd, checked_at_s)

_RECORD_COLS = "name, value, txid, vout, height, block_hash, tx_index, op, address, expires_at_height, epoch"
_RECORD_DDL = """
    name BLOB NOT NULL, value BLOB NOT NULL, txid BLOB NOT NULL, vout INTEGER NOT NULL,
    height INTEGER NOT NULL, block_hash BLOB NOT NULL, tx_index INTEGER NOT NULL, op TEXT NOT NULL,
    address TEXT, expires_at_height INTEGER NOT NULL, epoch INTEGER NOT NULL"""


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db.table("blocks").create(
        {"height": int, "hash": bytes, "prev": bytes, "time_s": int, "state_root": bytes},
        pk="height",
        not_null={"hash", "prev", "time_s", "state_root"},
        if_not_exists=True,
    )
    db.table("undo").create({"height": int, "hash": bytes, "data": bytes}, pk="height", if_not_exists=True)
    db.table("node_status").create(
        {"id": int, "node_height": int, "node_headers": int, "node_ibd": int, "checked_at_s": int},
        pk="id",
        if_not_exists=True,
    )
    db.execute(f"CREATE TABLE IF NOT EXISTS names ({_RECORD_DDL}, PRIMARY KEY (name)) WITHOUT ROWID")
    db.execute(
        f"CREATE TABLE IF NOT EXISTS name_ops ({_RECORD_DDL}, PRIMARY KEY (name, height, tx_index)) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS name_news (txid BLOB NOT NULL, vout INTEGER NOT NULL, "
        "commitment BLOB NOT NULL, height INTEGER NOT NULL, PRIMARY KEY (txid, vout)) WITHOUT ROWID"
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    # The undo record moves into its block's row: one row per block instead of two
    # (the writer's per-block inserts were a tenth of its work).
    db.execute("ALTER TABLE blocks ADD COLUMN undo BLOB")
    db.execute("UPDATE blocks SET undo = (SELECT data FROM undo WHERE undo.height = blocks.height)")
    db.execute("DROP TABLE undo")


# Append only: version N is MIGRATIONS[N-1]; a DB at version v runs MIGRATIONS[v:].
MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_migrate_1, _migrate_2)
SCHEMA_VERSION = len(MIGRATIONS)


# --- batch results and hooks -----------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """What one ``apply_batch`` transaction changed (given to hooks, returned to the caller).

    ``deltas`` are in application order: disconnects tip-first, then connects oldest-first.
    """

    deltas: tuple[st.NameDelta, ...]
    tip_height: int
    tip_hash: BlockHash | None
    state_root: bytes
    network: str
    # the connected blocks with their heights, oldest first (SPV data for the resolver)
    blocks: tuple[tuple[int, st.BlockSummary], ...] = ()


# A hook runs inside the batch transaction, after the name rows are written, and may
# write its own tables through ``conn`` (transparency-log leaves, notification outbox).
# It must not commit or roll back; raising aborts the whole batch.
BatchHook = Callable[[sqlite3.Connection, BatchResult], None]


# --- reading ---------------------------------------------------------------------------


def _row_record(row: tuple[Any, ...]) -> NameRecord:
    name, value, txid, vout, height, block_hash, tx_index, op, address, expires, epoch = row
    return NameRecord(
        name=bytes(name),
        value=bytes(value),
        txid=Txid(bytes(txid)),
        vout=int(vout),
        height=int(height),
        block_hash=BlockHash(bytes(block_hash)),
        tx_index=int(tx_index),
        op=str(op),
        address=None if address is None else str(address),
        expires_at_height=int(expires),
        epoch=int(epoch),
    )


def _record_row(rec: NameRecord) -> tuple[object, ...]:
    return (
        rec.name,
        rec.value,
        rec.txid,
        rec.vout,
        rec.height,
        rec.block_hash,
        rec.tx_index,
        rec.op,
        rec.address,
        rec.expires_at_height,
        rec.epoch,
    )


def _prefix_upper(prefix: bytes) -> bytes | None:
    """Smallest byte string greater than every string starting with ``prefix`` (None: no bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


class NameIndexReader:
    """``NameReader`` over an SQLite connection (read-only or the writer's own)."""

    def __init__(self, conn: sqlite3.Connection, network: str) -> None:
        self.conn = conn
        self.network = network

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def fetch_tip(self) -> tuple[int, BlockHash, bytes] | None:
        """``(height, hash, state_root)`` of the indexed tip, or None when empty."""
        row = self.conn.execute("SELECT height, hash, state_root FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return int(row[0]), BlockHash(bytes(row[1])), bytes(row[2])

    def fetch_block_hash(self, height: int) -> BlockHash | None:
        """The indexed block hash at ``height`` (wire order), or None."""
        row = self.conn.execute("SELECT hash FROM blocks WHERE height = ?", (height,)).fetchone()
        return None if row is None else BlockHash(bytes(row[0]))

    def fetch_status(self) -> IndexStatus:
        """Tip, state root and the last seen node status."""
        tip = self.conn.execute(
            "SELECT height, hash, time_s, state_root FROM blocks ORDER BY height DESC LIMIT 1"
        ).fetchone()
        node = self.conn.execute(
            "SELECT node_height, node_headers, node_ibd, checked_at_s FROM node_status WHERE id = 1"
        ).fetchone()
        ver = self.conn.execute("SELECT version FROM schema_versions WHERE component = ?", (COMPONENT,)).fetchone()
        return IndexStatus(
            network=self.network,
            tip_height=-1 if tip is None else int(tip[0]),
            tip_hash=None if tip is None else BlockHash(bytes(tip[1])),
            tip_time_s=None if tip is None else int(tip[2]),
            state_root=None if tip is None else bytes(tip[3]),
            node_height=None if node is None or node[0] is None else int(node[0]),
            node_headers=None if node is None or node[1] is None else int(node[1]),
            node_initial_download=None if node is None or node[2] is None else bool(node[2]),
            checked_at_s=None if node is None or node[3] is None else int(node[3]),
            schema_version=0 if ver is None else int(ver[0]),
        )

    def fetch_name(self, name: bytes) -> NameRecord | None:
        """The current operation of ``name`` (expired or not), or None if never registered."""
        row = self.conn.execute(f"SELECT {_RECORD_COLS} FROM names WHERE name = ?", (name,)).fetchone()
        return None if row is None else _row_record(row)

    def fetch_history(self, name: bytes) -> Sequence[NameRecord]:
        """Every operation of ``name`` on the indexed chain, oldest first."""
        rows = self.conn.execute(
            f"SELECT {_RECORD_COLS} FROM name_ops WHERE name = ? ORDER BY height, tx_index", (name,)
        ).fetchall()
        return [_row_record(r) for r in rows]

    def fetch_names(self, *, prefix: bytes = b"", after: bytes | None = None, limit: int = 100) -> Sequence[NameRecord]:
        """Current operations in name byte order, names starting with ``prefix``, after ``after``."""
        clauses = ["name >= ?"]
        args: list[object] = [prefix]
        upper = _prefix_upper(prefix)
        if upper is not None:
            clauses.append("name < ?")
            args.append(upper)
        if after is not None:
            clauses.append("name > ?")
            args.append(after)
        args.append(max(0, int(limit)))
        rows = self.conn.execute(
            f"SELECT {_RECORD_COLS} FROM names WHERE {' AND '.join(clauses)} ORDER BY name LIMIT ?", args
        ).fetchall()
        return [_row_record(r) for r in rows]

    # StateView (for state.connect_block, read inside the writer's transaction)
    def current_record(self, name: bytes) -> NameRecord | None:
        return self.fetch_name(name)

    def name_new_at(self, outpoint: st.Outpoint) -> st.NameNewEntry | None:
        row = self.conn.execute(
            "SELECT commitment, height FROM name_news WHERE txid = ? AND vout = ?", (outpoint.txid, outpoint.vout)
        ).fetchone()
        if row is None:
            return None
        return st.NameNewEntry(commitment=bytes(row[0]), txid=outpoint.txid, vout=outpoint.vout, height=int(row[1]))


# --- writing ---------------------------------------------------------------------------


class _PendingWrites:
    """Name rows a batch has changed but not yet written, as a ``StateView`` over the store.

    Connects within one batch read each other's changes from here; ``flush`` writes the
    final rows with one statement per table (deletes before inserts).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ops_added: list[NameRecord] = []
        self.ops_removed: list[st.OpKey] = []
        self.names: dict[bytes, NameRecord | None] = {}
        self.news: dict[st.Outpoint, st.NameNewEntry | None] = {}

    def current_record(self, name: bytes) -> NameRecord | None:
        if name in self.names:
            return self.names[name]
        return self.store.current_record(name)

    def name_new_at(self, outpoint: st.Outpoint) -> st.NameNewEntry | None:
        if outpoint in self.news:
            return self.news[outpoint]
        return self.store.name_new_at(outpoint)

    def add(self, delta: st.NameDelta) -> None:
        self.ops_removed.extend(delta.ops_removed)
        self.ops_added.extend(delta.ops_added)
        self.names.update(delta.current)
        for entry in delta.news_removed:
            self.news[entry.outpoint] = None
        for entry in delta.news_added:
            self.news[entry.outpoint] = entry

    def flush(self) -> None:
        c = self.store.conn
        if self.ops_removed:
            c.executemany(
                "DELETE FROM name_ops WHERE name = ? AND height = ? AND tx_index = ?",
                [(k.name, k.height, k.tx_index) for k in self.ops_removed],
            )
        if self.ops_added:
            c.executemany(
                f"INSERT INTO name_ops ({_RECORD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [_record_row(r) for r in self.ops_added],
            )
        gone = [(name,) for name, rec in self.names.items() if rec is None]
        if gone:
            c.executemany("DELETE FROM names WHERE name = ?", gone)
        now = [_record_row(rec) for rec in self.names.values() if rec is not None]
        if now:
            c.executemany(f"INSERT OR REPLACE INTO names ({_RECORD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", now)
        spent = [(p.txid, p.vout) for p, e in self.news.items() if e is None]
        if spent:
            c.executemany("DELETE FROM name_news WHERE txid = ? AND vout = ?", spent)
        added = [(e.txid, e.vout, e.commitment, e.height) for e in self.news.values() if e is not None]
        if added:
            c.executemany("INSERT OR REPLACE INTO name_news (txid, vout, commitment, height) VALUES (?,?,?,?)", added)
        self.ops_added, self.ops_removed, self.names, self.news = [], [], {}, {}


class Store(NameIndexReader):
    """The single writer. Use ``open_store``."""

    def fetch_undo(self, height: int) -> st.Undo:
        """The undo record of the indexed block at ``height``.

        Raises:
            ChainError: ``chain.no-undo`` when missing, ``chain.bad-undo`` when unreadable.
        """
        row = self.conn.execute("SELECT undo FROM blocks WHERE height = ?", (height,)).fetchone()
        if row is None or row[0] is None:
            raise ChainError(ErrorCode.CHAIN_NO_UNDO, f"no undo data for height {height}", height=height)
        try:
            return st.decode_undo(bytes(row[0]))
        except ParseError as exc:
            raise ChainError(ErrorCode.CHAIN_BAD_UNDO, f"undo data at {height} is unreadable", height=height) from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(ErrorCode.STORE_IO, f"cannot start a write transaction: {exc}") from exc
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(ErrorCode.STORE_IO, f"commit failed: {exc}") from exc

    def _write_delta(self, delta: st.NameDelta) -> None:
        pending = _PendingWrites(self)
        pending.add(delta)
        pending.flush()

    def apply_batch(
        self,
        connected: Sequence[tuple[Block | st.BlockSummary, int]],
        disconnected: Sequence[BlockHash] = (),
        hooks: Sequence[BatchHook] = (),
    ) -> BatchResult:
        """Disconnect ``disconnected`` (tip-first), then connect ``connected``, in one transaction.

        Args:
            connected: parsed blocks (or their ``state.summarize_block`` summaries) with their
                heights, oldest first; each must extend the tip.
            disconnected: hashes of the blocks to remove, starting with the current tip.
            hooks: called inside the transaction after the name rows are written.

        Returns:
            The batch result (also given to the hooks).

        Raises:
            ChainError: ``chain.disconnected`` when a block does not extend the tip or a
                disconnected hash is not the tip; ``chain.no-undo``/``chain.bad-undo``;
                ``chain.bad-name-op`` from the state core. Nothing is written then.
            StoreError: ``store.io``.
        """
        deltas: list[st.NameDelta] = []
        with self._transaction():
            tip = self.fetch_tip()
            for block_hash in disconnected:
                if tip is None or tip[1] != block_hash:
                    raise ChainError(
                        ErrorCode.CHAIN_DISCONNECTED,
                        "block to disconnect is not the indexed tip",
                        expected=None if tip is None else hash_to_hex(tip[1]),
                        got=hash_to_hex(block_hash),
                    )
                height = tip[0]
                delta = st.disconnect_block(self, block_hash, self.fetch_undo(height))
                self._write_delta(delta)
                self.conn.execute("DELETE FROM blocks WHERE height = ?", (height,))
                deltas.append(delta)
                tip = self.fetch_tip()
            block_rows: list[tuple[int, bytes, bytes, int, bytes, bytes]] = []
            summaries: list[tuple[int, st.BlockSummary]] = []
            # connects read their state through the batch's pending writes, written at once
            pending = _PendingWrites(self)
            for item, height in connected:
                block = item if isinstance(item, st.BlockSummary) else st.summarize_block(item, self.network)
                summaries.append((height, block))
                prev = block.prev_hash
                expected_height = 0 if tip is None else tip[0] + 1
                if height != expected_height or (tip is not None and prev != tip[1]):
                    raise ChainError(
                        ErrorCode.CHAIN_DISCONNECTED,
                        f"block at {height} does not extend the indexed tip",
                        height=height,
                        expected=None if tip is None else hash_to_hex(tip[1]),
                        got=hash_to_hex(prev),
                    )
                delta, undo = st.connect_summary(pending, block, height, self.network)
                if block.ops:
                    pending.add(delta)
                block_hash = delta.block_hash
                root = st.compute_state_root(st.GENESIS_STATE_ROOT if tip is None else tip[2], delta)
                block_rows.append((height, block_hash, prev, block.time_s, root, st.encode_undo(undo)))
                deltas.append(delta)
                tip = (height, block_hash, root)
            pending.flush()
            # chain rows are only read back after the loop: write them in one go
            self.conn.executemany(
                "INSERT INTO blocks (height, hash, prev, time_s, state_root, undo) VALUES (?,?,?,?,?,?)", block_rows
            )
            result = BatchResult(
                deltas=tuple(deltas),
                tip_height=-1 if tip is None else tip[0],
                tip_hash=None if tip is None else tip[1],
                state_root=st.GENESIS_STATE_ROOT if tip is None else tip[2],
                network=self.network,
                blocks=tuple(summaries),
            )
            for hook in hooks:
                hook(self.conn, result)
        return result

    def save_node_status(
        self, *, node_height: int | None, node_headers: int | None, node_ibd: bool | None, checked_at_s: int
    ) -> None:
        """Record what the indexer last saw of the node (own small transaction)."""
        with self._transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO node_status (id, node_height, node_headers, node_ibd, checked_at_s) "
                "VALUES (1, ?, ?, ?, ?)",
                (node_height, node_headers, None if node_ibd is None else int(node_ibd), checked_at_s),
            )

    def run_idle_hooks(self, hooks: Sequence[BatchHook]) -> None:
        """Give hooks with an ``idle(conn, tip_height, tip_hash)`` method a write transaction
        while no block arrives (e.g. the log signs a fresh checkpoint every N minutes even when
        nothing changed, so a frozen log is visible). One transaction per call."""
        idle = [h.idle for h in hooks if callable(getattr(h, "idle", None))]  # type: ignore[attr-defined]
        if not idle:
            return
        tip = self.fetch_tip()
        height, block_hash = (-1, None) if tip is None else (tip[0], tip[1])
        with self._transaction():
            for run in idle:
                run(self.conn, height, block_hash)


# --- opening ---------------------------------------------------------------------------


def _connect(path: str | Path, *, read_only: bool) -> sqlite3.Connection:
    try:
        if read_only:
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
        else:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot open {path}: {exc}") from exc
    return conn


def _check_network_and_schema(conn: sqlite3.Connection, network: str | None) -> tuple[str, int]:
    try:
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not has_meta:
            return "", 0
        row = conn.execute("SELECT value FROM meta WHERE key = 'network'").fetchone()
        ver = conn.execute("SELECT version FROM schema_versions WHERE component = ?", (COMPONENT,)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(ErrorCode.STORE_CORRUPT, f"not a Waypost index: {exc}") from exc
    stored_net = "" if row is None else str(row[0])
    version = 0 if ver is None else int(ver[0])
    if network is not None and stored_net and stored_net != network:
        raise StoreError(
            ErrorCode.STORE_NETWORK_MISMATCH,
            f"the database indexes {stored_net}, not {network}",
            expected=network,
            got=stored_net,
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            ErrorCode.STORE_NEWER_SCHEMA,
            f"the database schema is version {version}, this code knows up to {SCHEMA_VERSION}: upgrade Waypost",
            expected=SCHEMA_VERSION,
            got=version,
        )
    return stored_net, version


def open_store(path: str | Path, network: str, *, create: bool = True) -> Store:
    """Open (and create or migrate) the index database for writing.

    WAL journal with ``synchronous=NORMAL``: a committed batch survives a process kill
    (the WAL is written before COMMIT returns); a power loss may drop the last batches
    but never leaves a torn one, and the follower simply fetches them again.

    Args:
        path: the SQLite file.
        network: "mainnet" | "testnet" | "regtest".
        create: create the file when missing (else ``store.io``).

    Returns:
        The store (the only writer).

    Raises:
        StoreError: ``store.network-mismatch``, ``store.newer-schema``, ``store.corrupt``, ``store.io``.
    """
    if not create and not Path(path).exists():
        raise StoreError(ErrorCode.STORE_IO, f"no index database at {path}")
    conn = _connect(path, read_only=False)
    try:
        _, version = _check_network_and_schema(conn, network)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        # fewer, larger checkpoints (each syncs the WAL and the database): half the commit cost
        # while catching up; the WAL stays below ~32 MB
        conn.execute("PRAGMA wal_autocheckpoint = 8192")
        # the writer's page cache: B-tree pages of names and history stay hot across batches
        conn.execute("PRAGMA cache_size = -65536")
        if version < SCHEMA_VERSION:
            db = sqlite_utils.Database(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                db.table("schema_versions").create({"component": str, "version": int}, pk="component", if_not_exists=True)
                for migrate in MIGRATIONS[version:]:
                    migrate(db)
                conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('network', ?)", (network,))
                conn.execute(
                    "INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?, ?)",
                    (COMPONENT, SCHEMA_VERSION),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            _check_network_and_schema(conn, network)
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(ErrorCode.STORE_IO, f"cannot prepare {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return Store(conn, network)


def open_reader(path: str | Path) -> NameIndexReader:
    """Open the index read-only (many readers beside one writer; the API uses this).

    Raises:
        StoreError: ``store.io`` when missing, ``store.corrupt``, ``store.newer-schema``.
    """
    if not Path(path).exists():
        raise StoreError(ErrorCode.STORE_IO, f"no index database at {path}")
    conn = _connect(path, read_only=True)
    try:
        network, version = _check_network_and_schema(conn, None)
    except BaseException:
        conn.close()
        raise
    if version == 0 or not network:
        conn.close()
        # an empty file: the indexer has not created its schema yet
        raise StoreError(ErrorCode.STORE_IO, f"{path} is not initialised yet (start waypost index first)")
    return NameIndexReader(conn, network)


def state_digest(reader: NameIndexReader) -> bytes:
    """SHA-256 over the whole index content in key order (full recomputation).

    Covers every current record (names, by name bytes), the history, the pending
    name_new entries and the indexed chain (height, hash, state root): two databases
    with equal digests hold the same index.
    """
    h = hashlib.sha256()
    conn = reader.conn
    for row in conn.execute(f"SELECT {_RECORD_COLS} FROM names ORDER BY name"):
        h.update(b"C" + st.encode_record(_row_record(row)))
    for row in conn.execute(f"SELECT {_RECORD_COLS} FROM name_ops ORDER BY name, height, tx_index"):
        h.update(b"H" + st.encode_record(_row_record(row)))
    for txid, vout, commitment, height in conn.execute(
        "SELECT txid, vout, commitment, height FROM name_news ORDER BY txid, vout"
    ):
        h.update(b"N" + bytes(txid) + struct.pack("<II", vout, height) + bytes(commitment))
    for height, block_hash, root in conn.execute("SELECT height, hash, state_root FROM blocks ORDER BY height"):
        h.update(b"B" + struct.pack("<I", height) + bytes(block_hash) + bytes(root))
    return h.digest()
