"""The WSGI fast path of ``GET /v1/names/{name}`` answers exactly what Flask's route answers."""

from __future__ import annotations

from flask import Flask
from hypothesis import example, given, settings
from hypothesis import strategies as hs
from werkzeug.test import EnvironBuilder

from tests.fakereader import FakeReader, make_record, make_status
from waypost.api.app import ApiConfig, create_app
from waypost.api.names import fast_show_name

NOW_S = 1_700_000_000

_READER = FakeReader(status=make_status(162, tip_time_s=NOW_S - 60, checked_at_s=NOW_S - 5))
for _n, _v in ((b"d/x", b'{"ip":"192.0.2.1"}'), ("d/ü".encode(), "wert ü \u2028".encode()), (b"d/\xff", b"\xff\xfe"),
               (b"a/b/history", b"v"), (b"d/x/", b"slash"), (b"d//x", b"double"), (b"d/\"q\\", b"\x00\x01")):
    _READER.add(make_record(_n, _v, 150))
_READER.add(make_record(b"d/old", b"v", 100))  # expired at the tip


def _call(app: Flask, environ: dict[str, object], *, fast: bool) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        seen.append((status, list(headers)))

    wsgi = app.wsgi_app if fast else Flask.wsgi_app.__get__(app)  # the unpatched Flask dispatch
    body = b"".join(wsgi(dict(environ), start_response))  # type: ignore[arg-type]
    return seen[0][0], seen[0][1], body


def _app(**cfg: object) -> Flask:
    return create_app(reader_factory=lambda: _READER, network="regtest", now=lambda: NOW_S,
                      config=ApiConfig(**cfg))  # type: ignore[arg-type]


_APP = _app()
_NO_CORS = _app(cors_allow_origin=None)


def _environ(path_bytes: bytes, **extra: str) -> dict[str, object]:
    env = EnvironBuilder(path="/", method=extra.pop("method", "GET")).get_environ()
    env["PATH_INFO"] = path_bytes.decode("latin-1")
    env.update(extra)
    return env


def test_fast_path_is_taken_and_identical() -> None:
    env = _environ(b"/v1/names/d/x")
    status, headers, body = _call(_APP, env, fast=True)
    assert status == "200 OK"
    assert (status, headers, body) == _call(_APP, env, fast=False)
    assert dict(headers)["Waypost-Tip-Height"] == "162" and b'"freshness":{"state":' in body
    ctx = _APP.config["WAYPOST"]
    assert fast_show_name(ctx, "/v1/names/d/x") is not None  # served without Flask
    for skipped in ("/v1/names/a/b/history", "/v1/names/nobody", "/v1/names//x", "/v1/names/"):
        assert fast_show_name(ctx, skipped) is None


def test_identical_without_cors_and_for_expired_names() -> None:
    for app, path in ((_NO_CORS, b"/v1/names/d/x"), (_APP, b"/v1/names/d/old")):
        env = _environ(path)
        assert _call(app, env, fast=True) == _call(app, env, fast=False)
    assert "Access-Control-Allow-Origin" not in dict(_call(_NO_CORS, _environ(b"/v1/names/d/x"), fast=True)[1])


def test_query_head_and_require_fresh_go_to_flask() -> None:
    for env in (_environ(b"/v1/names/d/x", QUERY_STRING="max_age=1"), _environ(b"/v1/names/d/x", method="HEAD"),
                _environ(b"/v1/names/d/x", HTTP_WAYPOST_REQUIRE_FRESH="1"),
                _environ(b"/v1/names/642f78", QUERY_STRING="name_encoding=hex")):
        assert _call(_APP, env, fast=True) == _call(_APP, env, fast=False)


@settings(max_examples=200, deadline=None)
@example(raw=b"d/x", suffix=b"")
@example(raw=b"d/x", suffix=b"/")
@example(raw=b"a/b", suffix=b"/history")
@example(raw=b"d/", suffix=b"/x")
@example(raw=b"d/\n", suffix=b"")
@example(raw=b"d/\xff", suffix=b"")
@example(raw="d/ü".encode(), suffix=b"")
@example(raw=b"d/\"q\\", suffix=b"")
@example(raw=b"", suffix=b"")
@given(raw=hs.one_of(hs.sampled_from([b"d/x", "d/ü".encode(), b"d/old", b"a/b/history", b"d//x"]), hs.binary(max_size=40)),
       suffix=hs.sampled_from([b"", b"/", b"/history", b"/history/", b"/x", b"\n"]))
def test_any_path_same_answer_with_and_without_fast_path(raw: bytes, suffix: bytes) -> None:
    env = _environ(b"/v1/names/" + raw + suffix)
    assert _call(_APP, env, fast=True) == _call(_APP, env, fast=False)
