"""HTTP endpoints of notifications (shell): subscriptions, the SSE event stream, dead letters.

Errors are ``WaypostError``s rendered by the API's one problem+json handler; nothing here
decides what an event means (``event.py`` does).
"""

from __future__ import annotations

import base64
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import Blueprint, Response, jsonify, request

from waypost.notify import outbox
from waypost.notify.event import parse_event_id
from waypost.notify.outbox import DeliveryState, StoredSubscription
from waypost.notify.ssrf import Resolver, UrlPolicy, parse_webhook_url, resolve_target, system_resolver
from waypost.notify.webhook import encode_secret
from waypost.registry.address import format_address, parse_address
from waypost.registry.errors import ErrorCode, NotFoundError, ParseError, StoreError

__all__ = ["create_blueprint", "OPENAPI_PATHS", "OPENAPI_SCHEMAS", "SSE_CONTENT_TYPE"]

SSE_CONTENT_TYPE = "text/event-stream"
_MAX_BODY_BYTES = 4096
_PAGE = 100


def _connect(db_path: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(db_path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot open the outbox: {exc}") from exc
    return conn


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _float_param(name: str, default: float, upper: float) -> float:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ParseError(ErrorCode.API_BAD_PARAM, f"{name} must be a number of seconds", param=name) from exc
    if not 0.0 <= value <= upper:
        raise ParseError(ErrorCode.API_BAD_PARAM, f"{name} must be within 0..{upper}", param=name)
    return value


def create_blueprint(
    *,
    db_path: str | Path,
    policy: UrlPolicy,
    resolver: Resolver = system_resolver,
    admin_token: str | None = None,
    clock: Callable[[], float] = time.time,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    default_wait_s: float = 25.0,
    max_wait_s: float = 60.0,
    poll_s: float = 0.5,
    heartbeat_s: float = 15.0,
) -> Blueprint:
    """The notifications blueprint (pass it to ``create_app(extra_blueprints=...)``).

    Args:
        db_path: the index database holding the outbox (the blueprint writes subscriptions).
        policy: the webhook URL policy (operator allow-list).
        resolver: DNS resolution for URL checks at subscription time (injected in tests).
        admin_token: bearer token of ``/v1/admin/deliveries``; ``None`` disables that endpoint.
        clock: wall clock (seconds).
        random_bytes: source of ids, secrets and tokens.
        default_wait_s: how long ``GET /v1/events`` streams when ``?wait=`` is absent.
        max_wait_s: the largest ``?wait=`` (one response never streams longer; clients reconnect
            with ``Last-Event-ID``).
        poll_s: how often a stream looks for new events.
        heartbeat_s: a comment line is sent after this much silence (keeps proxies from closing).

    Returns:
        The blueprint.

    Raises:
        StoreError: the database cannot be opened or has a newer notify schema.
    """
    db = str(db_path)
    conn = _connect(db)
    try:
        outbox.ensure_schema(conn)
    finally:
        conn.close()
    bp = Blueprint("notify", __name__)

    @bp.post("/v1/subscriptions")
    def subscribe() -> tuple[Response, int, dict[str, str]]:
        if (request.content_length or 0) > _MAX_BODY_BYTES:
            raise ParseError(ErrorCode.SUBSCRIPTION_BAD, f"the body exceeds {_MAX_BODY_BYTES} bytes")
        body = request.get_json(silent=True, force=True)
        if not isinstance(body, dict) or not isinstance(body.get("address"), str) or not isinstance(body.get("url"), str):
            raise ParseError(ErrorCode.SUBSCRIPTION_BAD, 'the body must be JSON {"address": "...", "url": "https://..."}')
        address = format_address(parse_address(body["address"]))
        url = parse_webhook_url(body["url"])
        resolve_target(url, policy, resolver)  # refused now rather than dead-lettered later
        sub_id = "sub_" + random_bytes(12).hex()
        secret = encode_secret(random_bytes(32))
        token = "wpt_" + base64.urlsafe_b64encode(random_bytes(32)).decode("ascii").rstrip("=")
        now_s = int(clock())
        c = _connect(db)
        try:
            outbox.save_subscription(
                c,
                StoredSubscription(
                    id=sub_id,
                    address=address,
                    url=url.text,
                    secret=secret,
                    token_hash=outbox.token_digest(token),
                    created_s=now_s,
                    active=True,
                ),
            )
        finally:
            c.close()
        answer = {"id": sub_id, "address": address, "url": url.text, "secret": secret, "token": token, "created_s": now_s}
        return jsonify(answer), 201, {"Location": f"/v1/subscriptions/{sub_id}", "Cache-Control": "no-store"}

    @bp.delete("/v1/subscriptions/<sub_id>")
    def unsubscribe(sub_id: str) -> tuple[str, int]:
        token = _bearer()
        if token is None:
            raise NotFoundError(ErrorCode.SUBSCRIPTION_NOT_FOUND, "no such subscription (or a wrong token)")
        c = _connect(db)
        try:
            outbox.delete_subscription(c, sub_id, token, now_s=clock())
        finally:
            c.close()
        return "", 204

    @bp.get("/v1/events")
    def events() -> Response:
        # Parse everything before streaming: once the 200 is sent, errors cannot be problem+json.
        last = request.headers.get("Last-Event-ID", request.args.get("last_event_id", "")).strip()
        after = parse_event_id(last) if last else 0
        raw_address = request.args.get("address")
        address = None if raw_address is None else format_address(parse_address(raw_address))
        wait_s = _float_param("wait", min(default_wait_s, max_wait_s), max_wait_s)

        def stream() -> Iterator[str]:
            c = _connect(db)
            try:
                yield f"retry: {int(max(poll_s, 1.0) * 1000)}\n\n"
                cursor = after
                deadline = time.monotonic() + wait_s
                quiet_since = time.monotonic()
                while True:
                    rows = outbox.load_events_after(c, cursor, address=address, limit=_PAGE)
                    for ev in rows:
                        # SSE: "id" sets the reconnection Last-Event-ID; "data" is one line of JSON.
                        yield f"id: {ev.id}\nevent: {ev.type}\ndata: {ev.data}\n\n"
                        cursor = ev.seq
                    if rows:
                        quiet_since = time.monotonic()
                    if len(rows) == _PAGE:
                        continue
                    now = time.monotonic()
                    if now >= deadline:
                        break
                    if now - quiet_since >= heartbeat_s:
                        yield ": keep-alive\n\n"
                        quiet_since = now
                    time.sleep(min(poll_s, max(0.0, deadline - now)))
            finally:
                c.close()

        resp = Response(stream(), mimetype=SSE_CONTENT_TYPE)
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
        return resp

    @bp.get("/v1/admin/deliveries")
    def deliveries() -> Response:
        token = _bearer()
        if admin_token is None or token is None or not hmac.compare_digest(token.encode(), admin_token.encode()):
            # RFC 9110 §15.5.5: hide the admin endpoint from unauthorised clients.
            raise NotFoundError(ErrorCode.NOT_FOUND, "not found")
        raw_state = request.args.get("state")
        try:
            state = None if raw_state is None else DeliveryState(raw_state)
        except ValueError as exc:
            raise ParseError(
                ErrorCode.API_BAD_PARAM, f"state must be one of {[str(s) for s in DeliveryState]}", param="state"
            ) from exc
        limit = int(_float_param("limit", 100, 1000))
        c = _connect(db)
        try:
            rows = outbox.load_deliveries(c, state=state, limit=max(1, limit))
        finally:
            c.close()
        items = [
            {
                "event_id": r.event_id,
                "subscription_id": r.subscription_id,
                "url": r.url,
                "state": str(r.state),
                "attempts": r.attempts,
                "next_attempt_s": r.next_attempt_s,
                "last_status": r.last_status,
                "last_error": r.last_error,
                "updated_s": r.updated_s,
            }
            for r in rows
        ]
        resp = jsonify({"deliveries": items})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp


def _problem(description: str) -> dict[str, object]:
    return {"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


OPENAPI_SCHEMAS: dict[str, object] = {
    "SubscriptionRequest": {
        "type": "object",
        "required": ["address", "url"],
        "properties": {"address": {"type": "string"}, "url": {"type": "string", "format": "uri"}},
    },
    "Subscription": {
        "type": "object",
        "required": ["id", "address", "url", "secret", "token", "created_s"],
        "properties": {
            "id": {"type": "string"},
            "address": {"type": "string"},
            "url": {"type": "string"},
            "secret": {"type": "string", "description": "Standard Webhooks signing secret whsec_..., shown once"},
            "token": {"type": "string", "description": "bearer token that deletes the subscription, shown once"},
            "created_s": {"type": "integer"},
        },
    },
    "DeliveryList": {
        "type": "object",
        "required": ["deliveries"],
        "properties": {"deliveries": {"type": "array", "items": {"type": "object"}}},
    },
}

OPENAPI_PATHS: dict[str, object] = {
    "/v1/subscriptions": {
        "post": {
            "summary": "Subscribe a webhook URL to an address's events (docs/notify.md)",
            "operationId": "subscribe",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SubscriptionRequest"}}},
            },
            "responses": {
                "201": {
                    "description": "created; secret and token are shown only here",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Subscription"}}},
                },
                "400": _problem("malformed body, address or URL"),
                "422": _problem("URL refused by the SSRF policy (webhook.ssrf) or unresolvable"),
            },
        }
    },
    "/v1/subscriptions/{id}": {
        "delete": {
            "summary": "End a subscription (Authorization: Bearer <token from creation>)",
            "operationId": "unsubscribe",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"204": {"description": "ended"}, "404": _problem("unknown id or wrong token")},
        }
    },
    "/v1/events": {
        "get": {
            "summary": "Server-sent events stream of notifications; resume with Last-Event-ID",
            "operationId": "events",
            "parameters": [
                {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}},
                {"name": "address", "in": "query", "schema": {"type": "string"}},
                {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0}},
            ],
            "responses": {
                "200": {"description": "event stream", "content": {SSE_CONTENT_TYPE: {"schema": {"type": "string"}}}},
                "400": _problem("bad Last-Event-ID, address or wait"),
            },
        }
    },
    "/v1/admin/deliveries": {
        "get": {
            "summary": "Webhook deliveries by state, e.g. dead letters (Authorization: Bearer <admin token>)",
            "operationId": "adminDeliveries",
            "parameters": [
                {"name": "state", "in": "query", "schema": {"type": "string", "enum": [str(s) for s in DeliveryState]}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            ],
            "responses": {
                "200": {
                    "description": "deliveries, most recent first",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeliveryList"}}},
                },
                "404": _problem("admin endpoint disabled or wrong token"),
            },
        }
    },
}
