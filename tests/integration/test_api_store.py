"""The API over the real SQLite store (indexed from the recorded regtest chain), and ``waypost serve`` under gunicorn."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.replaynode import index_recorded_chain
from tests.vectors import REGTEST, load_json
from waypost.api.cli import build_app
from waypost.cli import main as waypost_main
from waypost.registry.errors import ErrorCode, StoreError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    db = tmp_path_factory.mktemp("api") / "index.db"
    index_recorded_chain(db)
    yield db


def test_build_app_reads_network_and_serves_lookups(indexed_db: Path) -> None:
    client = build_app(str(indexed_db)).test_client()
    status = client.get("/v1/status").get_json()
    assert status["network"] == "regtest" and status["tip_height"] == 162
    assert status["tip_hash"] == "65713e5954508a2b72b83694d8b17b0b8f764bd456439062521940bd64b0fc83"
    assert status["state_root"] and len(status["state_root"]) == 64
    body = client.get("/v1/names/d/b%C3%BCcher").get_json()
    assert body["name"] == "d/bücher" and body["height"] > 0
    binary = client.get("/v1/names/642f00ff80fe01?name_encoding=hex").get_json()
    assert binary["name"] is None and binary["name_hex"] == "642f00ff80fe01"
    expiring = client.get("/v1/names/d/expiring/history").get_json()
    assert [h["height"] for h in expiring["history"]] == [124, 155]
    assert [h["expired"] for h in expiring["history"]] == [True, False]
    assert client.get("/v1/names/d/abandoned").status_code == 404


def test_listing_exports_every_recorded_name(indexed_db: Path) -> None:
    client = build_app(str(indexed_db)).test_client()
    seen: list[str] = []
    url: str | None = "/v1/names?limit=3"
    while url:
        body = client.get(url).get_json()
        seen += [n["name_hex"] for n in body["names"]]
        url = body["next"]
    recorded = {e["name_hex"] for e in load_json(REGTEST / "names" / "index.json")} - {b"d/abandoned".hex()}
    assert set(seen) == recorded and seen == sorted(seen, key=bytes.fromhex)


def test_missing_or_foreign_database_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(StoreError) as err:
        build_app(str(tmp_path / "nope.db"))
    assert err.value.code == ErrorCode.STORE_IO
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as err:
        build_app(str(junk))
    assert err.value.code in (ErrorCode.STORE_CORRUPT, ErrorCode.STORE_IO)
    # through the router: one line, no traceback
    assert waypost_main(["serve", "--db", str(tmp_path / "nope.db")]) == 1
    out = capsys.readouterr().err
    assert "store.io" in out and "Traceback" not in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_get(port: int, path: str, deadline_s: float) -> tuple[int, dict[str, object]]:
    end = time.monotonic() + deadline_s
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)  # polling for the server socket, bounded by the deadline


@pytest.mark.parametrize("mode", ["gunicorn", "wsgi-env"])
def test_waypost_serve_under_gunicorn(indexed_db: Path, mode: str) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if mode == "gunicorn":
        cmd = [sys.executable, "-m", "waypost.cli", "serve", "--db", str(indexed_db), "--port", str(port), "--workers", "2"]
    else:
        env["WAYPOST_DB"] = str(indexed_db)
        cmd = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "waypost.api.wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        status, body = _wait_get(port, "/v1/names/id/alice", 30)
        assert status == 200 and body["name"] == "id/alice"
        status, body = _wait_get(port, "/v1/names/d/%FF", 5)  # raw non-UTF-8 bytes through a real server
        assert status == 400 and body["code"] == "api.bad-utf8"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    # no access log: the looked-up name never reaches the server's output
    assert b"id/alice" not in err
