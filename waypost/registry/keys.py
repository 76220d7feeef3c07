"""Key rotation, recovery, continuity, redirects and key-at-time checks over a name history (core layer).

Pure state machine: records and heights in, verdicts and an ``IdentityState`` out; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import nacl.exceptions
import nacl.signing

from waypost.registry.chain import ChainState
from waypost.registry.errors import (
    ErrorCode,
    NotFoundError,
    ParseError,
    ValidationError,
    VerificationError,
)
from waypost.registry.model import PublicKey, Sha256, Txid
from waypost.registry.profile import (
    Policy,
    PolicyMode,
    Profile,
    Redirect,
    RedirectReason,
    redirect_message,
    signing_message,
)

__all__ = [
    "MESSAGE_DOMAIN",
    "RECOVERY_WINDOW_BLOCKS",
    "EXPIRING_WINDOW_BLOCKS",
    "KeyClass",
    "VerdictStatus",
    "IdentityStatus",
    "RecordFacts",
    "HistoryItem",
    "Verdict",
    "KeySpan",
    "PendingRecovery",
    "IdentityState",
    "HistoryResult",
    "RedirectHop",
    "RedirectResult",
    "KeyAtTime",
    "facts_from_profile",
    "identity_from_chain",
    "moved_from_of",
    "status_at",
    "apply_record",
    "validate_history",
    "verify_redirect",
    "follow_redirects",
    "key_valid_at",
    "sign_message",
    "verify_message_at",
]

# did:plc uses a 72 h recovery window; ~72 h of 10-minute Namecoin blocks.
RECOVERY_WINDOW_BLOCKS = 432
# Namecoin clients warn in the last ~1 000 blocks; callers pass their own (regtest is tiny).
EXPIRING_WINDOW_BLOCKS = 1_000
MESSAGE_DOMAIN = b"waypost-message-v1\x00"  # domain separation for verify-message signatures
MOVED_FROM_MEMBER = "moved_from"  # top-level JSON member listing addresses that moved here


class KeyClass(StrEnum):
    """Which class of key authorised an accepted change."""

    OWNER = "owner"  # the profile key in force, or its pre-committed successor
    RECOVERY = "recovery"  # the key behind the recovery commitment
    CUSTODIAN = "custodian"  # the provider key named in the profile
    NONE = "none"  # only the Namecoin name owner (chain-only): first record, no key yet


class VerdictStatus(StrEnum):
    """``accepted``: the record is the new state. ``flagged``: something is wrong (see codes)."""

    ACCEPTED = "accepted"
    FLAGGED = "flagged"


class IdentityStatus(StrEnum):
    """Status of an address at the tip."""

    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REDIRECTED = "redirected"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFacts:
    """What ``keys`` validates about one record (from a ``Profile`` via ``facts_from_profile``).

    ``signature`` covers ``signed_bytes``. ``signer_key`` is optional: a signer that is
    neither the key in force nor the record's key (e.g. a revealed recovery key).
    A record with a Waypost part but no ``key`` is a key withdrawal (revocation).
    """

    key: PublicKey | None
    next_commitment: Sha256 | None = None
    recovery_commitment: Sha256 | None = None
    custodian_key: PublicKey | None = None
    redirect: Redirect | None = None
    moved_from: tuple[str, ...] = ()
    policy: Policy | None = None
    signature: bytes | None = None
    signed_bytes: bytes = b""
    signer_key: PublicKey | None = None
    waypost: bool = True  # False: a plain Namecoin value without a Waypost part
    profile: Profile | None = None  # for the downgrade rule; not compared for equality

    def key_material(self) -> tuple[object, ...]:
        return (self.key, self.next_commitment, self.recovery_commitment, self.custodian_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryItem:
    """One name operation of the history, in chain order.

    ``owner_script`` is the scriptPubKey of the name output (a change is a transfer).
    ``facts`` is None when the value is not a profile at all. ``new_registration``
    is set by the caller when the name expired and was registered again (it is also
    inferred from heights when ``expiration_depth`` is given).
    """

    height: int
    txid: Txid
    vout: int = 0
    owner_script: bytes
    facts: RecordFacts | None
    new_registration: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """Verdict on one record: accepted or flagged, with reason codes and the key class."""

    height: int
    txid: Txid
    vout: int
    epoch: int
    status: VerdictStatus
    codes: tuple[ErrorCode, ...]
    key_class: KeyClass
    applied: bool  # the record became the identity state


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySpan:
    """The address's key from ``from_height`` (inclusive) to ``to_height`` (exclusive, None = open)."""

    from_height: int
    to_height: int | None
    key: PublicKey
    epoch: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingRecovery:
    """A recovery rotation the superseded owner key may still contest until ``deadline_height``."""

    height: int
    deadline_height: int
    superseded_key: PublicKey
    prior: IdentityState


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityState:
    """The validated identity of one address in its current epoch."""

    address: str
    epoch: int = 0
    key: PublicKey | None = None
    next_commitment: Sha256 | None = None
    recovery_commitment: Sha256 | None = None
    custodian_key: PublicKey | None = None
    policy: Policy | None = None  # the pinned policy (downgrade protection)
    redirect: Redirect | None = None
    moved_from: tuple[str, ...] = ()
    status: IdentityStatus = IdentityStatus.ACTIVE
    revoked: bool = False
    last_update_height: int | None = None
    owner_script: bytes | None = None
    used_keys: frozenset[PublicKey] = frozenset()
    timeline: tuple[KeySpan, ...] = ()
    pending_recovery: PendingRecovery | None = None
    profile: Profile | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryResult:
    """Per-record verdicts and the final state."""

    verdicts: tuple[Verdict, ...]
    state: IdentityState


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _commit(key: bytes) -> Sha256:
    # same as profile.key_commitment: SHA-256 of the raw 32-byte key (pre-rotation)
    return Sha256(hashlib.sha256(key).digest())


