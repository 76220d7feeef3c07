"""Fixtures for notify tests: an index store with blocks, and a change source for the outbox hook."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tests.replaynode import ChainGenerator
from waypost.indexer.store import BatchResult
from waypost.indexer.wire import Block, parse_block
from waypost.notify.event import AddressChange, ChangeKind
from waypost.registry.profile import RedirectReason

ALICE = "alice@example.bit"


def chain(n: int, seed: int = 3, gen: ChainGenerator | None = None) -> list[tuple[Block, int]]:
    g = gen or ChainGenerator(seed=seed)
    return [(parse_block(b.raw), b.height) for b in g.blocks(n)]


def moved_per_block(conn: sqlite3.Connection, batch: BatchResult) -> Sequence[AddressChange]:
    """A stand-in for the resolver pipeline: one address.moved change per connected block."""
    del conn
    return [
        AddressChange(
            address=ALICE, epoch=0, leaf_index=d.height, height=d.height, block_hash=d.block_hash,
            kind=ChangeKind.MOVED, redirect_to="alice@new.bit", redirect_reason=RedirectReason.VOLUNTARY,
        )
        for d in batch.deltas
        if d.connected
    ]
