"""Simulator persistence: an append-only journal in the datadir (shell: files only).

Layout: ``<datadir>/regtest/journal.jsonl``, one JSON object per line, written in order:

    {"op": "wallet", "name": str}                      createwallet
    {"op": "key", "wallet": str}                       one more wallet key
    {"op": "block", "hex": str}                        a raw block (every branch)
    {"op": "wtx", "wallet": str, "hex": str, "label": str}   a wallet transaction
    {"op": "abandon", "wallet": str, "txid": hex}      abandontransaction (wire-order hex)
    {"op": "invalidate" | "reconsider", "hash": hex}   (wire-order hex)

Crash tolerance: lines are appended and flushed (fsync per ``sync()``); a torn last line
(no newline, bad JSON) is ignored and cut off when the journal is reopened.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
from pathlib import Path
from typing import IO

from waypost.indexer.wire import parse_block, parse_tx
from waypost.registry.errors import ErrorCode, StoreError
from waypost.regtest.chain import RpcFailure, SimChain, WalletTx

__all__ = ["Journal"]

log = logging.getLogger(__name__)


class Journal:
    """Append-only event log of one simulator datadir.

    Args:
        path: the journal file.
        fsync_every: fsync after this many appended lines (1: every line).
    """

    def __init__(self, path: Path, *, fsync_every: int = 1) -> None:
        self.path = path
        self.fsync_every = fsync_every
        self._pending = 0
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None

    def load_into(self, chain: SimChain) -> int:
        """Replay the journal into a fresh chain; returns the number of events applied.

        Raises:
            StoreError: ``store.io`` when the file cannot be read.
        """
        if not self.path.exists():
            return 0
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise StoreError(ErrorCode.STORE_IO, f"cannot read {self.path}: {exc}") from exc
        good = 0
        count = 0
        pos = 0
        while pos < len(data):
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            try:
                ev = json.loads(data[pos:nl])
            except ValueError:
                break
            _apply(chain, ev)
            count += 1
            pos = nl + 1
            good = pos
        if good < len(data):
            log.warning("journal %s: dropping a torn tail of %d bytes", self.path, len(data) - good)
            with self.path.open("r+b") as fh:
                fh.truncate(good)
        chain._rng = random.Random(f"{chain.seed}:{count}")
        return count

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def append(self, event: dict[str, object]) -> None:
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(json.dumps(event, separators=(",", ":")) + "\n")
            self._pending += 1
            if self._pending >= self.fsync_every:
                self._sync_locked()

    def sync(self) -> None:
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        if self._fh is None:
            return
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._pending = 0

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._sync_locked()
                self._fh.close()
                self._fh = None


def _apply(chain: SimChain, ev: dict[str, str]) -> None:
    op = ev.get("op")
    if op == "wallet":
        chain.create_wallet(ev["name"])
    elif op == "key":
        chain.wallet(ev["wallet"]).new_key()
    elif op == "block":
        raw = bytes.fromhex(ev["hex"])
        chain.submit_block(parse_block(raw), raw=raw)
    elif op == "wtx":
        w = chain.wallet(ev["wallet"])
        raw = bytes.fromhex(ev["hex"])
        tx = parse_tx(raw)
        w.txs[tx.txid] = WalletTx(tx=tx, raw=raw, time_s=chain.clock(), label=ev.get("label", ""))
        try:
            chain.accept_to_mempool(tx)
        except RpcFailure:
            pass
    elif op == "abandon":
        wtx = chain.wallet(ev["wallet"]).txs.get(bytes.fromhex(ev["txid"]))
        if wtx is not None:
            wtx.abandoned = True
    elif op == "invalidate":
        chain.invalidate(bytes.fromhex(ev["hash"]))
    elif op == "reconsider":
        chain.reconsider(bytes.fromhex(ev["hash"]))
