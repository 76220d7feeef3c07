"""Flask blueprint of the resolver (shell): /v1/resolve, /v1/headers, /v1/diagnose, webfinger, nostr.json.

Errors are ``WaypostError``s turned into problem+json by the app's handler. Lookups are
never logged here (who asks for whom is private).
"""

from __future__ import annotations

import base64
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Blueprint, Response, jsonify, request

from waypost.indexer.params import name_expiration_depth
from waypost.api.app import mark_cacheable
from waypost.api.errors import problem_body, problem_response
from waypost.indexer.store import NameIndexReader, open_reader
from waypost.registry.address import Address, AddressKind, format_address, parse_address
from waypost.registry.chain import encode_canonical
from waypost.registry.errors import (
    ChainError,
    ErrorCode,
    NotFoundError,
    ParseError,
    ValidationError,
    VerificationError,
    WaypostError,
)
from waypost.registry.model import BlockHash
from waypost.registry.keys import IdentityState, follow_redirects
from waypost.registry.profile import Profile, Protocol, parse_profile
from waypost.resolve import pchain, pipeline
from waypost.resolve.chainstore import ChainWriter
from waypost.resolve.hook import default_log_key_path
from waypost.resolve.bundle import bundle_to_json, encode_bundle
from waypost.resolve.diagnose import diagnose
from waypost.resolve.opchain import MAX_OPERATIONS_PAGE, encode_operations, operations_to_json
from waypost.resolve.store import MAX_HEADERS, AddressView, ResolveReader

__all__ = ["create_blueprint", "OPENAPI_PATHS", "MAX_REDIRECT_DEPTH", "reader_for_db", "chain_writer_for_db"]

