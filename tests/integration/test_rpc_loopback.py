"""The JSON-RPC client against a scripted namecoind stand-in on 127.0.0.1 (tests/fakenode.py).

Every failure path is asserted by ``code`` and by how many requests reached the server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakenode import FakeNode, FakeRpcError, recorded_handler
from tests.vectors import REGTEST, load_json
from waypost.indexer.rpc import (
    RPC_IN_WARMUP,
    RpcAuthError,
    RpcBadAnswerError,
    RpcClient,
    RpcError,
    RpcTransportError,
    fetch_blocks_pipelined,
)
from waypost.registry.errors import ErrorCode
from waypost.registry.model import BlockHash


def echo(method: str, params: list[object], path: str) -> object:
    if method == "fail8":
        raise FakeRpcError(-8, "Block height out of range")
    if method == "fail5":
        raise FakeRpcError(-5, "Block not found")
    return {"method": method, "params": params, "path": path}


class Sleeps:
    """Records the client's backoff waits instead of sleeping; can run an action on a wait."""

    def __init__(self, on_wait: Any = None) -> None:
        self.waits: list[float] = []
        self.on_wait = on_wait

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_wait is not None:
            self.on_wait(len(self.waits))


@pytest.fixture(params=["1.0", "2.0"])
def node(request: pytest.FixtureRequest) -> Iterator[FakeNode]:
    with FakeNode(echo, style=request.param) as fake:
        yield fake


def client_for(node: FakeNode, sleeps: Sleeps | None = None, **kwargs: Any) -> RpcClient:
    options: dict[str, Any] = {"max_retries": 3, "backoff_s": 0.01, "timeout_s": 2.0, "connect_timeout_s": 1.0}
    options.update(kwargs)
    return RpcClient(node.url, sleep=sleeps if sleeps is not None else Sleeps(), **options)


# ------------------------------------------------------------------ auth


def test_wrong_password_is_rpc_auth_and_not_retried(node: FakeNode) -> None:
    url = node.url.replace(":pass@", ":wrong@")
    sleeps = Sleeps()
    client = RpcClient(url, sleep=sleeps, max_retries=3)
    with pytest.raises(RpcAuthError) as err:
        client.call("getblockcount")
    assert err.value.code is ErrorCode.RPC_AUTH
    assert err.value.fields["status"] == 401
    assert node.requests == 1
    assert sleeps.waits == []


def test_missing_credentials_is_rpc_auth(node: FakeNode) -> None:
    client = RpcClient(f"http://127.0.0.1:{node.port}/", max_retries=3, sleep=Sleeps())
    with pytest.raises(RpcAuthError) as err:
        client.call("getblockcount")
    assert err.value.code is ErrorCode.RPC_AUTH
    assert node.requests == 1


def test_cookie_auth_and_cookie_rewritten_on_restart(tmp_path: Path) -> None:
    with FakeNode(echo, cookie_dir=tmp_path) as node:
        cookie = tmp_path / ".cookie"
        client = RpcClient(node.url, cookie_path=cookie, backoff_s=0.01, max_retries=3, sleep=Sleeps())
        assert client.call("one") == {"method": "one", "params": [], "path": "/"}
        first_cookie = cookie.read_text()
        node.restart()
        assert cookie.read_text() != first_cookie
        before = node.requests
        assert client.call("two") == {"method": "two", "params": [], "path": "/"}
        # one 401 with the stale cookie, then the re-read cookie works
        assert node.requests - before == 2


def test_cookie_missing_while_node_restarts_is_retried(tmp_path: Path) -> None:
    with FakeNode(echo, cookie_dir=tmp_path) as node:
        cookie = tmp_path / ".cookie"
        node.stop()
        assert not cookie.exists()
        sleeps = Sleeps(on_wait=lambda n: node.start() if n == 2 else None)
        client = RpcClient(node.url, cookie_path=cookie, backoff_s=0.01, max_retries=3, sleep=sleeps)
        assert client.call("up") == {"method": "up", "params": [], "path": "/"}
        assert sleeps.waits == [0.01, 0.02]


def test_wrong_cookie_that_stays_wrong_is_rpc_auth(tmp_path: Path) -> None:
    with FakeNode(echo, cookie_dir=tmp_path) as node:
        stale = tmp_path / "stale.cookie"
        stale.write_text("__cookie__:00", encoding="ascii")
        client = RpcClient(node.url, cookie_path=stale, max_retries=3, sleep=Sleeps())
        with pytest.raises(RpcAuthError) as err:
            client.call("x")
        assert err.value.code is ErrorCode.RPC_AUTH
        assert node.requests == 1  # re-reading gave the same cookie: no second attempt


