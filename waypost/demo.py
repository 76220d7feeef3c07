"""``waypost demo`` (shell): simulator + indexer + API with sample identities, and commands to try.

Everything runs in this process on 127.0.0.1; Ctrl-C stops it and removes the temporary datadir.
``--check`` sets up, resolves every sample identity through the light client, and exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import nacl.signing

from waypost.registry import bech32
from waypost.registry.errors import ErrorCode, UpstreamError, WaypostError
from waypost.registry.profile import encode_b64, key_commitment, parse_profile, redirect_message, signing_message
from waypost.registry.profile import RedirectReason

__all__ = ["add_arguments", "run", "SAMPLE_ADDRESSES", "DemoWorld", "start_world", "signed_value", "npub_of"]

log = logging.getLogger("waypost.demo")

DEFAULT_PORT = 8335
SAMPLE_ADDRESSES = ("alice@id.bit", "bob@id.bit", "carol@id.bit")


def _key(n: int) -> nacl.signing.SigningKey:
    # demo keys are fixed so the printed fingerprints are the same on every run
    return nacl.signing.SigningKey(bytes([n]) * 32)


def npub_of(pubkey: bytes) -> str:
    """NIP-19 ``npub`` (BIP-173 bech32) of a 32-byte key."""
    return bech32.encode_npub(pubkey)


def signed_value(address: str, key: nacl.signing.SigningKey, next_key: nacl.signing.SigningKey, *,
                 endpoints: Mapping[str, str] | None = None, policy: Mapping[str, object] | None = None,
                 redirect_to: str | None = None, extra: Mapping[str, object] | None = None) -> bytes:
    """A Namecoin name value holding a signed Waypost profile (key + next-key commitment)."""
    wp: dict[str, object] = {"v": 1, "key": encode_b64(bytes(key.verify_key)),
                             "next": encode_b64(key_commitment(bytes(next_key.verify_key)))}
    if endpoints:
        wp["ep"] = dict(endpoints)
    if policy:
        wp["policy"] = dict(policy)
    if redirect_to is not None:
        msg = redirect_message(address, redirect_to, RedirectReason.VOLUNTARY)
        wp["redirect"] = {"to": redirect_to, "reason": "voluntary", "sig": encode_b64(key.sign(msg).signature)}
    body: dict[str, object] = dict(extra or {})
    body["waypost"] = wp
    unsigned = json.dumps(body, separators=(",", ":")).encode()
    wp["sig"] = encode_b64(key.sign(signing_message(parse_profile(unsigned), address=address)).signature)
    return json.dumps(body, separators=(",", ":")).encode()


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise UpstreamError(ErrorCode.CLIENT_HTTP, "no free port on 127.0.0.1")


@dataclass
class DemoWorld:
    """A running demo: simulator node, indexer thread, API server; ``close()`` stops them."""

    datadir: Path
    db: Path
    url: str
    log_vkey: str
    node: object
    stop_event: threading.Event
    threads: list[threading.Thread] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the API, the indexer and the node (in that order)."""
        self.stop_event.set()
        for c in reversed(self.closers):
            try:
                c()
            except Exception:  # noqa: BLE001 - shutting down: keep stopping the rest
                log.debug("close failed", exc_info=True)
        for t in self.threads:
            t.join(timeout=10)


def register_samples(node: object) -> dict[str, str]:
    """Register the sample identities on the simulator; returns ``{address: what it shows}``."""
    from waypost.regtest.node import SimNode

    assert isinstance(node, SimNode)
    ka, ka2 = _key(1), _key(2)
    alice = signed_value(
        "alice@id.bit", ka, ka2,
        endpoints={"email": "alice@example.org", "xmpp": "alice@example.org", "nostr": npub_of(bytes(_key(3).verify_key))},
        policy={"require": ["xmpp", "email"], "mode": "enforce"},
    )
    node.register_name(b"id/alice", alice)
    # bob moved to robert@id.bit: the old key signs the redirect, the target confirms with moved_from
    kb, kb2, kr, kr2 = _key(4), _key(5), _key(6), _key(7)
    node.register_name(b"id/bob", signed_value("bob@id.bit", kb, kb2, endpoints={"email": "bob@example.org"}))
    node.register_name(b"id/robert", signed_value("robert@id.bit", kr, kr2, endpoints={"email": "robert@example.net"},
                                                  extra={"moved_from": ["bob@id.bit"]}))
    node.update_name(b"id/bob", signed_value("bob@id.bit", kb, kb2, endpoints={"email": "bob@example.org"},
                                             redirect_to="robert@id.bit"))
    # carol rotated to the key her first record committed to
    kc1, kc2, kc3 = _key(8), _key(9), _key(10)
    node.register_name(b"id/carol", signed_value("carol@id.bit", kc1, kc2, endpoints={"matrix": "@carol:example.org"}))
    node.update_name(b"id/carol", signed_value("carol@id.bit", kc2, kc3, endpoints={"matrix": "@carol:example.org"}))
    return {
        "alice@id.bit": "email, xmpp and nostr endpoints, enforce policy",
        "bob@id.bit": "moved to robert@id.bit (signed redirect, confirmed by the target)",
        "carol@id.bit": "rotated her key to the pre-committed one",
    }


