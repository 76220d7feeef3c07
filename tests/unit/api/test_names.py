"""``/v1/names`` lookups, history and listing against a fake reader."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import example, given, settings
from hypothesis import strategies as hs

from tests.fakereader import FakeReader, make_record
from tests.vectors import REGTEST, load_json
from waypost.api.app import ApiConfig, create_app
from waypost.api.names import record_json
from waypost.indexer.view import NameRecord
from waypost.registry.model import BlockHash, Txid

Client = Callable[..., FlaskClient]


def _get(client: FlaskClient, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    resp = client.get(url, **kwargs)
    return resp.status_code, json.loads(resp.get_data(as_text=True))


@pytest.mark.parametrize(
    ("tip", "expires_in", "expired"),
    [(150, 10, False), (159, 1, False), (160, 0, True), (161, -1, True), (130, 30, False)],
)
def test_expires_in_and_expired_at_several_tips(reader: FakeReader, client: FlaskClient, tip: int, expires_in: int, expired: bool) -> None:
    # namecoin-core: expires_in = height + 30 - tip (regtest), expired = expires_in <= 0.
    reader.add(make_record(b"d/example", b"v", 130)).at_tip(tip)
    status, body = _get(client, "/v1/names/d/example")
    assert status == 200  # expired names answer 200, not 404
    assert (body["expires_in"], body["expired"]) == (expires_in, expired)
    assert body["height"] == 130
    assert body["freshness"]["tip_height"] == tip


def test_fields_and_display_order_txid(reader: FakeReader, client: FlaskClient) -> None:
    rec = make_record(b"d/example", b'{"ip":"192.0.2.1"}', 150, vout=1, address="mk5VBUVGSxQKuoverqN6fXkm3ZFTNiZEi1")
    reader.add(rec)
    status, body = _get(client, "/v1/names/d/example")
    assert status == 200
    assert {k: v for k, v in body.items() if k != "freshness"} == {
        "name": "d/example",
        "name_hex": b"d/example".hex(),
        "value": '{"ip":"192.0.2.1"}',
        "value_hex": b'{"ip":"192.0.2.1"}'.hex(),
        "txid": rec.txid[::-1].hex(),
        "vout": 1,
        "height": 150,
        "address": "mk5VBUVGSxQKuoverqN6fXkm3ZFTNiZEi1",
        "expires_in": 18,
        "expired": False,
    }


def test_utf8_name_percent_encoded_and_raw(reader: FakeReader, client: FlaskClient) -> None:
    name = "d/bücher".encode()
    reader.add(make_record(name, "Bücher ☃".encode(), 150))
    for url in ("/v1/names/d/b%C3%BCcher", "/v1/names/d/bücher", f"/v1/names/{name.hex()}?name_encoding=hex"):
        status, body = _get(client, url)
        assert status == 200, url
        assert body["name"] == "d/bücher"
        assert body["value"] == "Bücher ☃"
        assert body["name_hex"] == "642f62c3bc63686572"


def test_binary_name_and_value_are_null_text_with_hex(reader: FakeReader, client: FlaskClient) -> None:
    name = bytes.fromhex("642f00ff80fe01")  # the recorded binary name
    reader.add(make_record(name, b"\xff\x00\xfe", 150))
    status, body = _get(client, "/v1/names/642F00FF80FE01?name_encoding=hex")  # upper-case hex accepted
    assert status == 200
    assert body["name"] is None and body["value"] is None
    assert body["name_hex"] == "642f00ff80fe01"
    assert body["value_hex"] == "ff00fe"


def test_raw_non_utf8_path_bytes_are_refused(reader: FakeReader, client: FlaskClient) -> None:
    # gunicorn puts the percent-decoded bytes into PATH_INFO as latin-1 text (PEP 3333);
    # the test client would replace them, so set PATH_INFO as a real server does.
    reader.add(make_record(b"d/\xff", b"x", 150))
    resp = client.get("/", environ_overrides={"PATH_INFO": "/v1/names/d/\xff"})
    assert resp.status_code == 400
    assert resp.get_json(force=True)["code"] == "api.bad-utf8"


def test_255_byte_name_and_256_refused(reader: FakeReader, client: FlaskClient) -> None:
    name = b"d/" + b"l" * 253
    reader.add(make_record(name, b"max", 150))
    status, body = _get(client, "/v1/names/" + name.decode())
    assert status == 200 and body["name_hex"] == name.hex()
    status, body = _get(client, f"/v1/names/{name.hex()}?name_encoding=hex")
    assert status == 200
    for url in ("/v1/names/" + name.decode() + "l", f"/v1/names/{(name + b'l').hex()}?name_encoding=hex"):
        status, body = _get(client, url)
        assert status == 422 and body["code"] == "name.too-long", url


def test_empty_value(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"d/empty", b"", 145))
    status, body = _get(client, "/v1/names/d/empty")
    assert status == 200
    assert body["value"] == "" and body["value_hex"] == ""


def test_never_registered_is_404_problem(client: FlaskClient) -> None:
    resp = client.get("/v1/names/d/abandoned")
    assert resp.status_code == 404
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert body["code"] == "not-found" and body["type"] == "/problems/not-found"
    assert client.get("/v1/names/d/abandoned/history").status_code == 404


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/v1/names/zz?name_encoding=hex", "api.bad-hex"),
        ("/v1/names/abc?name_encoding=hex", "api.bad-hex"),
        ("/v1/names/%C3%BC?name_encoding=hex", "api.bad-hex"),
        ("/v1/names/d/x?name_encoding=base64", "api.bad-param"),
        ("/v1/names?limit=0", "api.bad-param"),
        ("/v1/names?limit=1001", "api.bad-param"),
        ("/v1/names?limit=-1", "api.bad-param"),
        ("/v1/names?limit=ten", "api.bad-param"),
        ("/v1/names?prefix=zz&name_encoding=hex", "api.bad-hex"),
        ("/v1/names?after=%FF", "api.bad-utf8"),
        ("/v1/names/d/x?max_age=-3", "api.bad-param"),
    ],
)
def test_bad_input_is_400(client: FlaskClient, url: str, code: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.get_json(force=True)["code"] == code


def test_history_oldest_first_with_per_op_expiry(reader: FakeReader, client: FlaskClient) -> None:
    # d/example in the scenario: two updates in block 127, the later (tx_index) one last.
    reader.add(make_record(b"d/example", b"c", 127, tx_index=3))
    reader.add(make_record(b"d/example", b"a", 124, tx_index=5))
    reader.add(make_record(b"d/example", b"b", 127, tx_index=2))
    reader.at_tip(155)
    status, body = _get(client, "/v1/names/d/example/history")
    assert status == 200
    assert body["name_hex"] == b"d/example".hex() and body["name"] == "d/example"
    assert [h["value"] for h in body["history"]] == ["a", "b", "c"]
    assert [h["expires_in"] for h in body["history"]] == [-1, 2, 2]
    assert [h["expired"] for h in body["history"]] == [True, False, False]
    _, current = _get(client, "/v1/names/d/example")
    assert current["value"] == "c"  # the later op in the block wins


def test_name_ending_in_history_is_unambiguous(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"d", b"short", 150))
    reader.add(make_record(b"d/history", b"long", 151))
    # /v1/names/{x}/history is always the history of x ...
    _, body = _get(client, "/v1/names/d/history")
    assert body["name_hex"] == b"d".hex() and body["history"][0]["value"] == "short"
    # ... so the name "d/history" is looked up hex-encoded, its history via /v1/history/.
    _, body = _get(client, f"/v1/names/{b'd/history'.hex()}?name_encoding=hex")
    assert body["value"] == "long"
    _, body = _get(client, "/v1/history/d/history")
    assert body["name_hex"] == b"d/history".hex() and body["history"][0]["value"] == "long"
    _, body = _get(client, f"/v1/names/{b'd/history'.hex()}/history?name_encoding=hex")
    assert body["history"][0]["value"] == "long"


def test_double_slash_name_is_not_merged(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"d//x", b"double", 150))
    resp = client.get("/v1/names/d//x")
    assert resp.status_code == 200 and resp.get_json()["value"] == "double"


def test_listing_exports_every_name_with_next_cursor(reader: FakeReader, client: FlaskClient) -> None:
    names = sorted({f"d/n{i:03d}".encode() for i in range(57)} | {b"id/alice", b"d/\xff\x00", "d/bücher".encode()})
    for i, n in enumerate(names):
        reader.add(make_record(n, b"v%d" % i, 140))
    seen: list[str] = []
    url: str | None = "/v1/names?limit=10"
    pages = 0
    while url is not None:
        status, body = _get(client, url)
        assert status == 200
        assert len(body["names"]) <= 10
        seen += [n["name_hex"] for n in body["names"]]
        url = body["next"]
        pages += 1
        assert pages < 20
    assert seen == [n.hex() for n in sorted(names)]  # byte order, no gaps, no duplicates
    assert pages == 6


def test_listing_prefix_and_after(reader: FakeReader, client: FlaskClient) -> None:
    for n in (b"d/a", b"d/b", b"d/c", b"id/a", b"id/b"):
        reader.add(make_record(n, b"", 140))
    _, body = _get(client, "/v1/names?prefix=id/")
    assert [n["name"] for n in body["names"]] == ["id/a", "id/b"]
    assert body["next"] is None
    _, body = _get(client, "/v1/names?prefix=d/&after=d/a&limit=1")
    assert [n["name"] for n in body["names"]] == ["d/b"]
    _, nxt = _get(client, body["next"])
    assert [n["name"] for n in nxt["names"]] == ["d/c"]  # the cursor keeps the prefix
    _, body = _get(client, f"/v1/names?prefix={b'id/'.hex()}&after={b'id/a'.hex()}&name_encoding=hex")
    assert [n["name"] for n in body["names"]] == ["id/b"]


def test_default_limit_is_100(reader: FakeReader, client: FlaskClient) -> None:
    for i in range(150):
        reader.add(make_record(b"n/%03d" % i, b"", 140))
    _, body = _get(client, "/v1/names")
    assert len(body["names"]) == 100 and body["next_after_hex"] == (b"n/099").hex()


def _records_from_vector(slug: str) -> list[NameRecord]:
    data = load_json(REGTEST / "names" / f"{slug}.json")
    hist = next(c["result"] for c in data["rpc"] if c["method"] == "name_history" and len(c["params"]) > 1
                and c["params"][1].get("valueEncoding") == "hex")
    return [
        NameRecord(
            name=bytes.fromhex(h["name"]),
            value=bytes.fromhex(h["value"]),
            txid=Txid(bytes.fromhex(h["txid"])[::-1]),
            vout=h["vout"],
            height=h["height"],
            block_hash=BlockHash(b"\0" * 32),
            tx_index=i,
            op="name_update",
            address=h.get("address"),
            expires_at_height=h["height"] + 30,  # namecoin-core: regtest expiration depth 30
        )
        for i, h in enumerate(hist)
    ]


@pytest.mark.parametrize("slug", ["d-expiring", "d-example", "d-binary", "d-buecher", "d-empty", "id-alice"])
def test_meanings_match_recorded_name_show_and_history(slug: str) -> None:
    """record_json at the final tip (162) equals namecoind's hex name_show / name_history."""
    data = load_json(REGTEST / "names" / f"{slug}.json")
    records = _records_from_vector(slug)
    show = next(c["result"] for c in data["rpc"] if c["method"] == "name_show" and len(c["params"]) > 1
                and c["params"][1].get("valueEncoding") == "hex" and c["params"][1].get("allowExpired"))
    hist = next(c["result"] for c in data["rpc"] if c["method"] == "name_history" and len(c["params"]) > 1
                and c["params"][1].get("valueEncoding") == "hex")
    fields = ("txid", "vout", "height", "address", "expires_in", "expired")
    got = record_json(records[-1], 162)
    assert (got["name_hex"], got["value_hex"]) == (show["name"], show["value"])
    assert {f: got[f] for f in fields} == {f: show.get(f) for f in fields}
    for rec, want in zip(records, hist, strict=True):
        got = record_json(rec, 162)
        assert {f: got[f] for f in fields} == {f: want.get(f) for f in fields}


