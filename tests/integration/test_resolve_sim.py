"""Resolve on the regtest simulator: register/update, index with the hook, verify bundles; a reorg restores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from waypost.indexer.cli import main as index_main
from waypost.regtest.node import SimNode
from waypost.resolve.bundle import verify_bundle
from waypost.resolve.pipeline import VERDICT_REORG_RESTORED
from waypost.resolve.store import ResolveReader
from waypost.tlog import note as note_mod
from waypost.tlog.leaf import VERDICT_ACCEPTED


def _index(sim: SimNode, db: Path) -> None:
    args = ["--rpc-url", sim.rpc_url, "--rpc-cookie", str(sim.cookie_path), "--db", str(db), "--network", "regtest"]
    assert index_main([*args, "--once"]) == 0


def test_simulator_bundles_verify_and_reorg_restores(tmp_path: Path) -> None:
    sim = SimNode.start(tmp_path / "node", seed=5)
    db = tmp_path / "index.db"
    try:
        sim.register_name(b"id/simone", b'{"email":"simone@example.org"}')
        sim.update_name(b"id/simone", b'{"email":"simone@example.net"}')  # mined in the tip block
        update_block = str(sim.call("getbestblockhash"))
        _index(sim, db)
        vkey = note_mod.parse_vkey((tmp_path / "index.db.logkey.vkey").read_text().strip())
        r = ResolveReader(sqlite3.connect(db, isolation_level=None), "regtest")
        b, leaf = r.bundle("simone@id.bit")
        res = verify_bundle(b, address="simone@id.bit", log_verifiers=[vkey], network="regtest")
        assert res.value == b'{"email":"simone@example.net"}' and leaf is not None and leaf.verdict == VERDICT_ACCEPTED
        assert not verify_bundle(r.bundle("other@id.bit")[0], address="other@id.bit", log_verifiers=[vkey],
                                 network="regtest").present
        # disconnect the block with the update: the log appends a leaf restoring the registration
        sim.call("invalidateblock", update_block)
        _index(sim, db)
        b2, leaf2 = r.bundle("simone@id.bit", since_size=res.checkpoint.checkpoint.size)
        assert leaf2 is not None and leaf2.verdict == VERDICT_REORG_RESTORED
        res2 = verify_bundle(b2, address="simone@id.bit", log_verifiers=[vkey], network="regtest",
                             previous=res.checkpoint)
        assert res2.value == b'{"email":"simone@example.org"}'
        assert res2.checkpoint.checkpoint.size > res.checkpoint.checkpoint.size
    finally:
        sim.stop()
