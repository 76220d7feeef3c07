"""Unit tests for registry.keys: history state machine, expiry, redirects, key-at-time."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.registry.keyhelpers import (
    ALICE,
    BOB,
    OWNER_A,
    OWNER_B,
    facts,
    item,
    pk,
    profile,
    signed,
    sk,
    with_redirect,
)
from waypost.registry.errors import ErrorCode, NotFoundError, ValidationError, VerificationError
from waypost.registry.keys import (
    HistoryItem,
    IdentityState,
    IdentityStatus,
    KeyClass,
    KeySpan,
    VerdictStatus,
    follow_redirects,
    key_valid_at,
    sign_message,
    status_at,
    validate_history,
    verify_message_at,
)
from waypost.registry.profile import PolicyMode, Protocol, RedirectReason

DEPTH = 30  # namecoin-core regtest expiration depth


def run(items: list[HistoryItem], *, tip: int | None = None, recovery_window: int = 10):  # type: ignore[no-untyped-def]
    tip = tip if tip is not None else items[-1].height
    return validate_history(
        items, address=ALICE, tip_height=tip, expiration_depth=DEPTH, expiring_window=5, recovery_window=recovery_window
    )


def base() -> list[HistoryItem]:
    return [item(1, signed(profile(1, next_key=2, recovery=9, custodian=8), 1))]


# ---------------------------------------------------------------- status_at


@pytest.mark.parametrize(
    ("height", "status"),
    [(100, IdentityStatus.ACTIVE), (124, IdentityStatus.ACTIVE), (125, IdentityStatus.EXPIRING),
     (129, IdentityStatus.EXPIRING), (130, IdentityStatus.EXPIRED), (500, IdentityStatus.EXPIRED)],
)
def test_status_at(height: int, status: IdentityStatus) -> None:
    # namecoin-core: updated at 100 with depth 30 expires at 130
    assert status_at(height, 100, DEPTH, 5) is status


# ---------------------------------------------------------------- first use, owner updates


def test_first_record_is_trusted_on_first_use() -> None:
    r = run(base())
    (v,) = r.verdicts
    assert v.status is VerdictStatus.ACCEPTED and v.key_class is KeyClass.NONE and v.applied
    assert r.state.key == pk(1) and r.state.status is IdentityStatus.ACTIVE
    assert r.state.timeline == (KeySpan(from_height=1, to_height=None, key=pk(1), epoch=0),)


def test_first_record_with_bad_self_signature_not_adopted() -> None:
    r = run([item(1, signed(profile(1, next_key=2), 5))])
    assert r.verdicts[0].codes == (ErrorCode.KEY_BAD_SIGNATURE,)
    assert r.state.key is None


def test_plain_values_before_a_key() -> None:
    r = run([item(1, None), item(2, signed(profile(1, next_key=2), 1))])
    assert [v.status for v in r.verdicts] == [VerdictStatus.ACCEPTED, VerdictStatus.ACCEPTED]
    assert r.state.key == pk(1)


def test_owner_update_accepted() -> None:
    upd = signed(profile(1, next_key=2, recovery=9, custodian=8, endpoints={Protocol.XMPP: "a@example.org"}), 1)
    r = run([*base(), item(5, upd)])
    assert r.verdicts[1].key_class is KeyClass.OWNER and r.verdicts[1].applied
    assert r.state.profile is not None and r.state.profile.endpoint(Protocol.XMPP) == "a@example.org"


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (None, ErrorCode.KEY_UNSIGNED_CHANGE),  # not a profile at all
        (signed(profile(1, next_key=2, recovery=9, custodian=8), None), ErrorCode.KEY_UNSIGNED_CHANGE),
        (signed(profile(1, next_key=2, recovery=9, custodian=8), 5), ErrorCode.KEY_BAD_SIGNATURE),
        (signed(profile(1, next_key=7, recovery=9, custodian=8), 1), ErrorCode.KEY_COMMITMENT_CHANGED),
        (signed(profile(7, next_key=3), 7), ErrorCode.KEY_UNCOMMITTED),
        (signed(profile(7, next_key=3), 1), ErrorCode.KEY_UNCOMMITTED),  # old key hands to uncommitted
    ],
)
def test_flagged_changes_leave_state(record, code: ErrorCode) -> None:  # type: ignore[no-untyped-def]
    r = run([*base(), item(5, record)])
    v = r.verdicts[1]
    assert v.status is VerdictStatus.FLAGGED and not v.applied
    assert code in v.codes
    assert r.state.key == pk(1)
    assert r.state.last_update_height == 5  # the name was still renewed on chain


def test_plain_namecoin_value_replacing_keyed_profile_is_flagged() -> None:
    from waypost.registry.profile import Profile

    r = run([*base(), item(5, Profile(namecoin=(("email", '"x@example.com"'),)))])
    assert r.verdicts[1].codes == (ErrorCode.KEY_UNSIGNED_CHANGE,)


# ---------------------------------------------------------------- rotation, replay


def rotated() -> list[HistoryItem]:
    return [*base(), item(5, signed(profile(2, next_key=3, recovery=9, custodian=8), 2))]


def test_rotation_to_committed_key() -> None:
    r = run(rotated())
    v = r.verdicts[1]
    assert v.status is VerdictStatus.ACCEPTED and v.key_class is KeyClass.OWNER
    assert r.state.key == pk(2)
    assert [(s.from_height, s.to_height, s.key) for s in r.state.timeline] == [(1, 5, pk(1)), (5, None, pk(2))]


def test_rotation_signed_by_old_key_to_committed_key() -> None:
    r = run([*base(), item(5, signed(profile(2, next_key=3, recovery=9, custodian=8), 1))])
    assert r.verdicts[1].applied and r.state.key == pk(2)


def test_replayed_old_record_after_rotation() -> None:
    old = base()[0]
    r = run([*rotated(), dataclasses.replace(old, height=9, txid=old.txid)])
    assert r.verdicts[2].codes == (ErrorCode.KEY_REPLAY,)
    assert r.state.key == pk(2)


# ---------------------------------------------------------------- custodian


def test_custodian_classes() -> None:
    ep = signed(profile(1, next_key=2, recovery=9, custodian=8, endpoints={Protocol.MATRIX: "@a:example.org"}), 8)
    r = run([*base(), item(5, ep)])
    assert r.verdicts[1].key_class is KeyClass.CUSTODIAN and r.verdicts[1].applied
    grab = signed(profile(8, next_key=2, recovery=9, custodian=8), 8)
    r = run([*base(), item(5, grab)])
    assert r.verdicts[1].codes == (ErrorCode.KEY_UNAUTHORISED,)
    assert r.verdicts[1].key_class is KeyClass.CUSTODIAN and not r.verdicts[1].applied


def test_custodian_may_not_weaken_pinned_policy() -> None:
    pol = ((Protocol.EMAIL,), PolicyMode.ENFORCE)
    first = signed(profile(1, next_key=2, custodian=8, policy=pol), 1)
    weaker = signed(profile(1, next_key=2, custodian=8, policy=((Protocol.EMAIL,), PolicyMode.TESTING)), 8)
    r = run([item(1, first), item(5, weaker)])
    assert r.verdicts[1].codes == (ErrorCode.POLICY_DOWNGRADE,)
    owner_weaker = signed(profile(1, next_key=2, custodian=8), 1)
    r = run([item(1, first), item(5, owner_weaker)])
    assert r.verdicts[1].applied  # the owner may relax it; clients with pins still refuse


# ---------------------------------------------------------------- recovery


def recovered() -> list[HistoryItem]:
    return [*base(), item(10, signed(profile(9, next_key=4, recovery=5), 9))]


def test_recovery_rotation_is_pending_then_final() -> None:
    r = run(recovered())
    v = r.verdicts[1]
    assert v.key_class is KeyClass.RECOVERY and v.applied and ErrorCode.KEY_RECOVERY_PENDING in v.codes
    assert r.state.key == pk(9)
    assert r.state.pending_recovery is not None and r.state.pending_recovery.deadline_height == 20
    # after the window the superseded key is just an old key: replay
    late = item(21, signed(profile(1, next_key=2, recovery=9, custodian=8), 1))
    r = run([*recovered(), late])
    assert r.verdicts[2].codes == (ErrorCode.KEY_REPLAY,)
    assert r.state.key == pk(9)


def test_owner_contests_recovery_within_window() -> None:
    contest = item(15, signed(profile(1, next_key=2, recovery=6, custodian=8), 1))
    r = run([*recovered(), contest])
    v = r.verdicts[2]
    assert v.key_class is KeyClass.OWNER and v.applied and ErrorCode.KEY_RECOVERY_CONTESTED in v.codes
    assert r.state.key == pk(1) and r.state.recovery_commitment is not None
    assert r.state.pending_recovery is None
    assert [s.key for s in r.state.timeline] == [pk(1), pk(9), pk(1)]
    # the recovery key, once superseded, cannot come back
    again = item(16, signed(profile(9, next_key=4, recovery=5), 9))
    r = run([*recovered(), contest, again])
    assert r.verdicts[3].codes == (ErrorCode.KEY_REPLAY,)


def test_recovery_by_revealed_signer_key() -> None:
    from waypost.registry.keys import apply_record

    state = run(base()).state
    p = signed(profile(4, next_key=5), None)
    from waypost.registry.profile import signing_message

    p = dataclasses.replace(p, sig=bytes(sk(9).sign(signing_message(p, address=ALICE)).signature))
    f = dataclasses.replace(facts(p), signer_key=pk(9))
    it = HistoryItem(height=7, txid=item(7, None).txid, owner_script=OWNER_A, facts=f)
    new, v = apply_record(state, it, recovery_window=10)
    assert v.key_class is KeyClass.RECOVERY and v.applied and new.key == pk(4)


# ---------------------------------------------------------------- revocation, epochs, transfers


def test_revocation_ends_epoch() -> None:
    withdraw = signed(profile(None, endpoints={}), 1)
    r = run([*base(), item(5, withdraw), item(6, signed(profile(1, next_key=2, recovery=9, custodian=8), 1))])
    assert r.verdicts[1].applied and r.verdicts[1].key_class is KeyClass.OWNER
    assert r.verdicts[2].codes == (ErrorCode.KEY_REVOKED,)
    assert r.state.status is IdentityStatus.REVOKED
    assert r.state.timeline[-1].to_height == 5
    # a new registration after expiry starts over
    fresh = item(60, signed(profile(3, next_key=4), 3), owner=OWNER_B, new_registration=True)
    r = run([*base(), item(5, withdraw), fresh])
    assert r.state.epoch == 1 and r.state.key == pk(3) and not r.state.revoked


def test_new_epoch_inherits_nothing() -> None:
    pol = ((Protocol.EMAIL,), PolicyMode.ENFORCE)
    first = with_redirect(
        profile(1, next_key=2, recovery=9, custodian=8, policy=pol), source=ALICE, to=BOB,
        reason=RedirectReason.VOLUNTARY, signer=1,
    )
    hijack = signed(profile(6, next_key=7), 6)
    for flag, height in [(True, 40), (False, 40), (True, 12)]:
        r = run([item(1, signed(first, 1)), item(height, hijack, owner=OWNER_B, new_registration=flag)])
        v = r.verdicts[1]
        assert v.status is VerdictStatus.FLAGGED and v.codes == (ErrorCode.CONTINUITY_BREAK,) and v.applied
        assert v.epoch == 1
        s = r.state
        assert (s.epoch, s.key, s.redirect, s.policy, s.recovery_commitment, s.custodian_key) == (
            1, pk(6), None, None, None, None)
        assert pk(1) not in s.used_keys
        assert s.timeline[0].to_height == min(height, 31) and s.timeline[-1].key == pk(6)


def test_transfer_with_and_without_handoff() -> None:
    handoff = signed(profile(1, next_key=2, recovery=9, custodian=8), 1)
    r = run([*base(), item(5, handoff, owner=OWNER_B)])
    assert r.verdicts[1].status is VerdictStatus.ACCEPTED
    stranger = signed(profile(5, next_key=6), 5)
    r = run([*base(), item(5, stranger, owner=OWNER_B)])
    assert r.verdicts[1].codes == (ErrorCode.CONTINUITY_BREAK, ErrorCode.KEY_UNCOMMITTED)
    assert not r.verdicts[1].applied
    r = run([*base(), item(5, None, owner=OWNER_B)])
    assert r.verdicts[1].codes == (ErrorCode.CONTINUITY_BREAK, ErrorCode.KEY_UNSIGNED_CHANGE)
    assert r.verdicts[1].status is VerdictStatus.FLAGGED and r.state.key == pk(1)
    # the provider's key is a key of the identity: its signature is a handoff (class custodian)
    cust = signed(profile(1, next_key=2, recovery=9, custodian=8, endpoints={Protocol.XMPP: "a@example.org"}), 8)
    r = run([*base(), item(5, cust, owner=OWNER_B)])
    assert r.verdicts[1].codes == () and r.verdicts[1].key_class is KeyClass.CUSTODIAN and r.verdicts[1].applied


def test_expiry_status_of_history() -> None:
    r = run(base(), tip=27)
    assert r.state.status is IdentityStatus.EXPIRING
    r = run(base(), tip=31)
    assert r.state.status is IdentityStatus.EXPIRED
    assert r.state.timeline[-1].to_height == 31


def test_history_out_of_order_refused() -> None:
    with pytest.raises(ValidationError) as ei:
        run([item(5, None), item(4, None)])
    assert ei.value.code is ErrorCode.BAD_REQUEST


# ---------------------------------------------------------------- redirects


def moved(source: str = ALICE, to: str = BOB, signer: int = 1) -> IdentityState:
    p = with_redirect(profile(1, next_key=2), source=source, to=to, reason=RedirectReason.VOLUNTARY, signer=signer)
    return run([item(1, signed(p, 1, address=source), address=source)]).state


def test_redirect_in_history() -> None:
    s = moved()
    assert s.redirect is not None and s.status is IdentityStatus.REDIRECTED
    p = with_redirect(profile(1, next_key=2), source=ALICE, to=BOB, reason=RedirectReason.VOLUNTARY, signer=5)
    r = run([item(1, signed(p, 1))])
    assert r.verdicts[0].codes == (ErrorCode.REDIRECT_BAD_SIGNATURE,)
    p = with_redirect(profile(1, next_key=2), source=ALICE, to=ALICE, reason=RedirectReason.VOLUNTARY, signer=1)
    r = run([item(1, signed(p, 1))])
    assert r.verdicts[0].codes == (ErrorCode.REDIRECT_LOOP,)


def state_of(address: str, p_signed_by: int, p) -> IdentityState:  # type: ignore[no-untyped-def]
    return validate_history(
        [item(1, signed(p, p_signed_by, address=address), address=address)],
        address=address, tip_height=1, expiration_depth=DEPTH,
    ).state


def test_follow_redirects() -> None:
    carol = "carol@id.bit"
    a = state_of(ALICE, 1, with_redirect(profile(1, next_key=2), source=ALICE, to=BOB,
                                         reason=RedirectReason.VOLUNTARY, signer=1))
    b = state_of(BOB, 3, with_redirect(profile(3, next_key=4, moved_from=(ALICE,)), source=BOB, to=carol,
                                       reason=RedirectReason.ADMINISTRATIVE, signer=3))
    c = state_of(carol, 5, profile(5, next_key=6, moved_from=(BOB, "x@id.bit")))
    table = {ALICE: a, BOB: b, carol: c}
    res = follow_redirects(ALICE, table.get)
    assert res.address == carol and res.state.key == pk(5)
    assert [(h.from_address, h.to_address, h.reason) for h in res.hops] == [
        (ALICE, BOB, RedirectReason.VOLUNTARY), (BOB, carol, RedirectReason.ADMINISTRATIVE)]
    assert follow_redirects(carol, table.get).hops == ()
    with pytest.raises(ValidationError) as ei:
        follow_redirects(ALICE, table.get, max_depth=1)
    assert ei.value.code is ErrorCode.REDIRECT_TOO_DEEP
    with pytest.raises(NotFoundError):
        follow_redirects("nobody@id.bit", table.get)
    with pytest.raises(NotFoundError):
        follow_redirects(ALICE, {ALICE: a}.get)
    # a state whose redirect signature was forged after validation
    from waypost.registry.profile import Redirect

    assert a.redirect is not None
    forged = dataclasses.replace(a, redirect=Redirect(to=BOB, reason=RedirectReason.VOLUNTARY, sig=b"\x00" * 64))
    with pytest.raises(VerificationError) as ev:
        follow_redirects(ALICE, {ALICE: forged, BOB: b, carol: c}.get)
    assert ev.value.code is ErrorCode.REDIRECT_BAD_SIGNATURE


# ---------------------------------------------------------------- key at time


def test_key_valid_at_and_verify_message_at() -> None:
    tl = run(rotated()).state.timeline
    assert key_valid_at(tl, pk(1), 1) and key_valid_at(tl, pk(1), 4)
    assert not key_valid_at(tl, pk(1), 5) and key_valid_at(tl, pk(2), 5) and key_valid_at(tl, pk(2), 10_000)
    assert not key_valid_at(tl, pk(2), 0)
    msg = b"reply: see you at noon"
    got = verify_message_at(msg, sign_message(sk(1), msg), tl, 3)
    assert got.key == pk(1) and got.span.to_height == 5
    with pytest.raises(VerificationError) as ei:
        verify_message_at(msg, sign_message(sk(1), msg), tl, 8)  # old key used after rotation
    assert ei.value.code is ErrorCode.KEY_NOT_AT_TIME
    with pytest.raises(VerificationError) as ei:
        verify_message_at(msg, sign_message(sk(7), msg), tl, 8)
    assert ei.value.code is ErrorCode.KEY_BAD_SIGNATURE
    with pytest.raises(VerificationError) as ei:
        verify_message_at(msg, bytes(sk(2).sign(msg).signature), tl, 8)  # no domain prefix
    assert ei.value.code is ErrorCode.KEY_BAD_SIGNATURE


def test_owner_script_change_without_key_is_not_a_break() -> None:
    # namecoin-core name_update moves the name to a fresh wallet address by default
    r = run([item(1, None), item(2, None, owner=OWNER_B), item(3, signed(profile(1, next_key=2), 1), owner=OWNER_A)])
    assert [v.codes for v in r.verdicts] == [(), (), ()] and r.state.key == pk(1)


# ---------------------------------------------------------------- private chains as identities


def test_identity_from_chain_and_redirect_to_namecoin() -> None:
    from waypost.registry.address import encode_key_domain
    from waypost.registry.chain import EntryKind, commit_key, entry_hash, make_entry, validate_chain
    from waypost.registry.errors import ParseError
    from waypost.registry.keys import identity_from_chain
    from waypost.registry.profile import redirect_message

    src = "me@" + encode_key_domain(pk(1))
    g = make_entry(sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(pk(2)), body={})
    r = make_entry(sk(2), seq=1, prev=entry_hash(g), kind=EntryKind.ROTATE, next_commitment=commit_key(pk(3)), body={})
    sig = bytes(sk(2).sign(redirect_message(src, BOB, RedirectReason.VOLUNTARY)).signature)
    body = {"redirect": {"to": BOB, "reason": "voluntary", "sig": sig}}
    m = make_entry(sk(2), seq=2, prev=entry_hash(r), kind=EntryKind.REDIRECT, next_commitment=commit_key(pk(3)),
                   body=body)
    ident = identity_from_chain(validate_chain([g, r, m], address_key=pk(1)), address=src)
    assert ident.status is IdentityStatus.REDIRECTED and ident.key == pk(2)
    assert [(s.from_height, s.to_height, s.key) for s in ident.timeline] == [(0, 1, pk(1)), (1, None, pk(2))]
    bob = state_of(BOB, 3, profile(3, next_key=4, moved_from=(src,)))
    res = follow_redirects(src, {src: ident, BOB: bob}.get)
    assert res.address == BOB and res.hops[0].from_address == src
    # signed by the old key: refused
    bad_sig = bytes(sk(1).sign(redirect_message(src, BOB, RedirectReason.VOLUNTARY)).signature)
    m2 = make_entry(sk(2), seq=2, prev=entry_hash(r), kind=EntryKind.REDIRECT, next_commitment=commit_key(pk(3)),
                    body={"redirect": {"to": BOB, "reason": "voluntary", "sig": bad_sig}})
    with pytest.raises(VerificationError) as ei:
        identity_from_chain(validate_chain([g, r, m2], address_key=pk(1)), address=src)
    assert ei.value.code is ErrorCode.REDIRECT_BAD_SIGNATURE
    m3 = make_entry(sk(2), seq=2, prev=entry_hash(r), kind=EntryKind.REDIRECT, next_commitment=commit_key(pk(3)),
                    body={"redirect": {"to": BOB, "reason": "bored", "sig": sig}})
    with pytest.raises(ParseError) as pe:
        identity_from_chain(validate_chain([g, r, m3], address_key=pk(1)), address=src)
    assert pe.value.code is ErrorCode.REDIRECT_BAD
