"""Pure light-client decisions: rollback, fork, split view, downgrade/pins, freshness, quorum, redirects."""

from __future__ import annotations

import json

import nacl.signing
import pytest

from waypost.client import core
from waypost.demo import signed_value
from waypost.registry import merkle
from waypost.registry.address import encode_key_domain
from waypost.registry.chain import ChainEntry, CborValue, EntryKind, commit_key, entry_hash, make_entry, validate_chain
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.registry.model import PublicKey
from waypost.registry.profile import encode_profile
from waypost.tlog import note as note_mod

SIGNER = note_mod.signer_from_seed("log.example", bytes([1]) * 32)
OTHER = note_mod.signer_from_seed("log.example", bytes([2]) * 32)
W1 = note_mod.signer_from_seed("w1.example", bytes([3]) * 32, note_mod.ALG_COSIGNATURE_V1)
W2 = note_mod.signer_from_seed("w2.example", bytes([4]) * 32, note_mod.ALG_COSIGNATURE_V1)
LEAVES = [merkle.leaf_hash(b"leaf %d" % i) for i in range(20)]
FORKED = [merkle.leaf_hash(b"fork %d" % i) for i in range(20)]


def cp(size: int, leaves: list[bytes] = LEAVES, signer: note_mod.Signer = SIGNER, origin: str = "log.example/x") -> note_mod.SignedCheckpoint:
    c = note_mod.Checkpoint(origin=origin, size=size, root_hash=merkle.root(leaves[:size]))
    note = note_mod.sign_note(note_mod.encode_checkpoint(c), signer)
    return note_mod.open_checkpoint(note, [signer.verifier])


def code_of(fn: object, *args: object, **kw: object) -> ErrorCode:
    with pytest.raises(WaypostError) as ei:
        fn(*args, **kw)  # type: ignore[operator]
    return ei.value.code


# --- rollback / fork ------------------------------------------------------------------------


def test_progress_accepts_a_consistent_extension_and_first_contact() -> None:
    core.verify_progress(None, cp(5), ())
    core.verify_progress(cp(5), cp(12), merkle.consistency_proof(LEAVES, 5, 12))
    core.verify_progress(cp(12), cp(12), ())


def test_rollback_is_rejected_with_verifiable_evidence() -> None:
    with pytest.raises(WaypostError) as ei:
        core.verify_progress(cp(12), cp(7), ())
    assert ei.value.code == ErrorCode.CHECKPOINT_ROLLBACK
    ev = ei.value.fields["evidence"]
    note_mod.verify_evidence(ev, [SIGNER.verifier])  # a third party can check it


def test_fork_is_rejected_with_evidence_same_and_larger_size() -> None:
    with pytest.raises(WaypostError) as ei:
        core.verify_progress(cp(8), cp(8, FORKED), ())
    assert ei.value.code == ErrorCode.CHECKPOINT_INCONSISTENT
    note_mod.verify_evidence(ei.value.fields["evidence"], [SIGNER.verifier])
    # larger forked tree: the proof the server offers (real proof of another tree) does not connect
    bad_proof = merkle.consistency_proof(FORKED, 5, 12)
    with pytest.raises(WaypostError) as ei:
        core.verify_progress(cp(5), cp(12, FORKED), bad_proof)
    assert ei.value.code == ErrorCode.CHECKPOINT_INCONSISTENT
    note_mod.verify_evidence(ei.value.fields["evidence"], [SIGNER.verifier])


def test_missing_consistency_proof_is_a_fork_not_a_pass() -> None:
    assert code_of(core.verify_progress, cp(5), cp(12), ()) == ErrorCode.CHECKPOINT_INCONSISTENT


# --- split view -----------------------------------------------------------------------------


def test_split_view_pairs_compare_with_the_largest_of_each_origin() -> None:
    cps = [cp(5), cp(12), cp(12), cp(3, origin="other/log")]
    assert core.split_view_pairs(cps) == [(0, 1)]


def test_consistent_servers_pass_and_a_split_view_is_caught_with_evidence() -> None:
    good = [cp(5), cp(12)]
    core.verify_no_split_view(good, {(0, 1): merkle.consistency_proof(LEAVES, 5, 12)})
    core.verify_no_split_view([cp(9), cp(9)], {})
    with pytest.raises(WaypostError) as ei:
        core.verify_no_split_view([cp(9), cp(9, FORKED)], {})
    assert ei.value.code == ErrorCode.CHECKPOINT_SPLIT_VIEW
    note_mod.verify_evidence(ei.value.fields["evidence"], [SIGNER.verifier])
    with pytest.raises(WaypostError) as ei:
        core.verify_no_split_view([cp(5, FORKED), cp(12)], {(0, 1): merkle.consistency_proof(LEAVES, 5, 12)})
    assert ei.value.code == ErrorCode.CHECKPOINT_SPLIT_VIEW


