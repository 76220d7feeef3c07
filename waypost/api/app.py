"""Flask app factory of the HTTP API (shell): wires the reader, errors, CORS, freshness and blueprints.

Other parts register their endpoints through ``extra_blueprints`` and reach the store, the
network and the freshness check through ``current_app.config["WAYPOST"]`` (an ``ApiContext``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from waypost.api.errors import register_error_handler
from waypost.api.freshness import Freshness, FreshnessThresholds, assess_freshness, default_thresholds
from waypost.api.openapi import build_spec
from waypost.indexer.view import IndexStatus, NameReader
from waypost.registry.errors import ErrorCode, ParseError, WaypostError

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = [
    "ApiConfig",
    "ApiContext",
    "FreshParts",
    "create_app",
    "current_context",
    "mark_cacheable",
    "REQUIRE_FRESH_HEADER",
    "CACHED_PATH_PREFIXES",
]

REQUIRE_FRESH_HEADER = "Waypost-Require-Fresh"
MAX_AGE_LIMIT_S = 10**12  # bound on ?max_age= (documented in the OpenAPI spec)
_ACCESS_LOG = logging.getLogger("waypost.api.access")
# Routes whose 200 answers may be replayed from the per-thread response cache (see mark_cacheable).
CACHED_PATH_PREFIXES = ("/v1/resolve/",)
_CACHEABLE_KEY = "waypost.cacheable"
_RESPONSE_CACHE_SIZE = 1024  # answers per thread (a resolve answer is 2-4 KB)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    """Operator settings of the API.

    Attributes:
        access_log: log one line per request (method, path, status). Off by default:
            the path of a lookup says who asked for whom, which is private.
        thresholds: when answers count as stale; ``None`` takes ``default_thresholds(network)``.
        retry_after_s: ``Retry-After`` on 503 answers.
        cors_allow_origin: ``Access-Control-Allow-Origin`` of GET answers (``None``: no CORS).
        db_path: the index database, for blueprints that open their own tables.
        status_cache_s: how long a thread reuses the index status (tip, node view) between
            requests; 0 reads it on every request. Answers may lag the index by this much.
        response_cache: replay answers marked with ``mark_cacheable`` (``/v1/resolve``) from a
            per-thread cache while the database is unchanged (never stale: any commit empties it).
    """

    access_log: bool = False
    thresholds: FreshnessThresholds | None = None
    retry_after_s: int = 30
    cors_allow_origin: str | None = "*"
    db_path: str | None = None
    status_cache_s: float = 0.5
    response_cache: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiContext:
    """What every blueprint can use, as ``current_app.config["WAYPOST"]``.

    ``reader()`` returns this thread's ``NameReader`` (SQLite connections are not shared
    across threads); ``freshness()`` assesses the index once per request and enforces a
    client's demand for fresh data (``?max_age=`` or ``Waypost-Require-Fresh: 1``).
    """

    network: str
    config: ApiConfig
    thresholds: FreshnessThresholds
    now: Callable[[], float]
    reader_factory: Callable[[], NameReader]
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def reader(self) -> NameReader:
        """This thread's reader, opened on first use (reopened after a fork)."""
        local = self._local
        pid = os.getpid()
        if getattr(local, "pid", None) != pid:
            local.reader = self.reader_factory()
            local.pid = pid
        reader: NameReader = local.reader
        return reader

    def status(self) -> IndexStatus:
        """The index status, read once per request and reused by a thread for ``status_cache_s``."""
        cached = g.get("waypost_status")
        if isinstance(cached, IndexStatus):
            return cached
        status = self.cached_status()
        g.waypost_status = status
        return status

    def cached_status(self) -> IndexStatus:
        """The index status outside a Flask request: this thread's copy, re-read after ``status_cache_s``."""
        local = self._local
        ttl = self.config.status_cache_s
        mono = time.monotonic()
        status: IndexStatus | None = getattr(local, "status", None)
        if status is None or ttl <= 0 or mono - getattr(local, "status_read_at", 0.0) > ttl or local.pid != os.getpid():
            status = self.reader().fetch_status()
            local.status = status
            local.status_read_at = mono
        return status

    def fresh_parts(self) -> FreshParts:
        """Freshness of an answer made now, with its JSON and headers pre-rendered.

        Cached per thread for one index status and one wall-clock second (every field of
        ``Freshness`` is a function of the status and ``int(now)``), so a lookup does not
        re-assess and re-encode it.
        """
        status = self.cached_status()
        now_s = int(self.now())
        local = self._local
        parts: FreshParts | None = getattr(local, "fresh_parts", None)
        if parts is not None and parts.status is status and parts.now_s == now_s:
            return parts
        fresh = assess_freshness(status, now_s, self.network, self.thresholds)
        headers: list[tuple[str, str]] = []
        if self.config.cors_allow_origin is not None:
            headers.append(("Access-Control-Allow-Origin", self.config.cors_allow_origin))
            headers.append(("Access-Control-Expose-Headers", _EXPOSE_HEADERS))
        headers += _fresh_headers(fresh)
        parts = FreshParts(
            status=status,
            now_s=now_s,
            fresh=fresh,
            json_text=json.dumps(fresh.to_json(), separators=(",", ":"), ensure_ascii=False),
            headers=tuple(headers),
        )
        local.fresh_parts = parts
        return parts

    def response_cache(self) -> _ResponseCache | None:
        """This thread's cache of whole answers, emptied whenever the database changed.

        ``PRAGMA data_version`` of this thread's connection changes when any other connection
        commits (the indexer, a chain submission), so a cached answer is always the answer
        the current database gives. None when the reader has no SQLite connection.
        """
        reader = self.reader()
        conn = getattr(reader, "conn", None)
        if not isinstance(conn, sqlite3.Connection):
            return None
        row = conn.execute("PRAGMA data_version").fetchone()
        version = int(row[0]) if row is not None else -1
        local = self._local
        cache: _ResponseCache | None = getattr(local, "response_cache", None)
        if cache is None or cache.reader is not reader:
            cache = _ResponseCache(reader)
            local.response_cache = cache
        if cache.version != version:
            cache.clear(version)
        return cache

    def freshness(self, *, enforce: bool = True) -> Freshness:
        """How fresh this request's answer is; raises when the client refuses stale data.

        Args:
            enforce: apply ``?max_age=`` / ``Waypost-Require-Fresh`` (``/v1/status`` does not).

        Returns:
            The ``Freshness`` (also sent as ``Waypost-*`` headers).

        Raises:
            ParseError: ``api.bad-param`` for a bad ``max_age``.
            WaypostError: ``index.stale`` (503) when the client required fresh data.
        """
        fresh = g.get("waypost_freshness")
        if not isinstance(fresh, Freshness):
            fresh = assess_freshness(self.status(), self.now(), self.network, self.thresholds)
            g.waypost_freshness = fresh
        if enforce:
            _enforce_fresh(fresh)
        return fresh


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshParts:
    """A ``Freshness`` with its JSON text and response headers (GET answers), cached per thread."""

    status: IndexStatus
    now_s: int
    fresh: Freshness
    json_text: str
    headers: tuple[tuple[str, str], ...]


