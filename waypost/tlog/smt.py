"""State map: a compressed sparse Merkle tree, address key -> latest log leaf (core layer).

Pure: node storage is read through ``MapNodeReader``; updates return the nodes to write.
Proves both "the latest value of K is V" and "K is absent" (CONIKS/AKD, Jellyfish-style).

Layout: keys are 256-bit. A position is ``(depth, path)`` where ``path`` is the first
``depth`` bits of the key as an integer. A leaf sits at the shallowest position where it is
alone in its subtree (not at depth 256); a position with no key below it is empty and
hashes to ``MAP_EMPTY``. Only non-empty positions are stored. Hashes are domain-separated
from each other and from RFC 9162 (tags 0x10 leaf, 0x11 node, 0x12 empty, 0x13 value).
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from waypost.registry.errors import ErrorCode, ParseError, VerificationError

__all__ = [
    "KEY_BITS",
    "MAP_EMPTY",
    "MapNode",
    "MapNodeReader",
    "MapDelta",
    "MapProof",
    "MemoryMapStore",
    "map_leaf_hash",
    "map_node_hash",
    "map_value_hash",
    "map_root",
    "apply_map_updates",
    "map_proof",
    "verify_map_proof",
    "encode_map_proof",
    "parse_map_proof",
]

KEY_BITS = 256
_sha256 = hashlib.sha256
MAP_EMPTY = _sha256(b"\x12").digest()  # hash of an empty subtree (any depth)


def map_leaf_hash(key: bytes, value_hash: bytes) -> bytes:
    """Hash of a leaf: ``SHA-256(0x10 || key || value_hash)`` (commits to the full key)."""
    return _sha256(b"\x10" + key + value_hash).digest()


def map_node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an inner position: ``SHA-256(0x11 || left || right)``."""
    return _sha256(b"\x11" + left + right).digest()


def map_value_hash(leaf_index: int, leaf_hash: bytes) -> bytes:
    """The map value for an address: ``SHA-256(0x13 || u64be(leaf_index) || leaf_hash)``."""
    return _sha256(b"\x13" + struct.pack(">Q", leaf_index) + leaf_hash).digest()


class MapNode(NamedTuple):
    """A stored position: a leaf (``key``, ``value_hash``) or inner (``left``, ``right``:
    its children's hashes, ``MAP_EMPTY`` for an empty child).

    Inner nodes carry their children's hashes so that an update or a proof reads only the
    positions on the key's path, never the siblings. A ``NamedTuple`` (immutable) rather
    than a dataclass: bulk reads build many of them.
    """

    hash: bytes
    key: bytes | None = None
    value_hash: bytes | None = None
    left: bytes | None = None
    right: bytes | None = None


class MapNodeReader(Protocol):
    """Read access to stored map positions (``None`` for an empty position)."""

    def get_map_node(self, depth: int, path: int) -> MapNode | None: ...

    def get_map_nodes(self, depth: int, paths: Sequence[int]) -> dict[int, MapNode]:
        """The stored positions among ``paths`` at ``depth`` (absent ones are omitted)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class MapDelta:
    """Result of a batch of updates: the new root and the positions to (over)write."""

    root: bytes
    writes: tuple[tuple[int, int, MapNode], ...]


def _hash_at(reader: MapNodeReader, depth: int, path: int) -> bytes:
    node = reader.get_map_node(depth, path)
    return MAP_EMPTY if node is None else node.hash


def map_root(reader: MapNodeReader) -> bytes:
    """The map's root hash (``MAP_EMPTY`` for an empty map)."""
    return _hash_at(reader, 0, 0)


def _check_key(key: bytes) -> int:
    if len(key) != 32:
        raise ParseError(ErrorCode.MAP_BAD_PROOF, f"map key must be 32 bytes, got {len(key)}")
    return int.from_bytes(key, "big")


