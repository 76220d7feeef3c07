"""Namecoin wire format (core layer, pure): raw bytes <-> frozen Tx/BlockHeader/AuxPow/Block.

No I/O. Every malformed input raises ``ParseError``; failed hash/PoW/AuxPoW checks raise
``VerificationError``. Byte layouts follow namecoin-core ``primitives/*.h`` and ``auxpow.h``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from waypost.registry.errors import ChainError, ErrorCode, NotFoundError, ParseError, VerificationError
from waypost.registry.model import BlockHash, Txid, Wtxid

try:  # the optional compiled fast path (setup.py); same answers as the Python below
    from waypost.indexer import _wirescan
except ImportError:  # pragma: no cover - built without a C compiler or OpenSSL headers
    _wirescan = None  # type: ignore[assignment]

__all__ = [
    "OutPoint",
    "TxIn",
    "TxOut",
    "Tx",
    "BlockHeader",
    "AuxPow",
    "Block",
    "MerkleBlock",
    "NULL_HASH",
    "COINBASE_VOUT",
    "MERGED_MINING_HEADER",
    "MAX_SIZE",
    "NAMECOIN_TX_VERSION",
    "sha256d",
    "hash160",
    "parse_tx",
    "parse_block",
    "BlockScan",
    "FAST_SCAN",
    "scan_block",
    "ScannedTx",
    "base58check_payload",
    "parse_header",
    "parse_auxpow",
    "parse_merkle_block",
    "encode_tx",
    "encode_header",
    "encode_auxpow",
    "encode_block",
    "encode_merkle_block",
    "encode_varint",
    "merkle_root",
    "merkle_branch",
    "merkle_branches",
    "merkle_branches_of",
    "root_from_branch",
    "bits_to_target",
    "target_to_bits",
    "verify_pow",
    "verify_auxpow",
    "verify_header_chain",
    "verify_merkle_block",
    "build_merkle_block",
    "expected_chain_index",
    "coinbase_height",
    "hash_to_hex",
    "hex_to_hash",
]

NULL_HASH = bytes(32)
COINBASE_VOUT = 0xFFFFFFFF
# namecoin-core auxpow.h: pchMergedMiningHeader
MERGED_MINING_HEADER = b"\xfa\xbe\x6d\x6d"
# bitcoin serialize.h: MAX_SIZE, the largest CompactSize a length/count may take
MAX_SIZE = 0x02000000
# namecoin-core primitives/pureheader.h: VERSION_AUXPOW and VERSION_CHAINID_SHIFT
VERSION_AUXPOW = 1 << 8
VERSION_CHAINID_SHIFT = 16
# namecoin-core auxpow.cpp: "Aux POW chain merkle branch too long"
MAX_CHAIN_BRANCH = 30
# bitcoin consensus.h: MAX_BLOCK_WEIGHT / WITNESS_SCALE_FACTOR bound on a merkle-block tx count
_MAX_MERKLE_BLOCK_TXS = 4_000_000 // 60
# namecoin-core primitives/transaction.h: only transactions of this version carry name outputs
NAMECOIN_TX_VERSION = 0x7100

_HEADER = struct.Struct("<i32s32sIII")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_OUTPOINT_SCRIPTLEN = struct.Struct("<32sIB")
_sha256 = hashlib.sha256


def sha256d(data: bytes) -> bytes:
    """Double SHA-256 (bitcoin ``Hash``)."""
    return _sha256(_sha256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    """RIPEMD160(SHA256(data)) (bitcoin ``Hash160``)."""
    return hashlib.new("ripemd160", _sha256(data).digest()).digest()


def hash_to_hex(h: bytes) -> str:
    """Wire-order hash -> display hex (byte-reversed), as namecoind prints it."""
    return h[::-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Display hex -> wire-order bytes.

    Raises:
        ParseError: ``wire.bad-tx`` when ``s`` is not 64 hex digits.
    """
    try:
        raw = bytes.fromhex(s)
    except ValueError as exc:
        raise ParseError(ErrorCode.WIRE_BAD_TX, "not a hex hash", got=s[:80]) from exc
    if len(raw) != 32:
        raise ParseError(ErrorCode.WIRE_BAD_TX, "a hash is 32 bytes", got=len(raw))
    return raw[::-1]


# ---------------------------------------------------------------------------------------
# values


@dataclass(frozen=True, slots=True, kw_only=True)
class OutPoint:
    """A spent output: ``txid`` (wire order) and ``vout``. Coinbase: null txid, 0xffffffff."""

    txid: Txid
    vout: int

    @property
    def is_null(self) -> bool:
        """The coinbase outpoint (bitcoin ``COutPoint::IsNull``)."""
        return self.vout == COINBASE_VOUT and self.txid == NULL_HASH


@dataclass(frozen=True, slots=True, kw_only=True)
class TxIn:
    """A transaction input; ``witness`` is the segwit stack (empty for legacy)."""

    prevout: OutPoint
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TxOut:
    """A transaction output: amount in satoshi and the full scriptPubKey."""

    value_sat: int
    script: bytes


