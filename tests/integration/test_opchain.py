"""Operation chains on the recorded regtest chain: /v1/resolve/{address}/operations and ``verify_operation_chain``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app
from waypost.indexer.names import NameOpKind
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.registry.model import Txid
from waypost.resolve.bundle import SpvProof, parse_bundle, encode_bundle, verify_bundle
from waypost.resolve.opchain import (
    OperationsPage,
    encode_operations,
    operations_from_json,
    operations_to_json,
    parse_operations,
    timeline_of,
    verify_operation_chain,
)
from waypost.resolve.pipeline import address_of_name, replay
from waypost.resolve import spv
from waypost.resolve.store import ResolveReader
from waypost.tlog import note as note_mod
from waypost.tlog.leaf import NamecoinSource


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, note_mod.Verifier]]:
    db = tmp_path_factory.mktemp("opchain") / "index.db"
    index_recorded_chain(db)
    vkey = note_mod.parse_vkey((db.parent / "index.db.logkey.vkey").read_text().strip())
    yield db, vkey


def _reader(db: Path) -> ResolveReader:
    return ResolveReader(sqlite3.connect(db, isolation_level=None), "regtest")


def _ops(r: ResolveReader, address: str) -> tuple[SpvProof, ...]:
    return r.operations(address).proofs


def test_every_recorded_address_chain_verifies(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, vkey = indexed
    r = _reader(db)
    seen = 0
    for rec in r.names.fetch_names(limit=1000):
        address = address_of_name(rec.name)
        if address is None:
            continue
        b, leaf = r.bundle(address)
        assert leaf is not None and isinstance(leaf.source, NamecoinSource)
        res = verify_bundle(parse_bundle(encode_bundle(b)), address=address, log_verifiers=[vkey], network="regtest")
        page = r.operations(address)
        # the current epoch only: from its name_firstupdate on (expiring.bit was registered twice)
        history = r.names.fetch_history(rec.name)
        epoch_ops = [h for h in history if h.epoch == history[-1].epoch]
        assert page.total == len(page.proofs) == len(epoch_ops) and page.start == 0
        ops = verify_operation_chain(page.proofs, name=rec.name, network="regtest", latest_txid=leaf.source.txid)
        assert [o.txid for o in ops] == [h.txid for h in epoch_ops]
        assert ops[0].kind is NameOpKind.FIRSTUPDATE and all(o.kind is NameOpKind.UPDATE for o in ops[1:])
        assert ops[-1].value == res.value and ops[-1].height == res.height and ops[-1].block_hash == res.block_hash
        # the proven key timeline is the one the server derives from its whole history of this epoch
        assert timeline_of(leaf.address, ops, network="regtest") == replay(leaf.address, epoch_ops)[-1][0].timeline
        seen += 1
    assert seen >= 10


def test_alice_chain_is_long_and_roundtrips(indexed: tuple[Path, note_mod.Verifier]) -> None:
    r = _reader(Path(indexed[0]))
    page = r.operations("alice@id.bit")
    assert page.total >= 5
    assert parse_operations(encode_operations(page)) == page
    assert operations_from_json(operations_to_json(page)) == page
    tail = r.operations("alice@id.bit", start=3)
    assert tail.start == 3 and tail.proofs == page.proofs[3:]
    assert r.operations("alice@id.bit", start=99).proofs == ()
    with pytest.raises(WaypostError) as ei:
        OperationsPage(address="a", total=1, start=0, proofs=page.proofs[:2])
    assert ei.value.code == ErrorCode.BUNDLE_BAD


def _expect(code: ErrorCode, proofs: tuple[SpvProof, ...], latest: Txid | None = None, name: bytes = b"id/alice") -> None:
    with pytest.raises(WaypostError) as ei:
        verify_operation_chain(proofs, name=name, network="regtest", latest_txid=latest)
    assert ei.value.code == code, ei.value


def _flip(data: bytes, i: int) -> bytes:
    b = bytearray(data)
    b[i] ^= 0x01
    return bytes(b)


def test_tampered_chains_are_rejected_by_code(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, _ = indexed
    r = _reader(db)
    good = _ops(r, "alice@id.bit")
    n = len(good)
    assert n >= 4
    ops = verify_operation_chain(good, name=b"id/alice", network="regtest")
    # a dropped middle op: the next update spends an output the chain does not show
    _expect(ErrorCode.OPCHAIN_CUSTODY_GAP, good[:2] + good[3:])
    # a dropped registration
    _expect(ErrorCode.OPCHAIN_NO_REGISTRATION, good[1:])
    # reordered ops
    _expect(ErrorCode.OPCHAIN_ORDER, good[:1] + (good[2], good[1]) + good[3:])
    # the same op twice (a tie is not an increase)
    _expect(ErrorCode.OPCHAIN_ORDER, good[:2] + good[1:])
    # an op of another name
    bob = _ops(r, "bob@id.bit")
    key = lambda p: (p.height, p.tx_index)  # noqa: E731
    intruder = next(p for p in bob if key(p) > key(good[0]))
    merged = tuple(sorted(good + (intruder,), key=key))
    assert merged.index(intruder) > 0
    _expect(ErrorCode.OPCHAIN_WRONG_NAME, merged)
    _expect(ErrorCode.OPCHAIN_WRONG_NAME, good, name=b"id/bob")
    # a flipped tx byte (inside the name value: it still parses, but no longer hashes to the branch)
    value_at = good[-1].tx.find(ops[-1].value[:8])
    assert value_at > 0
    flipped_tx = replace(good[-1], tx=_flip(good[-1].tx, value_at))
    _expect(ErrorCode.BUNDLE_BAD_SPV, good[:-1] + (flipped_tx,))
    # a flipped branch hash
    mid = good[n // 2]
    assert mid.branch
    flipped_branch = replace(mid, branch=(_flip(mid.branch[0], 0),) + mid.branch[1:])
    _expect(ErrorCode.BUNDLE_BAD_SPV, good[: n // 2] + (flipped_branch,) + good[n // 2 + 1 :])
    # a header with a weak target (easier than regtest's PoW limit)
    hdr = bytearray(good[0].header)
    hdr[72:76] = (0x217FFFFF).to_bytes(4, "little")
    _expect(ErrorCode.BUNDLE_WEAK_HEADER, (replace(good[0], header=bytes(hdr)),) + good[1:])
    # a header changed after it was mined (nonce): its merge-mining commitment no longer holds
    hdr = bytearray(good[1].header)
    hdr[76:80] = _flip(bytes(hdr[76:80]), 0)
    with pytest.raises(WaypostError) as ei:
        verify_operation_chain(good[:1] + (replace(good[1], header=bytes(hdr)),) + good[2:], name=b"id/alice",
                               network="regtest")
    assert ei.value.code in (ErrorCode.BUNDLE_WEAK_HEADER, ErrorCode.BUNDLE_BAD_SPV) or ei.value.code.startswith("auxpow.")
    # a chain not ending at the bundle's latest op
    _expect(ErrorCode.OPCHAIN_NOT_LATEST, good[:-1], latest=ops[-1].txid)
    verify_operation_chain(good, name=b"id/alice", network="regtest", latest_txid=ops[-1].txid)
    # a transaction that is not a Namecoin name transaction (version changed)
    _expect(ErrorCode.OPCHAIN_NOT_NAME_OP, good[:1] + (replace(good[1], tx=_flip(good[1].tx, 0)),) + good[2:])
    # an empty chain
    _expect(ErrorCode.OPCHAIN_EMPTY, ())
    # a header chain that disagrees
    with pytest.raises(WaypostError) as ei:
        verify_operation_chain(good, name=b"id/alice", network="regtest", header_chain=lambda h: Txid(bytes(32)))  # type: ignore[arg-type,return-value]
    assert ei.value.code == ErrorCode.BUNDLE_HEADER_MISMATCH


def test_http_operations_endpoint(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, _ = indexed
    client = build_app(str(db)).test_client()
    r = _reader(db)
    resp = client.get("/v1/resolve/alice@id.bit/operations")
    assert resp.status_code == 200
    page = operations_from_json(resp.get_json())
    assert page == r.operations("alice@id.bit")
    cbor = client.get("/v1/resolve/alice@id.bit/operations", headers={"Accept": "application/cbor"})
    assert cbor.status_code == 200 and cbor.mimetype == "application/cbor"
    assert parse_operations(cbor.data) == page
    tail = client.get("/v1/resolve/alice@id.bit/operations?start=2").get_json()
    assert tail["start"] == 2 and tail["total"] == page.total and len(tail["operations"]) == page.total - 2
    # local@name.bit is answered from the d/ name
    dom = client.get("/v1/resolve/www@example.bit/operations").get_json()
    assert dom["total"] >= 2
    verify_operation_chain(operations_from_json(dom).proofs, name=b"d/example", network="regtest")
    for path, status, code in (
        ("/v1/resolve/nobody@id.bit/operations", 404, "not-found"),
        ("/v1/resolve/alice@id.bit/operations?start=x", 400, "api.bad-param"),
        ("/v1/resolve/not%20an%20address/operations", 400, "address.bad-syntax"),
    ):
        resp = client.get(path)
        assert resp.status_code == status and resp.mimetype == "application/problem+json", path
        assert resp.get_json()["code"] == code
    # the resolve answer itself is unchanged by the new route
    assert client.get("/v1/resolve/alice@id.bit").status_code == 200


def test_a_second_registration_is_not_an_update(indexed: tuple[Path, note_mod.Verifier]) -> None:
    db, _ = indexed
    r = _reader(db)
    history = r.names.fetch_history(b"d/expiring")
    assert len({h.epoch for h in history}) == 2
    rows = [spv.fetch_tx(r.conn, h.txid, h.height) for h in history]
    proofs = tuple(SpvProof(height=x.height, header=x.header, tx=x.tx, tx_index=x.tx_index, branch=x.branch)
                   for x in rows if x is not None)
    assert len(proofs) == len(history)
    # the old epoch's registration followed by the new one: not a chain of custody
    _expect(ErrorCode.OPCHAIN_NOT_UPDATE, proofs, name=b"d/expiring")
    # the served chain is the current epoch only, and it verifies
    assert r.operations("expiring.bit").proofs == proofs[-1:]
    verify_operation_chain(proofs[-1:], name=b"d/expiring", network="regtest")