# overlay entry: [hash or None (dirty), key or None (inner), value_hash or None]
_Entry = tuple[bytes | None, bytes | None, bytes | None]
# a batch group: key range [lo, hi), an existing leaf moving down (int, key, value) or None,
# and whether storage is known to be empty below this position
_Group = tuple[int, int, tuple[int, bytes, bytes] | None, bool]


def apply_map_updates(reader: MapNodeReader, updates: Iterable[tuple[bytes, bytes]]) -> MapDelta:
    """Set ``key -> value_hash`` for each update (later updates of a key win).

    Level-synchronous: all keys descend together, so each depth costs one bulk read
    (``get_map_nodes``) for the positions the batch touches; hashes of the touched
    positions are then computed once, deepest first, taking untouched siblings' hashes
    from the stored parent rows (no sibling reads).

    Raises:
        ParseError: ``MAP_BAD_PROOF`` for a key or value that is not 32 bytes.
    """
    pending: dict[bytes, bytes] = {}
    for key, value in updates:
        _check_key(key)
        if len(value) != 32:
            raise ParseError(ErrorCode.MAP_BAD_PROOF, "map value must be 32 bytes")
        pending[key] = value
    # Keys sorted (bytes order = integer order for 32-byte keys); a group is a range of them,
    # plus at most one existing leaf that has to move down ("extra").
    keys = sorted(pending)
    ints = [int.from_bytes(k, "big") for k in keys]
    vals = [pending[k] for k in keys]
    ov: dict[tuple[int, int], _Entry] = {}
    # children hashes of touched positions that were stored inner nodes before the batch
    old_children: dict[tuple[int, int], tuple[bytes | None, bytes | None]] = {}
    groups: dict[int, _Group] = {0: (0, len(keys), None, False)} if keys else {}
    depth = 0
    while groups:
        to_read = [p for p, g in groups.items() if not g[3]]
        stored = reader.get_map_nodes(depth, to_read) if to_read else {}
        next_groups: dict[int, _Group] = {}
        shift = KEY_BITS - depth - 1
        for path, (lo, hi, extra, fresh) in groups.items():
            node = None if fresh else stored.get(path)
            stored_inner = False
            if node is not None and node.key is not None:
                nk = node.key
                i = bisect_left(keys, nk, lo, hi)
                if (i >= hi or keys[i] != nk) and node.value_hash is not None:
                    extra = (int.from_bytes(nk, "big"), nk, node.value_hash)
                child_fresh = True  # nothing is stored below a leaf
            else:
                stored_inner = node is not None
                child_fresh = fresh or node is None
            if hi - lo + (extra is not None) == 1 and not stored_inner:
                ov[(depth, path)] = (None, extra[1], extra[2]) if extra is not None else (None, keys[lo], vals[lo])
                continue
            ov[(depth, path)] = (None, None, None)
            if stored_inner and node is not None:
                old_children[(depth, path)] = (node.left, node.right)
            left, right = path << 1, (path << 1) | 1
            mid = bisect_left(ints, right << shift, lo, hi)
            left_extra = right_extra = None
            if extra is not None:
                if (extra[0] >> shift) & 1:
                    right_extra = extra
                else:
                    left_extra = extra
            if mid > lo or left_extra is not None:
                next_groups[left] = (lo, mid, left_extra, child_fresh)
            if hi > mid or right_extra is not None:
                next_groups[right] = (mid, hi, right_extra, child_fresh)
        groups = next_groups
        depth += 1

    dirty_by_depth: dict[int, list[int]] = {}
    for d, p in ov:
        dirty_by_depth.setdefault(d, []).append(p)
    writes: list[tuple[int, int, MapNode]] = []
    for d in sorted(dirty_by_depth, reverse=True):
        for p in dirty_by_depth[d]:
            _, lk, lv = ov[(d, p)]
            if lk is not None and lv is not None:
                h = map_leaf_hash(lk, lv)
                writes.append((d, p, MapNode(hash=h, key=lk, value_hash=lv)))
            else:
                old = old_children.get((d, p), (MAP_EMPTY, MAP_EMPTY))
                hs: list[bytes] = []
                for side, c in enumerate((p << 1, (p << 1) | 1)):
                    e = ov.get((d + 1, c))
                    if e is not None:
                        assert e[0] is not None  # deeper positions were hashed first
                        hs.append(e[0])
                    else:
                        # untouched child: its hash is in the parent's stored row
                        hs.append(old[side] or _hash_at(reader, d + 1, c))
                h = map_node_hash(hs[0], hs[1])
                writes.append((d, p, MapNode(hash=h, left=hs[0], right=hs[1])))
            ov[(d, p)] = (h, lk, lv)
    root_entry = ov.get((0, 0))
    if root_entry is not None and root_entry[0] is not None:
        root = root_entry[0]
    else:
        root = map_root(reader)
    return MapDelta(root=root, writes=tuple(writes))