# ------------------------------------------------------------------ batches


def test_shuffled_batch_answers_are_matched_by_id(node: FakeNode) -> None:
    node.shuffle_batches = True
    client = client_for(node)
    calls = [(f"m{i}", [i, f"p{i}"]) for i in range(12)]
    results = client.batch(calls)
    assert [r["method"] for r in results] == [m for m, _ in calls]  # type: ignore[index]
    assert [r["params"] for r in results] == [p for _, p in calls]  # type: ignore[index]
    assert node.requests == 1


def test_batch_error_names_the_failed_call(node: FakeNode) -> None:
    node.shuffle_batches = True
    client = client_for(node)
    calls: list[tuple[str, list[object]]] = [("ok", [0]), ("ok", [1]), ("fail5", ["ab" * 32]), ("ok", [3])]
    results = client.batch_results(calls)
    assert [isinstance(r, RpcError) for r in results] == [False, False, True, False]
    failed = results[2]
    assert isinstance(failed, RpcError)
    assert (failed.code, failed.rpc_code, failed.rpc_message) == (ErrorCode.RPC_ERROR, -5, "Block not found")
    assert (failed.method, failed.index) == ("fail5", 2)
    with pytest.raises(RpcError) as err:
        client.batch(calls)
    assert err.value.index == 2
    assert node.requests == 2  # node errors are not retried


@pytest.mark.parametrize(
    "answer",
    [
        b'[{"result": 1, "error": null, "id": 999}, {"result": 2, "error": null, "id": 2}]',
        b'[{"result": 1, "error": null, "id": 1}, {"result": 1, "error": null, "id": 1}]',
        b'[{"result": 1, "error": null, "id": 1}]',
        b'{"result": [1, 2], "error": null, "id": 1}',
        b'[{"error": null, "id": 1}, {"result": 2, "error": null, "id": 2}]',
    ],
    ids=["unknown-id", "duplicate-id", "missing-id", "object-for-batch", "no-result"],
)
def test_inconsistent_batch_answers_are_bad_answers(answer: bytes) -> None:
    with FakeNode(echo) as node:
        node.garbage = answer
        with pytest.raises(RpcBadAnswerError) as err:
            client_for(node).batch([("a", []), ("b", [])])
        assert err.value.code is ErrorCode.RPC_BAD_ANSWER
        assert node.requests == 1


# ------------------------------------------------------------------ restarts and connection loss


def test_server_restart_between_calls_reconnects_silently(node: FakeNode) -> None:
    sleeps = Sleeps()
    client = client_for(node, sleeps)
    assert client.call("a")["method"] == "a"  # type: ignore[index]
    node.restart()  # cuts the kept-alive connection
    assert client.call("b")["method"] == "b"  # type: ignore[index]
    assert sleeps.waits == []  # a closed keep-alive socket is not a failure


def test_server_down_then_back_is_retried_with_backoff(node: FakeNode) -> None:
    sleeps = Sleeps(on_wait=lambda n: node.start() if n == 3 else None)
    client = client_for(node, sleeps, backoff_s=0.01, max_retries=5)
    assert client.call("a")["method"] == "a"  # type: ignore[index]
    node.stop()
    assert client.call("b")["method"] == "b"  # type: ignore[index]
    assert sleeps.waits == [0.01, 0.02, 0.04]


def test_server_gone_for_good_is_rpc_connect_after_retries(node: FakeNode) -> None:
    node.stop()
    sleeps = Sleeps()
    client = client_for(node, sleeps, backoff_s=0.01, max_retries=4)
    with pytest.raises(RpcTransportError) as err:
        client.call("a")
    assert err.value.code is ErrorCode.RPC_CONNECT
    assert sleeps.waits == [0.01, 0.02, 0.04, 0.08]


def test_dropped_connections_mid_request_are_retried(node: FakeNode) -> None:
    node.drop_calls = 2
    sleeps = Sleeps()
    assert client_for(node, sleeps).call("a")["method"] == "a"  # type: ignore[index]
    assert node.requests == 3
    assert len(sleeps.waits) == 2


def test_stalled_server_times_out_after_retries(node: FakeNode) -> None:
    node.stall_calls = 100
    sleeps = Sleeps()
    client = client_for(node, sleeps, timeout_s=0.15, max_retries=2)
    started = time.monotonic()
    with pytest.raises(RpcTransportError) as err:
        client.call("getblockcount")
    elapsed = time.monotonic() - started
    assert err.value.code is ErrorCode.RPC_TIMEOUT
    assert node.requests == 3
    assert sleeps.waits == [0.01, 0.02]
    assert elapsed < 3.0