MAX_REDIRECT_DEPTH = 4
_CBOR = "application/cbor"
_JRD = "application/jrd+json"
_MAX_INT = 2**62
# RFC 7033 link relations per protocol (registered ones where they exist).
_RELS: dict[Protocol, str] = {
    Protocol.ACTIVITYPUB: "self",
    Protocol.WEB: "http://webfinger.net/rel/profile-page",
}
# URI form of an endpoint in a JRD link (RFC 6068 mailto, RFC 5122 xmpp, NIP-21 nostr, matrix.to)
_URI_PREFIX: dict[Protocol, str] = {
    Protocol.EMAIL: "mailto:",
    Protocol.XMPP: "xmpp:",
    Protocol.NOSTR: "nostr:",
    Protocol.MATRIX: "https://matrix.to/#/",
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


def chain_writer_for_db(db_path: str | Path, *, network: str, clock: Callable[[], float] = time.time) -> ChainWriter | None:
    """A ``ChainWriter`` signing with the index's log key (``<db>.logkey``), or None without one.

    The key is the one ``waypost index`` created; the API never creates a log key itself
    (two keys for one log would fork its checkpoints).
    """
    from waypost.tlog import note as note_mod

    key_path = default_log_key_path(db_path)
    try:
        signer = note_mod.parse_signer_key(key_path.read_text(encoding="ascii"))
    except (OSError, UnicodeError, WaypostError):
        return None

    def tip(conn: sqlite3.Connection) -> tuple[int, BlockHash] | None:
        try:
            row = NameIndexReader(conn, network).fetch_tip()
        except (sqlite3.Error, WaypostError):
            return None
        return None if row is None else (row[0], row[1])

    return ChainWriter(db_path, signer=signer, clock=clock, tip=tip)


def _db_path_of(reader: ResolveReader) -> str | None:
    row = reader.conn.execute("PRAGMA database_list").fetchone()
    return None if row is None or not row[2] else str(row[2])


def _problem(code: ErrorCode, status: int, detail: str, **extra: object) -> Response:
    return problem_response(problem_body(code=code, status=status, detail=detail, extra=dict(extra)))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


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


@functools.lru_cache(maxsize=4096)
def _parse_profile_cached(value: bytes) -> Profile | None:
    try:
        return parse_profile(value)
    except ParseError:
        return None


def _profile(value: bytes | None) -> Profile | None:
    # a pure function of the value bytes: cached per worker (profiles are frozen values)
    return None if value is None else _parse_profile_cached(value)


@functools.lru_cache(maxsize=4096)
def _parse_address_cached(text: str) -> Address:
    return parse_address(text)


def _canonical_address(text: str) -> str:
    """``format_address(parse_address(text))``, cached per worker (exceptions are not cached)."""
    return format_address(_parse_address_cached(text))


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
    addr = _parse_address_cached(address)
    if addr.kind is AddressKind.NAMECOIN_D:
        # local@name.bit: the d/ value's waypost.names entry, confirmed by the domain owner (spec §1.4)
        target = pipeline.domain_names(first.value or b"").get(addr.local)
        if target is None:
            raise NotFoundError(ErrorCode.NOT_FOUND, f"{addr.domain} has no Waypost entry for {addr.local!r}", address=address)
        start = _canonical_address(target)
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


def _chain_endpoints(body: object) -> dict[str, str]:
    """``body.endpoints`` of a private-chain entry: a map of protocol to text (others ignored)."""
    eps = body.get("endpoints") if isinstance(body, Mapping) else None
    if not isinstance(eps, dict):
        return {}
    return {k: v for k, v in eps.items() if isinstance(k, str) and isinstance(v, str)}


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
    chain_writer: Callable[[], ChainWriter | None] | None = None,
) -> Blueprint:
    """Build the resolver blueprint.

    Args:
        get_reader: this thread's ``ResolveReader``.
        local_domain: the server's own domain; webfinger ``acct:alice@<local_domain>``
            and ``nostr.json?name=alice`` answer for ``alice@id.bit``.
        chain_writer: the ``ChainWriter`` for ``POST /v1/chains`` (None: read-only);
            by default one over the reader's database file with its log key.
    """
    bp = Blueprint("resolve", __name__)
    writer_lock = threading.Lock()
    writer_box: list[ChainWriter | None] = []

    def get_writer() -> ChainWriter | None:
        if chain_writer is not None:
            return chain_writer()
        with writer_lock:
            if not writer_box:
                reader = get_reader()
                db = _db_path_of(reader)
                writer_box.append(None if db is None else chain_writer_for_db(db, network=reader.network))
            return writer_box[0]

    @bp.post("/v1/chains/<path:address>")
    def post_chain(address: str) -> Response:
        try:
            canonical, _ = pchain.key_address(address)
        except ParseError as exc:
            return _problem(exc.code, 400, exc.message)
        length = request.content_length
        if length is not None and length > pchain.MAX_SUBMISSION_BYTES:
            return _problem(ErrorCode.CHAINS_TOO_LARGE, 413, "submission too large", limit=pchain.MAX_SUBMISSION_BYTES)
        body = request.stream.read(pchain.MAX_SUBMISSION_BYTES + 1)
        json_form = (request.mimetype or "") in ("application/json", "text/json")
        writer = get_writer()
        if writer is None:
            return _problem(ErrorCode.CHAINS_READ_ONLY, 503, "this server accepts no chain submissions (no log key)")
        try:
            entries = pchain.parse_submission(body, json_form=json_form)
            result = writer.submit(canonical, entries)
        except ParseError as exc:
            status = 413 if exc.code == ErrorCode.CHAINS_TOO_LARGE else 400
            return _problem(exc.code, status, exc.message, **exc.fields)
        except (ValidationError, VerificationError, ChainError) as exc:
            status = 409 if exc.code == ErrorCode.CHAINS_NOT_EXTENSION else 422
            return _problem(exc.code, status, exc.message, **exc.fields)
        if result.evidence is not None:
            # anyone can check it: DuplicityEvidence.parse + registry.chain.verify_duplicity_evidence
            return _problem(ErrorCode.CHAIN_DUPLICITY, 409, "one key signed two different entries at one position",
                            address=canonical,
                            evidence=base64.b64encode(result.evidence.encode()).decode("ascii"))
        resp = jsonify({"address": canonical, "appended": result.appended, "length": result.length,
                        "first_leaf_index": result.first_leaf_index})
        resp.status_code = 201 if result.appended else 200
        return resp

    @bp.get("/v1/chains/<path:address>")
    def get_chain(address: str) -> Response:
        canonical, _ = pchain.key_address(address)
        reader = get_reader()
        entries = reader.chain_entries(canonical)
        if not entries:
            raise NotFoundError(ErrorCode.NOT_FOUND, "no chain stored for this address", address=canonical)
        evidence = reader.chain_evidence(canonical)
        if _CBOR in request.headers.get("Accept", "") and request.accept_mimetypes.best_match(["application/json", _CBOR]) == _CBOR:
            return Response(encode_canonical(list(entries)), mimetype=_CBOR)
        return jsonify({"address": canonical, "entries": [_b64url(e) for e in entries], "flagged": bool(evidence),
                        "evidence": [base64.b64encode(e).decode("ascii") for e in evidence]})

    def _canonical(text: str) -> str:
        addr = parse_address(text)
        if local_domain is not None and addr.domain == local_domain:
            addr = parse_address(f"{addr.local}@id.bit")
        return format_address(addr)

    @bp.get("/v1/resolve/<path:address>")
    def resolve(address: str) -> Response:
        reader = get_reader()
        canonical = _canonical_address(address)
        since = _int_arg("since", None)
        chain = _resolve_chain(reader, canonical, since)
        final_addr, final, _ = chain[-1]
        # the answer is a function of path, query, Accept and the database: the app may replay it
        mark_cacheable()
        if request.accept_mimetypes.best_match(["application/json", _CBOR]) == _CBOR and _CBOR in request.headers.get("Accept", ""):
            body = encode_canonical({"address": canonical, "resolved": final_addr,
                                     "hops": [[a, r or "", encode_bundle(v.bundle)] for a, v, r in chain]})
            return Response(body, mimetype=_CBOR)
        if final.chain is not None:
            value_json: dict[str, object] | None = {"cbor": base64.b64encode(final.value or b"").decode("ascii")}
            endpoints = _chain_endpoints(final.chain.body)
        else:
            value_json = _value_json(final.value)
            endpoints = _endpoints(_profile(final.value))
        return jsonify(
            {
                "address": canonical,
                "resolved_address": final_addr,
                "value": value_json,
                "endpoints": endpoints,
                "verdict": _verdict_json(final),
                "hops": [{"address": a, "reason": r, "verdict": _verdict_json(v)} for a, v, r in chain[1:]],
                "bundle": bundle_to_json(final.bundle),
                "hop_bundles": [{"address": a, "bundle": bundle_to_json(v.bundle)} for a, v, _ in chain[:-1]],
            }
        )

    @bp.get("/v1/resolve/<path:address>/operations")
    def operations(address: str) -> Response:
        # SPV proofs of the name's current epoch, registration first (spec §6.2, docs/api.md)
        canonical = _canonical_address(address)
        start = _int_arg("start", 0) or 0
        page = get_reader().operations(canonical, start=start)
        mark_cacheable()
        if request.accept_mimetypes.best_match(["application/json", _CBOR]) == _CBOR and _CBOR in request.headers.get("Accept", ""):
            return Response(encode_operations(page), mimetype=_CBOR)
        return jsonify(operations_to_json(page))

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
        canonical = _canonical_address(address)
        view = reader.view(canonical, full=True)
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
            if e.value.startswith(("https:", "http:")):
                href = e.value
            elif e.protocol in _URI_PREFIX:
                href = _URI_PREFIX[e.protocol] + e.value
            else:
                href = e.value if ":" in e.value else f"{e.protocol.value}:{e.value}"
            link: dict[str, str] = {"rel": rel, "href": href}
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
    "/v1/chains/{address}": {
        "get": {
            "summary": "the stored private chain of a local@<key>.key address (entries base64url, genesis first)",
            "tags": ["resolve"],
            "parameters": [_ADDR],
            "responses": {"200": {"description": "entries", "content": {"application/json": {"schema": _OBJ},
                                                                          _CBOR: {"schema": {"type": "string", "format": "binary"}}}},
                          "400": _PROBLEM, "404": _PROBLEM},
        },
        "post": {
            "summary": "submit private-chain entries (an extension of the stored chain); 409 with duplicity evidence on a fork",
            "tags": ["resolve"],
            "parameters": [_ADDR],
            "requestBody": {"required": True, "content": {
                _CBOR: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "object", "required": ["entries"], "properties": {
                    "entries": {"type": "array", "items": {"type": "string"}}}}},
            }},
            "responses": {"200": _ok("nothing new"), "201": _ok("entries appended"), "400": _PROBLEM, "404": _PROBLEM,
                          "409": _PROBLEM,
                          "413": _PROBLEM, "422": _PROBLEM, "503": _PROBLEM},
        },
    },
    "/v1/resolve/{address}/operations": {
        "get": {
            "summary": "SPV proofs of the name operations of a Namecoin-backed address's current epoch, from its "
                       f"name_firstupdate to its latest operation, oldest first; at most {MAX_OPERATIONS_PAGE} per answer "
                       "(page with start; total counts them all). Accept: application/cbor for CBOR",
            "tags": ["resolve"],
            "parameters": [_ADDR, {"name": "start", "in": "query", "schema": {"type": "integer", "minimum": 0},
                                   "description": "index of the first operation in this answer (default 0)"}],
            "responses": {"200": {"description": "operations", "content": {"application/json": {"schema": _OBJ},
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