# --- freshness and quorum -------------------------------------------------------------------


def test_stale_answers_are_refused() -> None:
    core.verify_fresh(1000, 1500, 600, what="t")
    assert code_of(core.verify_fresh, 1000, 1700, 600, what="t") == ErrorCode.CLIENT_STALE
    assert code_of(core.verify_fresh, None, 1700, 600, what="t") == ErrorCode.CLIENT_STALE


def test_witness_quorum_counts_distinct_known_witnesses() -> None:
    c = cp(5)
    one = note_mod.add_signature_lines(c.note, note_mod.cosign(c, W1, 100))
    two = note_mod.add_signature_lines(one, note_mod.cosign(c, W2, 100))
    ws = [W1.verifier, W2.verifier]
    note_mod.verify_cosignatures(two, ws, 2)
    assert code_of(note_mod.verify_cosignatures, one, ws, 2) == ErrorCode.WITNESS_QUORUM
    dup = note_mod.add_signature_lines(one, note_mod.cosign(c, W1, 101))
    assert code_of(note_mod.verify_cosignatures, dup, ws, 2) == ErrorCode.WITNESS_QUORUM


# --- pins -----------------------------------------------------------------------------------

K1, K2, K3, ROGUE = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (11, 12, 13, 99))
EP = {"email": "a@example.org", "xmpp": "a@example.org"}
POLICY = {"require": ["xmpp", "email"], "mode": "enforce"}


def hop(value: bytes | None, *, epoch: int = 0, leaf_index: int = 5) -> core.Hop:
    return core.Hop(address="a@id.bit", value=value, epoch=epoch, leaf_index=leaf_index, verdict="accepted")


def pin(value: bytes, *, epoch: int = 0, leaf_index: int = 5) -> core.Pin:
    p = core.pin_of(hop(value, epoch=epoch, leaf_index=leaf_index))
    assert p is not None
    return p


def test_pin_first_sight_and_unchanged_pass() -> None:
    v = signed_value("a@id.bit", K1, K2, endpoints=EP, policy=POLICY)
    core.verify_pin(None, hop(v))
    core.verify_pin(pin(v), hop(v, leaf_index=9))


@pytest.mark.parametrize(
    ("new_kwargs", "code"),
    [
        ({"endpoints": {"email": "a@example.org"}, "policy": {"require": ["email"], "mode": "enforce"}}, ErrorCode.POLICY_DOWNGRADE),
        ({"endpoints": EP, "policy": {"require": ["xmpp", "email"], "mode": "testing"}}, ErrorCode.POLICY_DOWNGRADE),
        ({"endpoints": EP}, ErrorCode.POLICY_DOWNGRADE),
        ({"endpoints": {"xmpp": "a@example.org"}, "policy": {"require": ["xmpp"], "mode": "enforce"}}, ErrorCode.POLICY_DOWNGRADE),
    ],
)
def test_downgrades_against_the_pin_are_refused_unless_accepted(new_kwargs: dict[str, object], code: ErrorCode) -> None:
    old = signed_value("a@id.bit", K1, K2, endpoints=EP, policy=POLICY)
    new = signed_value("a@id.bit", K1, K2, **new_kwargs)  # type: ignore[arg-type]
    assert code_of(core.verify_pin, pin(old), hop(new, leaf_index=9)) == code
    core.verify_pin(pin(old), hop(new, leaf_index=9), accept_change=True)


def test_dropped_endpoint_without_policy_is_a_downgrade() -> None:
    old = signed_value("a@id.bit", K1, K2, endpoints=EP)
    new = signed_value("a@id.bit", K1, K2, endpoints={"email": "a@example.org"})
    assert code_of(core.verify_pin, pin(old), hop(new, leaf_index=9)) == ErrorCode.POLICY_DOWNGRADE


def test_committed_rotation_passes_uncommitted_key_change_is_refused() -> None:
    old = signed_value("a@id.bit", K1, K2, endpoints=EP)
    core.verify_pin(pin(old), hop(signed_value("a@id.bit", K2, K3, endpoints=EP), leaf_index=9))
    rogue = signed_value("a@id.bit", ROGUE, K3, endpoints=EP)
    assert code_of(core.verify_pin, pin(old), hop(rogue, leaf_index=9)) == ErrorCode.KEY_UNCOMMITTED


def test_older_leaf_than_the_pin_is_a_rollback_even_with_accept_change() -> None:
    v = signed_value("a@id.bit", K1, K2, endpoints=EP)
    assert code_of(core.verify_pin, pin(v, leaf_index=7), hop(v, leaf_index=3), accept_change=True) == ErrorCode.CHECKPOINT_ROLLBACK


