"""The compiled block scanner (``_wirescan``) answers exactly as the Python parser.

``state.summarize_raw`` (scanner) must equal ``summarize_block(parse_block(raw))`` on every
recorded block and on mutated ones, and raise the same error code where that raises.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.property.test_wire_mutation import _blocks, _mutated
from tests.vectors import MAINNET, REGTEST, load_json
from waypost.indexer import names, state, wire
from waypost.registry.errors import WaypostError

needs_scanner = pytest.mark.skipif(not wire.FAST_SCAN, reason="compiled scanner not built")


@cache
def _all_blocks() -> tuple[bytes, ...]:
    out = []
    for path in sorted((REGTEST / "blocks").glob("[0-9][0-9][0-9][0-9]-*.json")):
        for call in load_json(path)["rpc"]:
            if call["method"] == "getblock" and call["params"][1:] == [0]:
                out.append(bytes.fromhex(call["result"]))
    for h in (19200, 19204):
        out.append(bytes.fromhex(load_json(MAINNET / "electrumx" / "blocks" / f"namecoin_mainnet_{h}.json")["block"]))
    return tuple(out)


def _outcome(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return ("ok", fn(*args))
    except WaypostError as exc:
        return ("error", exc.code)


def _slow_summary(raw: bytes, network: str) -> state.BlockSummary:
    return state.summarize_block(wire.parse_block(raw), network, size=len(raw))


def test_scanner_is_built_where_it_can_be() -> None:
    """A machine with a C compiler, Python and OpenSSL headers must not fall back silently."""
    can_build = (
        shutil.which(os.environ.get("CC", "cc")) is not None
        and (Path(sysconfig.get_paths()["include"]) / "Python.h").exists()
        and Path("/usr/include/openssl/sha.h").exists()
    )
    if not can_build:
        pytest.skip("no C toolchain with OpenSSL headers here")
    assert wire.FAST_SCAN, "reinstall (pip install -e .) to build waypost.indexer._wirescan"


@needs_scanner
@pytest.mark.parametrize("network", ["regtest", "mainnet"])
def test_every_recorded_block_summarises_alike(network: str) -> None:
    blocks = _all_blocks()
    assert len(blocks) > 150
    for raw in blocks:
        assert state.summarize_raw(raw, network) == _slow_summary(raw, network)
        for legacy in (False, True):
            assert wire._wirescan.scan_block(raw, legacy) is not None
            fast = wire.scan_block(raw, legacy=legacy)
            assert fast == wire._scan_block_py(raw, legacy)


@needs_scanner
@settings(max_examples=400, deadline=None)
@given(_mutated(_blocks), st.sampled_from(["regtest", "mainnet"]))
def test_mutated_blocks_summarise_alike(raw: bytes, network: str) -> None:
    assert _outcome(state.summarize_raw, raw, network) == _outcome(_slow_summary, raw, network)
    for legacy in (False, True):
        found = wire._wirescan.scan_block(raw, legacy)
        if found is not None:  # the scanner accepts only what the parser accepts
            assert wire.scan_block(raw, legacy=legacy) == wire._scan_block_py(raw, legacy)


@needs_scanner
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), st.data())
def test_merkle_branches_alike(hashes: list[bytes], data: st.DataObject) -> None:
    indices = data.draw(st.lists(st.integers(0, len(hashes) - 1), max_size=5))
    assert wire.merkle_branches(hashes, indices) == wire._merkle_branches_py(hashes, indices)
    for i, branch in zip(indices, wire.merkle_branches(hashes, indices), strict=True):
        assert wire.root_from_branch(hashes[i], branch, i) == wire.merkle_root(hashes)


@needs_scanner
@given(st.binary(max_size=60) | st.binary(max_size=8).map(lambda b: bytes(3) + b))
def test_base58check_alike(payload: bytes) -> None:
    data = payload + wire.sha256d(payload)[:4]
    n = int.from_bytes(data, "big")
    digits = ""
    while n:
        n, r = divmod(n, 58)
        digits = names._B58[r] + digits
    expected = "1" * (len(data) - len(data.lstrip(b"\x00"))) + digits
    assert wire.base58check_payload(payload) == expected
    assert names._base58check(payload) == expected


def _segwit_name_block(seed: int, extra_outputs: int) -> bytes:
    """A block with a segwit name_update and a segwit plain spend (the recorded chain has none)."""
    import random

    rng = random.Random(seed)
    op = names.NameOp(
        kind=names.NameOpKind.UPDATE, name=b"d/seg%d" % seed, value=rng.randbytes(rng.randint(0, 300)), rand=None,
        commitment=None, address_script=b"\x00\x14" + rng.randbytes(20),
    )

    def tx_in(witness: tuple[bytes, ...]) -> wire.TxIn:
        return wire.TxIn(prevout=wire.OutPoint(txid=rng.randbytes(32), vout=rng.randint(0, 3)), script_sig=b"", sequence=0xFFFFFFFD, witness=witness)

    plain = [wire.TxOut(value_sat=rng.randint(1, 10**8), script=b"\x00\x14" + rng.randbytes(20)) for _ in range(extra_outputs)]
    coinbase = wire.Tx.create(
        version=1,
        inputs=[wire.TxIn(prevout=wire.OutPoint(txid=wire.NULL_HASH, vout=wire.COINBASE_VOUT), script_sig=b"\x01\x02", sequence=0xFFFFFFFF)],
        outputs=[wire.TxOut(value_sat=5 * 10**9, script=b"\x51")],
    )
    name_tx = wire.Tx.create(
        version=names.NAMECOIN_TX_VERSION,
        inputs=[tx_in((rng.randbytes(71), rng.randbytes(33))), tx_in(())],
        outputs=[*plain, wire.TxOut(value_sat=10**6, script=names.encode_name_script(op))],
    )
    spend = wire.Tx.create(version=2, inputs=[tx_in((rng.randbytes(64),))], outputs=plain or [wire.TxOut(value_sat=1, script=b"\x51")])
    txs = [coinbase, name_tx, spend]
    header = wire.BlockHeader(version=4, prev_hash=rng.randbytes(32), merkle_root=wire.merkle_root([t.txid for t in txs]),
                              time_s=1_700_000_000, bits=0x207FFFFF, nonce=seed)
    return wire.encode_block(wire.Block(header=header, auxpow=None, txs=tuple(txs)))


@needs_scanner
@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_segwit_name_transactions_summarise_alike(seed: int, extra_outputs: int) -> None:
    raw = _segwit_name_block(seed, extra_outputs)
    assert wire._wirescan.scan_block(raw, False) is not None
    fast = state.summarize_raw(raw, "regtest")
    assert fast == _slow_summary(raw, "regtest")
    assert len(fast.name_txs) == 1 and fast.name_txs[0].raw[4] != 0  # stored without witness
