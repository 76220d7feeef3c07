"""RFC 9162 Merkle tree hashing, proofs and verification (core layer; hashlib + errors only).

Verification follows transparency-dev/merkle ``proof/verify.go`` semantics; proofs are
built from complete-subtree hashes read through a ``HashReader`` (O(log n) reads).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from waypost.registry.errors import ErrorCode, VerificationError

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "HashReader",
    "MemoryHashReader",
    "CompactRange",
    "leaf_hash",
    "node_hash",
    "root",
    "inclusion_proof",
    "consistency_proof",
    "inclusion_proof_from",
    "consistency_proof_from",
    "root_from",
    "root_from_inclusion",
    "verify_inclusion",
    "verify_consistency",
]

HASH_SIZE = 32
# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


class HashReader(Protocol):
    """Read access to complete-subtree hashes.

    ``get_node(level, index)`` returns the hash of leaves
    ``[index * 2**level, (index + 1) * 2**level)``; only complete subtrees are asked for.
    """

    def get_node(self, level: int, index: int) -> bytes: ...


class MemoryHashReader:
    """A ``HashReader`` over an in-memory list of leaf hashes (all levels precomputed)."""

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(levels[-1]) > 1:
            prev = levels[-1]
            levels.append([node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])
        self._levels = levels

    def get_node(self, level: int, index: int) -> bytes:
        return self._levels[level][index]


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n >= 2); RFC 9162 §2.1.1 ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(reader: HashReader, start: int, end: int) -> bytes:
    """MTH of leaves ``[start, end)`` where ``start`` is aligned to a power of two >= end-start.

    The range splits (left-balanced) into complete subtrees, largest first; fold them right.
    """
    parts: list[bytes] = []
    pos = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        parts.append(reader.get_node(level, pos >> level))
        pos += 1 << level
        remaining -= 1 << level
    acc = parts[-1]
    for h in reversed(parts[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_from(reader: HashReader, size: int) -> bytes:
    """Root hash of the first ``size`` leaves, from stored complete-subtree hashes."""
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(reader, 0, size)


def inclusion_proof_from(reader: HashReader, index: int, size: int) -> tuple[bytes, ...]:
    """RFC 9162 §2.1.3.1 ``PATH(index, D[0:size])`` from stored hashes.

    Raises:
        VerificationError: ``MERKLE_BAD_SIZE`` if ``index >= size``.
    """
    if not 0 <= index < size:
        raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, f"index {index} not below size {size}", index=index, size=size)
    out: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_pow2_below(end - start)
        if m < k:
            out.append(_range_hash(reader, start + k, end))
            end = start + k
        else:
            out.append(_range_hash(reader, start, start + k))
            start += k
            m -= k
    out.reverse()
    return tuple(out)


def consistency_proof_from(reader: HashReader, size1: int, size2: int) -> tuple[bytes, ...]:
    """RFC 9162 §2.1.4.1 ``PROOF(size1, D[0:size2])`` from stored hashes.

    Raises:
        VerificationError: ``MERKLE_BAD_SIZE`` unless ``0 < size1 <= size2``.
    """
    if not 0 < size1 <= size2:
        raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, f"no consistency proof {size1} -> {size2}", size1=size1, size2=size2)
    out: list[bytes] = []
    start, end, m, complete = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                out.append(_range_hash(reader, start, end))
            break
        k = _largest_pow2_below(n)
        if m <= k:
            out.append(_range_hash(reader, start + k, end))
            end = start + k
        else:
            out.append(_range_hash(reader, start, start + k))
            start += k
            m -= k
            complete = False
    out.reverse()
    return tuple(out)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 ``MTH`` over already-hashed leaves."""
    cr = CompactRange.EMPTY
    for h in leaf_hashes:
        cr = cr.append(h)[0]
    return cr.root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """Inclusion proof for ``index`` in the tree of all ``leaf_hashes`` (O(n); for tests/tools)."""
    return inclusion_proof_from(MemoryHashReader(leaf_hashes), index, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> tuple[bytes, ...]:
    """Consistency proof between the first ``size1`` and first ``size2`` of ``leaf_hashes``."""
    if size2 > len(leaf_hashes):
        raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, f"size2 {size2} beyond {len(leaf_hashes)} leaves")
    return consistency_proof_from(MemoryHashReader(leaf_hashes[:size2]), size1, size2)