def test_leading_slash_name_via_hex(reader: FakeReader, client: FlaskClient) -> None:
    reader.add(make_record(b"/odd", b"v", 150))
    assert client.get("/v1/names//odd").status_code == 404  # not routable as text
    resp = client.get(f"/v1/names/{b'/odd'.hex()}?name_encoding=hex")
    assert resp.status_code == 200 and resp.get_json()["value"] == "v"

_PROP_READER = FakeReader()
for _n in (b"d/x", "d/ü".encode(), b"d/\xff", b"a/b/history"):
    _PROP_READER.add(make_record(_n, b"v", 150))


@settings(max_examples=150, deadline=None)
@example(raw=b"a/b/history", history=False, hexed=False)
@example(raw=b"d/\xff", history=False, hexed=True)
@example(raw="d/ü".encode(), history=True, hexed=False)
@given(raw=hs.binary(min_size=1, max_size=300), history=hs.booleans(), hexed=hs.booleans())
def test_any_path_bytes_never_500(raw: bytes, history: bool, hexed: bool) -> None:
    """Whatever bytes a real server puts into PATH_INFO: 200/400/404/422, and the right name."""
    client = create_app(reader_factory=lambda: _PROP_READER, network="regtest", config=ApiConfig(status_cache_s=0)).test_client()
    segment = raw.hex().encode() if hexed else raw
    path = b"/v1/names/" + segment + (b"/history" if history else b"")
    resp = client.get("/", environ_overrides={"PATH_INFO": path.decode("latin-1"), "QUERY_STRING": "name_encoding=hex" if hexed else ""})
    assert resp.status_code in (200, 400, 404, 422), resp.get_data(as_text=True)
    if resp.status_code == 200:
        body = resp.get_json()
        # a text path ending in "/history" is always the history route of what precedes it
        routed_history = history or (not hexed and raw.endswith(b"/history"))
        expected = raw[: -len(b"/history")] if routed_history and not history else raw
        assert ("history" in body) == routed_history
        assert bytes.fromhex(body["name_hex"]) == expected
