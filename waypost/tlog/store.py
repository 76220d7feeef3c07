"""SQLite storage of the transparency log, state map and checkpoints (shell layer).

Writes happen inside the caller's open transaction (the indexer commits names, undo rows,
log leaves and outbox in one transaction per batch); nothing here commits on its own,
except ``ensure_schema`` when no transaction is open.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, NotFoundError, StoreError, ValidationError
from waypost.registry.model import BlockHash
from waypost.tlog import note as note_mod
from waypost.tlog import smt
from waypost.tlog.leaf import LogLeaf
from waypost.tlog.tiles import TILE_WIDTH, encode_entry_bundle

__all__ = [
    "COMPONENT",
    "SCHEMA_VERSION",
    "write_transaction",
    "LogState",
    "ensure_schema",
    "append_leaves",
    "flush_map",
    "address_history",
    "sign_checkpoint_if_due",
    "add_cosignatures",
    "accept_cosignatures",
    "load_or_create_signer",
    "LogReader",
]

COMPONENT = "tlog"
SCHEMA_VERSION = 1

# --- schema (component "tlog", version 1) -----------------------------------------------
#
# schema_versions(component TEXT PK, version INTEGER)     shared with the indexer store
# log_state(id INTEGER PK = 1, size INTEGER, root BLOB[32], map_root BLOB[32])
#        the current tree size, RFC 9162 root and the (flushed) state-map root (one row)
# log_leaves(idx INTEGER PK, leaf BLOB, leaf_hash BLOB[32], address_key BLOB[32], prev_idx INTEGER NULL)
#        leaf = LogLeaf.encode() (canonical CBOR); prev_idx = the same address's previous leaf
#        (an address's history is a chain of PK lookups: no random-key index to maintain)
# log_nodes(level INTEGER, idx INTEGER, hash BLOB[32]) PK (level, idx), WITHOUT ROWID
#        every complete subtree of 2**level leaves [idx*2**level, (idx+1)*2**level), level >= 1
#        (level 0 is log_leaves.leaf_hash); tiles and proofs read these, O(log n) reads
# map_nodes(path BLOB[32], depth INTEGER, hash BLOB[32], leaf_key BLOB[32] NULL, value_hash BLOB[32] NULL,
#           left_hash BLOB[32] NULL, right_hash BLOB[32] NULL)   leaf: key+value; inner: children
#        PK (path, depth), WITHOUT ROWID: non-empty state-map positions (smt.py);
#        path = the first ``depth`` key bits, left-aligned in 32 bytes (zero padded), so the
#        deep nodes of one key's path share a page: an update dirties ~2 pages, not ~depth
# map_leaves(address_key BLOB[32] PK, leaf_idx INTEGER, leaf_hash BLOB[32]) WITHOUT ROWID
#        the latest leaf of each address (the map's value is smt.map_value_hash of these)
# map_pending(address_key BLOB[32] PK, leaf_idx INTEGER, leaf_hash BLOB[32]) WITHOUT ROWID
#        map updates queued by append_leaves(defer_map=True), applied by flush_map
# checkpoints(size INTEGER, created_s INTEGER, note TEXT) PK (size, created_s)
#        every signed checkpoint note (with cosignatures appended as they arrive)

_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS log_state (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL,"
    " root BLOB NOT NULL, map_root BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS log_leaves (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL,"
    " leaf_hash BLOB NOT NULL, address_key BLOB NOT NULL, prev_idx INTEGER)",
    "CREATE TABLE IF NOT EXISTS log_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (level, idx)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS map_nodes (path BLOB NOT NULL, depth INTEGER NOT NULL, hash BLOB NOT NULL,"
    " leaf_key BLOB, value_hash BLOB, left_hash BLOB, right_hash BLOB, PRIMARY KEY (path, depth)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS map_leaves (address_key BLOB PRIMARY KEY, leaf_idx INTEGER NOT NULL,"
    " leaf_hash BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS map_pending (address_key BLOB PRIMARY KEY, leaf_idx INTEGER NOT NULL,"
    " leaf_hash BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER NOT NULL, created_s INTEGER NOT NULL, note TEXT NOT NULL,"
    " PRIMARY KEY (size, created_s))",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogState:
    """Size and roots of the log as stored."""

    size: int
    root: bytes
    map_root: bytes


def _sql_error(exc: sqlite3.Error) -> StoreError:
    code = ErrorCode.STORE_CORRUPT if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc) else ErrorCode.STORE_IO
    return StoreError(code, f"log store: {exc}")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the body in the caller's open transaction, or in an own ``BEGIN IMMEDIATE`` one
    (committed on success, rolled back on any error). SQLite errors become ``StoreError``.
    The connection must be in autocommit mode (``isolation_level=None``) for an own transaction."""
    own_tx = not conn.in_transaction
    try:
        if own_tx:
            conn.execute("BEGIN IMMEDIATE")
        yield
        if own_tx:
            conn.execute("COMMIT")
    except BaseException as exc:
        if own_tx and conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise _sql_error(exc) from exc
        raise


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or check the log tables (idempotent).

    Raises:
        StoreError: ``STORE_NEWER_SCHEMA`` when the database was written by newer code.
    """
    with write_transaction(conn):
        conn.execute(_DDL[0])
        row = conn.execute("SELECT version FROM schema_versions WHERE component = ?", (COMPONENT,)).fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(ErrorCode.STORE_NEWER_SCHEMA, f"log schema {row[0]} is newer than {SCHEMA_VERSION}", got=int(row[0]))
        for stmt in _DDL[1:]:
            conn.execute(stmt)
        conn.execute(
            "INSERT OR IGNORE INTO log_state (id, size, root, map_root) VALUES (1, 0, ?, ?)", (merkle.EMPTY_ROOT, smt.MAP_EMPTY)
        )
        conn.execute("INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?, ?)", (COMPONENT, SCHEMA_VERSION))


_IN_CHUNK = 500  # bound on SQL variables per bulk read


def _path_bytes(depth: int, path: int) -> bytes:
    return (path << (smt.KEY_BITS - depth)).to_bytes(32, "big")


class _HashReader:
    """``merkle.HashReader`` over log_leaves/log_nodes (with a small per-use cache)."""

    __slots__ = ("_conn", "_cache")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._cache: dict[tuple[int, int], bytes] = {}

    def get_node(self, level: int, index: int) -> bytes:
        h = self._cache.get((level, index))
        if h is not None:
            return h
        if level == 0:
            row = self._conn.execute("SELECT leaf_hash FROM log_leaves WHERE idx = ?", (index,)).fetchone()
        else:
            row = self._conn.execute("SELECT hash FROM log_nodes WHERE level = ? AND idx = ?", (level, index)).fetchone()
        if row is None:
            raise StoreError(ErrorCode.STORE_CORRUPT, f"missing log node level {level} index {index}", level=level, index=index)
        h = bytes(row[0])
        self._cache[(level, index)] = h
        return h


class _MapReader:
    """``smt.MapNodeReader`` over map_nodes, caching every read (hits and misses)."""

    __slots__ = ("_conn", "_cache")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._cache: dict[tuple[int, int], smt.MapNode | None] = {}

    def get_map_node(self, depth: int, path: int) -> smt.MapNode | None:
        key = (depth, path)
        if key in self._cache:
            return self._cache[key]
        row = self._conn.execute(
            "SELECT hash, leaf_key, value_hash, left_hash, right_hash FROM map_nodes WHERE path = ? AND depth = ?",
            (_path_bytes(depth, path), depth),
        ).fetchone()
        node = None if row is None else _map_node(row)
        self._cache[key] = node
        return node

    def get_map_nodes(self, depth: int, paths: Sequence[int]) -> dict[int, smt.MapNode]:
        out: dict[int, smt.MapNode] = {}
        by_bytes = {_path_bytes(depth, p): p for p in paths}
        keys = list(by_bytes)
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = keys[i : i + _IN_CHUNK]
            rows = self._conn.execute(
                "SELECT path, hash, leaf_key, value_hash, left_hash, right_hash FROM map_nodes WHERE depth = ? AND path IN (%s)"
                % ",".join("?" * len(chunk)),
                (depth, *chunk),
            ).fetchall()
            for row in rows:
                out[by_bytes[bytes(row[0])]] = _map_node(row[1:])
        return out


def _opt(v: bytes | None) -> bytes | None:
    return None if v is None else bytes(v)


def _map_node(row: Sequence[bytes | None]) -> smt.MapNode:
    h, k, v, left, right = row
    return smt.MapNode(hash=bytes(h or b""), key=_opt(k), value_hash=_opt(v), left=_opt(left), right=_opt(right))


def _state(conn: sqlite3.Connection) -> LogState:
    row = conn.execute("SELECT size, root, map_root FROM log_state WHERE id = 1").fetchone()
    if row is None:
        raise StoreError(ErrorCode.STORE_CORRUPT, "log tables not initialised (call ensure_schema)")
    return LogState(size=int(row[0]), root=bytes(row[1]), map_root=bytes(row[2]))


def append_leaves(conn: sqlite3.Connection, leaves: Sequence[LogLeaf], *, defer_map: bool = False) -> range:
    """Append leaves, their complete-subtree hashes and state-map updates.

    Runs inside the caller's open transaction and does not commit. The state map points
    each leaf's address at its newest leaf. Call ``sign_checkpoint_if_due`` in the same
    transaction so the latest checkpoint always matches the stored map.

    Args:
        conn: a connection with an open write transaction.
        leaves: the new leaves, in log order.
        defer_map: queue the map updates (``map_pending``) instead of applying them; the
            next ``flush_map`` (or ``sign_checkpoint_if_due``) applies them in one batch.
            Much faster while catching up: the top of the map is rewritten once, not per batch.

    Returns:
        The indices given to the leaves.

    Raises:
        StoreError: ``STORE_IO`` (no open transaction, SQLite failure), ``STORE_CORRUPT``.
    """
    if not conn.in_transaction:
        raise StoreError(ErrorCode.STORE_IO, "append_leaves needs the caller's open transaction")
    try:
        state = _state(conn)
        cr = merkle.CompactRange.from_reader(_HashReader(conn), state.size)
        leaf_rows: list[tuple[int, bytes, bytes, bytes, int | None]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        keys = [bytes(leaf.address_key) for leaf in leaves]
        prev = _latest_indices(conn, keys)
        latest: dict[bytes, tuple[int, bytes]] = {}
        for offset, (leaf, key) in enumerate(zip(leaves, keys)):
            data = leaf.encode()
            lh = merkle.leaf_hash(data)
            idx = state.size + offset
            cr, created = cr.append(lh)
            node_rows.extend(created[1:])
            leaf_rows.append((idx, data, lh, key, prev.get(key)))
            prev[key] = idx
            latest[key] = (idx, lh)
        if not leaf_rows:
            return range(state.size, state.size)
        conn.executemany("INSERT INTO log_leaves (idx, leaf, leaf_hash, address_key, prev_idx) VALUES (?, ?, ?, ?, ?)", leaf_rows)
        conn.executemany("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)", node_rows)
        conn.executemany(
            "INSERT OR REPLACE INTO map_pending (address_key, leaf_idx, leaf_hash) VALUES (?, ?, ?)",
            [(k, i, h) for k, (i, h) in latest.items()],
        )
        conn.execute("UPDATE log_state SET size = ?, root = ? WHERE id = 1", (cr.size, cr.root()))
        if not defer_map:
            flush_map(conn)
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return range(state.size, cr.size)


def flush_map(conn: sqlite3.Connection) -> bytes:
    """Apply the queued map updates (``map_pending``) in one batch; returns the map root.

    Runs inside the caller's open transaction.

    Raises:
        StoreError: ``STORE_IO`` (no open transaction, SQLite failure).
    """
    if not conn.in_transaction:
        raise StoreError(ErrorCode.STORE_IO, "flush_map needs the caller's open transaction")
    try:
        rows = conn.execute("SELECT address_key, leaf_idx, leaf_hash FROM map_pending").fetchall()
        if not rows:
            return _state(conn).map_root
        delta = smt.apply_map_updates(_MapReader(conn), ((bytes(k), smt.map_value_hash(int(i), bytes(h))) for k, i, h in rows))
        conn.executemany(
            "INSERT OR REPLACE INTO map_nodes (path, depth, hash, leaf_key, value_hash, left_hash, right_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(_path_bytes(d, p), d, n.hash, n.key, n.value_hash, n.left, n.right) for d, p, n in delta.writes],
        )
        conn.execute("INSERT OR REPLACE INTO map_leaves (address_key, leaf_idx, leaf_hash) SELECT address_key, leaf_idx, leaf_hash FROM map_pending")
        conn.execute("DELETE FROM map_pending")
        conn.execute("UPDATE log_state SET map_root = ? WHERE id = 1", (delta.root,))
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return delta.root


def _latest_indices(conn: sqlite3.Connection, keys: Sequence[bytes]) -> dict[bytes, int]:
    """The latest leaf index of each address key that has one (queued or flushed)."""
    out: dict[bytes, int] = {}
    unique = list(dict.fromkeys(keys))
    for table in ("map_pending", "map_leaves"):
        missing = [k for k in unique if k not in out]
        for i in range(0, len(missing), _IN_CHUNK):
            chunk = missing[i : i + _IN_CHUNK]
            rows = conn.execute(
                f"SELECT address_key, leaf_idx FROM {table} WHERE address_key IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update((bytes(k), int(v)) for k, v in rows)
    return out


# Leaves are immutable values: the batch hook re-reads an address's earlier leaves on every
# batch that touches it, so decoding (canonical CBOR) is memoised by the leaf bytes.
_parse_leaf = functools.lru_cache(maxsize=16384)(LogLeaf.parse)


def address_history(conn: sqlite3.Connection, address_key: bytes) -> list[tuple[int, LogLeaf]]:
    """Every leaf of an address, oldest first (used to append a ``reorg-restored`` leaf)."""
    out: list[tuple[int, LogLeaf]] = []
    try:
        idx: int | None = _latest_indices(conn, [address_key]).get(address_key)
        while idx is not None:
            row = conn.execute("SELECT leaf, prev_idx FROM log_leaves WHERE idx = ?", (idx,)).fetchone()
            if row is None:
                raise StoreError(ErrorCode.STORE_CORRUPT, f"address history points at missing leaf {idx}", index=idx)
            out.append((idx, _parse_leaf(bytes(row[0]))))
            idx = None if row[1] is None else int(row[1])
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    out.reverse()
    return out


def _latest_checkpoint_row(conn: sqlite3.Connection) -> tuple[int, int, str] | None:
    row = conn.execute("SELECT size, created_s, note FROM checkpoints ORDER BY size DESC, created_s DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), int(row[1]), str(row[2]))


def sign_checkpoint_if_due(
    conn: sqlite3.Connection,
    signer: note_mod.Signer,
    origin: str,
    now_s: int,
    every_s: int,
    namecoin_tip: tuple[int, BlockHash] | None = None,
) -> note_mod.Checkpoint:
    """Sign a new checkpoint when the tree grew or ``every_s`` passed since the last one.

    Signing at least every ``every_s`` even when nothing changed makes a frozen log visible.
    Queued map updates are flushed first, so the checkpoint's map root covers every leaf.
    Runs in the caller's transaction when one is open, else in its own.

    Returns:
        The latest checkpoint (new or existing).
    """
    with write_transaction(conn):
        flush_map(conn)
        state = _state(conn)
        last = _latest_checkpoint_row(conn)
        if last is not None and last[0] == state.size and now_s - last[1] < every_s:
            cp = note_mod.parse_checkpoint(note_mod.split_note(last[2])[0])
        else:
            height, block_hash = namecoin_tip if namecoin_tip is not None else (None, None)
            cp = note_mod.Checkpoint(
                origin=origin,
                size=state.size,
                root_hash=state.root,
                map_root=state.map_root,
                namecoin_height=height,
                namecoin_block_hash=block_hash,
                time_s=now_s,
            )
            signed = note_mod.sign_note(note_mod.encode_checkpoint(cp), signer)
            conn.execute("INSERT OR REPLACE INTO checkpoints (size, created_s, note) VALUES (?, ?, ?)", (cp.size, now_s, signed))
    return cp


def add_cosignatures(conn: sqlite3.Connection, note: str, lines: str) -> str:
    """Append witness cosignature lines to the stored checkpoint ``note``; returns the new note.

    The caller verifies the lines (``note.verify_cosignatures``) before storing them.
    """
    new = note_mod.add_signature_lines(note, lines)
    try:
        cur = conn.execute("UPDATE checkpoints SET note = ? WHERE note = ?", (new, note))
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    if cur.rowcount == 0:
        raise NotFoundError(ErrorCode.NOT_FOUND, "no such checkpoint note")
    return new


def accept_cosignatures(conn: sqlite3.Connection, lines: str, witness_vkeys: Sequence[note_mod.Verifier]) -> str:
    """Verify witness cosignature lines against the latest checkpoint and store them.

    For ``http.create_blueprint(accept_cosignature=...)``: every line must be a valid
    cosignature from one of ``witness_vkeys``; lines already present are not repeated.

    Returns:
        The updated checkpoint note.

    Raises:
        NotFoundError: no checkpoint yet. VerificationError: ``NOTE_BAD_SIGNATURE`` /
        ``WITNESS_QUORUM`` (a line from an unknown witness). ParseError: ``NOTE_BAD``.
    """
    latest = _latest_checkpoint_row(conn)
    if latest is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, "no checkpoint has been signed yet")
    current = latest[2]
    have = set(current.splitlines())
    fresh = [line for line in lines.splitlines() if line and line not in have]
    if not fresh:
        return current
    text, _ = note_mod.split_note(current)
    for line in fresh:
        # each line alone must be a valid cosignature by a configured witness
        note_mod.verify_cosignatures(text + "\n" + line + "\n", witness_vkeys, 1)
    return add_cosignatures(conn, current, "\n".join(fresh) + "\n")


def load_or_create_signer(path: str | Path, origin: str, *, alg: int = note_mod.ALG_ED25519) -> note_mod.Signer:
    """Load the log (or witness) signing key at ``path``, creating it (mode 0600) if missing.

    Also writes ``<path>.vkey`` with the public verifier key.

    Raises:
        StoreError: ``STORE_IO`` on file errors; ParseError ``NOTE_BAD`` for a bad key file.
        ValidationError: ``NOTE_BAD`` when the key's name is not ``origin``.
    """
    p = Path(path)
    try:
        if p.exists():
            signer = note_mod.parse_signer_key(p.read_text(encoding="ascii"))
            if signer.name != origin:
                raise ValidationError(ErrorCode.NOTE_BAD, f"key file is for {signer.name!r}, not {origin!r}")
        else:
            signer = note_mod.signer_from_seed(origin, os.urandom(32), alg)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(note_mod.encode_signer_key(signer) + "\n")
        vkey_path = p.with_name(p.name + ".vkey")
        vkey = note_mod.encode_vkey(signer.verifier) + "\n"
        if not vkey_path.exists() or vkey_path.read_text(encoding="ascii") != vkey:
            vkey_path.write_text(vkey, encoding="ascii")
    except (OSError, UnicodeError) as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot use key file {p}: {exc}") from exc
    return signer


class LogReader:
    """Read-only access for the API: sizes, proofs, leaves, map proofs, checkpoints, tiles.

    Use ``snapshot()`` around calls that must see one consistent state.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @contextmanager
    def snapshot(self) -> Iterator[LogReader]:
        """A read transaction: every call inside sees the same committed state."""
        own = not self._conn.in_transaction
        if own:
            self._conn.execute("BEGIN")
        try:
            yield self
        finally:
            if own:
                self._conn.execute("COMMIT")

    def state(self) -> LogState:
        """Current size and roots."""
        try:
            return _state(self._conn)
        except sqlite3.Error as exc:
            raise _sql_error(exc) from exc

    def size(self) -> int:
        """Current tree size."""
        return self.state().size

    def root(self) -> bytes:
        """Current RFC 9162 root."""
        return self.state().root

    def _check_size(self, size: int) -> None:
        if size > self.size():
            raise NotFoundError(ErrorCode.NOT_FOUND, f"tree size {size} is beyond the log", size=size)

    def leaf(self, idx: int) -> bytes:
        """Leaf bytes at ``idx``.

        Raises:
            NotFoundError: ``NOT_FOUND``.
        """
        row = self._conn.execute("SELECT leaf FROM log_leaves WHERE idx = ?", (idx,)).fetchone()
        if row is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, f"no leaf {idx}", index=idx)
        return bytes(row[0])

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes for ``[start, end)`` (clipped to the log)."""
        rows = self._conn.execute("SELECT leaf FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)).fetchall()
        return [bytes(r[0]) for r in rows]

    def inclusion_proof(self, idx: int, size: int) -> tuple[bytes, ...]:
        """Inclusion proof of leaf ``idx`` in the tree of ``size``.

        Raises:
            NotFoundError / VerificationError(``MERKLE_BAD_SIZE``).
        """
        self._check_size(size)
        return merkle.inclusion_proof_from(_HashReader(self._conn), idx, size)

    def consistency_proof(self, size1: int, size2: int) -> tuple[bytes, ...]:
        """Consistency proof between tree sizes ``size1`` and ``size2``."""
        self._check_size(size2)
        return merkle.consistency_proof_from(_HashReader(self._conn), size1, size2)

    def root_at(self, size: int) -> bytes:
        """Root of the tree of ``size`` (any size up to the current one)."""
        self._check_size(size)
        return merkle.root_from(_HashReader(self._conn), size)

    def map_root(self) -> bytes:
        """Current state-map root."""
        return self.state().map_root

    def map_proof(self, address_key: bytes) -> smt.MapProof:
        """Membership/absence proof for ``address_key`` against the current map root."""
        return smt.map_proof(_MapReader(self._conn), address_key)

    def latest_leaf(self, address_key: bytes) -> tuple[int, bytes] | None:
        """``(leaf index, leaf hash)`` of an address's latest leaf, or None."""
        row = self._conn.execute("SELECT leaf_idx, leaf_hash FROM map_leaves WHERE address_key = ?", (address_key,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def latest_checkpoint(self) -> str | None:
        """The newest signed checkpoint note (with any cosignatures), or None."""
        row = _latest_checkpoint_row(self._conn)
        return None if row is None else row[2]

    def tile(self, level: int, index: int, width: int) -> bytes:
        """c2sp.org/tlog-tiles hash tile: ``width`` hashes of tree level ``8 * level``.

        Raises:
            NotFoundError: the tile (at that width) does not exist yet.
        """
        if not 1 <= width <= TILE_WIDTH or level < 0 or index < 0:
            raise NotFoundError(ErrorCode.NOT_FOUND, "no such tile")
        tree_level = 8 * level
        first = index * TILE_WIDTH
        if (first + width) << tree_level > self.size():
            raise NotFoundError(ErrorCode.NOT_FOUND, "tile not available at this width", level=level, index=index, width=width)
        if tree_level == 0:
            rows = self._conn.execute(
                "SELECT leaf_hash FROM log_leaves WHERE idx >= ? AND idx < ? ORDER BY idx", (first, first + width)
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT hash FROM log_nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx", (tree_level, first, first + width)
            ).fetchall()
        if len(rows) != width:
            raise StoreError(ErrorCode.STORE_CORRUPT, "missing tile hashes", level=level, index=index)
        return b"".join(bytes(r[0]) for r in rows)

    def entries_tile(self, index: int, width: int) -> bytes:
        """c2sp.org/tlog-tiles entry bundle ``index`` with ``width`` entries."""
        if not 1 <= width <= TILE_WIDTH or index < 0:
            raise NotFoundError(ErrorCode.NOT_FOUND, "no such entry bundle")
        first = index * TILE_WIDTH
        if first + width > self.size():
            raise NotFoundError(ErrorCode.NOT_FOUND, "entry bundle not available at this width", index=index, width=width)
        return encode_entry_bundle(self.leaves(first, first + width))
