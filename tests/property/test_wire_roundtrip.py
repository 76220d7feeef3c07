"""parse(encode(x)) == x for random transactions, headers, AuxPoW, blocks and name scripts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.indexer import names, wire
from waypost.indexer.names import NameOp, NameOpKind
from waypost.registry.model import BlockHash, Hash160, Txid

u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
h32 = st.binary(min_size=32, max_size=32)
# lengths straddling every var-int / push boundary
_script_sizes = st.sampled_from([0, 1, 20, 75, 76, 252, 253, 255, 256, 520, 1023])


@st.composite
def _script(draw: st.DrawFn) -> bytes:
    return draw(st.one_of(st.binary(max_size=40), _script_sizes.map(lambda n: bytes([n % 251]) * n)))


@st.composite
def _txin(draw: st.DrawFn, witness: bool) -> wire.TxIn:
    return wire.TxIn(
        prevout=wire.OutPoint(txid=Txid(draw(h32)), vout=draw(u32)),
        script_sig=draw(_script()),
        sequence=draw(u32),
        witness=tuple(draw(st.lists(_script(), max_size=3))) if witness else (),
    )


@st.composite
def txs(draw: st.DrawFn) -> wire.Tx:
    witness = draw(st.booleans())
    inputs = draw(st.lists(_txin(witness), min_size=1, max_size=4))
    if witness and not any(i.witness for i in inputs):
        first = inputs[0]
        inputs[0] = wire.TxIn(prevout=first.prevout, script_sig=first.script_sig, sequence=first.sequence, witness=(b"\x01",))
    outputs = draw(
        st.lists(
            st.builds(wire.TxOut, value_sat=st.integers(-(2**63), 2**63 - 1), script=_script()),
            max_size=4,
        )
    )
    return wire.Tx.create(version=draw(u32), inputs=inputs, outputs=outputs, locktime=draw(u32))


headers = st.builds(
    wire.BlockHeader,
    version=i32,
    prev_hash=h32.map(BlockHash),
    merkle_root=h32,
    time_s=u32,
    bits=u32,
    nonce=u32,
)


@st.composite
def auxpows(draw: st.DrawFn) -> wire.AuxPow:
    return wire.AuxPow(
        coinbase_tx=draw(txs()),
        parent_block_hash=BlockHash(draw(h32)),
        coinbase_branch=tuple(draw(st.lists(h32, max_size=4))),
        coinbase_index=draw(i32),
        chain_branch=tuple(draw(st.lists(h32, max_size=4))),
        chain_index=draw(i32),
        parent_header=draw(headers),
    )


@settings(max_examples=150)
@given(txs())
def test_tx_round_trip(tx: wire.Tx) -> None:
    raw = wire.encode_tx(tx)
    assert wire.parse_tx(raw) == tx
    assert wire.sha256d(wire.encode_tx(tx, include_witness=False)) == tx.txid
    assert wire.sha256d(raw) == tx.wtxid


@settings(max_examples=100)
@given(headers, st.one_of(st.none(), auxpows()))
def test_header_round_trip(header: wire.BlockHeader, auxpow: wire.AuxPow | None) -> None:
    flagged = wire.BlockHeader(
        version=(header.version | 0x100) if auxpow else (header.version & ~0x100),
        prev_hash=header.prev_hash,
        merkle_root=header.merkle_root,
        time_s=header.time_s,
        bits=header.bits,
        nonce=header.nonce,
    )
    raw = wire.encode_header(flagged) + (wire.encode_auxpow(auxpow) if auxpow else b"")
    assert wire.parse_header(raw) == (flagged, auxpow)
    assert len(wire.encode_header(flagged)) == 80


@settings(max_examples=50)
@given(headers, st.lists(txs(), min_size=1, max_size=5).filter(lambda ts: len({t.txid for t in ts}) == len(ts)))
def test_block_round_trip(header: wire.BlockHeader, tx_list: list[wire.Tx]) -> None:
    fixed = wire.BlockHeader(
        version=header.version & ~0x100,
        prev_hash=header.prev_hash,
        merkle_root=wire.merkle_root([t.txid for t in tx_list]),
        time_s=header.time_s,
        bits=header.bits,
        nonce=header.nonce,
    )
    block = wire.Block(header=fixed, auxpow=None, txs=tuple(tx_list))
    assert wire.parse_block(wire.encode_block(block)) == block


def _tiny_tx(i: int) -> wire.Tx:
    txin = wire.TxIn(prevout=wire.OutPoint(txid=Txid(bytes(32)), vout=i), script_sig=b"", sequence=0)
    return wire.Tx.create(version=1, inputs=[txin], outputs=[], locktime=i)


@settings(max_examples=100)
@given(st.integers(1, 40), st.data())
def test_merkle_branch_and_partial_tree(n: int, data: st.DataObject) -> None:
    txs = tuple(_tiny_tx(i) for i in range(n))
    leaves = [t.txid for t in txs]
    index = data.draw(st.integers(0, n - 1))
    root = wire.merkle_root(leaves)
    assert wire.root_from_branch(leaves[index], wire.merkle_branch(leaves, index), index) == root
    chosen = data.draw(st.sets(st.integers(0, n - 1), min_size=1))
    header = wire.BlockHeader(version=1, prev_hash=BlockHash(bytes(32)), merkle_root=root, time_s=0, bits=0x207FFFFF, nonce=0)
    block = wire.Block(header=header, auxpow=None, txs=txs)
    mb = wire.build_merkle_block(block, [leaves[i] for i in chosen])
    assert wire.parse_merkle_block(wire.encode_merkle_block(mb)) == mb
    assert wire.verify_merkle_block(mb) == tuple(leaves[i] for i in sorted(chosen))


_address_scripts = st.one_of(
    st.binary(min_size=20, max_size=20).map(lambda h: b"\x76\xa9\x14" + h + b"\x88\xac"),
    st.binary(min_size=20, max_size=20).map(lambda h: b"\xa9\x14" + h + b"\x87"),
    st.binary(min_size=20, max_size=20).map(lambda h: b"\x00\x14" + h),
    st.binary(min_size=32, max_size=32).map(lambda h: b"\x51\x20" + h),
)
_payload = st.one_of(st.binary(max_size=80), _script_sizes.map(lambda n: b"v" * n))


@st.composite
def name_ops(draw: st.DrawFn) -> NameOp:
    kind = draw(st.sampled_from(list(NameOpKind)))
    addr = draw(_address_scripts)
    if kind == NameOpKind.NEW:
        return NameOp(kind=kind, name=None, value=None, rand=None, commitment=Hash160(draw(st.binary(min_size=20, max_size=20))), address_script=addr)
    name = draw(_payload)
    value = draw(_payload)
    rand = draw(st.binary(max_size=20)) if kind == NameOpKind.FIRSTUPDATE else None
    return NameOp(kind=kind, name=name, value=value, rand=rand, commitment=None, address_script=addr)


@settings(max_examples=200)
@given(name_ops())
def test_name_script_round_trip(op: NameOp) -> None:
    script = names.encode_name_script(op)
    assert names.parse_name_script(script) == op
    if op.kind == NameOpKind.FIRSTUPDATE:
        assert op.rand is not None and op.name is not None
        assert names.name_commitment(op.rand, op.name) == wire.hash160(op.rand + op.name)
