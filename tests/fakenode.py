"""A scriptable namecoind JSON-RPC stand-in on 127.0.0.1 for the RPC client tests.

Answers like bitcoin-core's ``httprpc.cpp``: 401 with an empty body on bad credentials;
legacy (1.0) requests get errors as HTTP 500 (404 for unknown methods), 2.0 style answers
errors with 200; batches always 200.  Tests flip the knobs (``warmup_calls``, ``drop_calls``,
``stall_calls``, ``garbage``, ``shuffle_batches``...) and read ``calls``/``requests`` to count.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import socket
import threading
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["FakeNode", "FakeRpcError", "Handler"]

Handler = Callable[[str, list[object], str], object]  # (method, params, path) -> result


class FakeRpcError(Exception):
    """Raise from a handler to answer a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_DEC = re.compile(r'"\\u0000DEC:([-+0-9.eE]+)\\u0000"')


def _encode_decimal(value: object) -> object:
    if isinstance(value, Decimal):
        return f"\x00DEC:{value}\x00"
    raise TypeError(type(value).__name__)


def _dumps(obj: object) -> bytes:
    # Emit Decimals as the exact number text the node would write ("0.01000000").
    return _DEC.sub(r"\1", json.dumps(obj, default=_encode_decimal)).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, node: FakeNode, port: int) -> None:
        self.node = node
        super().__init__(("127.0.0.1", port), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like namecoind
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.node._track(self.connection)

    def finish(self) -> None:
        self.server.node._untrack(self.connection)
        super().finish()

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        node = self.server.node
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with node.lock:
            node.requests += 1
            drop = node.drop_calls > 0
            node.drop_calls -= drop
            stall = node.stall_calls > 0
            node.stall_calls -= stall
            garbage = node.garbage
            expected = node.expected_auth()
        if drop:
            # Vanish without an answer, as a node killed mid-request does.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if stall:
            node.release.wait(node.stall_s)
            self.close_connection = True
            return
        if expected is not None and self.headers.get("Authorization") != expected:
            self._send(401, b"", extra={"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        if garbage is not None:
            self._send(node.garbage_status, garbage)
            return
        request = json.loads(body, parse_float=Decimal)
        if isinstance(request, list):
            replies = [node._answer(item, self.path)[1] for item in request]
            if node.shuffle_batches and len(replies) > 1:
                order = list(range(len(replies)))
                node.rng.shuffle(order)
                if order == sorted(order):
                    order.reverse()
                replies = [replies[i] for i in order]
            self._send(200, _dumps(replies))
            return
        status, reply = node._answer(request, self.path)
        self._send(status, _dumps(reply))

    def _send(self, status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


class FakeNode:
    """A threaded JSON-RPC server on 127.0.0.1 driven by ``handler``.

    Args:
        handler: ``(method, params, path) -> result``; raise ``FakeRpcError`` for an error.
        user, password: accepted Basic credentials (``None`` user: no auth check).
        cookie_dir: when set, auth is ``__cookie__:<random>`` written to ``cookie_dir/.cookie``
            and rewritten on every ``restart()``.
        style: ``"1.0"`` (errors as HTTP 500/404, both members present) or ``"2.0"``.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        user: str | None = "user",
        password: str = "pass",
        cookie_dir: Path | None = None,
        style: str = "1.0",
    ) -> None:
        self.handler = handler
        self.user = user
        self.password = password
        self.cookie_path = cookie_dir / ".cookie" if cookie_dir is not None else None
        self.style = style
        self.lock = threading.Lock()
        self.rng = random.Random(7)
        self.calls: list[tuple[str, list[object]]] = []
        self.requests = 0
        self.warmup_calls = 0
        self.drop_calls = 0
        self.stall_calls = 0
        self.stall_s = 5.0
        self.release = threading.Event()
        self.garbage: bytes | None = None
        self.garbage_status = 200
        self.shuffle_batches = False
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://user:pass@127.0.0.1:<port>/`` (no credentials in cookie mode)."""
        if self.user is None or self.cookie_path is not None:
            return f"http://127.0.0.1:{self.port}/"
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    def start(self) -> FakeNode:
        if self.cookie_path is not None:
            self.cookie_path.write_text(f"__cookie__:{secrets.token_hex(32)}", encoding="ascii")
        self.release.clear()
        self._server = _Server(self, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (a node shutting down)."""
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.cookie_path is not None:
            self.cookie_path.unlink(missing_ok=True)  # namecoind deletes its cookie on shutdown

    def restart(self) -> None:
        """Stop, then listen again on the same port (with a new cookie in cookie mode)."""
        self.stop()
        self.start()

    def __enter__(self) -> FakeNode:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals

    def expected_auth(self) -> str | None:
        if self.cookie_path is not None:
            try:
                pair = self.cookie_path.read_text(encoding="ascii")
            except OSError:
                return "unreadable"
        elif self.user is None:
            return None
        else:
            pair = f"{self.user}:{self.password}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def _track(self, conn: socket.socket) -> None:
        with self.lock:
            self._conns.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self.lock:
            self._conns.discard(conn)

    def _answer(self, request: object, path: str) -> tuple[int, dict[str, object]]:
        assert isinstance(request, dict)
        request_id = request.get("id")
        method = str(request.get("method"))
        params = list(request.get("params") or [])
        with self.lock:
            warm = self.warmup_calls > 0
            self.warmup_calls -= warm
            if not warm:
                self.calls.append((method, params))
        try:
            if warm:
                raise FakeRpcError(-28, "Loading block index…")
            result = self.handler(method, params, path)
        except Exception as exc:  # noqa: BLE001 - a test handler's bug becomes a visible RPC error
            code, message = (exc.code, exc.message) if isinstance(exc, FakeRpcError) else (-32603, repr(exc))
            error = {"code": code, "message": message}
            if self.style == "2.0":
                return 200, {"jsonrpc": "2.0", "error": error, "id": request_id}
            return (404 if code == -32601 else 500), {"result": None, "error": error, "id": request_id}
        if self.style == "2.0":
            return 200, {"jsonrpc": "2.0", "result": result, "id": request_id}
        return 200, {"result": result, "error": None, "id": request_id}


def recorded_handler() -> Handler:
    """Answer from the recorded regtest node (blocks, transactions, ``meta/node_info.json``).

    Unknown blocks answer -5 and heights above the tip -8, with namecoind's messages.
    """
    from tests.vectors import REGTEST, json_files, load_json, regtest_blocks

    answers: dict[tuple[str, str], dict[str, object]] = {}
    entries: list[dict[str, object]] = []
    for block in regtest_blocks():
        entries.extend(block["rpc"])
    for path in json_files("namecoind-regtest/txs"):
        if path.name != "index.json":
            entries.extend(load_json(path)["rpc"])
    entries.extend(load_json(REGTEST / "meta" / "node_info.json"))
    for entry in entries:
        key = (str(entry["method"]), json.dumps(entry["params"]))
        if entry["method"] == "getblockhash" and key in answers:
            continue  # orphaned block files repeat the active chain's answer
        answers[key] = entry

    def handle(method: str, params: list[object], path: str) -> object:
        entry = answers.get((method, json.dumps(params)))
        if entry is None:
            if method == "getblockhash":
                raise FakeRpcError(-8, "Block height out of range")
            if method in ("getblock", "getblockheader"):
                raise FakeRpcError(-5, "Block not found")
            raise FakeRpcError(-32601, "Method not found")
        if entry.get("error"):
            error = entry["error"]
            assert isinstance(error, dict)
            raise FakeRpcError(int(error["code"]), str(error["message"]))
        return entry["result"]

    return handle
