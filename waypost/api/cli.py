"""``waypost serve`` (shell): serve the HTTP API from an index database under gunicorn (or Werkzeug with ``--dev``).

Lookups are not logged unless ``--access-log`` is given: the path says who looked up whom.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from flask import Blueprint, Flask

from waypost.api.app import ApiConfig, create_app
from waypost.indexer.view import NameReader
from waypost.registry.errors import ErrorCode, StoreError, WaypostError

__all__ = ["add_arguments", "run", "build_app", "open_index_reader", "DEFAULT_PORT"]

DEFAULT_PORT = 8335


def open_index_reader(db_path: str) -> NameReader:
    """Open the index read-only through the store (imported lazily: the API reads, never writes).

    Raises:
        StoreError: ``store.io`` when the file is missing, ``store.corrupt`` when it is not an index.
    """
    if not Path(db_path).is_file():
        raise StoreError(ErrorCode.STORE_IO, f"no index database at {db_path} (run 'waypost index' first)")
    from waypost.indexer.store import open_reader

    reader: NameReader = open_reader(db_path)
    return reader


def _network_of(db_path: str) -> str:
    reader = open_index_reader(db_path)
    try:
        network = getattr(reader, "network", None)
        if not isinstance(network, str) or not network:
            network = reader.fetch_status().network
        return network
    finally:
        close = getattr(reader, "close", None)
        if callable(close):
            close()


def _extra_blueprints(db_path: str) -> list[Blueprint]:
    """Blueprints of other parts served beside the name API: resolver (#6), log (#6), notifications (#7).

    Each reaches the store through its own per-thread read-only connection (SQLite
    connections are not shared between threads). Notification options come from the
    environment so that gunicorn workers and ``waypost serve`` agree:
    ``WAYPOST_ADMIN_TOKEN`` (admin endpoint; unset: admin endpoint off) and
    ``WAYPOST_WEBHOOK_ALLOW`` (comma-separated CIDRs or host:port exempt from the SSRF guard).
    ``WAYPOST_WITNESSES`` (comma-separated witness vkeys) turns on
    ``POST /v1/log/witness/cosignature``: cosignatures from those witnesses are verified and
    attached to the latest checkpoint.
    """

    from waypost.notify.http import create_blueprint as notify_blueprint
    from waypost.notify.ssrf import parse_allow_list
    from waypost.resolve.hook import default_log_key_path
    from waypost.resolve.http import create_blueprint as resolve_blueprint
    from waypost.resolve.http import reader_for_db
    from waypost.tlog.http import create_blueprint as log_blueprint

    resolve_reader = reader_for_db(db_path)
    key_path = default_log_key_path(db_path)
    vkey_path = key_path.with_name(key_path.name + ".vkey")
    log_vkey = vkey_path.read_text(encoding="utf-8").strip() if vkey_path.is_file() else None
    allow = [e.strip() for e in os.environ.get("WAYPOST_WEBHOOK_ALLOW", "").split(",") if e.strip()]
    return [
        resolve_blueprint(resolve_reader),
        log_blueprint(lambda: resolve_reader().log, log_vkey=log_vkey,
                      accept_cosignature=_cosignature_acceptor(db_path, os.environ.get("WAYPOST_WITNESSES", ""))),
        notify_blueprint(
            db_path=db_path,
            policy=parse_allow_list(allow),
            admin_token=os.environ.get("WAYPOST_ADMIN_TOKEN") or None,
        ),
    ]


def _cosignature_acceptor(db_path: str, witnesses_env: str) -> Callable[[str], str] | None:
    """Store verified witness cosignatures on the latest checkpoint (own write transaction)."""
    import sqlite3

    from waypost.tlog import store as tstore
    from waypost.tlog.note import parse_vkey

    vkeys = [parse_vkey(v.strip()) for v in witnesses_env.split(",") if v.strip()]
    if not vkeys:
        return None

    def accept(lines: str) -> str:
        conn = sqlite3.connect(db_path, timeout=10.0, isolation_level=None)
        try:
            with tstore.write_transaction(conn):
                return tstore.accept_cosignatures(conn, lines, vkeys)
        finally:
            conn.close()

    return accept


def build_app(
    db_path: str,
    *,
    access_log: bool = False,
    extra_blueprints: Sequence[Blueprint] | None = None,
    reader_factory: Callable[[], NameReader] | None = None,
) -> Flask:
    """The API app for an index database; reads the network from the database.

    Args:
        db_path: the SQLite index written by ``waypost index``.
        access_log: log one line per request (off by default, for privacy).
        extra_blueprints: other parts' blueprints; default: ``_extra_blueprints(db_path)``.
        reader_factory: override how readers are opened (tests, benchmarks).

    Returns:
        The Flask app.

    Raises:
        StoreError: the database is missing or is not a Waypost index.
    """
    network = _network_of(db_path)
    factory = reader_factory or (lambda: open_index_reader(db_path))
    return create_app(
        reader_factory=factory,
        network=network,
        extra_blueprints=_extra_blueprints(db_path) if extra_blueprints is None else extra_blueprints,
        # WAYPOST_RESPONSE_CACHE=0 turns the /v1/resolve answer cache off (benchmarks of the uncached path)
        config=ApiConfig(access_log=access_log, db_path=db_path,
                         response_cache=os.environ.get("WAYPOST_RESPONSE_CACHE", "1") != "0"),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument("--db", required=True, help="index database written by 'waypost index'")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (gthread; default 4)")
    parser.add_argument(
        "--worker-class",
        choices=("gthread", "sync"),
        default="gthread",
        help="gunicorn worker type (default gthread: keep-alive; sync: one request per connection)",
    )
    parser.add_argument("--dev", action="store_true", help="Werkzeug development server instead of gunicorn")
    parser.add_argument(
        "--access-log", action="store_true", help="log every request path (off by default: lookups are private)"
    )


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def gunicorn_options(args: argparse.Namespace) -> dict[str, object]:
    """gunicorn settings for ``args`` (no gunicorn access log: the app logs only when asked)."""
    return {
        "bind": [_bind(args.host, args.port)],
        "workers": max(1, int(args.workers)),
        # gthread keeps client connections alive; sync workers close every connection
        "worker_class": str(getattr(args, "worker_class", "gthread")),
        "threads": max(1, int(args.threads)),
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "keepalive": 5,
        "graceful_timeout": 5,
        "proc_name": "waypost-serve",
    }


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit status.

    Raises:
        StoreError: the database is missing or is not an index.
    """
    if not 1 <= int(args.port) <= 65535:
        raise WaypostError(ErrorCode.BAD_REQUEST, f"--port must be 1..65535, got {args.port}")
    app = build_app(str(args.db), access_log=bool(args.access_log))
    if args.access_log:
        logging.getLogger("waypost.api.access").setLevel(logging.INFO)
    else:
        # Werkzeug logs every request line at INFO; keep lookups private.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.dev:
        app.run(host=args.host, port=int(args.port), threaded=True, use_reloader=False)
        return 0
    _serve_gunicorn(app, gunicorn_options(args))
    return 0


def _serve_gunicorn(app: Flask, options: dict[str, object]) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    _Server().run()
