"""Flask blueprint serving the transparency log: checkpoints, proofs, leaves, map proofs, tiles (shell).

Bad input raises ``WaypostError``s; the app's single error handler turns them into
problem+json. Tiles follow c2sp.org/tlog-tiles so any CDN can cache them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request

from waypost.registry.errors import ErrorCode, NotFoundError, ParseError
from waypost.tlog import smt
from waypost.tlog.store import LogReader
from waypost.tlog.tiles import TILE_WIDTH, parse_tile_path

__all__ = ["create_blueprint", "OPENAPI_PATHS", "MAX_LEAVES_PER_REQUEST"]

MAX_LEAVES_PER_REQUEST = 1000
_MAX_INDEX = 2**62  # keeps every query parameter inside SQLite's INTEGER range
_IMMUTABLE = "public, max-age=31536000, immutable"
_SHORT = "public, max-age=5"
_NOTE_TYPE = "text/plain; charset=utf-8"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _int_arg(name: str, default: int | None = None) -> int:
    text = request.args.get(name)
    if text is None:
        if default is None:
            raise ParseError(ErrorCode.BAD_REQUEST, f"missing query parameter {name!r}", parameter=name)
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) >= _MAX_INDEX:
        raise ParseError(ErrorCode.BAD_REQUEST, f"{name} must be a non-negative integer", parameter=name)
    return int(text)


def _latest_note(reader: LogReader) -> str:
    note = reader.latest_checkpoint()
    if note is None:
        raise NotFoundError(ErrorCode.NOT_FOUND, "no checkpoint has been signed yet")
    return note


def _note_response(note: str) -> Response:
    resp = Response(note, mimetype="text/plain")
    resp.headers["Content-Type"] = _NOTE_TYPE
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def create_blueprint(
    get_reader: Callable[[], LogReader],
    accept_cosignature: Callable[[str], str] | None = None,
    log_vkey: str | None = None,
) -> Blueprint:
    """Build the log blueprint.

    Args:
        get_reader: returns the ``LogReader`` for the current thread (a reader wraps one
            SQLite connection and opens a read transaction per request, so readers must
            not be shared between threads).
        accept_cosignature: optional; given witness cosignature lines for the latest
            checkpoint, verifies and stores them and returns the updated note. Without it
            ``POST /v1/log/witness/cosignature`` answers 404.
        log_vkey: the log's verifier key (C2SP vkey text), served at ``/v1/log/key`` so a
            client can trust it on first use and pin it; without it that path answers 404.

    Returns:
        The blueprint (routes under ``/v1/log`` plus the tlog-tiles ``/checkpoint`` and ``/tile/``).
    """
    bp = Blueprint("tlog", __name__)

    @bp.get("/v1/log/key")
    def log_key() -> Response:
        if log_vkey is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, "this server publishes no log key")
        return Response(log_vkey + "\n", mimetype="text/plain", headers={"Cache-Control": "public, max-age=3600"})

    @bp.get("/v1/log/checkpoint")
    def checkpoint() -> Response:
        return _note_response(_latest_note(get_reader()))

    @bp.get("/checkpoint")
    def tiles_checkpoint() -> Response:
        return _note_response(_latest_note(get_reader()))

    @bp.get("/v1/log/proof/inclusion")
    def inclusion() -> Response:
        index, size = _int_arg("index"), _int_arg("size")
        if index >= size:
            raise ParseError(ErrorCode.BAD_REQUEST, "index must be below size", index=index, size=size)
        reader = get_reader()
        with reader.snapshot():
            proof = reader.inclusion_proof(index, size)
        return jsonify({"index": index, "size": size, "proof": [_b64(h) for h in proof]})

    @bp.get("/v1/log/proof/consistency")
    def consistency() -> Response:
        size1, size2 = _int_arg("from"), _int_arg("to")
        if not 0 < size1 <= size2:
            raise ParseError(ErrorCode.BAD_REQUEST, "need 0 < from <= to", size1=size1, size2=size2)
        reader = get_reader()
        with reader.snapshot():
            proof = reader.consistency_proof(size1, size2)
        return jsonify({"from": size1, "to": size2, "proof": [_b64(h) for h in proof]})

    @bp.get("/v1/log/leaves")
    def leaves() -> Response:
        start = _int_arg("start")
        end = _int_arg("end", start + MAX_LEAVES_PER_REQUEST)
        if end <= start:
            raise ParseError(ErrorCode.BAD_REQUEST, "end must be above start")
        end = min(end, start + MAX_LEAVES_PER_REQUEST)
        reader = get_reader()
        with reader.snapshot():
            size = reader.size()
            if start >= size:
                raise NotFoundError(ErrorCode.NOT_FOUND, f"no leaf {start}; the log has {size}", size=size)
            data = reader.leaves(start, end)
        return jsonify({"start": start, "size": size, "leaves": [_b64(d) for d in data]})

    @bp.get("/v1/log/map/proof")
    def map_proof() -> Response:
        key_hex = request.args.get("key", "")
        try:
            key = bytes.fromhex(key_hex)
        except ValueError as exc:
            raise ParseError(ErrorCode.BAD_REQUEST, "key must be 64 hex digits") from exc
        if len(key) != 32:
            raise ParseError(ErrorCode.BAD_REQUEST, "key must be 64 hex digits (SHA-256 of the address)")
        reader = get_reader()
        with reader.snapshot():
            proof = reader.map_proof(key)
            latest = reader.latest_leaf(key)
            state = reader.state()
        body: dict[str, object] = {
            "key": key.hex(),
            "size": state.size,
            "map_root": _b64(state.map_root),
            "proof": _b64(smt.encode_map_proof(proof)),
            "leaf_index": None if latest is None else latest[0],
            "leaf_hash": None if latest is None else _b64(latest[1]),
        }
        return jsonify(body)

    @bp.get("/tile/<path:rest>")
    def tile(rest: str) -> Response:
        tp = parse_tile_path("tile/" + rest)
        reader = get_reader()
        with reader.snapshot():
            if tp.level is None:
                data = reader.entries_tile(tp.index, tp.width)
            else:
                data = reader.tile(tp.level, tp.index, tp.width)
        resp = Response(data, mimetype="application/octet-stream")
        resp.headers["Cache-Control"] = _IMMUTABLE if tp.width == TILE_WIDTH else _SHORT
        return resp

    @bp.post("/v1/log/witness/cosignature")
    def cosignature() -> Response:
        if accept_cosignature is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, "this server does not accept cosignatures")
        try:
            lines = request.get_data().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(ErrorCode.BAD_REQUEST, "body must be UTF-8 signature lines") from exc
        return _note_response(accept_cosignature(lines))

    return bp


def _resp(desc: str, schema: dict[str, object], ctype: str = "application/json") -> dict[str, object]:
    return {
        "200": {"description": desc, "content": {ctype: {"schema": schema}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "404": {"$ref": "#/components/responses/NotFound"},
    }


def _q(name: str, required: bool = True, desc: str = "") -> dict[str, object]:
    return {"name": name, "in": "query", "required": required, "description": desc, "schema": {"type": "integer", "minimum": 0}}


_B64_LIST: dict[str, object] = {"type": "array", "items": {"type": "string", "format": "byte"}}
_NOTE: dict[str, object] = {"type": "string", "description": "C2SP signed note (tlog-checkpoint), with cosignature lines"}

OPENAPI_PATHS: dict[str, object] = {
    "/v1/log/key": {"get": {"summary": "the log's verifier key (C2SP vkey), for trust on first use", "tags": ["log"], "responses": _resp("vkey", {"type": "string"}, "text/plain")}},
    "/v1/log/checkpoint": {"get": {"summary": "latest signed checkpoint", "tags": ["log"], "responses": _resp("signed note", _NOTE, "text/plain")}},
    "/checkpoint": {"get": {"summary": "latest checkpoint (c2sp.org/tlog-tiles)", "tags": ["log"], "responses": _resp("signed note", _NOTE, "text/plain")}},
    "/v1/log/proof/inclusion": {
        "get": {
            "summary": "RFC 9162 inclusion proof",
            "tags": ["log"],
            "parameters": [_q("index", desc="0-based leaf index"), _q("size", desc="tree size (a checkpoint's)")],
            "responses": _resp(
                "proof",
                {"type": "object", "required": ["index", "size", "proof"], "properties": {"index": {"type": "integer"}, "size": {"type": "integer"}, "proof": _B64_LIST}},
            ),
        }
    },
    "/v1/log/proof/consistency": {
        "get": {
            "summary": "RFC 9162 consistency proof",
            "tags": ["log"],
            "parameters": [_q("from"), _q("to")],
            "responses": _resp(
                "proof",
                {"type": "object", "required": ["from", "to", "proof"], "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}, "proof": _B64_LIST}},
            ),
        }
    },
    "/v1/log/leaves": {
        "get": {
            "summary": f"leaf bytes (canonical CBOR), at most {MAX_LEAVES_PER_REQUEST}",
            "tags": ["log"],
            "parameters": [_q("start"), _q("end", required=False)],
            "responses": _resp(
                "leaves",
                {"type": "object", "required": ["start", "size", "leaves"], "properties": {"start": {"type": "integer"}, "size": {"type": "integer"}, "leaves": _B64_LIST}},
            ),
        }
    },
    "/v1/log/map/proof": {
        "get": {
            "summary": "state-map membership or absence proof for an address key",
            "tags": ["log"],
            "parameters": [{"name": "key", "in": "query", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}],
            "responses": _resp(
                "map proof",
                {
                    "type": "object",
                    "required": ["key", "size", "map_root", "proof", "leaf_index", "leaf_hash"],
                    "properties": {
                        "key": {"type": "string"},
                        "size": {"type": "integer"},
                        "map_root": {"type": "string", "format": "byte"},
                        "proof": {"type": "string", "format": "byte"},
                        "leaf_index": {"type": ["integer", "null"]},
                        "leaf_hash": {"type": ["string", "null"]},
                    },
                },
            ),
        }
    },
    "/tile/{tile_path}": {
        "get": {
            "summary": "c2sp.org/tlog-tiles hash tile or entry bundle",
            "tags": ["log"],
            "parameters": [{"name": "tile_path", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": _resp("tile bytes", {"type": "string", "format": "binary"}, "application/octet-stream"),
        }
    },
}
