"""The client's header chain over the recorded regtest chain served by the real app (sync, store, reorg, forged blocks)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from tests.replaynode import index_recorded_chain
from tests.unit.client.test_headers import mine
from waypost.api.cli import build_app
from waypost.client import header_sync
from waypost.client import headers as hc
from waypost.client.lookup import Client
from waypost.client.state import ClientState
from waypost.indexer import wire
from waypost.indexer.params import Network
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.resolve.bundle import ProofBundle, bundle_from_json, bundle_to_json
from waypost.resolve.store import ResolveReader
from waypost.tlog import note as note_mod

Rewrite = Callable[[str, str, bytes], bytes]


@dataclass
class Served:
    db: Path
    vkey: note_mod.Verifier
    url: str
    tip: int
    proxy: Proxy


class Proxy:
    """Forwards to the real app; optionally rewrites a body; counts /v1/headers requests."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.rewrite: Rewrite | None = None
        self.header_requests = 0

    def __call__(self, environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        path, qs = str(environ["PATH_INFO"]), str(environ.get("QUERY_STRING", ""))
        self.header_requests += path == "/v1/headers"
        resp = self.client.get(path + ("?" + qs if qs else ""), headers={"Accept": str(environ.get("HTTP_ACCEPT", "*/*"))})
        body = resp.data
        if self.rewrite is not None and resp.status_code == 200:
            body = self.rewrite(path, qs, body)
        start_response(f"{resp.status_code} X", [("Content-Type", resp.content_type), ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("headers") / "index.db"
    index_recorded_chain(db)
    vkey = note_mod.parse_vkey((db.parent / "index.db.logkey.vkey").read_text().strip())
    proxy = Proxy(build_app(str(db)))
    server = make_server("127.0.0.1", 0, proxy, threaded=False)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    tip = ResolveReader(sqlite3.connect(db), "regtest").names.fetch_status().tip_height
    try:
        yield Served(db=db, vkey=vkey, url=f"http://127.0.0.1:{server.server_port}", tip=tip, proxy=proxy)
    finally:
        server.shutdown()
        t.join(5)


@pytest.fixture()
def world(served: Served) -> Iterator[Served]:
    served.proxy.rewrite = None
    served.proxy.header_requests = 0
    yield served
    served.proxy.rewrite = None


def _client(w: Served, state: Path, **kw: object) -> Client:
    return Client([w.url], state=ClientState.load(state), log_verifiers=[w.vkey], network="regtest", **kw)  # type: ignore[arg-type]


def _fork(w: Served, first: int, last: int) -> dict[int, bytes]:
    """Self-mined headers for heights ``first .. last`` on the real chain below ``first``."""
    rows = header_sync.fetch_headers(requests.Session(), w.url, first - 1, 1)
    prev = wire.parse_header(rows[0])[0].hash
    out = {}
    for h in range(first, last + 1):
        out[h] = mine(prev, time_s=1_700_000_000 + h, root=bytes([h % 256]) * 32)
        prev = wire.parse_header(out[h])[0].hash
    return out


def _serve_fork(fork: dict[int, bytes]) -> Rewrite:
    def rw(path: str, qs: str, body: bytes) -> bytes:
        if path != "/v1/headers":
            return body
        obj = json.loads(body)
        for row in obj["headers"]:
            if row["height"] in fork:
                row["header"] = fork[row["height"]].hex()
        return json.dumps(obj).encode()

    return rw


def test_sync_from_genesis_matches_the_servers_chain(world: Served) -> None:
    s = requests.Session()
    chain = header_sync.start_chain(s, world.url, Network.REGTEST, None)
    chain = header_sync.sync(s, world.url, chain, world.tip)
    assert hc.tip_height(chain) == world.tip > 100
    rows = header_sync.fetch_headers(s, world.url, 0, world.tip + 1)
    assert [hc.hash_at(chain, i) for i in range(world.tip + 1)] == [wire.parse_header(r)[0].hash for r in rows]
    # an operator anchor in the middle works the same from there
    mid = world.tip // 2
    anchored = header_sync.start_chain(s, world.url, Network.REGTEST, (mid, hc.hash_at(chain, mid)))  # type: ignore[arg-type]
    assert hc.tip_hash(header_sync.sync(s, world.url, anchored, world.tip)) == hc.tip_hash(chain)
    with pytest.raises(WaypostError) as ei:
        header_sync.start_chain(s, world.url, Network.REGTEST, (mid, hc.hash_at(chain, mid + 1)))  # type: ignore[arg-type]
    assert ei.value.code == ErrorCode.CLIENT_HEADER_ANCHOR


def test_client_holds_the_chain_and_syncs_incrementally(world: Served, tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    r = _client(world, state, header_chain=True).resolve("alice@id.bit")
    assert r.present
    stored = header_sync.load_chain(header_sync.chain_path(state, Network.REGTEST))
    assert stored is not None and hc.tip_height(stored) == r.namecoin_height
    assert world.proxy.header_requests >= 2
    world.proxy.header_requests = 0
    _client(world, state, header_chain=True).resolve("alice@id.bit")
    assert world.proxy.header_requests == 0  # the stored chain already reaches the checkpoint's tip


def test_server_headers_that_break_linkage_are_rejected(world: Served, tmp_path: Path) -> None:
    fork = _fork(world, world.tip - 2, world.tip - 2)  # one replaced header: its child no longer links
    world.proxy.rewrite = _serve_fork(fork)
    with pytest.raises(WaypostError) as ei:
        _client(world, tmp_path / "s.json", header_chain=True).resolve("alice@id.bit")
    assert ei.value.code == ErrorCode.CLIENT_HEADER_LINK and ei.value.fields["height"] == world.tip - 1


def test_reorg_walks_back_and_resyncs(world: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    s = requests.Session()
    fork = _fork(world, world.tip - 4, world.tip - 1)
    world.proxy.rewrite = _serve_fork(fork)
    genesis = header_sync.start_chain(s, world.url, Network.REGTEST, None)
    forked = header_sync.sync(s, world.url, genesis, world.tip - 1)
    assert hc.tip_hash(forked) == wire.parse_header(fork[world.tip - 1])[0].hash
    world.proxy.rewrite = None
    honest = header_sync.sync(s, world.url, genesis, world.tip)
    assert header_sync.sync(s, world.url, forked, world.tip) == honest
    monkeypatch.setattr(header_sync, "REORG_DEPTH", 2)
    with pytest.raises(WaypostError) as ei:
        header_sync.sync(s, world.url, forked, world.tip)
    assert ei.value.code == ErrorCode.CLIENT_HEADER_REORG and ei.value.fields["ours"]


def forged_block(b: ProofBundle) -> ProofBundle:
    """The bundle's name tx alone in a self-mined block at the same height (enough regtest work)."""
    assert b.spv is not None
    real, _ = wire.parse_header(b.spv.header)
    tx = wire.parse_tx(b.spv.tx)
    header = mine(real.prev_hash, time_s=real.time_s, root=tx.txid)
    return replace(b, spv=replace(b.spv, header=header, tx_index=0, branch=()))


def _edit_bundle(fn: Callable[[ProofBundle], ProofBundle]) -> Rewrite:
    def rw(path: str, qs: str, body: bytes) -> bytes:
        if not path.startswith("/v1/resolve/"):
            return body
        obj = json.loads(body)
        obj["bundle"] = bundle_to_json(fn(bundle_from_json(obj["bundle"])))
        return json.dumps(obj).encode()

    return rw


def test_self_mined_block_at_a_real_height_needs_the_chain(world: Served, tmp_path: Path) -> None:
    world.proxy.rewrite = _edit_bundle(forged_block)
    # without the header chain the forged block passes: its work meets the network's limit
    assert _client(world, tmp_path / "a.json").resolve("alice@id.bit").present
    with pytest.raises(WaypostError) as ei:
        _client(world, tmp_path / "b.json", header_chain=True).resolve("alice@id.bit")
    assert ei.value.code == ErrorCode.BUNDLE_HEADER_MISMATCH


def test_cli_holds_the_chain_by_default(world: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from waypost.cli import main

    key = str(world.db.parent / "index.db.logkey.vkey")
    base = ["resolve", "--server", world.url, "--network", "regtest", "--log-key", key]
    assert main([*base, "--state", str(tmp_path / "on.json"), "alice@id.bit"]) == 0
    assert header_sync.chain_path(tmp_path / "on.json", Network.REGTEST).is_file()
    assert main([*base, "--state", str(tmp_path / "off.json"), "--no-header-chain", "alice@id.bit"]) == 0
    assert not header_sync.chain_path(tmp_path / "off.json", Network.REGTEST).exists()
    world.proxy.rewrite = _edit_bundle(forged_block)
    assert main([*base, "--state", str(tmp_path / "on.json"), "alice@id.bit"]) == 1
    assert "bundle.header-mismatch" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ei:
        main([*base, "--state", str(tmp_path / "x.json"), "--header-anchor", "nope", "alice@id.bit"])
    assert ei.value.code == 2 and "HEIGHT:BLOCKHASH" in capsys.readouterr().err
