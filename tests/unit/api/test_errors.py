"""The one error handler: every error class as RFC 9457 problem+json; docs/problems.md is complete."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Blueprint
from flask.testing import FlaskClient

from waypost.api.errors import render_problems_table
from waypost.registry.errors import (
    ChainError,
    ErrorCode,
    NotFoundError,
    ParseError,
    StoreError,
    UpstreamError,
    ValidationError,
    VerificationError,
    WaypostError,
)

Client = Callable[..., FlaskClient]
DOCS = Path(__file__).resolve().parents[3] / "docs" / "problems.md"

SECRET = "s3cr3t-rpc-password"
_boom = Blueprint("boom", __name__)
_RAISE: dict[str, Exception] = {
    "parse": ParseError(ErrorCode.WIRE_TRUNCATED, "needs 32 bytes at offset 80", offset=80),
    "validation": ValidationError(ErrorCode.NAME_TOO_LONG, "256 bytes", got=256),
    "verification": VerificationError(ErrorCode.MERKLE_BAD_PROOF, "proof does not verify"),
    "notfound": NotFoundError(ErrorCode.NOT_FOUND, "no such thing"),
    "upstream": UpstreamError(ErrorCode.RPC_CONNECT, f"http://user:{SECRET}@127.0.0.1 refused"),
    "chain": ChainError(ErrorCode.CHAIN_NO_UNDO, f"undo missing {SECRET}"),
    "store": StoreError(ErrorCode.STORE_CORRUPT, f"/var/lib/{SECRET}.db is corrupt"),
    "foreign": KeyError(SECRET),
    "zero": ZeroDivisionError(SECRET),
}


@_boom.get("/boom/<kind>")
def _raise(kind: str) -> str:
    raise _RAISE[kind]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("parse", 400, "wire.truncated"),
        ("validation", 422, "name.too-long"),
        ("verification", 422, "merkle.bad-proof"),
        ("notfound", 404, "not-found"),
        ("upstream", 503, "rpc.connect"),
        ("chain", 500, "internal"),
        ("store", 500, "internal"),
        ("foreign", 500, "internal"),
        ("zero", 500, "internal"),
    ],
)
def test_problem_json_per_error_class(
    make_client: Client, caplog: pytest.LogCaptureFixture, kind: str, status: int, code: str
) -> None:
    client = make_client(extra_blueprints=[_boom])
    with caplog.at_level(logging.DEBUG):
        resp = client.get(f"/boom/{kind}")
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert body["type"] == f"/problems/{code}" and body["code"] == code and body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    text = resp.get_data(as_text=True)
    if status >= 500:
        assert SECRET not in text and "Traceback" not in text  # generic detail only
    if status == 500:
        # the traceback goes to the server log instead
        assert any(r.exc_info and r.levelno >= logging.ERROR for r in caplog.records)
    if status == 503:
        assert resp.headers["Retry-After"] == "30"
    else:
        assert "Retry-After" not in resp.headers
    if kind == "parse":
        assert body["detail"] == "needs 32 bytes at offset 80" and body["offset"] == 80


def test_unknown_route_and_method_are_problems(client: FlaskClient) -> None:
    resp = client.get("/nope")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert resp.get_json(force=True)["code"] == "not-found"
    resp = client.post("/v1/status")
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json"
    assert resp.get_json(force=True)["code"] == "api.method-not-allowed"
    assert "GET" in resp.headers["Allow"]


def test_reserved_members_are_not_overwritten(make_client: Client) -> None:
    bp = Blueprint("clash", __name__)

    @bp.get("/clash")
    def clash() -> str:
        raise ParseError(ErrorCode.BAD_REQUEST, "bad", status=200, type="x", title="t", blob=b"\x00")

    body = make_client(extra_blueprints=[bp]).get("/clash").get_json(force=True)
    assert (body["status"], body["type"], body["title"]) == (400, "/problems/request.bad", "Request: bad")
    assert "blob" not in body  # non-JSON scalars are dropped


def test_docs_problems_lists_every_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [str(c) for c in ErrorCode if f"`/problems/{c}`" not in text]
    assert not missing, f"docs/problems.md lacks {missing}: run .venv/bin/python -m waypost.api.problemdoc"
    assert render_problems_table() in text, "docs/problems.md is out of date: run .venv/bin/python -m waypost.api.problemdoc"


def test_generic_waypost_error_is_500(make_client: Client) -> None:
    bp = Blueprint("gen", __name__)

    @bp.get("/gen")
    def gen() -> str:
        raise WaypostError(ErrorCode.INTERNAL, "x")

    assert make_client(extra_blueprints=[bp]).get("/gen").status_code == 500
