"""Unit tests of the JSON-RPC client: typed fetches over recorded namecoind answers, values, errors."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakenode import FakeNode, recorded_handler
from tests.vectors import REGTEST, load_json
from waypost.indexer.rpc import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RpcAuthError,
    RpcBadAnswerError,
    RpcClient,
    RpcConfig,
    RpcError,
    RpcTransportError,
)
from waypost.registry.errors import ErrorCode, UpstreamError
from waypost.registry.model import BlockHash, Txid


def _wire(display_hex: str) -> bytes:
    return bytes.fromhex(display_hex)[::-1]


def _index() -> list[dict[str, Any]]:
    return list(load_json(REGTEST / "blocks" / "index.json"))


def _block_rpc(entry: dict[str, Any], method: str, params: list[object]) -> Any:
    for call in load_json(REGTEST / entry["file"])["rpc"]:
        if call["method"] == method and call["params"] == params:
            return call["result"]
    raise LookupError((method, params))


@pytest.fixture(scope="module")
def recorded_node() -> Iterator[FakeNode]:
    with FakeNode(recorded_handler()) as node:
        yield node


@pytest.fixture
def client(recorded_node: FakeNode) -> Iterator[RpcClient]:
    with RpcClient(recorded_node.url, max_retries=0) as rpc:
        yield rpc


# ------------------------------------------------------------------ typed fetches


def test_chain_info_matches_recorded_node(client: RpcClient) -> None:
    info = client.fetch_chain_info()
    tip = "65713e5954508a2b72b83694d8b17b0b8f764bd456439062521940bd64b0fc83"
    assert info.chain == "regtest"
    assert (info.blocks, info.headers) == (162, 162)
    assert info.best_block_hash == _wire(tip)
    assert info.initial_block_download is False
    assert info.verification_progress == Decimal(1)
    assert client.fetch_block_count() == 162
    assert client.fetch_best_block_hash() == _wire(tip)


@pytest.mark.parametrize("height", [0, 111, 124, 157, 162])
def test_block_fetches_match_recorded_answers(client: RpcClient, height: int) -> None:
    entry = next(e for e in _index() if e["height"] == height and e["in_active_chain"])
    block_hash = BlockHash(_wire(entry["hash"]))
    assert client.fetch_block_hash(height) == block_hash
    raw = client.fetch_block_raw(block_hash)
    assert raw == bytes.fromhex(_block_rpc(entry, "getblock", [entry["hash"], 0]))
    header_raw = client.fetch_header_raw(block_hash)
    assert header_raw == bytes.fromhex(_block_rpc(entry, "getblockheader", [entry["hash"], False]))
    assert raw.startswith(header_raw)  # 80 bytes (+ AuxPoW) lead the block
    info = client.fetch_header_info(block_hash)
    assert info.block_hash == block_hash
    assert info.height == height
    assert info.in_active_chain
    assert info.tx_count == entry["n_tx"]
    assert (info.prev_hash is None) == (height == 0)
    assert (info.next_hash is None) == (height == 162)


def test_orphaned_block_header_reads_minus_one_confirmations(client: RpcClient) -> None:
    orphans = [e for e in _index() if not e["in_active_chain"]]
    assert len(orphans) == 3
    for entry in orphans:
        info = client.fetch_header_info(BlockHash(_wire(entry["hash"])))
        assert info.confirmations == -1
        assert not info.in_active_chain
        assert info.next_hash is None
        # getblockhash at that height names the active chain's block, not the orphan
        assert client.fetch_block_hash(entry["height"]) != info.block_hash


def test_batched_fetches_keep_call_order(client: RpcClient) -> None:
    entries = [e for e in _index() if e["in_active_chain"]][100:120]
    heights = [e["height"] for e in entries]
    hashes = client.fetch_block_hashes(heights[::-1])
    assert hashes == [_wire(e["hash"]) for e in entries][::-1]
    raws = client.fetch_blocks_raw(hashes)
    assert raws == [bytes.fromhex(_block_rpc(e, "getblock", [e["hash"], 0])) for e in entries][::-1]


def test_transaction_and_proof_fetches(client: RpcClient) -> None:
    tx_entry = next(t for t in load_json(REGTEST / "txs" / "index.json") if t["has_name_op"] and t["in_active_chain"])
    calls = load_json(REGTEST / tx_entry["file"])["rpc"]
    txid, block_hex = Txid(_wire(tx_entry["txid"])), tx_entry["blockhash"]
    raw_hex = next(c["result"] for c in calls if c["method"] == "getrawtransaction" and c["params"][1:] == [0])
    proof_hex = next(c["result"] for c in calls if c["method"] == "gettxoutproof" and len(c["params"]) == 2)
    assert client.fetch_raw_tx(txid) == bytes.fromhex(raw_hex)
    assert client.fetch_raw_tx(txid, BlockHash(_wire(block_hex))) == bytes.fromhex(raw_hex)
    assert client.fetch_tx_out_proof([txid], BlockHash(_wire(block_hex))) == bytes.fromhex(proof_hex)


def test_unknown_block_and_height_are_typed_node_errors(client: RpcClient, recorded_node: FakeNode) -> None:
    with pytest.raises(RpcError) as unknown:
        client.fetch_block_raw(BlockHash(bytes(32)))
    assert unknown.value.code is ErrorCode.RPC_ERROR
    assert unknown.value.rpc_code == RPC_INVALID_ADDRESS_OR_KEY
    with pytest.raises(RpcError) as high:
        client.fetch_block_hashes([161, 162, 163])
    assert (high.value.rpc_code, high.value.index, high.value.method) == (RPC_INVALID_PARAMETER, 2, "getblockhash")
    assert high.value.rpc_message == "Block height out of range"


# ------------------------------------------------------------------ answers of the wrong shape


@pytest.mark.parametrize(
    ("result", "fetch"),
    [
        ("zz" * 32, lambda c: c.fetch_best_block_hash()),
        ("00" * 31, lambda c: c.fetch_best_block_hash()),
        (12, lambda c: c.fetch_block_raw(BlockHash(bytes(32)))),
        (True, lambda c: c.fetch_block_count()),
        ({"chain": "regtest"}, lambda c: c.fetch_chain_info()),
        ([1, 2], lambda c: c.fetch_header_info(BlockHash(bytes(32)))),
    ],
    ids=["non-hex", "short-hash", "int-for-hex", "bool-for-int", "missing-keys", "list-for-object"],
)
def test_wrong_result_shapes_are_bad_answers(result: object, fetch: Any) -> None:
    with FakeNode(lambda method, params, path: result) as node, RpcClient(node.url, max_retries=0) as rpc:
        with pytest.raises(RpcBadAnswerError) as err:
            fetch(rpc)
    assert err.value.code is ErrorCode.RPC_BAD_ANSWER


# ------------------------------------------------------------------ construction and values


def test_bad_url_is_a_connect_error() -> None:
    with pytest.raises(RpcTransportError) as err:
        RpcClient("ftp://node:1/")
    assert err.value.code is ErrorCode.RPC_CONNECT


def test_credentials_stay_out_of_repr() -> None:
    config = RpcConfig(url="http://alice:s3cret@127.0.0.1:18443/", wallet="bob", max_retries=1)
    client = RpcClient.from_config(config)
    assert "s3cret" not in repr(config)
    assert "s3cret" not in repr(client)
    assert repr(client) == "RpcClient(http://127.0.0.1:18443/wallet/bob)"


def test_rpc_error_keeps_node_fields_through_pickle() -> None:
    err = RpcError(ErrorCode.RPC_ERROR, rpc_code=-8, rpc_message="the name is too long", method="name_new", index=3)
    assert isinstance(err, UpstreamError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.rpc_code, again.rpc_message, again.method, again.index) == (
        ErrorCode.RPC_ERROR,
        -8,
        "the name is too long",
        "name_new",
        3,
    )
    assert str(again) == "[rpc.error] name_new[3]: -8 the name is too long"


def test_missing_or_malformed_cookie_is_rpc_cookie(tmp_path: Path) -> None:
    missing = RpcClient("http://127.0.0.1:1/", cookie_path=tmp_path / ".cookie", max_retries=0)
    with pytest.raises(RpcAuthError) as err:
        missing.call("getblockcount")
    assert err.value.code is ErrorCode.RPC_COOKIE
    (tmp_path / ".cookie").write_text("no-colon-here", encoding="ascii")
    with pytest.raises(RpcAuthError) as err:
        missing.call("getblockcount")
    assert err.value.code is ErrorCode.RPC_COOKIE


def test_empty_batch_sends_nothing() -> None:
    with FakeNode(lambda method, params, path: 1) as node, RpcClient(node.url) as rpc:
        assert rpc.batch([]) == []
        assert node.requests == 0