@dataclass(frozen=True, slots=True, kw_only=True)
class MapProof:
    """Path from the root to the position where ``key``'s search ends.

    ``depth`` is that position's depth; ``empties`` has bit ``i`` set when the sibling at
    depth ``i + 1`` is empty; ``siblings`` are the non-empty siblings, top-down. The
    terminal is empty (``leaf_key`` None) or a leaf: the key itself (membership) or another
    key sharing the first ``depth`` bits (absence).
    """

    depth: int
    empties: int
    siblings: tuple[bytes, ...]
    leaf_key: bytes | None = None
    leaf_value: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.depth <= KEY_BITS or not 0 <= self.empties < (1 << self.depth):
            raise ParseError(ErrorCode.MAP_BAD_PROOF, "bad map proof depth")
        if len(self.siblings) != self.depth - bin(self.empties).count("1"):
            raise ParseError(ErrorCode.MAP_BAD_PROOF, "map proof sibling count does not match")
        if any(len(s) != 32 for s in self.siblings):
            raise ParseError(ErrorCode.MAP_BAD_PROOF, "map proof sibling must be 32 bytes")
        if (self.leaf_key is None) != (self.leaf_value is None):
            raise ParseError(ErrorCode.MAP_BAD_PROOF, "map proof leaf needs key and value")
        if self.leaf_key is not None and (len(self.leaf_key) != 32 or len(self.leaf_value or b"") != 32):
            raise ParseError(ErrorCode.MAP_BAD_PROOF, "map proof leaf must be 32-byte key and value")


def map_proof(reader: MapNodeReader, key: bytes) -> MapProof:
    """Build the membership or absence proof for ``key`` (O(depth) reads).

    Raises:
        ParseError: ``MAP_BAD_PROOF`` for a key that is not 32 bytes.
    """
    k = _check_key(key)
    node = reader.get_map_node(0, 0)
    depth, empties = 0, 0
    siblings: list[bytes] = []
    while node is not None and node.key is None:
        path = k >> (KEY_BITS - depth)
        bit = (k >> (KEY_BITS - 1 - depth)) & 1
        sib_hash = node.left if bit else node.right
        if sib_hash is None:  # a row without children hashes: read the sibling itself
            sib_hash = _hash_at(reader, depth + 1, (path << 1) | (1 - bit))
        if sib_hash == MAP_EMPTY:
            empties |= 1 << depth
        else:
            siblings.append(sib_hash)
        depth += 1
        node = reader.get_map_node(depth, (path << 1) | bit)
    if node is None:
        return MapProof(depth=depth, empties=empties, siblings=tuple(siblings))
    return MapProof(depth=depth, empties=empties, siblings=tuple(siblings), leaf_key=node.key, leaf_value=node.value_hash)


