"""The client's header chain core: linkage, work, the difficulty rule, encoding (hand-made headers)."""

from __future__ import annotations

import pytest

from waypost.client import headers as hc
from waypost.indexer import wire
from waypost.indexer.params import Network, params_for
from waypost.registry.errors import ErrorCode, ParseError, VerificationError
from waypost.registry.model import BlockHash

REGTEST_BITS = params_for(Network.REGTEST).pow_limit_bits
VERSION = (1 << 16) | 4  # our chain ID, no AuxPoW flag


def mine(prev: bytes, *, time_s: int, bits: int = REGTEST_BITS, root: bytes = b"\x11" * 32) -> bytes:
    """A header meeting ``bits`` (grinds a tiny nonce against regtest's easy target)."""
    for nonce in range(10_000):
        h = wire.BlockHeader(version=VERSION, prev_hash=BlockHash(prev), merkle_root=root, time_s=time_s, bits=bits, nonce=nonce)
        if int.from_bytes(h.hash, "little") <= wire.bits_to_target(bits):
            return wire.encode_header(h)
    raise AssertionError("no nonce found")


def unmined(prev: bytes, *, time_s: int, bits: int) -> bytes:
    """A header whose PoW fails its bits."""
    for nonce in range(10_000):
        h = wire.BlockHeader(version=VERSION, prev_hash=BlockHash(prev), merkle_root=b"\x11" * 32, time_s=time_s, bits=bits, nonce=nonce)
        if int.from_bytes(h.hash, "little") > wire.bits_to_target(bits):
            return wire.encode_header(h)
    raise AssertionError("every nonce met the target")


def regtest_chain(n: int) -> tuple[hc.HeaderChain, list[bytes]]:
    genesis = mine(bytes(32), time_s=1_000)
    gh = wire.parse_header(genesis)[0].hash
    chain = hc.anchor(Network.REGTEST, 0, genesis, block_hash=gh)
    raws, prev = [], gh
    for i in range(n):
        raw = mine(prev, time_s=1_000 + 600 * (i + 1))
        raws.append(raw)
        prev = wire.parse_header(raw)[0].hash
    return chain, raws


def test_extend_links_and_looks_up() -> None:
    chain, raws = regtest_chain(5)
    full = hc.extend(chain, raws)
    assert hc.tip_height(full) == 5
    for i, raw in enumerate(raws, start=1):
        assert hc.hash_at(full, i) == wire.parse_header(raw)[0].hash
    assert hc.hash_at(full, 6) is None and hc.hash_at(full, -1) is None
    # incremental extension gives the same chain
    assert hc.extend(hc.extend(chain, raws[:2]), raws[2:]) == full
    assert hc.decode_chain(hc.encode_chain(full)) == full


def test_broken_linkage_is_rejected() -> None:
    chain, raws = regtest_chain(3)
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [raws[0], raws[2]])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_LINK and ei.value.fields["height"] == 2


def test_forged_header_at_a_real_height_is_not_the_held_one() -> None:
    chain, raws = regtest_chain(3)
    full = hc.extend(chain, raws)
    forged = mine(wire.parse_header(raws[0])[0].prev_hash, time_s=5, root=b"\x22" * 32)  # valid work, same parent
    assert hc.hash_at(full, 1) != wire.parse_header(forged)[0].hash
    with pytest.raises(VerificationError) as ei:
        hc.extend(full, [forged])  # does not link to the tip either
    assert ei.value.code == ErrorCode.CLIENT_HEADER_LINK


