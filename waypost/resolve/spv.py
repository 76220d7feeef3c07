"""SQLite storage of SPV data (shell layer): block headers (+AuxPoW) by height, name txs with merkle branches.

Writes run inside the indexer's batch transaction (``hook.py``); reads serve bundles and
``/v1/headers``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from waypost.indexer import wire
from waypost.indexer.state import BlockSummary, summarize_block
from waypost.registry.errors import ErrorCode, StoreError
from waypost.registry.model import BlockHash, Txid

__all__ = [
    "ensure_schema",
    "store_blocks",
    "drop_from",
    "SpvRow",
    "fetch_tx",
    "fetch_headers",
    "fetch_header_hash",
]

# --- schema (component "resolve-spv", version 1) -------------------------------------------
# spv_headers(height INTEGER PK, hash BLOB[32], header BLOB)  full header: 80 bytes (+AuxPoW)
# spv_txs(txid BLOB[32], block_hash BLOB[32], height INTEGER, tx_index INTEGER, tx BLOB,
#         branch BLOB (concatenated 32-byte hashes)) PK (txid, block_hash), WITHOUT ROWID
#         every name_firstupdate/name_update transaction, serialised without witness
_DDL = (
    "CREATE TABLE IF NOT EXISTS spv_headers (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, header BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS spv_txs (txid BLOB NOT NULL, block_hash BLOB NOT NULL, height INTEGER NOT NULL,"
    " tx_index INTEGER NOT NULL, tx BLOB NOT NULL, branch BLOB NOT NULL, PRIMARY KEY (txid, block_hash)) WITHOUT ROWID",
)


def _sql_error(exc: sqlite3.Error) -> StoreError:
    return StoreError(ErrorCode.STORE_IO, f"spv store: {exc}")


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the SPV tables (idempotent; in the caller's transaction when one is open)."""
    try:
        for stmt in _DDL:
            conn.execute(stmt)
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def store_blocks(conn: sqlite3.Connection, blocks: Sequence[tuple[int, wire.Block | BlockSummary]]) -> None:
    """Store headers of ``blocks`` and their name transactions with merkle branches.

    Takes parsed blocks or the indexer's ``BlockSummary``s (which carry these rows already).
    """
    header_rows = []
    tx_rows = []
    for height, item in blocks:
        # summarize_block: only NAMECOIN_TX_VERSION txs with a name_firstupdate/name_update output
        s = item if isinstance(item, BlockSummary) else summarize_block(item, "mainnet")
        block_hash = bytes(s.hash)
        header_rows.append((height, block_hash, s.header))
        for ntx in s.name_txs:
            tx_rows.append((bytes(ntx.txid), block_hash, height, ntx.tx_index, ntx.raw, b"".join(ntx.branch)))
    try:
        conn.executemany("INSERT OR REPLACE INTO spv_headers (height, hash, header) VALUES (?, ?, ?)", header_rows)
        conn.executemany(
            "INSERT OR REPLACE INTO spv_txs (txid, block_hash, height, tx_index, tx, branch) VALUES (?, ?, ?, ?, ?, ?)",
            tx_rows,
        )
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def drop_from(conn: sqlite3.Connection, height: int) -> None:
    """Forget headers at and above ``height`` (a reorg disconnected them)."""
    try:
        conn.execute("DELETE FROM spv_headers WHERE height >= ?", (height,))
        conn.execute("DELETE FROM spv_txs WHERE height >= ?", (height,))
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class SpvRow:
    """One stored name transaction with its block header."""

    height: int
    block_hash: BlockHash
    header: bytes
    tx: bytes
    tx_index: int
    branch: tuple[bytes, ...]


def fetch_tx(conn: sqlite3.Connection, txid: Txid, height: int) -> SpvRow | None:
    """The SPV data of the name transaction ``txid`` mined at ``height`` on the current chain."""
    try:
        row = conn.execute(
            "SELECT h.hash, h.header, t.tx, t.tx_index, t.branch FROM spv_txs t JOIN spv_headers h"
            " ON h.height = t.height AND h.hash = t.block_hash WHERE t.txid = ? AND t.height = ?",
            (bytes(txid), height),
        ).fetchone()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    if row is None:
        return None
    br = bytes(row[4])
    return SpvRow(
        height=height,
        block_hash=BlockHash(bytes(row[0])),
        header=bytes(row[1]),
        tx=bytes(row[2]),
        tx_index=int(row[3]),
        branch=tuple(br[i : i + 32] for i in range(0, len(br), 32)),
    )


def fetch_headers(conn: sqlite3.Connection, start: int, count: int) -> list[tuple[int, bytes]]:
    """Stored full headers for heights ``start .. start+count-1`` (gaps are skipped)."""
    try:
        rows = conn.execute(
            "SELECT height, header FROM spv_headers WHERE height >= ? AND height < ? ORDER BY height",
            (start, start + count),
        ).fetchall()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return [(int(h), bytes(b)) for h, b in rows]


def fetch_header_hash(conn: sqlite3.Connection, height: int) -> BlockHash | None:
    """Hash of the stored header at ``height``."""
    try:
        row = conn.execute("SELECT hash FROM spv_headers WHERE height = ?", (height,)).fetchone()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return None if row is None else BlockHash(bytes(row[0]))
