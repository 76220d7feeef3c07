"""``/v1/names`` lookups, history and listing (shell): request bytes in, ``name_show``-shaped JSON out.

Names are bytes. The path segment is percent-encoded UTF-8, or hex with ``?name_encoding=hex``;
a name ending in ``/history`` (or starting with ``/``) can only be looked up hex-encoded.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Response, request

from waypost.api.app import ApiContext, current_context
from waypost.indexer.params import Network, name_expiration_depth
from waypost.indexer.view import NameRecord
from waypost.registry.errors import ErrorCode, NotFoundError, ParseError, ValidationError, WaypostError

__all__ = [
    "blueprint",
    "MAX_NAME_BYTES",
    "MAX_LIMIT",
    "DEFAULT_LIMIT",
    "record_json",
    "parse_name_segment",
    "fast_show_name",
]

# namecoin-core: MAX_NAME_LENGTH = 255 bytes (consensus).
MAX_NAME_BYTES = 255
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

blueprint = Blueprint("waypost_names", __name__)

_NAMES_PREFIX = b"/v1/names/"
_HISTORY_PREFIX = b"/v1/history/"
_HISTORY_SUFFIX = b"/history"
_NAMES_PREFIX_TEXT = "/v1/names/"
# segments the fast path leaves to Flask's router (control bytes: the router's regexes decide)
_FAST_UNSAFE = re.compile(rb"[\x00-\x1f\x7f]")


def _text_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def record_json(record: NameRecord, tip_height: int, network: str | None = None) -> dict[str, object]:
    """One name operation as the API shows it (the meanings of ``name_show`` at ``tip_height``).

    Args:
        record: the operation.
        tip_height: the indexed tip the answer is computed at.
        network: the index's network. namecoin-core ``addExpirationInfo`` computes
            ``expires_in = height + NameExpirationDepth(tip) - tip`` with the depth at the
            *tip*; on mainnet/testnet that differs from ``expires_at_height - tip`` for
            operations below height 48000 (old history entries). Without a network the
            stored ``expires_at_height`` is used (exact for regtest's constant depth).

    Returns:
        ``name``/``value`` (text, or ``None`` when not valid UTF-8), their ``*_hex``, ``txid``
        (display hex), ``vout``, ``height``, ``address``, ``expires_in``, ``expired``.
    """
    # namecoin-core rpc/names.cpp addExpirationInfo: expires_in = height + depth(tip) - tip;
    # expired = expires_in <= 0.
    if network is None:
        expires_in = record.expires_at_height - tip_height
    else:
        expires_in = record.height + name_expiration_depth(Network(network), max(tip_height, 0)) - tip_height
    return {
        "name": _text_or_none(record.name),
        "name_hex": record.name.hex(),
        "value": _text_or_none(record.value),
        "value_hex": record.value.hex(),
        "txid": record.txid[::-1].hex(),
        "vout": record.vout,
        "height": record.height,
        "address": record.address,
        "expires_in": expires_in,
        "expired": expires_in <= 0,
    }


def _name_encoding() -> str:
    if not request.environ.get("QUERY_STRING"):
        return "utf8"  # fast path: most lookups carry no query
    enc = request.args.get("name_encoding", "utf8")
    if enc not in ("utf8", "hex"):
        raise ParseError(ErrorCode.API_BAD_PARAM, "name_encoding must be 'utf8' or 'hex'", param="name_encoding")
    return enc


def _decode_text_bytes(raw: bytes, what: str, encoding: str) -> bytes:
    """Turn a percent-decoded path or query value into name bytes per ``encoding``."""
    if encoding == "hex":
        if len(raw) > 2 * MAX_NAME_BYTES + 2:
            raise ValidationError(ErrorCode.NAME_TOO_LONG, f"{what} is longer than {MAX_NAME_BYTES} bytes", param=what)
        try:
            text = raw.decode("ascii")
            if len(text) % 2 or not all(c in "0123456789abcdefABCDEF" for c in text):
                raise ValueError(text)
            data = bytes.fromhex(text)
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            raise ParseError(ErrorCode.API_BAD_HEX, f"{what} is not an even-length hex string", param=what) from exc
    else:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                ErrorCode.API_BAD_UTF8, f"{what} is not valid UTF-8; use name_encoding=hex for binary names", param=what
            ) from exc
        data = raw
    if len(data) > MAX_NAME_BYTES:
        raise ValidationError(ErrorCode.NAME_TOO_LONG, f"{what} is longer than {MAX_NAME_BYTES} bytes", param=what)
    return data


def parse_name_segment(segment: bytes, encoding: str) -> bytes:
    """Name bytes from a percent-decoded path segment.

    Args:
        segment: the path segment as raw bytes (PEP 3333: ``PATH_INFO`` is latin-1 text of them).
        encoding: ``"utf8"`` or ``"hex"``.

    Returns:
        The name, 1..255 bytes.

    Raises:
        ParseError: ``api.bad-hex`` / ``api.bad-utf8``.
        ValidationError: ``name.too-long`` over 255 bytes.
    """
    return _decode_text_bytes(segment, "name", encoding)


def _path_name(prefix: bytes, suffix: bytes = b"") -> bytes:
    # Werkzeug decodes the path as UTF-8 with replacement characters; take the exact bytes
    # from PATH_INFO instead (latin-1 text of the percent-decoded bytes, PEP 3333).
    raw = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")
    if not raw.startswith(prefix) or not raw.endswith(suffix):  # pragma: no cover - routing guarantees it
        raise ParseError(ErrorCode.API_BAD_PARAM, "unexpected path")
    segment = raw[len(prefix) : len(raw) - len(suffix)]
    return parse_name_segment(segment, _name_encoding())


def _raw_query() -> dict[str, bytes]:
    qs = request.environ.get("QUERY_STRING", "")
    out: dict[str, bytes] = {}
    try:
        pairs = parse_qsl(qs, keep_blank_values=True, encoding="latin-1", errors="strict")
    except ValueError as exc:  # pragma: no cover - parse_qsl is lenient
        raise ParseError(ErrorCode.API_BAD_PARAM, "malformed query string") from exc
    for key, value in pairs:
        out.setdefault(key, value.encode("latin-1", "replace"))
    return out


def _parse_limit(raw: bytes | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    text = raw.decode("latin-1")
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not 1 <= int(text) <= MAX_LIMIT:
        raise ParseError(ErrorCode.API_BAD_PARAM, f"limit must be an integer in 1..{MAX_LIMIT}", param="limit")
    return int(text)


def _respond(body: dict[str, object]) -> Response:
    # stdlib json directly: the Flask provider adds nothing here and costs per request
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False), mimetype="application/json")


@blueprint.get("/v1/names/<path:name>")
def show_name(name: str) -> Response:
    """Current operation of a name (``name_show`` with ``allowExpired``)."""
    del name  # the exact bytes come from PATH_INFO
    ctx = current_context()
    name_bytes = _path_name(_NAMES_PREFIX)
    fresh = ctx.freshness()
    record = ctx.reader().fetch_name(name_bytes)
    if record is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, "this name was never registered (on the indexed chain)")
    body = record_json(record, fresh.tip_height, ctx.network)
    body["freshness"] = fresh.to_json()
    return _respond(body)


def fast_show_name(ctx: ApiContext, path: str) -> tuple[bytes, list[tuple[str, str]]] | None:
    """The 200 answer of ``GET /v1/names/{name}`` without Flask, or None to let Flask answer.

    Byte-identical to ``show_name`` (body and headers; a test compares them). Only the plain
    case is served here: the app calls it for GETs without a query string, without
    ``Waypost-Require-Fresh`` and without the access log; every error, an unknown name, a
    history path or an odd path returns None, and Flask answers as before.

    Args:
        ctx: the app's context.
        path: ``PATH_INFO`` (latin-1 text of the percent-decoded bytes, PEP 3333).

    Returns:
        ``(body, headers)`` of a 200 answer, or None.
    """
    if not path.startswith(_NAMES_PREFIX_TEXT):
        return None
    try:
        segment = path[len(_NAMES_PREFIX_TEXT) :].encode("latin-1")
    except UnicodeEncodeError:
        return None
    if not segment or segment[:1] == b"/" or segment.endswith(_HISTORY_SUFFIX) or _FAST_UNSAFE.search(segment):
        return None
    try:
        name_bytes = parse_name_segment(segment, "utf8")
        parts = ctx.fresh_parts()
        record = ctx.reader().fetch_name(name_bytes)
    except (WaypostError, sqlite3.Error):
        return None  # Flask answers (and reports) it
    if record is None:
        return None
    # == _respond({**record_json(...), "freshness": ...}): the freshness JSON is pre-rendered
    text = json.dumps(record_json(record, parts.fresh.tip_height, ctx.network), separators=(",", ":"), ensure_ascii=False)
    body = (text[:-1] + ',"freshness":' + parts.json_text + "}").encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *parts.headers]
    return body, headers


def _history(name_bytes: bytes) -> Response:
    ctx = current_context()
    fresh = ctx.freshness()
    records: Sequence[NameRecord] = ctx.reader().fetch_history(name_bytes)
    if not records:
        raise NotFoundError(ErrorCode.NOT_FOUND, "this name was never registered (on the indexed chain)")
    return _respond(
        {
            "name": _text_or_none(name_bytes),
            "name_hex": name_bytes.hex(),
            "history": [record_json(r, fresh.tip_height, ctx.network) for r in records],
            "freshness": fresh.to_json(),
        }
    )


@blueprint.get("/v1/names/<path:name>/history")
def name_history(name: str) -> Response:
    """Every operation of a name, oldest first (``name_history``)."""
    del name
    return _history(_path_name(_NAMES_PREFIX, _HISTORY_SUFFIX))


@blueprint.get("/v1/history/<path:name>")
def name_history_alias(name: str) -> Response:
    """Unambiguous alias of ``/v1/names/{name}/history`` (works for names ending in ``/history``)."""
    del name
    return _history(_path_name(_HISTORY_PREFIX))


@blueprint.get("/v1/names")
def list_names() -> Response:
    """Names in byte order after ``after`` with ``prefix`` (like ``name_scan``), with a ``next`` cursor."""
    ctx = current_context()
    encoding = _name_encoding()
    query = _raw_query()
    prefix = _decode_text_bytes(query.get("prefix", b""), "prefix", encoding)
    after_raw = query.get("after")
    after = None if after_raw is None else _decode_text_bytes(after_raw, "after", encoding)
    limit = _parse_limit(query.get("limit"))
    fresh = ctx.freshness()
    records = list(ctx.reader().fetch_names(prefix=prefix, after=after, limit=limit + 1))
    more = len(records) > limit
    records = records[:limit]
    next_url: str | None = None
    next_after_hex: str | None = None
    if more and records:
        next_after_hex = records[-1].name.hex()
        next_url = f"/v1/names?name_encoding=hex&limit={limit}&after={next_after_hex}" + (
            f"&prefix={quote(prefix.hex())}" if prefix else ""
        )
    return _respond(
        {
            "names": [record_json(r, fresh.tip_height, ctx.network) for r in records],
            "next": next_url,
            "next_after_hex": next_after_hex,
            "freshness": fresh.to_json(),
        }
    )