@dataclass(frozen=True, kw_only=True)
class Tx:
    """A transaction with its txid (no-witness hash) and wtxid, both in wire order.

    Parsed transactions decode ``inputs``/``outputs`` (and hash a segwit ``wtxid``)
    lazily on first access; the bytes were fully validated when parsed. An indexer that
    only looks at name transactions never builds the input/output objects of the others. This is why ``Tx`` has no
    ``__slots__``; it is still frozen and compares/hashes by its fields like any value.
    """

    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int
    txid: Txid
    wtxid: Wtxid

    @classmethod
    def create(
        cls,
        *,
        version: int,
        inputs: Sequence[TxIn],
        outputs: Sequence[TxOut],
        locktime: int = 0,
    ) -> Tx:
        """Build a Tx and compute its txid/wtxid from the serialisation."""
        ins = tuple(inputs)
        outs = tuple(outputs)
        stripped = _encode_tx_parts(version, ins, outs, locktime, False)
        txid = Txid(sha256d(stripped))
        if any(i.witness for i in ins):
            wtxid = Wtxid(sha256d(_encode_tx_parts(version, ins, outs, locktime, True)))
        else:
            wtxid = Wtxid(txid)
        return cls(version=version, inputs=ins, outputs=outs, locktime=locktime, txid=txid, wtxid=wtxid)

    def __getattr__(self, name: str) -> tuple[TxIn, ...] | tuple[TxOut, ...] | Wtxid:
        # Only reached for the lazily decoded fields of a parsed Tx (never for set fields).
        state = self.__dict__
        if "_raw" not in state:
            raise AttributeError(name)
        outputs_at, witness_at = state["_at"]
        if name == "outputs":
            outputs = state["outputs"] = _decode_outputs(state["_raw"], outputs_at)
            return outputs
        if name == "inputs":
            inputs = state["inputs"] = _decode_inputs(state["_raw"], witness_at)
            return inputs
        if name == "wtxid":
            wtxid = state["wtxid"] = Wtxid(sha256d(state["_raw"]))
            return wtxid
        raise AttributeError(name)

    def __getstate__(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in ("version", "inputs", "outputs", "locktime", "txid", "wtxid")}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @property
    def is_coinbase(self) -> bool:
        """One input spending the null outpoint (bitcoin ``CTransaction::IsCoinBase``)."""
        inputs = self.inputs
        return len(inputs) == 1 and inputs[0].prevout.is_null

    @property
    def has_witness(self) -> bool:
        return any(i.witness for i in self.inputs)

    @property
    def txid_hex(self) -> str:
        return self.txid[::-1].hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockHeader:
    """The 80-byte header (namecoin-core ``CPureBlockHeader``)."""

    version: int
    prev_hash: BlockHash
    merkle_root: bytes
    time_s: int
    bits: int
    nonce: int

    @property
    def hash(self) -> BlockHash:
        """Double SHA-256 of the 80 bytes, wire order."""
        return BlockHash(sha256d(encode_header(self)))

    @property
    def chain_id(self) -> int:
        """namecoin-core ``GetChainId``: ``nVersion >> 16``."""
        return self.version >> VERSION_CHAINID_SHIFT

    @property
    def is_auxpow(self) -> bool:
        """The AuxPoW flag (0x100) of the version."""
        return bool(self.version & VERSION_AUXPOW)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuxPow:
    """Merge-mining proof (namecoin-core ``CAuxPow``).

    ``parent_block_hash`` and ``coinbase_index`` are serialised but never used by
    namecoin-core (it reads and drops them); they are kept for a faithful round trip.
    """

    coinbase_tx: Tx
    parent_block_hash: BlockHash
    coinbase_branch: tuple[bytes, ...]
    coinbase_index: int
    chain_branch: tuple[bytes, ...]
    chain_index: int
    parent_header: BlockHeader


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """A full block: header, optional AuxPoW, transactions."""

    header: BlockHeader
    auxpow: AuxPow | None
    txs: tuple[Tx, ...]

    @property
    def hash(self) -> BlockHash:
        return self.header.hash


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleBlock:
    """``gettxoutproof`` answer: header (+AuxPoW) and a partial merkle tree (BIP37)."""

    header: BlockHeader
    auxpow: AuxPow | None
    total_txs: int
    hashes: tuple[bytes, ...]
    flags: bytes


# ---------------------------------------------------------------------------------------
# hot-path constructors: a frozen dataclass ``__init__`` costs an ``object.__setattr__``
# lookup per field; parsing builds many values, so it fills the slots directly. Only for
# values whose fields were just decoded (the same invariants as ``__init__``).

_new_object = object.__new__
_OP_TXID = OutPoint.__dict__["txid"].__set__
_OP_VOUT = OutPoint.__dict__["vout"].__set__
_IN_PREVOUT = TxIn.__dict__["prevout"].__set__
_IN_SCRIPT = TxIn.__dict__["script_sig"].__set__
_IN_SEQUENCE = TxIn.__dict__["sequence"].__set__
_IN_WITNESS = TxIn.__dict__["witness"].__set__
_OUT_VALUE = TxOut.__dict__["value_sat"].__set__
_OUT_SCRIPT = TxOut.__dict__["script"].__set__


def _make_txin(txid: bytes, vout: int, script_sig: bytes, sequence: int, witness: tuple[bytes, ...]) -> TxIn:
    prevout = _new_object(OutPoint)
    _OP_TXID(prevout, txid)
    _OP_VOUT(prevout, vout)
    txin = _new_object(TxIn)
    _IN_PREVOUT(txin, prevout)
    _IN_SCRIPT(txin, script_sig)
    _IN_SEQUENCE(txin, sequence)
    _IN_WITNESS(txin, witness)
    return txin


def _make_txout(value_sat: int, script: bytes) -> TxOut:
    txout = _new_object(TxOut)
    _OUT_VALUE(txout, value_sat)
    _OUT_SCRIPT(txout, script)
    return txout


# ---------------------------------------------------------------------------------------
# low-level reading helpers (positions are ints into an immutable ``bytes``)


def _truncated(what: str, pos: int) -> ParseError:
    return ParseError(ErrorCode.WIRE_TRUNCATED, f"input ends inside {what}", offset=pos)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """bitcoin serialize.h ``ReadCompactSize`` (canonical, <= MAX_SIZE)."""
    try:
        first = buf[pos]
    except IndexError:
        raise _truncated("a var-int", pos) from None
    if first < 0xFD:
        return first, pos + 1
    try:
        if first == 0xFD:
            value = _U16.unpack_from(buf, pos + 1)[0]
            pos += 3
            minimum = 0xFD
        elif first == 0xFE:
            value = _U32.unpack_from(buf, pos + 1)[0]
            pos += 5
            minimum = 0x10000
        else:
            value = _U64.unpack_from(buf, pos + 1)[0]
            pos += 9
            minimum = 0x100000000
    except struct.error:
        raise _truncated("a var-int", pos) from None
    if value < minimum:
        raise ParseError(ErrorCode.WIRE_VARINT, "non-canonical var-int", offset=pos, got=value)
    if value > MAX_SIZE:
        raise ParseError(ErrorCode.WIRE_OVERSIZE, "var-int above MAX_SIZE", offset=pos, got=value)
    return value, pos


def _read_count(buf: bytes, pos: int, min_item: int, what: str) -> tuple[int, int]:
    """A var-int count, rejected before allocating when the rest cannot hold it."""
    count, pos = _read_varint(buf, pos)
    if count * min_item > len(buf) - pos:
        raise ParseError(
            ErrorCode.WIRE_OVERSIZE,
            f"{what} count {count} exceeds the remaining {len(buf) - pos} bytes",
            offset=pos,
            got=count,
        )
    return count, pos


