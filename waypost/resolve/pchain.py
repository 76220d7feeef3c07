"""Private-chain submissions (core layer): parse, validate as an extension, find duplicity, plan leaves.

Pure: the shell (``chainstore``) passes the stored entries and the submission bytes; nothing
here reads a database or a clock. Wire and rules in docs/spec.md §4 and §6.5.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from waypost.registry.address import AddressKind, address_public_key, format_address, parse_address
from waypost.registry.chain import (
    ChainEntry,
    ChainState,
    DuplicityEvidence,
    decode_canonical,
    detect_duplicity,
    encode_canonical,
    entry_hash,
    parse_entry,
    validate_chain,
)
from waypost.registry.errors import ErrorCode, ParseError, ValidationError
from waypost.registry.model import PublicKey, Sha256
from waypost.tlog.leaf import VERDICT_ACCEPTED, VERDICT_FLAGGED, ChainSource, LogLeaf

__all__ = [
    "MAX_SUBMISSION_ENTRIES",
    "MAX_SUBMISSION_BYTES",
    "MAX_CHAIN_ENTRIES",
    "CHAIN_EPOCH",
    "ChainPlan",
    "key_address",
    "parse_submission",
    "body_hash",
    "chain_leaf",
    "plan_submission",
]

MAX_SUBMISSION_ENTRIES = 256  # entries per POST (a chain is a profile history, not a feed)
MAX_SUBMISSION_BYTES = 256 * 1024  # request body cap (entries are at most 64 KiB each)
MAX_CHAIN_ENTRIES = 4096  # entries stored per address
CHAIN_EPOCH = 0  # a private chain has one epoch: it never expires (registry.keys.identity_from_chain)


def key_address(text: str) -> tuple[str, PublicKey]:
    """Canonical text and genesis key of a ``local@<key>.key`` address.

    Raises:
        ParseError: an invalid address (``address.*``), or ``chains.not-key-address``.
    """
    addr = parse_address(text)
    key = address_public_key(addr)
    if addr.kind is not AddressKind.KEY or key is None:
        raise ParseError(ErrorCode.CHAINS_NOT_KEY_ADDRESS, "private chains live at local@<key>.key addresses")
    return format_address(addr), key


def _too_large(msg: str, **fields: object) -> ParseError:
    return ParseError(ErrorCode.CHAINS_TOO_LARGE, msg, **fields)


def parse_submission(body: bytes, *, json_form: bool) -> tuple[ChainEntry, ...]:
    """Entries of a ``POST /v1/chains/{address}`` body.

    Args:
        body: a canonical CBOR array of encoded entries, or (``json_form``) the JSON
            object ``{"entries": [base64url of each encoded entry, ...]}``.
        json_form: the body is JSON.

    Returns:
        The entries, in submission order (structure only: run ``plan_submission``).

    Raises:
        ParseError: ``chains.too-large`` (over ``MAX_SUBMISSION_BYTES`` or
            ``MAX_SUBMISSION_ENTRIES``), ``pchain.bad-entry``, ``cbor.*``.
    """
    if len(body) > MAX_SUBMISSION_BYTES:
        raise _too_large("submission too large", size=len(body), limit=MAX_SUBMISSION_BYTES)
    raw: list[bytes] = []
    if json_form:
        try:
            obj = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, "body is not JSON") from exc
        items = obj.get("entries") if isinstance(obj, dict) else None
        if not isinstance(items, list):
            raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, 'body must be {"entries": [base64url, ...]}')
        if len(items) > MAX_SUBMISSION_ENTRIES:
            raise _too_large("too many entries", count=len(items), limit=MAX_SUBMISSION_ENTRIES)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.isascii():
                raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, "entries must be base64url text", index=i)
            try:
                raw.append(base64.b64decode(item + "=" * (-len(item) % 4), altchars=b"-_", validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, "entry is not base64url", index=i) from exc
    else:
        value = decode_canonical(body)
        if not isinstance(value, list) or not all(isinstance(x, bytes) for x in value):
            raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, "body must be a CBOR array of encoded entries (byte strings)")
        if len(value) > MAX_SUBMISSION_ENTRIES:
            raise _too_large("too many entries", count=len(value), limit=MAX_SUBMISSION_ENTRIES)
        raw = [x for x in value if isinstance(x, bytes)]
    if not raw:
        raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, "no entries")
    out = []
    for i, data in enumerate(raw):
        entry = parse_entry(data)
        if entry.encode() != data:  # parse_entry accepts only canonical CBOR; the round trip is exact
            raise ParseError(ErrorCode.CBOR_NON_CANONICAL, "entry is not in canonical form", index=i)
        out.append(entry)
    return tuple(out)


def body_hash(entry: ChainEntry) -> Sha256:
    """The leaf's ``record_hash`` for a chain entry: SHA-256 of ``encode_canonical(body)`` (spec §6.5)."""
    return Sha256(hashlib.sha256(encode_canonical(dict(entry.body))).digest())


