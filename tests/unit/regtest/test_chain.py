"""Blocks the simulator makes are real merge-mined regtest blocks; reorgs and expiry."""

from __future__ import annotations

from waypost.indexer.wire import (
    coinbase_height,
    hash_to_hex,
    merkle_root,
    parse_block,
    verify_auxpow,
    verify_pow,
)
from waypost.regtest.chain import AUXPOW_VERSION, REGTEST_BITS, SimChain
from waypost.regtest.node import SimNode


def test_genesis_is_the_real_regtest_genesis() -> None:
    c = SimChain()
    assert hash_to_hex(c.active[0]) == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


def test_blocks_parse_and_verify_with_the_foundation_parser(node: SimNode) -> None:
    node.register_name(b"d/parsed", b"{}")
    c = node.chain
    assert c.height >= 114
    for h in c.active[1:]:
        raw = c.blocks[h].raw
        block = parse_block(raw)  # verifies the merkle root
        assert block.hash == h
        assert block.header.version == AUXPOW_VERSION and block.header.bits == REGTEST_BITS
        assert block.auxpow is not None
        verify_pow(block.header, block.auxpow)
        verify_auxpow(block.header, block.auxpow, chain_id=1)
        assert merkle_root([t.txid for t in block.txs]) == block.header.merkle_root
        assert coinbase_height(block.txs[0]) == c.blocks[h].height
    names_blocks = [c.blocks[h].block for h in c.active if any(t.version == 0x7100 for t in c.blocks[h].block.txs)]
    assert len(names_blocks) == 2  # name_new block and firstupdate block


def test_segwit_commitment_in_coinbase(node: SimNode) -> None:
    node.generate(1)
    cb = node.chain.tip.block.txs[0]
    assert cb.inputs[0].witness == (bytes(32),)
    assert cb.outputs[1].script[:6] == b"\x6a\x24\xaa\x21\xa9\xed"


def test_expiry_removes_coin_at_h_plus_29_and_shows_expired_at_h_plus_30(node: SimNode) -> None:
    node.register_name(b"d/exp", b"v")
    c = node.chain
    entry = c.names[b"d/exp"]
    h = entry.height
    node.generate(h + 28 - c.height)
    assert (entry.txid, entry.vout) in c.utxo
    node.generate(1)  # block H+29 connects: coin gone
    assert (entry.txid, entry.vout) not in c.utxo
    assert not c.is_expired(entry, c.height)
    node.generate(1)
    assert c.is_expired(entry, c.height)
    # the undo data restores the coin on a reorg
    c.invalidate(c.active[h + 29])
    assert (entry.txid, entry.vout) in c.utxo


def test_reorg_to_longer_branch_drops_conflicts_and_keeps_stale_blocks(node: SimNode) -> None:
    node.register_name(b"d/r", b"one")
    c = node.chain
    fork = c.active[-1]
    node.update_name(b"d/r", b"branch-a")
    stale = c.active[-1]
    assert c.names[b"d/r"].value == b"branch-a"
    # competing branch from the fork, two empty blocks: more work
    script = c._new_script(c.wallets["alice"])
    b1 = c.make_block(fork, [], script, 0)
    c.submit_block(b1)
    b2 = c.make_block(b1.hash, [], script, 0)
    c.submit_block(b2)
    assert c.active[-1] == b2.hash
    assert c.names[b"d/r"].value == b"one"
    assert stale in c.blocks and not c.is_active(stale)
    # the branch-A update went back to the mempool
    assert any(t != b"" for t in c.mempool)
    tips = {status for _, _, status in c.chain_tips()}
    assert tips == {"active", "valid-fork"}


def test_build_branch_with_conflicting_name_operation(node: SimNode) -> None:
    from waypost.indexer import names as wnames
    from waypost.indexer.wire import OutPoint, Tx, TxIn, TxOut
    from waypost.registry.model import Txid

    node.register_name(b"d/fork", b"base")
    c = node.chain
    fork = c.active[-1]
    base = c.names[b"d/fork"]
    node.update_name(b"d/fork", b"branch-a")
    node.generate(1)
    # branch B: a different update of the same name coin, fee 0, one block longer
    op = wnames.NameOp(kind=wnames.NameOpKind.UPDATE, name=b"d/fork", value=b"branch-b", rand=None,
                       commitment=None, address_script=base.address_script)
    tx_b = Tx.create(
        version=0x7100,
        inputs=[TxIn(prevout=OutPoint(txid=Txid(base.txid), vout=base.vout), script_sig=b"\x00", sequence=0xFFFFFFFF)],
        outputs=[TxOut(value_sat=1_000_000, script=wnames.encode_name_script(op))],
    )
    hashes = c.build_branch(fork, [[tx_b], [], []])
    assert c.active[-1] == hashes[-1]
    assert c.names[b"d/fork"].value == b"branch-b"
    assert [e.value for e in c.history[b"d/fork"]] == [b"base", b"branch-b"]
    assert not any(b"branch-a" in e.raw for e in c.mempool.values())  # conflict dropped
    # an invalid branch (spends the same coin twice) is refused, the chain stays
    tip = c.active[-1]
    c.build_branch(fork, [[tx_b, tx_b], [], [], [], []])
    assert c.active[-1] == tip
