"""Follow loop (shell): compare the node's chain with the stored tip, walk back, catch up.

Owns retries, progress and logging; consensus lives in ``state``, writes in ``store``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from waypost.indexer import reader
from waypost.indexer.rpc import ChainInfo, RpcClient, RpcConfig, fetch_blocks_pipelined
from waypost.indexer import state as st
from waypost.indexer.store import BatchHook, Store
from waypost.indexer.wire import hash_to_hex
from waypost.registry.errors import ChainError, ErrorCode, StoreError, UpstreamError
from waypost.registry.model import BlockHash

__all__ = [
    "NODE_CHAIN_BY_NETWORK",
    "FollowOptions",
    "SyncResult",
    "Progress",
    "network_of_chain",
    "check_network",
    "find_fork_height",
    "sync_once",
    "follow_forever",
]

_log = logging.getLogger(__name__)

# getblockchaininfo.chain per network (namecoin-core chainparams strChainName)
NODE_CHAIN_BY_NETWORK = {"mainnet": "main", "testnet": "test", "regtest": "regtest"}


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowOptions:
    """Tuning of the follower.

    ``batch_blocks``/``batch_bytes`` bound one SQLite transaction; ``fetch_batch`` blocks
    travel in one JSON-RPC batch, ``in_flight`` batches are requested at once.
    """

    batch_blocks: int = 2000  # bigger batches dirty fewer pages per block: commits cost less
    batch_bytes: int = 32 * 1024 * 1024
    fetch_batch: int = 32
    in_flight: int = 3
    # Catch-ups of at least ``reader_min_blocks`` blocks are fetched by a reader child
    # process (when the client factory is an ``RpcConfig.client``), which hands over
    # ``reader_chunk`` raw blocks at a time: the JSON-RPC fetching then runs beside parsing
    # and the SQLite writes, on another core. False: everything in this process.
    reader_process: bool = True
    reader_min_blocks: int = 2000
    reader_chunk: int = 64
    max_reorg_retries: int = 20
    poll_interval_s: float = 2.0
    max_backoff_s: float = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    """What one ``sync_once`` did."""

    tip_height: int
    tip_hash: BlockHash | None
    connected: int
    disconnected: int
    stopped: bool  # a stop was requested before the node's tip was reached


class ClientFactory(Protocol):
    def __call__(self) -> RpcClient: ...


class Progress:
    """Catch-up progress: a bar with blocks/s and ETA on a TTY, else periodic log lines."""

    def __init__(self, stream: TextIO | None = None, *, log_every_s: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.log_every_s = log_every_s
        self.start_s = time.monotonic()
        self.start_height = -1
        self.last_log_s = 0.0
        self.shown = False

    def begin(self, height: int, target: int) -> None:
        self.start_s = time.monotonic()
        self.start_height = height
        _log.info("catch_up start height=%d target=%d", height, target)

    def update(self, height: int, target: int) -> None:
        now = time.monotonic()
        done = height - self.start_height
        rate = done / max(now - self.start_s, 1e-6)
        left = max(target - height, 0)
        eta_s = int(left / rate) if rate > 0 else 0
        eta = f"{eta_s // 3600}:{eta_s // 60 % 60:02d}:{eta_s % 60:02d}"
        if self.tty:
            total = max(target - self.start_height, 1)
            width = 30
            fill = int(width * min(done / total, 1.0))
            self.stream.write(
                f"\r[{'#' * fill}{'.' * (width - fill)}] {height}/{target} {rate:8.1f} blk/s ETA {eta} "
            )
            self.stream.flush()
            self.shown = True
        elif now - self.last_log_s >= self.log_every_s or height >= target:
            self.last_log_s = now
            _log.info("catch_up height=%d target=%d blocks_per_s=%.1f eta=%s", height, target, rate, eta)

    def end(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def network_of_chain(chain: str) -> str | None:
    """Map ``getblockchaininfo.chain`` to our network name (None when unknown)."""
    for network, node_chain in NODE_CHAIN_BY_NETWORK.items():
        if node_chain == chain:
            return network
    return None


def check_network(info: ChainInfo, network: str) -> None:
    """Raise when the node runs another chain than ``network``.

    Raises:
        ChainError: ``chain.network-mismatch``.
    """
    if NODE_CHAIN_BY_NETWORK.get(network) != info.chain:
        raise ChainError(
            ErrorCode.CHAIN_NETWORK_MISMATCH,
            f"the node runs chain {info.chain!r}, but --network is {network}",
            expected=NODE_CHAIN_BY_NETWORK.get(network),
            got=info.chain,
        )


def find_fork_height(store: Store, client: RpcClient, node_height: int, *, step: int = 64) -> int:
    """Highest height at which the stored chain and the node's active chain agree (-1: none).

    Compares stored hashes with ``getblockhash`` answers, tip-first, ``step`` heights per
    JSON-RPC batch, so a reorg of any depth is found.
    """
    tip = store.fetch_tip()
    if tip is None:
        return -1
    height = min(tip[0], node_height)
    while height >= 0:
        low = max(0, height - step + 1)
        heights = list(range(height, low - 1, -1))
        node_hashes = client.fetch_block_hashes(heights)
        for h, node_hash in zip(heights, node_hashes, strict=True):
            if store.fetch_block_hash(h) == node_hash:
                return h
        height = low - 1
    return -1


def _reader_summaries(
    config: RpcConfig, heights: list[int], network: str, opts: FollowOptions
) -> Generator[st.BlockSummary, None, None]:
    """Summaries of ``heights`` (consecutive) in order, of blocks fetched by a reader process.

    When the reader fails (a node error, a bad block, it died) the blocks it did not
    deliver are fetched and parsed here, so the error raised is the in-process one.
    """
    delivered = 0
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "waypost.indexer.reader"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
    except OSError as exc:  # no interpreter to start (embedded Python): fetch here
        _log.warning("cannot start the reader process: %s", exc)
        yield from _local_summaries(config.client, heights, network, opts)
        return
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(
            reader.job_line(
                config,
                heights[0],
                heights[-1] + 1,
                fetch_batch=opts.fetch_batch,
                in_flight=opts.in_flight,
                chunk=opts.reader_chunk,
            )
        )
        child.stdin.flush()
        for message in reader.read_frames(child.stdout):
            if message[0] == "done":
                return
            if message[0] != "blocks":
                break
            for raw in message[1]:
                yield st.summarize_raw(raw, network)
                delivered += 1
    except (OSError, ValueError, TypeError) as exc:
        _log.warning("reader process unusable: %s", exc)
    finally:
        for stream in (child.stdin, child.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if child.poll() is None:
            child.terminate()
        child.wait()
    if delivered < len(heights):
        _log.warning("reader process stopped at height %d; continuing in this process", heights[delivered])
    yield from _local_summaries(config.client, heights[delivered:], network, opts)


def _summaries(
    client_factory: Callable[[], RpcClient], heights: list[int], network: str, opts: FollowOptions
) -> Generator[st.BlockSummary, None, None]:
    """Summaries of the blocks at ``heights``: by a reader process for long catch-ups, else here."""
    config = getattr(client_factory, "__self__", None)  # ``RpcConfig.client``: rebuildable elsewhere
    if opts.reader_process and heights and len(heights) >= opts.reader_min_blocks and isinstance(config, RpcConfig):
        yield from _reader_summaries(config, heights, network, opts)
        return
    yield from _local_summaries(client_factory, heights, network, opts)


def _local_summaries(
    client_factory: Callable[[], RpcClient], heights: list[int], network: str, opts: FollowOptions
) -> Generator[st.BlockSummary, None, None]:
    """Summaries of the blocks at ``heights``, fetched (prefetch threads) and parsed here."""
    if not heights:
        return
    raws = fetch_blocks_pipelined(client_factory, heights, batch_size=opts.fetch_batch, in_flight=opts.in_flight)
    try:
        for raw in raws:
            yield st.summarize_raw(raw, network)
    finally:
        raws.close()


def _batches(
    summaries: Iterator[st.BlockSummary], start_height: int, options: FollowOptions
) -> Iterator[list[tuple[st.BlockSummary, int]]]:
    batch: list[tuple[st.BlockSummary, int]] = []
    size = 0
    height = start_height
    for summary in summaries:
        batch.append((summary, height))
        size += summary.size
        height += 1
        if len(batch) >= options.batch_blocks or size >= options.batch_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def sync_once(
    store: Store,
    client_factory: Callable[[], RpcClient],
    *,
    network: str,
    hooks: Sequence[BatchHook] = (),
    options: FollowOptions | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    now_s: Callable[[], float] = time.time,
) -> SyncResult:
    """Bring the index to the node's current tip, handling any reorg.

    Steps (STYLE §1): read the node's tip; find the highest stored block still in the
    node's active chain; disconnect down to it with undo data; fetch the node's blocks
    above it in pipelined batches, parse them and connect them, one SQLite transaction
    per batch (the first batch also holds the disconnects, so readers never see the
    rolled-back tip). Repeats until the stored tip is the node's best block.

    Args:
        store: the writable index.
        client_factory: makes RPC clients (one for control, more for the prefetch threads).
        network: the index's network; the node's chain must match.
        hooks: store hooks run inside each batch transaction.
        options: batch and retry tuning.
        stop: when set, return after the current batch commits.
        progress: progress reporter.
        now_s: wall clock for ``node_status.checked_at_s``.

    Returns:
        What was done.

    Raises:
        ChainError: ``chain.network-mismatch``; ``chain.disconnected`` when the node's chain
            keeps changing under us beyond ``max_reorg_retries``; undo/state errors.
        UpstreamError: the node is unreachable or answers garbage after the client's retries.
        ParseError, VerificationError: a block from the node does not parse (nothing written).
    """
    opts = options or FollowOptions()
    connected = disconnected = 0
    client = client_factory()
    try:
        for _ in range(opts.max_reorg_retries):
            info = client.fetch_chain_info()
            check_network(info, network)
            store.save_node_status(
                node_height=info.blocks,
                node_headers=info.headers,
                node_ibd=info.initial_block_download,
                checked_at_s=int(now_s()),
            )
            tip = store.fetch_tip()
            if tip is not None and tip[1] == info.best_block_hash:
                return SyncResult(tip_height=tip[0], tip_hash=tip[1], connected=connected, disconnected=disconnected, stopped=False)
            fork = find_fork_height(store, client, info.blocks)
            to_disconnect: list[BlockHash] = []
            if tip is not None:
                for h in range(tip[0], fork, -1):
                    block_hash = store.fetch_block_hash(h)
                    if block_hash is None:
                        raise ChainError(ErrorCode.CHAIN_NO_UNDO, f"indexed chain has a hole at {h}", height=h)
                    to_disconnect.append(block_hash)
            if to_disconnect:
                _log.warning(
                    "reorg from_height=%d fork_height=%d depth=%d node_height=%d",
                    tip[0] if tip else -1,
                    fork,
                    len(to_disconnect),
                    info.blocks,
                )
            target = info.blocks
            if progress is not None:
                progress.begin(fork, target)
            heights = list(range(fork + 1, target + 1))
            summaries = _summaries(client_factory, heights, network, opts)
            try:
                if not heights and to_disconnect:
                    store.apply_batch([], to_disconnect, hooks)
                    disconnected += len(to_disconnect)
                    to_disconnect = []
                for batch in _batches(summaries, fork + 1, opts):
                    result = store.apply_batch(batch, to_disconnect, hooks)
                    disconnected += len(to_disconnect)
                    to_disconnect = []
                    connected += len(batch)
                    if progress is not None:
                        progress.update(result.tip_height, target)
                    if stop is not None and stop.is_set():
                        tip = store.fetch_tip()
                        return SyncResult(
                            tip_height=-1 if tip is None else tip[0],
                            tip_hash=None if tip is None else tip[1],
                            connected=connected,
                            disconnected=disconnected,
                            stopped=True,
                        )
            except ChainError as exc:
                if exc.code != ErrorCode.CHAIN_DISCONNECTED:
                    raise
                # The node switched branches while we fetched: look for the fork again.
                _log.warning("chain changed during catch-up, retrying: %s", exc.message)
                continue
            finally:
                summaries.close()  # stops the prefetch threads or the reader process
                if progress is not None:
                    progress.end()
        raise ChainError(
            ErrorCode.CHAIN_DISCONNECTED, "the node's chain kept changing; giving up after retries"
        )
    finally:
        client.close()


def follow_forever(
    store: Store,
    client_factory: Callable[[], RpcClient],
    *,
    network: str,
    hooks: Sequence[BatchHook] = (),
    options: FollowOptions | None = None,
    stop: threading.Event,
    wait_for_block: Callable[[float], bool] | None = None,
    progress: Progress | None = None,
) -> None:
    """Follow the node until ``stop`` is set: sync, then wait for a block (ZMQ or polling).

    Upstream failures (node down, restarting, warming up, garbage) are logged and retried
    with exponential backoff; nothing is written until a batch parses and connects.

    Args:
        wait_for_block: ``timeout_s -> bool`` waiting for a new-block notification (ZMQ);
            None polls every ``poll_interval_s``.
    """
    opts = options or FollowOptions()
    backoff = 0.5
    while not stop.is_set():
        try:
            result = sync_once(
                store, client_factory, network=network, hooks=hooks, options=opts, stop=stop, progress=progress
            )
            backoff = 0.5
            _log.debug("synced height=%d hash=%s", result.tip_height, hash_to_hex(result.tip_hash or b""))
        except UpstreamError as exc:
            _log.warning("node unavailable code=%s retry_in_s=%.1f detail=%s", exc.code, backoff, exc.message)
            stop.wait(backoff)
            backoff = min(backoff * 2, opts.max_backoff_s)
            continue
        except ChainError as exc:
            if exc.code == ErrorCode.CHAIN_NETWORK_MISMATCH:
                raise
            _log.warning("chain problem code=%s retry_in_s=%.1f detail=%s", exc.code, backoff, exc.message)
            stop.wait(backoff)
            backoff = min(backoff * 2, opts.max_backoff_s)
            continue
        if stop.is_set():
            break
        try:
            store.run_idle_hooks(hooks)
        except StoreError as exc:
            _log.warning("idle hooks failed code=%s detail=%s", exc.code, exc.message)
        if wait_for_block is not None:
            # ZMQ wakes us at once; still re-check the node now and then (a missed message,
            # a node restart drops the subscription), and look at ``stop`` every slice.
            deadline = time.monotonic() + opts.poll_interval_s * 15
            try:
                while not stop.is_set() and time.monotonic() < deadline:
                    if wait_for_block(0.25):
                        break
            except UpstreamError as exc:
                _log.warning("zmq unavailable, polling code=%s", exc.code)
                stop.wait(opts.poll_interval_s)
        else:
            stop.wait(opts.poll_interval_s)
