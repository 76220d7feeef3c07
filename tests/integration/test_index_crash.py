"""Crash safety: SIGKILL ``waypost index --once`` at random moments during catch-up, resume,
and compare the whole index with a clean one (one SQLite transaction per batch)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.replaynode import ChainGenerator, ReplayNode
from waypost.indexer.follow import FollowOptions, sync_once
from waypost.indexer.rpc import RpcClient
from waypost.indexer.store import open_reader, open_store, state_digest

_ROOT = Path(__file__).resolve().parents[2]
KILLS = 20


def _tip(db: Path) -> int:
    if not db.exists():
        return -1
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT max(height) FROM blocks").fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:
        return -1
    return -1 if row is None or row[0] is None else int(row[0])


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _wait_gone(pids: list[int], deadline: float) -> None:
    """The indexer's reader process ends by itself when the indexer is killed (stdin EOF)."""
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and "Z" not in _proc_state(pid):
            assert time.monotonic() < deadline, f"reader process {pid} outlived the killed indexer"
            threading.Event().wait(0.01)


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def _started_node(*, seed: int, n_blocks: int) -> ReplayNode:
    node = ReplayNode("regtest")
    gen = ChainGenerator(seed=seed, txs_per_block=8, name_op_ratio=0.4)
    node.set_active([node.add_block(b.raw, b.height, n_tx=b.n_tx) for b in gen.blocks(n_blocks)])
    node.start()
    return node


def _spawn(node: ReplayNode, db: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from waypost.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["index", "--rpc-url", node.url, "--db", str(db), "--network", "regtest", "--once", "--batch-blocks", "20"]
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_during_catch_up_resumes_to_clean_index(tmp_path: Path) -> None:
    rng = random.Random(20261126)
    n_blocks = 2500
    node = _started_node(seed=21, n_blocks=n_blocks)
    try:
        clean = open_store(tmp_path / "clean.db", "regtest")
        sync_once(clean, lambda: RpcClient(node.url), network="regtest", options=FollowOptions(batch_blocks=500))
        want = state_digest(clean)
        clean.close()

        db = tmp_path / "crash.db"
        kills = 0
        readers_killed_with_parent = 0
        deadline = time.monotonic() + 90
        while kills < KILLS and _tip(db) < n_blocks - 1:
            assert time.monotonic() < deadline, f"only {kills} kills landed"
            start_tip = _tip(db)
            proc = _spawn(node, db)
            # wait (bounded) for the process to commit something, then kill it at a random moment
            while _tip(db) == start_tip and proc.poll() is None:
                assert time.monotonic() < deadline
                threading.Event().wait(0.005)
            threading.Event().wait(rng.uniform(0.0, 0.08))
            if proc.poll() is None:
                readers = _children(proc.pid)  # the reader process of a long catch-up
                proc.send_signal(signal.SIGKILL)
                kills += 1
                _wait_gone(readers, time.monotonic() + 10)
                readers_killed_with_parent += bool(readers)
            proc.wait(timeout=30)
            conn = sqlite3.connect(db)
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
        assert kills >= KILLS, f"the chain was indexed after {kills} kills; make it longer"
        assert readers_killed_with_parent >= 1  # some kills hit a catch-up running its reader process
        proc = _spawn(node, db)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        reader = open_reader(db)
        try:
            assert reader.fetch_status().tip_height == n_blocks - 1
            assert state_digest(reader) == want
        finally:
            reader.close()
    finally:
        node.stop()


def test_sigterm_stops_cleanly_after_the_current_batch(tmp_path: Path) -> None:
    n_blocks = 1500
    node = _started_node(seed=22, n_blocks=n_blocks)
    try:
        db = tmp_path / "term.db"
        proc = _spawn(node, db)
        deadline = time.monotonic() + 60
        while _tip(db) < 0 and proc.poll() is None:
            assert time.monotonic() < deadline
            threading.Event().wait(0.005)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err
        tip = _tip(db)
        assert 0 <= tip < n_blocks - 1, "SIGTERM arrived too late to test anything"
        assert (tip + 1) % 20 == 0  # a batch boundary (--batch-blocks 20): nothing half-written
        reader = open_reader(db)
        try:
            assert reader.fetch_status().tip_height == tip
        finally:
            reader.close()
    finally:
        node.stop()
