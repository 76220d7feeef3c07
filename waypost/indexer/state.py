"""Name state transitions (core layer): block name ops + state view -> delta + undo.

Pure: no I/O, no clock. The store backs ``StateView`` with SQLite, tests with dicts.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, TypeVar

from waypost.indexer.names import (
    NameOpKind,
    find_name_script,
    name_commitment,
    parse_name_script,
    plain_script_address,
)
from waypost.indexer.params import (
    BUG_FULLY_APPLY,
    Network,
    historic_bug,
    historic_bugs_at,
    name_expiration_depth,
    name_expires_at,
)
from waypost.indexer.view import NameRecord
from waypost.indexer.wire import (
    NAMECOIN_TX_VERSION,
    Block,
    ScannedTx,
    encode_auxpow,
    encode_header,
    encode_tx,
    merkle_branches,
    merkle_branches_of,
    parse_tx,
    scan_block,
)
from waypost.registry.errors import ChainError, ErrorCode, ParseError
from waypost.registry.model import BlockHash, Txid

__all__ = [
    "OP_NEW",
    "OP_FIRSTUPDATE",
    "OP_UPDATE",
    "MIN_FIRSTUPDATE_DEPTH",
    "MAX_NAME_BYTES",
    "MAX_VALUE_BYTES",
    "GENESIS_STATE_ROOT",
    "Outpoint",
    "NameNewEntry",
    "TxNameOp",
    "NameEvent",
    "OpKey",
    "NameDelta",
    "Undo",
    "StateView",
    "DictStateView",
    "connect_ops",
    "disconnect_ops",
    "connect_block",
    "connect_summary",
    "disconnect_block",
    "NameTx",
    "BlockSummary",
    "summarize_block",
    "summarize_raw",
    "extract_name_ops",
    "compute_state_root",
    "encode_record",
    "decode_record",
    "encode_undo",
    "decode_undo",
    "apply_delta_to_dicts",
    "state_digest_of",
]

OP_NEW = "name_new"
OP_FIRSTUPDATE = "name_firstupdate"
OP_UPDATE = "name_update"
_OP_CODES = {OP_NEW: 0, OP_FIRSTUPDATE: 1, OP_UPDATE: 2}
_OP_NAMES = {v: k for k, v in _OP_CODES.items()}

MIN_FIRSTUPDATE_DEPTH = 12  # namecoin-core names/main.cpp: name_new must be 12 blocks deep
MAX_NAME_BYTES = 255  # namecoin-core consensus MAX_NAME_LENGTH
MAX_VALUE_BYTES = 1023  # namecoin-core consensus MAX_VALUE_LENGTH
MAX_RAND_BYTES = 20  # namecoin-core CheckNameTransaction: "rand value is too large"
GENESIS_STATE_ROOT = bytes(32)  # root "before" the first indexed block
_ROOT_TAG = b"waypost/state-root/v1"
_EMPTY_DIGEST = hashlib.sha256().digest()
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_U32X2 = struct.Struct("<II")
_INDEX_OP = struct.Struct("<IB")
_ADDR_HEAD = struct.Struct("<BB")
_D = TypeVar("_D")
_NETWORKS = {n.value: n for n in Network}


def _positional_maker(cls: type[_D]) -> Callable[..., _D]:
    """A positional constructor for a frozen slots dataclass without ``__post_init__``:
    sets the slots directly (2-3x faster than the keyword ``__init__``; the hot paths
    build millions of these)."""
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} validates in __post_init__: build it with its __init__")
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    env.update({f"_set_{n}": getattr(cls, n).__set__ for n in names})
    body = "".join(f"    _set_{n}(o, {n})\n" for n in names)
    exec(f"def make({', '.join(names)}):\n    o = _new(_cls)\n{body}    return o\n", env)  # noqa: S102
    maker: Callable[..., _D] = env["make"]
    return maker


@dataclass(frozen=True, slots=True, kw_only=True)
class Outpoint:
    """A transaction output reference (txid in wire order)."""

    txid: Txid
    vout: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NameNewEntry:
    """A pending ``name_new`` commitment: hash160(rand || name), its output and height."""

    commitment: bytes
    txid: Txid
    vout: int
    height: int

    @property
    def outpoint(self) -> Outpoint:
        return Outpoint(txid=self.txid, vout=self.vout)


@dataclass(frozen=True, slots=True, kw_only=True)
class TxNameOp:
    """The name operation of one transaction, as extracted from a block (input to ``connect_ops``).

    ``spent`` holds every input prevout of the transaction: the state finds the name
    input among them (the pending ``name_new`` or the name's current output).
    """

    tx_index: int
    txid: Txid
    vout: int
    kind: str  # OP_NEW | OP_FIRSTUPDATE | OP_UPDATE
    name: bytes = b""
    value: bytes = b""
    rand: bytes = b""
    commitment: bytes = b""  # name_new only
    address: str | None = None
    spent: tuple[Outpoint, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NameEvent:
    """One applied ``name_firstupdate``/``name_update`` (for registry, log, notifications)."""

    record: NameRecord  # the new operation (carries epoch, tx_index, address...)
    previous: NameRecord | None  # the name's current record before this operation
    is_new_registration: bool  # a firstupdate: a new epoch begins


@dataclass(frozen=True, slots=True, kw_only=True)
class OpKey:
    """Identifies one history row: (name, height, tx_index)."""

    name: bytes
    height: int
    tx_index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NameDelta:
    """What a connect or disconnect changes; the store applies it row by row.

    ``current`` gives, per touched name, the record that is current afterwards (None:
    the name no longer exists). ``events`` is filled on connect only, in block order.
    """

    block_hash: BlockHash
    height: int
    connected: bool
    events: tuple[NameEvent, ...] = ()
    ops_added: tuple[NameRecord, ...] = ()
    ops_removed: tuple[OpKey, ...] = ()
    current: tuple[tuple[bytes, NameRecord | None], ...] = ()
    news_added: tuple[NameNewEntry, ...] = ()
    news_removed: tuple[NameNewEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Undo:
    """What ``disconnect_ops`` needs to restore the state before a block."""

    block_hash: BlockHash
    height: int
    prior: tuple[tuple[bytes, NameRecord | None], ...] = ()  # current record before the block
    ops: tuple[OpKey, ...] = ()  # history rows the block added
    news_added: tuple[NameNewEntry, ...] = ()
    news_spent: tuple[NameNewEntry, ...] = ()


class StateView(Protocol):
    """Read access to the name state at the current tip."""

    def current_record(self, name: bytes) -> NameRecord | None:
        """The name's current (latest) record, expired or not; None if never registered."""
        ...

    def name_new_at(self, outpoint: Outpoint) -> NameNewEntry | None:
        """The pending ``name_new`` at ``outpoint``, if any."""
        ...


@dataclass(slots=True)
class DictStateView:
    """A ``StateView`` over plain dicts (tests, the bench, from-scratch replays)."""

    names: dict[bytes, NameRecord] = field(default_factory=dict)
    news: dict[Outpoint, NameNewEntry] = field(default_factory=dict)

    def current_record(self, name: bytes) -> NameRecord | None:
        return self.names.get(name)

    def name_new_at(self, outpoint: Outpoint) -> NameNewEntry | None:
        return self.news.get(outpoint)


def apply_delta_to_dicts(view: DictStateView, delta: NameDelta) -> None:
    """Apply ``delta`` to a ``DictStateView`` in place (the dict twin of the store's writes)."""
    for name, rec in delta.current:
        if rec is None:
            view.names.pop(name, None)
        else:
            view.names[name] = rec
    for entry in delta.news_removed:
        view.news.pop(entry.outpoint, None)
    for entry in delta.news_added:
        view.news[entry.outpoint] = entry


def _bad(message: str, **fields: object) -> ChainError:
    return ChainError(ErrorCode.CHAIN_BAD_NAME_OP, message, **fields)


def _check_op(
    op: TxNameOp,
    previous: NameRecord | None,
    height: int,
    view: StateView,
    news_added: Mapping[Outpoint, NameNewEntry],
    news_spent: list[NameNewEntry],
    expiration_depth: Callable[[int], int],
    commitment_of: Callable[[bytes, bytes], bytes] | None,
) -> int:
    """namecoin-core ``CheckNameTransaction`` for one firstupdate/update; returns its epoch.

    A firstupdate's pending name_new is appended to ``news_spent``.
    """
    # namecoin-core CheckNameTransaction: names <= 255 bytes, values <= 1023 bytes (every height).
    if len(op.name) > MAX_NAME_BYTES or len(op.value) > MAX_VALUE_BYTES:
        raise _bad("name or value over the consensus limit", name=op.name.hex(), height=height)
    if op.kind == OP_FIRSTUPDATE:
        # namecoin-core: the firstupdate spends the name_new output; that output must be
        # >= MIN_FIRSTUPDATE_DEPTH blocks deep and commit to hash160(rand || name).
        new_entry = next(
            (e for e in (view.name_new_at(p) for p in op.spent if p not in news_added) if e is not None),
            None,
        )
        if new_entry is None:
            raise _bad("name_firstupdate does not spend a pending name_new", name=op.name.hex(), height=height)
        if height - new_entry.height < MIN_FIRSTUPDATE_DEPTH:
            raise _bad("name_new not 12 blocks deep", name=op.name.hex(), height=height)
        # namecoin-core: "rand value is too large" (> 20 bytes) at every height; "too short"
        # (< 20) only under SCRIPT_VERIFY_NAMES_LONG_SALT, which old blocks predate.
        if len(op.rand) > MAX_RAND_BYTES:
            raise _bad("name_firstupdate rand over 20 bytes", name=op.name.hex(), height=height)
        if commitment_of is not None and commitment_of(op.rand, op.name) != new_entry.commitment:
            raise _bad("rand/name do not match the name_new commitment", name=op.name.hex(), height=height)
        # namecoin-core: "NAME_FIRSTUPDATE on existing name" unless isExpired(prev, nHeight),
        # i.e. prev + NameExpirationDepth(nHeight) <= nHeight (depth at the new height).
        if previous is not None and previous.height + expiration_depth(height) > height:
            raise _bad("name_firstupdate on an unexpired name", name=op.name.hex(), height=height)
        news_spent.append(new_entry)
        return 1 if previous is None else previous.epoch + 1
    # namecoin-core: a name_update spends the name's current output (its name input).
    # "NAME_UPDATE on an expired name" is not re-checked: ExpireNames removes an expired
    # name's coin from the UTXO set, so no valid block spends it.
    if previous is None:
        raise _bad("name_update of an unknown name", name=op.name.hex(), height=height)
    if Outpoint(txid=previous.txid, vout=previous.vout) not in op.spent:
        raise _bad("name_update does not spend the name's output", name=op.name.hex(), height=height)
    return previous.epoch


def connect_ops(
    view: StateView,
    *,
    block_hash: BlockHash,
    height: int,
    ops: Iterable[TxNameOp],
    expiration_depth: Callable[[int], int],
    commitment_of: Callable[[bytes, bytes], bytes] | None = None,
    expires_at: Callable[[int], int] | None = None,
    historic_bug_of: Callable[[Txid], str | None] | None = None,
) -> tuple[NameDelta, Undo]:
    """Apply the name operations of one block, in block order.

    The indexer follows the node's valid chain, so consensus already holds; these checks
    catch a wrong network or a state bug rather than judge the chain.

    Args:
        view: the state before the block.
        block_hash: the block's hash (wire order).
        height: the block's height.
        ops: the block's name operations in transaction order.
        expiration_depth: ``height -> blocks`` (namecoin-core ``NameExpirationDepth``),
            evaluated at the block's height as ``isExpired`` does.
        commitment_of: ``(rand, name) -> hash160(rand || name)``; when given, each
            firstupdate's commitment is checked against its ``name_new``.
        expires_at: ``update height -> first expired height`` stored as
            ``expires_at_height`` (default ``h + expiration_depth(h)``, right for a
            constant depth; ``params.name_expires_at`` for the mainnet ramp).
        historic_bug_of: ``txid -> bug kind`` of namecoin-core ``IsHistoricBug`` at this
            height: every kind skips the checks; all but ``fully_apply`` leave the name
            state unchanged (``ApplyNameTransaction`` returns early).

    Returns:
        The delta to write and the undo to keep.

    Raises:
        ChainError: ``chain.bad-name-op`` when an operation cannot be valid on this state
            (firstupdate without its mature name_new, update not spending the name, a
            firstupdate on an unexpired name, sizes over the consensus limits).
    """
    current: dict[bytes, NameRecord | None] = {}
    prior: dict[bytes, NameRecord | None] = {}
    news_added: dict[Outpoint, NameNewEntry] = {}
    news_spent: list[NameNewEntry] = []
    events: list[NameEvent] = []

    def lookup(name: bytes) -> NameRecord | None:
        if name in current:
            return current[name]
        rec = view.current_record(name)
        prior[name] = rec
        current[name] = rec
        return rec

    def expiry(h: int) -> int:
        return expires_at(h) if expires_at is not None else h + expiration_depth(h)

    def consume_news(op: TxNameOp) -> None:
        # a bug tx spends its inputs like any other: drop the name_news it spends
        for p in op.spent:
            if p in news_added:
                news_spent.append(news_added.pop(p))
                continue
            entry = view.name_new_at(p)
            if entry is not None and entry not in news_spent:
                news_spent.append(entry)

    for op in ops:
        bug = historic_bug_of(op.txid) if historic_bug_of is not None and op.kind != OP_NEW else None
        if bug is not None and bug != BUG_FULLY_APPLY:
            # namecoin-core ApplyNameTransaction: historic bugs other than BUG_FULLY_APPLY
            # are not applied to the name database (BUG_FULLY_IGNORE also makes the name
            # output unspendable; BUG_IN_UTXO leaves it in the UTXO set).
            consume_news(op)
            continue
        if op.kind == OP_NEW:
            entry = _make_new_entry(op.commitment, op.txid, op.vout, height)
            news_added[_make_outpoint(op.txid, op.vout)] = entry
            continue
        if op.kind not in (OP_FIRSTUPDATE, OP_UPDATE):
            raise _bad(f"unknown name op kind {op.kind!r}", txid=op.txid.hex())
        previous = lookup(op.name)
        if bug is not None:
            # BUG_FULLY_APPLY: CheckNameTransaction is skipped, the name output applied as is
            # (mainnet 99381: a name_update with both a name_new and a firstupdate input).
            consume_news(op)
            if previous is None:
                epoch = 1
            else:
                epoch = previous.epoch + 1 if op.kind == OP_FIRSTUPDATE else previous.epoch
        else:
            epoch = _check_op(op, previous, height, view, news_added, news_spent, expiration_depth, commitment_of)
        record = _make_record(
            op.name, op.value, op.txid, op.vout, height, block_hash, op.tx_index, op.kind, op.address, expiry(height), epoch
        )
        events.append(_make_event(record, previous, op.kind == OP_FIRSTUPDATE))
        current[op.name] = record

    changed = tuple([(name, rec) for name, rec in current.items() if rec is not prior.get(name)])
    prior_t = tuple([(name, prior[name]) for name, _ in changed])
    ops_keys = tuple([_make_opkey(e.record.name, height, e.record.tx_index) for e in events])
    news = tuple(news_added.values())
    spent = tuple(news_spent)
    delta = _make_delta(block_hash, height, True, tuple(events), tuple([e.record for e in events]), (), changed, news, spent)
    undo = _make_undo(block_hash, height, prior_t, ops_keys, news, spent)
    return delta, undo


def disconnect_ops(undo: Undo) -> NameDelta:
    """Undo one block: the delta that restores the state before it.

    Args:
        undo: the block's undo record (from ``connect_ops``/``connect_block``).

    Returns:
        A delta with ``connected=False`` restoring prior records and name_new entries.
    """
    return NameDelta(
        block_hash=undo.block_hash,
        height=undo.height,
        connected=False,
        ops_removed=undo.ops,
        current=undo.prior,
        news_added=undo.news_spent,
        news_removed=undo.news_added,
    )


# Mainnet blocks up to height 212500 (LenientVersionCheck, ~2014) hold non-Namecoin-version
# txs with NAME_NEW outputs, accepted then and listed as BUG_FULLY_IGNORE in namecoin-core
# (98318 ... 204151). Their name_new coins stay in the UTXO set and a later firstupdate may
# spend them, so they are pending name_news here too. Later blocks are not scanned (a name
# output in a non-Namecoin tx is invalid there): a header time before 2016-01-01 covers
# every such block with a wide margin and keeps the scan off the rest of the chain.
_LEGACY_NAME_NEW_BEFORE_TIME = 1_451_606_400


def _legacy_name_news(tx: ScannedTx) -> list[TxNameOp]:
    out: list[TxNameOp] = []
    for vout, script in enumerate(tx.scripts):
        if script[:1] != b"\x51":
            continue
        try:
            op = parse_name_script(script)
        except ParseError:
            continue
        if op is not None and op.kind == NameOpKind.NEW and op.commitment is not None:
            out.append(TxNameOp(tx_index=tx.tx_index, txid=tx.txid, vout=vout, kind=OP_NEW, commitment=bytes(op.commitment)))
    return out


def extract_name_ops(block: Block, network: str) -> tuple[TxNameOp, ...]:
    """The name operations of ``block`` in transaction order (parses each output script).

    Args:
        block: a parsed block (``wire.parse_block``).
        network: "mainnet" | "testnet" | "regtest" (for addresses).

    Returns:
        One ``TxNameOp`` per Namecoin transaction that carries a name output.
    """
    legacy = _legacy_block(network, block.header.time_s)
    txs = (
        ScannedTx.of(index, tx)
        for index, tx in enumerate(block.txs)
        if tx.version == NAMECOIN_TX_VERSION or (legacy and index)
    )
    return _name_ops_of(txs, legacy, _NETWORKS[network])


def _legacy_block(network: str, time_s: int) -> bool:
    return network == "mainnet" and time_s < _LEGACY_NAME_NEW_BEFORE_TIME


def _name_ops_of(txs: Iterable[ScannedTx], legacy: bool, network: Network) -> tuple[TxNameOp, ...]:
    out: list[TxNameOp] = []
    for tx in txs:
        if tx.version != NAMECOIN_TX_VERSION:
            # namecoin-core CheckNameTransaction: only these carry name outputs (most txs),
            # but for the mainnet historic bugs (see _legacy_name_news)
            if legacy and tx.tx_index:
                out.extend(_legacy_name_news(tx))
            continue
        found = find_name_script(tx.scripts, tx.txid)
        if found is None:
            continue
        vout, op = found
        out.append(
            _make_op(
                tx.tx_index,
                tx.txid,
                vout,
                str(op.kind),  # NameOpKind values are the op names
                bytes(op.name or b""),
                bytes(op.value or b""),
                bytes(op.rand or b""),
                bytes(op.commitment or b""),
                plain_script_address(op.address_script, network),
                tuple([_make_outpoint(txid, vout) for txid, vout in tx.spent]),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class NameTx:
    """A ``name_firstupdate``/``name_update`` transaction with its merkle branch (SPV data)."""

    tx_index: int
    txid: Txid
    raw: bytes  # serialised without witness
    branch: tuple[bytes, ...]  # sibling hashes, leaf level first


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockSummary:
    """What the indexer and its hooks need of a block: small enough to ship between processes.

    ``header`` is the full header a client verifies (80 bytes, plus the AuxPoW when present).
    """

    hash: BlockHash
    prev_hash: BlockHash
    time_s: int
    n_tx: int
    size: int  # serialised block bytes (batch sizing)
    header: bytes
    ops: tuple[TxNameOp, ...]
    name_txs: tuple[NameTx, ...]


def summarize_block(block: Block, network: str, *, size: int = 0) -> BlockSummary:
    """Reduce a parsed block to a ``BlockSummary`` (its name ops, SPV rows, header).

    Args:
        block: a parsed block (``wire.parse_block``).
        network: "mainnet" | "testnet" | "regtest" (for addresses).
        size: the serialised size, when known.

    Raises:
        ValidationError: ``name.bad-script`` (see ``extract_name_ops``).
    """
    ops = extract_name_ops(block, network)
    spv_idx = [op.tx_index for op in ops if op.kind != OP_NEW]
    name_txs: tuple[NameTx, ...] = ()
    if spv_idx:
        txs = block.txs
        brs = merkle_branches([t.txid for t in txs], spv_idx)
        name_txs = tuple(
            NameTx(tx_index=i, txid=txs[i].txid, raw=encode_tx(txs[i], include_witness=False), branch=br)
            for i, br in zip(spv_idx, brs, strict=True)
        )
    header = encode_header(block.header)
    if block.auxpow is not None:
        header += encode_auxpow(block.auxpow)
    return BlockSummary(
        hash=block.hash,
        prev_hash=block.header.prev_hash,
        time_s=block.header.time_s,
        n_tx=len(block.txs),
        size=size,
        header=header,
        ops=ops,
        name_txs=name_txs,
    )


def summarize_raw(raw: bytes, network: str) -> BlockSummary:
    """``summarize_block(parse_block(raw), network, size=len(raw))`` without decoding the
    transactions that carry no name output (``wire.scan_block``): the indexer's hot path.

    Raises:
        ParseError, VerificationError: as ``wire.parse_block``.
        ValidationError: ``name.bad-script`` (see ``extract_name_ops``).
    """
    time_s = _U32.unpack_from(raw, 68)[0] if len(raw) >= 80 else 0
    legacy = _legacy_block(network, time_s)
    scan = scan_block(raw, legacy=legacy)
    ops = _name_ops_of(scan.candidates, legacy, _NETWORKS[network]) if scan.candidates else ()
    name_txs: tuple[NameTx, ...] = ()
    spv_idx = [op.tx_index for op in ops if op.kind != OP_NEW]
    if spv_idx:
        by_index = {tx.tx_index: tx for tx in scan.candidates}
        brs = merkle_branches_of(scan.txids, spv_idx)
        name_txs = tuple(
            [
                _make_name_tx(i, by_index[i].txid, _raw_without_witness(raw, by_index[i]), br)
                for i, br in zip(spv_idx, brs, strict=True)
            ]
        )
    return _make_summary(
        scan.hash, BlockHash(raw[4:36]), time_s, len(scan.txids) // 32, len(raw), raw[: scan.header_end], ops, name_txs
    )


def _raw_without_witness(raw: bytes, tx: ScannedTx) -> bytes:
    serialised = raw[tx.start : tx.end]
    return encode_tx(parse_tx(serialised), include_witness=False) if tx.segwit else serialised


def connect_summary(view: StateView, summary: BlockSummary, height: int, network: str) -> tuple[NameDelta, Undo]:
    """``connect_block`` for a block already reduced by ``summarize_block``.

    Raises:
        ChainError: ``chain.bad-name-op`` (see ``connect_ops``).
    """
    return _connect_network_ops(view, summary.hash, height, summary.ops, network)


def connect_block(view: StateView, block: Block, height: int, network: str) -> tuple[NameDelta, Undo]:
    """Connect a parsed block at ``height`` on top of ``view`` (extract ops + ``connect_ops``).

    Args:
        view: the state at the block's parent.
        block: the parsed block (``wire.parse_block``).
        height: its height.
        network: "mainnet" | "testnet" | "regtest".

    Returns:
        The delta to write and the undo to keep.

    Raises:
        ChainError: ``chain.bad-name-op`` (see ``connect_ops``).
    """
    return _connect_network_ops(view, block.hash, height, extract_name_ops(block, network), network)


def _connect_network_ops(
    view: StateView, block_hash: BlockHash, height: int, ops: tuple[TxNameOp, ...], network: str
) -> tuple[NameDelta, Undo]:
    if not ops:  # most blocks: nothing to look up or check
        return (
            _make_delta(block_hash, height, True, (), (), (), (), (), ()),
            _make_undo(block_hash, height, (), (), (), ()),
        )
    net = _NETWORKS[network]

    def depth(h: int) -> int:
        return name_expiration_depth(net, h)

    def expires(h: int) -> int:
        return name_expires_at(net, h)

    has_bugs = historic_bugs_at(net, height)

    def bug_of(txid: Txid) -> str | None:
        return historic_bug(net, height, txid[::-1].hex()) if has_bugs else None

    return connect_ops(
        view,
        block_hash=block_hash,
        height=height,
        ops=ops,
        expiration_depth=depth,
        commitment_of=name_commitment,
        expires_at=expires,
        historic_bug_of=bug_of,
    )


def disconnect_block(view: StateView, block_hash: BlockHash, undo: Undo) -> NameDelta:
    """Disconnect the tip block ``block_hash`` using its undo record.

    Args:
        view: the state at the block (unused: the undo carries the prior state).
        block_hash: the hash of the block being disconnected.
        undo: its undo record.

    Returns:
        The delta restoring the parent's state.

    Raises:
        ChainError: ``chain.bad-undo`` when the undo belongs to another block.
    """
    del view
    if undo.block_hash != block_hash:
        raise ChainError(ErrorCode.CHAIN_BAD_UNDO, "undo record belongs to another block", height=undo.height)
    return disconnect_ops(undo)


# --- state root ------------------------------------------------------------------


def compute_state_root(prev_root: bytes, delta: NameDelta) -> bytes:
    """Chain the state root over one connected block.

    ``root_h = SHA-256(tag || root_{h-1} || block_hash || height || SHA-256(ops))`` where
    ``ops`` is the concatenation of ``encode_record`` of every applied name operation and of
    every new name_new entry, in block order. Two indexes that followed the same active
    chain have the same root, whatever reorgs each saw on the way (disconnecting a block
    restores the root stored for its parent).

    Args:
        prev_root: the parent block's root (``GENESIS_STATE_ROOT`` before the first block).
        delta: a connect delta.

    Returns:
        32 bytes.
    """
    if delta.ops_added or delta.news_added:
        h = hashlib.sha256()
        for rec in delta.ops_added:
            h.update(encode_record(rec))
        for entry in delta.news_added:
            h.update(b"N" + entry.commitment + entry.txid + _U32X2.pack(entry.vout, entry.height))
        ops_digest = h.digest()
    else:
        ops_digest = _EMPTY_DIGEST
    return hashlib.sha256(_ROOT_TAG + prev_root + delta.block_hash + _U32.pack(delta.height) + ops_digest).digest()


# --- compact encodings (undo rows) ---------------------------------------------------
#
# record := u16 len(name) | name | u16 len(value) | value | txid[32] | u32 vout | u32 height
#           | block_hash[32] | u32 tx_index | u8 op | u8 has_addr | [u8 len(addr) | addr ascii]
#           | u32 expires_at_height | u32 epoch             (all integers little-endian)
# undo   := b"U1" | block_hash[32] | u32 height
#           | u32 n_prior  | n * (u16 len(name) | name | u8 present | [record])
#           | u32 n_ops    | n * (u16 len(name) | name | u32 tx_index)
#           | u32 n_added  | n * newentry
#           | u32 n_spent  | n * newentry
# newentry := u8 len(commitment) | commitment | txid[32] | u32 vout | u32 height


def encode_record(rec: NameRecord) -> bytes:
    """Encode a ``NameRecord`` in the compact layout above."""
    name, value = rec.name, rec.value
    if rec.address is None:
        addr_part = b"\x00"
    else:
        addr = rec.address.encode("ascii")
        addr_part = _ADDR_HEAD.pack(1, len(addr)) + addr
    return b"".join(
        (
            _U16.pack(len(name)),
            name,
            _U16.pack(len(value)),
            value,
            rec.txid,
            _U32X2.pack(rec.vout, rec.height),
            rec.block_hash,
            _INDEX_OP.pack(rec.tx_index, _OP_CODES[rec.op]),
            addr_part,
            _U32X2.pack(rec.expires_at_height, rec.epoch),
        )
    )


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ParseError(ErrorCode.WIRE_TRUNCATED, f"needs {n} bytes at offset {self.pos}", offset=self.pos)
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])


def _read_record(r: _Reader) -> NameRecord:
    name = r.take(r.u16())
    value = r.take(r.u16())
    txid = Txid(r.take(32))
    vout = r.u32()
    height = r.u32()
    block_hash = BlockHash(r.take(32))
    tx_index = r.u32()
    code = r.u8()
    if code not in _OP_NAMES:
        raise ParseError(ErrorCode.WIRE_BAD_TX, f"bad op code {code}", offset=r.pos)
    address: str | None = None
    if r.u8():
        try:
            address = r.take(r.u8()).decode("ascii")
        except UnicodeDecodeError as exc:
            raise ParseError(ErrorCode.WIRE_BAD_TX, "address is not ASCII", offset=r.pos) from exc
    expires = r.u32()
    epoch = r.u32()
    return NameRecord(
        name=name,
        value=value,
        txid=txid,
        vout=vout,
        height=height,
        block_hash=block_hash,
        tx_index=tx_index,
        op=_OP_NAMES[code],
        address=address,
        expires_at_height=expires,
        epoch=epoch,
    )


def decode_record(buf: bytes) -> NameRecord:
    """Decode ``encode_record`` output.

    Raises:
        ParseError: truncated or trailing bytes.
    """
    r = _Reader(buf)
    rec = _read_record(r)
    if r.pos != len(buf):
        raise ParseError(ErrorCode.WIRE_TRAILING, "trailing bytes after record", offset=r.pos)
    return rec


def _encode_new(e: NameNewEntry) -> bytes:
    return bytes((len(e.commitment),)) + e.commitment + e.txid + _U32X2.pack(e.vout, e.height)


def _read_new(r: _Reader) -> NameNewEntry:
    commitment = r.take(r.u8())
    txid = Txid(r.take(32))
    vout = r.u32()
    height = r.u32()
    return NameNewEntry(commitment=commitment, txid=txid, vout=vout, height=height)


def encode_undo(undo: Undo) -> bytes:
    """Encode an ``Undo`` in the compact layout above."""
    if not (undo.prior or undo.ops or undo.news_added or undo.news_spent):
        return b"U1" + undo.block_hash + _U32.pack(undo.height) + bytes(16)
    parts = [b"U1", undo.block_hash, _U32.pack(undo.height), _U32.pack(len(undo.prior))]
    for name, rec in undo.prior:
        parts.append(_U16.pack(len(name)) + name)
        parts.append(b"\x00" if rec is None else b"\x01" + encode_record(rec))
    parts.append(_U32.pack(len(undo.ops)))
    for key in undo.ops:
        parts.append(_U16.pack(len(key.name)) + key.name + _U32.pack(key.tx_index))
    for entries in (undo.news_added, undo.news_spent):
        parts.append(_U32.pack(len(entries)))
        parts.extend(_encode_new(e) for e in entries)
    return b"".join(parts)


def decode_undo(buf: bytes) -> Undo:
    """Decode ``encode_undo`` output.

    Raises:
        ParseError: bad magic, truncated or trailing bytes.
    """
    r = _Reader(buf)
    if r.take(2) != b"U1":
        raise ParseError(ErrorCode.WIRE_BAD_TX, "bad undo magic", offset=0)
    block_hash = BlockHash(r.take(32))
    height = r.u32()
    prior: list[tuple[bytes, NameRecord | None]] = []
    for _ in range(r.u32()):
        name = r.take(r.u16())
        prior.append((name, _read_record(r) if r.u8() else None))
    ops = []
    for _ in range(r.u32()):
        name = r.take(r.u16())
        ops.append(OpKey(name=name, height=height, tx_index=r.u32()))
    added = tuple(_read_new(r) for _ in range(r.u32()))
    spent = tuple(_read_new(r) for _ in range(r.u32()))
    if r.pos != len(buf):
        raise ParseError(ErrorCode.WIRE_TRAILING, "trailing bytes after undo", offset=r.pos)
    return Undo(
        block_hash=block_hash,
        height=height,
        prior=tuple(prior),
        ops=tuple(ops),
        news_added=added,
        news_spent=spent,
    )


def state_digest_of(records: Mapping[bytes, NameRecord]) -> bytes:
    """SHA-256 over every current record in name byte order (full recomputation)."""
    h = hashlib.sha256()
    for name in sorted(records):
        h.update(encode_record(records[name]))
    return h.digest()


# positional makers of the hot value types (field order as declared)
_make_outpoint = _positional_maker(Outpoint)
_make_op = _positional_maker(TxNameOp)
_make_name_tx = _positional_maker(NameTx)
_make_summary = _positional_maker(BlockSummary)
_make_delta = _positional_maker(NameDelta)
_make_undo = _positional_maker(Undo)
_make_record = _positional_maker(NameRecord)
_make_event = _positional_maker(NameEvent)
_make_opkey = _positional_maker(OpKey)
_make_new_entry = _positional_maker(NameNewEntry)
