"""The cached resolve path (hook snapshots, proof caches) answers byte for byte as a full replay does."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app
from waypost.indexer.cli import main as index_main
from waypost.regtest.node import SimNode
from waypost.registry.keys import IdentityState
from waypost.resolve.pipeline import address_of_name
from waypost.resolve.snapshot import decode_snapshot, decode_state, encode_snapshot, encode_state, snapshot_of
from waypost.resolve.store import ResolveReader


def _addresses(r: ResolveReader) -> list[str]:
    out = ["nobody@id.bit", "www@nothing.bit"]
    for rec in r.names.fetch_names(limit=1000):
        a = address_of_name(rec.name)
        if a is not None:
            out.append(a if "@" in a else "www@" + a)
            if "@" not in a:
                out.append("nobody@" + a)
    return out


def _without_snapshots(db: Path, dest: Path) -> None:
    src = sqlite3.connect(db)
    dst = sqlite3.connect(dest)
    src.backup(dst)
    dst.execute("DROP TABLE resolve_snapshots")
    dst.commit()
    dst.close()
    src.close()
    key = db.with_name(db.name + ".logkey")
    dest.with_name(dest.name + ".logkey").write_bytes(key.read_bytes())


def _check_fast_equals_full(r: ResolveReader, addresses: list[str]) -> int:
    used = 0
    for a in addresses:
        fast = r.view(a)
        full = r.view(a, full=True)
        assert fast.state == full.state, a
        assert (fast.value, fast.expires_at_height, fast.tip_height) == (full.value, full.expires_at_height, full.tip_height)
        assert fast.verdicts[-1:] == full.verdicts[-1:], a
        assert fast.bundle == full.bundle
        if full.leaf is not None and full.state is not None:
            assert r.snapshot_for(a) is not None, f"{a}: the hook wrote no snapshot for the latest leaf"
            used += 1
    return used


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db: Path = tmp_path_factory.mktemp("resolve-snap") / "index.db"
    index_recorded_chain(db)
    return db


def test_http_answers_are_byte_identical_to_a_full_replay(indexed: Path, tmp_path: Path) -> None:
    slow_db = tmp_path / "slow.db"
    _without_snapshots(indexed, slow_db)
    fast, slow = build_app(str(indexed)).test_client(), build_app(str(slow_db)).test_client()
    r = ResolveReader(sqlite3.connect(indexed, isolation_level=None), "regtest")
    addresses = _addresses(r)
    assert len(addresses) >= 6
    for a in addresses:
        for path in (f"/v1/resolve/{a}", f"/v1/resolve/{a}?since=1", f"/v1/diagnose/{a}"):
            for accept in ("application/json", "application/cbor"):
                # twice on the fast side: the second answer comes from warm caches
                answers = [c.get(path, headers={"Accept": accept}) for c in (fast, fast, slow)]
                assert len({(x.status_code, x.data) for x in answers}) == 1, (path, accept)
    assert _check_fast_equals_full(r, addresses) >= 3


def test_snapshot_codec_round_trips_every_replayed_state(indexed: Path) -> None:
    r = ResolveReader(sqlite3.connect(indexed, isolation_level=None), "regtest")
    n = 0
    for rec in r.names.fetch_names(limit=1000):
        a = address_of_name(rec.name)
        if a is None:
            continue
        history = list(r.names.fetch_history(rec.name))
        for end in range(1, len(history) + 1):
            snap = snapshot_of(a, history[:end], expiration_depth=30)
            assert snap is not None
            assert decode_snapshot(encode_snapshot(snap)) == snap
            assert decode_state(encode_state(snap.state)) == snap.state
            n += 1
    assert n >= 5
    assert decode_state(encode_state(IdentityState(address="x@id.bit"))) == IdentityState(address="x@id.bit")


def test_snapshots_follow_reorgs(tmp_path: Path) -> None:
    sim = SimNode.start(tmp_path / "node", seed=7)
    db = tmp_path / "index.db"
    args = ["--rpc-url", sim.rpc_url, "--rpc-cookie", str(sim.cookie_path), "--db", str(db), "--network", "regtest", "--once"]
    try:
        sim.register_name(b"id/rhea", b'{"email":"rhea@example.org"}')
        sim.register_name(b"id/theo", b'{"email":"theo@example.org"}')
        assert index_main(args) == 0
        sim.update_name(b"id/rhea", b'{"email":"rhea@example.net"}')
        fork_point = str(sim.call("getbestblockhash"))
        sim.update_name(b"id/theo", b'{"xmpp":"theo@example.net"}')
        sim.register_name(b"id/ida", b'{"email":"ida@example.org"}')
        assert index_main(args) == 0
        r = ResolveReader(sqlite3.connect(db, isolation_level=None), "regtest")
        addresses = ["rhea@id.bit", "theo@id.bit", "ida@id.bit"]
        assert _check_fast_equals_full(r, addresses) == 3
        # disconnect everything after rhea's update: theo's update and ida vanish
        blocks = [str(sim.call("getblockhash", h)) for h in range(int(sim.call("getblockcount")) + 1)]
        sim.call("invalidateblock", blocks[blocks.index(fork_point) + 1])
        assert index_main(args) == 0
        assert r.view("theo@id.bit").value == b'{"email":"theo@example.org"}'
        assert r.view("ida@id.bit").value is None
        _check_fast_equals_full(r, addresses)
        # a longer branch reconnects (new blocks): the snapshots follow
        sim.update_name(b"id/theo", b'{"email":"theo@example.com"}')
        sim.call("generatetoaddress", 2, str(sim.call("getnewaddress")))
        assert index_main(args) == 0
        assert r.view("theo@id.bit").value == b'{"email":"theo@example.com"}'
        assert _check_fast_equals_full(r, addresses) == 2
    finally:
        sim.stop()