def chain_leaf(address: str, entry: ChainEntry, *, seq: int, flagged: bool = False) -> LogLeaf:
    """The log leaf stating ``entry`` as the address's latest state.

    ``seq`` counts the address's leaves (equal to the entry's seq unless the address was
    flagged for duplicity, which re-states the latest entry in one more leaf).
    """
    return LogLeaf(
        address=address,
        epoch=CHAIN_EPOCH,
        seq=seq,
        record_hash=body_hash(entry),
        source=ChainSource(seq=entry.seq, entry_hash=entry_hash(entry)),
        verdict=VERDICT_FLAGGED if flagged else VERDICT_ACCEPTED,
        codes=(str(ErrorCode.CHAIN_DUPLICITY),) if flagged else (),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainPlan:
    """Outcome of a submission against the stored chain.

    Exactly one of: ``evidence`` (a fork: one key signed two entries at one position),
    or ``state`` with ``new_entries`` (possibly empty: nothing new) to append.
    """

    address: str
    state: ChainState | None = None
    new_entries: tuple[ChainEntry, ...] = ()
    evidence: DuplicityEvidence | None = None


def plan_submission(
    address: str, address_key: PublicKey, stored: Sequence[ChainEntry], submitted: Sequence[ChainEntry]
) -> ChainPlan:
    """Check a submission and say what to append.

    The submission is a run of entries starting at some ``seq`` no greater than the
    stored length (``0``: the whole chain); together with the stored entries before it,
    it must validate from genesis (``registry.chain.validate_chain`` with the key in the
    address). Where it overlaps the stored entries it must repeat them byte for byte:
    a different entry at a stored position signed by the same key is duplicity (evidence
    returned); any other difference rewrites history.

    Args:
        address: canonical ``.key`` address.
        address_key: the genesis key in the address.
        stored: the stored entries, genesis first (already valid).
        submitted: the parsed submission.

    Returns:
        The plan.

    Raises:
        ChainError, VerificationError, ValidationError: ``pchain.*`` / ``key.*`` from validation.
        ValidationError: ``chains.not-extension`` (a gap, or history rewritten without a
            signed fork), ``chains.too-large`` beyond ``MAX_CHAIN_ENTRIES``.
    """
    if not submitted:
        raise ParseError(ErrorCode.CHAIN_BAD_ENTRY, "no entries")
    start = submitted[0].seq
    if start > len(stored):
        raise ValidationError(ErrorCode.CHAINS_NOT_EXTENSION, "submission leaves a gap after the stored chain",
                              stored=len(stored), first_seq=start)
    if start + len(submitted) > MAX_CHAIN_ENTRIES:
        raise ValidationError(ErrorCode.CHAINS_TOO_LARGE, "chain too long", limit=MAX_CHAIN_ENTRIES)
    full = (*stored[:start], *submitted)
    # The submission must be valid on its own terms first (a 422 is about the submission).
    state = validate_chain(full, address_key=address_key)
    for offset, entry in enumerate(submitted):
        pos = start + offset
        if pos >= len(stored):
            break
        old = stored[pos]
        if old.encode() == entry.encode():
            continue
        evidence = detect_duplicity(old, entry)
        if evidence is not None:
            return ChainPlan(address=address, evidence=evidence)
        raise ValidationError(ErrorCode.CHAINS_NOT_EXTENSION, "submission rewrites the stored chain", seq=pos)
    return ChainPlan(address=address, state=state, new_entries=tuple(full[len(stored):]))
