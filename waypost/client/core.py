"""Light-client decisions (core layer): rollback/fork, split view, pins and downgrades, freshness, redirects.

Pure: takes verified answers, the client's remembered state and ``now_s``; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from waypost.registry.address import AddressKind, format_address, parse_address
from waypost.registry.chain import ChainState
from waypost.registry.errors import ErrorCode, ParseError, ValidationError, VerificationError, WaypostError
from waypost.registry.keys import MOVED_FROM_MEMBER, identity_from_chain, moved_from_of, verify_redirect
from waypost.registry.profile import (
    PROFILE_VERSION,
    PROTOCOL_PREFERENCE,
    Endpoint,
    Policy,
    PolicyMode,
    Profile,
    Protocol,
    key_commitment,
    parse_profile,
    validate_no_downgrade,
)
from waypost.tlog import note as note_mod

__all__ = [
    "Pin",
    "Hop",
    "Resolution",
    "verify_progress",
    "split_view_pairs",
    "verify_no_split_view",
    "verify_fresh",
    "verify_pin",
    "pin_of",
    "verify_hops",
    "profile_of",
    "chain_profile",
    "key_fingerprint",
]

# a verified record is at most a 64 KiB chain entry body or a 520-byte Namecoin value
_MAX_RECORD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Pin:
    """What the client remembers of an address after first sight (trust on first use).

    ``value`` is the raw verified record (a Namecoin name value) whose profile's policy,
    endpoints and key are pinned; ``epoch`` is the registration epoch it came from.
    """

    address: str
    value: bytes
    epoch: int
    leaf_index: int
    chain_seq: int | None = None  # private chains: the pinned entry (seq, entry hash)
    chain_head: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hop:
    """One verified step of a resolution: the address, its verified record and why we came here."""

    address: str
    value: bytes | None
    epoch: int | None
    leaf_index: int | None
    verdict: str | None
    reason: str | None = None  # redirect reason from the previous hop ("voluntary", "domain", ...)
    chain_hashes: tuple[bytes, ...] = ()  # private chains: entry hashes from genesis (validated)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """A verified answer: the final address's profile, how we got there and what was checked."""

    address: str
    resolved_address: str
    present: bool
    value: bytes | None
    profile: Profile | None
    verdict: str | None
    codes: tuple[str, ...]
    leaf_index: int | None
    height: int | None
    checkpoint_origin: str
    checkpoint_size: int
    servers: tuple[str, ...]
    hops: tuple[Hop, ...]
    witnesses: int = 0
    namecoin_height: int | None = None  # the Namecoin tip the checkpoint was built from
    chain_seq: int | None = None  # private chains: seq of the latest (verified) entry
    # the Namecoin name's last operation expired at the signed checkpoint's Namecoin tip:
    # ``value``/``profile`` are then its last (proven) record, no longer a live identity
    expired: bool = False

    @property
    def endpoints(self) -> tuple[tuple[str, str], ...]:
        """``(protocol, value)`` pairs of the final profile."""
        if self.profile is None:
            return ()
        return tuple((e.protocol.value, e.value) for e in self.profile.endpoints)


def key_fingerprint(key: bytes) -> str:
    """Short display fingerprint of an ed25519 key: first 16 hex digits of its SHA-256, grouped by 4."""
    digest = hashlib.sha256(key).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def profile_of(value: bytes | None) -> Profile | None:
    """The profile of a verified record, None when absent or not a profile."""
    if value is None:
        return None
    try:
        return parse_profile(value, limit=_MAX_RECORD_BYTES)
    except ParseError:
        return None


