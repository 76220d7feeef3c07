"""Resolve end to end on the recorded regtest chain: index with the resolver hook, build and verify bundles, HTTP."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app
from waypost.indexer.wire import sha256d
from waypost.registry.chain import decode_canonical
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.resolve.bundle import (
    ProofBundle,
    SpvProof,
    bundle_from_json,
    encode_bundle,
    parse_bundle,
    verify_bundle,
)
from waypost.resolve.pipeline import address_of_name
from waypost.resolve.store import ResolveReader
from waypost.tlog import note as note_mod


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, note_mod.Verifier]]:
    db = tmp_path_factory.mktemp("resolve") / "index.db"
    index_recorded_chain(db)
    vkey = note_mod.parse_vkey((db.parent / "index.db.logkey.vkey").read_text().strip())
    yield db, vkey


def _reader(db: Path) -> ResolveReader:
    return ResolveReader(sqlite3.connect(db, isolation_level=None), "regtest")


def _addresses(r: ResolveReader) -> list[str]:
    out = []
    for rec in r.names.fetch_names(limit=1000):
        a = address_of_name(rec.name)
        if a is not None:
            out.append(a if "@" in a else "www@" + a)
    return out


def test_every_indexed_address_verifies_offline(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, vkey = indexed
    r = _reader(db)
    addrs = _addresses(r)
    assert "alice@id.bit" in addrs and len(addrs) >= 10
    for a in addrs:
        b, leaf = r.bundle(a)
        assert leaf is not None and b.spv is not None
        res = verify_bundle(parse_bundle(encode_bundle(b)), address=a, log_verifiers=[vkey], network="regtest")
        assert res.present and res.value is not None and res.height == leaf.source.height  # type: ignore[union-attr]
        assert len(encode_bundle(b)) <= 3000


def test_absent_address_verifies_as_absent(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, vkey = indexed
    b, leaf = _reader(db).bundle("nobody@id.bit")
    assert leaf is None
    assert verify_bundle(b, address="nobody@id.bit", log_verifiers=[vkey], network="regtest").present is False


def _expect(code: ErrorCode, b: ProofBundle, vkey: note_mod.Verifier, address: str = "alice@id.bit", **kw: object) -> None:
    with pytest.raises(WaypostError) as ei:
        verify_bundle(b, address=address, log_verifiers=[vkey], network="regtest", **kw)  # type: ignore[arg-type]
    assert ei.value.code == code, ei.value


def test_lying_server_cases_are_rejected(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, vkey = indexed
    r = _reader(db)
    good, leaf = r.bundle("alice@id.bit")
    assert leaf is not None and good.spv is not None and good.leaf is not None
    # changed value: another tx (bob's) under alice's leaf
    bob, _ = r.bundle("bob@id.bit")
    assert bob.spv is not None
    _expect(ErrorCode.BUNDLE_BAD_SPV, replace(good, spv=bob.spv), vkey)
    # registered name claimed absent: alice's absence is not what the map says
    _expect(ErrorCode.MAP_BAD_PROOF, replace(good, leaf=None, leaf_index=None, inclusion=(), spv=None), vkey)
    # newer value hidden behind an older leaf: alice's first leaf with a valid inclusion proof
    size = r.log.size()
    old_idx = next(i for i in range(size) if r.log.leaf(i) != good.leaf and b"alice@id.bit" in r.log.leaf(i))
    older = replace(good, leaf=r.log.leaf(old_idx), leaf_index=old_idx, inclusion=r.log.inclusion_proof(old_idx, size))
    _expect(ErrorCode.MAP_BAD_PROOF, older, vkey)
    # stale checkpoint: the client already saw a larger tree
    prev = note_mod.open_checkpoint(good.checkpoint, [vkey])
    bigger = replace(prev, checkpoint=replace(prev.checkpoint, size=prev.checkpoint.size + 5))
    _expect(ErrorCode.CHECKPOINT_ROLLBACK, good, vkey, previous=bigger)
    # forked log: the client's earlier checkpoint is not a prefix
    forked = replace(prev, checkpoint=replace(prev.checkpoint, size=3, root_hash=bytes(32)))
    b3, _ = r.bundle("alice@id.bit", since_size=3)
    _expect(ErrorCode.CHECKPOINT_INCONSISTENT, b3, vkey, previous=forked)
    real3 = replace(prev, checkpoint=replace(prev.checkpoint, size=3, root_hash=r.log.root_at(3)))
    verify_bundle(b3, address="alice@id.bit", log_verifiers=[vkey], network="regtest", previous=real3)
    # header without enough work: an easier target than regtest's limit / a hash over its target
    hdr = bytearray(good.spv.header)
    hdr[72:76] = (0x217FFFFF).to_bytes(4, "little")
    _expect(ErrorCode.BUNDLE_WEAK_HEADER, replace(good, spv=replace(good.spv, header=bytes(hdr))), vkey)
    # leaf of another address
    _expect(ErrorCode.BUNDLE_WRONG_ADDRESS, bob, vkey)
    # a header chain that disagrees
    _expect(ErrorCode.BUNDLE_HEADER_MISMATCH, good, vkey, header_chain=lambda h: bytes(32))


def _same_signature_bytes(note: str, i: int) -> bool:
    """A flip in a signature line's last base64 character that only touches unused pad bits.

    The decoded signature is unchanged (base64 malleability, not a forgery); which
    character that is depends on the random log key, so such flips are skipped.
    """
    line_start = note.rfind("\n", 0, i) + 1
    line_end = note.find("\n", i)
    line = note[line_start:line_end]
    if not line.startswith("\u2014 "):
        return False
    b64 = line.rsplit(" ", 1)[-1]
    j = i - line_start - (len(line) - len(b64))
    flipped = b64[:j] + chr(ord(b64[j]) ^ 1) + b64[j + 1 :]
    try:
        return base64.b64decode(flipped) == base64.b64decode(b64)
    except ValueError:
        return False


def test_any_flipped_bit_in_a_real_bundle_is_rejected(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, vkey = indexed
    good, _ = _reader(db).bundle("alice@id.bit")
    assert good.spv is not None
    parts: list[ProofBundle] = []
    for i in range(0, len(good.spv.tx), 7):
        tx = bytearray(good.spv.tx)
        tx[i] ^= 1
        parts.append(replace(good, spv=replace(good.spv, tx=bytes(tx))))
    # the 80-byte header (AuxPoW bytes: a changed parent still meets regtest's trivial target,
    # and some AuxPoW fields are unused by namecoin-core; wire's verify_auxpow tests cover them)
    for i in range(0, 80, 3):
        h = bytearray(good.spv.header)
        h[i] ^= 0x10
        parts.append(replace(good, spv=replace(good.spv, header=bytes(h))))
    for j in range(len(good.spv.branch)):
        br = list(good.spv.branch)
        br[j] = bytes([br[j][0] ^ 1]) + br[j][1:]
        parts.append(replace(good, spv=replace(good.spv, branch=tuple(br))))
    parts.append(replace(good, spv=replace(good.spv, tx_index=good.spv.tx_index ^ 1)))
    for j in range(len(good.inclusion)):
        inc = list(good.inclusion)
        inc[j] = bytes([inc[j][0] ^ 1]) + inc[j][1:]
        parts.append(replace(good, inclusion=tuple(inc)))
    for j in range(len(good.map_proof.siblings)):
        sib = list(good.map_proof.siblings)
        sib[j] = bytes([sib[j][0] ^ 1]) + sib[j][1:]
        parts.append(replace(good, map_proof=replace(good.map_proof, siblings=tuple(sib))))
    assert good.leaf is not None
    for i in range(0, len(good.leaf), 3):
        lf = bytearray(good.leaf)
        lf[i] ^= 1
        parts.append(replace(good, leaf=bytes(lf)))
    cp = good.checkpoint
    for i in range(0, len(cp), 4):
        if cp[i] in "\n" or _same_signature_bytes(cp, i):
            continue
        parts.append(replace(good, checkpoint=cp[:i] + chr(ord(cp[i]) ^ 1) + cp[i + 1 :]))
    assert len(parts) > 100
    r = _reader(db)
    chain = {h: bytes(sha256d(raw[:80])) for h, raw in r.headers(0, 2000)}
    passed = []
    for n, bad in enumerate(parts):
        try:
            # a client holding the header chain (regtest PoW is trivial: a changed header can still meet it)
            verify_bundle(bad, address="alice@id.bit", log_verifiers=[vkey], network="regtest", header_chain=chain.get)
        except WaypostError:
            continue
        passed.append(n)
    assert passed == []


def test_http_resolve_headers_diagnose_webfinger_nostr(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, vkey = indexed
    client = build_app(str(db)).test_client()
    resp = client.get("/v1/resolve/alice@id.bit")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["address"] == "alice@id.bit"
    b = bundle_from_json(body["bundle"])
    res = verify_bundle(b, address=body["resolved_address"], log_verifiers=[vkey], network="regtest")
    assert res.value is not None and body["value"]["text"] == res.value.decode()
    cb = client.get("/v1/resolve/alice@id.bit", headers={"Accept": "application/cbor"})
    assert cb.mimetype == "application/cbor"
    hops = decode_canonical(cb.data)["hops"]  # type: ignore[index]
    verify_bundle(parse_bundle(hops[-1][2]), address="alice@id.bit", log_verifiers=[vkey], network="regtest")
    missing = client.get("/v1/resolve/nobody@id.bit")
    assert missing.status_code == 404
    absent = parse_bundle(base64.b64decode(missing.get_json()["bundle_cbor"]))
    assert not verify_bundle(absent, address="nobody@id.bit", log_verifiers=[vkey], network="regtest").present
    assert client.get("/v1/resolve/not an address").status_code == 400
    h = client.get("/v1/headers?start=0&count=3").get_json()
    assert [x["height"] for x in h["headers"]] == [0, 1, 2]
    assert client.get("/v1/headers?count=999999").status_code == 400
    d = client.get("/v1/diagnose/alice@id.bit").get_json()
    assert d["findings"] and all({"level", "code", "message"} <= set(f) for f in d["findings"])
    assert client.get("/v1/diagnose/nobody@id.bit").get_json()["findings"][0]["code"] == "not-found"
    wf = client.get("/.well-known/webfinger?resource=acct:alice@id.bit")
    assert wf.status_code == 200 and wf.headers["Access-Control-Allow-Origin"] == "*"
    assert wf.headers["Content-Type"].startswith("application/jrd+json")
    assert wf.get_json()["subject"] == "acct:alice@id.bit"
    assert client.get("/.well-known/webfinger").status_code == 400
    assert client.get("/.well-known/webfinger?resource=acct:nobody@id.bit").status_code == 404
    nj = client.get("/.well-known/nostr.json?name=nobody")
    assert nj.status_code == 200 and nj.get_json() == {"names": {}, "relays": {}}
    assert nj.headers["Access-Control-Allow-Origin"] == "*"
    spec = client.get("/v1/openapi.json").get_json()
    assert "/v1/resolve/{address}" in spec["paths"] and "/.well-known/webfinger" in spec["paths"]
    _ = SpvProof