def verify_map_proof(root: bytes, key: bytes, value_hash: bytes | None, proof: MapProof) -> None:
    """Check that ``key`` maps to ``value_hash`` in the map with ``root`` (``None``: absent).

    Raises:
        VerificationError: ``MAP_BAD_PROOF`` when the proof does not show that.
        ParseError: ``MAP_BAD_PROOF`` for a malformed key.
    """
    k = _check_key(key)
    if value_hash is not None:
        if proof.leaf_key != key or proof.leaf_value != value_hash:
            raise VerificationError(ErrorCode.MAP_BAD_PROOF, "proof does not end at this key and value")
    elif proof.leaf_key == key:
        raise VerificationError(ErrorCode.MAP_BAD_PROOF, "key is present, not absent")
    d = proof.depth
    if proof.leaf_key is not None and proof.leaf_value is not None:
        if int.from_bytes(proof.leaf_key, "big") >> (KEY_BITS - d) != k >> (KEY_BITS - d):
            raise VerificationError(ErrorCode.MAP_BAD_PROOF, "terminal leaf is not on the key's path")
        h = map_leaf_hash(proof.leaf_key, proof.leaf_value)
    else:
        h = MAP_EMPTY
    it = len(proof.siblings)
    for depth in range(d, 0, -1):
        if proof.empties >> (depth - 1) & 1:
            sib = MAP_EMPTY
        else:
            it -= 1
            sib = proof.siblings[it]
        h = map_node_hash(sib, h) if (k >> (KEY_BITS - depth)) & 1 else map_node_hash(h, sib)
    if h != root:
        raise VerificationError(ErrorCode.MAP_BAD_PROOF, "map proof does not lead to the root", expected=root.hex(), got=h.hex())


def encode_map_proof(p: MapProof) -> bytes:
    """Wire form: ``u16 depth | ceil(depth/8) bytes empties (LE bit order) | siblings |
    u8 flag (0 empty, 1 leaf) | [32 key | 32 value]``."""
    out = struct.pack(">H", p.depth) + p.empties.to_bytes((p.depth + 7) // 8, "little") + b"".join(p.siblings)
    if p.leaf_key is None or p.leaf_value is None:
        return out + b"\x00"
    return out + b"\x01" + p.leaf_key + p.leaf_value


def parse_map_proof(data: bytes) -> MapProof:
    """Parse the wire form of ``encode_map_proof``.

    Raises:
        ParseError: ``MAP_BAD_PROOF``.
    """
    if len(data) < 3:
        raise ParseError(ErrorCode.MAP_BAD_PROOF, "map proof truncated")
    (depth,) = struct.unpack(">H", data[:2])
    nb = (depth + 7) // 8
    if depth > KEY_BITS or len(data) < 2 + nb + 1:
        raise ParseError(ErrorCode.MAP_BAD_PROOF, "map proof truncated")
    empties = int.from_bytes(data[2 : 2 + nb], "little")
    if empties >= 1 << depth:
        raise ParseError(ErrorCode.MAP_BAD_PROOF, "bad empties bitmap")
    count = depth - bin(empties).count("1")
    pos = 2 + nb
    sibs = tuple(data[pos + 32 * i : pos + 32 * (i + 1)] for i in range(count))
    pos += 32 * count
    rest = data[pos:]
    if rest == b"\x00":
        leaf_key, leaf_value = None, None
    elif len(rest) == 65 and rest[0] == 1:
        leaf_key, leaf_value = rest[1:33], rest[33:]
    else:
        raise ParseError(ErrorCode.MAP_BAD_PROOF, "bad map proof terminal")
    return MapProof(depth=depth, empties=empties, siblings=sibs, leaf_key=leaf_key, leaf_value=leaf_value)


class MemoryMapStore:
    """In-memory ``MapNodeReader`` (tests, tools): apply deltas with ``apply``."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], MapNode] = {}

    def get_map_node(self, depth: int, path: int) -> MapNode | None:
        return self.nodes.get((depth, path))

    def get_map_nodes(self, depth: int, paths: Sequence[int]) -> dict[int, MapNode]:
        out = {}
        for p in paths:
            n = self.nodes.get((depth, p))
            if n is not None:
                out[p] = n
        return out

    def apply(self, delta: MapDelta) -> None:
        """Write the delta's positions."""
        for depth, path, node in delta.writes:
            self.nodes[(depth, path)] = node
