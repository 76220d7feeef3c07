"""RFC 9162 Merkle: transparency-dev probe vectors, RFC 6962 roots, hasher vectors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.vectors import json_files, load_json, params
from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, VerificationError

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _b64(v: Any) -> bytes:
    return base64.b64decode(v) if v else b""


def _proof(v: Any) -> list[bytes]:
    return [base64.b64decode(x) for x in (v or [])]


def _check_inclusion(path: Path) -> None:
    v = load_json(path)
    args = (_b64(v.get("leafHash")), v["leafIdx"], v["treeSize"], _proof(v.get("proof")), _b64(v.get("root")))
    if v["wantErr"]:
        with pytest.raises(VerificationError) as err:
            merkle.verify_inclusion(*args)
        assert err.value.code in (ErrorCode.MERKLE_BAD_PROOF, ErrorCode.MERKLE_ROOT_MISMATCH, ErrorCode.MERKLE_BAD_SIZE)
    else:
        merkle.verify_inclusion(*args)


def _check_consistency(path: Path) -> None:
    v = load_json(path)
    args = (v["size1"], v["size2"], _proof(v.get("proof")), _b64(v.get("root1")), _b64(v.get("root2")))
    if v["wantErr"]:
        with pytest.raises(VerificationError) as err:
            merkle.verify_consistency(*args)
        assert err.value.code in (ErrorCode.MERKLE_BAD_PROOF, ErrorCode.MERKLE_ROOT_MISMATCH, ErrorCode.MERKLE_BAD_SIZE)
    else:
        merkle.verify_consistency(*args)


@pytest.mark.parametrize("path", params("merkle/inclusion"))
def test_inclusion_probe(path: Path) -> None:
    _check_inclusion(path)


@pytest.mark.parametrize("path", params("merkle/consistency"))
def test_consistency_probe(path: Path) -> None:
    _check_consistency(path)


def test_probe_error_codes_are_specific() -> None:
    root8 = bytes.fromhex(ROOTS[8])
    hashes = [merkle.leaf_hash(x) for x in LEAVES]
    proof = merkle.inclusion_proof(hashes, 0)
    with pytest.raises(VerificationError) as e1:
        merkle.verify_inclusion(hashes[0], 8, 8, proof, root8)
    assert e1.value.code == ErrorCode.MERKLE_BAD_SIZE
    with pytest.raises(VerificationError) as e2:
        merkle.verify_inclusion(hashes[0], 0, 8, proof[:-1], root8)
    assert e2.value.code == ErrorCode.MERKLE_BAD_PROOF
    with pytest.raises(VerificationError) as e3:
        merkle.verify_inclusion(hashes[1], 0, 8, proof, root8)
    assert e3.value.code == ErrorCode.MERKLE_ROOT_MISMATCH


@pytest.mark.parametrize("n", range(9))
def test_rfc6962_roots(n: int) -> None:
    hashes = [merkle.leaf_hash(x) for x in LEAVES[:n]]
    assert merkle.root(hashes).hex() == ROOTS[n]
    assert merkle.root_from(merkle.MemoryHashReader(hashes), n).hex() == ROOTS[n]


def test_base_consistency_vectors() -> None:
    hashes = [merkle.leaf_hash(x) for x in LEAVES]
    # README base vectors: (1->8), (6->8), (2->5), (6->7) first elements
    assert merkle.consistency_proof(hashes, 1, 8)[0].hex().startswith("96a296d2")
    assert [p.hex()[:8] for p in merkle.consistency_proof(hashes, 6, 8)] == ["0ebc5d34", "ca854ea1", "d37ee418"]
    assert [p.hex()[:8] for p in merkle.consistency_proof(hashes, 2, 5)] == ["5f083f0a", "bc1a0643"]
    assert [p.hex()[:8] for p in merkle.consistency_proof(hashes, 6, 7)] == ["0ebc5d34", "b08693ec", "d37ee418"]
    assert merkle.consistency_proof(hashes, 1, 1) == ()


def test_hasher_vectors() -> None:
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert merkle.leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert merkle.node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_compact_range_creates_complete_subtrees() -> None:
    cr = merkle.CompactRange.EMPTY
    created_all = []
    for i, x in enumerate(LEAVES):
        cr, created = cr.append(merkle.leaf_hash(x))
        created_all.extend(created)
        assert cr.root().hex() == ROOTS[i + 1]
    assert [(lvl, idx) for lvl, idx, _ in created_all if lvl == 3] == [(3, 0)]
    assert len(created_all) == 15  # 8 leaves + 4 + 2 + 1 complete subtrees
    reader = merkle.MemoryHashReader([merkle.leaf_hash(x) for x in LEAVES[:7]])
    assert merkle.CompactRange.from_reader(reader, 7).root().hex() == ROOTS[7]


def test_bad_sizes_for_builders() -> None:
    with pytest.raises(VerificationError) as e:
        merkle.consistency_proof([merkle.leaf_hash(b"")], 0, 1)
    assert e.value.code == ErrorCode.MERKLE_BAD_SIZE
    with pytest.raises(VerificationError):
        merkle.inclusion_proof([], 0)


def test_every_vector_file_consumed() -> None:
    # Independent of xdist scheduling: run every file here and count them (README: 98 + 98).
    inclusion, consistency = json_files("merkle/inclusion"), json_files("merkle/consistency")
    assert (len(inclusion), len(consistency)) == (98, 98)
    for p in inclusion:
        _check_inclusion(p)
    for p in consistency:
        _check_consistency(p)
    assert sum(bool(load_json(p)["wantErr"]) is False for p in inclusion + consistency) >= 10
