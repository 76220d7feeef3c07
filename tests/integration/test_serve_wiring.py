"""``waypost serve`` wires every part's endpoints into one app: names, resolver, log, notifications."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app
from waypost.tlog.note import open_checkpoint, parse_vkey


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    db = tmp_path_factory.mktemp("serve") / "index.db"
    index_recorded_chain(db)
    yield db


def test_log_key_is_published_and_signs_the_checkpoint(indexed_db: Path) -> None:
    client = build_app(str(indexed_db)).test_client()
    key = client.get("/v1/log/key")
    assert key.status_code == 200 and key.mimetype == "text/plain"
    verifier = parse_vkey(key.get_data(as_text=True).strip())
    note = client.get("/v1/log/checkpoint")
    assert note.status_code == 200
    signed = open_checkpoint(note.get_data(as_text=True), [verifier])
    assert signed.checkpoint.size > 0


def test_resolve_and_log_proofs_are_served(indexed_db: Path) -> None:
    client = build_app(str(indexed_db)).test_client()
    assert client.get("/v1/resolve/alice@id.bit").status_code == 200
    assert client.get("/v1/log/proof/inclusion?index=0&size=1").status_code == 200


def test_notification_endpoints_are_served(indexed_db: Path) -> None:
    client = build_app(str(indexed_db)).test_client()
    # The SSRF guard refuses loopback webhooks unless the operator allow-lists them.
    answer = client.post("/v1/subscriptions", json={"address": "alice@id.bit", "url": "http://127.0.0.1:9/hook"})
    assert answer.status_code in (400, 422) and answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "webhook.ssrf"
    events = client.get("/v1/events?wait=0")
    assert events.status_code == 200 and events.mimetype == "text/event-stream"


def test_openapi_lists_every_part(indexed_db: Path) -> None:
    spec = build_app(str(indexed_db)).test_client().get("/v1/openapi.json").get_json()
    for path in ("/v1/names/{name}", "/v1/resolve/{address}", "/v1/log/key", "/v1/log/checkpoint", "/v1/subscriptions"):
        assert path in spec["paths"], path


def test_witness_cosignatures_are_accepted_from_configured_witnesses(
    indexed_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from waypost.tlog import note

    witness = note.signer_from_seed("witness.test/w1", b"\x09" * 32, note.ALG_COSIGNATURE_V1)
    stranger = note.signer_from_seed("witness.test/w2", b"\x0a" * 32, note.ALG_COSIGNATURE_V1)
    monkeypatch.setenv("WAYPOST_WITNESSES", note.encode_vkey(witness.verifier))
    client = build_app(str(indexed_db)).test_client()
    log_key = parse_vkey(client.get("/v1/log/key").get_data(as_text=True).strip())
    signed = open_checkpoint(client.get("/v1/log/checkpoint").get_data(as_text=True), [log_key])
    refused = client.post("/v1/log/witness/cosignature", data=note.cosign(signed, stranger, 1_800_000_000))
    assert refused.status_code == 422
    ok = client.post("/v1/log/witness/cosignature", data=note.cosign(signed, witness, 1_800_000_000))
    assert ok.status_code == 200
    served = client.get("/v1/log/checkpoint").get_data(as_text=True)
    note.verify_cosignatures(served, [witness.verifier], 1)
