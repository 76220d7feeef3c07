"""Witness rule (pure) and its add-checkpoint handler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, ParseError, ValidationError, VerificationError
from waypost.tlog import note as n
from waypost.tlog import witness as w

ORIGIN = "waypost.test/log"
LOG = n.signer_from_seed(ORIGIN, b"\x11" * 32)
WIT = n.signer_from_seed("witness.test/w1", b"\x22" * 32, n.ALG_COSIGNATURE_V1)


def _hashes(k: int, salt: bytes = b"") -> list[bytes]:
    return [merkle.leaf_hash(salt + i.to_bytes(2, "big")) for i in range(k)]


def _signed(hashes: list[bytes], size: int, signer: n.Signer = LOG) -> n.SignedCheckpoint:
    cp = n.Checkpoint(origin=ORIGIN, size=size, root_hash=merkle.root(hashes[:size]))
    return n.SignedCheckpoint(checkpoint=cp, note=n.sign_note(n.encode_checkpoint(cp), signer))


def test_decide_first_then_consistent() -> None:
    h = _hashes(20)
    s1 = w.witness_decide(None, _signed(h, 5), 0, ())
    assert (s1.size, s1.root_hash) == (5, merkle.root(h[:5]))
    s2 = w.witness_decide(s1, _signed(h, 20), 5, merkle.consistency_proof(h, 5, 20))
    assert s2.size == 20
    assert w.witness_decide(s2, _signed(h, 20), 20, ()) == s2


def test_decide_refuses_inconsistent_checkpoint() -> None:
    h = _hashes(20)
    forked = h[:3] + _hashes(17, b"fork")
    state = w.witness_decide(None, _signed(h, 5), 0, ())
    with pytest.raises(VerificationError) as e:
        w.witness_decide(state, _signed(forked, 20), 5, merkle.consistency_proof(forked, 5, 20))
    assert e.value.code == ErrorCode.CHECKPOINT_INCONSISTENT
    with pytest.raises(VerificationError):  # even with the honest log's proof
        w.witness_decide(state, _signed(forked, 20), 5, merkle.consistency_proof(h, 5, 20))


def test_decide_conflicts_and_rollback() -> None:
    h = _hashes(20)
    state = w.witness_decide(None, _signed(h, 10), 0, ())
    with pytest.raises(ValidationError) as e:  # log thinks the witness is elsewhere
        w.witness_decide(state, _signed(h, 20), 5, merkle.consistency_proof(h, 5, 20))
    assert e.value.code == ErrorCode.WITNESS_CONFLICT and e.value.fields["size"] == 10
    with pytest.raises(ParseError):  # rollback: old size above the new checkpoint
        w.witness_decide(state, _signed(h, 8), 10, ())
    with pytest.raises(ValidationError) as e2:  # rollback presented with old size 0
        w.witness_decide(state, _signed(h, 8), 0, ())
    assert e2.value.code == ErrorCode.WITNESS_CONFLICT
    forked = _hashes(10, b"x")
    with pytest.raises(ValidationError) as e3:  # same size, different root
        w.witness_decide(state, _signed(forked, 10), 10, ())
    assert e3.value.code == ErrorCode.WITNESS_CONFLICT


def test_request_body_round_trip() -> None:
    h = _hashes(9)
    proof = merkle.consistency_proof(h, 3, 9)
    note = _signed(h, 9).note
    req = w.parse_add_checkpoint(w.encode_add_checkpoint(3, proof, note))
    assert (req.old_size, req.proof, req.note) == (3, proof, note)
    for bad in (b"old 01\n\n" + note.encode(), b"new 1\n\n" + note.encode(), b"old 1\nnot-base64!\n\n" + note.encode(), b"old 1\n"):
        with pytest.raises(ParseError):
            w.parse_add_checkpoint(bad)


def test_handler_statuses_and_persistence(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    wit = w.Witness(WIT, {ORIGIN: [LOG.verifier]}, state_path)
    h = _hashes(30)
    status, _, body = wit.handle(w.encode_add_checkpoint(0, (), _signed(h, 4).note), 1000)
    assert status == 200
    cosigned = n.add_signature_lines(_signed(h, 4).note, body.decode())
    n.verify_cosignatures(cosigned, [WIT.verifier], 1)
    # conflict: wrong old size -> 409 with the witness's size
    status, ctype, body = wit.handle(w.encode_add_checkpoint(2, merkle.consistency_proof(h, 2, 30), _signed(h, 30).note), 1001)
    assert (status, ctype, body) == (409, "text/x.tlog.size", b"4\n")
    # inconsistent -> 422, state unchanged
    forked = h[:2] + _hashes(28, b"f")
    status, _, _ = wit.handle(w.encode_add_checkpoint(4, merkle.consistency_proof(forked, 4, 30), _signed(forked, 30).note), 1002)
    assert status == 422 and wit.state(ORIGIN).size == 4  # type: ignore[union-attr]
    # unknown key -> 403, unknown origin -> 404, garbage -> 400
    assert wit.handle(w.encode_add_checkpoint(4, (), _signed(h, 30, n.signer_from_seed(ORIGIN, b"\x33" * 32)).note), 1)[0] == 403
    other = n.Checkpoint(origin="other.log", size=1, root_hash=h[0])
    assert wit.handle(w.encode_add_checkpoint(0, (), n.sign_note(n.encode_checkpoint(other), LOG)), 1)[0] == 404
    assert wit.handle(b"garbage", 1)[0] == 400
    # good extension; state survives a restart
    assert wit.handle(w.encode_add_checkpoint(4, merkle.consistency_proof(h, 4, 30), _signed(h, 30).note), 1003)[0] == 200
    reloaded = w.Witness(WIT, {ORIGIN: [LOG.verifier]}, state_path)
    assert reloaded.state(ORIGIN) == wit.state(ORIGIN) and reloaded.state(ORIGIN).size == 30  # type: ignore[union-attr]
    assert json.loads(state_path.read_text())[ORIGIN]["size"] == 30
    assert list(tmp_path.iterdir()) == [state_path]  # no temp files left behind
