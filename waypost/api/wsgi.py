"""WSGI entry point for ``gunicorn 'waypost.api.wsgi:app'`` (shell); the database comes from ``WAYPOST_DB``.

The app is built on first access of ``app`` (PEP 562), so importing this module has no side effects.
Set ``WAYPOST_ACCESS_LOG=1`` to log request paths (off by default: lookups are private).
"""

from __future__ import annotations

import os
import threading

from flask import Flask

from waypost.registry.errors import ErrorCode, StoreError

__all__ = ["app", "load_app"]

_lock = threading.Lock()
_app: Flask | None = None


def load_app() -> Flask:
    """Build (once) the app for ``$WAYPOST_DB``.

    Raises:
        StoreError: ``store.io`` when ``WAYPOST_DB`` is unset or missing, ``store.corrupt`` when not an index.
    """
    global _app
    with _lock:
        if _app is None:
            db = os.environ.get("WAYPOST_DB", "")
            if not db:
                raise StoreError(ErrorCode.STORE_IO, "set WAYPOST_DB to the index database path")
            from waypost.api.cli import build_app

            _app = build_app(db, access_log=os.environ.get("WAYPOST_ACCESS_LOG", "") not in ("", "0"))
        return _app


def __getattr__(name: str) -> Flask:
    if name == "app":
        return load_app()
    raise AttributeError(name)