def test_stall_then_recovery(node: FakeNode) -> None:
    node.stall_calls = 1
    client = client_for(node, timeout_s=0.15)
    assert client.call("a")["method"] == "a"  # type: ignore[index]
    assert node.requests == 2


# ------------------------------------------------------------------ node error codes


def test_warming_up_is_retried_then_succeeds(node: FakeNode) -> None:
    node.warmup_calls = 3
    sleeps = Sleeps()
    assert client_for(node, sleeps, max_retries=5).call("getblockcount")["method"] == "getblockcount"  # type: ignore[index]
    assert node.requests == 4
    assert sleeps.waits == [0.01, 0.02, 0.04]


def test_warming_up_in_a_batch_retries_the_batch(node: FakeNode) -> None:
    node.warmup_calls = 2  # the first two calls of the first batch
    results = client_for(node).batch([("a", []), ("b", []), ("c", [])])
    assert [r["method"] for r in results] == ["a", "b", "c"]  # type: ignore[index]
    assert node.requests == 2


def test_warming_up_for_too_long_is_rpc_warmup(node: FakeNode) -> None:
    node.warmup_calls = 100
    with pytest.raises(RpcError) as err:
        client_for(node, max_retries=2).call("getblockcount")
    assert err.value.code is ErrorCode.RPC_WARMUP
    assert err.value.rpc_code == RPC_IN_WARMUP
    assert err.value.rpc_message == "Loading block index…"
    assert node.requests == 3


@pytest.mark.parametrize(("method", "rpc_code"), [("fail8", -8), ("fail5", -5)])
def test_invalid_parameter_and_not_found_are_not_retried(node: FakeNode, method: str, rpc_code: int) -> None:
    sleeps = Sleeps()
    with pytest.raises(RpcError) as err:
        client_for(node, sleeps).call(method, "x")
    assert err.value.code is ErrorCode.RPC_ERROR
    assert err.value.rpc_code == rpc_code
    assert node.requests == 1
    assert sleeps.waits == []


def test_unknown_method_404_is_a_node_error(node: FakeNode) -> None:
    with FakeNode(recorded_handler(), style=node.style) as recorded:
        with pytest.raises(RpcError) as err:
            client_for(recorded).call("no_such_method")
    assert (err.value.rpc_code, err.value.rpc_message) == (-32601, "Method not found")


# ------------------------------------------------------------------ garbage


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>hello</html>"),
        (500, b"Internal Server Error"),
        (200, b"\xff\xfe"),
        (200, b'{"result": NaN, "error": null, "id": 1}'),
        (200, b'{"result": 5, "error": null, "id": 77}'),
        (200, b'{"error": null, "id": 1}'),
        (200, b'{"result": null, "error": "boom", "id": 1}'),
        (200, b'{"result": null, "error": {"code": "x", "message": 1}, "id": 1}'),
        (200, b"[1, 2]"),
    ],
    ids=["html", "500-text", "not-utf8", "nan", "wrong-id", "no-result", "string-error", "error-types", "list"],
)
def test_garbage_is_rpc_bad_answer_and_not_retried(status: int, body: bytes) -> None:
    with FakeNode(echo) as node:
        node.garbage, node.garbage_status = body, status
        sleeps = Sleeps()
        with pytest.raises(RpcBadAnswerError) as err:
            client_for(node, sleeps).call("getblockcount")
        assert err.value.code is ErrorCode.RPC_BAD_ANSWER
        assert node.requests == 1
        assert sleeps.waits == []


def test_busy_503_is_retried_as_rpc_busy() -> None:
    with FakeNode(echo) as node:
        node.garbage, node.garbage_status = b"Work queue depth exceeded", 503
        with pytest.raises(RpcTransportError) as err:
            client_for(node, max_retries=2).call("getblockcount")
        assert err.value.code is ErrorCode.RPC_BUSY
        assert node.requests == 3


