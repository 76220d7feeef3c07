"""Transparency-log leaf: one resolved address state change, as canonical CBOR (core layer).

DESIGN §3: ``{v: 1, address, epoch, seq, record_hash, source, verdict}`` encoded with
``registry.chain.encode_canonical``; the leaf hash is RFC 9162's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from waypost.registry import merkle
from waypost.registry.chain import decode_canonical, encode_canonical
from waypost.registry.errors import ErrorCode, ParseError
from waypost.registry.model import LeafHash, Sha256, Txid

__all__ = [
    "LEAF_VERSION",
    "VERDICT_ACCEPTED",
    "VERDICT_FLAGGED",
    "VERDICT_REORG_RESTORED",
    "NamecoinSource",
    "ChainSource",
    "LogLeaf",
    "address_key",
]

LEAF_VERSION = 1
VERDICT_ACCEPTED = "accepted"
VERDICT_FLAGGED = "flagged"
# A reorg cannot remove leaves (the log is append-only): the restored state is appended
# again with this verdict, and the state map points at the new leaf (docs/log.md).
VERDICT_REORG_RESTORED = "reorg-restored"


def address_key(address: str) -> Sha256:
    """State-map key of an address: SHA-256 of its normalised UTF-8 text.

    The caller passes the address already normalised (``registry.address`` formatting).
    """
    return Sha256(hashlib.sha256(address.encode("utf-8")).digest())


@dataclass(frozen=True, slots=True, kw_only=True)
class NamecoinSource:
    """The name operation a state came from: block height, txid (wire order), output index."""

    height: int
    txid: Txid
    vout: int

    def __post_init__(self) -> None:
        if self.height < 0 or self.vout < 0 or len(self.txid) != 32:
            raise ParseError(ErrorCode.CBOR_BAD, "bad namecoin source")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainSource:
    """The private-chain entry a state came from: its sequence number and entry hash."""

    seq: int
    entry_hash: Sha256

    def __post_init__(self) -> None:
        if self.seq < 0 or len(self.entry_hash) != 32:
            raise ParseError(ErrorCode.CBOR_BAD, "bad chain source")


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLeaf:
    """One log entry. ``verdict`` is a status word; ``codes`` are the ``ErrorCode`` values
    that flagged it (encoded as ``"<verdict>:<code>,<code>"``)."""

    address: str
    epoch: int
    seq: int
    record_hash: Sha256
    source: NamecoinSource | ChainSource
    verdict: str = VERDICT_ACCEPTED
    codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.address or self.epoch < 0 or self.seq < 0 or len(self.record_hash) != 32:
            raise ParseError(ErrorCode.CBOR_BAD, "bad log leaf")
        if not self.verdict or ":" in self.verdict or any(not c or "," in c or ":" in c for c in self.codes):
            raise ParseError(ErrorCode.CBOR_BAD, "bad log leaf verdict")

    @property
    def address_key(self) -> Sha256:
        """The state-map key of this leaf's address."""
        return address_key(self.address)

    def encode(self) -> bytes:
        """Canonical CBOR bytes (the RFC 9162 leaf input)."""
        src: dict[str, list[int | bytes]]
        if isinstance(self.source, NamecoinSource):
            src = {"namecoin": [self.source.height, bytes(self.source.txid), self.source.vout]}
        else:
            src = {"chain": [self.source.seq, bytes(self.source.entry_hash)]}
        verdict = self.verdict + (":" + ",".join(self.codes) if self.codes else "")
        return encode_canonical(
            {
                "v": LEAF_VERSION,
                "address": self.address,
                "epoch": self.epoch,
                "seq": self.seq,
                "record_hash": bytes(self.record_hash),
                "source": src,
                "verdict": verdict,
            }
        )

    def leaf_hash(self) -> LeafHash:
        """RFC 9162 leaf hash of ``encode()``."""
        return LeafHash(merkle.leaf_hash(self.encode()))

    @classmethod
    def parse(cls, data: bytes) -> LogLeaf:
        """Parse canonical CBOR leaf bytes.

        Raises:
            ParseError: ``CBOR_BAD`` / ``CBOR_NON_CANONICAL``.
        """
        value = decode_canonical(data)
        try:
            if not isinstance(value, dict) or set(value) != {"v", "address", "epoch", "seq", "record_hash", "source", "verdict"}:
                raise ParseError(ErrorCode.CBOR_BAD, "log leaf has wrong keys")
            if value["v"] != LEAF_VERSION:
                raise ParseError(ErrorCode.CBOR_BAD, f"unknown log leaf version {value['v']!r}")
            address, epoch, seq = value["address"], value["epoch"], value["seq"]
            record_hash, src, verdict = value["record_hash"], value["source"], value["verdict"]
            if not (isinstance(address, str) and _is_int(epoch) and _is_int(seq)):
                raise ParseError(ErrorCode.CBOR_BAD, "bad log leaf field types")
            if not isinstance(record_hash, bytes) or not isinstance(verdict, str) or not isinstance(src, dict) or len(src) != 1:
                raise ParseError(ErrorCode.CBOR_BAD, "bad log leaf field types")
            ((kind, args),) = src.items()
            source: NamecoinSource | ChainSource
            if kind == "namecoin" and isinstance(args, list) and len(args) == 3:
                h, txid, vout = args
                if not (_is_int(h) and isinstance(txid, bytes) and _is_int(vout)):
                    raise ParseError(ErrorCode.CBOR_BAD, "bad namecoin source")
                source = NamecoinSource(height=h, txid=Txid(txid), vout=vout)
            elif kind == "chain" and isinstance(args, list) and len(args) == 2:
                s, eh = args
                if not (_is_int(s) and isinstance(eh, bytes)):
                    raise ParseError(ErrorCode.CBOR_BAD, "bad chain source")
                source = ChainSource(seq=s, entry_hash=Sha256(eh))
            else:
                raise ParseError(ErrorCode.CBOR_BAD, "unknown log leaf source")
            word, _, codes = verdict.partition(":")
            return cls(
                address=address,
                epoch=epoch,
                seq=seq,
                record_hash=Sha256(record_hash),
                source=source,
                verdict=word,
                codes=tuple(codes.split(",")) if codes else (),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ParseError(ErrorCode.CBOR_BAD, f"bad log leaf: {exc}") from exc


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
