"""C2SP signed notes, tlog checkpoints, cosignatures and client-side checkpoint checks (core layer).

Pure: keys and times are passed in; no I/O, clock or randomness. Specs: c2sp.org/signed-note,
c2sp.org/tlog-checkpoint, c2sp.org/tlog-cosignature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, ParseError, VerificationError
from waypost.registry.model import BlockHash, PublicKey

__all__ = [
    "ALG_ED25519",
    "ALG_COSIGNATURE_V1",
    "Verifier",
    "Signer",
    "Signature",
    "Note",
    "Checkpoint",
    "SignedCheckpoint",
    "Evidence",
    "key_id",
    "parse_vkey",
    "encode_vkey",
    "parse_signer_key",
    "encode_signer_key",
    "signer_from_seed",
    "sign_note",
    "split_note",
    "open_note",
    "add_signature_lines",
    "encode_checkpoint",
    "parse_checkpoint",
    "open_checkpoint",
    "cosign",
    "cosignature_time_s",
    "verify_cosignatures",
    "check_consistency",
    "check_split_view",
    "verify_evidence",
]

# c2sp.org/signed-note: signature types (first byte of the vkey key material).
ALG_ED25519 = 0x01
# c2sp.org/tlog-cosignature: timestamped Ed25519 cosignature/v1.
ALG_COSIGNATURE_V1 = 0x04
_SIG_PREFIX = "\u2014 "  # "— " (U+2014 EM DASH, space)
_MAX_SIGNATURES = 100  # golang.org/x/mod/sumdb/note: at most 100 signatures
_MAP_EXT = "waypost-map"
_NAMECOIN_EXT = "namecoin"
_TIME_EXT = "waypost-time"


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """c2sp.org/signed-note key ID: ``SHA-256(name || 0x0A || alg || pubkey)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _check_key_name(name: str) -> None:
    # c2sp.org/signed-note: a key name is non-empty, has no Unicode spaces and no "+".
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise ParseError(ErrorCode.NOTE_BAD, f"bad key name {name!r}")


