"""A server that lies, one case each; the light client rejects every case (with evidence where it matters).

The world is the demo's: the simulator, the indexer following it and the real API over the
index. A proxy on 127.0.0.1 forwards to the real app and edits answers per case; the
``Client`` talks to the proxy over HTTP, exactly as ``waypost resolve`` does.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import nacl.signing
import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.replaynode import wait_indexed
from waypost.api.cli import build_app
from waypost.client.lookup import Client
from waypost.client.state import ClientState, load_evidence
from waypost.demo import CHAIN_ADDRESS, DemoWorld, _key, register_samples, signed_value, start_world, submit_chain
from waypost.registry import merkle
from waypost.registry.address import encode_key_domain
from waypost.registry.chain import ChainEntry, EntryKind, commit_key, entry_hash, make_entry
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.resolve.bundle import ProofBundle, bundle_from_json, bundle_to_json, encode_bundle
from waypost.resolve.store import ResolveReader
from waypost.tlog import note as note_mod

Rewrite = Callable[[str, str, int, bytes], tuple[int, bytes]]
DAVE_EP = {"email": "dave@example.org", "xmpp": "dave@example.org"}


@dataclass
class World:
    demo: DemoWorld
    app: Flask
    vkey: note_mod.Verifier
    signer: note_mod.Signer
    old_alice: bytes  # alice's honest answer at an earlier, smaller tree
    old_size: int
    dave_state: Path  # a client state that pinned dave before he dropped xmpp


def _samples(node: object) -> None:
    register_samples(node)
    node.register_name(b"id/dave", signed_value("dave@id.bit", _key(20), _key(21), endpoints=DAVE_EP))  # type: ignore[attr-defined]


def _wait_tip(world: DemoWorld, height: int) -> None:
    wait_indexed(world.db, height)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    d = tmp_path_factory.mktemp("lying")
    demo = start_world(d, port=0, zmq=False, samples=_samples)
    try:
        app = build_app(str(demo.db))
        vkey = note_mod.parse_vkey(demo.log_vkey)
        signer = note_mod.parse_signer_key((demo.db.parent / (demo.db.name + ".logkey")).read_text())
        c = app.test_client()
        old_alice = c.get("/v1/resolve/alice@id.bit").data
        old_size = note_mod.open_checkpoint(json.loads(old_alice)["bundle"]["checkpoint"], [vkey]).checkpoint.size
        # pin dave, then dave (or whoever holds his Namecoin key) drops xmpp: a valid, provable downgrade
        dave_state = d / "dave.json"
        Client([demo.url], state=ClientState.load(dave_state), log_verifiers=[vkey], network="regtest").resolve("dave@id.bit")
        node = demo.node
        node.update_name(b"id/dave", signed_value("dave@id.bit", _key(20), _key(21),  # type: ignore[attr-defined]
                                                  endpoints={"email": "dave@example.org"}))
        _wait_tip(demo, node.chain.height)  # type: ignore[attr-defined]
        yield World(demo=demo, app=app, vkey=vkey, signer=signer, old_alice=old_alice, old_size=old_size,
                    dave_state=dave_state)
    finally:
        demo.close()


class Proxy:
    """WSGI app forwarding to the real API, with an optional per-test rewrite."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.rewrite: Rewrite | None = None

    def __call__(self, environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        path, qs = str(environ["PATH_INFO"]), str(environ.get("QUERY_STRING", ""))
        resp = self.client.get(path + ("?" + qs if qs else ""), headers={"Accept": str(environ.get("HTTP_ACCEPT", "*/*"))})
        status, body = resp.status_code, resp.data
        if self.rewrite is not None:
            status, body = self.rewrite(path, qs, status, body)
        start_response(f"{status} X", [("Content-Type", resp.content_type), ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture()
def proxy(world: World) -> Iterator[tuple[Proxy, str]]:
    p = Proxy(world.app)
    server = make_server("127.0.0.1", 0, p, threaded=False)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield p, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        t.join(5)


def client(world: World, urls: list[str], state: Path, **kw: object) -> Client:
    return Client(urls, state=ClientState.load(state), log_verifiers=[world.vkey], network="regtest", **kw)  # type: ignore[arg-type]


def expect(c: Client, address: str, code: ErrorCode) -> WaypostError:
    with pytest.raises(WaypostError) as ei:
        c.resolve(address)
    assert ei.value.code == code, ei.value
    return ei.value


def assert_evidence(world: World, err: WaypostError) -> None:
    path = Path(err.fields["evidence_path"])
    assert path.is_file() and str(path) in err.message
    ev = load_evidence(path)
    assert ev.kind == err.code
    note_mod.verify_evidence(ev, [world.vkey])  # a third party can check the lie


def edit_bundle(fn: Callable[[ProofBundle], ProofBundle], match: str = "/v1/resolve/") -> Rewrite:
    def rw(path: str, qs: str, status: int, body: bytes) -> tuple[int, bytes]:
        if not path.startswith(match) or status != 200:
            return status, body
        obj = json.loads(body)
        obj["bundle"] = bundle_to_json(fn(bundle_from_json(obj["bundle"])))
        return status, json.dumps(obj).encode()

    return rw


def _reader(world: World) -> ResolveReader:
    return ResolveReader(sqlite3.connect(world.demo.db), "regtest")


# --- the honest baseline -----------------------------------------------------------------------


def test_honest_server_verifies_and_remembers(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    _, url = proxy
    r = client(world, [url], tmp_path / "s.json").resolve("alice@id.bit")
    assert r.present and dict(r.endpoints)["xmpp"] == "alice@example.org"
    again = client(world, [url], tmp_path / "s.json").resolve("alice@id.bit")
    assert again.leaf_index == r.leaf_index
    assert ClientState.load(tmp_path / "s.json").checkpoint_note(url) is not None


# --- the matrix -----------------------------------------------------------------------------------


def test_changed_value_is_rejected(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy

    def lie(b: ProofBundle) -> ProofBundle:
        assert b.spv is not None
        tx = b.spv.tx.replace(b"alice@example.org", b"mallory@evil.xyz")
        assert tx != b.spv.tx
        return replace(b, spv=replace(b.spv, tx=tx))

    base = edit_bundle(lie)

    def rw(path: str, qs: str, status: int, body: bytes) -> tuple[int, bytes]:
        status, body = base(path, qs, status, body)
        return status, body.replace(b"alice@example.org", b"mallory@evil.xyz")  # the unproven JSON too

    p.rewrite = rw
    expect(client(world, [url], tmp_path / "s.json"), "alice@id.bit", ErrorCode.BUNDLE_BAD_SPV)


def test_server_json_without_proof_is_never_shown(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    p.rewrite = lambda path, qs, st, body: (st, body.replace(b'"xmpp"', b'"xmpx"').replace(b"alice@example.org", b"m@evil.xyz")
                                            if b'"bundle"' not in body else _drop_json_fields(body))
    r = client(world, [url], tmp_path / "s.json").resolve("alice@id.bit")
    assert dict(r.endpoints) == {"xmpp": "alice@example.org", "email": "alice@example.org",
                                 "nostr": dict(r.endpoints)["nostr"]}


def _drop_json_fields(body: bytes) -> bytes:
    obj = json.loads(body)
    obj["endpoints"] = {"email": "m@evil.xyz"}
    obj["value"] = {"text": "{}"}
    return json.dumps(obj).encode()


def test_stale_checkpoint_is_a_rollback_with_evidence(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    state = tmp_path / "s.json"
    client(world, [url], state).resolve("alice@id.bit")  # remembers the current (larger) tree
    p.rewrite = lambda path, qs, st, body: (200, world.old_alice) if path.startswith("/v1/resolve/") else (st, body)
    err = expect(client(world, [url], state), "alice@id.bit", ErrorCode.CHECKPOINT_ROLLBACK)
    assert_evidence(world, err)


def _forked(world: World, *, grow: int) -> tuple[str, Callable[[ProofBundle], ProofBundle], list[bytes]]:
    """A log signed by the real key whose tree differs from the real one in a leaf not alice's."""
    r = _reader(world)
    size = r.log.size()
    hashes = [merkle.leaf_hash(r.log.leaf(i)) for i in range(size)]
    real, _ = r.bundle("alice@id.bit")
    idx = real.leaf_index
    assert idx is not None
    j = next(i for i in range(size) if i != idx)
    forked = list(hashes)
    forked[j] = merkle.leaf_hash(b"rewritten history")
    forked += [merkle.leaf_hash(b"extra %d" % i) for i in range(grow)]
    cp = note_mod.open_checkpoint(real.checkpoint, [world.vkey]).checkpoint
    fcp = replace(cp, size=len(forked), root_hash=merkle.root(forked))
    note = note_mod.sign_note(note_mod.encode_checkpoint(fcp), world.signer)

    def lie(b: ProofBundle) -> ProofBundle:
        assert b.leaf_index == idx
        return replace(b, checkpoint=note, inclusion=merkle.inclusion_proof(forked, idx),
                       since_size=None, consistency=())

    return note, lie, forked


@pytest.mark.parametrize("grow", [0, 3])
def test_forked_log_is_rejected_with_evidence(world: World, proxy: tuple[Proxy, str], tmp_path: Path, grow: int) -> None:
    p, url = proxy
    state = tmp_path / "s.json"
    client(world, [url], state).resolve("alice@id.bit")
    _, lie, forked = _forked(world, grow=grow)
    bundle_rw = edit_bundle(lie)

    def rw(path: str, qs: str, status: int, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/log/proof/consistency":  # the forked log's own (honest-looking) proof
            q = dict(x.split("=") for x in qs.split("&"))
            proof = merkle.consistency_proof(forked, int(q["from"]), int(q["to"]))
            return 200, json.dumps({"proof": [base64.b64encode(h).decode() for h in proof]}).encode()
        return bundle_rw(path, qs, status, body)

    p.rewrite = rw
    err = expect(client(world, [url], state), "alice@id.bit", ErrorCode.CHECKPOINT_INCONSISTENT)
    assert_evidence(world, err)


def test_split_view_between_two_servers_is_caught_with_evidence(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, honest_url = proxy
    liar = Proxy(world.app)
    _, lie, _ = _forked(world, grow=0)
    liar.rewrite = edit_bundle(lie)
    server = make_server("127.0.0.1", 0, liar, threaded=False)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        liar_url = f"http://127.0.0.1:{server.server_port}"
        # each server alone looks fine to a new client
        client(world, [liar_url], tmp_path / "a.json").resolve("alice@id.bit")
        err = expect(client(world, [honest_url, liar_url], tmp_path / "b.json"), "alice@id.bit",
                     ErrorCode.CHECKPOINT_SPLIT_VIEW)
        assert_evidence(world, err)
    finally:
        server.shutdown()
        t.join(5)


def test_newer_value_hidden_behind_an_older_leaf_is_rejected(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    r = _reader(world)
    size = r.log.size()
    good, _ = r.bundle("carol@id.bit")
    older_idx = next(i for i in range(size) if i != good.leaf_index and b"carol@id.bit" in r.log.leaf(i))
    older, inclusion = r.log.leaf(older_idx), r.log.inclusion_proof(older_idx, size)
    p.rewrite = edit_bundle(lambda b: replace(b, leaf=older, leaf_index=older_idx, inclusion=inclusion))
    expect(client(world, [url], tmp_path / "s.json"), "carol@id.bit", ErrorCode.MAP_BAD_PROOF)


def test_registered_name_claimed_absent_is_rejected(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    absent = p.client.get("/v1/resolve/nobody@id.bit")
    assert absent.status_code == 404 and "bundle_cbor" in absent.get_json()
    p.rewrite = lambda path, qs, st, body: (404, absent.data) if path == "/v1/resolve/alice@id.bit" else (st, body)
    expect(client(world, [url], tmp_path / "s.json"), "alice@id.bit", ErrorCode.MAP_BAD_PROOF)
    # and a real absence still verifies as absent
    p.rewrite = None
    assert client(world, [url], tmp_path / "t.json").resolve("nobody@id.bit").present is False


def test_dropped_protocol_is_a_downgrade_against_the_pin(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    _, url = proxy
    state = tmp_path / "dave.json"
    state.write_bytes(world.dave_state.read_bytes().replace(world.demo.url.encode(), url.encode()))
    err = expect(client(world, [url], state), "dave@id.bit", ErrorCode.POLICY_DOWNGRADE)
    assert err.fields.get("protocol") == "xmpp"
    # the user accepts the change explicitly; then the new profile is the pin
    r = client(world, [url], state, accept_change=True).resolve("dave@id.bit")
    assert dict(r.endpoints) == {"email": "dave@example.org"}
    client(world, [url], state).resolve("dave@id.bit")


def test_header_without_enough_work_is_rejected(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy

    def lie(b: ProofBundle) -> ProofBundle:
        assert b.spv is not None
        hdr = bytearray(b.spv.header)
        hdr[72:76] = (0x217FFFFF).to_bytes(4, "little")  # easier than regtest's PoW limit
        return replace(b, spv=replace(b.spv, header=bytes(hdr)))

    p.rewrite = edit_bundle(lie)
    expect(client(world, [url], tmp_path / "s.json"), "alice@id.bit", ErrorCode.BUNDLE_WEAK_HEADER)


def test_self_mined_block_at_a_real_height_is_rejected_with_the_header_chain(world: World, proxy: tuple[Proxy, str],
                                                                            tmp_path: Path) -> None:
    from tests.integration.test_header_chain import forged_block

    p, url = proxy
    p.rewrite = edit_bundle(forged_block)  # the name tx alone in a low-work block the server mined itself
    assert client(world, [url], tmp_path / "off.json").resolve("alice@id.bit").present  # its work alone passes
    expect(client(world, [url], tmp_path / "s.json", header_chain=True), "alice@id.bit", ErrorCode.BUNDLE_HEADER_MISMATCH)


def test_missing_witness_quorum_and_stale_answers_are_refused(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    _, url = proxy
    w = note_mod.signer_from_seed("witness.example", bytes([5]) * 32, note_mod.ALG_COSIGNATURE_V1)
    expect(client(world, [url], tmp_path / "s.json", witnesses=[w.verifier], min_witnesses=1), "alice@id.bit",
           ErrorCode.WITNESS_QUORUM)
    expect(client(world, [url], tmp_path / "t.json", max_age_s=60, clock=lambda: 4_000_000_000.0), "alice@id.bit",
           ErrorCode.CLIENT_STALE)


def test_unknown_log_key_is_rejected(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    _, url = proxy
    other = note_mod.signer_from_seed(world.vkey.name, bytes([6]) * 32).verifier
    c = Client([url], state=ClientState.load(tmp_path / "s.json"), log_verifiers=[other], network="regtest")
    expect(c, "alice@id.bit", ErrorCode.NOTE_UNKNOWN_KEY)
    # a server that publishes no /v1/log/key leaves a client without --log-key nothing to trust
    p, _ = proxy
    p.rewrite = lambda path, qs, st, body: (404, b"{}") if path == "/v1/log/key" else (st, body)
    none = Client([url], state=ClientState.load(tmp_path / "t.json"), network="regtest")
    expect(none, "alice@id.bit", ErrorCode.CLIENT_NO_LOG_KEY)


def test_trust_on_first_use_pins_the_published_key(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    state = tmp_path / "s.json"
    # no --log-key: the key served at /v1/log/key is tried and, once a checkpoint verifies under it, pinned
    r = Client([url], state=ClientState.load(state), network="regtest").resolve("alice@id.bit")
    assert r.present
    assert ClientState.load(state).log_keys(url) == (world.vkey,)
    assert p.client.get("/v1/log/key").data.decode().strip() == world.demo.log_vkey
    # later the server (or someone in the middle) presents another key and signs with it: refused
    other = note_mod.signer_from_seed(world.vkey.name, bytes([8]) * 32)

    def resign(b: ProofBundle) -> ProofBundle:
        text, _ = note_mod.split_note(b.checkpoint)
        return replace(b, checkpoint=note_mod.sign_note(text, other))

    bundle_rw = edit_bundle(resign)

    def rw(path: str, qs: str, status: int, body: bytes) -> tuple[int, bytes]:
        if path == "/v1/log/key":
            return 200, note_mod.encode_vkey(other.verifier).encode()
        return bundle_rw(path, qs, status, body)

    p.rewrite = rw
    expect(Client([url], state=ClientState.load(state), network="regtest"), "alice@id.bit",
           ErrorCode.CLIENT_LOG_KEY_CHANGED)
    assert ClientState.load(state).log_keys(url) == (world.vkey,)  # the pin is unchanged


def test_cbor_bundle_encoding_is_compact(world: World) -> None:
    b, _ = _reader(world).bundle("alice@id.bit")
    assert len(encode_bundle(b)) <= 3000


def test_log_key_change_after_first_use_is_rejected(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    state = tmp_path / "s.json"
    client(world, [url], state).resolve("alice@id.bit")  # the key is now trusted for this server
    other = note_mod.signer_from_seed(world.vkey.name, bytes([7]) * 32)

    def resign(b: ProofBundle) -> ProofBundle:
        text, _ = note_mod.split_note(b.checkpoint)
        return replace(b, checkpoint=note_mod.sign_note(text, other))

    p.rewrite = edit_bundle(resign)
    c = Client([url], state=ClientState.load(state), network="regtest")
    expect(c, "alice@id.bit", ErrorCode.CLIENT_LOG_KEY_CHANGED)


# --- private chains (local@<key>.key) ----------------------------------------------------------


@dataclass
class Erin:
    address: str
    story: list[ChainEntry]  # genesis -> update -> rotation to the committed key
    old_answer: bytes  # the honest answer when only genesis and update were logged
    keys: tuple[nacl.signing.SigningKey, ...]


@pytest.fixture(scope="module")
def erin(world: World) -> Erin:
    k1, k2, k3 = (nacl.signing.SigningKey(bytes([40 + i]) * 32) for i in range(3))
    address = f"erin@{encode_key_domain(bytes(k1.verify_key))}"
    g = make_entry(k1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(k2.verify_key)),
                   body={"endpoints": {"email": "erin@example.org"}})
    u = make_entry(k1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next,
                   body={"endpoints": {"email": "erin@example.org", "xmpp": "erin@example.org"}})
    r = make_entry(k2, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=commit_key(bytes(k3.verify_key)),
                   body={"endpoints": {"email": "erin@example.org", "xmpp": "erin@example.org"}})
    assert submit_chain(world.demo.url, address, (g, u)) == 2
    old = world.app.test_client().get(f"/v1/resolve/{address}").data
    assert submit_chain(world.demo.url, address, (g, u, r)) == 3
    return Erin(address=address, story=[g, u, r], old_answer=old, keys=(k1, k2, k3))


def test_private_chain_identity_verifies_through_the_client(world: World, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    r = client(world, [url], tmp_path / "s.json").resolve(CHAIN_ADDRESS)
    assert r.present and r.chain_seq == 2 and dict(r.endpoints)["matrix"] == "@dave:example.net"
    assert r.profile is not None and r.profile.key == bytes(_key(12).verify_key)  # rotated, proven from genesis
    # a server that leaves the entries out of the bundle: the client fetches GET /v1/chains and checks them
    p.rewrite = edit_bundle(lambda b: replace(b, chain=()))
    r = client(world, [url], tmp_path / "t.json").resolve(CHAIN_ADDRESS)
    assert r.chain_seq == 2 and r.profile is not None and r.profile.key == bytes(_key(12).verify_key)
    pin = ClientState.load(tmp_path / "t.json").pin(CHAIN_ADDRESS)
    assert pin is not None and pin.chain_seq == 2


def test_older_chain_prefix_is_rejected(world: World, erin: Erin, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    state = tmp_path / "s.json"
    assert client(world, [url], state).resolve(erin.address).chain_seq == 2
    # the whole older answer (its checkpoint, leaf, map proof and two-entry chain): a rollback
    p.rewrite = lambda path, qs, st, body: (200, erin.old_answer) if path.startswith("/v1/resolve/") else (st, body)
    err = expect(client(world, [url], state), erin.address, ErrorCode.CHECKPOINT_ROLLBACK)
    assert_evidence(world, err)
    # the older leaf, inclusion, stale map proof and chain prefix under the current checkpoint: not the latest
    old = bundle_from_json(json.loads(erin.old_answer)["bundle"])
    assert old.leaf_index is not None and len(old.chain) == 2
    r = _reader(world)
    size = note_mod.open_checkpoint(json.loads(p.client.get(f"/v1/resolve/{erin.address}").data)["bundle"]["checkpoint"],
                                    [world.vkey]).checkpoint.size
    inclusion = r.log.inclusion_proof(old.leaf_index, size)
    p.rewrite = edit_bundle(lambda b: replace(b, leaf=old.leaf, leaf_index=old.leaf_index, inclusion=inclusion,
                                              map_proof=old.map_proof, chain=old.chain))
    expect(client(world, [url], tmp_path / "fresh.json"), erin.address, ErrorCode.MAP_BAD_PROOF)


def test_dropped_latest_entry_is_rejected(world: World, erin: Erin, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    p.rewrite = edit_bundle(lambda b: replace(b, chain=b.chain[:-1]))  # the leaf still names the rotation
    err = expect(client(world, [url], tmp_path / "s.json"), erin.address, ErrorCode.BUNDLE_BAD_CHAIN)
    assert "end at the leaf" in err.message


def test_forked_or_rewritten_chain_is_rejected(world: World, erin: Erin, proxy: tuple[Proxy, str], tmp_path: Path) -> None:
    p, url = proxy
    k1, k2, _ = erin.keys
    g, u, _ = erin.story
    # a validly signed alternative rotation (other next key, other endpoints) that the log never saw
    fork = make_entry(k2, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE,
                      next_commitment=commit_key(bytes(nacl.signing.SigningKey(bytes([49]) * 32).verify_key)),
                      body={"endpoints": {"email": "mallory@evil.example"}})
    forked = (g.encode(), u.encode(), fork.encode())
    p.rewrite = edit_bundle(lambda b: replace(b, chain=forked))
    expect(client(world, [url], tmp_path / "s.json"), erin.address, ErrorCode.BUNDLE_BAD_CHAIN)
    # the same fork served from GET /v1/chains for a bundle that leaves the entries out
    bundle_rw = edit_bundle(lambda b: replace(b, chain=()))

    def rw(path: str, qs: str, status: int, body: bytes) -> tuple[int, bytes]:
        if path.startswith("/v1/chains/"):
            return 200, json.dumps({"address": erin.address, "flagged": False, "evidence": [],
                                    "entries": [base64.urlsafe_b64encode(e).decode().rstrip("=") for e in forked]}).encode()
        return bundle_rw(path, qs, status, body)

    p.rewrite = rw
    expect(client(world, [url], tmp_path / "t.json"), erin.address, ErrorCode.BUNDLE_BAD_CHAIN)


def test_entry_signed_by_a_non_committed_key_is_rejected(world: World, erin: Erin, proxy: tuple[Proxy, str],
                                                         tmp_path: Path) -> None:
    p, url = proxy
    _, u, r = erin.story
    thief = nacl.signing.SigningKey(bytes([50]) * 32)  # not the key erin's chain committed to
    rot = make_entry(thief, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=r.next, body=r.body)
    p.rewrite = edit_bundle(lambda b: replace(b, chain=(*b.chain[:2], rot.encode())))
    err = expect(client(world, [url], tmp_path / "s.json"), erin.address, ErrorCode.BUNDLE_BAD_CHAIN)
    assert err.fields.get("cause") == ErrorCode.KEY_UNCOMMITTED
    # an update signed by the genesis key after the rotation: not the key in force
    late = make_entry(erin.keys[0], seq=2, prev=entry_hash(u), kind=EntryKind.UPDATE, next_commitment=u.next,
                      body={"endpoints": {"email": "mallory@evil.example"}})
    p.rewrite = edit_bundle(lambda b: replace(b, chain=(*b.chain[:2], late.encode())))
    expect(client(world, [url], tmp_path / "t.json"), erin.address, ErrorCode.BUNDLE_BAD_CHAIN)