def _read_bytes(buf: bytes, pos: int, what: str) -> tuple[bytes, int]:
    """A var-int length followed by that many bytes."""
    length, pos = _read_varint(buf, pos)
    end = pos + length
    if end > len(buf):
        raise _truncated(what, pos)
    return buf[pos:end], end


def _read_hashes(buf: bytes, pos: int, what: str) -> tuple[tuple[bytes, ...], int]:
    count, pos = _read_count(buf, pos, 32, what)
    out = tuple(buf[p : p + 32] for p in range(pos, pos + 32 * count, 32))
    return out, pos + 32 * count


# ---------------------------------------------------------------------------------------
# transactions
#
# Layout (bitcoin primitives/transaction.h, BIP144):
#   version u32 | [marker 0x00, flag 0x01] | vin | vout | [witness per input] | locktime u32
#   vin:  count, then per input: prev txid 32 | prev vout u32 | script var-bytes | sequence u32
#   vout: count, then per output: value i64 | script var-bytes
#   witness: per input a count of stack items, each var-bytes


def _skim_tx(buf: bytes, pos: int) -> tuple[int, int, int, int]:
    """Validate one transaction's layout from ``pos`` without building objects.

    Returns ``(end, body_start, outputs_at, body_end)`` as absolute offsets; ``body_start``
    is 0 for a legacy transaction, otherwise the vin..vout span hashed for the txid. Every check that decoding would
    make is made here, so the lazy decode of a skimmed transaction cannot fail.
    """
    n = len(buf)
    start = pos
    p = pos + 4
    try:
        segwit = buf[p] == 0 and p + 1 < n
        if segwit:
            # BIP144 marker; bitcoin: an empty vin followed by flags != 0 means extended format.
            if buf[p + 1] != 1:
                raise ParseError(ErrorCode.WIRE_BAD_TX, "unknown transaction optional data", offset=p)
            p += 2
        body_start = p
        count = buf[p]
        if count < 0xFD:
            p += 1
        else:
            count, p = _read_varint(buf, p)
        if count * 41 > n - p:
            raise ParseError(ErrorCode.WIRE_OVERSIZE, f"input count {count} exceeds the remaining bytes", offset=p)
        n_in = count
        for _ in range(count):
            p += 36
            length = buf[p]
            if length < 0xFD:
                p += 1 + length
            else:
                length, p = _read_varint(buf, p)
                p += length
            p += 4
        outputs_at = p
        count = buf[p]
        if count < 0xFD:
            p += 1
        else:
            count, p = _read_varint(buf, p)
        if count * 9 > n - p:
            raise ParseError(ErrorCode.WIRE_OVERSIZE, f"output count {count} exceeds the remaining bytes", offset=p)
        for _ in range(count):
            p += 8
            length = buf[p]
            if length < 0xFD:
                p += 1 + length
            else:
                length, p = _read_varint(buf, p)
                p += length
        body_end = p
        if segwit:
            if n_in == 0:
                raise ParseError(ErrorCode.WIRE_BAD_TX, "segwit transaction without inputs", offset=start)
            any_witness = False
            for _ in range(n_in):
                items = buf[p]
                if items < 0xFD:
                    p += 1
                else:
                    items, p = _read_varint(buf, p)
                if items > n - p:
                    raise ParseError(ErrorCode.WIRE_OVERSIZE, f"witness count {items} exceeds the remaining bytes", offset=p)
                if items:
                    any_witness = True
                for _ in range(items):
                    length = buf[p]
                    if length < 0xFD:
                        p += 1 + length
                    else:
                        length, p = _read_varint(buf, p)
                        p += length
            if not any_witness:
                # bitcoin: "Superfluous witness record"
                raise ParseError(ErrorCode.WIRE_BAD_TX, "superfluous witness record", offset=start)
    except IndexError:
        raise _truncated("a transaction", min(p, n)) from None
    p += 4
    if p > n:
        raise _truncated("a transaction", n)
    return p, (body_start if segwit else 0), outputs_at, body_end


def _decode_inputs(raw: bytes, witness_at: int) -> tuple[TxIn, ...]:
    """Decode the inputs of one already skimmed (valid) serialised transaction."""
    segwit = raw[4] == 0  # a skimmed tx has a zero byte here only as the BIP144 marker
    pos = 6 if segwit else 4
    n_in, pos = _read_varint(raw, pos)
    witnesses: list[tuple[bytes, ...]] = [()] * n_in
    if segwit:
        wpos = witness_at
        for i in range(n_in):
            n_items, wpos = _read_varint(raw, wpos)
            items = []
            for _ in range(n_items):
                item, wpos = _read_bytes(raw, wpos, "a witness item")
                items.append(item)
            witnesses[i] = tuple(items)
    inputs: list[TxIn] = []
    unpack_op = _OUTPOINT_SCRIPTLEN.unpack_from
    u32 = _U32.unpack_from
    make = _make_txin
    for i in range(n_in):
        txid, vout, slen = unpack_op(raw, pos)
        if slen < 0xFD:
            pos += 37
            script = raw[pos : pos + slen]
            pos += slen
        else:
            script, pos = _read_bytes(raw, pos + 36, "a scriptSig")
        inputs.append(make(txid, vout, script, u32(raw, pos)[0], witnesses[i]))
        pos += 4
    return tuple(inputs)


def _decode_outputs(raw: bytes, pos: int) -> tuple[TxOut, ...]:
    """Decode the outputs of one already skimmed (valid) serialised transaction."""
    n_out, pos = _read_varint(raw, pos)
    outputs: list[TxOut] = []
    unpack_val = _I64.unpack_from
    make = _make_txout
    for _ in range(n_out):
        value = unpack_val(raw, pos)[0]
        slen = raw[pos + 8]
        if slen < 0xFD:
            pos += 9
            script = raw[pos : pos + slen]
            pos += slen
        else:
            script, pos = _read_bytes(raw, pos + 8, "a scriptPubKey")
        outputs.append(make(value, script))
    return tuple(outputs)


