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
from waypost.registry.address import encode_key_domain
from waypost.registry.chain import ChainEntry, EntryKind, commit_key, encode_canonical, entry_hash, make_entry
from waypost.registry.errors import ErrorCode, UpstreamError, WaypostError
from waypost.registry.keys import sign_message
from waypost.registry.profile import encode_b64, key_commitment, parse_profile, redirect_message, signing_message
from waypost.registry.profile import RedirectReason

__all__ = [
    "add_arguments",
    "run",
    "SAMPLE_ADDRESSES",
    "CHAIN_ADDRESS",
    "DemoWorld",
    "start_world",
    "signed_value",
    "npub_of",
    "demo_chain",
    "submit_chain",
]

log = logging.getLogger("waypost.demo")

DEFAULT_PORT = 8335


def _key(n: int) -> nacl.signing.SigningKey:
    # demo keys are fixed so the printed fingerprints are the same on every run
    return nacl.signing.SigningKey(bytes([n]) * 32)


# dave's private chain (no Namecoin name): the address is self-certifying, its domain is his genesis key
CHAIN_KEYS = (11, 12, 13)  # genesis key, the pre-committed key he rotated to, the next committed key
CHAIN_ADDRESS = f"dave@{encode_key_domain(bytes(_key(CHAIN_KEYS[0]).verify_key))}"
SAMPLE_ADDRESSES = ("alice@id.bit", "bob@id.bit", "carol@id.bit", CHAIN_ADDRESS)
CAROL_MESSAGE = b"carol's note, signed with her first key before she rotated\n"


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
    # regtest names expire 30 blocks after their last update and each registration takes 13
    # blocks: alice goes last so that every sample is live when the demo is ready
    node.register_name(b"id/alice", alice)
    return {
        "alice@id.bit": "email, xmpp and nostr endpoints, enforce policy",
        "bob@id.bit": "moved to robert@id.bit (signed redirect, confirmed by the target)",
        "carol@id.bit": "rotated her key to the pre-committed one",
        CHAIN_ADDRESS: "private chain (no Namecoin name): genesis, endpoints, pre-committed rotation",
    }


def demo_chain() -> tuple[ChainEntry, ...]:
    """dave's private chain: genesis -> an update with endpoints -> a rotation to the pre-committed key."""
    k1, k2, k3 = (_key(n) for n in CHAIN_KEYS)
    eps = {"email": "dave@example.net", "xmpp": "dave@example.net", "matrix": "@dave:example.net"}
    g = make_entry(k1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(k2.verify_key)),
                   body={"name": "Dave"})
    u = make_entry(k1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next,
                   body={"name": "Dave", "endpoints": eps})
    r = make_entry(k2, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=commit_key(bytes(k3.verify_key)),
                   body={"name": "Dave", "endpoints": eps})
    return (g, u, r)


def submit_chain(url: str, address: str, entries: tuple[ChainEntry, ...]) -> int:
    """``POST /v1/chains/{address}`` (canonical CBOR array of entries); returns the chain length.

    Raises:
        UpstreamError: ``CLIENT_HTTP`` when the server refuses it.
    """
    import requests

    body = encode_canonical([e.encode() for e in entries])
    try:
        resp = requests.post(f"{url}/v1/chains/{address}", data=body, headers={"Content-Type": "application/cbor"},
                             timeout=30)
    except requests.RequestException as exc:
        raise UpstreamError(ErrorCode.CLIENT_HTTP, f"cannot submit {address}'s chain: {type(exc).__name__}") from exc
    if resp.status_code not in (200, 201):
        raise UpstreamError(ErrorCode.CLIENT_HTTP, f"{address}'s chain refused: HTTP {resp.status_code} {resp.text[:200]}")
    return int(resp.json()["length"])


def _wait(pred: Callable[[], bool], deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise UpstreamError(ErrorCode.CLIENT_HTTP, f"timed out waiting for {what}")


def start_world(datadir: Path, *, port: int = DEFAULT_PORT, zmq: bool = True,
                samples: Callable[[object], object] | None = register_samples, chain: bool = True) -> DemoWorld:
    """Start simulator, indexer (following) and API on 127.0.0.1; register samples; wait until indexed.

    With ``chain``, dave's private chain (``CHAIN_ADDRESS``) is then submitted to the running API.
    """
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
        if chain:
            submit_chain(world.url, CHAIN_ADDRESS, demo_chain())
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


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedMessage:
    """A message carol signed with her first key, and the heights to check it at."""

    path: Path
    signature_hex: str
    old_key_height: int  # her first record: the old key is in force here
    rotated_height: int  # her rotation: from here on the old key is not hers any more


def carol_message(world: DemoWorld) -> SignedMessage:
    """Write carol's message (signed with her pre-rotation key) into the datadir.

    The heights come from the server's name history; ``waypost verify-message`` checks them
    itself against the verified record, so nothing here is trusted.

    Raises:
        UpstreamError: ``CLIENT_HTTP`` / ``CLIENT_BAD_ANSWER``.
    """
    import requests

    from waypost.client.http import fetch_json

    _, obj = fetch_json(requests.Session(), f"{world.url}/v1/history/id%2Fcarol")
    try:
        heights = [int(r["height"]) for r in obj["history"]]  # type: ignore[index]
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "carol's history has no heights") from exc
    if len(heights) < 2:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "carol's history lacks her rotation")
    path = world.datadir / "carol-message.txt"
    path.write_bytes(CAROL_MESSAGE)
    sig = sign_message(_key(8), CAROL_MESSAGE).hex()
    return SignedMessage(path=path, signature_hex=sig, old_key_height=heights[0], rotated_height=heights[1])