def test_header_without_work_is_rejected() -> None:
    chain, _ = regtest_chain(0)
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [unmined(hc.tip_hash(chain), time_s=2_000, bits=0x1F00FFFF)])
    # 0x1f00ffff is allowed by neither regtest rule (previous bits or the PoW limit)
    assert ei.value.code == ErrorCode.CLIENT_HEADER_BITS
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [unmined(hc.tip_hash(chain), time_s=2_000, bits=REGTEST_BITS)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_WORK


def test_regtest_bits_must_be_the_limit_or_unchanged() -> None:
    chain, _ = regtest_chain(0)
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [mine(hc.tip_hash(chain), time_s=2_000, bits=0x2100FFFF)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_BITS


def _mainnet(tip: int, window: list[tuple[int, int]]) -> hc.HeaderChain:
    start = tip - len(window) + 1
    return hc.HeaderChain(network=Network.MAINNET, start_height=start, hashes=b"\x01" * 32 * len(window), window=tuple(window))


def test_mainnet_bits_unchanged_between_retargets() -> None:
    chain = _mainnet(2016 * 5 + 10, [(600 * i, 0x1B0404CB) for i in range(11)])
    assert hc.next_bits(chain) == (0x1B0404CB,)
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [mine(hc.tip_hash(chain), time_s=7_000, bits=REGTEST_BITS)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_BITS


def test_mainnet_retarget_with_a_full_window_checks_the_clamp_and_never_allows_min_difficulty() -> None:
    bits = 0x1B0404CB
    chain = _mainnet(2016 * 5 - 1, [(0, bits)] + [(hc.TARGET_TIMESPAN_S, bits)] * 2016)
    assert hc.next_bits(chain) == ()  # the x4 clamp (the exact look-back window is not asserted)
    limit = params_for(Network.MAINNET).pow_limit_bits
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [unmined(hc.tip_hash(chain), time_s=9, bits=limit)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_BITS


def test_mainnet_retarget_without_the_window_start_checks_the_clamp() -> None:
    bits = 0x1B0404CB
    chain = _mainnet(2016 * 5 - 1, [(0, bits)] * 3)  # anchored recently: first time unknown
    assert hc.next_bits(chain) == ()
    too_easy = wire.target_to_bits(wire.bits_to_target(bits) * 5)
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [mine(hc.tip_hash(chain), time_s=9, bits=REGTEST_BITS)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_BITS
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [unmined(hc.tip_hash(chain), time_s=9, bits=too_easy)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_BITS
    ok = wire.target_to_bits(wire.bits_to_target(bits) * 3)
    with pytest.raises(VerificationError) as ei:
        hc.extend(chain, [unmined(hc.tip_hash(chain), time_s=9, bits=ok)])
    assert ei.value.code == ErrorCode.CLIENT_HEADER_WORK  # bits pass the clamp; the work does not


def test_anchor_must_be_the_trusted_header() -> None:
    genesis = mine(bytes(32), time_s=1)
    with pytest.raises(VerificationError) as ei:
        hc.anchor(Network.REGTEST, 0, genesis)  # not regtest's real genesis
    assert ei.value.code == ErrorCode.CLIENT_HEADER_ANCHOR
    assert hc.parse_anchor("5:" + "00" * 31 + "ab") == (5, BlockHash(bytes([0xAB]) + bytes(31)))
    with pytest.raises(ParseError):
        hc.parse_anchor("x:y")


def test_truncate_walks_back() -> None:
    chain, raws = regtest_chain(4)
    full = hc.extend(chain, raws)
    cut = hc.truncate(full, 2)
    assert hc.tip_height(cut) == 2 and hc.tip_hash(cut) == hc.hash_at(full, 2)
    assert hc.extend(cut, raws[2:]) == full
    with pytest.raises(VerificationError) as ei:
        hc.truncate(full, -1)
    assert ei.value.code == ErrorCode.CLIENT_HEADER_REORG


def test_corrupt_file_is_an_error() -> None:
    chain, raws = regtest_chain(1)
    data = hc.encode_chain(hc.extend(chain, raws))
    for bad in (b"", data[:-1], b"X" + data[1:]):
        with pytest.raises(ParseError) as ei:
            hc.decode_chain(bad)
        assert ei.value.code == ErrorCode.CLIENT_STATE_CORRUPT
