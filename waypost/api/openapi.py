"""The OpenAPI 3.1 document of ``/v1/openapi.json`` (pure: builds a dict, no Flask).

Other blueprints add their endpoints by defining ``OPENAPI_PATHS`` (and optionally
``OPENAPI_SCHEMAS``) in their module; ``create_app`` merges them through ``build_spec``.
They may reference ``#/components/schemas/Problem``, ``Freshness`` and the shared
``#/components/responses/*`` and ``#/components/parameters/*`` defined here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

__all__ = ["build_spec", "BASE_SCHEMAS", "BASE_PATHS", "OPENAPI_VERSION"]

OPENAPI_VERSION = "3.1.0"

_PROBLEM = "application/problem+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _resp(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
_HEX = {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
_HASH_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

BASE_SCHEMAS: dict[str, object] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `code` is the stable machine-readable id (docs/problems.md).",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
        },
    },
    "Freshness": {
        "type": "object",
        "description": "How fresh the answer is: indexed tip, distance to the node, stale and why.",
        "required": ["state", "stale", "reason", "reasons", "tip_height", "tip_hash", "tip_time", "behind_blocks"],
        "properties": {
            "state": {"type": "string", "enum": ["synced", "catching-up", "node-syncing", "stale", "empty"]},
            "stale": {"type": "boolean"},
            "reason": _NULLABLE_STR,
            "reasons": {"type": "array", "items": {"type": "string"}},
            "tip_height": {"type": "integer"},
            "tip_hash": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"},
            "tip_time": _NULLABLE_INT,
            "tip_age_s": _NULLABLE_INT,
            "node_height": _NULLABLE_INT,
            "behind_blocks": _NULLABLE_INT,
            "checked_at": _NULLABLE_INT,
            "check_age_s": _NULLABLE_INT,
        },
    },
    "NameOp": {
        "type": "object",
        "description": "One name operation with the meanings `name_show` gives it at the indexed tip.",
        "required": ["name", "name_hex", "value", "value_hex", "txid", "vout", "height", "address", "expires_in", "expired"],
        "properties": {
            "name": {"type": ["string", "null"], "description": "UTF-8 text, null when the bytes are not UTF-8"},
            "name_hex": _HEX,
            "value": {"type": ["string", "null"], "description": "UTF-8 text, null when the bytes are not UTF-8"},
            "value_hex": _HEX,
            "txid": _HASH_HEX,
            "vout": {"type": "integer", "minimum": 0},
            "height": {"type": "integer", "minimum": 0},
            "address": _NULLABLE_STR,
            "expires_in": {"type": "integer", "description": "height + expiration_depth(tip) - tip, as name_show computes it"},
            "expired": {"type": "boolean", "description": "expires_in <= 0"},
        },
    },
    "Name": {
        "allOf": [
            _ref("NameOp"),
            {"type": "object", "required": ["freshness"], "properties": {"freshness": _ref("Freshness")}},
        ]
    },
    "History": {
        "type": "object",
        "required": ["name", "name_hex", "history", "freshness"],
        "properties": {
            "name": _NULLABLE_STR,
            "name_hex": _HEX,
            "history": {"type": "array", "items": _ref("NameOp")},
            "freshness": _ref("Freshness"),
        },
    },
    "NameList": {
        "type": "object",
        "required": ["names", "next", "next_after_hex", "freshness"],
        "properties": {
            "names": {"type": "array", "items": _ref("NameOp")},
            "next": {"type": ["string", "null"], "description": "relative URL of the next page, null on the last"},
            "next_after_hex": {"type": ["string", "null"]},
            "freshness": _ref("Freshness"),
        },
    },
    "Status": {
        "type": "object",
        "required": ["network", "tip_height", "tip_hash", "sync_state", "stale", "behind_blocks", "state_root", "freshness"],
        "properties": {
            "network": {"type": "string"},
            "tip_height": {"type": "integer"},
            "tip_hash": {"type": ["string", "null"]},
            "tip_time": _NULLABLE_INT,
            "sync_state": {"type": "string", "enum": ["synced", "catching-up", "node-syncing", "stale", "empty"]},
            "stale": {"type": "boolean"},
            "stale_reasons": {"type": "array", "items": {"type": "string"}},
            "behind_blocks": _NULLABLE_INT,
            "node_height": _NULLABLE_INT,
            "node_headers": _NULLABLE_INT,
            "node_initial_download": {"type": ["boolean", "null"]},
            "state_root": _NULLABLE_STR,
            "checked_at": _NULLABLE_INT,
            "schema_version": {"type": "integer"},
            "freshness": _ref("Freshness"),
        },
    },
}


def _problem(description: str, *, retry: bool = False) -> dict[str, object]:
    out: dict[str, object] = {"description": description, "content": {_PROBLEM: {"schema": _ref("Problem")}}}
    if retry:
        out["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
    return out


_RESPONSES: dict[str, object] = {
    "BadRequest": _problem("malformed input (ParseError): bad hex, bad UTF-8, bad parameter"),
    "NotFound": _problem("never registered, or no such route"),
    "Unprocessable": _problem("well-formed input breaking a rule (ValidationError), e.g. a name over 255 bytes"),
    "Unavailable": _problem("index stale while fresh data was required (`index.stale`), or upstream down", retry=True),
    "ServerError": _problem("server error; generic detail"),
}

_PARAMETERS: dict[str, object] = {
    "NameEncoding": {
        "name": "name_encoding",
        "in": "query",
        "description": "how the name (or prefix/after) is written: percent-encoded UTF-8 (default) or hex of the bytes",
        "schema": {"type": "string", "enum": ["utf8", "hex"], "default": "utf8"},
    },
    "MaxAge": {
        "name": "max_age",
        "in": "query",
        "description": "refuse (503 index.stale) unless the index is not stale and checked the node at most this many seconds ago",
        "schema": {"type": "integer", "minimum": 0, "maximum": 10**12},
    },
    "RequireFresh": {
        "name": "Waypost-Require-Fresh",
        "in": "header",
        "description": "`1`: refuse stale data with 503 `index.stale`",
        "schema": {"type": "string", "enum": ["0", "1"]},
    },
    "Name": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "the name, percent-encoded UTF-8 (slashes allowed), or hex with name_encoding=hex",
        "schema": {"type": "string", "minLength": 1},
    },
}

_ERRORS: dict[str, object] = {"400": _resp("BadRequest"), "422": _resp("Unprocessable"), "503": _resp("Unavailable"), "500": _resp("ServerError")}
_FRESH_PARAMS = [_param("NameEncoding"), _param("MaxAge"), _param("RequireFresh")]


def _with_errors(ok: dict[str, object], *, not_found: bool = False) -> dict[str, object]:
    out: dict[str, object] = {"200": ok}
    if not_found:
        out["404"] = _resp("NotFound")
    out.update(_ERRORS)
    return out


def _json(schema: str, description: str) -> dict[str, object]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


BASE_PATHS: dict[str, object] = {
    "/v1/status": {
        "get": {
            "summary": "Indexed tip, sync state and distance to the node",
            "operationId": "getStatus",
            "responses": {"200": _json("Status", "status"), "500": _resp("ServerError")},
        }
    },
    "/v1/names": {
        "get": {
            "summary": "List names in byte order (like name_scan), paginated with `next`",
            "operationId": "listNames",
            "parameters": [
                {"name": "prefix", "in": "query", "schema": {"type": "string"}, "description": "only names starting with it"},
                {"name": "after", "in": "query", "schema": {"type": "string"}, "description": "cursor: names after it"},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
                *_FRESH_PARAMS,
            ],
            "responses": _with_errors(_json("NameList", "a page of names")),
        }
    },
    "/v1/names/{name}": {
        "get": {
            "summary": "Current operation of a name (name_show with allowExpired)",
            "description": "An expired name answers 200 with `expired: true`. A name ending in `/history` "
            "must be looked up hex-encoded.",
            "operationId": "showName",
            "parameters": [_param("Name"), *_FRESH_PARAMS],
            "responses": _with_errors(_json("Name", "the name's latest operation"), not_found=True),
        }
    },
    "/v1/names/{name}/history": {
        "get": {
            "summary": "Every operation of a name, oldest first (name_history)",
            "operationId": "nameHistory",
            "parameters": [_param("Name"), *_FRESH_PARAMS],
            "responses": _with_errors(_json("History", "the name's history"), not_found=True),
        }
    },
    "/v1/history/{name}": {
        "get": {
            "summary": "Alias of /v1/names/{name}/history, unambiguous for any name",
            "operationId": "nameHistoryAlias",
            "parameters": [_param("Name"), *_FRESH_PARAMS],
            "responses": _with_errors(_json("History", "the name's history"), not_found=True),
        }
    },
    "/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }
    },
}


def build_spec(
    *, extra_paths: Mapping[str, object] | None = None, extra_schemas: Mapping[str, object] | None = None
) -> dict[str, object]:
    """The OpenAPI document: the name API plus other blueprints' paths.

    Args:
        extra_paths: ``OPENAPI_PATHS`` of other blueprints (path -> path item); a path
            defined twice keeps the later definition's methods merged over the earlier.
        extra_schemas: ``OPENAPI_SCHEMAS`` to add under ``components/schemas``.

    Returns:
        A fresh dict (callers may mutate it).
    """
    paths: dict[str, object] = copy.deepcopy(BASE_PATHS)
    for path, item in (extra_paths or {}).items():
        existing = paths.get(path)
        if isinstance(existing, dict) and isinstance(item, Mapping):
            existing.update(copy.deepcopy(dict(item)))
        else:
            paths[path] = copy.deepcopy(item)
    schemas: dict[str, object] = copy.deepcopy(BASE_SCHEMAS)
    schemas.update(copy.deepcopy(dict(extra_schemas or {})))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Waypost API",
            "version": "1",
            "description": "Namecoin name lookups with freshness; errors are RFC 9457 problem+json (docs/problems.md).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": copy.deepcopy(_RESPONSES),
            "parameters": copy.deepcopy(_PARAMETERS),
        },
    }