_EXPOSE_HEADERS = "Retry-After, Waypost-Tip-Height, Waypost-Tip-Hash, Waypost-Stale"


def _fresh_headers(fresh: Freshness) -> list[tuple[str, str]]:
    out = [("Waypost-Tip-Height", str(fresh.tip_height))]
    if fresh.tip_hash_hex is not None:
        out.append(("Waypost-Tip-Hash", fresh.tip_hash_hex))
    out.append(("Waypost-Stale", "1" if fresh.stale else "0"))
    return out


class _ResponseCache:
    """Whole answers (status, headers, body) by (path, query, Accept), for one database version."""

    def __init__(self, reader: object) -> None:
        self.reader = reader
        self.version = -1
        self._data: OrderedDict[tuple[str, str, str | None], tuple[str, tuple[tuple[str, str], ...], bytes]] = OrderedDict()

    def clear(self, version: int) -> None:
        self._data.clear()
        self.version = version

    def get(self, key: tuple[str, str, str | None]) -> tuple[str, tuple[tuple[str, str], ...], bytes] | None:
        hit = self._data.get(key)
        if hit is not None:
            self._data.move_to_end(key)
        return hit

    def put(self, key: tuple[str, str, str | None], value: tuple[str, tuple[tuple[str, str], ...], bytes]) -> None:
        self._data[key] = value
        if len(self._data) > _RESPONSE_CACHE_SIZE:
            self._data.popitem(last=False)


