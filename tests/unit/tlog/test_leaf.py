"""Log leaf canonical CBOR."""

from __future__ import annotations

import pytest

from waypost.registry import merkle
from waypost.registry.chain import encode_canonical
from waypost.registry.errors import ErrorCode, ParseError
from waypost.registry.model import Sha256, Txid
from waypost.tlog.leaf import ChainSource, LogLeaf, NamecoinSource, address_key


def _leaf(**kw: object) -> LogLeaf:
    base: dict[str, object] = dict(
        address="alice@example.bit",
        epoch=1,
        seq=2,
        record_hash=Sha256(b"\x01" * 32),
        source=NamecoinSource(height=100, txid=Txid(b"\x02" * 32), vout=1),
    )
    base.update(kw)
    return LogLeaf(**base)  # type: ignore[arg-type]


def test_round_trip_and_hash() -> None:
    for leaf in (_leaf(), _leaf(source=ChainSource(seq=3, entry_hash=Sha256(b"\x05" * 32)), verdict="flagged", codes=("key.uncommitted-rotation",))):
        data = leaf.encode()
        assert LogLeaf.parse(data) == leaf
        assert leaf.leaf_hash() == merkle.leaf_hash(data)


def test_encoding_is_design_shape() -> None:
    leaf = _leaf(verdict="flagged", codes=("a.b", "c.d"))
    expected = encode_canonical(
        {
            "v": 1,
            "address": "alice@example.bit",
            "epoch": 1,
            "seq": 2,
            "record_hash": b"\x01" * 32,
            "source": {"namecoin": [100, b"\x02" * 32, 1]},
            "verdict": "flagged:a.b,c.d",
        }
    )
    assert leaf.encode() == expected
    assert leaf.address_key == address_key("alice@example.bit")


@pytest.mark.parametrize(
    "value",
    [
        {"v": 2, "address": "a", "epoch": 0, "seq": 0, "record_hash": b"\x00" * 32, "source": {"chain": [0, b"\x00" * 32]}, "verdict": "accepted"},
        {"v": 1, "address": "a", "epoch": 0, "seq": 0, "record_hash": b"\x00" * 32, "source": {"other": [0]}, "verdict": "accepted"},
        {"v": 1, "address": "a", "epoch": 0, "seq": 0, "record_hash": b"\x00" * 31, "source": {"chain": [0, b"\x00" * 32]}, "verdict": "accepted"},
        {"v": 1, "address": "a", "epoch": True, "seq": 0, "record_hash": b"\x00" * 32, "source": {"chain": [0, b"\x00" * 32]}, "verdict": "accepted"},
        {"v": 1, "address": "a", "epoch": 0, "seq": 0, "record_hash": b"\x00" * 32, "source": {"chain": [0, b"\x00" * 32]}},
        [1, 2, 3],
    ],
)
def test_bad_leaves(value: object) -> None:
    with pytest.raises(ParseError) as e:
        LogLeaf.parse(encode_canonical(value))  # type: ignore[arg-type]
    assert e.value.code == ErrorCode.CBOR_BAD


def test_non_canonical_rejected() -> None:
    data = bytearray(_leaf().encode())
    with pytest.raises(ParseError):
        LogLeaf.parse(bytes(data) + b"\x00")


def test_address_key_matches_registry() -> None:
    from waypost.registry.address import address_key as registry_key
    from waypost.registry.address import format_address, parse_address

    for text in ("alice@id.bit", "bob@example.bit", "carol@example.com"):
        addr = parse_address(text)
        assert address_key(format_address(addr)) == registry_key(addr)
