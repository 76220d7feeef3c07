"""Property tests: the state map against a brute-force recursive model; flipped proof bits fail."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.registry.errors import WaypostError
from waypost.tlog import smt

_keys = st.binary(min_size=32, max_size=32)
_pairs = st.lists(st.tuples(_keys, st.binary(min_size=32, max_size=32)), max_size=40)


def _model_root(entries: dict[bytes, bytes], depth: int = 0, prefix: int = 0) -> bytes:
    """Canonical definition: empty -> MAP_EMPTY, one key -> its leaf, else split on the next bit."""
    under = {k: v for k, v in entries.items() if int.from_bytes(k, "big") >> (256 - depth) == prefix}
    if not under:
        return smt.MAP_EMPTY
    if len(under) == 1:
        ((k, v),) = under.items()
        return smt.map_leaf_hash(k, v)
    return smt.map_node_hash(_model_root(under, depth + 1, prefix << 1), _model_root(under, depth + 1, (prefix << 1) | 1))


def _near_keys(seed: bytes, n: int) -> list[bytes]:
    """Keys sharing long prefixes (exercise deep splits)."""
    base = int.from_bytes(seed, "big")
    return [(base ^ (1 << i)).to_bytes(32, "big") for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(_pairs, _pairs, st.data())
def test_matches_model_and_proofs_verify(batch1: list[tuple[bytes, bytes]], batch2: list[tuple[bytes, bytes]], data: st.DataObject) -> None:
    near = _near_keys(data.draw(_keys), data.draw(st.integers(0, 8)))
    batch1 = batch1 + [(k, k) for k in near]
    store = smt.MemoryMapStore()
    model: dict[bytes, bytes] = {}
    for batch in (batch1, batch2):
        store.apply(smt.apply_map_updates(store, batch))
        model.update(dict(batch))
        root = smt.map_root(store)
        assert root == _model_root(model)
    for k, v in model.items():
        smt.verify_map_proof(root, k, v, smt.map_proof(store, k))
    absent = data.draw(_keys)
    if absent not in model:
        smt.verify_map_proof(root, absent, None, smt.map_proof(store, absent))


@settings(max_examples=80, deadline=None)
@given(_pairs.filter(bool), st.data())
def test_flipped_proof_bit_fails(pairs: list[tuple[bytes, bytes]], data: st.DataObject) -> None:
    store = smt.MemoryMapStore()
    store.apply(smt.apply_map_updates(store, pairs))
    model = dict(pairs)
    root = smt.map_root(store)
    present = data.draw(st.booleans())
    key = data.draw(st.sampled_from(sorted(model))) if present else data.draw(_keys)
    value = model.get(key)
    wire = bytearray(smt.encode_map_proof(smt.map_proof(store, key)))
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    wire[bit // 8] ^= 1 << (bit % 8)
    try:
        smt.verify_map_proof(root, key, value, smt.parse_map_proof(bytes(wire)))
    except WaypostError:
        return
    raise AssertionError(f"flipped bit {bit} accepted")
