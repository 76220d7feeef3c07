"""The client's state file: round trip, atomic writes, corrupt files are clear errors, evidence files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from waypost.client.core import Pin
from waypost.client.state import ClientState, load_evidence, save_evidence
from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, StoreError, WaypostError
from waypost.tlog import note as note_mod

SIGNER = note_mod.signer_from_seed("log.example", bytes([1]) * 32)


def note(size: int, salt: bytes = b"") -> str:
    c = note_mod.Checkpoint(origin="o/x", size=size, root_hash=merkle.root([merkle.leaf_hash(salt + bytes([i])) for i in range(size)]))
    return note_mod.sign_note(note_mod.encode_checkpoint(c), SIGNER)


def test_missing_file_is_empty_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "d" / "client.json"
    s = ClientState.load(path)
    assert s.checkpoint_note("http://a") is None and s.pin("a@id.bit") is None
    s.set_checkpoint_note("http://a", note(3))
    s.trust_log_key("http://a", SIGNER.verifier)
    s.trust_log_key("http://a", SIGNER.verifier)
    s.set_pin(Pin(address="a@id.bit", value=b"{}", epoch=1, leaf_index=4))
    chain_pin = Pin(address="p@x.key", value=b"{}", epoch=0, leaf_index=7, chain_seq=2, chain_head=bytes(range(32)))
    s.set_pin(chain_pin)
    s.save()
    t = ClientState.load(path)
    assert t.checkpoint_note("http://a") == note(3)
    assert t.log_keys("http://a") == (SIGNER.verifier,)
    assert t.pin("a@id.bit") == Pin(address="a@id.bit", value=b"{}", epoch=1, leaf_index=4)
    assert t.pin("p@x.key") == chain_pin
    assert t.to_json() == s.to_json()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_save_is_atomic_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "client.json"
    s = ClientState.load(path)
    s.set_checkpoint_note("http://a", note(3))
    s.save()
    before = path.read_bytes()
    s.set_checkpoint_note("http://a", note(5))

    def boom(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(StoreError) as ei:
        s.save()
    assert ei.value.code == ErrorCode.STORE_IO
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["client.json"]  # no temp file left behind


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"version": 99}',
        b'{"version": 1, "servers": {"http://a": {"checkpoint": "garbage"}}}',
        b'{"version": 1, "log_keys": {"http://a": ["nope"]}}',
        b'{"version": 1, "pins": {"a@id.bit": {"value": "!!", "epoch": 0, "leaf_index": 0}}}',
        b'{"version": 1, "pins": {"a@id.bit": {"epoch": 0}}}',
        b'{"version": 1, "servers": []}',
    ],
)
def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "client.json"
    path.write_bytes(content)
    with pytest.raises(WaypostError) as ei:
        ClientState.load(path)
    assert ei.value.code == ErrorCode.CLIENT_STATE_CORRUPT
    assert str(path) in ei.value.message
    assert path.read_bytes() == content  # never silently reset


def test_evidence_file_round_trips_and_verifies(tmp_path: Path) -> None:
    old = note_mod.open_checkpoint(note(8), [SIGNER.verifier])
    new = note_mod.open_checkpoint(note(8, b"fork"), [SIGNER.verifier])
    with pytest.raises(WaypostError) as ei:
        note_mod.check_consistency(old, new, ())
    ev = ei.value.fields["evidence"]
    path = save_evidence(tmp_path / "evidence", ev, server="http://a", now_s=1)
    assert json.loads(path.read_text())["server"] == "http://a"
    back = load_evidence(path)
    assert back == ev
    note_mod.verify_evidence(back, [SIGNER.verifier])
