"""A restarted simulator has the same chain, names, stale branches and wallets."""

from __future__ import annotations

from pathlib import Path

from waypost.regtest.node import SimNode


def test_restart_keeps_chain_and_branches(tmp_path: Path) -> None:
    d = tmp_path / "node"
    with SimNode.start(d, seed=5) as node:
        node.register_name(b"id/alice", b'{"a":1}')
        c = node.chain
        c.invalidate(c.active[-1])
        node.generate(2)
        tip, height = c.active[-1], c.height
        all_blocks = set(c.blocks)
        names = dict(c.names)
        node.address("bob")
        bob_keys = list(c.wallets["bob"].keys)
    with SimNode.start(d, seed=5) as again:
        c2 = again.chain
        assert (c2.active[-1], c2.height) == (tip, height)
        assert set(c2.blocks) == all_blocks
        assert c2.names == names
        assert set(c2.wallets) == {"alice", "bob"}
        assert c2.wallets["bob"].keys == bob_keys
        assert again.call("getblockcount") == height


def test_torn_journal_tail_is_dropped(tmp_path: Path) -> None:
    d = tmp_path / "node"
    with SimNode.start(d) as node:
        node.generate(3)
        height = node.chain.height
    journal = d / "regtest" / "journal.jsonl"
    with journal.open("a") as fh:
        fh.write('{"op":"block","hex":"0401')  # crash in the middle of a write
    with SimNode.start(d) as again:
        assert again.chain.height == height
    assert journal.read_text().endswith("\n")
