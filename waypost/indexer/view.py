"""Read-side values and the reader protocol the API uses (core layer: no I/O here).

The store (``indexer/store.py``) implements ``NameReader`` over SQLite; the API and
tests depend only on this protocol, so either side can change its internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from waypost.registry.model import BlockHash, Txid

__all__ = ["NameRecord", "IndexStatus", "NameReader"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NameRecord:
    """One name operation as ``name_show``/``name_history`` describe it.

    ``expires_at_height`` is ``params.name_expires_at(network, height)``: the first tip
    height from which the operation reads ``expired: true`` (namecoin-core ``isExpired``:
    ``height + depth(tip) <= tip``, with the depth at the tip, not at the update).
    """

    name: bytes
    value: bytes
    txid: Txid  # wire order
    vout: int
    height: int
    block_hash: BlockHash
    tx_index: int  # position of the transaction in its block (orders updates within a block)
    op: str  # "name_firstupdate" | "name_update"
    address: str | None  # the owner address as namecoind shows it, None when non-standard
    expires_at_height: int
    # 1-based registration epoch: each name_firstupdate (first or after expiry) starts a new one.
    epoch: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexStatus:
    """What the index has, and what it last saw of the node."""

    network: str  # "mainnet" | "testnet" | "regtest"
    tip_height: int  # -1 when nothing is indexed yet
    tip_hash: BlockHash | None
    tip_time_s: int | None  # block time of the tip
    state_root: bytes | None  # hash over the name state at the tip
    node_height: int | None  # node's tip height when last checked
    node_headers: int | None  # node's best header height when last checked
    node_initial_download: bool | None  # node still syncing (IBD)
    checked_at_s: int | None  # wall-clock time the indexer last talked to the node
    schema_version: int


class NameReader(Protocol):
    """Read-only view of the index (implemented by the SQLite store)."""

    def fetch_status(self) -> IndexStatus: ...

    def fetch_name(self, name: bytes) -> NameRecord | None:
        """The current (latest) operation of ``name`` on the active chain, expired or not."""
        ...

    def fetch_history(self, name: bytes) -> Sequence[NameRecord]:
        """Every operation of ``name`` on the active chain, oldest first (height, tx_index)."""
        ...

    def fetch_names(self, *, prefix: bytes = b"", after: bytes | None = None, limit: int = 100) -> Sequence[NameRecord]:
        """Current operations of names in byte order, starting after ``after``, with ``prefix``."""
        ...