def chain_profile(state: ChainState, *, address: str) -> Profile:
    """The profile a validated private chain states (spec §6.5), in the shape of a Namecoin profile.

    The key in force and its next commitment come from the chain (rotations proven from the
    address key); ``body.endpoints`` (protocol -> text), ``body.policy`` ({require, mode}),
    ``body.redirect`` (signed, spec §3.3), ``body.moved_from`` and ``body.name`` from the last
    entry. Endpoints of unknown protocols or with bad values are left out, as the server does.

    Raises:
        VerificationError: ``REDIRECT_BAD_SIGNATURE``; ParseError: ``REDIRECT_BAD``.
    """
    identity = identity_from_chain(state, address=address)
    body = state.body
    eps: dict[Protocol, Endpoint] = {}
    raw_eps = body.get("endpoints")
    if isinstance(raw_eps, dict):
        for proto, text in raw_eps.items():
            if proto in {p.value for p in Protocol} and isinstance(text, str):
                try:
                    eps[Protocol(proto)] = Endpoint(protocol=Protocol(proto), value=text)
                except WaypostError:
                    continue
    policy: Policy | None = None
    raw_policy = body.get("policy")
    if isinstance(raw_policy, dict):
        try:
            req = raw_policy.get("require")
            mode = raw_policy.get("mode", "enforce")
            if isinstance(req, list) and isinstance(mode, str):
                policy = Policy(require=tuple(Protocol(str(x)) for x in req), mode=PolicyMode(mode))
        except (ValueError, WaypostError):
            policy = None
    namecoin: list[tuple[str, str]] = []
    if identity.moved_from:
        namecoin.append((MOVED_FROM_MEMBER, json.dumps(list(identity.moved_from), separators=(",", ":"),
                                                       ensure_ascii=False)))
    name = body.get("name")
    if isinstance(name, str):
        namecoin.append(("name", json.dumps(name, separators=(",", ":"), ensure_ascii=False)))
    return Profile(
        namecoin=tuple(sorted(namecoin)),
        version=PROFILE_VERSION,
        key=state.key,
        next_commitment=state.next,
        endpoints=tuple(eps[p] for p in PROTOCOL_PREFERENCE if p in eps),
        policy=policy,
        redirect=identity.redirect,
    )


# --- log checks -----------------------------------------------------------------------------


def verify_progress(
    previous: note_mod.SignedCheckpoint | None, new: note_mod.SignedCheckpoint, proof: Sequence[bytes]
) -> None:
    """The server's new checkpoint must extend the last one the client saw from it.

    Args:
        previous: the client's last verified checkpoint from this server (None on first contact).
        new: the checkpoint just verified.
        proof: consistency proof from ``previous.size`` to ``new.size``.

    Raises:
        VerificationError: ``CHECKPOINT_ROLLBACK`` (smaller tree: a stale checkpoint) or
            ``CHECKPOINT_INCONSISTENT`` (a fork); ``fields["evidence"]`` is a ``note.Evidence``.
            ``CHECKPOINT_BAD`` when the server switched to another log origin.
    """
    if previous is None:
        return
    note_mod.check_consistency(previous, new, proof)


def split_view_pairs(checkpoints: Sequence[note_mod.SignedCheckpoint]) -> list[tuple[int, int]]:
    """Which consistency proofs the client needs to compare several servers' checkpoints.

    Every checkpoint is compared with the largest one of the same origin: returns
    ``(small_index, large_index)`` pairs whose sizes differ (equal sizes need no proof).
    """
    return [
        (i, largest)
        for i, largest in _against_largest(checkpoints)
        if checkpoints[i].checkpoint.size != checkpoints[largest].checkpoint.size
    ]


def _against_largest(checkpoints: Sequence[note_mod.SignedCheckpoint]) -> list[tuple[int, int]]:
    """``(index, index of the largest checkpoint of the same origin)`` for every other checkpoint."""
    by_origin: dict[str, list[int]] = {}
    for i, cp in enumerate(checkpoints):
        by_origin.setdefault(cp.checkpoint.origin, []).append(i)
    pairs: list[tuple[int, int]] = []
    for idxs in by_origin.values():
        largest = max(idxs, key=lambda i: (checkpoints[i].checkpoint.size, -i))
        pairs.extend((i, largest) for i in idxs if i != largest)
    return pairs


def verify_no_split_view(
    checkpoints: Sequence[note_mod.SignedCheckpoint], proofs: Mapping[tuple[int, int], Sequence[bytes]]
) -> None:
    """Servers showing the same log must show one history: the smaller tree is a prefix of the larger.

    Args:
        checkpoints: one verified checkpoint per server.
        proofs: consistency proofs for the pairs of ``split_view_pairs`` (a missing proof counts as empty).

    Raises:
        VerificationError: ``CHECKPOINT_SPLIT_VIEW`` with ``fields["evidence"]``.
    """
    for i, largest in _against_largest(checkpoints):
        note_mod.check_split_view(checkpoints[i], checkpoints[largest], proofs.get((i, largest), ()))


