"""An in-memory ``NameReader`` for API tests (implements ``waypost.indexer.view.NameReader``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from waypost.indexer.view import IndexStatus, NameRecord
from waypost.registry.model import BlockHash, Txid

__all__ = ["FakeReader", "make_record", "make_status", "REGTEST_EXPIRY"]

REGTEST_EXPIRY = 30  # namecoin-core: regtest names expire 30 blocks after their last update


def _h(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def make_record(
    name: bytes,
    value: bytes,
    height: int,
    *,
    tx_index: int = 1,
    vout: int = 0,
    address: str | None = "mzos32awgAJAcFoLtAAhK8y8zLq7W8YWy8",
    op: str = "name_update",
    expiry: int = REGTEST_EXPIRY,
) -> NameRecord:
    """A record with a deterministic txid/block hash derived from its contents."""
    return NameRecord(
        name=name,
        value=value,
        txid=Txid(_h("tx", name, value, height, tx_index)),
        vout=vout,
        height=height,
        block_hash=BlockHash(_h("block", height)),
        tx_index=tx_index,
        op=op,
        address=address,
        expires_at_height=height + expiry,
    )


def make_status(
    tip_height: int = 162,
    *,
    network: str = "regtest",
    tip_time_s: int | None = 1_700_000_000,
    node_height: int | None = None,
    node_headers: int | None = None,
    node_initial_download: bool | None = False,
    checked_at_s: int | None = 1_700_000_000,
) -> IndexStatus:
    """A status at ``tip_height``; the node defaults to the same height (in sync)."""
    empty = tip_height < 0
    node = tip_height if node_height is None else node_height
    return IndexStatus(
        network=network,
        tip_height=tip_height,
        tip_hash=None if empty else BlockHash(_h("block", tip_height)),
        tip_time_s=None if empty else tip_time_s,
        state_root=None if empty else _h("root", tip_height),
        node_height=node,
        node_headers=node if node_headers is None else node_headers,
        node_initial_download=node_initial_download,
        checked_at_s=checked_at_s,
        schema_version=1,
    )


@dataclass
class FakeReader:
    """Holds histories per name; the last operation is the current one."""

    status: IndexStatus = field(default_factory=make_status)
    histories: dict[bytes, list[NameRecord]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def add(self, record: NameRecord) -> FakeReader:
        hist = self.histories.setdefault(record.name, [])
        hist.append(record)
        hist.sort(key=lambda r: (r.height, r.tx_index))
        return self

    def at_tip(self, tip_height: int, **kwargs: object) -> FakeReader:
        self.status = replace(make_status(tip_height), **kwargs)  # type: ignore[arg-type]
        return self

    def fetch_status(self) -> IndexStatus:
        self.calls.append("status")
        return self.status

    def fetch_name(self, name: bytes) -> NameRecord | None:
        self.calls.append("name")
        hist = self.histories.get(name)
        return hist[-1] if hist else None

    def fetch_history(self, name: bytes) -> Sequence[NameRecord]:
        self.calls.append("history")
        return tuple(self.histories.get(name, ()))

    def fetch_names(self, *, prefix: bytes = b"", after: bytes | None = None, limit: int = 100) -> Sequence[NameRecord]:
        self.calls.append("names")
        keys = sorted(k for k in self.histories if k.startswith(prefix) and (after is None or k > after))
        return tuple(self.histories[k][-1] for k in keys[:limit])
