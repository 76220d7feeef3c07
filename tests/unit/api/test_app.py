"""App-wide behaviour: CORS, privacy of lookups, freshness enforcement, blueprints, readers per thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest
from flask import Blueprint, jsonify
from flask.testing import FlaskClient

from tests.fakereader import FakeReader, make_record, make_status
from waypost.api.app import ApiConfig, create_app, current_context

Client = Callable[..., FlaskClient]
NOW = 1_700_000_000

# a blueprint of "another part", with its OpenAPI paths beside it
OPENAPI_PATHS = {"/v1/extra": {"get": {"summary": "extra", "responses": {"200": {"description": "ok"}}}}}
OPENAPI_SCHEMAS = {"Extra": {"type": "object"}}
extra_bp = Blueprint("extra", __name__)


@extra_bp.get("/v1/extra")
def _extra() -> object:
    ctx = current_context()
    fresh = ctx.freshness()
    return jsonify({"network": ctx.network, "db": ctx.config.db_path, "tip": fresh.tip_height})


def test_cors_on_get_answers_and_errors(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"d/x", b"", 150))
    for url in ("/v1/status", "/v1/names/d/x", "/v1/names/d/nope", "/v1/names", "/v1/openapi.json"):
        resp = client.get(url)
        assert resp.headers["Access-Control-Allow-Origin"] == "*", url
    pre = client.options("/v1/names/d/x", headers={"Origin": "https://a.example", "Access-Control-Request-Headers": "waypost-require-fresh"})
    assert pre.headers["Access-Control-Allow-Origin"] == "*"
    assert "Waypost-Require-Fresh" in pre.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in client.post("/v1/status").headers


def test_lookups_are_not_logged_by_default(reader: FakeReader, make_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    reader.add(make_record(b"id/secret-person", b"", 150))
    with caplog.at_level(logging.DEBUG):
        make_client().get("/v1/names/id/secret-person")
        make_client().get("/v1/names/id/nobody-here")
    assert not [r for r in caplog.records if "secret-person" in r.getMessage() or "nobody-here" in r.getMessage()]


def test_access_log_only_when_operator_enables_it(reader: FakeReader, make_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    reader.add(make_record(b"id/secret-person", b"", 150))
    with caplog.at_level(logging.INFO, logger="waypost.api.access"):
        make_client(config=ApiConfig(access_log=True)).get("/v1/names/id/secret-person")
    assert any("id/secret-person" in r.getMessage() and "200" in r.getMessage() for r in caplog.records)


def test_freshness_in_every_answer_and_headers(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"d/x", b"", 150))
    for url in ("/v1/names/d/x", "/v1/names/d/x/history", "/v1/names"):
        resp = client.get(url)
        body = resp.get_json()
        assert body["freshness"]["tip_height"] == 162 and body["freshness"]["stale"] is False
        assert resp.headers["Waypost-Tip-Height"] == "162" and resp.headers["Waypost-Stale"] == "0"


def test_stale_index_is_served_but_can_be_refused(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"d/x", b"", 150))
    reader.status = make_status(150, node_height=162, tip_time_s=NOW, checked_at_s=NOW)
    resp = client.get("/v1/names/d/x")
    assert resp.status_code == 200
    assert resp.get_json()["freshness"]["reason"] == "index-behind-node" and resp.headers["Waypost-Stale"] == "1"
    for kwargs in ({"headers": {"Waypost-Require-Fresh": "1"}}, {"query_string": {"max_age": "600"}}):
        resp = client.get("/v1/names/d/x", **kwargs)  # type: ignore[arg-type]
        assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
        body = resp.get_json(force=True)
        assert body["code"] == "index.stale" and body["type"] == "/problems/index.stale" and body["reason"] == "index-behind-node"
        assert resp.headers["Retry-After"] == "30"
    # listing and history refuse too; /v1/status always answers
    assert client.get("/v1/names", headers={"Waypost-Require-Fresh": "1"}).status_code == 503
    assert client.get("/v1/names/d/x/history", headers={"Waypost-Require-Fresh": "1"}).status_code == 503
    assert client.get("/v1/status", headers={"Waypost-Require-Fresh": "1"}).status_code == 200
    # header value 0 means "not required"
    assert client.get("/v1/names/d/x", headers={"Waypost-Require-Fresh": "0"}).status_code == 200


def test_max_age_checks_last_contact_with_node(reader: FakeReader, make_client: Client) -> None:
    reader.add(make_record(b"d/x", b"", 150))
    reader.status = make_status(162, tip_time_s=NOW - 3000, checked_at_s=NOW - 40)
    client = make_client()
    assert client.get("/v1/names/d/x?max_age=60").status_code == 200
    resp = client.get("/v1/names/d/x?max_age=30")
    assert resp.status_code == 503 and resp.get_json(force=True)["reason"] == "max-age"
    assert client.get("/v1/names/d/x", headers={"Waypost-Require-Fresh": "1"}).status_code == 200


def test_status_fields(reader: FakeReader, client: FlaskClient) -> None:
    reader.status = make_status(160, node_height=162, node_headers=170, tip_time_s=NOW - 10, checked_at_s=NOW - 2)
    body = client.get("/v1/status").get_json()
    assert body["network"] == "regtest" and body["tip_height"] == 160
    assert body["tip_hash"] == reader.status.tip_hash[::-1].hex()  # type: ignore[index]
    assert body["sync_state"] == "node-syncing" and body["stale"] is True
    assert body["behind_blocks"] == 2 and body["node_height"] == 162 and body["node_headers"] == 170
    assert body["state_root"] == reader.status.state_root.hex()  # type: ignore[union-attr]
    assert body["tip_time"] == NOW - 10 and body["checked_at"] == NOW - 2


def test_status_of_empty_index(reader: FakeReader, client: FlaskClient) -> None:
    reader.status = make_status(-1, checked_at_s=NOW)
    body = client.get("/v1/status").get_json()
    assert body["sync_state"] == "empty" and body["tip_hash"] is None and body["state_root"] is None
    assert client.get("/v1/names/d/x").status_code == 404


def test_extra_blueprint_gets_context_and_openapi(reader: FakeReader) -> None:
    app = create_app(
        reader_factory=lambda: reader, network="regtest", now=lambda: NOW, extra_blueprints=[extra_bp],
        config=ApiConfig(db_path="/tmp/x.db"),
    )
    client = app.test_client()
    assert client.get("/v1/extra").get_json() == {"network": "regtest", "db": "/tmp/x.db", "tip": 162}
    spec = client.get("/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/v1/extra" in spec["paths"] and "/v1/names/{name}" in spec["paths"]
    assert "Extra" in spec["components"]["schemas"] and "Problem" in spec["components"]["schemas"]


def test_one_reader_per_thread() -> None:
    opened: list[int] = []

    def factory() -> FakeReader:
        opened.append(threading.get_ident())
        return FakeReader()

    app = create_app(reader_factory=factory, network="regtest", now=lambda: NOW)
    client = app.test_client()
    for _ in range(3):
        client.get("/v1/status")
    assert len(opened) == 1
    results: list[int] = []

    def other() -> None:
        results.append(app.test_client().get("/v1/status").status_code)

    t = threading.Thread(target=other)
    t.start()
    t.join(timeout=10)
    assert results == [200] and len(opened) == 2 and opened[0] != opened[1]


def test_require_fresh_header_must_be_0_or_1(client: FlaskClient) -> None:
    resp = client.get("/v1/names", headers={"Waypost-Require-Fresh": "yes"})
    assert resp.status_code == 400 and resp.get_json(force=True)["code"] == "api.bad-param"
    assert client.get("/v1/names?max_age=1000000000001").status_code == 400


def test_status_cache_reuses_status_within_ttl(reader: FakeReader, make_client: Client) -> None:
    reader.add(make_record(b"d/x", b"", 150))
    cached = make_client(config=ApiConfig(status_cache_s=3600))
    reader.calls.clear()
    for _ in range(3):
        assert cached.get("/v1/names/d/x").status_code == 200
    assert reader.calls.count("status") == 1
    uncached = make_client(config=ApiConfig(status_cache_s=0))
    reader.calls.clear()
    for _ in range(3):
        uncached.get("/v1/names/d/x")
    assert reader.calls.count("status") == 3


def test_openapi_describes_every_route(reader: FakeReader) -> None:
    app = create_app(reader_factory=lambda: reader, network="regtest", extra_blueprints=[extra_bp])
    spec = app.test_client().get("/v1/openapi.json").get_json()
    routes = {
        rule.rule.replace("<path:name>", "{name}")
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and "GET" in (rule.methods or ())
    }
    assert routes == set(spec["paths"]), routes ^ set(spec["paths"])
    for path, item in spec["paths"].items():
        for op in item.values():
            assert "200" in op["responses"], path


def test_wsgi_needs_waypost_db(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import waypost.api.wsgi as wsgi
    from waypost.registry.errors import ErrorCode, StoreError

    monkeypatch.delenv("WAYPOST_DB", raising=False)
    monkeypatch.setattr(wsgi, "_app", None)
    with pytest.raises(StoreError) as err:
        _ = wsgi.app
    assert err.value.code == ErrorCode.STORE_IO
    monkeypatch.setenv("WAYPOST_DB", "/nonexistent/waypost.db")
    with pytest.raises(StoreError) as err:
        wsgi.load_app()
    assert err.value.code == ErrorCode.STORE_IO