def _verifies(key: bytes | None, message: bytes, sig: bytes | None) -> bool:
    if key is None or sig is None:
        return False
    try:
        nacl.signing.VerifyKey(bytes(key)).verify(message, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    return True


def moved_from_of(profile: Profile) -> tuple[str, ...]:
    """Addresses a profile confirms as moved here: top-level ``moved_from`` (string or array of strings).

    It sits in the Namecoin part so ``waypost.sig`` covers it (``signing_message`` signs
    the whole record).
    """
    for key, text in profile.namecoin:
        if key != MOVED_FROM_MEMBER:
            continue
        value = json.loads(text)
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(x for x in value if isinstance(x, str))
    return ()


def facts_from_profile(profile: Profile, *, address: str) -> RecordFacts:
    """Adapter: the facts ``keys`` validates, from a parsed ``Profile`` of ``address``.

    Args:
        profile: the parsed name value.
        address: canonical address text (bound into the signed message).
    """
    waypost = profile.version is not None
    return RecordFacts(
        key=profile.key,
        next_commitment=profile.next_commitment,
        recovery_commitment=profile.recovery_commitment,
        custodian_key=profile.custodian,
        redirect=profile.redirect,
        moved_from=moved_from_of(profile),
        policy=profile.policy,
        signature=profile.sig,
        signed_bytes=signing_message(profile, address=address) if waypost else b"",
        waypost=waypost,
        profile=profile,
    )


def _chain_redirect(body: object) -> Redirect | None:
    if not isinstance(body, dict) or "redirect" not in body:
        return None
    red = body["redirect"]
    if (
        not isinstance(red, dict)
        or set(red) != {"to", "reason", "sig"}
        or not isinstance(red["to"], str)
        or red["reason"] not in {r.value for r in RedirectReason}
        or not isinstance(red["sig"], bytes)
        or len(red["sig"]) != 64
    ):
        raise ParseError(ErrorCode.REDIRECT_BAD, "body.redirect must be {to: text, reason, sig: bytes(64)}")
    return Redirect(to=red["to"], reason=RedirectReason(red["reason"]), sig=red["sig"])


def identity_from_chain(state: ChainState, *, address: str) -> IdentityState:
    """Adapter: a validated private chain (``chain.validate_chain``) as an ``IdentityState``.

    The body of the last entry may carry ``redirect: {to, reason, sig}`` (signed as in
    docs/spec.md §3.3) and ``moved_from: [address text]``. Timeline positions are
    chain ``seq`` numbers, not block heights; a private chain has one epoch and never expires.

    Raises:
        ParseError: ``redirect.bad`` for a malformed ``body.redirect``.
        VerificationError: ``redirect.bad-signature``; ValidationError: ``redirect.loop``.
    """
    redirect = _chain_redirect(state.body)
    if redirect is not None:
        verify_redirect(address, redirect, state.key)
    moved = state.body.get("moved_from", ())
    moved_from = tuple(x for x in moved if isinstance(x, str)) if isinstance(moved, (list, tuple)) else ()
    timeline: tuple[KeySpan, ...] = ()
    for v in state.verdicts:
        if v.seq == 0 or v.rotated:
            timeline = _open_span(timeline, v.key, v.seq, 0)
    if state.revoked:
        timeline = _close_span(timeline, state.seq)
    revoked = state.revoked or (redirect is not None and redirect.reason is RedirectReason.REVOKED)
    status = IdentityStatus.REVOKED if revoked else (
        IdentityStatus.REDIRECTED if redirect is not None else IdentityStatus.ACTIVE
    )
    return IdentityState(
        address=address,
        key=state.key,
        next_commitment=state.next,
        redirect=redirect,
        moved_from=moved_from,
        status=status,
        revoked=revoked,
        last_update_height=state.seq,
        used_keys=frozenset(state.used_keys),
        timeline=timeline,
    )


def status_at(height: int, last_update_height: int, expiration_depth: int, expiring_window: int) -> IdentityStatus:
    """Expiry status of a name at tip ``height``.

    namecoin-core ``CNameData::isExpired``: a name last updated at ``H`` is expired once
    ``H + depth <= height``. It is ``expiring`` in the ``expiring_window`` blocks before.

    Args:
        height: the tip height.
        last_update_height: height of the last name operation.
        expiration_depth: blocks until expiry (36 000 mainnet, 30 regtest).
        expiring_window: how many blocks before expiry count as ``expiring``.

    Returns:
        ``ACTIVE``, ``EXPIRING`` or ``EXPIRED``.
    """
    expires_at_height = last_update_height + expiration_depth
    if height >= expires_at_height:
        return IdentityStatus.EXPIRED
    if height >= expires_at_height - expiring_window:
        return IdentityStatus.EXPIRING
    return IdentityStatus.ACTIVE


def _open_span(timeline: tuple[KeySpan, ...], key: PublicKey | None, height: int, epoch: int) -> tuple[KeySpan, ...]:
    closed = _close_span(timeline, height)
    if key is None:
        return closed
    return (*closed, KeySpan(from_height=height, to_height=None, key=key, epoch=epoch))


def _close_span(timeline: tuple[KeySpan, ...], height: int) -> tuple[KeySpan, ...]:
    if timeline and timeline[-1].to_height is None:
        last = timeline[-1]
        return (*timeline[:-1], replace(last, to_height=max(height, last.from_height)))
    return timeline


def verify_redirect(from_address: str, redirect: Redirect, key: PublicKey | None) -> None:
    """Check a redirect's signature by the source's key in force.

    The signed bytes are ``profile.redirect_message(from, to, reason)``.

    Raises:
        VerificationError: ``redirect.bad-signature``.
        ValidationError: ``redirect.loop`` for a redirect to itself.
    """
    if redirect.to == from_address:
        raise ValidationError(ErrorCode.REDIRECT_LOOP, "address redirects to itself", address=from_address)
    if not _verifies(key, redirect_message(from_address, redirect.to, redirect.reason), redirect.sig):
        raise VerificationError(
            ErrorCode.REDIRECT_BAD_SIGNATURE, "redirect not signed by the key in force", address=from_address
        )


# --------------------------------------------------------------------------------------
# the state machine
# --------------------------------------------------------------------------------------


def _verdict(item: HistoryItem, epoch: int, codes: Sequence[ErrorCode], key_class: KeyClass, applied: bool,
             *, flagged: bool) -> Verdict:
    return Verdict(
        height=item.height,
        txid=item.txid,
        vout=item.vout,
        epoch=epoch,
        status=VerdictStatus.FLAGGED if flagged else VerdictStatus.ACCEPTED,
        codes=tuple(codes),
        key_class=key_class,
        applied=applied,
    )


def _adopt(state: IdentityState, item: HistoryItem, facts: RecordFacts | None, *, new_key: bool) -> IdentityState:
    """Make ``facts`` the identity state (rules already checked)."""
    if facts is None:
        return replace(state, last_update_height=item.height, owner_script=item.owner_script)
    revoked = (facts.waypost and facts.key is None and state.key is not None) or (
        facts.redirect is not None and facts.redirect.reason is RedirectReason.REVOKED
    )
    timeline = state.timeline
    if revoked:
        timeline = _close_span(timeline, item.height)
    elif new_key:
        timeline = _open_span(timeline, facts.key, item.height, state.epoch)
    used = state.used_keys | ({facts.key} if facts.key is not None else set())
    return replace(
        state,
        key=facts.key,
        next_commitment=facts.next_commitment,
        recovery_commitment=facts.recovery_commitment,
        custodian_key=facts.custodian_key,
        policy=facts.policy,
        redirect=facts.redirect,
        moved_from=facts.moved_from,
        revoked=revoked,
        last_update_height=item.height,
        owner_script=item.owner_script,
        used_keys=frozenset(used),
        timeline=timeline,
        profile=facts.profile,
    )


def _redirect_codes(state: IdentityState, facts: RecordFacts, key: PublicKey | None) -> list[ErrorCode]:
    if facts.redirect is None:
        return []
    try:
        verify_redirect(state.address, facts.redirect, key)
    except (ValidationError, VerificationError) as exc:
        return [exc.code]
    return []


def _downgrade(state: IdentityState, facts: RecordFacts) -> bool:
    old, new = state.policy, facts.policy
    if old is None or old.mode is not PolicyMode.ENFORCE:
        return False
    if new is None or new.mode is not PolicyMode.ENFORCE:
        return True
    return not set(old.require) <= set(new.require)


def _apply_fresh(state: IdentityState, item: HistoryItem, codes: list[ErrorCode]) -> tuple[IdentityState, Verdict]:
    """No key established yet (first record of an epoch, or only plain values so far): trust on first use."""
    facts = item.facts
    if facts is not None and facts.key is not None:
        if not _verifies(facts.key, facts.signed_bytes, facts.signature):
            codes.append(ErrorCode.KEY_BAD_SIGNATURE)
            return state, _verdict(item, state.epoch, codes, KeyClass.NONE, False, flagged=True)
        bad = _redirect_codes(state, facts, facts.key)
        if bad:
            return state, _verdict(item, state.epoch, codes + bad, KeyClass.NONE, False, flagged=True)
    elif facts is not None and facts.redirect is not None:
        # a redirect needs a key to sign it
        codes.append(ErrorCode.REDIRECT_BAD_SIGNATURE)
        return state, _verdict(item, state.epoch, codes, KeyClass.NONE, False, flagged=True)
    new = _adopt(state, item, facts, new_key=True)
    return new, _verdict(item, state.epoch, codes, KeyClass.NONE, True, flagged=bool(codes))


def _classify(state: IdentityState, facts: RecordFacts) -> tuple[KeyClass | None, PublicKey | None, list[ErrorCode]]:
    """Find which key signed ``facts`` and whether it may: (class, signer, problems)."""
    msg, sig = facts.signed_bytes, facts.signature
    if sig is None:
        return None, None, [ErrorCode.KEY_UNSIGNED_CHANGE]
    if _verifies(state.key, msg, sig):
        return KeyClass.OWNER, state.key, []
    if state.custodian_key is not None and _verifies(state.custodian_key, msg, sig):
        return KeyClass.CUSTODIAN, state.custodian_key, []
    if facts.key is not None and facts.key != state.key and _verifies(facts.key, msg, sig):
        if facts.key in state.used_keys:
            return None, facts.key, [ErrorCode.KEY_REPLAY]
        commitment = _commit(facts.key)
        if state.next_commitment is not None and commitment == state.next_commitment:
            return KeyClass.OWNER, facts.key, []
        if state.recovery_commitment is not None and commitment == state.recovery_commitment:
            return KeyClass.RECOVERY, facts.key, []
        return None, facts.key, [ErrorCode.KEY_UNCOMMITTED]
    if (
        facts.signer_key is not None
        and state.recovery_commitment is not None
        and _commit(facts.signer_key) == state.recovery_commitment
        and _verifies(facts.signer_key, msg, sig)
    ):
        return KeyClass.RECOVERY, facts.signer_key, []
    return None, None, [ErrorCode.KEY_BAD_SIGNATURE]


def _apply_keyed(state: IdentityState, item: HistoryItem, codes: list[ErrorCode], *, transfer: bool,
                 recovery_window: int) -> tuple[IdentityState, Verdict]:
    facts = item.facts
    epoch = state.epoch
    if facts is None or not facts.waypost:
        if transfer:
            codes.append(ErrorCode.CONTINUITY_BREAK)
        codes.append(ErrorCode.KEY_UNSIGNED_CHANGE)
        return state, _verdict(item, epoch, codes, KeyClass.NONE, False, flagged=True)
    key_class, _signer, problems = _classify(state, facts)
    if key_class is None:
        if transfer:
            # a transfer needs a handoff: the new value signed by a key of the identity.
            # A script change alone is not a break: namecoin-core's name_update sends the
            # name to a fresh wallet address by default.
            codes.append(ErrorCode.CONTINUITY_BREAK)
        return state, _verdict(item, epoch, codes + problems, KeyClass.NONE, False, flagged=True)
    rotating = facts.key is not None and facts.key != state.key
    if key_class is KeyClass.CUSTODIAN:
        # a provider may change endpoints, never key material, and may not weaken the policy
        if facts.key_material() != (state.key, state.next_commitment, state.recovery_commitment, state.custodian_key):
            problems.append(ErrorCode.KEY_UNAUTHORISED)
        elif _downgrade(state, facts):
            problems.append(ErrorCode.POLICY_DOWNGRADE)
    elif key_class is KeyClass.OWNER and rotating:
        # even the key in force may only hand over to the key it committed to
        assert facts.key is not None  # internal: rotating implies a new key
        if facts.key in state.used_keys:
            problems.append(ErrorCode.KEY_REPLAY)
        elif state.next_commitment is None or _commit(facts.key) != state.next_commitment:
            problems.append(ErrorCode.KEY_UNCOMMITTED)
    elif key_class is KeyClass.OWNER and facts.key is not None:
        if facts.next_commitment != state.next_commitment:
            # KERI: the pre-rotation commitment moves only with a rotation
            problems.append(ErrorCode.KEY_COMMITMENT_CHANGED)
    key_in_force = facts.key if facts.key is not None else state.key
    problems += _redirect_codes(state, facts, key_in_force)
    if problems:
        return state, _verdict(item, epoch, codes + problems, key_class, False, flagged=True)
    new = _adopt(state, item, facts, new_key=rotating)
    if key_class is KeyClass.RECOVERY and state.key is not None:
        # announced at once; the superseded owner key may contest within the window
        pending = PendingRecovery(
            height=item.height,
            deadline_height=item.height + recovery_window,
            superseded_key=state.key,
            prior=state,
        )
        new = replace(new, pending_recovery=pending)
        codes.append(ErrorCode.KEY_RECOVERY_PENDING)
    else:
        new = replace(new, pending_recovery=None)
    return new, _verdict(item, epoch, codes, key_class, True, flagged=False)


def _new_epoch(state: IdentityState, item: HistoryItem, expiration_depth: int | None) -> IdentityState:
    end = item.height
    if expiration_depth is not None and state.last_update_height is not None:
        end = min(end, state.last_update_height + expiration_depth)
    # a re-registered name inherits nothing: no keys, pins, redirects
    return IdentityState(address=state.address, epoch=state.epoch + 1, timeline=_close_span(state.timeline, end))


def apply_record(
    state: IdentityState,
    item: HistoryItem,
    *,
    expiration_depth: int | None = None,
    recovery_window: int = RECOVERY_WINDOW_BLOCKS,
) -> tuple[IdentityState, Verdict]:
    """Apply one name operation to the identity state.

    Rules (docs/spec.md §3): a new registration starts a new epoch that inherits
    nothing (flagged ``key.continuity-break`` when an earlier epoch existed); without a
    key the record is trusted on first use (``KeyClass.NONE``) if self-signed; with a
    key in force every change must be signed by it (owner), by the pre-committed next
    key (owner rotation), by the recovery key (recovery rotation, contestable), or by the
    custodian (no key material, no policy downgrade); a transfer of the name needs such a
    signed handoff; nothing follows a revocation in the same epoch.

    Args:
        state: the state before (``IdentityState(address=...)`` for a new history).
        item: the name operation.
        expiration_depth: if given, a gap of this many blocks also starts a new epoch.
        recovery_window: blocks during which a recovery rotation may be contested.

    Returns:
        ``(new_state, verdict)``; a flagged record leaves the state unchanged except
        for bookkeeping (owner script, last update height) unless ``verdict.applied``.
    """
    codes: list[ErrorCode] = []
    started = state.last_update_height is not None or bool(state.timeline)
    expired_gap = (
        expiration_depth is not None
        and state.last_update_height is not None
        and item.height >= state.last_update_height + expiration_depth
    )
    if started and (item.new_registration or expired_gap):
        state = _new_epoch(state, item, expiration_depth)
        codes.append(ErrorCode.CONTINUITY_BREAK)
        started = False
    pending = state.pending_recovery
    if pending is not None and item.height > pending.deadline_height:
        state = replace(state, pending_recovery=None)
        pending = None
    transfer = started and state.owner_script is not None and item.owner_script != state.owner_script

    if (
        pending is not None
        and item.facts is not None
        and _verifies(pending.superseded_key, item.facts.signed_bytes, item.facts.signature)
    ):
        # the owner contests the recovery: back to the prior state, then apply as owner
        prior = replace(pending.prior, owner_script=state.owner_script, last_update_height=state.last_update_height)
        new, verdict = _apply_keyed(prior, item, codes, transfer=False, recovery_window=recovery_window)
        if verdict.applied:
            new = replace(
                new,
                timeline=_open_span(state.timeline, new.key, item.height, new.epoch),
                used_keys=new.used_keys | state.used_keys,
            )
            return new, replace(verdict, codes=(*verdict.codes, ErrorCode.KEY_RECOVERY_CONTESTED))
        return _bookkeep(state, item), verdict

    if state.revoked:
        codes.append(ErrorCode.KEY_REVOKED)
        return _bookkeep(state, item), _verdict(item, state.epoch, codes, KeyClass.NONE, False, flagged=True)
    if state.key is None:
        # no key in force: nothing to hand off (and names move to fresh addresses on update)
        new, verdict = _apply_fresh(state, item, codes)
        return (new if verdict.applied else _bookkeep(state, item)), verdict
    new, verdict = _apply_keyed(state, item, codes, transfer=transfer, recovery_window=recovery_window)
    return (new if verdict.applied else _bookkeep(state, item)), verdict


def _bookkeep(state: IdentityState, item: HistoryItem) -> IdentityState:
    # the chain moved on (renewal height, owner) even when Waypost refuses the content;
    # expiry counts from the last name operation whatever its value (namecoin-core).
    return replace(state, last_update_height=item.height, owner_script=item.owner_script)


def validate_history(
    items: Sequence[HistoryItem],
    *,
    address: str,
    tip_height: int,
    expiration_depth: int,
    expiring_window: int = EXPIRING_WINDOW_BLOCKS,
    recovery_window: int = RECOVERY_WINDOW_BLOCKS,
) -> HistoryResult:
    """Validate the whole history of a Namecoin-backed address.

    Args:
        items: name operations in chain order (height ascending).
        address: canonical address text (bound into signatures).
        tip_height: current chain height (for expiry status).
        expiration_depth: blocks from the last update to expiry (regtest 30).
        expiring_window: blocks before expiry reported as ``expiring``.
        recovery_window: blocks during which a recovery rotation may be contested.

    Returns:
        One verdict per item and the final state with its status at ``tip_height``.

    Raises:
        ValidationError: ``request.bad`` when heights go backwards.
    """
    state = IdentityState(address=address)
    verdicts: list[Verdict] = []
    last_height = -1
    for item in items:
        if item.height < last_height:
            raise ValidationError(ErrorCode.BAD_REQUEST, "history not in height order", height=item.height)
        last_height = item.height
        state, verdict = apply_record(
            state, item, expiration_depth=expiration_depth, recovery_window=recovery_window
        )
        verdicts.append(verdict)
    return HistoryResult(verdicts=tuple(verdicts), state=_finish(state, tip_height, expiration_depth, expiring_window))


def _finish(state: IdentityState, tip_height: int, expiration_depth: int, expiring_window: int) -> IdentityState:
    if state.last_update_height is None:
        return state
    expiry = status_at(tip_height, state.last_update_height, expiration_depth, expiring_window)
    if expiry is IdentityStatus.EXPIRED:
        end = state.last_update_height + expiration_depth
        return replace(state, status=expiry, timeline=_close_span(state.timeline, end))
    if state.revoked:
        return replace(state, status=IdentityStatus.REVOKED)
    if state.redirect is not None:
        return replace(state, status=IdentityStatus.REDIRECTED)
    return replace(state, status=expiry)


# --------------------------------------------------------------------------------------
# redirects
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RedirectHop:
    """One verified hop."""

    from_address: str
    to_address: str
    reason: RedirectReason


@dataclass(frozen=True, slots=True, kw_only=True)
class RedirectResult:
    """Where the redirects end and how they got there."""

    address: str
    state: IdentityState
    hops: tuple[RedirectHop, ...]


def follow_redirects(
    start: str, lookup: Callable[[str], IdentityState | None], *, max_depth: int = 4
) -> RedirectResult:
    """Follow signed, two-sided redirects from ``start``.

    Each hop must be signed by the source's key in force (``verify_redirect``) and
    confirmed by the target, whose record lists the source in ``moved_from``.

    Args:
        start: canonical address text.
        lookup: validated state of an address, or None when unknown.
        max_depth: most hops followed.

    Returns:
        The final address, its state and the hops.

    Raises:
        NotFoundError: ``not-found`` when ``start`` or a target is unknown.
        ValidationError: ``redirect.loop``, ``redirect.too-deep``, ``redirect.unconfirmed``.
        VerificationError: ``redirect.bad-signature``.
    """
    address = start
    state = lookup(address)
    if state is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, "address not found", address=address)
    seen = {address}
    hops: list[RedirectHop] = []
    while state.redirect is not None:
        red = state.redirect
        if red.to in seen:
            raise ValidationError(ErrorCode.REDIRECT_LOOP, "redirect loop", address=red.to, hops=len(hops))
        if len(hops) >= max_depth:
            raise ValidationError(ErrorCode.REDIRECT_TOO_DEEP, "too many redirects", limit=max_depth)
        verify_redirect(address, red, state.key)
        target = lookup(red.to)
        if target is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, "redirect target not found", address=red.to)
        if address not in target.moved_from:
            raise ValidationError(
                ErrorCode.REDIRECT_UNCONFIRMED, "target does not confirm the move", source=address, target=red.to
            )
        hops.append(RedirectHop(from_address=address, to_address=red.to, reason=red.reason))
        seen.add(red.to)
        address, state = red.to, target
    return RedirectResult(address=address, state=state, hops=tuple(hops))


