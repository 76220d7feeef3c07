"""Pipeline: name operations -> verdicts -> leaves (epochs, seq, reorg-restored) and address changes."""

from __future__ import annotations

import hashlib
import json

import nacl.signing

from waypost.indexer.view import NameRecord
from waypost.notify.event import ChangeKind
from waypost.registry.keys import KeyClass
from waypost.registry.model import BlockHash, Txid
from waypost.registry.profile import encode_b64, key_commitment
from waypost.resolve import pipeline
from waypost.tlog.leaf import VERDICT_ACCEPTED, VERDICT_FLAGGED, VERDICT_REORG_RESTORED, NamecoinSource


def rec(name: bytes, value: bytes, height: int, *, epoch: int = 1, owner: str = "n1", n: int = 0) -> NameRecord:
    txid = Txid(hashlib.sha256(name + value + bytes([height % 256, n])).digest())
    return NameRecord(
        name=name, value=value, txid=txid, vout=0, height=height, block_hash=BlockHash(bytes([height % 256]) * 32),
        tx_index=1, op="name_update", address=owner, expires_at_height=height + 36000, epoch=epoch,
    )


def test_address_of_name_maps_id_and_d_and_skips_others() -> None:
    assert pipeline.address_of_name(b"id/alice") == "alice@id.bit"
    assert pipeline.address_of_name(b"d/example") == "example.bit"
    assert pipeline.address_of_name(b"d/b\xc3\xbccher") is None  # U-label: not a canonical A-label name
    assert pipeline.address_of_name(b"id/Alice") is None
    assert pipeline.address_of_name(b"dd/x") is None and pipeline.address_of_name(b"\xff") is None
    assert pipeline.name_of_address("alice@id.bit") == b"id/alice"
    assert pipeline.name_of_address("example.bit") == b"d/example"


def test_plain_updates_give_accepted_leaves_with_seq_and_record_hash() -> None:
    h = [rec(b"id/alice", b'{"email":"a@x"}', 100), rec(b"id/alice", b'{"email":"b@x"}', 105)]
    plan = pipeline.plan_address(address="alice@id.bit", history=h, new_ops=h, prior_leaves=(), first_leaf_index=7)
    assert [lf.seq for lf in plan.leaves] == [0, 1]
    assert all(lf.verdict == VERDICT_ACCEPTED and lf.epoch == 0 for lf in plan.leaves)
    assert plan.leaves[1].record_hash == hashlib.sha256(b'{"email":"b@x"}').digest()
    assert plan.leaves[1].source == NamecoinSource(height=105, txid=h[1].txid, vout=0)
    # the next batch continues the sequence from the logged leaves
    h2 = [*h, rec(b"id/alice", b"{}", 110)]
    plan2 = pipeline.plan_address(address="alice@id.bit", history=h2, new_ops=h2[2:], prior_leaves=plan.leaves,
                                  first_leaf_index=9)
    assert [lf.seq for lf in plan2.leaves] == [2]


def test_reregistration_after_expiry_starts_a_new_epoch_flagged_continuity_break() -> None:
    h = [rec(b"id/bob", b"{}", 100, epoch=1), rec(b"id/bob", b'{"x":1}', 40000, epoch=2, owner="n2")]
    plan = pipeline.plan_address(address="bob@id.bit", history=h, new_ops=h, prior_leaves=(), first_leaf_index=0)
    assert [(lf.epoch, lf.seq) for lf in plan.leaves] == [(0, 0), (1, 0)]
    assert "key.continuity-break" in plan.leaves[1].codes
    assert [c.kind for c in plan.changes] == [ChangeKind.CONTINUITY_BROKEN]
    assert plan.changes[0].leaf_index == 1


def _signed(sk: nacl.signing.SigningKey, nxt: nacl.signing.VerifyKey, address: str) -> bytes:
    from waypost.registry.profile import parse_profile, signing_message

    body = {"waypost": {"v": 1, "key": encode_b64(bytes(sk.verify_key)), "next": encode_b64(key_commitment(bytes(nxt)))}}
    unsigned = json.dumps(body).encode()
    msg = signing_message(parse_profile(unsigned), address=address)
    body["waypost"]["sig"] = encode_b64(sk.sign(msg).signature)
    return json.dumps(body).encode()


