"""``waypost index`` (shell): open the store, connect to namecoind, sync once or follow forever.

Errors surface as ``WaypostError`` (the router prints one line); signals stop cleanly.
"""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from waypost.indexer.follow import FollowOptions, Progress, follow_forever, network_of_chain, sync_once
from waypost.indexer.rpc import RpcConfig
from waypost.indexer.store import BatchHook, open_store
from waypost.registry.errors import ChainError, ErrorCode

if TYPE_CHECKING:
    from waypost.indexer.zmq_feed import ZmqFeed

__all__ = ["add_arguments", "run", "main"]

_log = logging.getLogger("waypost.indexer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``waypost index`` options to ``parser``."""
    parser.add_argument("--rpc-url", required=True, help="namecoind JSON-RPC URL, may carry user:password@")
    parser.add_argument("--rpc-cookie", type=Path, default=None, help="namecoind .cookie file")
    parser.add_argument("--db", required=True, type=Path, help="index database (SQLite)")
    parser.add_argument(
        "--network",
        choices=("mainnet", "testnet", "regtest"),
        default=None,
        help="expected network (default: the node's); must match the node and the database",
    )
    parser.add_argument("--zmq", default=None, metavar="tcp://HOST:PORT", help="namecoind ZMQ hashblock/sequence")
    parser.add_argument("--once", action="store_true", help="catch up to the node's tip (with reorgs) and exit")
    parser.add_argument("--log-key", type=Path, default=None, help="log signing key (default: <db>.logkey, created)")
    parser.add_argument("--log-origin", default=None, help="log origin line (default: waypost.localhost/<network>)")
    parser.add_argument("--no-log", action="store_true", help="index names only: no transparency log, SPV data or outbox")
    parser.add_argument("--batch-blocks", type=int, default=2000, help=argparse.SUPPRESS)
    parser.add_argument("--rpc-timeout", type=float, default=30.0, help=argparse.SUPPRESS)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (the current batch commits or rolls back); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        _log.warning("signal=%d stopping after the current batch", signum)
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run(
    args: argparse.Namespace, *, hooks: Sequence[BatchHook] = (), stop: threading.Event | None = None
) -> int:
    """Run ``waypost index`` with parsed ``args``; returns the exit status.

    Args:
        args: the parsed options.
        hooks: store hooks (log leaves, outbox) run inside each batch transaction.
        stop: set it to end ``follow forever`` (signals set it too).

    Raises:
        ChainError: ``chain.network-mismatch`` when the node runs another chain.
        StoreError: wrong network or newer schema in the database.
        UpstreamError: the node cannot be reached (``--once``).
    """
    cookie: Path | None = args.rpc_cookie
    timeout_s = float(args.rpc_timeout)

    # ``RpcConfig.client``: the follower's reader process rebuilds clients from the settings
    client_factory = RpcConfig(url=args.rpc_url, cookie_path=cookie, timeout_s=timeout_s).client

    network: str | None = args.network
    if network is None:
        with client_factory() as probe:
            chain = probe.fetch_chain_info().chain
        network = network_of_chain(chain)
        if network is None:
            raise ChainError(ErrorCode.CHAIN_NETWORK_MISMATCH, f"unknown node chain {chain!r}", got=chain)
    options = FollowOptions(batch_blocks=max(1, int(args.batch_blocks)))
    store = open_store(args.db, network)
    if not hooks and not getattr(args, "no_log", False):
        # the resolver (log leaves, SPV data, checkpoints) and the notification outbox, on by default
        from waypost.resolve.hook import default_hooks

        hooks = default_hooks(
            db=args.db, network=network, log_key=getattr(args, "log_key", None), origin=getattr(args, "log_origin", None)
        )
    stop = stop or threading.Event()
    # A catch-up allocates millions of short-lived, acyclic objects: with the default
    # thresholds the cycle collector took ~7% of the indexer's CPU rescanning the
    # long-lived ones. Freeze what exists now and collect the young generation less often
    # (both restored on return: tests and the demo run this in their own process).
    old_thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    feed: ZmqFeed | None = None
    try:
        with _stop_on_signals(stop):
            progress = Progress()
            if args.once:
                result = sync_once(
                    store, client_factory, network=network, hooks=hooks, options=options, stop=stop, progress=progress
                )
                _log.info(
                    "index done tip_height=%d connected=%d disconnected=%d stopped=%s",
                    result.tip_height,
                    result.connected,
                    result.disconnected,
                    result.stopped,
                )
                return 0
            wait = None
            if args.zmq:
                feed = _zmq_feed(args.zmq)
                wait = _zmq_waiter(feed)
            follow_forever(
                store,
                client_factory,
                network=network,
                hooks=hooks,
                options=options,
                stop=stop,
                wait_for_block=wait,
                progress=progress,
            )
            return 0
    finally:
        gc.set_threshold(*old_thresholds)
        gc.unfreeze()
        if feed is not None:
            feed.close()
        store.close()


def _zmq_feed(url: str) -> ZmqFeed:
    # imported only when --zmq is given, so --once runs need no ZMQ library at all
    from waypost.indexer.zmq_feed import ZmqFeed

    return ZmqFeed(url, ("hashblock", "sequence"))


def _zmq_waiter(feed: ZmqFeed) -> Callable[[float], bool]:
    def wait(timeout_s: float) -> bool:
        # any hashblock/sequence message means "look at the node again"; drain the burst
        got = feed.poll(timeout_s) is not None
        while got and feed.poll(0.0) is not None:
            pass
        return got

    return wait


def main(argv: Sequence[str]) -> int:
    """Parse ``argv`` (the options after ``index``) and run; for tests and embedding."""
    parser = argparse.ArgumentParser(prog="waypost index")
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))
