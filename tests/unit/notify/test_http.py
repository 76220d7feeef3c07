"""Blueprint: subscribe/unsubscribe, SSE stream with Last-Event-ID resume, admin dead letters, problem+json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.fakereader import FakeReader, make_status
from tests.unit.notify.conftest import ALICE, chain, moved_per_block
from waypost.api.app import ApiConfig, create_app
from waypost.indexer.store import Store, open_store
from waypost.notify import outbox
from waypost.notify.delivery import AttemptResult, DeliveryConfig, run_delivery_once
from waypost.notify.http import create_blueprint
from waypost.notify.outbox import Claim
from waypost.notify.ssrf import parse_allow_list

NOW_S = 1_700_000_000
ADMIN = "admin-secret-token"
DNS = {"hooks.example.net": ("93.184.216.34",), "evil.example.net": ("10.0.0.5",)}


def _resolver(host: str, port: int) -> Sequence[str]:
    return DNS.get(host, ())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "i.db", "regtest")


@pytest.fixture
def client(store: Store, tmp_path: Path) -> FlaskClient:
    counter = iter(range(1, 10**6))
    bp = create_blueprint(
        db_path=tmp_path / "i.db",
        policy=parse_allow_list([]),
        resolver=_resolver,
        admin_token=ADMIN,
        clock=lambda: NOW_S,
        random_bytes=lambda n: bytes([next(counter) % 256]) * n,
        poll_s=0.01,
        heartbeat_s=0.02,
    )
    reader = FakeReader(status=make_status(10, tip_time_s=NOW_S - 60, checked_at_s=NOW_S - 5))
    app = create_app(reader_factory=lambda: reader, network="regtest", now=lambda: NOW_S, extra_blueprints=[bp], config=ApiConfig(status_cache_s=0))
    return app.test_client()


def _subscribe(client: FlaskClient, address: str = ALICE, url: str = "https://hooks.example.net/w") -> dict[str, object]:
    resp = client.post("/v1/subscriptions", json={"address": address, "url": url})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert isinstance(body, dict)
    return body


def _sse(client: FlaskClient, query: str = "wait=0", last: str | None = None) -> list[dict[str, str]]:
    headers = {"Last-Event-ID": last} if last is not None else {}
    resp = client.get(f"/v1/events?{query}", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    frames = []
    for block in resp.get_data(as_text=True).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":") and ": " in line)
        if "id" in fields:
            frames.append(fields)
    return frames


def test_subscribe_returns_secret_and_token_once_and_delete_needs_the_token(client: FlaskClient, store: Store) -> None:
    body = _subscribe(client, address="alice@Example.BIT")
    assert body["address"] == ALICE  # normalised
    assert str(body["secret"]).startswith("whsec_") and str(body["token"]).startswith("wpt_")
    sub_id = str(body["id"])
    subs = outbox.load_subscriptions(store.conn)
    assert [s.id for s in subs] == [sub_id] and subs[0].token_hash != body["token"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {body['token']}"}):
        resp = client.delete(f"/v1/subscriptions/{sub_id}", headers=headers)
        assert resp.status_code == 404 and resp.get_json()["code"] == "subscription.not-found"
    resp = client.delete(f"/v1/subscriptions/{sub_id}", headers={"Authorization": f"Bearer {body['token']}"})
    assert resp.status_code == 204
    assert outbox.load_subscriptions(store.conn) == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"address": ALICE, "url": "http://127.0.0.1/x"}, 422, "webhook.ssrf"),
        ({"address": ALICE, "url": "https://evil.example.net/x"}, 422, "webhook.ssrf"),
        ({"address": ALICE, "url": "http://169.254.169.254/"}, 422, "webhook.ssrf"),
        ({"address": ALICE, "url": "ftp://hooks.example.net/"}, 400, "webhook.bad-url"),
        ({"address": ALICE, "url": "https://nx.example.net/"}, 422, "webhook.unreachable"),
        ({"address": "not an address", "url": "https://hooks.example.net/"}, 400, "address.bad-syntax"),
        ({"address": ALICE}, 400, "subscription.bad"),
        ([1, 2], 400, "subscription.bad"),
    ],
)
def test_subscribe_refusals_are_problems(client: FlaskClient, payload: object, status: int, code: str) -> None:
    resp = client.post("/v1/subscriptions", json=payload)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json" and resp.get_json()["code"] == code


def test_sse_resume_returns_exactly_the_events_after_last_event_id(client: FlaskClient, store: Store) -> None:
    hook = outbox.make_outbox_hook(moved_per_block, clock=lambda: NOW_S)
    store.apply_batch(chain(5), hooks=[hook])
    frames = _sse(client)
    ids = [f"evt_{i:016d}" for i in range(1, 6)]
    assert [f["id"] for f in frames] == ids
    assert all(f["event"] == "address.moved" for f in frames)
    assert [json.loads(f["data"])["id"] for f in frames] == ids
    for k in range(0, 6):
        last = ids[k - 1] if k else ""
        got = [f["id"] for f in _sse(client, last=last)] if k else [f["id"] for f in _sse(client)]
        assert got == ids[k:], k
    assert [f["id"] for f in _sse(client, query=f"wait=0&last_event_id={ids[1]}")] == ids[2:]
    # new events appear after the resume point
    store.apply_batch(chain(8)[5:], hooks=[hook])
    assert [f["id"] for f in _sse(client, last=ids[-1])] == [f"evt_{i:016d}" for i in range(6, 9)]
    assert _sse(client, query="wait=0&address=bob@example.bit") == []
    assert len(_sse(client, query=f"wait=0&address={ALICE}")) == 8


def _text(chunk: object) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else str(chunk)


def test_sse_heartbeat_when_quiet(client: FlaskClient) -> None:
    text = client.get("/v1/events?wait=0.2").get_data(as_text=True)
    assert text.startswith("retry: ") and "id:" not in text
    assert ": keep-alive\n\n" in text


def test_sse_delivers_an_event_committed_while_streaming(client: FlaskClient, store: Store) -> None:
    resp = client.get("/v1/events?wait=30", buffered=False)
    chunks = iter(resp.response)
    first = next(chunks)
    assert _text(first).startswith("retry: ")
    store.apply_batch(chain(1), hooks=[outbox.make_outbox_hook(moved_per_block, clock=lambda: NOW_S)])
    seen = ""
    for chunk in chunks:  # ends at the event (the test does not wait for the 30 s bound)
        seen += _text(chunk)
        if "id: " in seen:
            break
    resp.close()
    assert "id: evt_0000000000000001\nevent: address.moved\n" in seen


@pytest.mark.parametrize(
    ("query", "last", "code"),
    [("wait=0", "evt_12", "event.bad-id"), ("wait=0", "42", "event.bad-id"), ("wait=-1", None, "api.bad-param"),
     ("wait=999", None, "api.bad-param"), ("wait=x", None, "api.bad-param"), ("wait=0&address=nope", None, "address.bad-syntax")],
)
def test_sse_bad_parameters(client: FlaskClient, query: str, last: str | None, code: str) -> None:
    resp = client.get(f"/v1/events?{query}", headers={"Last-Event-ID": last} if last else {})
    assert resp.status_code == 400 and resp.get_json()["code"] == code


def test_admin_endpoint_shows_dead_letters_only_with_the_token(client: FlaskClient, store: Store) -> None:
    _subscribe(client)
    store.apply_batch(chain(2), hooks=[outbox.make_outbox_hook(moved_per_block, clock=lambda: 0.0)])

    def failing(claim: Claim, now_s: float) -> AttemptResult:
        return AttemptResult(ok=False, status=500, error="HTTP 500")

    run_delivery_once(store.conn, failing, config=DeliveryConfig(max_attempts=1, lease_s=30, timeout_s=1), clock=lambda: 1.0)
    for headers in ({}, {"Authorization": "Bearer nope"}):
        assert client.get("/v1/admin/deliveries?state=dead", headers=headers).status_code == 404
    resp = client.get("/v1/admin/deliveries?state=dead", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 200
    items = resp.get_json()["deliveries"]
    assert sorted(i["event_id"] for i in items) == ["evt_0000000000000001", "evt_0000000000000002"]
    assert all(i["state"] == "dead" and i["attempts"] == 1 and i["last_error"] == "HTTP 500" for i in items)
    bad = client.get("/v1/admin/deliveries?state=zombie", headers={"Authorization": f"Bearer {ADMIN}"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "api.bad-param"


def test_openapi_lists_the_notify_paths(client: FlaskClient) -> None:
    spec = client.get("/v1/openapi.json").get_json()
    for path in ("/v1/subscriptions", "/v1/subscriptions/{id}", "/v1/events", "/v1/admin/deliveries"):
        assert path in spec["paths"], path
    assert "Subscription" in spec["components"]["schemas"]