# --- verification (transparency-dev/merkle proof/verify.go) ------------------------


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _check_elements(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise VerificationError(ErrorCode.MERKLE_BAD_PROOF, f"proof element {i} has {len(h)} bytes", position=i)


def _match(calculated: bytes, expected: bytes) -> None:
    if calculated != expected:
        raise VerificationError(
            ErrorCode.MERKLE_ROOT_MISMATCH,
            "calculated root does not match",
            expected=expected.hex(),
            got=calculated.hex(),
        )


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root implied by an inclusion proof.

    Raises:
        VerificationError: ``MERKLE_BAD_SIZE`` (index >= size), ``MERKLE_BAD_PROOF``
            (wrong leaf hash length, wrong proof length or element size).
    """
    if not 0 <= index < size:
        raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, f"index {index} not below size {size}", index=index, size=size)
    if len(leaf_hash) != HASH_SIZE:
        raise VerificationError(ErrorCode.MERKLE_BAD_PROOF, f"leaf hash has {len(leaf_hash)} bytes")
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise VerificationError(
            ErrorCode.MERKLE_BAD_PROOF, f"proof has {len(proof)} hashes, want {inner + border}", expected=inner + border, got=len(proof)
        )
    _check_elements(proof)
    res = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` (0-based) of the tree of ``size`` with ``root``.

    Raises:
        VerificationError: ``MERKLE_BAD_SIZE``, ``MERKLE_BAD_PROOF`` or ``MERKLE_ROOT_MISMATCH``.
    """
    _match(root_from_inclusion(leaf_hash, index, size, proof), root)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2: check that tree ``(size1, root1)`` is a prefix of ``(size2, root2)``.

    ``size1 == 0`` is always an error (a proof from the empty tree is meaningless).

    Raises:
        VerificationError: ``MERKLE_BAD_SIZE``, ``MERKLE_BAD_PROOF`` or ``MERKLE_ROOT_MISMATCH``.
    """
    if size2 < size1:
        raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, f"size1 {size1} > size2 {size2}", size1=size1, size2=size2)
    if size1 <= 0:
        raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, "consistency from the empty tree is meaningless", size1=size1)
    if size1 == size2:
        if proof:
            raise VerificationError(ErrorCode.MERKLE_BAD_PROOF, "equal sizes need an empty proof")
        _match(root1, root2)
        return
    if not proof:
        raise VerificationError(ErrorCode.MERKLE_BAD_PROOF, "empty consistency proof")
    _check_elements(proof)
    inner, border = _decomp_incl_proof(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    # The proof starts with the hash of the 2**shift subtree unless size1 is that subtree.
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise VerificationError(
            ErrorCode.MERKLE_BAD_PROOF,
            f"proof has {len(proof)} hashes, want {start + inner + border}",
            expected=start + inner + border,
            got=len(proof),
        )
    rest = proof[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    _match(hash1, root1)
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    _match(hash2, root2)


# --- compact range -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CompactRange:
    """The right frontier of a tree of ``size`` leaves: one hash per set bit of ``size``.

    ``hashes[i]`` is the complete subtree of level ``levels[i]``, largest first. Appending a
    leaf and computing the root are O(log n).
    """

    size: int
    hashes: tuple[bytes, ...]

    EMPTY: ClassVar[CompactRange]  # assigned below the class

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != bin(self.size).count("1"):
            raise VerificationError(ErrorCode.MERKLE_BAD_SIZE, "compact range does not match its size", size=self.size)

    @property
    def levels(self) -> tuple[int, ...]:
        """Levels of the frontier subtrees, largest first."""
        return tuple(b for b in range(self.size.bit_length() - 1, -1, -1) if self.size >> b & 1)

    @classmethod
    def from_reader(cls, reader: HashReader, size: int) -> CompactRange:
        """Load the frontier of a stored tree: one ``get_node`` per set bit of ``size``."""
        out: list[bytes] = []
        pos = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append(reader.get_node(level, pos >> level))
                pos += 1 << level
        return cls(size=size, hashes=tuple(out))

    def append(self, leaf: bytes) -> tuple[CompactRange, tuple[tuple[int, int, bytes], ...]]:
        """Append one leaf hash.

        Returns:
            The new range and the complete subtrees created, as ``(level, index, hash)``
            (level 0 is the leaf itself).
        """
        hashes = list(self.hashes)
        created = [(0, self.size, leaf)]
        h, level, idx, size = leaf, 0, self.size, self.size
        while size & 1:
            h = node_hash(hashes.pop(), h)
            level += 1
            idx >>= 1
            size >>= 1
            created.append((level, idx, h))
        hashes.append(h)
        return CompactRange(size=self.size + 1, hashes=tuple(hashes)), tuple(created)

    def root(self) -> bytes:
        """RFC 9162 root of the tree of ``size`` leaves."""
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            acc = node_hash(h, acc)
        return acc


CompactRange.EMPTY = CompactRange(size=0, hashes=())
