"""Private-chain identities end to end: POST /v1/chains, GET it back, resolve and verify offline; forks and bad chains."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import replace

import nacl.signing
import pytest
from flask.testing import FlaskClient

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app
from waypost.registry.address import encode_key_domain
from waypost.registry.chain import (
    ChainEntry,
    DuplicityEvidence,
    EntryKind,
    commit_key,
    encode_canonical,
    entry_hash,
    make_entry,
    verify_duplicity_evidence,
)
from waypost.registry.errors import ErrorCode, VerificationError
from waypost.resolve import pchain
from waypost.resolve.bundle import ProofBundle, bundle_from_json, encode_bundle, parse_bundle, verify_bundle
from waypost.tlog import note as note_mod
from waypost.tlog.leaf import ChainSource


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, note_mod.Verifier]]:
    db = tmp_path_factory.mktemp("chains") / "index.db"
    index_recorded_chain(db)
    vkey = note_mod.parse_vkey((db.parent / "index.db.logkey.vkey").read_text().strip())
    yield build_app(str(db)).test_client(), vkey


def _key(n: int) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(hashlib.sha256(b"chain-test-%d" % n).digest())


def _addr(local: str, k: nacl.signing.SigningKey) -> str:
    return f"{local}@{encode_key_domain(bytes(k.verify_key))}"


def _story(k1: nacl.signing.SigningKey, k2: nacl.signing.SigningKey, k3: nacl.signing.SigningKey) -> list[ChainEntry]:
    """genesis (commits to k2) -> update -> rotate to k2 (commits to k3)."""
    g = make_entry(k1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(k2.verify_key)),
                   body={"name": "Pat", "endpoints": {"email": "pat@example.org"}})
    u = make_entry(k1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next,
                   body={"name": "Pat", "endpoints": {"email": "pat@example.org", "xmpp": "pat@example.org"}})
    r = make_entry(k2, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=commit_key(bytes(k3.verify_key)),
                   body={"name": "Pat", "endpoints": {"xmpp": "pat@example.org"}})
    return [g, u, r]


def _post(c: FlaskClient, address: str, entries: list[ChainEntry], *, json_form: bool = False) -> tuple[int, dict[str, object]]:
    if json_form:
        body = {"entries": [base64.urlsafe_b64encode(e.encode()).decode().rstrip("=") for e in entries]}
        resp = c.post(f"/v1/chains/{address}", json=body)
    else:
        resp = c.post(f"/v1/chains/{address}", data=encode_canonical([e.encode() for e in entries]),
                      content_type="application/cbor")
    return resp.status_code, resp.get_json()


def _resolve(c: FlaskClient, address: str, since: int | None = None) -> tuple[dict[str, object], ProofBundle]:
    resp = c.get(f"/v1/resolve/{address}" + ("" if since is None else f"?since={since}"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    return body, bundle_from_json(body["bundle"])


def test_submit_resolve_and_verify_offline(served: tuple[FlaskClient, note_mod.Verifier]) -> None:
    c, vkey = served
    k1, k2, k3 = _key(1), _key(2), _key(3)
    addr = _addr("pat", k1)
    story = _story(k1, k2, k3)
    # genesis alone (JSON form), then the whole chain (CBOR): only the new entries are appended
    assert _post(c, addr, story[:1], json_form=True)[0] == 201
    status, out = _post(c, addr, story)
    assert status == 201 and out["appended"] == 2 and out["length"] == 3
    assert _post(c, addr, story)[0] == 200  # resubmitting is a no-op
    body, bundle = _resolve(c, addr)
    assert body["endpoints"] == {"xmpp": "pat@example.org"}
    assert body["verdict"]["status"] == "active" and body["verdict"]["leaf_verdict"] == "accepted"
    assert len(encode_bundle(bundle)) <= 2048
    res = verify_bundle(bundle, address=addr, log_verifiers=[vkey], network="regtest")
    assert res.present and res.chain is not None and res.leaf is not None
    assert res.chain.key == bytes(k2.verify_key) and res.chain.seq == 2
    assert res.leaf.source == ChainSource(seq=2, entry_hash=entry_hash(story[2]))
    # the entries fetched separately verify a bundle that does not carry them
    got = c.get(f"/v1/chains/{addr}").get_json()
    fetched = [base64.urlsafe_b64decode(e + "=" * (-len(e) % 4)) for e in got["entries"]]
    assert fetched == [e.encode() for e in story] and got["flagged"] is False
    bare = replace(bundle, chain=())
    assert verify_bundle(bare, address=addr, log_verifiers=[vkey], network="regtest", chain_entries=fetched).chain == res.chain
    with pytest.raises(VerificationError) as ei:
        verify_bundle(bare, address=addr, log_verifiers=[vkey], network="regtest")
    assert ei.value.code == ErrorCode.BUNDLE_MISSING_CHAIN
    # CBOR round trip of the resolve answer
    cb = c.get(f"/v1/resolve/{addr}", headers={"Accept": "application/cbor"})
    assert cb.status_code == 200 and cb.mimetype == "application/cbor"


def test_lying_chain_bundles_are_rejected(served: tuple[FlaskClient, note_mod.Verifier]) -> None:
    c, vkey = served
    k1, k2, k3 = _key(11), _key(12), _key(13)
    addr = _addr("lie", k1)
    story = _story(k1, k2, k3)
    assert _post(c, addr, story)[0] == 201
    _, bundle = _resolve(c, addr)
    verify_bundle(parse_bundle(encode_bundle(bundle)), address=addr, log_verifiers=[vkey], network="regtest")
    stale = replace(bundle, chain=bundle.chain[:2])  # hides the rotation
    other = _story(k1, k2, _key(14))  # a different (unlogged) rotation
    swapped = replace(bundle, chain=tuple(e.encode() for e in other))
    flipped = bytearray(bundle.chain[1])
    flipped[-1] ^= 1
    tampered = replace(bundle, chain=(bundle.chain[0], bytes(flipped), bundle.chain[2]))
    for bad in (stale, swapped, tampered):
        with pytest.raises(VerificationError) as ei:
            verify_bundle(bad, address=addr, log_verifiers=[vkey], network="regtest")
        assert ei.value.code == ErrorCode.BUNDLE_BAD_CHAIN


def test_fork_gives_409_with_evidence_and_flags_the_address(served: tuple[FlaskClient, note_mod.Verifier]) -> None:
    c, vkey = served
    k1, k2 = _key(21), _key(22)
    addr = _addr("fork", k1)
    g, u, _ = _story(k1, k2, _key(23))
    assert _post(c, addr, [g, u])[0] == 201
    u2 = make_entry(k1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body={"name": "Eve"})
    status, out = _post(c, addr, [g, u2])
    assert status == 409 and out["code"] == ErrorCode.CHAIN_DUPLICITY
    evidence = DuplicityEvidence.parse(base64.b64decode(out["evidence"]))
    verify_duplicity_evidence(evidence)
    assert {entry_hash(evidence.a), entry_hash(evidence.b)} == {entry_hash(u), entry_hash(u2)}
    body, bundle = _resolve(c, addr)
    res = verify_bundle(bundle, address=addr, log_verifiers=[vkey], network="regtest")
    assert res.leaf is not None and res.leaf.verdict == "flagged" and ErrorCode.CHAIN_DUPLICITY in res.leaf.codes
    assert body["verdict"]["leaf_verdict"] == "flagged"
    assert c.get(f"/v1/chains/{addr}").get_json()["flagged"] is True
    # the stored chain is unchanged: the honest entry is still the latest
    assert res.chain is not None and res.chain.head == entry_hash(u)


@pytest.mark.parametrize("case", ["bad-signature", "bad-link", "wrong-genesis-key"])
def test_invalid_chains_are_422(served: tuple[FlaskClient, note_mod.Verifier], case: str) -> None:
    c, _ = served
    k1, k2 = _key(31), _key(32)
    addr = _addr("bad", k1)
    g, u, _ = _story(k1, k2, _key(33))
    if case == "bad-signature":
        entries = [g, replace(u, sig=bytes(64))]
        want = ErrorCode.CHAIN_BAD_SIGNATURE
    elif case == "bad-link":
        entries = [g, make_entry(k1, seq=1, prev=entry_hash(u), kind=EntryKind.UPDATE, next_commitment=g.next, body={})]
        want = ErrorCode.CHAIN_BAD_LINK
    else:
        entries = [make_entry(k2, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=None, body={})]
        want = ErrorCode.CHAIN_BAD_GENESIS
    status, out = _post(c, addr, entries)
    assert (status, out["code"]) == (422, want)
    assert c.get(f"/v1/chains/{addr}").status_code == 404


def test_rewriting_history_is_409(served: tuple[FlaskClient, note_mod.Verifier]) -> None:
    c, _ = served
    k1, k2 = _key(41), _key(42)
    addr = _addr("rewrite", k1)
    g, u, _ = _story(k1, k2, _key(43))
    assert _post(c, addr, [g, u])[0] == 201
    # a valid chain on its own (rotation at seq 1 by another key), but not an extension
    r = make_entry(k2, seq=1, prev=entry_hash(g), kind=EntryKind.ROTATE, next_commitment=None, body={})
    status, out = _post(c, addr, [g, r])
    assert (status, out["code"]) == (409, ErrorCode.CHAINS_NOT_EXTENSION)
    # a gap after the stored chain
    later = make_entry(k1, seq=3, prev=entry_hash(u), kind=EntryKind.UPDATE, next_commitment=g.next, body={})
    status, out = _post(c, addr, [later])
    assert (status, out["code"]) == (409, ErrorCode.CHAINS_NOT_EXTENSION)


def test_submission_limits_and_addresses(served: tuple[FlaskClient, note_mod.Verifier]) -> None:
    c, _ = served
    k1 = _key(51)
    status, out = _post(c, "alice@id.bit", _story(k1, _key(52), _key(53)))
    assert (status, out["code"]) == (400, ErrorCode.CHAINS_NOT_KEY_ADDRESS)
    big = c.post(f"/v1/chains/{_addr('big', k1)}", data=b"\x00" * (pchain.MAX_SUBMISSION_BYTES + 1),
                 content_type="application/cbor")
    assert big.status_code == 413 and big.get_json()["code"] == ErrorCode.CHAINS_TOO_LARGE
    junk = c.post(f"/v1/chains/{_addr('junk', k1)}", data=b"\xa0", content_type="application/cbor")
    assert junk.status_code == 400
    assert c.get(f"/v1/chains/{_addr('nobody', k1)}").status_code == 404


def test_chain_post_keeps_the_log_consistent(served: tuple[FlaskClient, note_mod.Verifier]) -> None:
    c, vkey = served
    _, before = _resolve(c, "alice@id.bit")
    prev = verify_bundle(before, address="alice@id.bit", log_verifiers=[vkey], network="regtest").checkpoint
    k1 = _key(61)
    assert _post(c, _addr("cons", k1), _story(k1, _key(62), _key(63))[:1])[0] == 201
    _, after = _resolve(c, "alice@id.bit", since=prev.checkpoint.size)
    res = verify_bundle(after, address="alice@id.bit", log_verifiers=[vkey], network="regtest", previous=prev)
    assert res.checkpoint.checkpoint.size > prev.checkpoint.size
    assert res.checkpoint.checkpoint.namecoin_height == prev.checkpoint.namecoin_height
