"""The indexer batch hook of the resolver (shell): name changes -> log leaves, SPV rows, checkpoint.

Runs inside ``Store.apply_batch``'s transaction, so name state, leaves, SPV data, the
checkpoint and (through ``changes_of``) the notification outbox commit together.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from waypost.indexer.params import Network, name_expiration_depth
from waypost.indexer.store import BatchHook, BatchResult, NameIndexReader
from waypost.indexer.view import NameRecord
from waypost.notify.event import AddressChange
from waypost.tlog import note as note_mod
from waypost.tlog import store as tstore
from waypost.tlog.leaf import LogLeaf, address_key
from waypost.registry.errors import ErrorCode, StoreError
from waypost.registry.model import BlockHash
from waypost.resolve import chainstore, pipeline, snapshot, spv

__all__ = [
    "ResolveHook",
    "make_hook",
    "ensure_schema",
    "save_snapshots",
    "default_hooks",
    "default_log_key_path",
    "default_origin",
    "CHECKPOINT_EVERY_S",
]

CHECKPOINT_EVERY_S = 300  # a new checkpoint at least every 5 minutes, even when nothing changed


# resolve_snapshots(address_key BLOB[32] PK, leaf_idx INTEGER, snapshot BLOB) WITHOUT ROWID
#        per Namecoin-backed address: snapshot.encode_snapshot of its replayed identity state
#        (canonical CBOR), written in the batch transaction; leaf_idx = the address's latest
#        leaf when written (a reader uses the row only when it still is the latest)
_SNAPSHOT_DDL = ("CREATE TABLE IF NOT EXISTS resolve_snapshots (address_key BLOB PRIMARY KEY, leaf_idx INTEGER NOT NULL,"
                 " snapshot BLOB NOT NULL) WITHOUT ROWID")


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the log, SPV, snapshot and private-chain tables (idempotent)."""
    tstore.ensure_schema(conn)
    spv.ensure_schema(conn)
    try:
        conn.execute(_SNAPSHOT_DDL)
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"resolve snapshots: {exc}") from exc
    chainstore.ensure_schema(conn)


def save_snapshots(conn: sqlite3.Connection, rows: list[tuple[bytes, int | None, bytes | None]]) -> None:
    """Write (or, with None, delete) the snapshot rows ``(address_key, leaf_idx, snapshot)``."""
    try:
        conn.executemany("DELETE FROM resolve_snapshots WHERE address_key = ?", [(k,) for k, _, b in rows if b is None])
        conn.executemany("INSERT OR REPLACE INTO resolve_snapshots (address_key, leaf_idx, snapshot) VALUES (?, ?, ?)",
                         [(k, i, b) for k, i, b in rows if b is not None])
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"resolve snapshots: {exc}") from exc


