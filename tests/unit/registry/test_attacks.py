"""Table of attacks on identities: each one is rejected (typed error) or flagged (verdict), asserted by code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import pytest

from tests.unit.registry.keyhelpers import (
    ALICE,
    BOB,
    OWNER_B,
    item,
    pk,
    profile,
    signed,
    sk,
    with_redirect,
)
from waypost.registry.chain import (
    DuplicityEvidence,
    EntryKind,
    commit_key,
    entry_hash,
    make_entry,
    validate_chain,
    validate_no_duplicity,
    verify_duplicity_evidence,
)
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.registry.keys import (
    HistoryItem,
    IdentityState,
    VerdictStatus,
    follow_redirects,
    sign_message,
    validate_history,
    verify_message_at,
)
from waypost.registry.profile import PolicyMode, Protocol, RedirectReason, validate_no_downgrade

DEPTH = 30  # namecoin-core regtest


class Outcome(NamedTuple):
    how: str  # "rejected" (typed error) or "flagged" (verdict)
    code: ErrorCode


def _last_verdict(items: list[HistoryItem]) -> tuple[Outcome, IdentityState]:
    r = validate_history(items, address=ALICE, tip_height=items[-1].height, expiration_depth=DEPTH)
    assert r.verdicts[0].applied  # the legitimate first record
    v = r.verdicts[-1]
    assert v.status is VerdictStatus.FLAGGED, v
    # only a new epoch is adopted (it is what the chain says), and it inherits nothing
    assert not v.applied or v.codes == (ErrorCode.CONTINUITY_BREAK,), v
    return Outcome("flagged", v.codes[0]), r.state


def _rejected(fn: Callable[[], object]) -> Outcome:
    with pytest.raises(WaypostError) as ei:
        fn()
    return Outcome("rejected", ei.value.code)


def _genesis() -> HistoryItem:
    pol = ((Protocol.EMAIL, Protocol.XMPP), PolicyMode.ENFORCE)
    p = profile(1, next_key=2, recovery=9, endpoints={Protocol.EMAIL: "a@example.com", Protocol.XMPP: "a@example.org"},
                policy=pol)
    return item(1, signed(p, 1))


def _state(address: str, key: int, p) -> IdentityState:  # type: ignore[no-untyped-def]
    r = validate_history([item(1, signed(p, key, address=address), address=address)], address=address,
                         tip_height=1, expiration_depth=DEPTH)
    assert r.verdicts[0].applied
    return r.state


# ------------------------------------------------------------------ the attacks


def hijack_after_expiry() -> Outcome:
    old = with_redirect(profile(1, next_key=2, policy=((Protocol.EMAIL,), PolicyMode.ENFORCE)), source=ALICE,
                        to=BOB, reason=RedirectReason.VOLUNTARY, signer=1)
    # the name expired at 31; an attacker registers it at 45 with their own key
    out, state = _last_verdict([item(1, signed(old, 1)), item(45, signed(profile(6, next_key=7), 6), owner=OWNER_B,
                                                             new_registration=True)])
    assert (state.epoch, state.redirect, state.policy) == (1, None, None)  # inherits nothing
    assert state.key == pk(6) and pk(1) not in state.used_keys
    return out


def replayed_rotation() -> Outcome:
    rot1 = item(5, signed(profile(2, next_key=3, recovery=9), 2))
    rot2 = item(6, signed(profile(3, next_key=4, recovery=9), 3))
    out, state = _last_verdict([_genesis(), rot1, rot2, dataclasses.replace(rot1, height=7)])
    assert state.key == pk(3)
    return out


def out_of_order_rotation() -> Outcome:
    # key 3 was committed by key 2's record; presenting it while key 1 is in force skips a step
    out, state = _last_verdict([_genesis(), item(5, signed(profile(3, next_key=4, recovery=9), 3))])
    assert state.key == pk(1)
    return out


def rotation_to_uncommitted_key() -> Outcome:
    # the thief holds the current key but not the pre-committed next key
    out, state = _last_verdict([_genesis(), item(5, signed(profile(66, next_key=67), 1))])
    assert state.key == pk(1)
    return out


def stolen_key_moves_commitment() -> Outcome:
    p = profile(1, next_key=66, recovery=9, endpoints={Protocol.EMAIL: "a@example.com", Protocol.XMPP: "a@example.org"},
                policy=((Protocol.EMAIL, Protocol.XMPP), PolicyMode.ENFORCE))
    out, _ = _last_verdict([_genesis(), item(5, signed(p, 1))])
    return out


def transfer_without_handoff() -> Outcome:
    out, state = _last_verdict([_genesis(), item(5, signed(profile(66, next_key=67), 66), owner=OWNER_B)])
    assert state.key == pk(1)
    return out


def unsigned_value_change() -> Outcome:
    return _last_verdict([_genesis(), item(5, signed(profile(1, next_key=2, recovery=9), None))])[0]


def custodian_takes_key() -> Outcome:
    g = item(1, signed(profile(1, next_key=2, custodian=8), 1))
    return _last_verdict([g, item(5, signed(profile(8, next_key=2, custodian=8), 8))])[0]


def _redirect_world(confirm: bool, back: bool) -> dict[str, IdentityState]:
    a = _state(ALICE, 1, with_redirect(profile(1, next_key=2, moved_from=(BOB,) if back else ()), source=ALICE,
                                       to=BOB, reason=RedirectReason.VOLUNTARY, signer=1))
    b_profile = profile(3, next_key=4, moved_from=(ALICE,) if confirm else ())
    if back:
        b_profile = with_redirect(b_profile, source=BOB, to=ALICE, reason=RedirectReason.VOLUNTARY, signer=3)
    return {ALICE: a, BOB: _state(BOB, 3, b_profile)}


def redirect_loop() -> Outcome:
    world = _redirect_world(confirm=True, back=True)
    return _rejected(lambda: follow_redirects(ALICE, world.get))


def one_sided_redirect() -> Outcome:
    world = _redirect_world(confirm=False, back=False)
    return _rejected(lambda: follow_redirects(ALICE, world.get))


def forged_redirect() -> Outcome:
    world = _redirect_world(confirm=True, back=False)
    a = world[ALICE]
    assert a.redirect is not None
    fake = dataclasses.replace(a.redirect, to="mallory@id.bit")  # sig was over the real target
    world = {ALICE: dataclasses.replace(a, redirect=fake), "mallory@id.bit": _state(
        "mallory@id.bit", 5, profile(5, next_key=6, moved_from=(ALICE,)))}
    return _rejected(lambda: follow_redirects(ALICE, world.get))


def redirect_chain_too_deep() -> Outcome:
    world = _redirect_world(confirm=True, back=False)
    return _rejected(lambda: follow_redirects(ALICE, world.get, max_depth=0))


def _pinned_and_new(drop: str):  # type: ignore[no-untyped-def]
    from waypost.registry.profile import parse_profile

    pinned = parse_profile(b'{"waypost":{"v":1,"ep":{"email":"a@example.com","xmpp":"a@example.org"},'
                           b'"policy":{"require":["email","xmpp"],"mode":"enforce"}}}')
    new = {
        "protocol": b'{"waypost":{"v":1,"ep":{"email":"a@example.com","xmpp":"a@example.org"},'
                    b'"policy":{"require":["email"],"mode":"enforce"}}}',
        "policy": b'{"waypost":{"v":1,"ep":{"email":"a@example.com","xmpp":"a@example.org"}}}',
    }[drop]
    return pinned, parse_profile(new)


def downgrade_drop_protocol() -> Outcome:
    pinned, new = _pinned_and_new("protocol")
    return _rejected(lambda: validate_no_downgrade(pinned, new))


def downgrade_drop_policy() -> Outcome:
    pinned, new = _pinned_and_new("policy")
    return _rejected(lambda: validate_no_downgrade(pinned, new))


def forked_private_chain() -> Outcome:
    g = make_entry(sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(pk(2)), body={})
    a = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next,
                   body={"xmpp": "alice@example.org"})
    b = make_entry(sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next,
                   body={"xmpp": "mallory@example.org"})
    # each branch alone validates: only the pair shows the server (or key holder) forked
    validate_chain([g, a], address_key=pk(1))
    validate_chain([g, b], address_key=pk(1))
    out = _rejected(lambda: validate_no_duplicity(a, b))
    with pytest.raises(WaypostError) as ei:
        validate_no_duplicity(a, b)
    evidence = DuplicityEvidence.parse(ei.value.fields["evidence"])
    verify_duplicity_evidence(evidence)  # anyone can check it offline
    return out


def private_chain_uncommitted_rotation() -> Outcome:
    g = make_entry(sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(pk(2)), body={})
    rot = make_entry(sk(66), seq=1, prev=entry_hash(g), kind=EntryKind.ROTATE, next_commitment=None, body={})
    return _rejected(lambda: validate_chain([g, rot], address_key=pk(1)))


def private_chain_wrong_genesis() -> Outcome:
    g = make_entry(sk(66), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=None, body={})
    return _rejected(lambda: validate_chain([g], address_key=pk(1)))


def forged_reply_with_old_key() -> Outcome:
    r = validate_history([_genesis(), item(5, signed(profile(2, next_key=3, recovery=9), 2))], address=ALICE,
                         tip_height=10, expiration_depth=DEPTH)
    msg = b"I never said that"
    # key 1 leaked after the rotation at 5; the forger claims height 8
    return _rejected(lambda: verify_message_at(msg, sign_message(sk(1), msg), r.state.timeline, 8))


ATTACKS: list[tuple[Callable[[], Outcome], Outcome]] = [
    (hijack_after_expiry, Outcome("flagged", ErrorCode.CONTINUITY_BREAK)),
    (replayed_rotation, Outcome("flagged", ErrorCode.KEY_REPLAY)),
    (out_of_order_rotation, Outcome("flagged", ErrorCode.KEY_UNCOMMITTED)),
    (rotation_to_uncommitted_key, Outcome("flagged", ErrorCode.KEY_UNCOMMITTED)),
    (stolen_key_moves_commitment, Outcome("flagged", ErrorCode.KEY_COMMITMENT_CHANGED)),
    (transfer_without_handoff, Outcome("flagged", ErrorCode.CONTINUITY_BREAK)),
    (unsigned_value_change, Outcome("flagged", ErrorCode.KEY_UNSIGNED_CHANGE)),
    (custodian_takes_key, Outcome("flagged", ErrorCode.KEY_UNAUTHORISED)),
    (redirect_loop, Outcome("rejected", ErrorCode.REDIRECT_LOOP)),
    (one_sided_redirect, Outcome("rejected", ErrorCode.REDIRECT_UNCONFIRMED)),
    (forged_redirect, Outcome("rejected", ErrorCode.REDIRECT_BAD_SIGNATURE)),
    (redirect_chain_too_deep, Outcome("rejected", ErrorCode.REDIRECT_TOO_DEEP)),
    (downgrade_drop_protocol, Outcome("rejected", ErrorCode.POLICY_DOWNGRADE)),
    (downgrade_drop_policy, Outcome("rejected", ErrorCode.POLICY_DOWNGRADE)),
    (forked_private_chain, Outcome("rejected", ErrorCode.CHAIN_DUPLICITY)),
    (private_chain_uncommitted_rotation, Outcome("rejected", ErrorCode.KEY_UNCOMMITTED)),
    (private_chain_wrong_genesis, Outcome("rejected", ErrorCode.CHAIN_BAD_GENESIS)),
    (forged_reply_with_old_key, Outcome("rejected", ErrorCode.KEY_NOT_AT_TIME)),
]


@pytest.mark.parametrize(("attack", "expected"), [pytest.param(a, e, id=a.__name__) for a, e in ATTACKS])
def test_attack_is_rejected_or_flagged(attack: Callable[[], Outcome], expected: Outcome) -> None:
    assert attack() == expected
