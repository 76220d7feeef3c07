"""Read side of the resolver (shell): proof bundles, identity states and headers from the database.

One ``ResolveReader`` per thread; each answer is built inside one read snapshot so the
checkpoint, proofs and SPV rows agree.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from waypost.indexer.params import Network, name_expiration_depth
from waypost.indexer.store import NameIndexReader
from waypost.registry.chain import ChainState, encode_canonical, parse_entry, validate_chain
from waypost.registry.errors import ErrorCode, NotFoundError, ParseError, StoreError, WaypostError
from waypost.registry.keys import IdentityState, Verdict, identity_from_chain
from waypost.registry.model import PublicKey

from waypost.tlog import smt
from waypost.tlog import store as tstore
from waypost.tlog.leaf import ChainSource, LogLeaf, NamecoinSource, address_key
from waypost.resolve import chainstore, pipeline, spv
from waypost.resolve.bundle import ProofBundle, SpvProof, leaf_address_for
from waypost.resolve.opchain import MAX_OPERATIONS_PAGE, OperationsPage
from waypost.resolve.snapshot import AddressSnapshot, decode_snapshot, finish_state

__all__ = ["ResolveReader", "AddressView", "MAX_HEADERS"]

MAX_HEADERS = 2000  # /v1/headers page cap (Electrum serves 2016 per chunk)
_CACHE_SIZE = 4096  # entries per reader cache (a few MB at most)

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """A small least-recently-used map (one reader per thread: no locking)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> _V:
        self._data[key] = value
        if len(self._data) > self._size:
            self._data.popitem(last=False)
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressView:
    """One address as the server sees it: its latest leaf, value, identity state and bundle."""

    address: str
    leaf_address: str
    bundle: ProofBundle
    leaf: LogLeaf | None
    value: bytes | None
    state: IdentityState | None
    verdicts: tuple[Verdict, ...]
    tip_height: int
    expires_at_height: int | None
    chain: ChainState | None = None