class ResolveHook:
    """Callable ``BatchHook``; ``changes_of`` hands the batch's address changes to the notify hook.

    Pass it before the notify hook: ``hooks=(h, make_outbox_hook(h.changes_of, ...))``.
    """

    def __init__(self, *, signer: note_mod.Signer, origin: str, clock: Callable[[], float],
                 every_s: int = CHECKPOINT_EVERY_S) -> None:
        self._signer = signer
        self._origin = origin
        self._clock = clock
        self._every_s = every_s
        self._changes: tuple[int, tuple[AddressChange, ...]] = (0, ())
        self._schema_ready: set[int] = set()

    def changes_of(self, conn: sqlite3.Connection, batch: BatchResult) -> Sequence[AddressChange]:
        """The address changes the last run made for ``batch`` (empty for another batch)."""
        del conn
        key, changes = self._changes
        return changes if key == id(batch) else ()

    def __call__(self, conn: sqlite3.Connection, batch: BatchResult) -> None:
        if id(conn) not in self._schema_ready:
            ensure_schema(conn)
            self._schema_ready.add(id(conn))
        gone = [d.height for d in batch.deltas if not d.connected]
        if gone:
            spv.drop_from(conn, min(gone))
        spv.store_blocks(conn, batch.blocks)
        touched: dict[bytes, list[NameRecord]] = {}
        disconnected_names: set[bytes] = set()
        for d in batch.deltas:
            if d.connected:
                for ev in d.events:
                    touched.setdefault(ev.record.name, []).append(ev.record)
            else:
                for op in d.ops_removed:
                    disconnected_names.add(op.name)
        for name in disconnected_names:
            touched.setdefault(name, [])
        reader = NameIndexReader(conn, batch.network)
        leaves: list[LogLeaf] = []
        changes: list[AddressChange] = []
        size = tstore.LogReader(conn).size()
        depth = name_expiration_depth(Network(batch.network), max(batch.tip_height, 0))
        snaps: list[tuple[bytes, int | None, bytes | None]] = []
        for name in sorted(touched):
            address = pipeline.address_of_name(name)
            if address is None:
                continue
            # the connected ops minus any later disconnected in this batch (history is final)
            history = list(reader.fetch_history(name))
            final = {(r.height, bytes(r.txid)) for r in history}
            new_ops = [r for r in touched[name] if (r.height, bytes(r.txid)) in final]
            ak = bytes(address_key(address))
            prior_rows = tstore.address_history(conn, ak)
            prior = [lf for _, lf in prior_rows]
            if not new_ops and not prior:
                continue
            plan = pipeline.plan_address(
                address=address, history=history, new_ops=new_ops, prior_leaves=prior,
                first_leaf_index=size + len(leaves),
            )
            leaves.extend(plan.leaves)
            changes.extend(plan.changes)
            latest = size + len(leaves) - 1 if plan.leaves else (prior_rows[-1][0] if prior_rows else None)
            snap = snapshot.snapshot_of(address, history, expiration_depth=depth)
            snaps.append((ak, latest, None if snap is None or latest is None else snapshot.encode_snapshot(snap)))
        if leaves:
            tstore.append_leaves(conn, leaves)
        save_snapshots(conn, snaps)
        tip = (batch.tip_height, batch.tip_hash) if batch.tip_hash is not None and batch.tip_height >= 0 else None
        tstore.sign_checkpoint_if_due(conn, self._signer, self._origin, int(self._clock()), self._every_s, tip)
        self._changes = (id(batch), tuple(changes))


    def idle(self, conn: sqlite3.Connection, tip_height: int, tip_hash: BlockHash | None) -> None:
        """No new block: sign a fresh checkpoint when ``every_s`` has passed (a frozen log shows)."""
        if id(conn) not in self._schema_ready:
            ensure_schema(conn)
            self._schema_ready.add(id(conn))
        tip = (tip_height, tip_hash) if tip_hash is not None and tip_height >= 0 else None
        tstore.sign_checkpoint_if_due(conn, self._signer, self._origin, int(self._clock()), self._every_s, tip)


def make_hook(*, signer: note_mod.Signer, origin: str, clock: Callable[[], float],
              every_s: int = CHECKPOINT_EVERY_S) -> ResolveHook:
    """The resolver's ``BatchHook`` (a ``ResolveHook``; also usable as ``changes_of``)."""
    hook: BatchHook = ResolveHook(signer=signer, origin=origin, clock=clock, every_s=every_s)
    assert isinstance(hook, ResolveHook)
    return hook


def default_log_key_path(db: str | Path) -> Path:
    """The log signing key next to the database: ``<db>.logkey`` (``<db>.logkey.vkey`` public)."""
    p = Path(db)
    return p.with_name(p.name + ".logkey")


def default_origin(network: str) -> str:
    """Default log origin (the checkpoint's first line); operators set their own host name."""
    return f"waypost.localhost/{network}"


def default_hooks(*, db: str | Path, network: str, log_key: str | Path | None = None,
                  origin: str | None = None, notify: bool = True) -> tuple[BatchHook, ...]:
    """The hooks ``waypost index`` runs by default: the resolver (log, SPV, checkpoints), then the outbox.

    Raises:
        StoreError: the key file cannot be read or created.
    """
    org = origin or default_origin(network)
    signer = tstore.load_or_create_signer(log_key or default_log_key_path(db), org)
    hook = ResolveHook(signer=signer, origin=org, clock=time.time)
    if not notify:
        return (hook,)
    from waypost.notify.outbox import make_outbox_hook

    return (hook, make_outbox_hook(hook.changes_of, clock=time.time))