def _parse_tx_at(buf: bytes, pos: int) -> tuple[Tx, int]:
    """Parse one transaction starting at ``pos``; return it and the end offset.

    The txid is the double SHA-256 of the raw slice (for segwit: of version, the
    vin..vout span and locktime); inputs and outputs are decoded on first access.
    """
    end, body_start, outputs_at, body_end = _skim_tx(buf, pos)
    raw = buf[pos:end]
    tx = _new_object(Tx)
    if body_start:
        # segwit: the wtxid (hash of everything) is computed on first access
        txid = _sha256(_sha256(raw[:4] + buf[body_start:body_end] + raw[-4:]).digest()).digest()
        tx.__dict__.update(
            version=_U32.unpack_from(raw)[0],
            locktime=_U32.unpack_from(raw, len(raw) - 4)[0],
            txid=txid,
            _raw=raw,
            _at=(outputs_at - pos, body_end - pos),
        )
    else:
        txid = _sha256(_sha256(raw).digest()).digest()
        tx.__dict__.update(
            version=_U32.unpack_from(raw)[0],
            locktime=_U32.unpack_from(raw, len(raw) - 4)[0],
            txid=txid,
            wtxid=txid,
            _raw=raw,
            _at=(outputs_at - pos, body_end - pos),
        )
    return tx, end


def parse_tx(raw: bytes) -> Tx:
    """Parse one serialised transaction (``getrawtransaction <txid> 0``).

    Args:
        raw: legacy or BIP144 (segwit) serialisation.

    Returns:
        The transaction with txid and wtxid.

    Raises:
        ParseError: ``wire.truncated``, ``wire.bad-varint``, ``wire.oversize``,
            ``wire.bad-tx``, ``wire.trailing-bytes``.
    """
    raw = bytes(raw)
    tx, end = _parse_tx_at(raw, 0)
    if end != len(raw):
        raise ParseError(ErrorCode.WIRE_TRAILING, "bytes after the transaction", offset=end)
    return tx


def encode_varint(n: int) -> bytes:
    """bitcoin ``WriteCompactSize``."""
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def _encode_tx_parts(
    version: int,
    inputs: tuple[TxIn, ...],
    outputs: tuple[TxOut, ...],
    locktime: int,
    with_witness: bool,
) -> bytes:
    parts = [_U32.pack(version)]
    if with_witness:
        parts.append(b"\x00\x01")
    parts.append(encode_varint(len(inputs)))
    for i in inputs:
        parts.append(i.prevout.txid)
        parts.append(_U32.pack(i.prevout.vout))
        parts.append(encode_varint(len(i.script_sig)))
        parts.append(i.script_sig)
        parts.append(_U32.pack(i.sequence))
    parts.append(encode_varint(len(outputs)))
    for o in outputs:
        parts.append(_I64.pack(o.value_sat))
        parts.append(encode_varint(len(o.script)))
        parts.append(o.script)
    if with_witness:
        for i in inputs:
            parts.append(encode_varint(len(i.witness)))
            for item in i.witness:
                parts.append(encode_varint(len(item)))
                parts.append(item)
    parts.append(_U32.pack(locktime))
    return b"".join(parts)


def encode_tx(tx: Tx, *, include_witness: bool = True) -> bytes:
    """Serialise a transaction (BIP144 form when it has witness data and ``include_witness``)."""
    raw: bytes | None = tx.__dict__.get("_raw")
    if raw is not None and (include_witness or raw[4] != 0):
        return raw  # a parsed tx: its (canonical, validated) bytes
    return _encode_tx_parts(
        tx.version, tx.inputs, tx.outputs, tx.locktime, include_witness and tx.has_witness
    )


# ---------------------------------------------------------------------------------------
# headers, AuxPoW, blocks
#
# Header: version i32 | prev hash 32 | merkle root 32 | time u32 | bits u32 | nonce u32 (80 B)
# AuxPoW (namecoin-core auxpow.h SERIALIZE_METHODS): coinbase tx (with witness) |
#   parent block hash 32 (unused) | coinbase branch (count + 32 B each) | coinbase index i32
#   (unused, always 0) | chain branch (count + 32 B each) | chain index i32 | parent header 80 B
# Block: header | AuxPoW when version & 0x100 | tx count | txs


def _parse_header_at(buf: bytes, pos: int) -> BlockHeader:
    try:
        version, prev, root, time_s, bits, nonce = _HEADER.unpack_from(buf, pos)
    except struct.error:
        raise _truncated("a block header", pos) from None
    return BlockHeader(
        version=version,
        prev_hash=BlockHash(prev),
        merkle_root=root,
        time_s=time_s,
        bits=bits,
        nonce=nonce,
    )


def encode_header(header: BlockHeader) -> bytes:
    """The 80-byte header serialisation."""
    return _HEADER.pack(
        header.version,
        header.prev_hash,
        header.merkle_root,
        header.time_s,
        header.bits,
        header.nonce,
    )


def _parse_auxpow_at(buf: bytes, pos: int) -> tuple[AuxPow, int]:
    coinbase, pos = _parse_tx_at(buf, pos)
    if pos + 32 > len(buf):
        raise _truncated("the AuxPoW parent hash", pos)
    parent_hash = buf[pos : pos + 32]
    pos += 32
    coinbase_branch, pos = _read_hashes(buf, pos, "coinbase branch")
    try:
        coinbase_index = _I32.unpack_from(buf, pos)[0]
    except struct.error:
        raise _truncated("the AuxPoW coinbase index", pos) from None
    pos += 4
    chain_branch, pos = _read_hashes(buf, pos, "chain branch")
    try:
        chain_index = _I32.unpack_from(buf, pos)[0]
    except struct.error:
        raise _truncated("the AuxPoW chain index", pos) from None
    pos += 4
    parent = _parse_header_at(buf, pos)
    pos += 80
    auxpow = AuxPow(
        coinbase_tx=coinbase,
        parent_block_hash=BlockHash(parent_hash),
        coinbase_branch=coinbase_branch,
        coinbase_index=coinbase_index,
        chain_branch=chain_branch,
        chain_index=chain_index,
        parent_header=parent,
    )
    return auxpow, pos


def parse_auxpow(raw: bytes) -> AuxPow:
    """Parse a bare ``CAuxPow`` serialisation (no 80-byte header in front).

    Raises:
        ParseError: truncated, malformed or trailing bytes.
    """
    raw = bytes(raw)
    auxpow, end = _parse_auxpow_at(raw, 0)
    if end != len(raw):
        raise ParseError(ErrorCode.WIRE_TRAILING, "bytes after the AuxPoW", offset=end)
    return auxpow


def encode_auxpow(auxpow: AuxPow) -> bytes:
    """Serialise a ``CAuxPow`` (without the block header in front)."""
    return b"".join(
        (
            encode_tx(auxpow.coinbase_tx),
            auxpow.parent_block_hash,
            encode_varint(len(auxpow.coinbase_branch)),
            *auxpow.coinbase_branch,
            _I32.pack(auxpow.coinbase_index),
            encode_varint(len(auxpow.chain_branch)),
            *auxpow.chain_branch,
            _I32.pack(auxpow.chain_index),
            encode_header(auxpow.parent_header),
        )
    )