def _wait(pred: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise UpstreamError(ErrorCode.CLIENT_HTTP, f"timed out waiting for {what}")


def start_world(datadir: Path, *, port: int = DEFAULT_PORT, zmq: bool = True,
                samples: Callable[[object], object] | None = register_samples) -> DemoWorld:
    """Start simulator, indexer (following) and API on 127.0.0.1; register samples; wait until indexed."""
    from werkzeug.serving import make_server

    from waypost.api.cli import build_app
    from waypost.indexer import cli as index_cli
    from waypost.regtest.node import SimNode

    stop = threading.Event()
    node = SimNode.start(datadir / "node", zmq_port=0 if zmq else None, seed=7)
    db = datadir / "index.db"
    world = DemoWorld(datadir=datadir, db=db, url="", log_vkey="", node=node, stop_event=stop)
    world.closers.append(node.stop)
    try:
        node.generate(1)
        if samples is not None:
            samples(node)
        tip = node.chain.height
        parser = argparse.ArgumentParser()
        index_cli.add_arguments(parser)
        argv = ["--rpc-url", node.rpc_url, "--rpc-cookie", str(node.cookie_path), "--db", str(db), "--network", "regtest"]
        if node.zmq_url:
            argv += ["--zmq", node.zmq_url]
        idx_args = parser.parse_args(argv)
        errors: list[BaseException] = []

        def index() -> None:
            try:
                index_cli.run(idx_args, stop=stop)
            except BaseException as exc:  # noqa: BLE001 - reported by the waiter
                errors.append(exc)

        t = threading.Thread(target=index, name="waypost-index", daemon=True)
        t.start()
        world.threads.append(t)

        def indexed() -> bool:
            if errors:
                raise errors[0]
            return db.exists() and _tip_of(db) >= tip and (db.parent / (db.name + ".logkey.vkey")).exists()

        _wait(indexed, 60, "the indexer to catch up")
        world.log_vkey = (db.parent / (db.name + ".logkey.vkey")).read_text(encoding="ascii").strip()
        app = build_app(str(db))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server("127.0.0.1", _free_port(port), app, threaded=True)
        world.url = f"http://127.0.0.1:{server.server_port}"
        st = threading.Thread(target=server.serve_forever, name="waypost-api", daemon=True)
        st.start()
        world.threads.append(st)
        world.closers.append(server.shutdown)
    except BaseException:
        world.close()
        raise
    return world


def _tip_of(db: Path) -> int:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT MAX(size) FROM checkpoints").fetchone()
            if row is None or row[0] is None:
                return -1
            from waypost.indexer.store import open_reader

            return int(open_reader(str(db)).fetch_status().tip_height)
        finally:
            conn.close()
    except (sqlite3.Error, WaypostError):
        return -1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` options."""
    parser.add_argument("--datadir", type=Path, default=None, help="keep the demo's files here (default: a temp dir)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT}, else a free one)")
    parser.add_argument("--check", "--once", dest="check", action="store_true",
                        help="set up, resolve every sample identity through the client, print and exit")
    parser.add_argument("--no-zmq", action="store_true", help="the indexer polls instead of listening on ZMQ")


def _commands(world: DemoWorld) -> list[str]:
    key = f"'{world.log_vkey}'"
    state = world.datadir / "client.json"
    lines = []
    for a in SAMPLE_ADDRESSES:
        lines.append(f"curl -s {world.url}/v1/resolve/{a} | python3 -m json.tool")
    for a in SAMPLE_ADDRESSES:
        lines.append(f"waypost resolve {a} --server {world.url} --network regtest --log-key {key} --state {state}")
    lines.append(f"curl -s '{world.url}/.well-known/webfinger?resource=acct:alice@id.bit'")
    lines.append(f"curl -s '{world.url}/.well-known/nostr.json?name=alice'")
    lines.append(f"curl -s {world.url}/v1/log/checkpoint")
    return lines


def _check(world: DemoWorld) -> int:
    from waypost.client.cli import resolution_json
    from waypost.client.lookup import Client
    from waypost.client.state import ClientState
    from waypost.tlog import note as note_mod

    client = Client([world.url], state=ClientState.load(world.datadir / "client.json"),
                    log_verifiers=[note_mod.parse_vkey(world.log_vkey)], network="regtest")
    failures = 0
    for a in SAMPLE_ADDRESSES:
        try:
            t0 = time.perf_counter()
            r = client.resolve(a)
            ms = (time.perf_counter() - t0) * 1000
        except WaypostError as exc:
            failures += 1
            print(f"FAIL {a}: [{exc.code}] {exc.message}")
            continue
        print(f"ok   {a} -> {r.resolved_address} verdict={r.verdict} endpoints={dict(r.endpoints)} ({ms:.0f} ms)")
        print("     " + json.dumps(resolution_json(r), sort_keys=True))
    return 0 if failures == 0 else 1


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starts background jobs with SIGINT ignored, and Ctrl-C must always stop the demo
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run(args: argparse.Namespace) -> int:
    """Run the demo until Ctrl-C (or, with ``--check``, verify the samples and exit)."""
    t0 = time.monotonic()
    temp = args.datadir is None
    datadir = Path(tempfile.mkdtemp(prefix="waypost-demo-")) if temp else Path(args.datadir)
    datadir.mkdir(parents=True, exist_ok=True)
    world: DemoWorld | None = None
    try:
        with _sigterm_as_interrupt():
            print(f"waypost demo: starting simulator, indexer and API in {datadir} ...", flush=True)
            world = start_world(datadir, port=int(args.port), zmq=not args.no_zmq)
            print(f"waypost demo: ready in {time.monotonic() - t0:.1f} s at {world.url}", flush=True)
            if args.check:
                return _check(world)
            print("\nSample identities: alice@id.bit (email, xmpp, nostr; enforce policy), bob@id.bit (moved to")
            print("robert@id.bit), carol@id.bit (rotated key). Private-chain (*.key) identities are not served yet.\n")
            print("Try:\n")
            for line in _commands(world):
                print("  " + line)
            print("\nCtrl-C stops everything.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nwaypost demo: stopping", file=sys.stderr)
        return 0
    finally:
        if world is not None:
            world.close()
        if temp:
            shutil.rmtree(datadir, ignore_errors=True)
