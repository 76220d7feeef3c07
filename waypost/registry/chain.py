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

import cbor2
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


def _key_bytes(key: object) -> bytes:
    """The encoded form of a map key (str or int), used only to sort keys."""
    if isinstance(key, str):
        raw = key.encode("utf-8")
        return _head(3, len(raw)) + raw
    assert isinstance(key, int)  # internal: checked by the caller
    return _head(0, key) if key >= 0 else _head(1, -1 - key)


def _check_int(obj: int) -> int:
    if not CBOR_MIN_INT <= obj <= CBOR_MAX_INT:
        # would need a bignum tag (RFC 8949 §3.4.3), which we do not allow
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "integer out of 64-bit CBOR range", got=obj)
    return obj


def _sorted_for_cbor(obj: object, depth: int) -> object:
    """Check ``obj`` against the closed type set and return it with maps in RFC 8949 order.

    RFC 8949 §4.2.1 sorts map keys by the bytewise lexicographic order of their encoded
    form. cbor2's ``canonical=True`` uses RFC 7049 §3.9 length-first order, which differs
    across major types (``1000`` encodes as ``19 03e8``, before ``"a"`` = ``61 61``
    bytewise, after it length-first), so we sort here and encode maps in insertion order.
    """
    t = type(obj)
    if t is str or t is bytes or t is bool or obj is None:  # fast path for exact leaf types
        return obj
    if t is int:
        return _check_int(obj)  # type: ignore[arg-type]
    if depth >= CBOR_MAX_DEPTH:
        # same limit as decode_canonical: at most CBOR_MAX_DEPTH nested arrays/maps
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "value nested too deeply", depth=depth)
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, str):
        return str(obj)  # e.g. a StrEnum member: encode its text
    if isinstance(obj, bytes):
        return bytes(obj)
    if isinstance(obj, int):
        return _check_int(int(obj))
    if isinstance(obj, (list, tuple)):
        return [_sorted_for_cbor(item, depth + 1) for item in obj]
    if isinstance(obj, Mapping):
        pairs: list[tuple[bytes, object, object]] = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise ValidationError(
                    ErrorCode.CBOR_UNSUPPORTED, "map keys must be str or int", got=type(key).__name__
                )
            plain_key = _sorted_for_cbor(key, depth + 1)
            pairs.append((_key_bytes(plain_key), plain_key, _sorted_for_cbor(value, depth + 1)))
        pairs.sort(key=lambda p: p[0])
        return {key: value for _, key, value in pairs}
    raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, "type not allowed in canonical CBOR", got=type(obj).__name__)


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
            non-str/int map keys, integers that would need a bignum, or nesting deeper
            than ``CBOR_MAX_DEPTH``.
    """
    prepared = _sorted_for_cbor(obj, 0)
    try:
        # canonical=False keeps our insertion order; cbor2 always uses shortest ints/lengths.
        return cbor2.dumps(prepared)
    except (cbor2.CBOREncodeError, TypeError, ValueError) as exc:  # pragma: no cover - guarded above
        raise ValidationError(ErrorCode.CBOR_UNSUPPORTED, str(exc)) from exc


def _scan(data: bytes) -> None:
    """Walk the CBOR item headers of ``data``: one item, no tags/floats/indefinite, bounded depth.

    Only structure is checked here; values are decoded by cbor2 afterwards and the
    canonical form (shortest arguments, key order) is checked by re-encoding.
    """
    pos = 0
    end = len(data)
    # stack of remaining child counts of open containers
    pending: list[int] = []

    def need(n: int) -> None:
        if pos + n > end:
            raise ParseError(ErrorCode.CBOR_BAD, "truncated CBOR item", offset=pos)

    first = True
    while first or pending:
        first = False
        need(1)
        initial = data[pos]
        major, info = initial >> 5, initial & 0x1F
        start = pos
        pos += 1
        if info < 24:
            arg = info
        elif info <= 27:
            width = 1 << (info - 24)
            need(width)
            arg = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        elif info == 31:
            raise ParseError(ErrorCode.CBOR_BAD, "indefinite length not allowed", offset=start)
        else:
            raise ParseError(ErrorCode.CBOR_BAD, "reserved additional information", offset=start)
        children = 0
        if major in (2, 3):
            need(arg)
            pos += arg
        elif major == 4:
            children = arg
        elif major == 5:
            children = 2 * arg
        elif major == 6:
            raise ParseError(ErrorCode.CBOR_BAD, "CBOR tags not allowed", offset=start, tag=arg)
        elif major == 7 and info not in (20, 21, 22):
            # only false (20), true (21), null (22); floats, undefined and simple values refused
            raise ParseError(ErrorCode.CBOR_BAD, "floats and simple values not allowed", offset=start)
        if pending:
            pending[-1] -= 1
        if children:
            if len(pending) >= CBOR_MAX_DEPTH:
                raise ParseError(ErrorCode.CBOR_BAD, "CBOR nested too deeply", offset=start)
            if children > end - pos:
                # every child needs at least one byte: refuse absurd counts before allocating
                raise ParseError(ErrorCode.CBOR_BAD, "truncated CBOR container", offset=start)
            pending.append(children)
        while pending and pending[-1] == 0:
            pending.pop()
    if pos != end:
        raise ParseError(ErrorCode.CBOR_BAD, "trailing bytes after CBOR item", offset=pos)


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
    data = bytes(data)
    _scan(data)
    try:
        value: object = cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False)
    except (cbor2.CBORError, ValueError, TypeError, RecursionError) as exc:
        raise ParseError(ErrorCode.CBOR_BAD, f"CBOR does not decode: {exc}") from exc
    try:
        # re-encoding also refuses map keys other than text and integers
        again = encode_canonical(value)  # type: ignore[arg-type]  # structure checked by _scan
    except ValidationError as exc:
        raise ParseError(ErrorCode.CBOR_BAD, exc.message) from exc
    if again != data:
        raise ParseError(ErrorCode.CBOR_NON_CANONICAL, "CBOR is not in canonical form (RFC 8949 §4.2.1)")
    return value  # type: ignore[return-value]  # structure checked above


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
    try:
        nacl.signing.VerifyKey(bytes(entry.key)).verify(entry.signed_bytes(), entry.sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise VerificationError(ErrorCode.CHAIN_BAD_SIGNATURE, "entry signature does not verify", seq=entry.seq) from exc


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
    verify_entry_signature(entry)
    h = entry_hash(entry)
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
    verify_entry_signature(entry)
    h = entry_hash(entry)
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
