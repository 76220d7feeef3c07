"""JSON-RPC over HTTP on 127.0.0.1 for the simulator (shell: sockets, threads, logging).

bitcoind's transport: HTTP basic auth (cookie ``__cookie__:<hex>`` or rpcuser/rpcpassword),
single calls and batches, ``/`` and ``/wallet/<name>`` endpoints. Any exception inside a
handler thread becomes JSON-RPC -32603 "Internal error" and is logged, never a crash.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from waypost.regtest.chain import RpcFailure
from waypost.regtest.jsonfmt import dumps
from waypost.regtest.rpc_methods import Dispatcher

__all__ = ["RpcServer"]

log = logging.getLogger(__name__)


class _QuietServer(ThreadingHTTPServer):
    """socketserver prints a traceback to stderr when a client drops its connection;
    that is routine for an RPC server (clients time out, load generators reset), so log it."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)


class RpcServer:
    """A threaded JSON-RPC server bound to 127.0.0.1.

    Args:
        dispatcher: the method table.
        port: TCP port (0: ephemeral).
        credentials: accepted ``user:password`` strings (cookie and/or rpcuser).
    """

    def __init__(self, dispatcher: Dispatcher, *, port: int, credentials: list[str]) -> None:
        self.dispatcher = dispatcher
        self._auth = [base64.b64encode(c.encode()).decode() for c in credentials]
        handler = _make_handler(self)
        self.httpd = _QuietServer(("127.0.0.1", port), handler)
        self.port = int(self.httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="regtest-rpc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def authorised(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        got = header[6:].strip()
        return any(hmac.compare_digest(got, a) for a in self._auth)

    def handle_one(self, req: Any, wallet: str | None) -> dict[str, Any]:
        """One JSON-RPC request object to its reply object (JSON-RPC 1.0 style, as bitcoind)."""
        rid = req.get("id") if isinstance(req, dict) else None
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            return {"result": None, "error": {"code": -32600, "message": "Method must be a string"}, "id": rid}
        try:
            result = self.dispatcher.call(req["method"], req.get("params"), wallet)
            return {"result": result, "error": None, "id": rid}
        except RpcFailure as exc:
            return {"result": None, "error": {"code": exc.code, "message": exc.message}, "id": rid}
        except Exception:  # noqa: BLE001 - shell boundary: never let a handler crash the node
            log.exception("internal error in %s", req.get("method"))
            return {"result": None, "error": {"code": -32603, "message": "Internal error"}, "id": rid}


def _make_handler(server: RpcServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in separate writes; with Nagle on, a keep-alive client's
        # delayed ACK stalls every answer by ~40 ms (namecoind's libevent server sends at once)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("rpc %s", format % args)

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self._send(405, b"JSONRPC server handles only POST requests", "text/html")

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if not server.authorised(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="jsonrpc"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            wallet: str | None = None
            path = self.path.split("?", 1)[0]
            if path.startswith("/wallet/"):
                wallet = unquote(path[len("/wallet/") :])
            elif path not in ("/", ""):
                self._send(404, b"")
                return
            try:
                req = json.loads(body, parse_float=Decimal)
            except ValueError:
                err = {"result": None, "error": {"code": -32700, "message": "Parse error"}, "id": None}
                self._send(500, dumps(err).encode())
                return
            if isinstance(req, list):
                replies = [server.handle_one(r, wallet) for r in req]
                self._send(200, dumps(replies).encode())
                return
            reply = server.handle_one(req, wallet)
            status = 200
            if reply["error"] is not None:
                # bitcoind: -32601 -> 404, -32600 -> 400, other errors -> 500
                status = {-32601: 404, -32600: 400}.get(reply["error"]["code"], 500)
            self._send(status, (dumps(reply) + "\n").encode())

    return Handler