def test_one_client_shared_by_threads_keeps_answers_apart(node: FakeNode) -> None:
    client = client_for(node)
    node.shuffle_batches = True
    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(20):
            if client.call(f"t{n}", i) != {"method": f"t{n}", "params": [i], "path": "/"}:
                failures.append(f"call {n}/{i}")
            pair = client.batch([(f"b{n}", [i]), (f"c{n}", [i])])
            if [r["method"] for r in pair] != [f"b{n}", f"c{n}"]:  # type: ignore[index]
                failures.append(f"batch {n}/{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert node.requests == 4 * 20 * 2


# ------------------------------------------------------------------ numbers, wallets, transcript


def test_amounts_are_decimal_both_ways(node: FakeNode) -> None:
    node.handler = lambda method, params, path: {"value": Decimal("0.01000000"), "echo": params}
    result = client_for(node).call("gettxout", Decimal("0.1"))
    assert isinstance(result, dict)
    assert isinstance(result["value"], Decimal)
    assert str(result["value"]) == "0.01000000"
    assert result["echo"] == ["0.1"]  # sent as an exact decimal string, never a binary float


def test_wallet_endpoint_path(node: FakeNode) -> None:
    client = RpcClient(node.url, wallet="alice bob", sleep=Sleeps())
    assert client.call("getbalance")["path"] == "/wallet/alice%20bob"  # type: ignore[index]


def _transcript() -> list[dict[str, Any]]:
    path = REGTEST / "scenario" / "transcript.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


def test_transcript_replays_with_results_and_errors_intact() -> None:
    """Replay every recorded call; results (Decimal-exact) and node errors pass through unchanged."""
    transcript = _transcript()
    position = iter(range(len(transcript)))

    def replay(method: str, params: list[object], path: str) -> object:
        entry = transcript[next(position)]
        wallet = entry["wallet"]
        # the client sends Decimal amounts as exact strings
        sent = json.loads(json.dumps(entry["params"], default=str))
        assert (method, params, path) == (entry["method"], sent, f"/wallet/{wallet}" if wallet else "/")
        if entry.get("error"):
            raise FakeRpcError(entry["error"]["code"], entry["error"]["message"])
        return entry["result"]

    errors_seen = 0
    with FakeNode(replay) as node:
        clients = {w: client_for(node, wallet=w) for w in {e["wallet"] for e in transcript}}
        for entry in transcript:
            client = clients[entry["wallet"]]
            if entry.get("error"):
                with pytest.raises(RpcError) as err:
                    client.call(entry["method"], *entry["params"])
                assert err.value.code is ErrorCode.RPC_ERROR
                assert err.value.rpc_code == entry["error"]["code"]
                assert err.value.rpc_message == entry["error"]["message"]
                errors_seen += 1
            else:
                assert client.call(entry["method"], *entry["params"]) == entry["result"]
        assert node.requests == len(transcript)  # no error in the transcript is retried
    assert errors_seen == 14
    difficulty = transcript[0]["result"]["difficulty"]
    assert isinstance(difficulty, Decimal) and str(difficulty) == "4.656542373906925E-10"


# ------------------------------------------------------------------ pipelined prefetch


def _recorded_blocks() -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    index = list(load_json(REGTEST / "blocks" / "index.json"))
    raws: dict[str, bytes] = {}
    for entry in index:
        for call in load_json(REGTEST / entry["file"])["rpc"]:
            if call["method"] == "getblock" and call["params"][1] == 0:
                raws[entry["hash"]] = bytes.fromhex(call["result"])
    return index, raws


def test_pipelined_fetch_by_height_yields_active_chain_in_order() -> None:
    index, raws = _recorded_blocks()
    active = sorted((e for e in index if e["in_active_chain"]), key=lambda e: e["height"])
    with FakeNode(recorded_handler()) as node:
        node.shuffle_batches = True
        factory_calls = []

        def factory() -> RpcClient:
            factory_calls.append(threading.get_ident())
            return client_for(node)

        got = list(fetch_blocks_pipelined(factory, range(163), batch_size=10, in_flight=3))
    assert got == [raws[e["hash"]] for e in active]
    assert 1 <= len(factory_calls) <= 3


def test_pipelined_fetch_by_hash_includes_orphans() -> None:
    index, raws = _recorded_blocks()
    hashes = [e["hash"] for e in index][::-1]  # any order, orphans included
    with FakeNode(recorded_handler()) as node:
        got = list(
            fetch_blocks_pipelined(
                lambda: client_for(node), [BlockHash(bytes.fromhex(h)[::-1]) for h in hashes], batch_size=7
            )
        )
    assert got == [raws[h] for h in hashes]


def test_pipelined_fetch_surfaces_the_failing_batch() -> None:
    with FakeNode(recorded_handler()) as node:
        blocks = fetch_blocks_pipelined(lambda: client_for(node), range(150, 170), batch_size=5, in_flight=2)
        first = [next(blocks) for _ in range(5)]
        assert len(first) == 5
        with pytest.raises(RpcError) as err:
            list(blocks)
    assert err.value.rpc_code == -8
    assert err.value.method == "getblockhash"