def mark_cacheable() -> None:
    """Let the app replay this request's answer while the database does not change.

    Only for routes under ``CACHED_PATH_PREFIXES`` whose answer (status, headers, body) is a
    function of the path, the query string, the ``Accept`` header and the database content:
    no clock, no other header. The app then answers the same GET from a per-thread cache
    until any connection commits to the database.
    """
    request.environ[_CACHEABLE_KEY] = True


def current_context() -> ApiContext:
    """The ``ApiContext`` of the running app (inside a request)."""
    ctx = current_app.config["WAYPOST"]
    if not isinstance(ctx, ApiContext):  # pragma: no cover - misconfiguration
        raise TypeError("app.config['WAYPOST'] is not an ApiContext")
    return ctx


def _parse_max_age() -> int | None:
    if not request.environ.get("QUERY_STRING"):
        return None
    raw = request.args.get("max_age")
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 13 or int(raw) > MAX_AGE_LIMIT_S:
        raise ParseError(
            ErrorCode.API_BAD_PARAM, f"max_age must be an integer in 0..{MAX_AGE_LIMIT_S} (seconds)", param="max_age"
        )
    return int(raw)


def _enforce_fresh(fresh: Freshness) -> None:
    max_age = _parse_max_age()
    header = request.headers.get(REQUIRE_FRESH_HEADER)
    if header is not None and header.strip() not in ("0", "1"):
        raise ParseError(ErrorCode.API_BAD_PARAM, f"{REQUIRE_FRESH_HEADER} must be 0 or 1", param=REQUIRE_FRESH_HEADER)
    required = header is not None and header.strip() == "1"
    if not required and max_age is None:
        return
    if fresh.stale:
        reason = fresh.reasons[0] if fresh.reasons else "stale"
        raise WaypostError(ErrorCode.INDEX_STALE, f"the index is stale ({reason}) and fresh data was required", reason=str(reason))
    # max_age: the index must have seen the node's tip at most max_age seconds ago.
    if max_age is not None and (fresh.check_age_s is None or fresh.check_age_s > max_age):
        raise WaypostError(
            ErrorCode.INDEX_STALE,
            f"the index last checked the node {fresh.check_age_s} s ago, more than max_age={max_age}",
            reason="max-age",
            check_age_s=fresh.check_age_s,
        )


def _blueprint_openapi(bp: Blueprint) -> tuple[Mapping[str, object], Mapping[str, object]]:
    module = sys.modules.get(bp.import_name)
    paths = getattr(module, "OPENAPI_PATHS", {}) if module is not None else {}
    schemas = getattr(module, "OPENAPI_SCHEMAS", {}) if module is not None else {}
    return paths, schemas


