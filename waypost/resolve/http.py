"""Flask blueprint of the resolver (shell): /v1/resolve, /v1/headers, /v1/diagnose, webfinger, nostr.json.

Errors are ``WaypostError``s turned into problem+json by the app's handler. Lookups are
never logged here (who asks for whom is private).
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable

from flask import Blueprint, Response, jsonify, request

from waypost.indexer.params import name_expiration_depth
from waypost.indexer.store import open_reader
from waypost.registry.address import AddressKind, format_address, parse_address
from waypost.registry.chain import encode_canonical
from waypost.registry.errors import ErrorCode, NotFoundError, ParseError, ValidationError, WaypostError
from waypost.registry.keys import IdentityState, follow_redirects
from waypost.registry.profile import Profile, Protocol, parse_profile
from waypost.resolve import pipeline
from waypost.resolve.bundle import bundle_to_json, encode_bundle
from waypost.resolve.diagnose import diagnose
from waypost.resolve.store import MAX_HEADERS, AddressView, ResolveReader

__all__ = ["create_blueprint", "OPENAPI_PATHS", "MAX_REDIRECT_DEPTH", "reader_for_db"]

MAX_REDIRECT_DEPTH = 4
_CBOR = "application/cbor"
_JRD = "application/jrd+json"
_MAX_INT = 2**62
# RFC 7033 link relations per protocol (registered ones where they exist).
_RELS: dict[Protocol, str] = {
    Protocol.ACTIVITYPUB: "self",
    Protocol.WEB: "http://webfinger.net/rel/profile-page",
}


def reader_for_db(db_path: str) -> Callable[[], ResolveReader]:
    """A per-thread (and per-process) ``ResolveReader`` factory over the index opened read-only."""
    local = threading.local()

    def get() -> ResolveReader:
        if getattr(local, "pid", None) != os.getpid():
            names = open_reader(db_path)
            local.reader = ResolveReader(names.conn, names.network)
            local.pid = os.getpid()
        reader: ResolveReader = local.reader
        return reader

    return get


def _int_arg(name: str, default: int | None) -> int | None:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) >= _MAX_INT:
        raise ParseError(ErrorCode.API_BAD_PARAM, f"{name} must be a non-negative integer", param=name)
    return int(text)


def _value_json(value: bytes | None) -> dict[str, object] | None:
    if value is None:
        return None
    try:
        return {"text": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def _profile(value: bytes | None) -> Profile | None:
    if value is None:
        return None
    try:
        return parse_profile(value)
    except ParseError:
        return None


def _verdict_json(view: AddressView) -> dict[str, object]:
    st = view.state
    last = view.verdicts[-1] if view.verdicts else None
    out: dict[str, object] = {
        "leaf_verdict": None if view.leaf is None else view.leaf.verdict,
        "codes": [] if view.leaf is None else list(view.leaf.codes),
        "epoch": None if view.leaf is None else view.leaf.epoch,
        "status": None if st is None else st.status.value,
        "key_class": None if last is None else last.key_class.value,
        "redirect": None if st is None or st.redirect is None else {"to": st.redirect.to, "reason": st.redirect.reason.value},
        "expires_at_height": view.expires_at_height,
    }
    return out


def _resolve_chain(reader: ResolveReader, address: str, since: int | None) -> list[tuple[str, AddressView, str | None]]:
    """Views along the redirect chain: ``[(address, view, reason_from_previous)]``."""
    views: dict[str, AddressView] = {}

    def view_of(a: str) -> AddressView:
        if a not in views:
            views[a] = reader.view(a, since_size=since)
        return views[a]

    first = view_of(address)
    if first.leaf is None:
        # the absence proof rides along as a problem extension member (scalars only): base64 CBOR
        raise NotFoundError(
            ErrorCode.NOT_FOUND, "address not found", address=address,
            bundle_cbor=base64.b64encode(encode_bundle(first.bundle)).decode("ascii"),
        )
    chain: list[tuple[str, AddressView, str | None]] = [(address, first, None)]
    start = address
    addr = parse_address(address)
    if addr.kind is AddressKind.NAMECOIN_D:
        # local@name.bit: the d/ value's waypost.names entry, confirmed by the domain owner (spec §1.4)
        target = pipeline.domain_names(first.value or b"").get(addr.local)
        if target is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, f"{addr.domain} has no Waypost entry for {addr.local!r}", address=address)
        start = format_address(parse_address(target))
        chain.append((start, view_of(start), "domain"))

    def lookup(a: str) -> IdentityState | None:
        v = view_of(a)
        return v.state if v.leaf is not None else None

    result = follow_redirects(start, lookup, max_depth=MAX_REDIRECT_DEPTH)
    for hop in result.hops:
        chain.append((hop.to_address, view_of(hop.to_address), hop.reason.value))
    return chain


def _endpoints(profile: Profile | None) -> dict[str, str]:
    return {} if profile is None else {e.protocol.value: e.value for e in profile.endpoints}


def _npub_hex(npub: str) -> str | None:
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    if not npub.startswith("npub1"):
        return None
    data = [charset.find(c) for c in npub[5:]]
    if any(d < 0 for d in data) or len(data) < 7:
        return None
    acc, bits, out = 0, 0, bytearray()
    for v in data[:-6]:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return out.hex() if len(out) == 32 else None


def create_blueprint(
    get_reader: Callable[[], ResolveReader],
    *,
    local_domain: str | None = None,
) -> Blueprint:
    """Build the resolver blueprint.

    Args:
        get_reader: this thread's ``ResolveReader``.
        local_domain: the server's own domain; webfinger ``acct:alice@<local_domain>``
            and ``nostr.json?name=alice`` answer for ``alice@id.bit``.
    """
    bp = Blueprint("resolve", __name__)

    def _canonical(text: str) -> str:
        addr = parse_address(text)
        if local_domain is not None and addr.domain == local_domain:
            addr = parse_address(f"{addr.local}@id.bit")
        return format_address(addr)

    @bp.get("/v1/resolve/<path:address>")
    def resolve(address: str) -> Response:
        reader = get_reader()
        canonical = format_address(parse_address(address))
        since = _int_arg("since", None)
        chain = _resolve_chain(reader, canonical, since)
        final_addr, final, _ = chain[-1]
        if request.accept_mimetypes.best_match(["application/json", _CBOR]) == _CBOR and _CBOR in request.headers.get("Accept", ""):
            body = encode_canonical({"address": canonical, "resolved": final_addr,
                                     "hops": [[a, r or "", encode_bundle(v.bundle)] for a, v, r in chain]})
            return Response(body, mimetype=_CBOR)
        profile = _profile(final.value)
        return jsonify(
            {
                "address": canonical,
                "resolved_address": final_addr,
                "value": _value_json(final.value),
                "endpoints": _endpoints(profile),
                "verdict": _verdict_json(final),
                "hops": [{"address": a, "reason": r, "verdict": _verdict_json(v)} for a, v, r in chain[1:]],
                "bundle": bundle_to_json(final.bundle),
                "hop_bundles": [{"address": a, "bundle": bundle_to_json(v.bundle)} for a, v, _ in chain[:-1]],
            }
        )

    @bp.get("/v1/headers")
    def headers() -> Response:
        start = _int_arg("start", 0) or 0
        count = _int_arg("count", MAX_HEADERS) or 0
        if count > MAX_HEADERS:
            raise ParseError(ErrorCode.API_BAD_PARAM, f"count must be at most {MAX_HEADERS}", param="count")
        rows = get_reader().headers(start, count)
        return jsonify({"start": start, "headers": [{"height": h, "header": raw.hex()} for h, raw in rows]})

    @bp.get("/v1/diagnose/<path:address>")
    def diagnose_route(address: str) -> Response:
        reader = get_reader()
        canonical = format_address(parse_address(address))
        view = reader.view(canonical)
        window = max(1, name_expiration_depth(reader.network, max(view.tip_height, 0)) // 36)
        findings = diagnose(
            address=canonical,
            present=view.leaf is not None,
            value=view.value,
            state=view.state,
            verdicts=view.verdicts,
            tip_height=view.tip_height,
            expires_at_height=view.expires_at_height,
            expiring_window=window,
            has_spv=view.bundle.spv is not None or view.leaf is None,
        )
        return jsonify({"address": canonical, "findings": [{"level": f.level, "code": f.code, "message": f.message} for f in findings]})

    @bp.get("/.well-known/webfinger")
    def webfinger() -> Response:
        resource = request.args.get("resource")
        if not resource:
            raise ParseError(ErrorCode.API_BAD_PARAM, "resource is required", param="resource")
        text = resource[5:] if resource.startswith("acct:") else resource
        if "@" not in text or text.startswith(("http:", "https:")):
            raise ParseError(ErrorCode.API_BAD_PARAM, "resource must be acct:local@domain", param="resource")
        canonical = _canonical(text)
        try:
            chain = _resolve_chain(get_reader(), canonical, None)
        except NotFoundError as exc:
            raise NotFoundError(ErrorCode.NOT_FOUND, "unknown resource") from exc
        except (ValidationError, WaypostError) as exc:
            if isinstance(exc, ParseError):
                raise
            raise NotFoundError(ErrorCode.NOT_FOUND, f"resource does not resolve: {exc.message}") from exc
        final_addr, final, _ = chain[-1]
        profile = _profile(final.value)
        rels = request.args.getlist("rel")
        links = []
        for e in profile.endpoints if profile is not None else ():
            rel = _RELS.get(e.protocol, f"https://waypost.dev/rel/{e.protocol.value}")
            link: dict[str, str] = {"rel": rel, "href": e.value} if e.value.startswith(("https:", "http:")) else {
                "rel": rel, "href": f"{e.protocol.value}:{e.value}" if ":" not in e.value else e.value}
            if e.protocol is Protocol.ACTIVITYPUB:
                link["type"] = "application/activity+json"
            links.append(link)
        if rels:
            links = [lk for lk in links if lk["rel"] in rels]
        aliases = [f"acct:{final_addr}"] if final_addr != canonical else []
        body = {"subject": resource, "aliases": aliases, "links": links}
        resp = jsonify(body)
        resp.headers["Content-Type"] = _JRD
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    @bp.get("/.well-known/nostr.json")
    def nostr_json() -> Response:
        name = request.args.get("name")
        if name is None or not name:
            raise ParseError(ErrorCode.API_BAD_PARAM, "name is required", param="name")
        names: dict[str, str] = {}
        relays: dict[str, list[str]] = {}
        try:
            chain = _resolve_chain(get_reader(), format_address(parse_address(f"{name.lower()}@id.bit")), None)
        except WaypostError:
            chain = []
        if chain:
            profile = _profile(chain[-1][1].value)
            npub = profile.endpoint(Protocol.NOSTR) if profile is not None else None
            hexkey = _npub_hex(npub) if npub else None
            if hexkey is not None:
                names[name] = hexkey
                relays[hexkey] = []
        resp = jsonify({"names": names, "relays": relays})
        resp.headers["Access-Control-Allow-Origin"] = "*"
        return resp

    return bp


_ADDR = {"name": "address", "in": "path", "required": True, "description": "an address, e.g. alice@id.bit",
         "schema": {"type": "string", "minLength": 1}}
_OBJ: dict[str, object] = {"type": "object"}


def _ok(desc: str, schema: dict[str, object] = _OBJ, media: str = "application/json") -> dict[str, object]:
    return {"description": desc, "content": {media: {"schema": schema}}}


_PROBLEM = {"description": "problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

OPENAPI_PATHS: dict[str, object] = {
    "/v1/resolve/{address}": {
        "get": {
            "summary": "profile after redirects, validation verdict and proof bundle (Accept: application/cbor for CBOR)",
            "tags": ["resolve"],
            "parameters": [_ADDR, {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0},
                                   "description": "client's last tree size: the bundle carries a consistency proof from it"}],
            "responses": {"200": {"description": "resolution", "content": {"application/json": {"schema": _OBJ},
                                                                            _CBOR: {"schema": {"type": "string", "format": "binary"}}}},
                          "400": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM},
        }
    },
    "/v1/headers": {
        "get": {
            "summary": "SPV block headers (with AuxPoW) by height range",
            "tags": ["resolve"],
            "parameters": [{"name": "start", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                           {"name": "count", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_HEADERS}}],
            "responses": {"200": _ok("headers"), "400": _PROBLEM, "404": _PROBLEM},
        }
    },
    "/v1/diagnose/{address}": {
        "get": {"summary": "why an address does or does not verify, in plain words", "tags": ["resolve"],
                "parameters": [_ADDR], "responses": {"200": _ok("findings"), "400": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM}}
    },
    "/.well-known/webfinger": {
        "get": {"summary": "RFC 7033 WebFinger (JRD) for indexed addresses", "tags": ["resolve"],
                "parameters": [{"name": "resource", "in": "query", "required": True, "schema": {"type": "string"}},
                               {"name": "rel", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _ok("JRD", _OBJ, _JRD), "400": _PROBLEM, "404": _PROBLEM, "422": _PROBLEM}}
    },
    "/.well-known/nostr.json": {
        "get": {"summary": "NIP-05 names for id/ identities", "tags": ["resolve"],
                "parameters": [{"name": "name", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _ok("NIP-05 document"), "400": _PROBLEM, "404": _PROBLEM}}
    },
}
