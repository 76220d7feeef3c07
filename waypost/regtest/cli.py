"""``waypost regtest``: run the namecoind-compatible simulator until Ctrl-C (shell)."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType

from waypost.registry.errors import ErrorCode, UpstreamError, ValidationError
from waypost.regtest.node import SimNode

__all__ = ["add_arguments", "run"]

DEFAULT_RPC_PORT = 18443  # bitcoind/namecoind regtest default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``waypost regtest``."""
    parser.add_argument("--port", type=int, default=DEFAULT_RPC_PORT, help="JSON-RPC port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--datadir", type=Path, default=Path.home() / ".waypost" / "regtest-node",
                        help="node directory (the chain persists here; cookie in <datadir>/regtest/.cookie)")
    parser.add_argument("--zmq-port", type=int, default=None, help="publish ZMQ notifications on this port")
    parser.add_argument("--rpcuser", default=None, help="accept this user (with --rpcpassword) besides the cookie")
    parser.add_argument("--rpcpassword", default=None)
    parser.add_argument("--seed", type=int, default=0, help="seed for keys, salts and change positions")
    parser.add_argument("--wallets", default="alice,bob", help="wallets to create on a fresh node (comma list)")
    parser.add_argument("--mine", type=int, default=0, help="mine this many blocks to the first wallet at start")


def run(args: argparse.Namespace) -> int:
    """Start the node, print where it listens, wait for Ctrl-C/SIGTERM, stop cleanly."""
    if (args.rpcuser is None) != (args.rpcpassword is None):
        raise ValidationError(ErrorCode.BAD_REQUEST, "--rpcuser and --rpcpassword go together")
    try:
        node = SimNode.start(args.datadir, rpc_port=args.port, zmq_port=args.zmq_port,
                             rpc_user=args.rpcuser, rpc_password=args.rpcpassword, seed=args.seed)
    except OSError as exc:
        raise UpstreamError(ErrorCode.RPC_CONNECT, f"cannot listen: {exc}") from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        wallets = [w for w in args.wallets.split(",") if w]
        for w in wallets:
            if w not in node.chain.wallets:
                node.chain.create_wallet(w)
        if args.mine and wallets:
            node.generate(args.mine, wallets[0])
        print(f"rpc:    {node.rpc_url}")
        print(f"cookie: {node.cookie_path}")
        print(f"zmq:    {node.zmq_url or '(off; use --zmq-port)'}")
        print(f"height: {node.chain.height}  (Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
    return 0