def _install_fast_path(app: Flask, ctx: ApiContext) -> None:
    """Serve plain ``GET /v1/names/{name}`` hits and cached answers without Flask's request machinery.

    Flask's per-request work (request/app contexts, routing, response objects, hooks) costs
    several times the lookup itself; the fast path answers the common 200 case with the same
    bytes and headers and hands everything else to Flask. Answers marked with
    ``mark_cacheable`` (under ``CACHED_PATH_PREFIXES``) are replayed byte for byte while the
    database is unchanged.
    """
    from waypost.api.names import fast_show_name

    flask_wsgi = app.wsgi_app

    def fast_wsgi(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") == "GET"
            and not environ.get("QUERY_STRING")
            and "HTTP_WAYPOST_REQUIRE_FRESH" not in environ
        ):
            answer = fast_show_name(ctx, environ.get("PATH_INFO", ""))
            if answer is not None:
                body, headers = answer
                start_response("200 OK", headers)
                return [body]
        if (
            ctx.config.response_cache
            and environ.get("REQUEST_METHOD") == "GET"
            and environ.get("PATH_INFO", "").startswith(CACHED_PATH_PREFIXES)
        ):
            return _cached(environ, start_response)
        return flask_wsgi(environ, start_response)

    def _cached(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            cache = ctx.response_cache()
        except (WaypostError, sqlite3.Error):
            cache = None
        if cache is None:
            return flask_wsgi(environ, start_response)
        accept = environ.get("HTTP_ACCEPT")
        key = (str(environ.get("PATH_INFO", "")), str(environ.get("QUERY_STRING", "")), None if accept is None else str(accept))
        hit = cache.get(key)
        if hit is not None:
            start_response(hit[0], list(hit[1]))
            return [hit[2]]
        seen: list[tuple[str, list[tuple[str, str]]]] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable[[bytes], object]:
            seen.append((status, list(headers)))
            return start_response(status, headers, exc_info)  # type: ignore[arg-type]

        chunks = flask_wsgi(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
        if environ.get(_CACHEABLE_KEY) is True and seen and seen[0][0].startswith("200 "):
            cache.put(key, (seen[0][0], tuple(seen[0][1]), body))
        return [body]

    app.wsgi_app = fast_wsgi  # type: ignore[method-assign]


def create_app(
    *,
    reader_factory: Callable[[], NameReader],
    network: str,
    now: Callable[[], float] = time.time,
    extra_blueprints: Sequence[Blueprint] = (),
    config: ApiConfig | None = None,
) -> Flask:
    """Build the API app.

    Args:
        reader_factory: opens a ``NameReader``; called once per thread (and after a fork).
        network: the index's network ("mainnet" | "testnet" | "regtest").
        now: wall clock in seconds (injected for tests).
        extra_blueprints: other parts' endpoints (tlog, notify, resolve...). A blueprint's
            module may define ``OPENAPI_PATHS`` (and ``OPENAPI_SCHEMAS``) to appear in
            ``/v1/openapi.json``.
        config: operator settings; defaults to ``ApiConfig()``.

    Returns:
        The Flask app.
    """
    from waypost.api.names import blueprint as names_blueprint
    from waypost.api.status import blueprint as status_blueprint

    cfg = config or ApiConfig()
    ctx = ApiContext(
        network=network,
        config=cfg,
        thresholds=cfg.thresholds or default_thresholds(network),
        now=now,
        reader_factory=reader_factory,
    )
    app = Flask("waypost.api")
    # Names are bytes: "d//x" and "d/x" differ, so never merge slashes (werkzeug would redirect).
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    app.config["WAYPOST"] = ctx
    register_error_handler(app, retry_after_s=cfg.retry_after_s)

    extra_paths: dict[str, object] = {}
    extra_schemas: dict[str, object] = {}
    for bp in (status_blueprint, names_blueprint, *extra_blueprints):
        app.register_blueprint(bp)
        if bp not in (status_blueprint, names_blueprint):
            paths, schemas = _blueprint_openapi(bp)
            extra_paths.update(paths)
            extra_schemas.update(schemas)
    spec = build_spec(extra_paths=extra_paths, extra_schemas=extra_schemas)

    @app.get("/v1/openapi.json")
    def openapi_json() -> Response:
        return jsonify(spec)

    if not cfg.access_log:
        _install_fast_path(app, ctx)

    @app.after_request
    def _after(resp: Response) -> Response:
        if cfg.cors_allow_origin is not None and request.method in ("GET", "HEAD", "OPTIONS"):
            resp.headers["Access-Control-Allow-Origin"] = cfg.cors_allow_origin
            resp.headers["Access-Control-Expose-Headers"] = _EXPOSE_HEADERS
            if request.method == "OPTIONS":
                resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
                resp.headers["Access-Control-Allow-Headers"] = REQUIRE_FRESH_HEADER
                resp.headers["Access-Control-Max-Age"] = "86400"
        fresh = g.get("waypost_freshness")
        if isinstance(fresh, Freshness):
            for key, value in _fresh_headers(fresh):
                resp.headers[key] = value
        if cfg.access_log:
            # Opt-in only (ApiConfig.access_log): the path names who was looked up.
            _ACCESS_LOG.info("%s %s %s", request.method, request.full_path.rstrip("?"), resp.status_code)
        return resp

    return app
