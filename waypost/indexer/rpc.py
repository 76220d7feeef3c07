"""Shell: namecoind JSON-RPC over HTTP; node JSON becomes frozen values, failures ``UpstreamError``s.

Makes no chain decisions (the follower does); raw RPC JSON keys appear only in this module.

Exceptions (all ``UpstreamError``, branch on ``code``)::

    UpstreamError
     ├── RpcTransportError   no usable answer: rpc.connect, rpc.timeout, rpc.busy      (retried)
     ├── RpcAuthError        rpc.auth (HTTP 401/403, not retried), rpc.cookie         (retried)
     ├── RpcBadAnswerError   rpc.bad-answer: not JSON, wrong/missing id, no result   (not retried)
     └── RpcError            the node answered an error: rpc_code, rpc_message, method, index
                             rpc.warming-up for -28 (retried), rpc.error otherwise (not retried)

Why ``http.client`` and not python-bitcoinrpc's ``AuthServiceProxy``: it keeps one HTTP
connection for its lifetime and never reconnects (jgarzik/python-bitcoinrpc#24, #78: a node
restart or the node closing an idle keep-alive socket leaves it raising ``BrokenPipeError``
forever), ``batch_`` pairs answers with calls by position instead of ``id`` (#96; JSON-RPC 2.0
§6 lets a server answer a batch in any order) and stops at the first error without saying
which call failed, a 401 surfaces as "non-JSON HTTP response", ``Decimal`` parameters are sent
as binary floats, and its id counter is a class attribute shared by all threads.  What we keep
of it is the semantics (Basic auth, ``parse_float=Decimal``, node code and message on the
error) over a fresh ``http.client`` connection per failure, so python-bitcoinrpc is not imported.

Retries re-send the request after a connection loss, so a call may reach the node twice: fine
for the read-only calls the indexer makes; do not route non-idempotent wallet calls through
``max_retries > 0``.

Thread-safety: a client serialises its calls with a lock (one HTTP connection each), so it can
be shared, but calls do not overlap; for parallel fetches give each thread its own client
(``fetch_blocks_pipelined`` does).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import itertools
import json
import logging
import queue
import re
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TypeVar

from waypost.registry.errors import ErrorCode, UpstreamError
from waypost.registry.model import BlockHash, Txid

__all__ = [
    "RPC_MISC_ERROR",
    "RPC_INVALID_ADDRESS_OR_KEY",
    "RPC_INVALID_PARAMETER",
    "RPC_IN_WARMUP",
    "RPC_METHOD_NOT_FOUND",
    "RpcTransportError",
    "RpcAuthError",
    "RpcBadAnswerError",
    "RpcError",
    "RpcConfig",
    "ChainInfo",
    "HeaderInfo",
    "RpcClient",
    "fetch_blocks_pipelined",
]

_log = logging.getLogger(__name__)

# bitcoin-core src/rpc/protocol.h (namecoin-core inherits them).
RPC_MISC_ERROR: Final = -1
RPC_INVALID_ADDRESS_OR_KEY: Final = -5  # e.g. "Block not found"
RPC_INVALID_PARAMETER: Final = -8  # e.g. "Block height out of range"
RPC_IN_WARMUP: Final = -28  # node still loading the block index
RPC_METHOD_NOT_FOUND: Final = -32601

# namecoin-core chainparamsbase.cpp: mainnet RPC port.
_DEFAULT_PORT: Final = 8336
# Sent as "jsonrpc": "1.0" (legacy, like bitcoin-cli before v28), which every namecoind
# release understands; the answers of both dialects are accepted (see _decode_reply).
_JSONRPC_VERSION: Final = "1.0"
_USER_AGENT: Final = "waypost-rpc/1"

_T = TypeVar("_T")


# --------------------------------------------------------------------------- errors


class RpcTransportError(UpstreamError):
    """No usable answer: connection refused/reset, timeout, or the node is busy (HTTP 503)."""


class RpcAuthError(UpstreamError):
    """The node refused our credentials (``rpc.auth``) or the cookie is unreadable (``rpc.cookie``)."""


class RpcBadAnswerError(UpstreamError):
    """The node (or whatever listens there) answered something that is not a JSON-RPC reply."""


class RpcError(UpstreamError):
    """The node answered a JSON-RPC error; its code and message are kept verbatim.

    Args:
        code: ``ErrorCode.RPC_WARMUP`` for -28, else ``ErrorCode.RPC_ERROR``.
        message: human text (defaults to ``"<method>: <rpc_code> <rpc_message>"``).
        rpc_code: the node's numeric error code (``RPC_INVALID_PARAMETER``...).
        rpc_message: the node's message, unchanged.
        **fields: ``method`` and, inside a batch, ``index`` (position of the failed call).
    """

    def __init__(self, code: ErrorCode, message: str = "", *, rpc_code: int, rpc_message: str, **fields: Any) -> None:
        method = fields.get("method", "?")
        where = f"{method}[{fields['index']}]" if fields.get("index") is not None else str(method)
        super().__init__(
            code, message or f"{where}: {rpc_code} {rpc_message}", rpc_code=rpc_code, rpc_message=rpc_message, **fields
        )
        self.rpc_code = rpc_code
        self.rpc_message = rpc_message
        self.method: str = str(method)
        self.index: int | None = fields.get("index")


def _rpc_error_from(error: object, *, method: str, index: int | None) -> RpcError:
    if not isinstance(error, dict):
        raise RpcBadAnswerError(ErrorCode.RPC_BAD_ANSWER, f"{method}: error member is not an object", method=method)
    rpc_code = error.get("code")
    rpc_message = error.get("message")
    if not isinstance(rpc_code, int) or isinstance(rpc_code, bool) or not isinstance(rpc_message, str):
        raise RpcBadAnswerError(ErrorCode.RPC_BAD_ANSWER, f"{method}: error without code/message", method=method)
    code = ErrorCode.RPC_WARMUP if rpc_code == RPC_IN_WARMUP else ErrorCode.RPC_ERROR
    return RpcError(code, rpc_code=rpc_code, rpc_message=rpc_message, method=method, index=index)


def _is_retryable(exc: UpstreamError) -> bool:
    # namecoind deletes its cookie on shutdown and writes a new one on start: a missing cookie
    # means "node not up yet", like connection refused.
    return isinstance(exc, RpcTransportError) or exc.code in (ErrorCode.RPC_WARMUP, ErrorCode.RPC_COOKIE)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcConfig:
    """Where and how to reach namecoind (the URL may hold ``user:password@``; kept out of repr)."""

    url: str = field(repr=False)
    cookie_path: Path | None = None
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_retries: int = 5
    backoff_s: float = 0.25
    wallet: str | None = None

    def client(self) -> RpcClient:
        """A new client with these settings (``config.client`` is the follower's client
        factory that a reader process can rebuild from the settings)."""
        return RpcClient.from_config(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainInfo:
    """The parts of ``getblockchaininfo`` the follower uses."""

    chain: str  # "main", "test", "regtest"
    blocks: int  # height of the active tip
    headers: int
    best_block_hash: BlockHash
    initial_block_download: bool
    verification_progress: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderInfo:
    """``getblockheader <hash> true``: where a block sits relative to the active chain."""

    block_hash: BlockHash
    height: int
    confirmations: int  # -1 when the block is not in the active chain (orphaned branch)
    prev_hash: BlockHash | None  # None for genesis
    next_hash: BlockHash | None  # None at the tip and off the active chain
    time_s: int
    tx_count: int

    @property
    def in_active_chain(self) -> bool:
        """True when the node counts the block in its active chain."""
        return self.confirmations >= 0


# --------------------------------------------------------------------------- JSON helpers


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-standard JSON constant {name}")


def _encode_param(value: object) -> object:
    # Amounts go out as decimal strings (bitcoin-core AmountFromValue accepts strings),
    # never as binary floats.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} as a JSON-RPC parameter")


def _display_hex(hash_bytes: bytes) -> str:
    return hash_bytes[::-1].hex()


def _bad(method: str, what: str) -> RpcBadAnswerError:
    return RpcBadAnswerError(ErrorCode.RPC_BAD_ANSWER, f"{method}: {what}", method=method)


def _as_dict(value: object, method: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _bad(method, f"expected an object, got {type(value).__name__}")
    return value


def _as_int(value: object, method: str, key: str = "result") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(method, f"{key} is not an integer")
    return value


def _as_str(value: object, method: str, key: str = "result") -> str:
    if not isinstance(value, str):
        raise _bad(method, f"{key} is not a string")
    return value


def _as_bytes(value: object, method: str, key: str = "result") -> bytes:
    text = _as_str(value, method, key)
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise _bad(method, f"{key} is not hex") from exc


def _as_hash(value: object, method: str, key: str = "result") -> BlockHash:
    raw = _as_bytes(value, method, key)
    if len(raw) != 32:
        raise _bad(method, f"{key} is not a 32-byte hash")
    return BlockHash(raw[::-1])  # display hex -> wire order


def _get(obj: dict[str, object], key: str, method: str) -> object:
    if key not in obj:
        raise _bad(method, f"missing {key!r}")
    return obj[key]


# --------------------------------------------------------------------------- client


class RpcClient:
    """A namecoind JSON-RPC client with reconnects, retries, batches and typed fetch helpers.

    Args:
        url: ``http://[user:password@]host[:port][/]``; the default port is 8336.
        cookie_path: namecoind's ``.cookie`` file; overrides the URL's credentials and is
            re-read once when the node answers 401 (it rewrites the cookie on restart).
        timeout_s: socket timeout for sending and reading one answer.
        connect_timeout_s: timeout for establishing the TCP connection.
        max_retries: retries after connection loss, timeouts, HTTP 503 and -28 warm-up.
        backoff_s: first retry delay; doubled on each further retry.
        wallet: send calls to ``/wallet/<wallet>``.
        sleep: the backoff wait (injectable for tests).

    Raises:
        RpcTransportError: ``rpc.connect`` when the URL is not ``http``/``https``.
    """

    def __init__(
        self,
        url: str,
        *,
        cookie_path: Path | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 5,
        backoff_s: float = 0.25,
        wallet: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RpcTransportError(ErrorCode.RPC_CONNECT, f"unsupported RPC URL scheme {parts.scheme!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        try:
            self._port = parts.port or _DEFAULT_PORT
        except ValueError as exc:
            raise RpcTransportError(ErrorCode.RPC_CONNECT, "bad port in RPC URL") from exc
        self._path = "/wallet/" + urllib.parse.quote(wallet, safe="") if wallet is not None else (parts.path or "/")
        self._user_pass: str | None = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            self._user_pass = f"{user}:{urllib.parse.unquote(parts.password or '')}"
        self._cookie_path = cookie_path
        self._cookie: str | None = None
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._conn: http.client.HTTPConnection | None = None
        self._conn_used = False  # has the current connection already carried an answer?

    @classmethod
    def from_config(cls, config: RpcConfig) -> RpcClient:
        """Build a client from an ``RpcConfig``."""
        return cls(
            config.url,
            cookie_path=config.cookie_path,
            timeout_s=config.timeout_s,
            connect_timeout_s=config.connect_timeout_s,
            max_retries=config.max_retries,
            backoff_s=config.backoff_s,
            wallet=config.wallet,
        )

    def __repr__(self) -> str:
        return f"RpcClient({'https' if self._https else 'http'}://{self._host}:{self._port}{self._path})"

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection (the next call opens a new one)."""
        with self._lock:
            self._drop_connection()

    # ----------------------------------------------------------------- public calls

    def call(self, method: str, *params: object) -> object:
        """Call one RPC method and return its ``result`` (floats parsed as ``Decimal``).

        Raises:
            RpcError: ``rpc.error`` (node error, code/message kept), ``rpc.warming-up`` after retries.
            RpcAuthError: ``rpc.auth``, ``rpc.cookie``.
            RpcTransportError: ``rpc.connect``, ``rpc.timeout``, ``rpc.busy`` after retries.
            RpcBadAnswerError: ``rpc.bad-answer``.
        """

        def decode(reply: object, request_id: int) -> object:
            return _decode_reply(reply, request_id, method, None)

        return self._request(lambda request_id: [(request_id, method, params)], decode)

    def batch_results(
        self,
        calls: Sequence[tuple[str, Sequence[object]]],
        *,
        fast: Callable[[bytes, int], list[object] | None] | None = None,
    ) -> list[object | RpcError]:
        """Send calls as one JSON-RPC batch; answers matched by ``id``, in call order.

        A failed call yields its ``RpcError`` (with ``index`` and ``method``) in its slot.
        ``fast(body, first_id)`` may decode an HTTP 200 body itself (None: not its shape).

        Raises:
            RpcError: ``rpc.warming-up`` after retries, or an error answered for the whole batch.
            RpcAuthError, RpcTransportError, RpcBadAnswerError: as for ``call``.
        """
        if not calls:
            return []

        def build(first_id: int) -> list[tuple[int, str, Sequence[object]]]:
            return [(first_id + i, method, params) for i, (method, params) in enumerate(calls)]

        def decode(reply: object, first_id: int) -> list[object | RpcError]:
            return _decode_batch(reply, first_id, [method for method, _ in calls])

        return self._request(build, decode, id_span=len(calls), as_batch=True, fast=fast)

    def batch(
        self,
        calls: Sequence[tuple[str, Sequence[object]]],
        *,
        fast: Callable[[bytes, int], list[object] | None] | None = None,
    ) -> list[object]:
        """Like ``batch_results`` but raise the first failed call's ``RpcError`` (names ``index``)."""
        results = self.batch_results(calls, fast=fast)
        for result in results:
            if isinstance(result, RpcError):
                raise result
        return results

    # ----------------------------------------------------------------- typed fetches

    def fetch_chain_info(self) -> ChainInfo:
        """``getblockchaininfo`` as a ``ChainInfo``."""
        method = "getblockchaininfo"
        obj = _as_dict(self.call(method), method)
        ibd = _get(obj, "initialblockdownload", method)
        progress = _get(obj, "verificationprogress", method)
        if not isinstance(ibd, bool):
            raise _bad(method, "initialblockdownload is not a boolean")
        if not isinstance(progress, (int, Decimal)) or isinstance(progress, bool):
            raise _bad(method, "verificationprogress is not a number")
        return ChainInfo(
            chain=_as_str(_get(obj, "chain", method), method, "chain"),
            blocks=_as_int(_get(obj, "blocks", method), method, "blocks"),
            headers=_as_int(_get(obj, "headers", method), method, "headers"),
            best_block_hash=_as_hash(_get(obj, "bestblockhash", method), method, "bestblockhash"),
            initial_block_download=ibd,
            verification_progress=Decimal(progress),
        )

    def fetch_block_count(self) -> int:
        """``getblockcount``: height of the active tip."""
        return _as_int(self.call("getblockcount"), "getblockcount")

    def fetch_best_block_hash(self) -> BlockHash:
        """``getbestblockhash`` in wire order."""
        return _as_hash(self.call("getbestblockhash"), "getbestblockhash")

    def fetch_block_hash(self, height: int) -> BlockHash:
        """``getblockhash <height>`` in wire order.

        Raises:
            RpcError: ``rpc.error`` with ``rpc_code == RPC_INVALID_PARAMETER`` above the tip.
        """
        return _as_hash(self.call("getblockhash", height), "getblockhash")

    def fetch_block_hashes(self, heights: Sequence[int]) -> list[BlockHash]:
        """``getblockhash`` for each height, in one batch."""
        results = self.batch([("getblockhash", (height,)) for height in heights])
        return [_as_hash(result, "getblockhash") for result in results]

    def fetch_block_raw(self, block_hash: BlockHash) -> bytes:
        """``getblock <hash> 0``: the serialised block (with AuxPoW).

        Raises:
            RpcError: ``rpc.error`` with ``rpc_code == RPC_INVALID_ADDRESS_OR_KEY`` when unknown.
        """
        return _as_bytes(self.call("getblock", _display_hex(block_hash), 0), "getblock")

    def fetch_blocks_raw(self, block_hashes: Sequence[BlockHash]) -> list[bytes]:
        """``getblock <hash> 0`` for each hash, in one batch, in the given order."""
        n = len(block_hashes)

        def fast(body: bytes, first_id: int) -> list[object] | None:
            return _hex_batch_results(body, first_id, n)  # type: ignore[return-value]

        results = self.batch([("getblock", (_display_hex(block_hash), 0)) for block_hash in block_hashes], fast=fast)
        return [r if isinstance(r, bytes) else _as_bytes(r, "getblock") for r in results]

    def fetch_header_raw(self, block_hash: BlockHash) -> bytes:
        """``getblockheader <hash> false``: 80 bytes, plus the AuxPoW for merge-mined blocks."""
        return _as_bytes(self.call("getblockheader", _display_hex(block_hash), False), "getblockheader")

    def fetch_header_info(self, block_hash: BlockHash) -> HeaderInfo:
        """``getblockheader <hash> true`` as a ``HeaderInfo``."""
        method = "getblockheader"
        obj = _as_dict(self.call(method, _display_hex(block_hash), True), method)
        prev = obj.get("previousblockhash")
        nxt = obj.get("nextblockhash")
        return HeaderInfo(
            block_hash=_as_hash(_get(obj, "hash", method), method, "hash"),
            height=_as_int(_get(obj, "height", method), method, "height"),
            confirmations=_as_int(_get(obj, "confirmations", method), method, "confirmations"),
            prev_hash=None if prev is None else _as_hash(prev, method, "previousblockhash"),
            next_hash=None if nxt is None else _as_hash(nxt, method, "nextblockhash"),
            time_s=_as_int(_get(obj, "time", method), method, "time"),
            tx_count=_as_int(_get(obj, "nTx", method), method, "nTx"),
        )

    def fetch_raw_tx(self, txid: Txid, block_hash: BlockHash | None = None) -> bytes:
        """``getrawtransaction <txid> 0 [<blockhash>]`` (needs ``-txindex`` without a block hash)."""
        params: list[object] = [_display_hex(txid), 0]
        if block_hash is not None:
            params.append(_display_hex(block_hash))
        return _as_bytes(self.call("getrawtransaction", *params), "getrawtransaction")

    def fetch_tx_out_proof(self, txids: Sequence[Txid], block_hash: BlockHash) -> bytes:
        """``gettxoutproof [<txid>...] <blockhash>``: serialised ``CMerkleBlock``."""
        ids = [_display_hex(txid) for txid in txids]
        return _as_bytes(self.call("gettxoutproof", ids, _display_hex(block_hash)), "gettxoutproof")

    # ----------------------------------------------------------------- transport

    def _request(
        self,
        build: Callable[[int], list[tuple[int, str, Sequence[object]]]],
        decode: Callable[[object, int], _T],
        *,
        id_span: int = 1,
        as_batch: bool = False,
        fast: Callable[[bytes, int], _T | None] | None = None,
    ) -> _T:
        with self._lock:
            first_id = next(self._ids)
            for _ in range(id_span - 1):
                next(self._ids)
            requests = build(first_id)
            payload: object = [_request_object(*r) for r in requests] if as_batch else _request_object(*requests[0])
            body = json.dumps(payload, default=_encode_param, separators=(",", ":")).encode()
            methods = ",".join(sorted({r[1] for r in requests}))
            attempt = 0
            cookie_reread = False
            while True:
                try:
                    status, data, content_type = self._exchange(body)
                    if status in (401, 403):
                        if status == 401 and self._cookie_path is not None and not cookie_reread:
                            cookie_reread = True
                            old = self._cookie
                            self._cookie = None
                            if self._auth_value() != old:
                                continue  # namecoind rewrote the cookie (restart): try the new one
                        raise RpcAuthError(
                            ErrorCode.RPC_AUTH, f"namecoind refused the credentials (HTTP {status})", status=status
                        )
                    if fast is not None and status == 200:
                        quick = fast(data, first_id)
                        if quick is not None:
                            return quick
                    return decode(_parse_body(status, data, content_type, methods), first_id)
                except UpstreamError as exc:
                    if not _is_retryable(exc) or attempt >= self._max_retries:
                        raise
                    delay = self._backoff_s * (2**attempt)
                    attempt += 1
                    _log.info("rpc %s: %s; retry %d/%d in %.2fs", methods, exc, attempt, self._max_retries, delay)
                    self._sleep(delay)

    def _auth_value(self) -> str | None:
        if self._cookie_path is None:
            return self._user_pass
        if self._cookie is None:
            self._cookie = _read_cookie(self._cookie_path)
        return self._cookie

    def _exchange(self, body: bytes) -> tuple[int, bytes, str | None]:
        """POST ``body``; one silent retry when a reused keep-alive connection was closed."""
        auth = self._auth_value()
        headers = {"User-Agent": _USER_AGENT, "Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode("ascii")
        reused = self._conn is not None and self._conn_used
        try:
            return self._exchange_once(body, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            self._drop_connection()
            if not reused:
                raise _transport_error(exc, self._host, self._port) from exc
            # The node closes idle keep-alive sockets (-rpcservertimeout): not a failure.
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise _transport_error(exc, self._host, self._port) from exc
        try:
            return self._exchange_once(body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            raise _transport_error(exc, self._host, self._port) from exc

    def _exchange_once(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        conn = self._connection()
        conn.request("POST", self._path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        self._conn_used = True
        if response.will_close:
            self._drop_connection()
        return response.status, data, response.getheader("Content-Type")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._connect_timeout_s)
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(self._timeout_s)
            self._conn = conn
            self._conn_used = False
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._conn_used = False


def _request_object(request_id: int, method: str, params: Sequence[object]) -> dict[str, object]:
    return {"jsonrpc": _JSONRPC_VERSION, "id": request_id, "method": method, "params": list(params)}


def _transport_error(exc: BaseException, host: str, port: int) -> RpcTransportError:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return RpcTransportError(ErrorCode.RPC_TIMEOUT, f"namecoind at {host}:{port} timed out", host=host, port=port)
    return RpcTransportError(
        ErrorCode.RPC_CONNECT, f"cannot reach namecoind at {host}:{port}: {exc!r}", host=host, port=port
    )


def _read_cookie(path: Path) -> str:
    # namecoin-core httprpc.cpp: the cookie file holds "__cookie__:<hex password>".
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise RpcAuthError(ErrorCode.RPC_COOKIE, f"cannot read RPC cookie {path}: {exc}", path=str(path)) from exc
    if ":" not in text:
        raise RpcAuthError(ErrorCode.RPC_COOKIE, f"RPC cookie {path} is not user:password", path=str(path))
    return text


def _parse_body(status: int, data: bytes, content_type: str | None, methods: str) -> object:
    try:
        return json.loads(data, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        if status == 503:
            # bitcoin-core httpserver.cpp: "Work queue depth exceeded" (plain text, 503).
            raise RpcTransportError(ErrorCode.RPC_BUSY, "namecoind is busy (HTTP 503)", status=status) from exc
        raise RpcBadAnswerError(
            ErrorCode.RPC_BAD_ANSWER,
            f"{methods}: HTTP {status} answer is not JSON ({content_type}): {data[:60]!r}",
            status=status,
            method=methods,
        ) from exc


# A batch reply of successful string results exactly as namecoind writes it (JSON-RPC 1.0:
# result, error null, id; JSON whitespace allowed): decoded without json.loads, which spends
# most of its time scanning the hex strings of getblock (and then fromhex once more).
_WS = rb"[ \t\n\r]*"
_BATCH_OPEN = re.compile(_WS + rb"\[")
_ITEM_HEAD = re.compile(_WS + rb'\{' + _WS + rb'"result"' + _WS + rb":" + _WS + rb'"')
_ITEM_TAIL = re.compile(
    rb'"' + _WS + rb"," + _WS + rb'"error"' + _WS + rb":" + _WS + rb"null" + _WS + rb"," + _WS + rb'"id"' + _WS + rb":"
    + _WS + rb"(0|[1-9][0-9]{0,17})" + _WS + rb"\}" + _WS + rb"([,\]])"
)


def _hex_batch_results(body: bytes, first_id: int, count: int) -> list[bytes] | None:
    """The decoded hex results of a batch of ``count`` calls, or None when ``body`` is not
    exactly that shape (ids in order, every call successful, pure hex strings): the caller
    then decodes it with ``json.loads`` and the general checks."""
    opened = _BATCH_OPEN.match(body)
    if opened is None or count < 1:
        return None
    view = memoryview(body)
    pos = opened.end()
    out: list[bytes] = []
    for i in range(count):
        head = _ITEM_HEAD.match(body, pos)
        if head is None:
            return None
        start = head.end()
        end = body.find(b'"', start)
        tail = _ITEM_TAIL.match(body, end) if end >= 0 else None
        if tail is None or int(tail[1]) != first_id + i or (tail[2] == b"]") != (i == count - 1):
            return None
        try:
            out.append(binascii.unhexlify(view[start:end]))
        except binascii.Error:
            return None
        pos = tail.end()
    return out if not body[pos:].strip(b" \t\n\r") else None


def _decode_reply(reply: object, request_id: int, method: str, index: int | None) -> object:
    """One JSON-RPC reply: 1.0 style (``result`` and ``error``, one null) or 2.0 (only one)."""
    if not isinstance(reply, dict):
        raise _bad(method, f"reply is a {type(reply).__name__}, not an object")
    error = reply.get("error")
    # bitcoin-core answers parse errors and invalid requests with "id": null.
    if reply.get("id") != request_id and not (error is not None and reply.get("id") is None):
        raise _bad(method, f"reply id {reply.get('id')!r} does not match request id {request_id}")
    if error is not None:
        raise _rpc_error_from(error, method=method, index=index)
    if "result" not in reply:
        raise _bad(method, "reply has neither result nor error")
    return reply["result"]


def _decode_batch(reply: object, first_id: int, methods: Sequence[str]) -> list[object | RpcError]:
    if isinstance(reply, dict):
        # The whole batch was refused (warm-up, invalid request): one error object.
        error = reply.get("error")
        if error is None:
            raise _bad("batch", "batch answered with a single object")
        raise _rpc_error_from(error, method="batch", index=None)
    if not isinstance(reply, list):
        raise _bad("batch", f"batch reply is a {type(reply).__name__}")
    by_id: dict[int, object] = {}
    for item in reply:
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, int) or isinstance(item_id, bool) or not 0 <= item_id - first_id < len(methods):
            raise _bad("batch", f"batch reply with unknown id {item_id!r}")
        if item_id in by_id:
            raise _bad("batch", f"batch reply id {item_id} answered twice")
        by_id[item_id] = item
    results: list[object | RpcError] = []
    for index, method in enumerate(methods):
        request_id = first_id + index
        if request_id not in by_id:
            raise _bad(method, f"batch reply lacks id {request_id} (call {index})")
        try:
            results.append(_decode_reply(by_id[request_id], request_id, method, index))
        except RpcError as exc:
            if exc.code is ErrorCode.RPC_WARMUP:
                raise
            results.append(exc)
    return results


# --------------------------------------------------------------------------- prefetch


def fetch_blocks_pipelined(
    client_factory: Callable[[], RpcClient],
    blocks: Sequence[BlockHash] | Sequence[int],
    *,
    batch_size: int = 16,
    in_flight: int = 3,
) -> Generator[bytes, None, None]:
    """Yield raw blocks in order, with up to ``in_flight`` batches requested at once.

    Each worker thread uses its own client from ``client_factory``, so batches travel on
    separate connections.  Heights are resolved with ``getblockhash`` per batch, so a reorg
    during the fetch can mix branches: the caller checks prev-hash linkage anyway.

    Args:
        client_factory: builds one ``RpcClient`` per worker (closed at the end).
        blocks: block hashes (wire order) or heights, in the order to yield.
        batch_size: blocks per ``getblock`` batch.
        in_flight: batches requested concurrently (2-4 suits namecoind's -rpcthreads=4).

    Raises:
        RpcError, RpcTransportError, RpcAuthError, RpcBadAnswerError: from the batch that failed.
    """
    if batch_size < 1 or in_flight < 1:
        raise ValueError("batch_size and in_flight must be positive")
    items: list[BlockHash | int] = list(blocks)
    chunks = iter([items[i : i + batch_size] for i in range(0, len(items), batch_size)])
    clients: queue.SimpleQueue[RpcClient] = queue.SimpleQueue()

    def work(chunk: list[BlockHash | int]) -> list[bytes]:
        try:
            client = clients.get_nowait()
        except queue.Empty:
            client = client_factory()
        try:
            heights = [h for h in chunk if isinstance(h, int)]
            if heights:
                return client.fetch_blocks_raw(client.fetch_block_hashes(heights))
            return client.fetch_blocks_raw([BlockHash(h) for h in chunk if isinstance(h, bytes)])
        finally:
            clients.put(client)

    try:
        with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="rpc-prefetch") as executor:
            pending: deque[Future[list[bytes]]] = deque()
            try:
                for chunk in itertools.islice(chunks, in_flight):
                    pending.append(executor.submit(work, chunk))
                while pending:
                    raws = pending.popleft().result()
                    following = next(chunks, None)
                    if following is not None:
                        pending.append(executor.submit(work, following))
                    yield from raws
            finally:
                for future in pending:
                    future.cancel()
    finally:
        while True:
            try:
                clients.get_nowait().close()
            except queue.Empty:
                break
