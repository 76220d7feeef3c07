"""Canonical CBOR (the project's one encoder) and per-user private hash chains (core layer).

Pure: bytes and frozen values in, frozen values out or a typed ``WaypostError``; no I/O,
no clock, no randomness (signing keys are passed in by the caller).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Union

import nacl.exceptions
import nacl.signing

from waypost.registry.errors import (
    ChainError,
    ErrorCode,
    ParseError,
    ValidationError,
    VerificationError,
)
from waypost.registry.model import PublicKey, Sha256

__all__ = [
    "CborValue",
    "CBOR_MAX_DEPTH",
    "CBOR_MAX_INT",
    "CBOR_MIN_INT",
    "CHAIN_SIG_DOMAIN",
    "CHAIN_VERSION",
    "MAX_ENTRY_BYTES",
    "EntryKind",
    "ChainEntry",
    "EntryVerdict",
    "ChainState",
    "DuplicityEvidence",
    "encode_canonical",
    "decode_canonical",
    "commit_key",
    "parse_entry",
    "encode_entry",
    "make_entry",
    "entry_hash",
    "verify_entry_signature",
    "apply_entry",
    "validate_chain",
    "detect_duplicity",
    "validate_no_duplicity",
    "verify_duplicity_evidence",
]

# The closed set of values the canonical encoder accepts (STYLE §5). Floats, tags,
# undefined and simple values are refused: nothing in Waypost needs them.
CborValue = Union[
    None,
    bool,
    int,
    str,
    bytes,
    Sequence["CborValue"],
    Mapping[str, "CborValue"],
    Mapping[int, "CborValue"],
    Mapping[Union[str, int], "CborValue"],
]

CBOR_MAX_DEPTH = 16  # nesting limit for decoding hostile input (arrays/maps)
CBOR_MAX_INT = 2**64 - 1  # RFC 8949 §3.1: major type 0 argument limit (no bignum tags)
CBOR_MIN_INT = -(2**64)  # RFC 8949 §3.1: major type 1 limit
CHAIN_VERSION = 1
CHAIN_SIG_DOMAIN = b"waypost-chain-v1\x00"  # domain separation for entry signatures
MAX_ENTRY_BYTES = 64 * 1024  # an entry is a profile update, not a file store

_ED25519_KEY_BYTES = 32
_ED25519_SIG_BYTES = 64
_HASH_BYTES = 32


# --------------------------------------------------------------------------------------
# Canonical CBOR
# --------------------------------------------------------------------------------------


def _head(major: int, arg: int) -> bytes:
    """RFC 8949 §3 item head with the shortest argument (§4.2.1 preferred serialisation)."""
    if arg < 24:
        return bytes([major << 5 | arg])
    if arg < 0x100:
        return bytes([major << 5 | 24, arg])
    if arg < 0x10000:
        return bytes([major << 5 | 25]) + arg.to_bytes(2, "big")
    if arg < 0x100000000:
        return bytes([major << 5 | 26]) + arg.to_bytes(4, "big")
    return bytes([major << 5 | 27]) + arg.to_bytes(8, "big")


def _check_int(obj: int) -> int:
    if not CBOR_MIN_INT <= obj <= CBOR_MAX_INT:
        # would need a bignum tag (RFC 8949 §3.4.3), which we do not allow
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "integer out of 64-bit CBOR range", got=obj)
    return obj


def _unsupported(obj: object) -> ValidationError:
    return ValidationError(ErrorCode.CBOR_UNSUPPORTED, "type not allowed in canonical CBOR", got=type(obj).__name__)


def _too_deep(depth: int) -> ValidationError:
    # same limit as decode_canonical: at most CBOR_MAX_DEPTH nested arrays/maps
    return ValidationError(ErrorCode.CBOR_UNSUPPORTED, "value nested too deeply", depth=depth)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates have no UTF-8 form (RFC 8949 §3.1: major 3 is UTF-8)
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "text is not valid Unicode (lone surrogate)") from exc


def _map_key(key: object, depth: int) -> bytes:
    """The encoded form of a map key (text or integer), which is also its sort key."""
    t = type(key)
    if t is str:
        raw = _utf8(key)  # type: ignore[arg-type]
        n = len(raw)
        return (bytes((0x60 | n,)) if n < 24 else _head(3, n)) + raw
    if t is int:
        k: int = _check_int(key)  # type: ignore[arg-type]
        return _head(0, k) if k >= 0 else _head(1, -1 - k)
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "map keys must be str or int", got=type(key).__name__)
    if depth >= CBOR_MAX_DEPTH:
        raise _too_deep(depth)
    # a str/int subclass (e.g. StrEnum): its text or value
    return _map_key(str(key), depth) if isinstance(key, str) else _map_key(int(key), depth)


def _encode_into(obj: object, out: bytearray, depth: int) -> None:
    """Append the canonical encoding of ``obj`` to ``out`` (RFC 8949 §4.2.1).

    Shortest heads, definite lengths, map entries sorted bytewise by their encoded keys.
    cbor2's ``canonical=True`` would use RFC 7049 §3.9 length-first order, which differs
    across major types (``1000`` encodes as ``19 03e8``, before ``"a"`` = ``61 61``
    bytewise, after it length-first), hence this encoder for the closed type set.
    """
    t = type(obj)
    if t is str:
        raw = _utf8(obj)  # type: ignore[arg-type]
        n = len(raw)
        if n < 24:
            out.append(0x60 | n)
        else:
            out += _head(3, n)
        out += raw
        return
    if t is bytes:
        n = len(obj)  # type: ignore[arg-type]
        if n < 24:
            out.append(0x40 | n)
        else:
            out += _head(2, n)
        out += obj  # type: ignore[arg-type]
        return
    if t is int:
        v: int = obj  # type: ignore[assignment]
        if 0 <= v < 24:
            out.append(v)
        elif v >= 0:
            out += _head(0, _check_int(v))
        else:
            out += _head(1, -1 - _check_int(v))
        return
    if obj is None:
        out.append(0xF6)
        return
    if t is bool:
        out.append(0xF5 if obj else 0xF4)
        return
    if depth >= CBOR_MAX_DEPTH:
        raise _too_deep(depth)
    if t is dict or (not isinstance(obj, (str, bytes, int, list, tuple)) and isinstance(obj, Mapping)):
        items: list[tuple[bytes, bytearray]] = []
        for key, value in obj.items():  # type: ignore[attr-defined]
            kb = _map_key(key, depth + 1)
            vb = bytearray()
            _encode_into(value, vb, depth + 1)
            items.append((kb, vb))
        items.sort(key=_first)
        n = len(items)
        if n < 24:
            out.append(0xA0 | n)
        else:
            out += _head(5, n)
        for kb, vb in items:
            out += kb
            out += vb
        return
    if t is list or t is tuple or isinstance(obj, (list, tuple)):
        n = len(obj)  # type: ignore[arg-type]
        if n < 24:
            out.append(0x80 | n)
        else:
            out += _head(4, n)
        for item in obj:  # type: ignore[attr-defined]
            _encode_into(item, out, depth + 1)
        return
    if isinstance(obj, str):
        _encode_into(str(obj), out, depth)  # e.g. a StrEnum member: encode its text
    elif isinstance(obj, bytes):
        _encode_into(bytes(obj), out, depth)
    elif isinstance(obj, int):  # bool is handled above (it cannot be subclassed)
        _encode_into(int(obj), out, depth)
    else:
        raise _unsupported(obj)


def _first(item: tuple[bytes, bytearray]) -> bytes:
    return item[0]


def encode_canonical(obj: CborValue) -> bytes:
    """Encode ``obj`` as deterministic CBOR (RFC 8949 §4.2.1 core deterministic encoding).

    Preferred serialisation (shortest integer and length arguments), definite lengths only,
    map keys sorted bytewise by their encoded form, no floats, no tags.

    Args:
        obj: a value of the closed set: None, bool, int (64-bit CBOR range), str, bytes,
            list/tuple, and dicts keyed by str or int.

    Returns:
        The canonical bytes.

    Raises:
        ValidationError: ``cbor.unsupported-type`` for floats, other types, bool or other
            non-str/int map keys, integers that would need a bignum, text with lone
            surrogates, or nesting deeper than ``CBOR_MAX_DEPTH``.
    """
    out = bytearray()
    _encode_into(obj, out, 0)
    return bytes(out)


class _Decoder:
    """One pass over canonical CBOR: decodes the closed type set and notes every deviation.

    Malformed input (truncation, tags, floats and simple values, indefinite lengths, bad
    UTF-8, duplicate or non-text/int map keys, nesting deeper than ``CBOR_MAX_DEPTH``,
    trailing bytes) is ``cbor.bad``; a well-formed item that is not in RFC 8949 §4.2.1
    form (a longer argument than needed, map keys out of bytewise order) is
    ``cbor.non-canonical``, reported only when nothing is malformed.
    """

    __slots__ = ("data", "end", "pos", "non_canonical")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.end = len(data)
        self.pos = 0
        self.non_canonical = False

    def bad(self, msg: str, **fields: object) -> ParseError:
        return ParseError(ErrorCode.CBOR_BAD, msg, **fields)

    def item(self, depth: int) -> object:
        data, start = self.data, self.pos
        if start >= self.end:
            raise self.bad("truncated CBOR item", offset=start)
        initial = data[start]
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            arg = info
            pos = start + 1
        elif info <= 27:
            width = 1 << (info - 24)
            pos = start + 1 + width
            if pos > self.end:
                raise self.bad("truncated CBOR item", offset=start + 1)
            arg = int.from_bytes(data[start + 1 : pos], "big")
            # RFC 8949 §4.2.1: the shortest form of the argument
            if arg < (24 if width == 1 else 1 << (4 * width)):
                self.non_canonical = True
        elif info == 31:
            raise self.bad("indefinite length not allowed", offset=start)
        else:
            raise self.bad("reserved additional information", offset=start)
        self.pos = pos
        if major == 3 or major == 2:
            end = pos + arg
            if end > self.end:
                raise self.bad("truncated CBOR item", offset=pos)
            raw = data[pos:end]
            self.pos = end
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self.bad("CBOR text is not valid UTF-8", offset=start) from exc
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 6:
            raise self.bad("CBOR tags not allowed", offset=start, tag=arg)
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info == 22:
                return None
            # floats, undefined and simple values refused
            raise self.bad("floats and simple values not allowed", offset=start)
        # arrays and maps
        if depth >= CBOR_MAX_DEPTH:
            raise self.bad("CBOR nested too deeply", offset=start)
        if (arg if major == 4 else 2 * arg) > self.end - pos:
            # every child needs at least one byte: refuse absurd counts before allocating
            raise self.bad("truncated CBOR container", offset=start)
        depth += 1
        if major == 4:
            return [self.item(depth) for _ in range(arg)]
        out: dict[object, object] = {}
        prev_key = b""
        for _ in range(arg):
            key_start = self.pos
            key = self.item(depth)
            key_raw = data[key_start : self.pos]
            if type(key) is not str and type(key) is not int:
                raise self.bad("map keys must be text or integers", offset=key_start)
            if key in out:
                raise self.bad("duplicate map key", offset=key_start)
            if key_raw <= prev_key:
                self.non_canonical = True  # RFC 8949 §4.2.1: keys sorted bytewise by encoding
            prev_key = key_raw
            out[key] = self.item(depth)
        return out


def decode_canonical(data: bytes) -> CborValue:
    """Decode one canonical CBOR item and refuse anything ``encode_canonical`` would not emit.

    Args:
        data: the complete encoding (no trailing bytes).

    Returns:
        The value: dicts, lists, str, bytes, int, bool or None.

    Raises:
        ParseError: ``cbor.bad`` for malformed or truncated input, tags, floats, simple
            values, indefinite lengths, duplicate or non-str/int map keys, invalid UTF-8,
            trailing bytes or nesting deeper than ``CBOR_MAX_DEPTH``;
            ``cbor.non-canonical`` for a well-formed item not in canonical form
            (longer-than-needed arguments, unsorted map keys).
    """
    dec = _Decoder(bytes(data))
    value = dec.item(0)
    if dec.pos != dec.end:
        raise ParseError(ErrorCode.CBOR_BAD, "trailing bytes after CBOR item", offset=dec.pos)
    if dec.non_canonical:
        raise ParseError(ErrorCode.CBOR_NON_CANONICAL, "CBOR is not in canonical form (RFC 8949 §4.2.1)")
    return value  # type: ignore[return-value]  # the decoder builds only the closed type set


def commit_key(key: bytes) -> Sha256:
    """Pre-rotation commitment to a public key: SHA-256 of the raw 32-byte key (as profile.key_commitment)."""
    return Sha256(hashlib.sha256(key).digest())


# --------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------


class EntryKind(StrEnum):
    """What an entry does to the chain state."""

    GENESIS = "genesis"  # seq 0: binds the key-based address
    UPDATE = "update"  # new profile body, same key and commitment
    ROTATE = "rotate"  # signed by the new key, which must match the previous ``next``
    REDIRECT = "redirect"  # body carries ``redirect: {to, reason}``; still a profile update
    REVOKE = "revoke"  # ends the chain; nothing may follow


_ENTRY_FIELDS = frozenset({"v", "seq", "prev", "kind", "key", "next", "body", "time_s", "sig"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainEntry:
    """One signed private-chain entry (wire layout in docs/spec.md §4).

    ``body`` is a read-only mapping of profile data; the entry is hashable through
    its canonical encoding.
    """

    v: int = CHAIN_VERSION
    seq: int
    prev: Sha256 | None
    kind: EntryKind
    key: PublicKey
    next: Sha256 | None
    body: Mapping[str, CborValue]
    time_s: int | None = None
    sig: bytes

    def __post_init__(self) -> None:
        if self.v != CHAIN_VERSION:
            raise ValueError("unsupported entry version")
        if self.seq < 0:
            raise ValueError("seq must be >= 0")
        if len(self.key) != _ED25519_KEY_BYTES:
            raise ValueError("key must be 32 bytes")
        if self.prev is not None and len(self.prev) != _HASH_BYTES:
            raise ValueError("prev must be 32 bytes")
        if self.next is not None and len(self.next) != _HASH_BYTES:
            raise ValueError("next must be 32 bytes")
        if len(self.sig) != _ED25519_SIG_BYTES:
            raise ValueError("sig must be 64 bytes")

    def __hash__(self) -> int:
        return hash(entry_hash(self))

    def unsigned_map(self) -> dict[str, CborValue]:
        """The entry as a CBOR map without ``sig`` (what the signature covers)."""
        out: dict[str, CborValue] = {
            "v": self.v,
            "seq": self.seq,
            "prev": self.prev,
            "kind": str(self.kind),
            "key": bytes(self.key),
            "next": self.next,
            "body": dict(self.body),
        }
        if self.time_s is not None:
            out["time_s"] = self.time_s
        return out

    def signed_bytes(self) -> bytes:
        """``CHAIN_SIG_DOMAIN || encode_canonical(entry without sig)``."""
        return CHAIN_SIG_DOMAIN + encode_canonical(self.unsigned_map())

    def encode(self) -> bytes:
        """Canonical CBOR of the full entry including ``sig``."""
        return encode_entry(self)

    @classmethod
    def parse(cls, data: bytes) -> ChainEntry:
        """Same as ``parse_entry``."""
        return parse_entry(data)


def encode_entry(entry: ChainEntry) -> bytes:
    """Encode ``entry`` (including its signature) as canonical CBOR."""
    full = entry.unsigned_map()
    full["sig"] = entry.sig
    return encode_canonical(full)


def entry_hash(entry: ChainEntry) -> Sha256:
    """SHA-256 of the canonical encoding of the full entry (what ``prev`` links to)."""
    return Sha256(hashlib.sha256(encode_entry(entry)).digest())


def _bad(msg: str, **fields: object) -> ParseError:
    return ParseError(ErrorCode.CHAIN_BAD_ENTRY, msg, **fields)


def _opt_hash(value: object, field: str) -> Sha256 | None:
    if value is None:
        return None
    if not isinstance(value, bytes) or len(value) != _HASH_BYTES:
        raise _bad(f"{field} must be 32 bytes or null", field=field)
    return Sha256(value)


def parse_entry(data: bytes) -> ChainEntry:
    """Parse one entry from canonical CBOR. Structure only: signatures are checked by validation.

    Args:
        data: canonical CBOR of the entry map.

    Returns:
        The entry.

    Raises:
        ParseError: ``pchain.bad-entry`` (oversized, wrong fields or types),
            ``cbor.bad`` / ``cbor.non-canonical`` from ``decode_canonical``.
    """
    if len(data) > MAX_ENTRY_BYTES:
        raise _bad("entry too large", size=len(data), limit=MAX_ENTRY_BYTES)
    obj = decode_canonical(data)
    if not isinstance(obj, dict):
        raise _bad("entry must be a CBOR map")
    fields = set(obj)
    missing = (_ENTRY_FIELDS - {"time_s"}) - fields
    extra = fields - _ENTRY_FIELDS
    if missing or extra:
        raise _bad("entry fields wrong", missing=sorted(missing), extra=sorted(map(str, extra)))
    v, seq, kind, key, body, sig = obj["v"], obj["seq"], obj["kind"], obj["key"], obj["body"], obj["sig"]
    if v != CHAIN_VERSION or isinstance(v, bool):
        raise _bad("unsupported entry version", got=v)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise _bad("seq must be a non-negative integer")
    if not isinstance(kind, str) or kind not in set(EntryKind):
        raise _bad("unknown entry kind", got=kind)
    if not isinstance(key, bytes) or len(key) != _ED25519_KEY_BYTES:
        raise _bad("key must be 32 bytes")
    if not isinstance(sig, bytes) or len(sig) != _ED25519_SIG_BYTES:
        raise _bad("sig must be 64 bytes")
    if not isinstance(body, dict) or not all(isinstance(k, str) for k in body):
        raise _bad("body must be a map with text keys")
    time_s = obj.get("time_s")
    if "time_s" in obj and (not isinstance(time_s, int) or isinstance(time_s, bool) or time_s < 0):
        raise _bad("time_s must be a non-negative integer")
    return ChainEntry(
        v=CHAIN_VERSION,
        seq=seq,
        prev=_opt_hash(obj["prev"], "prev"),
        kind=EntryKind(kind),
        key=PublicKey(key),
        next=_opt_hash(obj["next"], "next"),
        body=body,
        time_s=time_s if isinstance(time_s, int) else None,
        sig=sig,
    )


def make_entry(
    signing_key: nacl.signing.SigningKey,
    *,
    seq: int,
    prev: Sha256 | None,
    kind: EntryKind,
    next_commitment: Sha256 | None,
    body: Mapping[str, CborValue],
    time_s: int | None = None,
) -> ChainEntry:
    """Build and sign an entry with ``signing_key`` (ed25519 signing is deterministic).

    Args:
        signing_key: the key in force (or, for ``rotate``, the newly committed key).
        seq: position (0 for genesis).
        prev: ``entry_hash`` of the previous entry, None for genesis.
        kind: what the entry does.
        next_commitment: ``commit_key(next public key)`` or None (no further rotation).
        body: profile data (CBOR map with text keys).
        time_s: optional claimed creation time (not trusted).

    Returns:
        The signed entry.

    Raises:
        ValidationError: ``cbor.unsupported-type`` when ``body`` is outside the CBOR set.
    """
    unsigned = ChainEntry(
        seq=seq,
        prev=prev,
        kind=kind,
        key=PublicKey(bytes(signing_key.verify_key)),
        next=next_commitment,
        body=dict(body),
        time_s=time_s,
        sig=bytes(_ED25519_SIG_BYTES),
    )
    sig = signing_key.sign(unsigned.signed_bytes()).signature
    return ChainEntry(
        seq=seq,
        prev=prev,
        kind=kind,
        key=unsigned.key,
        next=next_commitment,
        body=unsigned.body,
        time_s=time_s,
        sig=bytes(sig),
    )


def verify_entry_signature(entry: ChainEntry) -> None:
    """Check ``entry.sig`` under ``entry.key`` over ``entry.signed_bytes()``.

    Raises:
        VerificationError: ``pchain.bad-signature``.
    """
    _verify_signed(entry, entry.signed_bytes())


def _verify_signed(entry: ChainEntry, signed: bytes) -> None:
    try:
        nacl.signing.VerifyKey(bytes(entry.key)).verify(signed, entry.sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise VerificationError(ErrorCode.CHAIN_BAD_SIGNATURE, "entry signature does not verify", seq=entry.seq) from exc


_SIG_PAIR_KEY = b"\x63sig"  # encoded map key "sig"


def _signed_and_hash(entry: ChainEntry) -> tuple[bytes, Sha256]:
    """``(signed_bytes(), entry_hash())`` with the unsigned fields encoded once.

    The full entry is the unsigned map plus ``sig``: both canonical maps are assembled
    from the same encoded (key, value) pairs (RFC 8949 §4.2.1 order by encoded key).
    """
    pairs: list[tuple[bytes, bytearray]] = []
    for key, value in entry.unsigned_map().items():
        vb = bytearray()
        _encode_into(value, vb, 1)
        pairs.append((_map_key(key, 1), vb))
    pairs.sort(key=_first)
    unsigned = bytearray(_head(5, len(pairs)))
    for kb, vb in pairs:
        unsigned += kb
        unsigned += vb
    sig_value = bytearray()
    _encode_into(bytes(entry.sig), sig_value, 1)
    pairs.append((_SIG_PAIR_KEY, sig_value))
    pairs.sort(key=_first)
    full = bytearray(_head(5, len(pairs)))
    for kb, vb in pairs:
        full += kb
        full += vb
    return CHAIN_SIG_DOMAIN + bytes(unsigned), Sha256(hashlib.sha256(full).digest())


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryVerdict:
    """Why one entry was accepted: its position, hash and how it changed the key."""

    seq: int
    kind: EntryKind
    entry_hash: Sha256
    key: PublicKey
    rotated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainState:
    """State after the last accepted entry: the key in force, its commitment, the profile."""

    address_key: PublicKey
    key: PublicKey
    next: Sha256 | None
    body: Mapping[str, CborValue]
    seq: int
    head: Sha256
    revoked: bool
    used_keys: frozenset[PublicKey]
    verdicts: tuple[EntryVerdict, ...]

    def __hash__(self) -> int:
        return hash((self.head, self.seq))


def _genesis(entry: ChainEntry, address_key: PublicKey) -> ChainState:
    if entry.kind is not EntryKind.GENESIS or entry.seq != 0 or entry.prev is not None:
        raise ChainError(ErrorCode.CHAIN_BAD_GENESIS, "first entry must be genesis with seq 0 and no prev")
    if entry.key != address_key:
        # the .key address is self-certifying: its genesis key is the key in the address
        raise ChainError(ErrorCode.CHAIN_BAD_GENESIS, "genesis key differs from the address key")
    signed, h = _signed_and_hash(entry)
    _verify_signed(entry, signed)
    return ChainState(
        address_key=address_key,
        key=entry.key,
        next=entry.next,
        body=entry.body,
        seq=0,
        head=h,
        revoked=False,
        used_keys=frozenset({entry.key}),
        verdicts=(EntryVerdict(seq=0, kind=entry.kind, entry_hash=h, key=entry.key, rotated=False),),
    )


def apply_entry(state: ChainState | None, entry: ChainEntry, *, address_key: PublicKey) -> ChainState:
    """Apply one entry to the chain state (genesis when ``state`` is None).

    Rules (docs/spec.md §4): links to ``state.head``; seq is ``state.seq + 1``; nothing
    follows ``revoke``; ``rotate`` is signed by a new key whose commitment equals the
    previous ``next`` (pre-rotation, as KERI) and carries the next commitment; other kinds
    are signed by the key in force and keep ``next`` unchanged (so a stolen current key
    cannot redirect the pre-rotation); ``revoke`` may also be signed by the committed next key.

    Args:
        state: the state after the previous entry, or None.
        entry: the entry to apply.
        address_key: the ed25519 key in the ``.key`` address.

    Returns:
        The new state.

    Raises:
        ChainError: ``pchain.bad-genesis``, ``pchain.bad-link``, ``pchain.bad-seq``,
            ``pchain.wrong-key``.
        VerificationError: ``pchain.bad-signature``.
        ValidationError: ``key.revoked``, ``key.uncommitted-rotation``,
            ``key.replayed-rotation``, ``key.commitment-changed``.
    """
    if state is None:
        return _genesis(entry, address_key)
    if state.revoked:
        raise ValidationError(ErrorCode.KEY_REVOKED, "chain was revoked; no entry may follow", seq=entry.seq)
    if entry.kind is EntryKind.GENESIS:
        raise ChainError(ErrorCode.CHAIN_BAD_GENESIS, "genesis only at seq 0", seq=entry.seq)
    if entry.prev != state.head:
        raise ChainError(ErrorCode.CHAIN_BAD_LINK, "prev does not match the previous entry hash", seq=entry.seq)
    if entry.seq != state.seq + 1:
        raise ChainError(ErrorCode.CHAIN_BAD_SEQ, "seq must increase by one", expected=state.seq + 1, got=entry.seq)
    rotated = False
    new_next = state.next
    if entry.kind is EntryKind.ROTATE:
        if entry.key in state.used_keys:
            raise ValidationError(ErrorCode.KEY_REPLAY, "rotation to a key used before", seq=entry.seq)
        if state.next is None or commit_key(entry.key) != state.next:
            raise ValidationError(ErrorCode.KEY_UNCOMMITTED, "new key does not match the commitment", seq=entry.seq)
        rotated = True
        new_next = entry.next
    elif entry.kind is EntryKind.REVOKE and entry.key != state.key:
        # the committed next key may revoke (current key stolen)
        if state.next is None or commit_key(entry.key) != state.next:
            raise ChainError(ErrorCode.CHAIN_WRONG_KEY, "revoke not signed by the key in force or the next key")
    else:
        if entry.key != state.key:
            raise ChainError(ErrorCode.CHAIN_WRONG_KEY, "entry not signed by the key in force", seq=entry.seq)
        if entry.next != state.next:
            raise ValidationError(
                ErrorCode.KEY_COMMITMENT_CHANGED, "next commitment may change only by rotation", seq=entry.seq
            )
    signed, h = _signed_and_hash(entry)
    _verify_signed(entry, signed)
    key = entry.key if rotated else state.key
    return ChainState(
        address_key=state.address_key,
        key=key,
        next=new_next,
        body=entry.body,
        seq=entry.seq,
        head=h,
        revoked=entry.kind is EntryKind.REVOKE,
        used_keys=state.used_keys | {entry.key},
        verdicts=(*state.verdicts, EntryVerdict(seq=entry.seq, kind=entry.kind, entry_hash=h, key=key, rotated=rotated)),
    )


def validate_chain(entries: Sequence[ChainEntry], *, address_key: PublicKey) -> ChainState:
    """Validate a whole private chain from genesis and return its final state.

    An entry that breaks a rule invalidates the chain as presented (it is append-only
    and signed): the first failure is raised. A shell that wants the longest valid prefix
    calls ``apply_entry`` itself.

    Args:
        entries: the chain, genesis first.
        address_key: the key in the ``.key`` address.

    Returns:
        The final ``ChainState`` with one ``EntryVerdict`` per entry.

    Raises:
        ChainError, VerificationError, ValidationError: see ``apply_entry``;
            ``pchain.bad-genesis`` for an empty chain.
    """
    if not entries:
        raise ChainError(ErrorCode.CHAIN_BAD_GENESIS, "empty chain")
    state: ChainState | None = None
    for entry in entries:
        state = apply_entry(state, entry, address_key=address_key)
    assert state is not None  # internal invariant: entries is non-empty
    return state


# --------------------------------------------------------------------------------------
# Duplicity
# --------------------------------------------------------------------------------------


def _same_position(a: ChainEntry, b: ChainEntry) -> bool:
    return a.seq == b.seq or (a.prev is not None and a.prev == b.prev)


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicityEvidence:
    """Two different entries at one chain position signed by one key: proof of a fork.

    Wire: canonical CBOR ``{v: 1, type: "duplicity", a: entry bytes, b: entry bytes}``
    with ``a`` the entry whose hash sorts first, so one fork has one encoding.
    """

    a: ChainEntry
    b: ChainEntry

    def __hash__(self) -> int:
        return hash((entry_hash(self.a), entry_hash(self.b)))

    def encode(self) -> bytes:
        """Canonical CBOR of the evidence."""
        return encode_canonical({"v": 1, "type": "duplicity", "a": encode_entry(self.a), "b": encode_entry(self.b)})

    @classmethod
    def parse(cls, data: bytes) -> DuplicityEvidence:
        """Parse evidence bytes (structure only; run ``verify_duplicity_evidence``).

        Raises:
            ParseError: ``pchain.bad-entry``, ``cbor.bad``, ``cbor.non-canonical``.
        """
        obj = decode_canonical(data)
        if (
            not isinstance(obj, dict)
            or set(obj) != {"v", "type", "a", "b"}
            or obj["v"] != 1
            or obj["type"] != "duplicity"
            or not isinstance(obj["a"], bytes)
            or not isinstance(obj["b"], bytes)
        ):
            raise _bad("not a duplicity evidence map")
        return cls(a=parse_entry(obj["a"]), b=parse_entry(obj["b"]))


def detect_duplicity(a: ChainEntry, b: ChainEntry) -> DuplicityEvidence | None:
    """Return evidence when ``a`` and ``b`` fork the chain, else None.

    A fork: same signing key, same position (same seq, or same prev), different
    content, both signatures valid. Invalid signatures are not evidence (anyone can
    make those), so they give None.
    """
    if a.key != b.key or not _same_position(a, b):
        return None
    ha, hb = entry_hash(a), entry_hash(b)
    if ha == hb:
        return None
    try:
        verify_entry_signature(a)
        verify_entry_signature(b)
    except VerificationError:
        return None
    first, second = (a, b) if ha < hb else (b, a)
    return DuplicityEvidence(a=first, b=second)


def verify_duplicity_evidence(evidence: DuplicityEvidence) -> None:
    """Check evidence that anyone can run: one key signed two different entries at one position.

    Raises:
        ValidationError: ``pchain.not-duplicity`` (different keys or positions, or the
            same entry twice).
        VerificationError: ``pchain.bad-signature`` (either signature invalid).
    """
    a, b = evidence.a, evidence.b
    if a.key != b.key:
        raise ValidationError(ErrorCode.CHAIN_NOT_DUPLICITY, "entries signed by different keys")
    if not _same_position(a, b):
        raise ValidationError(ErrorCode.CHAIN_NOT_DUPLICITY, "entries at different positions")
    if entry_hash(a) == entry_hash(b):
        raise ValidationError(ErrorCode.CHAIN_NOT_DUPLICITY, "the same entry twice")
    verify_entry_signature(a)
    verify_entry_signature(b)


def validate_no_duplicity(a: ChainEntry, b: ChainEntry) -> None:
    """Refuse two entries that fork one chain (a shell saw both, e.g. from two servers).

    Raises:
        ChainError: ``pchain.duplicity`` with ``evidence`` (``DuplicityEvidence.encode()``
            bytes) in its fields, for anyone to check with ``verify_duplicity_evidence``.
    """
    evidence = detect_duplicity(a, b)
    if evidence is not None:
        raise ChainError(
            ErrorCode.CHAIN_DUPLICITY, "one key signed two entries at one position", evidence=evidence.encode()
        )
