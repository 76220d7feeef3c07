"""Property tests: RFC 9162 proofs from ``waypost.registry.merkle`` vs a brute-force reference tree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import merkle_reference as ref
from waypost.registry import merkle
from waypost.registry.errors import VerificationError

_leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=40)


def test_all_pairs_small_trees_agree_with_reference() -> None:
    data = [bytes([i]) * (i % 3) for i in range(33)]
    hashes = [merkle.leaf_hash(x) for x in data]
    for n in range(1, len(data) + 1):
        root_n = ref.mth(data[:n])
        assert merkle.root(hashes[:n]) == root_n
        for m in range(n):
            proof = merkle.inclusion_proof(hashes[:n], m)
            assert list(proof) == ref.path(m, data[:n])
            merkle.verify_inclusion(hashes[m], m, n, proof, root_n)
        for m in range(1, n + 1):
            cproof = merkle.consistency_proof(hashes, m, n)
            assert list(cproof) == ref.proof(m, data[:n])
            merkle.verify_consistency(m, n, cproof, ref.mth(data[:m]), root_n)


@settings(max_examples=60, deadline=None)
@given(_leaves, st.data())
def test_flipped_inclusion_bit_fails(data: list[bytes], draw: st.DataObject) -> None:
    n = len(data)
    hashes = [merkle.leaf_hash(x) for x in data]
    m = draw.draw(st.integers(0, n - 1))
    proof = list(merkle.inclusion_proof(hashes, m))
    root = ref.mth(data)
    merkle.verify_inclusion(hashes[m], m, n, proof, root)
    if not proof:
        bad_root = bytearray(root)
        bad_root[draw.draw(st.integers(0, 31))] ^= 1 << draw.draw(st.integers(0, 7))
        try:
            merkle.verify_inclusion(hashes[m], m, n, proof, bytes(bad_root))
        except VerificationError:
            return
        raise AssertionError("flipped root accepted")
    i = draw.draw(st.integers(0, len(proof) - 1))
    bit = draw.draw(st.integers(0, 255))
    flipped = bytearray(proof[i])
    flipped[bit // 8] ^= 1 << (bit % 8)
    proof[i] = bytes(flipped)
    try:
        merkle.verify_inclusion(hashes[m], m, n, proof, root)
    except VerificationError:
        return
    raise AssertionError("flipped proof accepted")


@settings(max_examples=60, deadline=None)
@given(_leaves, st.data())
def test_flipped_consistency_bit_fails(data: list[bytes], draw: st.DataObject) -> None:
    n = len(data)
    hashes = [merkle.leaf_hash(x) for x in data]
    m = draw.draw(st.integers(1, n))
    proof = list(merkle.consistency_proof(hashes, m, n))
    root1, root2 = ref.mth(data[:m]), ref.mth(data)
    merkle.verify_consistency(m, n, proof, root1, root2)
    target = draw.draw(st.integers(0, len(proof)))  # len(proof) -> flip root2 instead
    bit = draw.draw(st.integers(0, 255))
    if target == len(proof):
        r = bytearray(root2)
        r[bit // 8] ^= 1 << (bit % 8)
        root2 = bytes(r)
    else:
        p = bytearray(proof[target])
        p[bit // 8] ^= 1 << (bit % 8)
        proof[target] = bytes(p)
    try:
        merkle.verify_consistency(m, n, proof, root1, root2)
    except VerificationError:
        return
    raise AssertionError("flipped consistency proof accepted")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3000), st.data())
def test_stored_node_proofs_match_reference_shape(n: int, draw: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    reader = merkle.MemoryHashReader(hashes)
    cr = merkle.CompactRange.from_reader(reader, n)
    root = cr.root()
    m = draw.draw(st.integers(0, n - 1))
    merkle.verify_inclusion(hashes[m], m, n, merkle.inclusion_proof_from(reader, m, n), root)
    s1 = draw.draw(st.integers(1, n))
    small = merkle.CompactRange.from_reader(reader, s1).root()
    merkle.verify_consistency(s1, n, merkle.consistency_proof_from(reader, s1, n), small, root)