def test_disappeared_record_and_new_epoch_need_accept_change() -> None:
    v = signed_value("a@id.bit", K1, K2, endpoints=EP)
    assert code_of(core.verify_pin, pin(v), hop(None, leaf_index=9)) == ErrorCode.POLICY_DOWNGRADE
    assert code_of(core.verify_pin, pin(v), hop(v, epoch=1, leaf_index=9)) == ErrorCode.POLICY_DOWNGRADE


# --- redirects ------------------------------------------------------------------------------


def _hops(src: bytes, dst: bytes, reason: str = "voluntary") -> list[core.Hop]:
    return [
        core.Hop(address="bob@id.bit", value=src, epoch=0, leaf_index=1, verdict="accepted"),
        core.Hop(address="robert@id.bit", value=dst, epoch=0, leaf_index=2, verdict="accepted", reason=reason),
    ]


def test_redirect_chain_must_be_signed_and_confirmed_and_complete() -> None:
    src = signed_value("bob@id.bit", K1, K2, redirect_to="robert@id.bit")
    dst = signed_value("robert@id.bit", K3, K2, extra={"moved_from": ["bob@id.bit"]})
    core.verify_hops(_hops(src, dst))
    unconfirmed = signed_value("robert@id.bit", K3, K2)
    assert code_of(core.verify_hops, _hops(src, unconfirmed)) == ErrorCode.REDIRECT_UNCONFIRMED
    # forged redirect signature: swap the sig of another record in
    body = json.loads(src)
    body["waypost"]["redirect"]["sig"] = json.loads(signed_value("bob@id.bit", ROGUE, K2, redirect_to="robert@id.bit"))["waypost"]["redirect"]["sig"]
    forged = json.dumps(body, separators=(",", ":")).encode()
    assert code_of(core.verify_hops, _hops(forged, dst)) == ErrorCode.REDIRECT_BAD_SIGNATURE
    # a server that stops before the redirect, or invents a hop
    assert code_of(core.verify_hops, _hops(src, dst)[:1]) == ErrorCode.CLIENT_BAD_ANSWER
    plain = signed_value("bob@id.bit", K1, K2)
    assert code_of(core.verify_hops, _hops(plain, dst)) == ErrorCode.CLIENT_BAD_ANSWER


def test_key_fingerprint_is_grouped_hex() -> None:
    fp = core.key_fingerprint(bytes(32))
    assert len(fp) == 19 and fp.count(" ") == 3


# --- private chains -------------------------------------------------------------------------


def _chain(rotate_body: dict[str, CborValue] | None = None) -> list[ChainEntry]:
    g = make_entry(K1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(K2.verify_key)),
                   body={"name": "Pat"})
    u = make_entry(K1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next,
                   body={"name": "Pat", "endpoints": {"email": "pat@example.org", "xmpp": "pat@example.org",
                                                      "carrier-pigeon": "coop 4", "matrix": "not a matrix id"},
                         "policy": {"require": ["xmpp"], "mode": "enforce"}})
    r = make_entry(K2, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=commit_key(bytes(K3.verify_key)),
                   body=rotate_body if rotate_body is not None else u.body)
    return [g, u, r]


def _chain_hop(entries: list[ChainEntry], *, leaf_index: int = 9) -> core.Hop:
    state = validate_chain(entries, address_key=PublicKey(bytes(K1.verify_key)))
    addr = f"pat@{encode_key_domain(bytes(K1.verify_key))}"
    value = encode_profile(core.chain_profile(state, address=addr))
    return core.Hop(address=addr, value=value, epoch=0, leaf_index=leaf_index, verdict="accepted",
                    chain_hashes=tuple(bytes(v.entry_hash) for v in state.verdicts))


def test_chain_profile_states_the_key_in_force_endpoints_and_policy() -> None:
    entries = _chain()
    state = validate_chain(entries, address_key=PublicKey(bytes(K1.verify_key)))
    p = core.chain_profile(state, address=f"pat@{encode_key_domain(bytes(K1.verify_key))}")
    assert p.key == bytes(K2.verify_key) and p.next_commitment == commit_key(bytes(K3.verify_key))
    # unknown protocols and malformed values are left out, as the server does
    assert [(e.protocol.value, e.value) for e in p.endpoints] == [("xmpp", "pat@example.org"), ("email", "pat@example.org")]
    assert p.policy is not None and [x.value for x in p.policy.require] == ["xmpp"]
    assert dict(p.namecoin) == {"name": '"Pat"'}
    # the synthesized record parses back to the same profile (pins store it)
    assert core.profile_of(encode_profile(p)) == p