def _parse_full_header_at(buf: bytes, pos: int) -> tuple[BlockHeader, AuxPow | None, int]:
    header = _parse_header_at(buf, pos)
    pos += 80
    auxpow: AuxPow | None = None
    if header.version & VERSION_AUXPOW:
        auxpow, pos = _parse_auxpow_at(buf, pos)
    return header, auxpow, pos


def parse_header(raw: bytes) -> tuple[BlockHeader, AuxPow | None]:
    """Parse ``getblockheader <hash> false``: 80 bytes, plus the AuxPoW when flagged.

    Raises:
        ParseError: truncated, malformed or trailing bytes.
    """
    raw = bytes(raw)
    header, auxpow, end = _parse_full_header_at(raw, 0)
    if end != len(raw):
        raise ParseError(ErrorCode.WIRE_TRAILING, "bytes after the header", offset=end)
    return header, auxpow


def parse_block(raw: bytes, *, verify_merkle: bool = True) -> Block:
    """Parse a serialised block (``getblock <hash> 0``).

    Args:
        raw: header, AuxPoW when the version has 0x100, transactions.
        verify_merkle: check the header's merkle root against the txids.

    Returns:
        The block.

    Raises:
        ParseError: ``wire.truncated``, ``wire.bad-varint``, ``wire.oversize``,
            ``wire.bad-tx``, ``wire.trailing-bytes``.
        VerificationError: ``wire.merkle-mismatch`` (also for a CVE-2012-2459 mutated list).
    """
    raw = bytes(raw)
    header, auxpow, pos = _parse_full_header_at(raw, 0)
    # bitcoin: MIN_SERIALIZABLE_TRANSACTION_WEIGHT / 4 = 10 bytes per transaction at least
    n_tx, pos = _read_count(raw, pos, 10, "transaction")
    if n_tx == 0:
        raise ParseError(ErrorCode.WIRE_BAD_TX, "a block has at least one transaction", offset=pos)
    txs = []
    parse_at = _parse_tx_at
    for _ in range(n_tx):
        tx, pos = parse_at(raw, pos)
        txs.append(tx)
    if pos != len(raw):
        raise ParseError(ErrorCode.WIRE_TRAILING, "bytes after the last transaction", offset=pos)
    if verify_merkle:
        root, mutated = _merkle_root_mutated([t.txid for t in txs])
        if root != header.merkle_root:
            raise VerificationError(
                ErrorCode.WIRE_MERKLE_MISMATCH,
                "merkle root does not match the transactions",
                expected=hash_to_hex(header.merkle_root),
                got=hash_to_hex(root),
            )
        if mutated:
            # bitcoin validation.cpp CheckMerkleRoot: "bad-txns-duplicate"
            raise VerificationError(ErrorCode.WIRE_MERKLE_MISMATCH, "duplicate transactions (mutated merkle tree)")
    return Block(header=header, auxpow=auxpow, txs=tuple(txs))


@dataclass(frozen=True, slots=True)
class BlockScan:
    """What the indexer needs of a block without decoding every transaction.

    ``raw[:header_end]`` is the header with its AuxPoW; ``txids`` holds every txid (32 bytes
    each, block order); ``candidates`` are the transactions that may carry name outputs: version 0x7100, and with ``legacy`` also non-coinbase
    transactions with an output script starting with OP_1 (namecoin's historic name_new bug).
    """

    header_end: int
    hash: BlockHash
    txids: bytes
    candidates: tuple[ScannedTx, ...]


class ScannedTx(NamedTuple):
    """A ``BlockScan`` candidate: where it lies in the block and what name indexing reads."""

    tx_index: int
    start: int
    end: int
    version: int
    segwit: bool
    txid: Txid
    spent: tuple[tuple[bytes, int], ...]  # (prev txid, prev vout) per input
    scripts: tuple[bytes, ...]  # output scripts in order

    @classmethod
    def of(cls, tx_index: int, tx: Tx, start: int = 0) -> ScannedTx:
        """The fields of a decoded transaction serialised at ``start`` of its block."""
        return cls(
            tx_index,
            start,
            start + len(encode_tx(tx)),
            tx.version,
            tx.has_witness,
            tx.txid,
            tuple((i.prevout.txid, i.prevout.vout) for i in tx.inputs),
            tuple(o.script for o in tx.outputs),
        )


# True when the compiled scanner is built (it is optional: see setup.py)
FAST_SCAN = _wirescan is not None


def scan_block(raw: bytes, *, legacy: bool = False) -> BlockScan:
    """Validate a serialised block as ``parse_block`` does and skim it (see ``BlockScan``).

    The compiled scanner handles well-formed blocks; anything else (or no scanner) goes
    through ``parse_block``, so the errors raised are exactly its errors.

    Raises:
        ParseError, VerificationError: as ``parse_block``.
    """
    if _wirescan is not None:
        found = _wirescan.scan_block(raw, legacy)
        if found is not None:
            header_end, block_hash, txids, candidates = found
            return BlockScan(header_end, BlockHash(block_hash), txids, tuple(map(ScannedTx._make, candidates)))
    return _scan_block_py(bytes(raw), legacy)


def base58check_payload(payload: bytes) -> str | None:
    """Base58Check of ``payload`` by the compiled scanner (None when it is not built)."""
    return None if _wirescan is None else _wirescan.base58check(payload)


def _scan_block_py(raw: bytes, legacy: bool) -> BlockScan:
    block = parse_block(raw)
    _, _, header_end = _parse_full_header_at(raw, 0)
    _, pos = _read_varint(raw, header_end)
    candidates = []
    for index, tx in enumerate(block.txs):
        if tx.version == NAMECOIN_TX_VERSION or (legacy and index and any(o.script[:1] == b"\x51" for o in tx.outputs)):
            candidates.append(ScannedTx.of(index, tx, pos))
        pos += len(encode_tx(tx))
    return BlockScan(header_end, block.hash, b"".join(t.txid for t in block.txs), tuple(candidates))


def _encode_full_header(header: BlockHeader, auxpow: AuxPow | None) -> bytes:
    if auxpow is None:
        return encode_header(header)
    return encode_header(header) + encode_auxpow(auxpow)


