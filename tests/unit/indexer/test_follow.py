"""Follow loop against the replay node: reorgs of any depth and node faults (restart, -28,
timeouts, garbage) end in a retry or a clear error, never a corrupt index."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.replaynode import ChainGenerator, ReplayNode
from waypost.indexer.cli import main as index_main
from waypost.indexer.follow import FollowOptions, follow_forever, sync_once
from waypost.indexer.rpc import RpcClient, RpcConfig
from waypost.indexer.store import BatchResult, Store, open_store, state_digest
from waypost.registry.errors import ChainError, ErrorCode, ParseError, UpstreamError

_OPTS = FollowOptions(batch_blocks=40, fetch_batch=8, in_flight=2)


def _factory(node: ReplayNode, *, timeout_s: float = 5.0, retries: int = 3) -> Callable[[], RpcClient]:
    return lambda: RpcClient(node.url, timeout_s=timeout_s, max_retries=retries, backoff_s=0.01)


def _add(node: ReplayNode, gen: ChainGenerator, n: int) -> list[str]:
    return [node.add_block(b.raw, b.height, n_tx=b.n_tx) for b in gen.blocks(n)]


@pytest.fixture
def node() -> Iterator[ReplayNode]:
    n = ReplayNode("regtest")
    yield n
    n.stop()


def _clean_digest(tmp_path: Path, node: ReplayNode, name: str) -> bytes:
    store = open_store(tmp_path / name, "regtest")
    sync_once(store, _factory(node), network="regtest", options=_OPTS)
    digest = state_digest(store)
    store.close()
    return digest


def _wait_until(cond: Callable[[], bool], deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while not cond():
        assert time.monotonic() < end, "condition not reached before the deadline"
        threading.Event().wait(0.02)


@pytest.mark.parametrize("via_reader", [False, True], ids=["in-process", "reader-process"])
def test_deep_reorg_walks_back_to_fork(node: ReplayNode, tmp_path: Path, via_reader: bool) -> None:
    gen = ChainGenerator(seed=7, txs_per_block=5, name_op_ratio=0.5)
    common = _add(node, gen, 50)
    a = _add(node, gen.fork(1), 150)  # deeper than one fork-search step (64)
    b = _add(node, gen.fork(2), 160)
    node.set_active(common + a)
    node.start()
    # via the reader process, the disconnects ride in the first batch of blocks it fetched
    if via_reader:
        factory = _config_factory(node)
        opts = FollowOptions(batch_blocks=40, fetch_batch=8, in_flight=2, reader_min_blocks=1, reader_chunk=16)
    else:
        factory, opts = _factory(node), _OPTS
    store = open_store(tmp_path / "i.db", "regtest")
    sync_once(store, factory, network="regtest", options=opts)
    node.set_active(common + b)
    result = sync_once(store, factory, network="regtest", options=opts)
    assert (result.disconnected, result.connected, result.tip_height) == (150, 160, 209)
    assert state_digest(store) == _clean_digest(tmp_path, node, "clean.db")
    # and back to a shorter branch: rolling back further than we connect
    node.set_active(common + a[:10])
    result = sync_once(store, factory, network="regtest", options=opts)
    assert (result.disconnected, result.tip_height) == (160, 59)
    assert state_digest(store) == _clean_digest(tmp_path, node, "clean2.db")
    store.close()


def test_warmup_is_retried(node: ReplayNode, tmp_path: Path) -> None:
    node.set_active(_add(node, ChainGenerator(seed=1, txs_per_block=3), 30))
    node.start()
    node.warmup_calls = 2
    store = open_store(tmp_path / "i.db", "regtest")
    assert sync_once(store, _factory(node), network="regtest", options=_OPTS).tip_height == 29
    assert node.warmup_calls == 0


def test_garbage_answers_give_clear_error_and_no_partial_batch(node: ReplayNode, tmp_path: Path) -> None:
    node.set_active(_add(node, ChainGenerator(seed=2, txs_per_block=4, name_op_ratio=0.4), 100))
    node.start()
    store = open_store(tmp_path / "i.db", "regtest")
    node.garbage_calls = 1
    with pytest.raises(UpstreamError) as exc:
        sync_once(store, _factory(node), network="regtest", options=_OPTS)
    assert exc.value.code == ErrorCode.RPC_BAD_ANSWER
    assert store.fetch_tip() is None
    node.garbage_block_calls = 1  # a truncated block in the first fetch batch
    with pytest.raises(ParseError):
        sync_once(store, _factory(node), network="regtest", options=_OPTS)
    assert store.fetch_tip() is None
    assert sync_once(store, _factory(node), network="regtest", options=_OPTS).tip_height == 99
    assert state_digest(store) == _clean_digest(tmp_path, node, "clean.db")


def test_timeout_then_recovery(node: ReplayNode, tmp_path: Path) -> None:
    node.set_active(_add(node, ChainGenerator(seed=3, txs_per_block=2), 20))
    node.start()
    store = open_store(tmp_path / "i.db", "regtest")
    node.delay_s = 0.3
    with pytest.raises(UpstreamError) as exc:
        sync_once(store, _factory(node, timeout_s=0.05, retries=1), network="regtest", options=_OPTS)
    assert exc.value.code == ErrorCode.RPC_TIMEOUT
    node.delay_s = 0.0
    assert sync_once(store, _factory(node), network="regtest", options=_OPTS).tip_height == 19


def test_node_restart_mid_sync(node: ReplayNode, tmp_path: Path) -> None:
    node.set_active(_add(node, ChainGenerator(seed=4, txs_per_block=4, name_op_ratio=0.4), 200))
    node.start()
    store = open_store(tmp_path / "i.db", "regtest")
    batches: list[int] = []

    def stop_node_once(conn: sqlite3.Connection, batch: BatchResult) -> None:
        batches.append(batch.tip_height)
        if len(batches) == 1:
            node.stop()

    with pytest.raises(UpstreamError) as exc:
        sync_once(store, _factory(node, retries=2), network="regtest", options=_OPTS, hooks=[stop_node_once])
    assert exc.value.code in (ErrorCode.RPC_CONNECT, ErrorCode.RPC_TIMEOUT)
    tip = store.fetch_tip()
    assert tip is not None and tip[0] == batches[0]  # the committed batch, nothing half-written
    node.start()  # same port
    assert sync_once(store, _factory(node), network="regtest", options=_OPTS).tip_height == 199
    assert state_digest(store) == _clean_digest(tmp_path, node, "clean.db")


def test_follow_forever_reconnects_and_follows(node: ReplayNode, tmp_path: Path) -> None:
    gen = ChainGenerator(seed=5, txs_per_block=3, name_op_ratio=0.3)
    hashes = _add(node, gen, 50)
    node.set_active(hashes)
    node.start()
    store: Store = open_store(tmp_path / "i.db", "regtest", create=True)
    store.conn.close()
    db = tmp_path / "i.db"
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        s = open_store(db, "regtest")
        try:
            follow_forever(
                s,
                _factory(node, retries=1),
                network="regtest",
                options=FollowOptions(batch_blocks=40, poll_interval_s=0.05, max_backoff_s=0.2),
                stop=stop,
            )
        except BaseException as exc:  # surfaced to the test thread
            errors.append(exc)
        finally:
            s.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    reader = open_store(db, "regtest")
    try:
        _wait_until(lambda: (reader.fetch_tip() or (-1,))[0] == 49)
        node.stop()
        hashes += _add(node, gen, 30)
        node.set_active(hashes)
        node.start()
        _wait_until(lambda: (reader.fetch_tip() or (-1,))[0] == 79)
    finally:
        stop.set()
        thread.join(timeout=10)
        reader.close()
    assert not thread.is_alive() and not errors


def test_cli_network_mismatch(node: ReplayNode, tmp_path: Path) -> None:
    node.chain_name = "main"
    node.set_active(_add(node, ChainGenerator(seed=6), 3))
    node.start()
    with pytest.raises(ChainError) as exc:
        index_main(["--rpc-url", node.url, "--db", str(tmp_path / "i.db"), "--network", "regtest", "--once"])
    assert exc.value.code == ErrorCode.CHAIN_NETWORK_MISMATCH


def _config_factory(node: ReplayNode) -> Callable[[], RpcClient]:
    return RpcConfig(url=node.url, timeout_s=5.0, max_retries=3, backoff_s=0.01).client


def _assert_reader_sync_is_clean(node: ReplayNode, tmp_path: Path, seed: int, n_blocks: int) -> None:
    """Index ``n_blocks`` generated blocks with the reader process path; equal to a clean index."""
    gen = ChainGenerator(seed=seed, txs_per_block=5, name_op_ratio=0.5)
    node.set_active(_add(node, gen, n_blocks))
    node.start()
    clean = _clean_digest(tmp_path, node, "clean.db")
    store = open_store(tmp_path / "w.db", "regtest")
    opts = FollowOptions(batch_blocks=30, fetch_batch=8, in_flight=2, reader_min_blocks=1, reader_chunk=16)
    res = sync_once(store, _config_factory(node), network="regtest", options=opts)
    assert (res.tip_height, res.connected) == (n_blocks - 1, n_blocks)
    assert state_digest(store) == clean
    store.close()


def test_reader_process_gives_the_same_index(node: ReplayNode, tmp_path: Path) -> None:
    # Blocks fetched by the reader process index exactly like in-process ones.
    _assert_reader_sync_is_clean(node, tmp_path, seed=11, n_blocks=120)


def test_reader_process_error_is_the_in_process_error(node: ReplayNode, tmp_path: Path) -> None:
    # A bad block from the reader process fails here as in process: same error, earlier batches kept.
    gen = ChainGenerator(seed=12, txs_per_block=4, name_op_ratio=0.3)
    blocks = list(gen.blocks(60))
    hashes = [node.add_block(b.raw, b.height, n_tx=b.n_tx) for b in blocks[:50]]
    hashes.append(node.add_block(blocks[50].raw[:-3], 50))  # truncated block at height 50
    node.set_active(hashes)
    node.start()
    store = open_store(tmp_path / "w.db", "regtest")
    opts = FollowOptions(batch_blocks=25, fetch_batch=8, in_flight=2, reader_min_blocks=1, reader_chunk=16)
    with pytest.raises(ParseError):
        sync_once(store, _config_factory(node), network="regtest", options=opts)
    tip = store.fetch_tip()
    assert tip is not None and tip[0] == 49  # the two whole batches before the bad block committed
    store.close()


def test_reader_process_dying_midway_is_continued_here(node: ReplayNode, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The reader's output ends early (it died): the rest is fetched here, the index is whole.
    from waypost.indexer import follow, reader

    real = reader.read_frames

    def first_frame_only(stream):  # type: ignore[no-untyped-def]
        for frame in real(stream):
            yield frame
            return

    monkeypatch.setattr(follow.reader, "read_frames", first_frame_only)
    _assert_reader_sync_is_clean(node, tmp_path, seed=13, n_blocks=100)


def test_reader_job_carries_every_rpc_setting() -> None:
    import json

    from waypost.indexer import reader

    for config in (
        RpcConfig(url="http://u:p@127.0.0.1:1/", timeout_s=3.5, connect_timeout_s=1.0, max_retries=2, backoff_s=0.1,
                  wallet="w"),
        RpcConfig(url="https://127.0.0.1:8336/", cookie_path=Path("/var/lib/namecoin/.cookie")),
    ):
        job = json.loads(reader.job_line(config, 5, 9, fetch_batch=4, in_flight=2, chunk=8))
        assert reader.config_of(job) == config
        assert (job["start"], job["stop"], job["fetch_batch"], job["in_flight"], job["chunk"]) == (5, 9, 4, 2, 8)


def test_no_reader_process_possible_fetches_here(node: ReplayNode, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from waypost.indexer import follow

    def no_interpreter(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("no interpreter")

    monkeypatch.setattr(follow.subprocess, "Popen", no_interpreter)
    _assert_reader_sync_is_clean(node, tmp_path, seed=15, n_blocks=50)


def test_reader_gets_the_credentials_on_stdin_not_the_command_line(node: ReplayNode, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from waypost.indexer import follow

    seen: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(list(args))
        return real_popen(args, **kwargs)

    monkeypatch.setattr(follow.subprocess, "Popen", spy)
    gen = ChainGenerator(seed=14, txs_per_block=3, name_op_ratio=0.3)
    node.set_active(_add(node, gen, 40))
    node.start()
    store = open_store(tmp_path / "w.db", "regtest")
    opts = FollowOptions(batch_blocks=30, fetch_batch=8, in_flight=2, reader_min_blocks=1)
    assert sync_once(store, _config_factory(node), network="regtest", options=opts).tip_height == 39
    store.close()
    assert len(seen) == 1 and seen[0][1:] == ["-m", "waypost.indexer.reader"]
    assert "pass" not in " ".join(seen[0]) and node.url not in " ".join(seen[0])


def test_idle_follower_re_signs_the_checkpoint_when_nothing_changes(node: ReplayNode, tmp_path: Path) -> None:
    """A frozen log must be visible: with no new block, the log still signs a fresh
    checkpoint (a later ``waypost-time``) once ``every_s`` has passed."""
    from waypost.resolve.hook import ResolveHook
    from waypost.tlog import note as note_mod
    from waypost.tlog.store import LogReader

    gen = ChainGenerator(seed=9, txs_per_block=2, name_op_ratio=0.3)
    node.set_active(_add(node, gen, 20))
    node.start()
    clock = {"now": 1_000.0}
    signer = note_mod.signer_from_seed("test.log/idle", b"\x07" * 32)
    hook = ResolveHook(signer=signer, origin="test.log/idle", clock=lambda: clock["now"], every_s=60)
    db = tmp_path / "i.db"
    stop = threading.Event()
    ticks = {"n": 0}

    def wait_for_block(timeout_s: float) -> bool:
        # first wake-up: 61 s later, no block; second: stop the follower
        ticks["n"] += 1
        if ticks["n"] == 1:
            clock["now"] += 61
        else:
            stop.set()
        return True

    store = open_store(db, "regtest")
    try:
        follow_forever(store, _factory(node), network="regtest", hooks=[hook],
                       options=FollowOptions(batch_blocks=40, poll_interval_s=0.05), stop=stop,
                       wait_for_block=wait_for_block)
        note = LogReader(store.conn).latest_checkpoint()
    finally:
        store.close()
    assert note is not None
    cp = note_mod.open_checkpoint(note, [signer.verifier]).checkpoint
    # signed at 1000 with the batch, re-signed at 1061 when idle (then stop before 1122's round)
    assert cp.time_s == 1_061 and cp.namecoin_height == 19