def verify_fresh(reference_time_s: int | None, now_s: int, max_age_s: int, *, what: str) -> None:
    """Refuse an answer whose newest provable time is older than ``max_age_s``.

    Args:
        reference_time_s: the newest time the answer proves (a witness cosignature's
            timestamp, or the time of the Namecoin block the checkpoint was built at);
            None when the answer proves no time at all.
        now_s: the client's clock.
        max_age_s: the largest acceptable age.
        what: what ``reference_time_s`` is, for the message.

    Raises:
        VerificationError: ``CLIENT_STALE``.
    """
    if reference_time_s is None:
        raise VerificationError(ErrorCode.CLIENT_STALE, "the answer proves no time; cannot check --max-age")
    age = now_s - reference_time_s
    if age > max_age_s:
        raise VerificationError(
            ErrorCode.CLIENT_STALE, f"answer is {age} s old ({what}), more than --max-age {max_age_s} s",
            age_s=age, max_age_s=max_age_s,
        )


# --- pins -----------------------------------------------------------------------------------


def pin_of(hop: Hop) -> Pin | None:
    """The pin to remember for a verified hop (None when there is no record)."""
    if hop.value is None or hop.epoch is None or hop.leaf_index is None:
        return None
    if hop.chain_hashes:
        return Pin(address=hop.address, value=hop.value, epoch=hop.epoch, leaf_index=hop.leaf_index,
                   chain_seq=len(hop.chain_hashes) - 1, chain_head=hop.chain_hashes[-1])
    return Pin(address=hop.address, value=hop.value, epoch=hop.epoch, leaf_index=hop.leaf_index)


def verify_pin(pin: Pin | None, hop: Hop, *, accept_change: bool = False) -> None:
    """Refuse an answer that weakens what the client pinned for the address.

    A downgrade is: the pinned ``enforce`` policy weakened (``profile.validate_no_downgrade``),
    a pinned endpoint's protocol dropped, the record disappearing, or the key replaced by one
    the pinned record did not commit to (pre-rotation). A new registration epoch is a new
    identity and also needs ``accept_change``. An older leaf than the pinned one is a rollback.
    A private chain must still contain the pinned entry at its position (append-only; its
    rotations are proven from the address key by the chain itself, so no one-step check).

    Raises:
        ValidationError: ``POLICY_DOWNGRADE`` (with ``protocol``/``mode``), ``KEY_UNCOMMITTED``.
        VerificationError: ``CHECKPOINT_ROLLBACK`` when the answer's leaf is older than the pin's
            (or its chain shorter); ``BUNDLE_BAD_CHAIN`` when the chain was rewritten.
    """
    if pin is None:
        return
    if hop.leaf_index is not None and hop.leaf_index < pin.leaf_index:
        raise VerificationError(
            ErrorCode.CHECKPOINT_ROLLBACK, "the answer's leaf is older than the one already seen",
            expected=pin.leaf_index, got=hop.leaf_index,
        )
    if pin.chain_seq is not None and pin.chain_head is not None:
        if len(hop.chain_hashes) <= pin.chain_seq:
            raise VerificationError(
                ErrorCode.CHECKPOINT_ROLLBACK, "the private chain is shorter than the one already seen",
                expected=pin.chain_seq + 1, got=len(hop.chain_hashes),
            )
        if hop.chain_hashes[pin.chain_seq] != pin.chain_head:
            # never accepted, even with accept_change: a signed chain is append-only (spec §4.4)
            raise VerificationError(
                ErrorCode.BUNDLE_BAD_CHAIN, "the private chain was rewritten since it was pinned",
                address=pin.address, seq=pin.chain_seq,
            )
    if accept_change:
        return
    if hop.value is None:
        raise ValidationError(ErrorCode.POLICY_DOWNGRADE, "the pinned record disappeared", address=pin.address)
    if hop.epoch is not None and hop.epoch != pin.epoch:
        raise ValidationError(
            ErrorCode.POLICY_DOWNGRADE, "the name was registered again (new epoch)", expected=pin.epoch, got=hop.epoch
        )
    old, new = profile_of(pin.value), profile_of(hop.value)
    if old is None:
        return
    if new is None:
        raise ValidationError(ErrorCode.POLICY_DOWNGRADE, "the record is no longer a profile", address=pin.address)
    validate_no_downgrade(old, new)
    new_protocols = {e.protocol for e in new.endpoints}
    for e in old.endpoints:
        if e.protocol not in new_protocols:
            raise ValidationError(
                ErrorCode.POLICY_DOWNGRADE, f"{e.protocol.value} endpoint dropped since it was pinned",
                protocol=e.protocol.value,
            )
    if old.key is not None and new.key != old.key and not hop.chain_hashes:
        committed = new.key is not None and old.next_commitment == key_commitment(new.key)
        if not committed:
            raise ValidationError(
                ErrorCode.KEY_UNCOMMITTED, "the key changed to one the pinned record did not commit to",
                address=pin.address,
            )


