"""Mutated real blocks, headers, txs and name scripts give success or a WaypostError, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.vectors import MAINNET, REGTEST, load_json
from waypost.indexer import names, wire
from waypost.indexer.params import Network
from waypost.registry.errors import WaypostError

# a spread of shapes: genesis, plain coinbase-only, many name_new, many firstupdates,
# hand-made AuxPoW, segwit spends, the orphan branch, and the mainnet blocks
_REGTEST_HEIGHTS = ("0000", "0001", "0111", "0112", "0124", "0125", "0127", "0157", "0161")


@cache
def _blocks() -> tuple[bytes, ...]:
    out = []
    for prefix in _REGTEST_HEIGHTS:
        for path in sorted((REGTEST / "blocks").glob(f"{prefix}-*.json")):
            doc = load_json(path)
            out.append(bytes.fromhex(next(c["result"] for c in doc["rpc"] if c["method"] == "getblock" and c["params"][1] == 0)))
    for h in (19200, 19204):
        out.append(bytes.fromhex(load_json(MAINNET / "electrumx" / "blocks" / f"namecoin_mainnet_{h}.json")["block"]))
    return tuple(out)


@cache
def _headers() -> tuple[bytes, ...]:
    entries = load_json(MAINNET / "electrum-nmc" / "test_auxpow_headers.json")["headers"]
    return tuple(bytes.fromhex(e["hex"]) for e in entries)


@cache
def _txs() -> tuple[bytes, ...]:
    return tuple(p.read_bytes() for p in sorted((MAINNET / "libdohj").glob("namecoin_*.bin")))


@cache
def _name_scripts() -> tuple[bytes, ...]:
    out = []
    for raw in _blocks():
        for tx in wire.parse_block(raw).txs:
            found = names.find_name_output(tx)
            if found is not None:
                out.append(tx.outputs[found[0]].script)
    return tuple(out[:40])


@st.composite
def _mutated(draw: st.DrawFn, pool: Callable[[], tuple[bytes, ...]]) -> bytes:
    raw = bytearray(draw(st.sampled_from(pool())))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "varint"]))
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del raw[pos:]
        elif kind == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=9))
        elif kind == "delete":
            del raw[pos : pos + draw(st.integers(1, 40))]
        else:  # plant a huge var-int
            raw[pos:pos] = draw(st.sampled_from([b"\xff" * 9, b"\xfe\xff\xff\xff\x7f", b"\xfd\x00\x00", b"\xff" + bytes(8)]))
    return bytes(raw)


def _check_rebuild(tx: wire.Tx) -> None:
    again = wire.Tx.create(version=tx.version, inputs=tx.inputs, outputs=tx.outputs, locktime=tx.locktime)
    assert again == tx
    assert wire.encode_tx(again) == wire.encode_tx(tx)


def _check_block(raw: bytes) -> None:
    try:
        block = wire.parse_block(raw)
    except WaypostError:
        return
    # whatever parses is canonical: it encodes back to the same bytes, also when rebuilt
    # from the lazily decoded fields (so the skim and the decoder agree)
    assert wire.encode_block(block) == raw
    for tx in block.txs:
        _check_rebuild(tx)
    try:
        wire.verify_pow(block.header, block.auxpow)
    except WaypostError:
        pass
    for tx in block.txs:
        try:
            names.find_name_output(tx)
        except WaypostError:
            pass
        for out in tx.outputs:
            names.script_address(out.script, Network.REGTEST)


@settings(max_examples=400)
@given(_mutated(_blocks))
def test_mutated_blocks(raw: bytes) -> None:
    _check_block(raw)


@settings(max_examples=150)
@given(_mutated(_headers))
def test_mutated_auxpow_headers(raw: bytes) -> None:
    try:
        header, auxpow = wire.parse_header(raw)
    except WaypostError:
        return
    assert wire.encode_header(header) + (wire.encode_auxpow(auxpow) if auxpow else b"") == raw
    if auxpow is not None:
        _check_rebuild(auxpow.coinbase_tx)
    try:
        wire.verify_pow(header, auxpow, strict_chain_id=False)
    except WaypostError:
        pass
    try:
        wire.verify_header_chain([header, header])
    except WaypostError:
        pass


@settings(max_examples=150)
@given(_mutated(_txs))
def test_mutated_txs(raw: bytes) -> None:
    try:
        tx = wire.parse_tx(raw)
    except WaypostError:
        return
    assert wire.encode_tx(tx) == raw
    _check_rebuild(tx)
    try:
        names.find_name_output(tx)
    except WaypostError:
        pass


@settings(max_examples=150)
@given(_mutated(_name_scripts))
def test_mutated_name_scripts(script: bytes) -> None:
    try:
        op = names.parse_name_script(script)
    except WaypostError:
        return
    if op is not None:
        names.script_address(script, Network.REGTEST)
        try:
            names.validate_name_op(op)
        except WaypostError:
            pass


@settings(max_examples=100)
@given(_mutated(lambda: tuple(wire.encode_merkle_block(wire.parse_merkle_block(bytes.fromhex(c["result"]))) for e in load_json(REGTEST / "proofs" / "multi_tx_proofs.json")[:3] for c in e["rpc"] if c["method"] == "gettxoutproof")))
def test_mutated_merkle_blocks(raw: bytes) -> None:
    try:
        mb = wire.parse_merkle_block(raw)
        wire.verify_merkle_block(mb)
    except WaypostError:
        return
