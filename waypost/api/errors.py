"""The API's one error handler (shell): every error becomes RFC 9457 ``application/problem+json``.

Client errors carry their message; server errors carry a generic detail and are logged here,
never sent. ``render_problems_table`` generates the code table of ``docs/problems.md``.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from waypost.registry.errors import (
    ErrorCode,
    NotFoundError,
    ParseError,
    UpstreamError,
    ValidationError,
    VerificationError,
    WaypostError,
)

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "problem_status",
    "problem_title",
    "problem_body",
    "problem_response",
    "register_error_handler",
    "render_problems_table",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
_LOG = logging.getLogger("waypost.api")

# RFC 9457 §3.1 members; an extension member must not shadow them.
_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code"})
# Detail for 5xx: RFC 9457 §5 (security): never leak internals to the client.
_GENERIC_DETAIL = {
    500: "The server failed to answer this request; the error was logged.",
    503: "An upstream service (the Namecoin node or the index) is unavailable; retry later.",
}


def problem_status(exc: WaypostError) -> int:
    """The HTTP status of a ``WaypostError`` (STYLE §4).

    Args:
        exc: the error.

    Returns:
        ParseError 400; ValidationError/VerificationError 422; NotFoundError 404;
        UpstreamError and ``index.stale`` 503; anything else 500.
    """
    if exc.code == ErrorCode.INDEX_STALE:
        return 503
    if isinstance(exc, ParseError):
        return 400
    if isinstance(exc, (ValidationError, VerificationError)):
        return 422
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, UpstreamError):
        return 503
    return 500


def problem_title(code: ErrorCode) -> str:
    """A short human title for ``code``, the same for every problem of that type.

    Args:
        code: the error code, e.g. ``wire.bad-varint``.

    Returns:
        For example ``"Wire: bad varint"``.
    """
    text = str(code)
    area, _, what = text.partition(".")
    if not what:
        return area.replace("-", " ").capitalize()
    return f"{area.replace('-', ' ').capitalize()}: {what.replace('-', ' ')}"


def problem_body(*, code: ErrorCode, status: int, detail: str, extra: dict[str, object] | None = None) -> dict[str, object]:
    """The RFC 9457 problem object.

    Args:
        code: stable error code; ``type`` is ``/problems/<code>``.
        status: HTTP status (repeated in the body, RFC 9457 §3.1.2).
        detail: human explanation of this occurrence.
        extra: extension members (JSON scalars); reserved names are dropped.

    Returns:
        The JSON object.
    """
    body: dict[str, object] = {
        "type": f"/problems/{code}",
        "title": problem_title(code),
        "status": status,
        "detail": detail,
        "code": str(code),
    }
    for key, value in (extra or {}).items():
        if key not in _RESERVED and (value is None or isinstance(value, (str, int, float, bool))):
            body[key] = value
    return body


def problem_response(body: dict[str, object], *, retry_after_s: int | None = None) -> Response:
    """Wrap a problem object into a response with the problem+json media type."""
    status = body["status"]
    resp = Response(json.dumps(body), status=status if isinstance(status, int) else 500, mimetype=PROBLEM_CONTENT_TYPE)
    if retry_after_s is not None:
        resp.headers["Retry-After"] = str(retry_after_s)
    return resp


def _from_waypost(exc: WaypostError, retry_after_s: int) -> Response:
    status = problem_status(exc)
    if status >= 500:
        if status == 500:
            _LOG.error("internal error [%s]", exc.code, exc_info=exc)
        elif exc.code != ErrorCode.INDEX_STALE:  # a stale index is the client's choice to refuse, not a fault
            _LOG.warning("upstream unavailable [%s]: %s", exc.code, exc.message)
        detail = exc.message if exc.code == ErrorCode.INDEX_STALE else _GENERIC_DETAIL.get(status, _GENERIC_DETAIL[500])
        extra = exc.fields if exc.code == ErrorCode.INDEX_STALE else None
        body = problem_body(code=exc.code if status == 503 else ErrorCode.INTERNAL, status=status, detail=detail, extra=extra)
        return problem_response(body, retry_after_s=retry_after_s if status == 503 else None)
    return problem_response(problem_body(code=exc.code, status=status, detail=exc.message, extra=exc.fields))


def _from_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 404:
        code = ErrorCode.NOT_FOUND
    elif status == 405:
        code = ErrorCode.API_METHOD_NOT_ALLOWED
    elif status >= 500:
        code = ErrorCode.INTERNAL
    else:
        code = ErrorCode.API_HTTP_ERROR
    detail = exc.description if status < 500 and exc.description else _GENERIC_DETAIL.get(status, _GENERIC_DETAIL[500])
    resp = problem_response(problem_body(code=code, status=status, detail=detail))
    if status == 405:
        # RFC 9110 §15.5.6: a 405 answer lists the allowed methods.
        allow = exc.get_headers()
        for key, value in allow:
            if key.lower() == "allow":
                resp.headers["Allow"] = value
    return resp


def register_error_handler(app: Flask, *, retry_after_s: int = 30) -> None:
    """Install the one error handler on ``app``.

    Args:
        app: the Flask app.
        retry_after_s: ``Retry-After`` seconds on 503 answers.
    """

    def _handle(exc: Exception) -> Response:
        if isinstance(exc, WaypostError):
            return _from_waypost(exc, retry_after_s)
        if isinstance(exc, HTTPException):
            return _from_http(exc)
        # Not ours: a bug. Log the traceback server-side (without the request path,
        # which would reveal who was looked up), answer a generic 500.
        _LOG.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return problem_response(problem_body(code=ErrorCode.INTERNAL, status=500, detail=_GENERIC_DETAIL[500]))

    app.register_error_handler(Exception, _handle)


_CLASS_TABLE = (
    ("ParseError", 400, "malformed input: bad hex, bad UTF-8, bad parameter"),
    ("ValidationError", 422, "well-formed input that breaks a rule (e.g. a name over 255 bytes)"),
    ("VerificationError", 422, "a signature, proof or proof-of-work of client input does not verify"),
    ("NotFoundError", 404, "no such name, address or entry (also unknown routes)"),
    ("UpstreamError", 503, "the node or another upstream is down; `Retry-After` says when to retry"),
    ("`index.stale`", 503, "the client required fresh data and the index is stale; `Retry-After` is set"),
    ("anything else", 500, "a server bug or store failure; generic detail, logged server-side"),
)


def render_problems_table() -> str:
    """The generated part of ``docs/problems.md``: status per class, then every ``ErrorCode``.

    Returns:
        Markdown text (two tables), deterministic.
    """
    lines = ["| error class | status | meaning |", "| --- | --- | --- |"]
    lines += [f"| {cls} | {status} | {meaning} |" for cls, status, meaning in _CLASS_TABLE]
    lines += ["", "| code | type | title |", "| --- | --- | --- |"]
    lines += [f"| `{code}` | `/problems/{code}` | {problem_title(code)} |" for code in ErrorCode]
    return "\n".join(lines) + "\n"