def _b64decode(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ParseError(ErrorCode.NOTE_BAD, f"bad base64 in {what}") from exc
    # Only the canonical spelling is accepted: non-zero padding bits would give one
    # signature several encodings (malleable notes, duplicate cosignature lines).
    if _b64(data) != text:
        raise ParseError(ErrorCode.NOTE_BAD, f"non-canonical base64 in {what}")
    return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verifier:
    """A note verifier key: ``alg`` is ``ALG_ED25519`` (log keys) or ``ALG_COSIGNATURE_V1`` (witnesses)."""

    name: str
    alg: int
    public_key: PublicKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if self.alg not in (ALG_ED25519, ALG_COSIGNATURE_V1) or len(self.public_key) != 32:
            raise ParseError(ErrorCode.NOTE_BAD, "unsupported verifier key")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key ID."""
        return key_id(self.name, self.alg, self.public_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    """A note signing key (Ed25519 seed); ``repr`` hides the seed."""

    name: str
    alg: int
    seed: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if self.alg not in (ALG_ED25519, ALG_COSIGNATURE_V1) or len(self.seed) != 32:
            raise ParseError(ErrorCode.NOTE_BAD, "unsupported signer key")

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, alg={self.alg})"

    @property
    def verifier(self) -> Verifier:
        """The matching verifier."""
        pub = bytes(nacl.signing.SigningKey(self.seed).verify_key)
        return Verifier(name=self.name, alg=self.alg, public_key=PublicKey(pub))

    def _sign(self, message: bytes) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).sign(message).signature)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """One signature line: key name, 4-byte key ID and the signature bytes after the ID."""

    name: str
    key_id: bytes
    sig: bytes

    def line(self) -> str:
        """The ``— name base64(keyid||sig)`` line, with its newline."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.sig)}\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """An opened note: its text, the signatures that verified, and those from unknown keys."""

    text: str
    sigs: tuple[Signature, ...]
    unverified_sigs: tuple[Signature, ...]


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``name+hex8+base64(alg||pubkey)``; the key ID must match.

    Raises:
        ParseError: ``NOTE_BAD``.
    """
    parts = vkey.strip().split("+", 2)  # base64 may contain "+"
    if len(parts) != 3 or len(parts[1]) != 8:
        raise ParseError(ErrorCode.NOTE_BAD, "malformed verifier key")
    name, hex_id, b64 = parts
    material = _b64decode(b64, "verifier key")
    if len(material) != 33:
        raise ParseError(ErrorCode.NOTE_BAD, "verifier key material must be 33 bytes")
    v = Verifier(name=name, alg=material[0], public_key=PublicKey(material[1:]))
    if v.key_id.hex() != hex_id.lower():
        raise ParseError(ErrorCode.NOTE_BAD, "verifier key ID does not match its key", expected=v.key_id.hex(), got=hex_id)
    return v


def encode_vkey(v: Verifier) -> str:
    """Encode a verifier as ``name+hex8+base64(alg||pubkey)``."""
    return f"{v.name}+{v.key_id.hex()}+{_b64(bytes([v.alg]) + v.public_key)}"


def parse_signer_key(skey: str) -> Signer:
    """Parse ``PRIVATE+KEY+name+hex8+base64(alg||seed)``.

    Raises:
        ParseError: ``NOTE_BAD``.
    """
    parts = skey.strip().split("+", 4)  # base64 may contain "+"
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or len(parts[3]) != 8:
        raise ParseError(ErrorCode.NOTE_BAD, "malformed signer key")
    material = _b64decode(parts[4], "signer key")
    if len(material) != 33:
        raise ParseError(ErrorCode.NOTE_BAD, "signer key material must be 33 bytes")
    s = Signer(name=parts[2], alg=material[0], seed=material[1:])
    if s.verifier.key_id.hex() != parts[3].lower():
        raise ParseError(ErrorCode.NOTE_BAD, "signer key ID does not match its key")
    return s


def encode_signer_key(s: Signer) -> str:
    """Encode a signer as ``PRIVATE+KEY+name+hex8+base64(alg||seed)``."""
    return f"PRIVATE+KEY+{s.name}+{s.verifier.key_id.hex()}+{_b64(bytes([s.alg]) + s.seed)}"


def signer_from_seed(name: str, seed: bytes, alg: int = ALG_ED25519) -> Signer:
    """Build a signer from a 32-byte seed (the caller supplies the randomness)."""
    return Signer(name=name, alg=alg, seed=seed)


def _check_text(text: str) -> None:
    # c2sp.org/signed-note: UTF-8 text ending in a newline, no control characters but "\n".
    if not text.endswith("\n") or any((c < " " and c != "\n") or c == "\x7f" for c in text):
        raise ParseError(ErrorCode.NOTE_BAD, "note text must end in a newline and have no control characters")


def _cosigned_message(text: str, time_s: int) -> bytes:
    # c2sp.org/tlog-cosignature: "cosignature/v1\ntime <t>\n" || whole note body.
    return f"cosignature/v1\ntime {time_s}\n".encode() + text.encode()


def sign_note(text: str, *signers: Signer) -> str:
    """Sign ``text`` with Ed25519 note keys (``ALG_ED25519``) and return the note.

    Raises:
        ParseError: ``NOTE_BAD`` for bad text or a non-note key.
    """
    _check_text(text)
    lines = []
    for s in signers:
        if s.alg != ALG_ED25519:
            raise ParseError(ErrorCode.NOTE_BAD, "cosigner keys sign with cosign()")
        lines.append(Signature(name=s.name, key_id=s.verifier.key_id, sig=s._sign(text.encode())).line())
    return text + "\n" + "".join(lines)


def split_note(note: str) -> tuple[str, tuple[Signature, ...]]:
    """Split a note into its text and (unverified) signature lines.

    Raises:
        ParseError: ``NOTE_BAD``.
    """
    idx = note.rfind("\n\n")
    if idx < 0 or not note.endswith("\n"):
        raise ParseError(ErrorCode.NOTE_BAD, "note has no signature block")
    text, block = note[: idx + 1], note[idx + 2 :]
    _check_text(text)
    sigs = []
    for line in block.splitlines():
        if not line.startswith(_SIG_PREFIX):
            raise ParseError(ErrorCode.NOTE_BAD, "malformed signature line")
        name, sep, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not sep or " " in b64:
            raise ParseError(ErrorCode.NOTE_BAD, "malformed signature line")
        _check_key_name(name)
        raw = _b64decode(b64, "signature")
        if len(raw) < 5:
            raise ParseError(ErrorCode.NOTE_BAD, "signature too short")
        sigs.append(Signature(name=name, key_id=raw[:4], sig=raw[4:]))
    if not sigs or len(sigs) > _MAX_SIGNATURES:
        raise ParseError(ErrorCode.NOTE_BAD, f"note has {len(sigs)} signatures")
    return text, tuple(sigs)


def _verify_sig(v: Verifier, text: str, sig: bytes) -> bool:
    try:
        vk = nacl.signing.VerifyKey(v.public_key)
        if v.alg == ALG_ED25519:
            if len(sig) != 64:
                return False
            vk.verify(text.encode(), sig)
        else:
            if len(sig) != 72:
                return False
            (time_s,) = struct.unpack(">Q", sig[:8])
            if time_s >= 1 << 63:
                return False
            vk.verify(_cosigned_message(text, time_s), sig[8:])
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


def open_note(note: str, verifiers: Sequence[Verifier]) -> Note:
    """Verify a note: every signature by a known key must verify, and at least one must be known.

    Signatures from unknown keys are ignored but kept in ``unverified_sigs``.

    Raises:
        ParseError: ``NOTE_BAD`` (malformed).
        VerificationError: ``NOTE_BAD_SIGNATURE`` (a known key's signature fails),
            ``NOTE_UNKNOWN_KEY`` (no signature from a known key).
    """
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    good: list[Signature] = []
    unknown: list[Signature] = []
    for s in sigs:
        v = known.get((s.name, s.key_id))
        if v is None:
            unknown.append(s)
            continue
        if not _verify_sig(v, text, s.sig):
            raise VerificationError(ErrorCode.NOTE_BAD_SIGNATURE, f"bad signature from {s.name}", key=s.name)
        if s not in good:
            good.append(s)
    if not good:
        raise VerificationError(ErrorCode.NOTE_UNKNOWN_KEY, "no signature from a known key", names=[s.name for s in sigs])
    return Note(text=text, sigs=tuple(good), unverified_sigs=tuple(unknown))


def add_signature_lines(note: str, lines: str) -> str:
    """Append signature lines (e.g. cosignatures from a witness) to a note."""
    if lines and not lines.endswith("\n"):
        lines += "\n"
    return note + lines


# --- checkpoints (c2sp.org/tlog-checkpoint) --------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A tlog checkpoint body: origin, size, root, and Waypost's extension lines.

    ``map_root`` is the state-map root (``waypost-map <b64>``); ``namecoin_height`` and
    ``namecoin_block_hash`` (wire order; shown as display hex) are the chain tip the
    checkpoint was built from (``namecoin <height> <hash hex>``). ``time_s`` is when the log
    signed it (``waypost-time <unix seconds>``): the log re-signs at least every N minutes
    even when nothing changed, so a log whose time stops advancing is visibly frozen.
    Other extension lines are kept.
    """

    origin: str
    size: int
    root_hash: bytes
    map_root: bytes | None = None
    namecoin_height: int | None = None
    namecoin_block_hash: BlockHash | None = None
    time_s: int | None = None
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.time_s is not None and self.time_s < 0:
            raise ParseError(ErrorCode.CHECKPOINT_BAD, "checkpoint time must be >= 0")
        if not self.origin or "\n" in self.origin or self.size < 0 or len(self.root_hash) != 32:
            raise ParseError(ErrorCode.CHECKPOINT_BAD, "invalid checkpoint")
        if self.map_root is not None and len(self.map_root) != 32:
            raise ParseError(ErrorCode.CHECKPOINT_BAD, "map root must be 32 bytes")
        if (self.namecoin_height is None) != (self.namecoin_block_hash is None):
            raise ParseError(ErrorCode.CHECKPOINT_BAD, "namecoin tip needs height and hash")
        if self.namecoin_block_hash is not None and len(self.namecoin_block_hash) != 32:
            raise ParseError(ErrorCode.CHECKPOINT_BAD, "namecoin block hash must be 32 bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedCheckpoint:
    """A checkpoint with the whole signed note it came from (kept as evidence)."""

    checkpoint: Checkpoint
    note: str


def encode_checkpoint(cp: Checkpoint) -> str:
    """The note text of a checkpoint (ends in a newline)."""
    lines = [cp.origin, str(cp.size), _b64(cp.root_hash)]
    if cp.map_root is not None:
        lines.append(f"{_MAP_EXT} {_b64(cp.map_root)}")
    if cp.namecoin_height is not None and cp.namecoin_block_hash is not None:
        lines.append(f"{_NAMECOIN_EXT} {cp.namecoin_height} {cp.namecoin_block_hash[::-1].hex()}")
    if cp.time_s is not None:
        lines.append(f"{_TIME_EXT} {cp.time_s}")
    lines.extend(cp.extensions)
    return "\n".join(lines) + "\n"


def _parse_decimal(text: str, what: str) -> int:
    # tlog-checkpoint: ASCII decimal, no leading zeroes.
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0") or len(text) > 20:
        raise ParseError(ErrorCode.CHECKPOINT_BAD, f"bad {what} {text!r}")
    return int(text)


def _b64_hash(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ParseError(ErrorCode.CHECKPOINT_BAD, f"bad {what}") from exc
    if _b64(data) != text:  # canonical spelling only (no stray padding bits)
        raise ParseError(ErrorCode.CHECKPOINT_BAD, f"non-canonical base64 in {what}")
    return data


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text (signature lines already removed).

    Raises:
        ParseError: ``CHECKPOINT_BAD``.
    """
    if not text.endswith("\n"):
        raise ParseError(ErrorCode.CHECKPOINT_BAD, "checkpoint must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise ParseError(ErrorCode.CHECKPOINT_BAD, "checkpoint needs origin, size and root, no empty lines")
    origin, size_text, root_b64 = lines[:3]
    root_hash = _b64_hash(root_b64, "root hash")
    map_root: bytes | None = None
    height: int | None = None
    block_hash: BlockHash | None = None
    time_s: int | None = None
    other: list[str] = []
    seen: set[str] = set()
    for line in lines[3:]:
        word, _, rest = line.partition(" ")
        if word in (_MAP_EXT, _NAMECOIN_EXT, _TIME_EXT):
            # One signed note, one meaning: a second map root / tip / time line would let
            # clients that pick different lines see different states under one signature.
            if word in seen:
                raise ParseError(ErrorCode.CHECKPOINT_BAD, f"duplicate {word} line")
            seen.add(word)
        if word == _MAP_EXT:
            map_root = _b64_hash(rest, "map root")
        elif word == _NAMECOIN_EXT:
            h_text, _, hash_hex = rest.partition(" ")
            height = _parse_decimal(h_text, "namecoin height")
            try:
                raw = bytes.fromhex(hash_hex)
            except ValueError as exc:
                raise ParseError(ErrorCode.CHECKPOINT_BAD, "bad namecoin block hash") from exc
            # exactly 64 lowercase hex digits (bytes.fromhex would also skip spaces)
            if len(hash_hex) != 64 or len(raw) != 32 or hash_hex != hash_hex.lower():
                raise ParseError(ErrorCode.CHECKPOINT_BAD, "bad namecoin block hash")
            block_hash = BlockHash(raw[::-1])
        elif word == _TIME_EXT:
            time_s = _parse_decimal(rest, "checkpoint time")
        else:
            other.append(line)
    return Checkpoint(
        origin=origin,
        size=_parse_decimal(size_text, "tree size"),
        root_hash=root_hash,
        map_root=map_root,
        namecoin_height=height,
        namecoin_block_hash=block_hash,
        time_s=time_s,
        extensions=tuple(other),
    )


def open_checkpoint(note: str, log_verifiers: Sequence[Verifier], origin: str | None = None) -> SignedCheckpoint:
    """Verify a signed checkpoint note with the log's key(s) and parse it.

    Raises:
        ParseError: ``NOTE_BAD`` / ``CHECKPOINT_BAD``.
        VerificationError: ``NOTE_BAD_SIGNATURE`` / ``NOTE_UNKNOWN_KEY``; ``CHECKPOINT_BAD``
            when ``origin`` is given and differs.
    """
    opened = open_note(note, [v for v in log_verifiers if v.alg == ALG_ED25519])
    cp = parse_checkpoint(opened.text)
    if origin is not None and cp.origin != origin:
        raise VerificationError(ErrorCode.CHECKPOINT_BAD, "unexpected origin", expected=origin, got=cp.origin)
    return SignedCheckpoint(checkpoint=cp, note=note)


# --- cosignatures (c2sp.org/tlog-cosignature) -----------------------------------------


def cosign(checkpoint: Checkpoint | SignedCheckpoint, witness: Signer, time_s: int) -> str:
    """A cosignature/v1 line over ``checkpoint`` at ``time_s`` (POSIX seconds).

    A ``SignedCheckpoint`` is cosigned over its exact note text.

    Raises:
        ParseError: ``NOTE_BAD`` if ``witness`` is not an ``ALG_COSIGNATURE_V1`` key.
    """
    if witness.alg != ALG_COSIGNATURE_V1 or not 0 <= time_s < 1 << 63:
        raise ParseError(ErrorCode.NOTE_BAD, "cosign needs a cosignature/v1 key and a valid time")
    text = encode_checkpoint(checkpoint) if isinstance(checkpoint, Checkpoint) else split_note(checkpoint.note)[0]
    sig = struct.pack(">Q", time_s) + witness._sign(_cosigned_message(text, time_s))
    return Signature(name=witness.name, key_id=witness.verifier.key_id, sig=sig).line()


def cosignature_time_s(sig: Signature) -> int:
    """The timestamp of a cosignature/v1 signature."""
    if len(sig.sig) != 72:
        raise ParseError(ErrorCode.NOTE_BAD, "not a cosignature/v1 signature")
    return int(struct.unpack(">Q", sig.sig[:8])[0])


def verify_cosignatures(note: str, witness_vkeys: Sequence[Verifier], k: int) -> None:
    """Require valid cosignatures from at least ``k`` distinct witnesses of ``witness_vkeys``.

    Raises:
        VerificationError: ``WITNESS_QUORUM`` (fewer than ``k``), ``NOTE_BAD_SIGNATURE``
            (a listed witness's signature is invalid).
        ParseError: ``NOTE_BAD``.
    """
    text, sigs = split_note(note)
    known = {(v.name, v.key_id): v for v in witness_vkeys if v.alg == ALG_COSIGNATURE_V1}
    # distinct witnesses are distinct public keys: one key listed under two names counts once
    good: set[bytes] = set()
    for s in sigs:
        v = known.get((s.name, s.key_id))
        if v is None:
            continue
        if not _verify_sig(v, text, s.sig):
            raise VerificationError(ErrorCode.NOTE_BAD_SIGNATURE, f"bad cosignature from {s.name}", key=s.name)
        good.add(bytes(v.public_key))
    if len(good) < k:
        raise VerificationError(ErrorCode.WITNESS_QUORUM, f"{len(good)} of {k} required witness cosignatures", expected=k, got=len(good))


# --- client-side checkpoint checks ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Two notes signed by the same log that cannot both be honest, plus the proof offered.

    ``kind`` is ``CHECKPOINT_ROLLBACK``, ``CHECKPOINT_INCONSISTENT`` or ``CHECKPOINT_SPLIT_VIEW``.
    """

    kind: ErrorCode
    old_note: str
    new_note: str
    proof: tuple[bytes, ...] = ()


def _fail(kind: ErrorCode, msg: str, old: SignedCheckpoint, new: SignedCheckpoint, proof: Sequence[bytes]) -> VerificationError:
    ev = Evidence(kind=kind, old_note=old.note, new_note=new.note, proof=tuple(proof))
    return VerificationError(kind, msg, evidence=ev, old_size=old.checkpoint.size, new_size=new.checkpoint.size)


def _consistent(a: Checkpoint, b: Checkpoint, proof: Sequence[bytes]) -> bool:
    """Whether ``b`` extends ``a`` (``a.size <= b.size``) given the proof."""
    if a.size == b.size:
        return a.root_hash == b.root_hash
    if a.size == 0:
        return a.root_hash == merkle.EMPTY_ROOT
    try:
        merkle.verify_consistency(a.size, b.size, proof, a.root_hash, b.root_hash)
    except VerificationError:
        return False
    return True


def check_consistency(old: SignedCheckpoint, new: SignedCheckpoint, proof: Sequence[bytes]) -> None:
    """Check that ``new`` (from the same log) extends the previously seen ``old``.

    Raises:
        VerificationError: ``CHECKPOINT_ROLLBACK`` (smaller tree) or
            ``CHECKPOINT_INCONSISTENT`` (fork); ``fields["evidence"]`` is an ``Evidence``.
    """
    if old.checkpoint.origin != new.checkpoint.origin:
        raise VerificationError(ErrorCode.CHECKPOINT_BAD, "checkpoints of different logs")
    if new.checkpoint.size < old.checkpoint.size:
        raise _fail(ErrorCode.CHECKPOINT_ROLLBACK, "log rolled back to a smaller tree", old, new, proof)
    if not _consistent(old.checkpoint, new.checkpoint, proof):
        raise _fail(ErrorCode.CHECKPOINT_INCONSISTENT, "new checkpoint does not extend the old one", old, new, proof)


def check_split_view(a: SignedCheckpoint, b: SignedCheckpoint, proof: Sequence[bytes]) -> None:
    """Compare checkpoints of one log obtained from two servers.

    ``proof`` is a consistency proof from the smaller to the larger tree.

    Raises:
        VerificationError: ``CHECKPOINT_SPLIT_VIEW`` with ``Evidence``.
    """
    if a.checkpoint.origin != b.checkpoint.origin:
        raise VerificationError(ErrorCode.CHECKPOINT_BAD, "checkpoints of different logs")
    small, large = (a, b) if a.checkpoint.size <= b.checkpoint.size else (b, a)
    if not _consistent(small.checkpoint, large.checkpoint, proof):
        raise _fail(ErrorCode.CHECKPOINT_SPLIT_VIEW, "servers show inconsistent views of the log", small, large, proof)


def verify_evidence(e: Evidence, log_verifiers: Sequence[Verifier]) -> None:
    """Check evidence as a third party: both notes signed by the log, and they conflict.

    Equal-size notes with different roots are self-contained proof of a fork. For different
    sizes the evidence holds the proof the log served; the log can refute it only by
    producing a valid consistency proof. A rollback shows the log signed the larger tree.

    Raises:
        VerificationError: ``CHECKPOINT_BAD`` when the evidence does not show misbehaviour;
            note errors when a note is not signed by the log.
    """
    old = open_checkpoint(e.old_note, log_verifiers)
    new = open_checkpoint(e.new_note, log_verifiers)
    if old.checkpoint.origin != new.checkpoint.origin:
        raise VerificationError(ErrorCode.CHECKPOINT_BAD, "evidence notes are from different logs")
    if e.kind == ErrorCode.CHECKPOINT_ROLLBACK:
        if new.checkpoint.size < old.checkpoint.size:
            return
    elif e.kind in (ErrorCode.CHECKPOINT_INCONSISTENT, ErrorCode.CHECKPOINT_SPLIT_VIEW):
        small, large = sorted((old.checkpoint, new.checkpoint), key=lambda c: c.size)
        if not _consistent(small, large, e.proof):
            return
    raise VerificationError(ErrorCode.CHECKPOINT_BAD, "evidence does not show misbehaviour", kind=str(e.kind))
