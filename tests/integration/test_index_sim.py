"""``waypost index`` following the regtest simulator over HTTP JSON-RPC and ZMQ."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from waypost.indexer.cli import add_arguments, run
from waypost.indexer.store import open_reader
from waypost.registry.errors import StoreError

pytest.importorskip("waypost.regtest.node", reason="the regtest simulator is not in this build")
pytest.importorskip("zmq", reason="pyzmq is not installed")
from waypost.regtest.node import SimNode  # noqa: E402


def _wait_until(cond: Callable[[], bool], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        assert time.monotonic() < end, "condition not reached before the deadline"
        threading.Event().wait(0.02)


def _tip(db: Path) -> int:
    try:
        reader = open_reader(db)
    except StoreError:  # not created yet
        return -1
    try:
        return reader.fetch_status().tip_height
    finally:
        reader.close()


def test_follow_simulator_with_zmq(tmp_path: Path) -> None:
    sim = SimNode.start(tmp_path / "node", zmq_port=0, seed=3)
    db = tmp_path / "index.db"
    stop = threading.Event()
    errors: list[BaseException] = []
    try:
        sim.generate(5)
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        args = parser.parse_args(
            ["--rpc-url", sim.rpc_url, "--rpc-cookie", str(sim.cookie_path), "--db", str(db), "--zmq", str(sim.zmq_url)]
        )

        def target() -> None:
            try:
                run(args, stop=stop)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        _wait_until(lambda: _tip(db) == 5, 20)
        sim.register_name(b"d/zmq", b"hello")  # funding + name_new + 12 + firstupdate
        height = sim.chain.height
        # polling alone would take 30 s here: ZMQ must wake the follower
        _wait_until(lambda: _tip(db) == height, 10)
        reader = open_reader(db)
        try:
            rec = reader.fetch_name(b"d/zmq")
            assert rec is not None and rec.value == b"hello" and rec.height == height
        finally:
            reader.close()
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive() and not errors, errors
    finally:
        stop.set()
        sim.stop()
