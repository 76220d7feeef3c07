"""Shared fixture for resolve tests: an in-memory log with signed checkpoints."""

from __future__ import annotations

import sqlite3

from waypost.tlog import note as note_mod
from waypost.tlog import store as tstore
from waypost.tlog.leaf import LogLeaf

ORIGIN = "test.waypost.example/log"


def signer(seed: int = 1) -> note_mod.Signer:
    return note_mod.signer_from_seed(ORIGIN, bytes([seed]) * 32)


def memory_log() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    tstore.ensure_schema(conn)
    return conn


def append(conn: sqlite3.Connection, leaves: list[LogLeaf], s: note_mod.Signer, now_s: int = 1000) -> range:
    conn.execute("BEGIN IMMEDIATE")
    r = tstore.append_leaves(conn, leaves)
    tstore.sign_checkpoint_if_due(conn, s, ORIGIN, now_s, 60)
    conn.execute("COMMIT")
    return r