# --------------------------------------------------------------------------------------
# forged-reply check: was this the address's key at that time?
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyAtTime:
    """The key that made a signature and the span during which it was the address's key."""

    key: PublicKey
    span: KeySpan


def _covers(span: KeySpan, at: int) -> bool:
    return span.from_height <= at and (span.to_height is None or at < span.to_height)


def key_valid_at(timeline: Sequence[KeySpan], key: bytes, at: int) -> bool:
    """True when ``key`` was the address's key at ``at`` (a height, or any axis the timeline uses)."""
    return any(span.key == key and _covers(span, at) for span in timeline)


def sign_message(signing_key: nacl.signing.SigningKey, message: bytes) -> bytes:
    """Sign ``MESSAGE_DOMAIN || message`` (what ``verify_message_at`` checks)."""
    return bytes(signing_key.sign(MESSAGE_DOMAIN + message).signature)


def verify_message_at(message: bytes, signature: bytes, timeline: Sequence[KeySpan], at: int) -> KeyAtTime:
    """Decide whether ``signature`` over ``message`` was made by the address's key at ``at``.

    Args:
        message: the message bytes (signed as ``MESSAGE_DOMAIN || message``).
        signature: 64-byte ed25519 signature.
        timeline: the address's ``IdentityState.timeline``.
        at: height (or time) the message claims.

    Returns:
        The key and its span.

    Raises:
        VerificationError: ``key.not-at-time`` when a key of the address signed but was
            not in force at ``at`` (old, revoked or not yet valid key: a forged reply);
            ``key.bad-signature`` when no key of the address signed.
    """
    signed = MESSAGE_DOMAIN + message
    for span in timeline:
        if _covers(span, at) and _verifies(span.key, signed, signature):
            return KeyAtTime(key=span.key, span=span)
    for span in timeline:
        if _verifies(span.key, signed, signature):
            raise VerificationError(
                ErrorCode.KEY_NOT_AT_TIME,
                "signed by a key of this address that was not in force at that time",
                from_height=span.from_height,
                to_height=span.to_height,
                at=at,
            )
    raise VerificationError(ErrorCode.KEY_BAD_SIGNATURE, "no key of this address made this signature", at=at)