def test_rotation_to_committed_key_is_a_rotated_change_and_uncommitted_is_flagged() -> None:
    k1, k2, k3, rogue = (nacl.signing.SigningKey(bytes([i]) * 32) for i in (1, 2, 3, 9))
    a = "carol@id.bit"
    v1 = _signed(k1, k2.verify_key, a)
    v2 = _signed(k2, k3.verify_key, a)
    h = [rec(b"id/carol", v1, 100), rec(b"id/carol", v2, 101)]
    plan = pipeline.plan_address(address=a, history=h, new_ops=h, prior_leaves=(), first_leaf_index=0)
    assert [lf.verdict for lf in plan.leaves] == [VERDICT_ACCEPTED, VERDICT_ACCEPTED]
    rotated = [c for c in plan.changes if c.kind is ChangeKind.ROTATED]
    assert len(rotated) == 1 and rotated[0].key_class is KeyClass.OWNER and rotated[0].leaf_index == 1
    bad = [*h, rec(b"id/carol", _signed(rogue, k3.verify_key, a), 102)]
    plan2 = pipeline.plan_address(address=a, history=bad, new_ops=bad[2:], prior_leaves=plan.leaves, first_leaf_index=2)
    assert plan2.leaves[0].verdict == VERDICT_FLAGGED and plan2.leaves[0].codes
    assert not [c for c in plan2.changes if c.kind is ChangeKind.ROTATED]


def test_reorg_appends_a_restored_leaf_and_then_the_new_ops() -> None:
    a = "dave@id.bit"
    h = [rec(b"id/dave", b'{"v":1}', 100), rec(b"id/dave", b'{"v":2}', 120)]
    first = pipeline.plan_address(address=a, history=h, new_ops=h, prior_leaves=(), first_leaf_index=0)
    # block 120 disconnected; nothing new: the map must point back at the op at 100
    back = pipeline.plan_address(address=a, history=h[:1], new_ops=(), prior_leaves=first.leaves, first_leaf_index=2)
    assert len(back.leaves) == 1
    restored = back.leaves[0]
    assert restored.verdict == VERDICT_REORG_RESTORED and restored.seq == 2
    assert restored.source == first.leaves[0].source and restored.record_hash == first.leaves[0].record_hash
    # a competing op at 121 on the new branch: restored leaf, then the new op
    other = rec(b"id/dave", b'{"v":3}', 121, n=1)
    again = pipeline.plan_address(address=a, history=[h[0], other], new_ops=[other], prior_leaves=first.leaves,
                                  first_leaf_index=2)
    assert [lf.verdict for lf in again.leaves] == [VERDICT_REORG_RESTORED, VERDICT_ACCEPTED]
    assert again.leaves[1].source.height == 121  # type: ignore[union-attr]


def test_reorg_removing_the_registration_appends_a_removed_leaf() -> None:
    a = "erin@id.bit"
    h = [rec(b"id/erin", b"{}", 100)]
    first = pipeline.plan_address(address=a, history=h, new_ops=h, prior_leaves=(), first_leaf_index=0)
    gone = pipeline.plan_address(address=a, history=(), new_ops=(), prior_leaves=first.leaves, first_leaf_index=1)
    assert [lf.verdict for lf in gone.leaves] == [pipeline.VERDICT_REORG_REMOVED]
    assert gone.leaves[0].record_hash == bytes(32)
    # and nothing more once removed
    assert pipeline.plan_address(address=a, history=(), new_ops=(), prior_leaves=(*first.leaves, *gone.leaves),
                                 first_leaf_index=2).leaves == ()


def test_domain_names_reads_waypost_names_leniently() -> None:
    assert pipeline.domain_names(b'{"waypost":{"names":{"alice":"alice@id.bit","x":1}}}') == {"alice": "alice@id.bit"}
    assert pipeline.domain_names(b"\xff") == {} and pipeline.domain_names(b"[1]") == {}