def _commands(world: DemoWorld, msg: SignedMessage) -> list[str]:
    state = world.datadir / "client.json"
    common = f"--server {world.url} --network regtest --state {state}"
    lines = []
    for a in SAMPLE_ADDRESSES:
        lines.append(f"curl -s {world.url}/v1/resolve/{a} | python3 -m json.tool")
    lines.append(f"curl -s {world.url}/v1/chains/{CHAIN_ADDRESS}")
    for a in SAMPLE_ADDRESSES:
        lines.append(f"waypost resolve {a} {common}")
    lines.append(f"waypost verify-message --address carol@id.bit --signature {msg.signature_hex} {msg.path} "
                 f"--at {msg.old_key_height} {common}    # VALID: her key then")
    lines.append(f"waypost verify-message --address carol@id.bit --signature {msg.signature_hex} {msg.path} "
                 f"{common}    # INVALID now: she rotated at height {msg.rotated_height}")
    lines.append(f"curl -s '{world.url}/.well-known/webfinger?resource=acct:alice@id.bit'")
    lines.append(f"curl -s '{world.url}/.well-known/nostr.json?name=alice'")
    lines.append(f"curl -s {world.url}/v1/log/checkpoint")
    lines.append(f"curl -s {world.url}/v1/log/key")
    return lines


def _check(world: DemoWorld, msg: SignedMessage) -> int:
    from waypost.client.cli import resolution_json
    from waypost.client.lookup import Client
    from waypost.client.state import ClientState
    from waypost.client.verify_cli import fetch_timeline
    from waypost.registry.keys import verify_message_at
    from waypost.tlog import note as note_mod

    # no --log-key: the first answer pins the key the server publishes at /v1/log/key (trust on first use)
    state = ClientState.load(world.datadir / "client.json")
    client = Client([world.url], state=state, network="regtest")
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
    pinned = [note_mod.encode_vkey(k) for k in state.log_keys(world.url)]
    if pinned != [world.log_vkey]:
        failures += 1
        print(f"FAIL trust on first use: pinned {pinned}, the server's key file says {world.log_vkey}")
    else:
        print(f"ok   log key pinned on first use: {pinned[0]}")
    try:
        carol = client.resolve("carol@id.bit")
        if carol.value is None:
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "carol@id.bit is not registered")
        timeline = fetch_timeline(client, "carol@id.bit", carol.value, carol.height)
        found = verify_message_at(CAROL_MESSAGE, bytes.fromhex(msg.signature_hex), timeline, msg.old_key_height)
        print(f"ok   verify-message carol@id.bit --at {msg.old_key_height}: VALID (key from height "
              f"{found.span.from_height})")
        tip = carol.namecoin_height if carol.namecoin_height is not None else msg.rotated_height
        try:
            verify_message_at(CAROL_MESSAGE, bytes.fromhex(msg.signature_hex), timeline, tip)
        except WaypostError as exc:
            print(f"ok   verify-message carol@id.bit at the tip {tip}: INVALID [{exc.code}]")
        else:
            failures += 1
            print(f"FAIL verify-message carol@id.bit at the tip {tip}: the old key still verifies")
    except WaypostError as exc:
        failures += 1
        print(f"FAIL verify-message carol@id.bit: [{exc.code}] {exc.message}")
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
            msg = carol_message(world)
            if args.check:
                return _check(world, msg)
            print("\nSample identities: alice@id.bit (email, xmpp, nostr; enforce policy), bob@id.bit (moved to")
            print("robert@id.bit), carol@id.bit (rotated key), and a private-chain identity with no Namecoin name:")
            print(f"{CHAIN_ADDRESS}")
            print("(genesis, endpoints, rotation to a pre-committed key; the address is its genesis key).\n")
            print("Trust on first use: the first `waypost resolve` fetches the log key from /v1/log/key and pins it")
            print("in the state file; afterwards a server signing with another key is refused. To pin explicitly")
            print(f"instead, add --log-key '{world.log_vkey}'")
            print(f"(also in {world.db}.logkey.vkey).\n")
            print("Try:\n")
            for line in _commands(world, msg):
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