def test_chain_pin_survives_extension_and_rotation_but_not_a_rewrite() -> None:
    entries = _chain()
    first = _chain_hop(entries[:2], leaf_index=5)
    p = core.pin_of(first)
    assert p is not None and p.chain_seq == 1 and p.chain_head == first.chain_hashes[1]
    later = _chain_hop(entries, leaf_index=9)  # rotated to the committed key: proven by the chain, not a downgrade
    core.verify_pin(p, later)
    # the pinned entry rewritten (same keys, other content): refused even with accept_change
    other_u = make_entry(K1, seq=1, prev=entry_hash(entries[0]), kind=EntryKind.UPDATE, next_commitment=entries[0].next,
                         body={**entries[1].body, "name": "Eve"})
    rewritten = [entries[0], other_u]
    assert code_of(core.verify_pin, p, _chain_hop(rewritten, leaf_index=9), accept_change=True) == ErrorCode.BUNDLE_BAD_CHAIN
    # a shorter chain than the pinned one (under a newer leaf): a rollback
    assert code_of(core.verify_pin, core.pin_of(later), _chain_hop(entries[:2], leaf_index=12)) == ErrorCode.CHECKPOINT_ROLLBACK
    # dropping the enforced protocol in a later entry is still a downgrade
    dropped = _chain({"name": "Pat", "endpoints": {"email": "pat@example.org"}})
    assert code_of(core.verify_pin, p, _chain_hop(dropped, leaf_index=9)) == ErrorCode.POLICY_DOWNGRADE


# --- adversarial review (issue 6): domain steps and hop metadata come from proven records ---


def _d_value(names: dict[str, str]) -> bytes:
    return json.dumps({"ip": "192.0.2.1", "waypost": {"names": names}}, separators=(",", ":")).encode()


def _domain_hops(d_value: bytes, target: str, target_value: bytes) -> list[core.Hop]:
    return [
        core.Hop(address="alice@example.bit", value=d_value, epoch=0, leaf_index=1, verdict="accepted"),
        core.Hop(address=target, value=target_value, epoch=0, leaf_index=2, verdict="accepted", reason="domain"),
    ]


def _dn(hops: list[core.Hop]) -> dict[str, dict[str, str]]:
    from waypost.resolve.pipeline import domain_names

    return {h.address: domain_names(h.value) for h in hops if h.value is not None and "@" in h.address}


def test_domain_step_must_follow_the_local_parts_own_entry() -> None:
    d = _d_value({"alice": "alice@id.bit", "mallory": "mallory@id.bit"})
    good = _domain_hops(d, "alice@id.bit", signed_value("alice@id.bit", K1, K2))
    core.verify_hops(good, domain_names=_dn(good))
    # the d/ value names mallory too, but not for alice: a lying server may not send alice to mallory
    bad = _domain_hops(d, "mallory@id.bit", signed_value("mallory@id.bit", ROGUE, K2))
    assert code_of(core.verify_hops, bad, domain_names=_dn(bad)) == ErrorCode.CLIENT_BAD_ANSWER


def test_local_at_domain_never_ends_at_the_domains_own_record() -> None:
    d = _d_value({"bob": "bob@id.bit"})
    only = _domain_hops(d, "bob@id.bit", b"")[:1]
    assert code_of(core.verify_hops, only, domain_names=_dn(only)) == ErrorCode.CLIENT_BAD_ANSWER


def test_domain_step_only_from_a_domain_address() -> None:
    # an id/ record that happens to carry a waypost.names-like member is no domain
    src = json.loads(signed_value("bob@id.bit", K1, K2))
    src["waypost"]["names"] = {"bob": "robert@id.bit"}
    hops = [
        core.Hop(address="bob@id.bit", value=json.dumps(src).encode(), epoch=0, leaf_index=1, verdict="accepted"),
        core.Hop(address="robert@id.bit", value=signed_value("robert@id.bit", K3, K2), epoch=0, leaf_index=2,
                 verdict="accepted", reason="domain"),
    ]
    assert code_of(core.verify_hops, hops, domain_names=_dn(hops)) == ErrorCode.CLIENT_BAD_ANSWER


def test_redirect_reason_shown_is_the_signed_one() -> None:
    src = signed_value("bob@id.bit", K1, K2, redirect_to="robert@id.bit")
    dst = signed_value("robert@id.bit", K3, K2, extra={"moved_from": ["bob@id.bit"]})
    assert code_of(core.verify_hops, _hops(src, dst, reason="revoked")) == ErrorCode.CLIENT_BAD_ANSWER


def test_too_many_hops_are_refused() -> None:
    hops = [core.Hop(address=f"u{i}@id.bit", value=None, epoch=0, leaf_index=i, verdict=None,
                     reason=None if i == 0 else "voluntary") for i in range(40)]
    assert code_of(core.verify_hops, hops) in (ErrorCode.REDIRECT_TOO_DEEP,)
