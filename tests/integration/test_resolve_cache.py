"""The app's answer cache for /v1/resolve: replays exactly Flask's answer, and forgets it when the database changes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from tests.replaynode import regtest_vector_node
from waypost.api.app import ApiContext
from waypost.api.cli import build_app
from waypost.indexer.cli import main as index_main
from waypost.registry.address import encode_key_domain
from waypost.registry.chain import EntryKind, commit_key, encode_canonical, make_entry

Answer = tuple[str, list[tuple[str, str]], bytes]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("rcache") / "index.db"
    node, _ = regtest_vector_node()
    node.start()
    try:
        assert index_main(["--rpc-url", node.url, "--db", str(path), "--network", "regtest", "--once"]) == 0
    finally:
        node.stop()
    yield path


def _call(app: Flask, path: str, *, query: str = "", accept: str | None = None, uncached: bool = False) -> Answer:
    headers = [] if accept is None else [("Accept", accept)]
    env = EnvironBuilder(path=path, query_string=query, headers=headers).get_environ()
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: object = None) -> None:
        seen.append((status, list(hdrs)))

    wsgi = Flask.wsgi_app.__get__(app) if uncached else app.wsgi_app
    body = b"".join(wsgi(env, start_response))  # type: ignore[arg-type]
    return seen[0][0], seen[0][1], body


_CASES = [
    ("/v1/resolve/alice@id.bit", "", None),
    ("/v1/resolve/alice@id.bit", "", "application/json"),
    ("/v1/resolve/alice@id.bit", "", "application/cbor"),
    ("/v1/resolve/alice@id.bit", "", "application/json;q=0.5, application/cbor"),
    ("/v1/resolve/bob@id.bit", "since=1", None),
    ("/v1/resolve/Alice@ID.bit", "", None),
    ("/v1/resolve/nobody@id.bit", "", None),
    ("/v1/resolve/not an address", "", None),
    ("/v1/resolve/alice@id.bit", "since=x", None),
]


def test_cached_answers_equal_flask_answers(db: Path) -> None:
    app = build_app(str(db))
    ctx = app.config["WAYPOST"]
    assert isinstance(ctx, ApiContext)
    for path, query, accept in _CASES:
        first = _call(app, path, query=query, accept=accept)
        again = _call(app, path, query=query, accept=accept)
        reference = _call(app, path, query=query, accept=accept, uncached=True)
        assert first == again == reference, (path, query, accept)
        cache = ctx.response_cache()
        assert cache is not None
        hit = cache.get((path, query, accept))
        # only 200 answers are kept; errors always go through Flask
        assert (hit is not None) == first[0].startswith("200 "), (path, first[0])
    assert _call(app, "/v1/resolve/alice@id.bit")[0] == "200 OK"


def test_a_commit_empties_the_cache(db: Path) -> None:
    app = build_app(str(db))
    before = _call(app, "/v1/resolve/alice@id.bit")
    assert _call(app, "/v1/resolve/alice@id.bit") == before  # served from the cache
    # another connection commits: a private chain and a new signed checkpoint
    k1, k2 = (nacl.signing.SigningKey(hashlib.sha256(b"rcache-%d" % i).digest()) for i in (1, 2))
    g = make_entry(k1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(k2.verify_key)),
                   body={"name": "Cache", "endpoints": {"email": "c@example.org"}})
    address = f"cache@{encode_key_domain(bytes(k1.verify_key))}"
    assert _call(app, f"/v1/resolve/{address}")[0].startswith("404")
    resp = app.test_client().post(f"/v1/chains/{address}", data=encode_canonical([g.encode()]),
                                  content_type="application/cbor")
    assert resp.status_code == 201, resp.get_json()
    after = _call(app, "/v1/resolve/alice@id.bit")
    assert after != before  # the checkpoint in the bundle moved on
    assert after == _call(app, "/v1/resolve/alice@id.bit", uncached=True)
    assert _call(app, f"/v1/resolve/{address}")[0] == "200 OK"
