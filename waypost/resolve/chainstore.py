"""SQLite storage of private chains (shell layer): entries, duplicity evidence, the submission writer.

A submission's entries, their log leaves, the map update and a new signed checkpoint commit
in ONE ``BEGIN IMMEDIATE`` transaction on a writer connection (WAL: the indexer may write
between our transactions, never inside one).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from waypost.registry.chain import ChainEntry, DuplicityEvidence, entry_hash, parse_entry
from waypost.registry.errors import ErrorCode, StoreError
from waypost.registry.model import BlockHash
from waypost.resolve import pchain
from waypost.tlog import note as note_mod
from waypost.tlog import store as tstore
from waypost.tlog.leaf import address_key

__all__ = [
    "ensure_schema",
    "fetch_entries",
    "fetch_evidence",
    "SubmitResult",
    "ChainWriter",
    "BUSY_TIMEOUT_S",
]

BUSY_TIMEOUT_S = 10.0  # wait this long for the indexer's write transaction to finish

# --- schema (component "resolve-chains", version 1) --------------------------------------
#
# chain_entries(address_key BLOB[32], seq INTEGER, entry BLOB, entry_hash BLOB[32], leaf_idx INTEGER)
#        PK (address_key, seq) WITHOUT ROWID: the accepted entries of each .key address
#        (entry = canonical CBOR as submitted; leaf_idx = the log leaf stating it)
# chain_evidence(address_key BLOB[32], evidence BLOB, created_s INTEGER) PK (address_key, evidence)
#        DuplicityEvidence.encode() of every fork seen; an address with a row is flagged
_DDL = (
    "CREATE TABLE IF NOT EXISTS chain_entries (address_key BLOB NOT NULL, seq INTEGER NOT NULL, entry BLOB NOT NULL,"
    " entry_hash BLOB NOT NULL, leaf_idx INTEGER NOT NULL, PRIMARY KEY (address_key, seq)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS chain_evidence (address_key BLOB NOT NULL, evidence BLOB NOT NULL,"
    " created_s INTEGER NOT NULL, PRIMARY KEY (address_key, evidence)) WITHOUT ROWID",
)


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the chain tables (idempotent; inside the caller's transaction when one is open)."""
    try:
        for stmt in _DDL:
            conn.execute(stmt)
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"chain store: {exc}") from exc


def _has_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain_entries'").fetchone()
    return row is not None


def fetch_entries(conn: sqlite3.Connection, address: str, *, upto_seq: int | None = None) -> list[bytes]:
    """Stored entry bytes of ``address`` (genesis first), optionally only up to ``upto_seq``."""
    try:
        if not _has_table(conn):
            return []
        rows = conn.execute(
            "SELECT entry FROM chain_entries WHERE address_key = ? AND seq <= ? ORDER BY seq",
            (bytes(address_key(address)), 2**62 if upto_seq is None else upto_seq),
        ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"chain store: {exc}") from exc
    return [bytes(r[0]) for r in rows]


def fetch_evidence(conn: sqlite3.Connection, address: str) -> list[bytes]:
    """Stored duplicity evidence of ``address`` (empty when it is not flagged)."""
    try:
        if not _has_table(conn):
            return []
        rows = conn.execute("SELECT evidence FROM chain_evidence WHERE address_key = ? ORDER BY evidence",
                            (bytes(address_key(address)),)).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"chain store: {exc}") from exc
    return [bytes(r[0]) for r in rows]


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitResult:
    """What a submission did: entries appended (and their first leaf index), or a fork found."""

    address: str
    appended: int
    length: int
    first_leaf_index: int | None
    evidence: DuplicityEvidence | None = None


class ChainWriter:
    """Accepts chain submissions on its own writer connection (one per thread)."""

    def __init__(self, db_path: str | Path, *, signer: note_mod.Signer, clock: Callable[[], float],
                 tip: Callable[[sqlite3.Connection], tuple[int, BlockHash] | None] | None = None) -> None:
        self._db = str(db_path)
        self._signer = signer
        self._clock = clock
        self._tip = tip
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self._db, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            except sqlite3.Error as exc:
                raise StoreError(ErrorCode.STORE_IO, f"chain store: {exc}") from exc
            self._local.conn = conn
        return conn

    def submit(self, address: str, entries: tuple[ChainEntry, ...]) -> SubmitResult:
        """Validate ``entries`` against the stored chain and append the new ones.

        On a fork the evidence is stored, the address flagged (a ``flagged`` leaf re-states
        its latest entry, once) and committed; the result carries the evidence.

        Raises:
            ParseError: ``chains.not-key-address``. ValidationError: ``chains.not-extension``,
            ``chains.too-large``; ``pchain.*``/``key.*`` from validation. StoreError.
        """
        canonical, key = pchain.key_address(address)
        conn = self._conn()
        now_s = int(self._clock())
        with tstore.write_transaction(conn):
            tstore.ensure_schema(conn)
            ensure_schema(conn)
            stored = [parse_entry(b) for b in fetch_entries(conn, canonical)]
            plan = pchain.plan_submission(canonical, key, stored, entries)
            ak = bytes(address_key(canonical))
            prior = tstore.address_history(conn, ak)
            next_seq = (prior[-1][1].seq + 1) if prior else 0
            flagged = bool(fetch_evidence(conn, canonical))
            if plan.evidence is not None:
                conn.execute("INSERT OR IGNORE INTO chain_evidence (address_key, evidence, created_s) VALUES (?, ?, ?)",
                             (ak, plan.evidence.encode(), now_s))
                first: int | None = None
                if not flagged and stored:
                    leaf = pchain.chain_leaf(canonical, stored[-1], seq=next_seq, flagged=True)
                    first = tstore.append_leaves(conn, [leaf]).start
                    self._sign(conn, now_s)
                return SubmitResult(address=canonical, appended=0, length=len(stored), first_leaf_index=first,
                                    evidence=plan.evidence)
            if not plan.new_entries:
                return SubmitResult(address=canonical, appended=0, length=len(stored), first_leaf_index=None)
            leaves = [pchain.chain_leaf(canonical, e, seq=next_seq + i, flagged=flagged)
                      for i, e in enumerate(plan.new_entries)]
            idx = tstore.append_leaves(conn, leaves)
            conn.executemany(
                "INSERT INTO chain_entries (address_key, seq, entry, entry_hash, leaf_idx) VALUES (?, ?, ?, ?, ?)",
                [(ak, e.seq, e.encode(), bytes(entry_hash(e)), i) for e, i in zip(plan.new_entries, idx, strict=True)],
            )
            self._sign(conn, now_s)
        return SubmitResult(address=canonical, appended=len(plan.new_entries), length=len(stored) + len(plan.new_entries),
                            first_leaf_index=idx.start)

    def _sign(self, conn: sqlite3.Connection, now_s: int) -> None:
        # the checkpoint must cover the new leaves at once: the map proof is read from the
        # current map, so the latest checkpoint always matches it (tlog.store contract)
        tip = self._tip(conn) if self._tip is not None else None
        tstore.sign_checkpoint_if_due(conn, self._signer, self._signer.name, now_s, 0, tip)
