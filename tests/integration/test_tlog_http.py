"""Log HTTP blueprint with the app's error handler; witness pull and push over 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from tests import merkle_reference as ref
from waypost.api.errors import register_error_handler
from waypost.cli import main as cli_main
from waypost.registry import merkle
from waypost.registry.model import Sha256, Txid
from waypost.tlog import note, smt, store, tiles, witness
from waypost.tlog.http import create_blueprint
from waypost.tlog.leaf import LogLeaf, NamecoinSource, address_key

ORIGIN = "waypost.test/log"
SIGNER = note.signer_from_seed(ORIGIN, b"\x05" * 32)
WIT = note.signer_from_seed("witness.test/w1", b"\x06" * 32, note.ALG_COSIGNATURE_V1)


def _leaf(i: int) -> LogLeaf:
    return LogLeaf(
        address=f"user{i % 40}@example.bit",
        epoch=0,
        seq=i // 40,
        record_hash=Sha256(hashlib.sha256(b"%d" % i).digest()),
        source=NamecoinSource(height=i, txid=Txid(hashlib.sha256(b"t%d" % i).digest()), vout=0),
    )


class _Log:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        store.ensure_schema(self.conn)
        self.lock = threading.Lock()
        self.n = 0

    def grow(self, k: int, now_s: int) -> note.Checkpoint:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            store.append_leaves(self.conn, [_leaf(i) for i in range(self.n, self.n + k)])
            cp = store.sign_checkpoint_if_due(self.conn, SIGNER, ORIGIN, now_s, 600)
            self.conn.execute("COMMIT")
            self.n += k
            return cp

    def accept(self, lines: str) -> str:
        with self.lock:
            return store.accept_cosignatures(self.conn, lines, [WIT.verifier])


@pytest.fixture
def log(tmp_path: Path) -> _Log:
    return _Log(tmp_path / "log.db")


def _app(log: _Log) -> Flask:
    app = Flask("t")
    reader = store.LogReader(log.conn)
    app.register_blueprint(create_blueprint(lambda: reader, log.accept))
    register_error_handler(app)
    return app


def test_endpoints(log: _Log) -> None:
    cp = log.grow(300, 1000)
    client = _app(log).test_client()
    r = client.get("/v1/log/checkpoint")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    signed = note.open_checkpoint(r.get_data(as_text=True), [SIGNER.verifier], origin=ORIGIN)
    assert signed.checkpoint == cp and client.get("/checkpoint").get_data(as_text=True) == r.get_data(as_text=True)
    data = [_leaf(i).encode() for i in range(300)]
    r = client.get("/v1/log/proof/inclusion?index=17&size=300")
    proof = [base64.b64decode(h) for h in r.get_json()["proof"]]
    merkle.verify_inclusion(merkle.leaf_hash(data[17]), 17, 300, proof, cp.root_hash)
    r = client.get("/v1/log/proof/consistency?from=100&to=300")
    cproof = [base64.b64decode(h) for h in r.get_json()["proof"]]
    merkle.verify_consistency(100, 300, cproof, ref.mth(data[:100]), cp.root_hash)
    r = client.get("/v1/log/leaves?start=290&end=400")
    assert [base64.b64decode(x) for x in r.get_json()["leaves"]] == data[290:]
    key = address_key("user7@example.bit")
    body = client.get(f"/v1/log/map/proof?key={key.hex()}").get_json()
    assert base64.b64decode(body["map_root"]) == cp.map_root and body["leaf_index"] == 287
    smt.verify_map_proof(
        cp.map_root or b"", key, smt.map_value_hash(287, merkle.leaf_hash(data[287])), smt.parse_map_proof(base64.b64decode(body["proof"]))
    )
    full = client.get("/tile/0/000")
    assert full.status_code == 200 and "immutable" in full.headers["Cache-Control"]
    assert full.data == b"".join(merkle.leaf_hash(d) for d in data[:256])
    part = client.get("/tile/entries/001.p/44")
    assert tiles.parse_entry_bundle(part.data) == data[256:300] and "immutable" not in part.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/v1/log/proof/inclusion?index=5", 400),
        ("/v1/log/proof/inclusion?index=x&size=3", 400),
        ("/v1/log/proof/inclusion?index=5&size=5", 400),
        ("/v1/log/proof/inclusion?index=5&size=99999999999999999999999", 400),
        ("/v1/log/proof/inclusion?index=1&size=11", 404),
        ("/v1/log/proof/consistency?from=0&to=3", 400),
        ("/v1/log/proof/consistency?from=4&to=3", 400),
        ("/v1/log/leaves?start=10", 404),
        ("/v1/log/map/proof?key=zz", 400),
        ("/tile/0/1", 400),
        ("/tile/0/000", 404),
        ("/tile/0/000.p/11", 404),
        ("/tile/0/" + "x999/" * 9 + "000", 404),
        ("/tile/entries/" + "x999/" * 9 + "000", 404),
        ("/tile/\u00b2/000", 400),
    ],
)
def test_bad_requests_are_problems(log: _Log, url: str, status: int) -> None:
    log.grow(10, 1000)
    r = _app(log).test_client().get(url)
    assert r.status_code == status
    assert r.mimetype == "application/problem+json"


def test_no_checkpoint_yet_is_404(log: _Log) -> None:
    assert _app(log).test_client().get("/v1/log/checkpoint").status_code == 404


def test_cosignature_endpoint(log: _Log) -> None:
    cp = log.grow(3, 1000)
    client = _app(log).test_client()
    stranger = note.signer_from_seed("w.test/stranger", b"\x09" * 32, note.ALG_COSIGNATURE_V1)
    r = client.post("/v1/log/witness/cosignature", data=note.cosign(cp, stranger, 5))
    assert r.status_code == 422 and r.get_json()["code"] == "witness.quorum"
    line = note.cosign(cp, WIT, 5)
    r = client.post("/v1/log/witness/cosignature", data=line)
    assert r.status_code == 200
    note.verify_cosignatures(r.get_data(as_text=True), [WIT.verifier], 1)
    again = client.post("/v1/log/witness/cosignature", data=line)  # idempotent
    assert again.get_data(as_text=True) == r.get_data(as_text=True)
    assert client.get("/v1/log/checkpoint").get_data(as_text=True).count(line.strip()) == 1


@pytest.fixture
def served(log: _Log) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _app(log), threaded=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    t.join(5)


def test_witness_cli_pull_cosigns_and_refuses_fork(log: _Log, served: str, tmp_path: Path) -> None:
    key_file, state = tmp_path / "w.key", tmp_path / "w.json"
    key_file.write_text(note.encode_signer_key(WIT) + "\n")
    argv = ["witness", "--log-vkey", note.encode_vkey(SIGNER.verifier), "--key-file", str(key_file), "--state", str(state), "--log-url", served, "--once"]
    log.grow(5, 1000)
    assert cli_main(argv) == 0
    log.grow(7, 1001)
    assert cli_main(argv) == 0
    latest = requests.get(served + "/v1/log/checkpoint", timeout=5).text
    note.verify_cosignatures(latest, [WIT.verifier], 1)
    assert note.open_checkpoint(latest, [SIGNER.verifier]).checkpoint.size == 12
    # the log forks (rewrites history under the same key): the witness refuses
    log.conn.execute("BEGIN IMMEDIATE")
    log.conn.execute("DELETE FROM checkpoints")
    forged = note.Checkpoint(origin=ORIGIN, size=13, root_hash=b"\x01" * 32)
    log.conn.execute("INSERT INTO checkpoints VALUES (13, 2000, ?)", (note.sign_note(note.encode_checkpoint(forged), SIGNER),))
    log.conn.execute("COMMIT")
    log.grow(1, 2001)  # real size 13 now, so a consistency proof 12 -> 13 exists but not for the forged root
    assert cli_main(argv) == 1
    assert witness.load_state(state)[ORIGIN].size == 12


def test_witness_push_server(tmp_path: Path) -> None:
    wit = witness.Witness(WIT, {ORIGIN: [SIGNER.verifier]}, tmp_path / "s.json")
    server = witness.serve(wit, "127.0.0.1", 0, clock=lambda: 1234)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        h = [merkle.leaf_hash(bytes([i])) for i in range(8)]
        cp = note.Checkpoint(origin=ORIGIN, size=8, root_hash=merkle.root(h))
        signed = note.sign_note(note.encode_checkpoint(cp), SIGNER)
        status, body = witness.submit_checkpoint(url, 0, (), signed)
        assert status == 200
        sig = note.open_note(note.add_signature_lines(signed, body), [WIT.verifier]).sigs[0]
        assert note.cosignature_time_s(sig) == 1234
        assert witness.submit_checkpoint(url, 3, merkle.consistency_proof(h, 3, 8), signed) == (409, "8\n")
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)