def encode_block(block: Block) -> bytes:
    """Serialise a block as namecoind does (header, AuxPoW when present, txs with witness)."""
    parts = [_encode_full_header(block.header, block.auxpow), encode_varint(len(block.txs))]
    parts.extend(encode_tx(t) for t in block.txs)
    return b"".join(parts)


# ---------------------------------------------------------------------------------------
# merkle trees (bitcoin consensus/merkle.cpp)


def _merkle_root_mutated(hashes: Sequence[bytes]) -> tuple[bytes, bool]:
    """bitcoin ``ComputeMerkleRoot``: the root, and whether a level had two equal
    neighbours (CVE-2012-2459: such a list shares its root with a shorter one)."""
    if not hashes:
        return NULL_HASH, False
    level = list(hashes)
    mutated = False
    sha = _sha256
    while len(level) > 1:
        left = level[0::2]
        right = level[1::2]
        if not mutated:
            mutated = any(map(bytes.__eq__, left, right))
        if len(level) & 1:
            right.append(level[-1])
        level = [sha(sha(a + b).digest()).digest() for a, b in zip(left, right)]
    return level[0], mutated


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """Bitcoin transaction merkle root (the last hash is paired with itself on odd levels)."""
    return _merkle_root_mutated(hashes)[0]


def merkle_branch(hashes: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """Sibling hashes from leaf ``index`` up to the root (fold with ``root_from_branch``).

    Raises:
        ParseError: ``wire.bad-tx`` when ``index`` is not a leaf position.
    """
    if not 0 <= index < len(hashes):
        raise ParseError(ErrorCode.WIRE_BAD_TX, "leaf index out of range", got=index, size=len(hashes))
    level = list(hashes)
    branch = []
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        branch.append(level[index ^ 1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index >>= 1
    return tuple(branch)


def merkle_branches(hashes: Sequence[bytes], indices: Sequence[int]) -> list[tuple[bytes, ...]]:
    """``merkle_branch`` for several leaves, building the tree once (O(n + k log n)).

    Raises:
        ParseError: ``wire.bad-tx`` when an index is not a leaf position.
    """
    _check_leaves(len(hashes), indices)
    if _wirescan is not None and hashes:
        return _wirescan.merkle_branches(b"".join(hashes), indices)
    return _merkle_branches_py(hashes, indices)


def merkle_branches_of(txids: bytes, indices: Sequence[int]) -> list[tuple[bytes, ...]]:
    """``merkle_branches`` over concatenated 32-byte hashes (``BlockScan.txids``)."""
    _check_leaves(len(txids) // 32, indices)
    if _wirescan is not None and txids:
        return _wirescan.merkle_branches(txids, indices)
    return _merkle_branches_py([txids[k : k + 32] for k in range(0, len(txids), 32)], indices)


def _check_leaves(size: int, indices: Sequence[int]) -> None:
    if any(not 0 <= i < size for i in indices):
        raise ParseError(ErrorCode.WIRE_BAD_TX, "leaf index out of range", size=size)


def _merkle_branches_py(hashes: Sequence[bytes], indices: Sequence[int]) -> list[tuple[bytes, ...]]:
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        if len(level) & 1:
            level.append(level[-1])  # bitcoin merkle: duplicate the last node of an odd level
        levels.append([sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)])
    out = []
    for index in indices:
        branch = []
        for level in levels[:-1]:
            branch.append(level[index ^ 1])
            index >>= 1
        out.append(tuple(branch))
    return out


def root_from_branch(leaf: bytes, branch: Sequence[bytes], index: int) -> bytes:
    """namecoin-core ``CAuxPow::CheckMerkleBranch``: fold ``branch`` into ``leaf``."""
    h = leaf
    for sibling in branch:
        h = sha256d(sibling + h) if index & 1 else sha256d(h + sibling)
        index >>= 1
    return h


# ---------------------------------------------------------------------------------------
# proof of work


def bits_to_target(bits: int) -> int:
    """arith_uint256 ``SetCompact``.

    Raises:
        ParseError: ``wire.bad-bits`` for a negative or overflowing compact value.
    """
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if exponent <= 3:
        target = mantissa >> (8 * (3 - exponent))
    else:
        target = mantissa << (8 * (exponent - 3))
    negative = mantissa != 0 and bool(bits & 0x00800000)
    overflow = mantissa != 0 and (
        exponent > 34 or (mantissa > 0xFF and exponent > 33) or (mantissa > 0xFFFF and exponent > 32)
    )
    if negative or overflow:
        raise ParseError(ErrorCode.WIRE_BAD_BITS, "negative or overflowing compact target", bits=f"{bits:08x}")
    return target


def target_to_bits(target: int) -> int:
    """arith_uint256 ``GetCompact`` (inverse of ``bits_to_target`` for normalised values)."""
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = target << (8 * (3 - size))
    else:
        compact = target >> (8 * (size - 3))
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    return compact | (size << 24)


def _check_hash_target(h: bytes, bits: int, what: str) -> None:
    target = bits_to_target(bits)
    if target == 0:
        raise VerificationError(ErrorCode.WIRE_BAD_BITS, "zero target", bits=f"{bits:08x}")
    if int.from_bytes(h, "little") > target:
        raise VerificationError(
            ErrorCode.WIRE_BAD_POW,
            f"{what} hash does not meet the target",
            hash=hash_to_hex(h),
            bits=f"{bits:08x}",
        )


def expected_chain_index(nonce: int, chain_id: int, height: int) -> int:
    """namecoin-core ``CAuxPow::getExpectedIndex`` (32-bit LCG on nonce and chain id)."""
    rand = (nonce * 1103515245 + 12345) & 0xFFFFFFFF
    rand = (rand + chain_id) & 0xFFFFFFFF
    rand = (rand * 1103515245 + 12345) & 0xFFFFFFFF
    return rand % (1 << height)


def verify_auxpow(
    header: BlockHeader,
    auxpow: AuxPow,
    *,
    chain_id: int,
    strict_chain_id: bool = True,
    check_pow: bool = True,
) -> None:
    """namecoin-core ``CAuxPow::check`` plus the parent PoW check.

    Args:
        header: the merge-mined block's header (its hash is committed in the parent coinbase).
        auxpow: the proof.
        chain_id: our AuxPoW chain id (Namecoin: 1).
        strict_chain_id: ``fStrictChainId``: refuse a parent with our own chain id.
        check_pow: also check that the parent header's hash meets ``header.bits``.

    Raises:
        VerificationError: ``auxpow.bad-chain-id``, ``auxpow.bad-branch``,
            ``auxpow.bad-commitment``, ``auxpow.bad-index``, ``wire.bad-pow``.
        ParseError: ``wire.bad-bits``.
    """
    parent = auxpow.parent_header
    if strict_chain_id and parent.chain_id == chain_id:
        raise VerificationError(ErrorCode.AUXPOW_BAD_CHAIN_ID, "AuxPoW parent has our chain ID", chain_id=chain_id)
    if len(auxpow.chain_branch) > MAX_CHAIN_BRANCH:
        raise VerificationError(ErrorCode.AUXPOW_BAD_BRANCH, "AuxPoW chain merkle branch too long")
    chain_root = root_from_branch(header.hash, auxpow.chain_branch, auxpow.chain_index)
    committed = chain_root[::-1]  # namecoin-core: "correct endian"
    # namecoin-core: the coinbase is always leaf 0 of the parent tree (the stored index is ignored)
    if root_from_branch(auxpow.coinbase_tx.txid, auxpow.coinbase_branch, 0) != parent.merkle_root:
        raise VerificationError(ErrorCode.AUXPOW_BAD_BRANCH, "AuxPoW merkle root incorrect")
    if not auxpow.coinbase_tx.inputs:
        raise VerificationError(ErrorCode.AUXPOW_BAD_COMMITMENT, "AuxPoW coinbase has no inputs")
    script = auxpow.coinbase_tx.inputs[0].script_sig
    head = script.find(MERGED_MINING_HEADER)
    pc = script.find(committed)
    if pc < 0:
        raise VerificationError(ErrorCode.AUXPOW_BAD_COMMITMENT, "AuxPoW missing chain merkle root in parent coinbase")
    if head >= 0:
        if script.find(MERGED_MINING_HEADER, head + 1) >= 0:
            raise VerificationError(ErrorCode.AUXPOW_BAD_COMMITMENT, "multiple merged mining headers in coinbase")
        if head + len(MERGED_MINING_HEADER) != pc:
            raise VerificationError(
                ErrorCode.AUXPOW_BAD_COMMITMENT, "merged mining header is not just before chain merkle root"
            )
    elif pc > 20:
        raise VerificationError(
            ErrorCode.AUXPOW_BAD_COMMITMENT,
            "AuxPoW chain merkle root must start in the first 20 bytes of the parent coinbase",
        )
    pc += len(committed)
    if len(script) - pc < 8:
        raise VerificationError(
            ErrorCode.AUXPOW_BAD_COMMITMENT, "AuxPoW missing chain merkle tree size and nonce in parent coinbase"
        )
    size, nonce = struct.unpack_from("<II", script, pc)
    height = len(auxpow.chain_branch)
    if size != 1 << height:
        raise VerificationError(
            ErrorCode.AUXPOW_BAD_INDEX, "AuxPoW merkle branch size does not match parent coinbase", got=size
        )
    if auxpow.chain_index != expected_chain_index(nonce, chain_id, height):
        raise VerificationError(ErrorCode.AUXPOW_BAD_INDEX, "AuxPoW wrong index", got=auxpow.chain_index)
    if check_pow:
        _check_hash_target(sha256d(encode_header(parent)), header.bits, "AuxPoW parent")


def verify_pow(
    header: BlockHeader,
    auxpow: AuxPow | None,
    *,
    chain_id: int = 1,
    strict_chain_id: bool = True,
) -> None:
    """namecoin-core ``CheckProofOfWork`` (block version): plain blocks by their own hash,
    merge-mined blocks by the AuxPoW (commitment + parent hash against ``header.bits``).

    Args:
        header: the block header.
        auxpow: its AuxPoW, None for a plain header.
        chain_id: our AuxPoW chain id (Namecoin: 1).
        strict_chain_id: ``fStrictChainId`` (mainnet/regtest True, testnet False): a
            non-legacy block (version != 1) must carry ``chain_id``, and the parent must not.

    Raises:
        VerificationError: ``auxpow.bad-chain-id``, ``auxpow.missing``, ``auxpow.unexpected``,
            ``wire.bad-pow``, the AuxPoW codes of ``verify_auxpow``.
        ParseError: ``wire.bad-bits``.
    """
    # namecoin-core CheckProofOfWork: non-legacy blocks (nVersion != 1) carry our chain id
    if strict_chain_id and header.version != 1 and header.chain_id != chain_id:
        raise VerificationError(
            ErrorCode.AUXPOW_BAD_CHAIN_ID, "block does not have our chain ID", got=header.chain_id
        )
    if auxpow is None:
        if header.is_auxpow:
            raise VerificationError(ErrorCode.AUXPOW_MISSING, "no AuxPoW on a block with the AuxPoW version")
        _check_hash_target(header.hash, header.bits, "block")
        return
    if not header.is_auxpow:
        raise VerificationError(ErrorCode.AUXPOW_UNEXPECTED, "AuxPoW on a block without the AuxPoW version")
    verify_auxpow(header, auxpow, chain_id=chain_id, strict_chain_id=strict_chain_id)


def verify_header_chain(headers: Sequence[BlockHeader], *, pow_limit_bits: int | None = None) -> None:
    """Check prev-hash linkage and that every ``bits`` is a sane target.

    Args:
        headers: consecutive headers, oldest first.
        pow_limit_bits: when given, no target may be easier than this one
            (bitcoin ``CheckProofOfWork``: "nBits below minimum work").

    Raises:
        ChainError: ``wire.prev-mismatch`` when a header does not point at the one before.
        ParseError: ``wire.bad-bits`` for a zero, negative, overflowing or too easy target.
    """
    limit = bits_to_target(pow_limit_bits) if pow_limit_bits is not None else None
    prev: BlockHash | None = None
    for i, h in enumerate(headers):
        target = bits_to_target(h.bits)
        if target == 0 or (limit is not None and target > limit):
            raise ParseError(ErrorCode.WIRE_BAD_BITS, "target zero or above the PoW limit", index=i, bits=f"{h.bits:08x}")
        if prev is not None and h.prev_hash != prev:
            raise ChainError(
                ErrorCode.WIRE_PREV_MISMATCH,
                "header does not link to the previous one",
                index=i,
                expected=hash_to_hex(prev),
                got=hash_to_hex(h.prev_hash),
            )
        prev = h.hash


def coinbase_height(tx: Tx) -> int | None:
    """BIP34 height: the first push of the coinbase scriptSig, or None when absent.

    Heights 0..16 are OP_0..OP_16 (``CScript() << nHeight``), others a minimal LE number.
    """
    if not tx.is_coinbase:
        return None
    script = tx.inputs[0].script_sig
    if not script:
        return None
    op = script[0]
    if op == 0:
        return 0
    if 0x51 <= op <= 0x60:
        return op - 0x50
    if 1 <= op <= 8 and len(script) > op:
        num = script[1 : 1 + op]
        value = int.from_bytes(num, "little")
        if num[-1] & 0x80:
            return None  # negative: not a height
        return value
    return None


# ---------------------------------------------------------------------------------------
# merkle blocks (gettxoutproof; bitcoin merkleblock.h CPartialMerkleTree)
#
# Layout: header (+AuxPoW) | total txs u32 | hash count + 32 B each | flag byte count + bytes
# Flag bits are read least-significant bit first.


def parse_merkle_block(raw: bytes) -> MerkleBlock:
    """Parse a ``gettxoutproof`` answer.

    Raises:
        ParseError: truncated, malformed or trailing bytes.
    """
    raw = bytes(raw)
    header, auxpow, pos = _parse_full_header_at(raw, 0)
    try:
        total = _U32.unpack_from(raw, pos)[0]
    except struct.error:
        raise _truncated("the merkle block tx count", pos) from None
    pos += 4
    hashes, pos = _read_hashes(raw, pos, "merkle block hash")
    flags, pos = _read_bytes(raw, pos, "merkle block flags")
    if pos != len(raw):
        raise ParseError(ErrorCode.WIRE_TRAILING, "bytes after the merkle block", offset=pos)
    return MerkleBlock(header=header, auxpow=auxpow, total_txs=total, hashes=hashes, flags=flags)


def encode_merkle_block(mb: MerkleBlock) -> bytes:
    """Serialise a merkle block (inverse of ``parse_merkle_block``)."""
    return b"".join(
        (
            _encode_full_header(mb.header, mb.auxpow),
            _U32.pack(mb.total_txs),
            encode_varint(len(mb.hashes)),
            *mb.hashes,
            encode_varint(len(mb.flags)),
            mb.flags,
        )
    )


def build_merkle_block(block: Block, txids: Collection[bytes]) -> MerkleBlock:
    """Build the ``gettxoutproof`` answer for ``txids`` of ``block``
    (bitcoin ``CPartialMerkleTree`` constructor, ``TraverseAndBuild``).

    Raises:
        NotFoundError: ``not-found`` when none of ``txids`` is in the block.
    """
    leaves = [t.txid for t in block.txs]
    wanted = set(txids)
    match = [t in wanted for t in leaves]
    if not any(match):
        raise NotFoundError(ErrorCode.NOT_FOUND, "none of the transactions is in the block")
    total = len(leaves)
    height = 0
    while (total + (1 << height) - 1) >> height > 1:
        height += 1
    bits: list[bool] = []
    hashes: list[bytes] = []

    def node_hash(h: int, pos: int) -> bytes:
        if h == 0:
            return leaves[pos]
        left = node_hash(h - 1, pos * 2)
        right = node_hash(h - 1, pos * 2 + 1) if pos * 2 + 1 < (total + (1 << (h - 1)) - 1) >> (h - 1) else left
        return sha256d(left + right)

    def build(h: int, pos: int) -> None:
        parent_of_match = any(match[pos << h : (pos + 1) << h])
        bits.append(parent_of_match)
        if h == 0 or not parent_of_match:
            hashes.append(node_hash(h, pos))
            return
        build(h - 1, pos * 2)
        if pos * 2 + 1 < (total + (1 << (h - 1)) - 1) >> (h - 1):
            build(h - 1, pos * 2 + 1)

    build(height, 0)
    flags = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            flags[i >> 3] |= 1 << (i & 7)
    return MerkleBlock(
        header=block.header,
        auxpow=block.auxpow,
        total_txs=total,
        hashes=tuple(hashes),
        flags=bytes(flags),
    )


def verify_merkle_block(mb: MerkleBlock) -> tuple[Txid, ...]:
    """bitcoin ``CPartialMerkleTree::ExtractMatches``: check the tree, return matched txids.

    Raises:
        VerificationError: ``wire.merkle-mismatch`` when the tree is malformed or its root is
            not the header's merkle root.
    """

    def bad(why: str) -> VerificationError:
        return VerificationError(ErrorCode.WIRE_MERKLE_MISMATCH, f"bad partial merkle tree: {why}")

    total = mb.total_txs
    if total == 0:
        raise bad("no transactions")
    if total > _MAX_MERKLE_BLOCK_TXS:
        raise bad("too many transactions")
    if len(mb.hashes) > total:
        raise bad("more hashes than transactions")
    if len(mb.flags) * 8 < len(mb.hashes):
        raise bad("fewer flag bits than hashes")
    height = 0
    while (total + (1 << height) - 1) >> height > 1:
        height += 1
    bits_used = 0
    hashes_used = 0
    matches: list[Txid] = []
    mutated = False

    def width(h: int) -> int:
        return (total + (1 << h) - 1) >> h

    def walk(h: int, pos: int) -> bytes:
        nonlocal bits_used, hashes_used, mutated
        if bits_used >= len(mb.flags) * 8:
            raise bad("overflowed the flag bits")
        flag = (mb.flags[bits_used >> 3] >> (bits_used & 7)) & 1
        bits_used += 1
        if h == 0 or not flag:
            if hashes_used >= len(mb.hashes):
                raise bad("overflowed the hash list")
            node = mb.hashes[hashes_used]
            hashes_used += 1
            if h == 0 and flag:
                matches.append(Txid(node))
            return node
        left = walk(h - 1, pos * 2)
        if pos * 2 + 1 < width(h - 1):
            right = walk(h - 1, pos * 2 + 1)
            if right == left:
                mutated = True
        else:
            right = left
        return sha256d(left + right)

    root = walk(height, 0)
    if (bits_used + 7) // 8 != len(mb.flags):
        raise bad("not all flag bytes consumed")
    if hashes_used != len(mb.hashes):
        raise bad("not all hashes consumed")
    if mutated:
        raise bad("identical left and right branches")
    if root != mb.header.merkle_root:
        raise VerificationError(
            ErrorCode.WIRE_MERKLE_MISMATCH,
            "partial merkle tree root does not match the header",
            expected=hash_to_hex(mb.header.merkle_root),
            got=hash_to_hex(root),
        )
    return tuple(matches)
