"""State map: membership/absence proofs, wire form, batch equals one-by-one."""

from __future__ import annotations

import hashlib

import pytest

from waypost.registry.errors import ErrorCode, ParseError, VerificationError
from waypost.tlog import smt


def _k(i: int) -> bytes:
    return hashlib.sha256(b"k%d" % i).digest()


def _v(i: int) -> bytes:
    return hashlib.sha256(b"v%d" % i).digest()


def _build(n: int) -> smt.MemoryMapStore:
    store = smt.MemoryMapStore()
    store.apply(smt.apply_map_updates(store, [(_k(i), _v(i)) for i in range(n)]))
    return store


def test_empty_map() -> None:
    store = smt.MemoryMapStore()
    assert smt.map_root(store) == smt.MAP_EMPTY
    p = smt.map_proof(store, _k(1))
    smt.verify_map_proof(smt.MAP_EMPTY, _k(1), None, p)
    with pytest.raises(VerificationError):
        smt.verify_map_proof(smt.MAP_EMPTY, _k(1), _v(1), p)


def test_single_key_is_the_root() -> None:
    store = _build(1)
    assert smt.map_root(store) == smt.map_leaf_hash(_k(0), _v(0))
    smt.verify_map_proof(smt.map_root(store), _k(0), _v(0), smt.map_proof(store, _k(0)))
    p = smt.map_proof(store, _k(1))
    assert p.leaf_key == _k(0)
    smt.verify_map_proof(smt.map_root(store), _k(1), None, p)


def test_membership_absence_and_update() -> None:
    store = _build(200)
    root = smt.map_root(store)
    for i in range(0, 200, 7):
        p = smt.map_proof(store, _k(i))
        smt.verify_map_proof(root, _k(i), _v(i), p)
        with pytest.raises(VerificationError) as e:
            smt.verify_map_proof(root, _k(i), _v(i + 1), p)  # wrong value
        assert e.value.code == ErrorCode.MAP_BAD_PROOF
        with pytest.raises(VerificationError):
            smt.verify_map_proof(root, _k(i), None, p)  # "absent" from a membership proof
        assert smt.parse_map_proof(smt.encode_map_proof(p)) == p
    for i in range(1000, 1030):
        p = smt.map_proof(store, _k(i))
        smt.verify_map_proof(root, _k(i), None, p)
        with pytest.raises(VerificationError):
            smt.verify_map_proof(root, _k(i), _v(i), p)
    # an update changes the root and the old proof no longer verifies for the new root
    store.apply(smt.apply_map_updates(store, [(_k(3), _v(99))]))
    new_root = smt.map_root(store)
    assert new_root != root
    smt.verify_map_proof(new_root, _k(3), _v(99), smt.map_proof(store, _k(3)))
    with pytest.raises(VerificationError):
        smt.verify_map_proof(new_root, _k(3), _v(3), smt.map_proof(smt.MemoryMapStore(), _k(3)))


def test_batch_equals_incremental_and_order_independent() -> None:
    one_by_one = smt.MemoryMapStore()
    for i in range(60):
        one_by_one.apply(smt.apply_map_updates(one_by_one, [(_k(i), _v(i))]))
    batch = _build(60)
    rev = smt.MemoryMapStore()
    rev.apply(smt.apply_map_updates(rev, [(_k(i), _v(i)) for i in reversed(range(60))]))
    assert smt.map_root(one_by_one) == smt.map_root(batch) == smt.map_root(rev)
    assert one_by_one.nodes == batch.nodes


def test_absence_terminal_must_share_prefix() -> None:
    store = _build(50)
    root = smt.map_root(store)
    p = smt.map_proof(store, _k(1000))
    if p.leaf_key is not None:
        # claim a different key's leaf ends our path: must fail
        q = smt.map_proof(store, _k(0))
        with pytest.raises(VerificationError):
            smt.verify_map_proof(root, _k(1000), None, smt.MapProof(depth=p.depth, empties=p.empties, siblings=p.siblings, leaf_key=q.leaf_key, leaf_value=q.leaf_value))
    # claiming a present key is absent by truncating its path fails
    member = smt.map_proof(store, _k(5))
    with pytest.raises(VerificationError):
        smt.verify_map_proof(root, _k(5), None, smt.MapProof(depth=member.depth, empties=member.empties, siblings=member.siblings))


def test_proof_size_is_logarithmic() -> None:
    store = _build(2000)
    depths = [smt.map_proof(store, _k(i)).depth for i in range(0, 2000, 50)]
    assert max(depths) <= 30 and sum(depths) / len(depths) < 16


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x00", b"\x01\x01" + b"\x00" * 40, b"\x00\x00\x02"])
def test_bad_wire_proofs(data: bytes) -> None:
    with pytest.raises(ParseError) as e:
        smt.parse_map_proof(data)
    assert e.value.code == ErrorCode.MAP_BAD_PROOF


def test_rows_without_children_hashes_still_work() -> None:
    store = _build(80)
    stripped = smt.MemoryMapStore()
    stripped.nodes = {pos: n._replace(left=None, right=None) for pos, n in store.nodes.items()}
    root = smt.map_root(store)
    assert smt.map_proof(stripped, _k(4)) == smt.map_proof(store, _k(4))
    smt.verify_map_proof(root, _k(4), _v(4), smt.map_proof(stripped, _k(4)))
    delta_a = smt.apply_map_updates(store, [(_k(4), _v(500)), (_k(900), _v(900))])
    delta_b = smt.apply_map_updates(stripped, [(_k(4), _v(500)), (_k(900), _v(900))])
    assert delta_a == delta_b


def test_inner_rows_carry_children() -> None:
    store = _build(30)
    for (d, p), n in store.nodes.items():
        if n.key is None:
            left, right = store.nodes.get((d + 1, 2 * p)), store.nodes.get((d + 1, 2 * p + 1))
            assert n.left == (left.hash if left else smt.MAP_EMPTY)
            assert n.right == (right.hash if right else smt.MAP_EMPTY)
            assert n.hash == smt.map_node_hash(n.left or b"", n.right or b"")