# --- redirects ------------------------------------------------------------------------------


# server-side bound (resolve.http.MAX_REDIRECT_DEPTH, registry.keys.follow_redirects)
MAX_REDIRECT_HOPS = 4


def _domain_local(address: str) -> str | None:
    """The local part of a ``local@name.bit`` address (answered through ``d/name``), else None."""
    try:
        addr = parse_address(address)
    except ParseError:
        return None
    return addr.local if addr.kind is AddressKind.NAMECOIN_D and addr.local else None


def _canonical(text: str) -> str | None:
    try:
        return format_address(parse_address(text))
    except ParseError:
        return None


def verify_hops(hops: Sequence[Hop], *, domain_names: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Check the redirect chain the server followed, from verified records only.

    Each step must be justified by the previous record: a redirect signed by its key and
    confirmed by the target (``moved_from``), or (reason ``domain``) the ``d/`` value's
    ``waypost.names`` entry given in ``domain_names[address]``. The last record must not
    redirect any further (a server may not stop early).

    Raises:
        VerificationError: ``CLIENT_BAD_ANSWER``, ``REDIRECT_BAD_SIGNATURE``.
        ValidationError: ``REDIRECT_UNCONFIRMED``, ``REDIRECT_LOOP``.
    """
    # a domain step plus MAX_REDIRECT_HOPS redirects, plus the first address
    if len(hops) > MAX_REDIRECT_HOPS + 2:
        raise ValidationError(ErrorCode.REDIRECT_TOO_DEEP, "too many redirect hops", got=len(hops) - 1)
    seen: set[str] = set()
    for i, hop in enumerate(hops):
        if hop.address in seen:
            raise ValidationError(ErrorCode.REDIRECT_LOOP, "redirect loop", address=hop.address)
        seen.add(hop.address)
        local = _domain_local(hop.address)
        if i + 1 == len(hops):
            if local is not None and hop.value is not None:
                # spec §1.4: a present d/ value answers local@name.bit only through its names entry
                raise VerificationError(
                    ErrorCode.CLIENT_BAD_ANSWER, "the domain's record is no answer for a local address",
                    address=hop.address,
                )
            profile = profile_of(hop.value)
            if profile is not None and profile.redirect is not None:
                raise VerificationError(
                    ErrorCode.CLIENT_BAD_ANSWER, "the server stopped before a redirect", address=hop.address
                )
            return
        nxt = hops[i + 1]
        if local is not None or nxt.reason == "domain":
            # spec §1.4: local@name.bit -> the d/ value's names[local], and only from such an address
            names = (domain_names or {}).get(hop.address, {})
            entry = names.get(local) if local is not None else None
            if nxt.reason != "domain" or entry is None or _canonical(entry) != nxt.address:
                raise VerificationError(
                    ErrorCode.CLIENT_BAD_ANSWER, "domain step not backed by the domain's record", address=hop.address
                )
            continue
        profile = profile_of(hop.value)
        if profile is None or profile.redirect is None or profile.redirect.to != nxt.address:
            raise VerificationError(
                ErrorCode.CLIENT_BAD_ANSWER, "redirect step not backed by the record", address=hop.address
            )
        if nxt.reason != profile.redirect.reason.value:
            # the reason shown to the user is the signed one, not the server's label
            raise VerificationError(
                ErrorCode.CLIENT_BAD_ANSWER, "redirect reason differs from the signed one", address=hop.address
            )
        verify_redirect(hop.address, profile.redirect, profile.key)
        target = profile_of(nxt.value)
        if target is None or hop.address not in moved_from_of(target):
            raise ValidationError(
                ErrorCode.REDIRECT_UNCONFIRMED, "target does not confirm the move", source=hop.address, target=nxt.address
            )