class ResolveReader:
    """Bundles and states for the API (read-only connection)."""

    def __init__(self, conn: sqlite3.Connection, network: str, *, expiring_window: int | None = None) -> None:
        self.conn = conn
        self.network = Network(network)
        self.names = NameIndexReader(conn, network)
        self.log = tstore.LogReader(conn)
        self._expiring_window = expiring_window
        # per-reader (so per thread and worker) caches of values that never change
        self._map_proofs: _Lru[tuple[bytes, bytes], smt.MapProof] = _Lru(_CACHE_SIZE)
        self._inclusions: _Lru[tuple[int, int], tuple[bytes, ...]] = _Lru(_CACHE_SIZE)
        self._leaves: _Lru[int, tuple[bytes, LogLeaf]] = _Lru(_CACHE_SIZE)
        self._snapshots: _Lru[bytes, AddressSnapshot] = _Lru(_CACHE_SIZE)
        self._chains: _Lru[tuple[bytes, ...], tuple[ChainState | None]] = _Lru(256)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction (consistent view across several reads)."""
        own = not self.conn.in_transaction
        try:
            if own:
                self.conn.execute("BEGIN")
            yield
        except sqlite3.Error as exc:
            raise StoreError(ErrorCode.STORE_IO, f"resolve read: {exc}") from exc
        finally:
            if own and self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def bundle(self, address: str, *, since_size: int | None = None) -> tuple[ProofBundle, LogLeaf | None]:
        """The proof bundle for ``address`` (membership of its latest leaf, or absence).

        Raises:
            NotFoundError: ``NOT_FOUND`` when no checkpoint has been signed yet.
            StoreError: the log and its latest checkpoint disagree.
        """
        return self._bundle(leaf_address_for(address), since_size=since_size)

    def _bundle(self, leaf_addr: str, *, since_size: int | None) -> tuple[ProofBundle, LogLeaf | None]:
        note = self.log.latest_checkpoint()
        if note is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, "the log has no checkpoint yet")
        state = self.log.state()
        key = bytes(address_key(leaf_addr))
        # proofs are functions of immutable data: the map's content is fixed by its root and
        # the log is append-only, so an inclusion proof is fixed by (index, size)
        mp = self._map_proofs.get((key, state.map_root))
        if mp is None:
            mp = self._map_proofs.put((key, state.map_root), self.log.map_proof(key))
        latest = self.log.latest_leaf(key)
        consistency: tuple[bytes, ...] = ()
        if since_size is not None and 0 < since_size <= state.size:
            consistency = self.log.consistency_proof(since_size, state.size)
        elif since_size is not None:
            since_size = None
        if latest is None:
            return ProofBundle(checkpoint=note, leaf=None, leaf_index=None, inclusion=(), map_proof=mp,
                               since_size=since_size, consistency=consistency), None
        idx, _ = latest
        cached = self._leaves.get(idx)
        if cached is None:
            data = self.log.leaf(idx)
            cached = self._leaves.put(idx, (data, LogLeaf.parse(data)))
        data, leaf = cached
        inclusion = self._inclusions.get((idx, state.size))
        if inclusion is None:
            inclusion = self._inclusions.put((idx, state.size), self.log.inclusion_proof(idx, state.size))
        spv_proof: SpvProof | None = None
        chain: tuple[bytes, ...] = ()
        if isinstance(leaf.source, ChainSource):
            chain = tuple(chainstore.fetch_entries(self.conn, leaf.address, upto_seq=leaf.source.seq))
        if isinstance(leaf.source, NamecoinSource) and leaf.verdict != pipeline.VERDICT_REORG_REMOVED:
            row = spv.fetch_tx(self.conn, leaf.source.txid, leaf.source.height)
            if row is not None:
                spv_proof = SpvProof(height=row.height, header=row.header, tx=row.tx, tx_index=row.tx_index,
                                     branch=row.branch)
        return (
            ProofBundle(
                checkpoint=note,
                leaf=data,
                leaf_index=idx,
                inclusion=inclusion,
                map_proof=mp,
                spv=spv_proof,
                since_size=since_size,
                consistency=consistency,
                chain=chain,
            ),
            leaf,
        )

    def _snapshot_row(self, key: bytes, leaf_index: int) -> AddressSnapshot | None:
        try:
            row = self.conn.execute("SELECT leaf_idx, snapshot FROM resolve_snapshots WHERE address_key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None  # an index written before snapshots existed: replay instead
        if row is None or int(row[0]) != leaf_index:
            return None
        raw = bytes(row[1])
        snap = self._snapshots.get(raw)
        if snap is None:
            try:
                snap = self._snapshots.put(raw, decode_snapshot(raw))
            except ParseError:
                return None
        return snap

    def snapshot_for(self, address: str) -> AddressSnapshot | None:
        """The hook's snapshot of ``address`` when it belongs to the latest leaf (tests, diagnostics)."""
        leaf_addr = leaf_address_for(address)
        key = bytes(address_key(leaf_addr))
        with self.snapshot():
            latest = self.log.latest_leaf(key)
            return None if latest is None else self._snapshot_row(key, latest[0])

    def view(self, address: str, *, since_size: int | None = None, full: bool = False) -> AddressView:
        """Bundle plus the server-side validation of the address.

        The identity state comes from the hook's snapshot row (a few point reads) when it
        belongs to the latest leaf; otherwise (or with ``full``) the name's whole history is
        replayed. ``verdicts`` holds every operation's verdict with ``full``, else the last one.
        """
        leaf_addr = leaf_address_for(address)
        with self.snapshot():
            b, leaf = self._bundle(leaf_addr, since_size=since_size)
            tip = self.names.fetch_tip()
            tip_height = -1 if tip is None else tip[0]
            name = pipeline.name_of_address(leaf_addr)
            value: bytes | None = None
            state: IdentityState | None = None
            verdicts: tuple[Verdict, ...] = ()
            expires: int | None = None
            chain: ChainState | None = None
            if leaf is not None and b.chain:
                chain = self._chain_state(b.chain)
                if chain is not None:
                    value = encode_canonical(dict(chain.body))
                    try:
                        state = identity_from_chain(chain, address=leaf_addr)
                    except WaypostError:
                        state = None
            elif name is not None:
                depth = name_expiration_depth(self.network, max(tip_height, 0))
                window = self._expiring_window if self._expiring_window is not None else max(1, depth // 36)
                snap = None
                if not full and leaf is not None and b.leaf_index is not None:
                    snap = self._snapshot_row(bytes(address_key(leaf_addr)), b.leaf_index)
                if snap is not None and snap.expiration_depth == depth:
                    state = finish_state(snap.state, tip_height, depth, window)
                    verdicts = (snap.last_verdict,)
                    value = snap.value
                    expires = snap.expires_at_height
                else:
                    history = list(self.names.fetch_history(name))
                    if history:
                        state, verdicts = pipeline.identity_of(
                            leaf_addr, history, tip_height=tip_height, expiration_depth=depth, expiring_window=window
                        )
                        value = history[-1].value
                        expires = history[-1].expires_at_height
        return AddressView(
            address=address,
            leaf_address=leaf_addr,
            bundle=b,
            leaf=leaf,
            value=value,
            state=state,
            verdicts=verdicts,
            tip_height=tip_height,
            expires_at_height=expires,
            chain=chain,
        )

    def _chain_state(self, raw: tuple[bytes, ...]) -> ChainState | None:
        hit = self._chains.get(raw)
        if hit is None:
            hit = self._chains.put(raw, (_chain_state(raw),))
        return hit[0]

    def chain_entries(self, address: str) -> list[bytes]:
        """Stored private-chain entries of ``address`` (genesis first; empty when none)."""
        with self.snapshot():
            return chainstore.fetch_entries(self.conn, address)

    def chain_evidence(self, address: str) -> list[bytes]:
        """Stored duplicity evidence of ``address``."""
        with self.snapshot():
            return chainstore.fetch_evidence(self.conn, address)

    def operations(self, address: str, *, start: int = 0) -> OperationsPage:
        """SPV proofs of the name operations of ``address``'s current epoch, oldest first.

        The epoch starts at the ``name_firstupdate`` that registered the name (spec §6.2);
        at most ``MAX_OPERATIONS_PAGE`` proofs from index ``start``.

        Raises:
            NotFoundError: ``NOT_FOUND`` for an address without Namecoin operations, or when
                an operation's SPV data is not stored.
        """
        leaf_addr = leaf_address_for(address)
        name = pipeline.name_of_address(leaf_addr)
        if name is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, "not a Namecoin-backed address", address=address)
        with self.snapshot():
            history = list(self.names.fetch_history(name))
            if not history:
                raise NotFoundError(ErrorCode.NOT_FOUND, "address not found", address=address)
            epoch = history[-1].epoch
            ops = [r for r in history if r.epoch == epoch]
            proofs: list[SpvProof] = []
            for rec in ops[start : start + MAX_OPERATIONS_PAGE]:
                row = spv.fetch_tx(self.conn, rec.txid, rec.height)
                if row is None:
                    raise NotFoundError(ErrorCode.NOT_FOUND, "no SPV data stored for an operation", address=address,
                                        height=rec.height)
                proofs.append(SpvProof(height=row.height, header=row.header, tx=row.tx, tx_index=row.tx_index,
                                       branch=row.branch))
        return OperationsPage(address=address, total=len(ops), start=min(start, len(ops)), proofs=tuple(proofs))

    def headers(self, start: int, count: int) -> list[tuple[int, bytes]]:
        """Stored full headers from ``start`` (at most ``MAX_HEADERS``)."""
        return spv.fetch_headers(self.conn, start, min(count, MAX_HEADERS))

    def map_root(self) -> bytes:
        """Current state-map root (tests)."""
        return self.log.map_root()




def _chain_state(raw: tuple[bytes, ...]) -> ChainState | None:
    """The stored chain's state (it was validated on submission; re-checked here, cheaply cached)."""
    try:
        entries = [parse_entry(e) for e in raw]
        return validate_chain(entries, address_key=PublicKey(entries[0].key))
    except WaypostError:
        return None
