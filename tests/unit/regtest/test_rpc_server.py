"""JSON-RPC transport and namecoind's errors for bad requests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.regtest.conftest import RpcFn, post
from waypost.regtest.node import SimNode


def test_auth_cookie_and_user_password(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with SimNode.start(tmp_path / "n", rpc_user="u", rpc_password="p") as node:
        cookie = node.cookie_path.read_text()
        assert cookie.startswith("__cookie__:") and len(cookie) == len("__cookie__:") + 64
        assert node.cookie_path == tmp_path / "n" / "regtest" / ".cookie"
        assert post(node.rpc_url, cookie, {"id": 1, "method": "getblockcount", "params": []})[1]["result"] == 0
        assert post(node.rpc_url, "u:p", {"id": 1, "method": "getblockcount", "params": []})[1]["result"] == 0
        status, _ = post(node.rpc_url, "u:wrong", {"id": 1, "method": "getblockcount", "params": []})
        assert status == 401
    assert not node.cookie_path.exists()


def test_batch_and_unknown_method(node: SimNode) -> None:
    auth = node.cookie_path.read_text()
    status, replies = post(node.rpc_url, auth, [
        {"id": 1, "method": "getblockcount", "params": []},
        {"id": 2, "method": "nosuchmethod", "params": []},
    ])
    assert status == 200
    assert replies[0] == {"result": 0, "error": None, "id": 1}
    assert replies[1]["error"] == {"code": -32601, "message": "Method not found"}
    status, single = post(node.rpc_url, auth, {"id": 3, "method": "nosuchmethod", "params": []})
    assert status == 404 and single["error"]["code"] == -32601


def test_wrong_param_count_gives_help_text(rpc: RpcFn) -> None:
    err = rpc("name_show")["error"]
    assert err["code"] == -1 and err["message"].startswith("name_show ")
    assert rpc("getblockhash", "x")["error"]["code"] == -3
    assert rpc("getblockhash", 5)["error"] == {"code": -8, "message": "Block height out of range"}
    assert rpc("getblock", "00" * 32)["error"] == {"code": -5, "message": "Block not found"}


def test_name_errors(rpc: RpcFn, node: SimNode) -> None:
    node.generate(101)
    assert rpc("name_new", "d/" + "x" * 254, wallet="alice")["error"] == {"code": -8, "message": "the name is too long"}
    new = rpc("name_new", "d/v", wallet="alice")["result"]
    err = rpc("name_firstupdate", "d/v", new[1], new[0], "x" * 521, wallet="alice")["error"]
    assert err == {"code": -8, "message": "the value is too long"}
    assert rpc("name_show", "d/none")["error"] == {"code": -4, "message": "name never existed: 'd/none'"}
    assert rpc("name_history", "d/none")["error"] == {"code": -4, "message": "name not found: 'd/none'"}


def test_immature_firstupdate_is_held_in_the_mempool(rpc: RpcFn, node: SimNode) -> None:
    node.generate(101)
    txid, rand = rpc("name_new", "d/held", wallet="alice")["result"]
    node.generate(1)
    fu = rpc("name_firstupdate", "d/held", rand, txid, "v", wallet="alice")["result"]
    node.generate(11)  # name_new at h, tip h+11: block h+11 could not take it
    assert fu in rpc("getrawmempool")["result"]
    assert rpc("name_show", "d/held")["error"]["code"] == -4
    node.generate(1)  # block h+12: the first one allowed (namecoind: MIN_FIRSTUPDATE_DEPTH 12)
    assert rpc("getrawmempool")["result"] == []
    shown = rpc("name_show", "d/held")["result"]
    assert shown["value"] == "v" and shown["expires_in"] == 30 and shown["txid"] == fu


def test_internal_error_is_an_rpc_error_not_a_crash(rpc: RpcFn, monkeypatch: pytest.MonkeyPatch) -> None:
    from waypost.regtest import rpc_methods

    def boom(*a: object) -> object:
        raise RuntimeError("bug")

    fn, lo, hi, w, usage = rpc_methods._METHODS["getblockcount"]
    monkeypatch.setitem(rpc_methods._METHODS, "getblockcount", (boom, lo, hi, w, usage))
    assert rpc("getblockcount")["error"] == {"code": -32603, "message": "Internal error"}
    monkeypatch.setitem(rpc_methods._METHODS, "getblockcount", (fn, lo, hi, w, usage))
    assert rpc("getblockcount")["result"] == 0


def test_amounts_keep_eight_decimals(node: SimNode) -> None:
    node.generate(101)
    auth = node.cookie_path.read_text()
    import urllib.request
    import base64

    req = urllib.request.Request(node.rpc_url + "/wallet/alice",
                                 data=b'{"id":1,"method":"getbalances","params":[]}',
                                 headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    assert '"trusted":50.00000000' in text and '"untrusted_pending":0.00000000' in text
    assert Decimal("50.00000000") == Decimal(50)


def test_txoutproof_roundtrip(rpc: RpcFn, node: SimNode) -> None:
    node.generate(101)
    addr = node.address("bob")
    txid = rpc("sendtoaddress", addr, 1, wallet="alice")["result"]
    node.generate(1)
    proof = rpc("gettxoutproof", [txid])["result"]
    assert rpc("verifytxoutproof", proof)["result"] == [txid]
    raw = rpc("getrawtransaction", txid, 1)["result"]
    assert raw["confirmations"] == 1 and raw["txid"] == txid
