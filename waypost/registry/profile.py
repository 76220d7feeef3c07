"""Profile record v1: a Namecoin name value (bytes, JSON) to a typed ``Profile`` and back.

Core layer: pure (no I/O, clock or randomness); signatures are checked in ``keys.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import cast
from urllib.parse import urlsplit

from waypost.registry import bech32
from waypost.registry.chain import CborValue, decode_canonical, encode_canonical
from waypost.registry.errors import ErrorCode, ParseError, ValidationError, VerificationError
from waypost.registry.model import PublicKey, Sha256

__all__ = [
    "MAX_VALUE_BYTES_CONSENSUS",
    "MAX_VALUE_BYTES_PUBLISH",
    "MAX_JSON_DEPTH",
    "PROFILE_VERSION",
    "PROTOCOL_PREFERENCE",
    "Protocol",
    "Endpoint",
    "RedirectReason",
    "Redirect",
    "PolicyMode",
    "Policy",
    "DocRef",
    "LinkedProof",
    "Profile",
    "parse_profile",
    "encode_profile",
    "profile_json",
    "validate_publishable",
    "split_for_chain",
    "key_commitment",
    "signing_message",
    "redirect_message",
    "document_hash",
    "encode_profile_document",
    "parse_profile_document",
    "MAX_DOCUMENT_BYTES",
    "namecoin_text",
    "parse_domain_names",
    "contact_intersection",
    "validate_no_downgrade",
    "encode_b64",
    "decode_b64",
]

# namecoin-core src/names/common.h: MAX_VALUE_LENGTH = 1023 (consensus).
MAX_VALUE_BYTES_CONSENSUS = 1023
# namecoin-core src/names/common.h: MAX_VALUE_LENGTH_UI = 520 (the wallet refuses larger
# values, so a larger name is hard to update); Waypost publishes at most this much on chain.
MAX_VALUE_BYTES_PUBLISH = 520
# Waypost rule: JSON nesting deeper than this is refused before json.loads runs.
MAX_JSON_DEPTH = 16
PROFILE_VERSION = 1
# Waypost rule: the top-level member that holds the Waypost part.
WAYPOST_KEY = "waypost"

# Waypost rule: an off-chain profile document stays small enough to fetch and parse fast.
MAX_DOCUMENT_BYTES = 16 * 1024

_KEY_BYTES = 32
_HASH_BYTES = 32
_SIG_BYTES = 64
_MAX_LOCATIONS = 4
_MAX_PROOFS = 8
_MAX_TEXT = 256


class Protocol(StrEnum):
    """Contact protocols a profile can list (closed set in v1)."""

    EMAIL = "email"
    XMPP = "xmpp"
    MATRIX = "matrix"
    NOSTR = "nostr"
    ACTIVITYPUB = "activitypub"
    SIGNAL = "signal"
    WEB = "web"


# Waypost rule: preference when two profiles share several protocols: end-to-end
# encrypted by default first (Signal, Matrix DMs, XMPP+OMEMO, Nostr NIP-17), then email,
# then public or non-messaging channels.
PROTOCOL_PREFERENCE: tuple[Protocol, ...] = (
    Protocol.SIGNAL,
    Protocol.MATRIX,
    Protocol.XMPP,
    Protocol.NOSTR,
    Protocol.EMAIL,
    Protocol.ACTIVITYPUB,
    Protocol.WEB,
)
_PROTOCOL_RANK = {p: i for i, p in enumerate(PROTOCOL_PREFERENCE)}


class RedirectReason(StrEnum):
    """Why an address points elsewhere."""

    VOLUNTARY = "voluntary"
    ADMINISTRATIVE = "administrative"
    REVOKED = "revoked"


class PolicyMode(StrEnum):
    """Like MTA-STS (RFC 8461 §5): ``enforce`` refuses, ``testing`` only reports."""

    ENFORCE = "enforce"
    TESTING = "testing"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One contact endpoint: protocol and its syntax-checked value."""

    protocol: Protocol
    value: str

    def __post_init__(self) -> None:
        _check_endpoint(self.protocol, self.value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Redirect:
    """The address moved: ``to`` (canonical address text), why, signed by the current key."""

    to: str
    reason: RedirectReason
    sig: bytes  # 64-byte ed25519 signature over ``redirect_message(from, self)``

    def __post_init__(self) -> None:
        _check_size(self.sig, _SIG_BYTES, "waypost.redirect.sig")
        _address_text(self.to, "waypost.redirect.to")


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """Security policy: contact only over ``require`` protocols (when ``enforce``)."""

    require: tuple[Protocol, ...]  # unique, non-empty; stored in PROTOCOL_PREFERENCE order
    mode: PolicyMode

    def __post_init__(self) -> None:
        if not self.require or len(set(self.require)) != len(self.require):
            raise _bad("waypost.policy.require", "list each protocol once, at least one")
        # One value per meaning: keep ``require`` in PROTOCOL_PREFERENCE order.
        object.__setattr__(self, "require", tuple(sorted(self.require, key=_PROTOCOL_RANK.__getitem__)))


@dataclass(frozen=True, slots=True, kw_only=True)
class DocRef:
    """Indirection to the full signed profile document (canonical CBOR)."""

    hash: Sha256  # SHA-256 of the document bytes
    locations: tuple[str, ...]  # https URLs (or empty when the resolver knows where)

    def __post_init__(self) -> None:
        _check_size(self.hash, _HASH_BYTES, "waypost.doc.h")
        if len(self.locations) > _MAX_LOCATIONS:
            raise _bad("waypost.doc.at", f"at most {_MAX_LOCATIONS} locations")
        for url in self.locations:
            _https_url(url, "waypost.doc.at")


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkedProof:
    """A linked-account proof reference; verified by ``registry.proofs``."""

    service: str
    handle: str
    location: str

    def __post_init__(self) -> None:
        _text(self.service, "waypost.proofs[].service", limit=32)
        _text(self.handle, "waypost.proofs[].handle", limit=128)
        _text(self.location, "waypost.proofs[].at")


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A parsed name value.

    ``namecoin`` keeps every top-level member except ``"waypost"`` (Namecoin ``id/``
    fields such as ``name``, ``email``, ``gpg``, and unknown ones) as ``(key, canonical
    JSON text)`` pairs sorted by key, so nothing is lost and ``encode_profile`` can
    rebuild the value. ``version`` is ``None`` when the value has no Waypost part; all
    other fields then keep their defaults.
    """

    namecoin: tuple[tuple[str, str], ...] = ()
    version: int | None = None
    key: PublicKey | None = None  # current ed25519 signing key
    next_commitment: Sha256 | None = None  # SHA-256 of the next public key (pre-rotation)
    recovery_commitment: Sha256 | None = None  # SHA-256 of the recovery public key
    custodian: PublicKey | None = None  # provider key allowed to act for the owner
    endpoints: tuple[Endpoint, ...] = ()  # unique protocols, sorted by PROTOCOL_PREFERENCE
    policy: Policy | None = None
    redirect: Redirect | None = None
    doc: DocRef | None = None
    proofs: tuple[LinkedProof, ...] = ()
    sig: bytes | None = None  # ed25519 over ``signing_message(profile, address=...)``

    def __post_init__(self) -> None:
        keys = [k for k, _ in self.namecoin]
        if keys != sorted(set(keys)) or WAYPOST_KEY in keys:
            raise ValidationError(
                ErrorCode.PROFILE_BAD_FIELD, "Profile.namecoin keys must be sorted, unique and exclude 'waypost'"
            )
        for key, text in self.namecoin:
            try:
                canonical = _dumps(json.loads(text)) == text
            except ValueError:
                canonical = False
            if not canonical:
                raise ValidationError(
                    ErrorCode.PROFILE_BAD_FIELD, f"Profile.namecoin[{key!r}] is not canonical JSON text", field=key
                )
        protocols = [e.protocol for e in self.endpoints]
        if protocols != sorted(set(protocols), key=_PROTOCOL_RANK.__getitem__):
            raise ValidationError(
                ErrorCode.PROFILE_BAD_FIELD, "Profile.endpoints must have unique protocols in preference order"
            )
        if self.version not in (None, PROFILE_VERSION):
            raise ValidationError(ErrorCode.PROFILE_BAD_FIELD, f"unsupported version {self.version!r}")
        for value, size, name in (
            (self.key, _KEY_BYTES, "key"),
            (self.next_commitment, _HASH_BYTES, "next"),
            (self.recovery_commitment, _HASH_BYTES, "recovery"),
            (self.custodian, _KEY_BYTES, "custodian"),
            (self.sig, _SIG_BYTES, "sig"),
        ):
            if value is not None:
                _check_size(value, size, name)
        if len(self.proofs) > _MAX_PROOFS:
            raise ValidationError(ErrorCode.PROFILE_BAD_FIELD, f"at most {_MAX_PROOFS} proofs")
        if self.version is None and self.has_waypost_fields():
            raise ValidationError(ErrorCode.PROFILE_BAD_FIELD, "Profile without a Waypost part cannot carry Waypost fields")

    @classmethod
    def parse(cls, value: bytes) -> Profile:
        """Same as ``parse_profile(value)``."""
        return parse_profile(value)

    def has_waypost_fields(self) -> bool:
        """True when any Waypost-part field is set."""
        return any(
            (
                self.key,
                self.next_commitment,
                self.recovery_commitment,
                self.custodian,
                self.endpoints,
                self.policy,
                self.redirect,
                self.doc,
                self.proofs,
                self.sig,
            )
        )

    def endpoint(self, protocol: Protocol) -> str | None:
        """The endpoint value for ``protocol``, or ``None``."""
        for e in self.endpoints:
            if e.protocol is protocol:
                return e.value
        return None


# ---------------------------------------------------------------------------
# encodings


def encode_b64(data: bytes) -> str:
    """RFC 4648 §5 base64url without padding (Waypost's one binary-in-JSON encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64_RE = re.compile(r"[A-Za-z0-9_-]*")


def decode_b64(text: str, *, size: int, field: str) -> bytes:
    """Decode canonical unpadded base64url of exactly ``size`` bytes.

    Raises:
        ParseError: ``PROFILE_BAD_FIELD`` for padding, other alphabets, non-zero
            trailing bits (non-canonical text) or a wrong length.
    """
    if not _B64_RE.fullmatch(text) or len(text) != (size * 8 + 5) // 6:
        raise ParseError(
            ErrorCode.PROFILE_BAD_FIELD,
            f"{field}: expected {size} bytes as unpadded base64url",
            field=field,
        )
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if encode_b64(raw) != text:  # non-zero trailing bits: another text for the same bytes
        raise ParseError(ErrorCode.PROFILE_BAD_FIELD, f"{field}: non-canonical base64url", field=field)
    return raw


def key_commitment(pubkey: bytes) -> Sha256:
    """Pre-rotation commitment to a public key (KERI-style): ``SHA-256(pubkey)``.

    Raises:
        ValidationError: ``KEY_BAD`` unless ``pubkey`` is 32 bytes.
    """
    if len(pubkey) != _KEY_BYTES:
        raise ValidationError(ErrorCode.KEY_BAD, "ed25519 public keys are 32 bytes", got=len(pubkey))
    return Sha256(hashlib.sha256(pubkey).digest())


# ---------------------------------------------------------------------------
# strict JSON


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _BadNumber(Exception):
    pass


def _pairs_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _parse_constant(name: str) -> object:
    raise _BadNumber(name)  # NaN, Infinity, -Infinity are not JSON (RFC 8259 §6)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _BadNumber(text)
    return value


_JSON_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"?', re.S)
_BRACKET_RE = re.compile(r"[\[\]{}]")


def _scan_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH, counting brackets outside strings.

    Runs before ``json.loads`` so hostile input cannot reach its recursion.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    for m in _BRACKET_RE.finditer(_JSON_STRING_RE.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ParseError(
                    ErrorCode.PROFILE_TOO_DEEP,
                    f"JSON nested deeper than {MAX_JSON_DEPTH} levels",
                    limit=MAX_JSON_DEPTH,
                )
        else:
            depth -= 1


def _has_lone_surrogate(obj: object) -> bool:
    # UTF-8 input cannot hold surrogates; only "\\uD8xx"-style escapes can produce one,
    # and encoding the parsed value back to UTF-8 fails exactly on a lone one.
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _loads_strict(value: bytes, *, limit: int) -> dict[str, object] | list[object]:
    if len(value) > limit:
        raise ParseError(
            ErrorCode.PROFILE_TOO_LARGE,
            f"value is {len(value)} bytes; at most {limit} allowed",
            size=len(value),
            limit=limit,
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            ErrorCode.PROFILE_BAD_UTF8, "name value is not UTF-8; not a Waypost profile", offset=exc.start
        ) from exc
    _scan_depth(text)
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_pairs_hook,
            parse_constant=_parse_constant,
            parse_float=_parse_float,
        )
    except _DuplicateKey as exc:
        raise ParseError(
            ErrorCode.PROFILE_DUPLICATE_KEY, f"duplicate JSON key {exc.key!r}", key=exc.key
        ) from exc
    except _BadNumber as exc:
        raise ParseError(ErrorCode.PROFILE_BAD_JSON, f"number not allowed: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        raise ParseError(ErrorCode.PROFILE_BAD_JSON, f"name value is not JSON: {exc}") from exc
    if not isinstance(obj, (dict, list)):
        raise ParseError(ErrorCode.PROFILE_BAD_JSON, "name value must be a JSON object")
    if "\\u" in text and _has_lone_surrogate(obj):
        raise ParseError(ErrorCode.PROFILE_BAD_JSON, "JSON string holds a lone surrogate escape")
    return obj


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)


# ---------------------------------------------------------------------------
# per-field syntax


def _bad(field: str, why: str) -> ParseError:
    return ParseError(ErrorCode.PROFILE_BAD_FIELD, f"{field}: {why}", field=field)


def _check_size(value: bytes, size: int, field: str) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise _bad(field, f"expected {size} bytes")


_BAD_TEXT_RE = re.compile(r"[\s\x00-\x1f\x7f]")  # re's \s covers str.isspace()


def _text(value: object, field: str, *, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise _bad(field, "expected a string")
    if not value or len(value.encode("utf-8")) > limit:
        raise _bad(field, f"expected 1..{limit} bytes")
    if _BAD_TEXT_RE.search(value):
        raise _bad(field, "whitespace or control character")
    return value


_LDH_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = rf"(?:{_LDH_LABEL}\.)+{_LDH_LABEL}"
_HOST_RE = re.compile(_HOST)
# RFC 5322 §3.2.3 dot-atom (ASCII); RFC 6531 UTF-8 local parts are not accepted in v1.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_HOST}")
# RFC 7622 §3.3: localpart excludes " & ' / : < > @ and spaces; Waypost needs local@domain.
_JID_RE = re.compile(rf"[^\"&'/:<>@\s]{{1,1023}}@{_HOST}(?:/[^\s]{{1,1023}})?")
# Matrix spec "User Identifiers": @localpart:server_name, localpart [a-z0-9._=/+-].
_MATRIX_RE = re.compile(rf"@[a-z0-9._=/+-]+:{_HOST}(?::[0-9]{{1,5}})?")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
# Signal: phone number in E.164, or a username "name.NN".
_SIGNAL_RE = re.compile(r"\+[1-9][0-9]{6,14}|[a-z_][a-z0-9_]{2,31}\.[0-9]{2,9}")

def _is_npub(text: str) -> bool:
    """NIP-19 ``npub1...``: BIP-173 bech32 with hrp ``npub`` and a 32-byte payload."""
    try:
        bech32.decode_npub(text)
    except ParseError:
        return False
    return text.islower()


def _https_url(value: object, field: str) -> str:
    text = _text(value, field)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _bad(field, "not a URL") from exc
    host = parts.hostname or ""
    numeric_tld = host.rsplit(".", 1)[-1].isdigit()  # an IP address, not a DNS name
    if parts.scheme != "https" or not _HOST_RE.fullmatch(host) or numeric_tld or parts.username or port == 0:
        raise _bad(field, "expected an https:// URL with a DNS host name")
    if not text.isascii():
        raise _bad(field, "URL must be ASCII (percent-encode or punycode)")
    return text


def _check_endpoint(protocol: Protocol, value: object) -> str:
    field = f"waypost.ep.{protocol.value}"
    if protocol in (Protocol.WEB, Protocol.ACTIVITYPUB):
        return _https_url(value, field)
    text = _text(value, field)
    ok = {
        Protocol.EMAIL: lambda t: bool(_EMAIL_RE.fullmatch(t)) and len(t) <= 254,
        Protocol.XMPP: lambda t: bool(_JID_RE.fullmatch(t)),
        Protocol.MATRIX: lambda t: bool(_MATRIX_RE.fullmatch(t)) and len(t) <= 255,
        Protocol.NOSTR: lambda t: bool(_HEX64_RE.fullmatch(t)) or _is_npub(t),
        Protocol.SIGNAL: lambda t: bool(_SIGNAL_RE.fullmatch(t)),
    }[protocol](text)
    if not ok:
        raise _bad(field, f"not a valid {protocol.value} identifier")
    return text


def _protocol(value: object, field: str) -> Protocol:
    if not isinstance(value, str):
        raise _bad(field, "expected a protocol name")
    try:
        return Protocol(value)
    except ValueError as exc:
        raise _bad(field, f"unknown protocol {value!r}") from exc


def _obj(value: object, field: str, allowed: frozenset[str], required: frozenset[str] = frozenset()) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _bad(field, "expected an object")
    obj = cast(dict[str, object], value)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _bad(field, f"unknown member {unknown[0]!r} (v1 is closed)")
    missing = sorted(required - set(obj))
    if missing:
        raise _bad(field, f"missing member {missing[0]!r}")
    return obj


def _list(value: object, field: str, limit: int) -> list[object]:
    if not isinstance(value, list):
        raise _bad(field, "expected an array")
    if len(value) > limit:
        raise _bad(field, f"at most {limit} items")
    return cast(list[object], value)


def _b64_field(value: object, field: str, size: int) -> bytes:
    if not isinstance(value, str):
        raise _bad(field, "expected a base64url string")
    return decode_b64(value, size=size, field=field)


def _address_text(value: object, field: str) -> str:
    from waypost.registry.address import format_address, parse_address  # sibling core module

    text = _text(value, field, limit=320)
    try:
        canonical = format_address(parse_address(text))
    except ParseError as exc:
        raise _bad(field, f"not a Waypost address ({exc.code})") from exc
    if canonical != text:
        raise _bad(field, f"address must be in canonical form {canonical!r}")
    return text


_PROTOCOL_NAMES = frozenset(p.value for p in Protocol)
_REASON_NAMES = frozenset(r.value for r in RedirectReason)
_WAYPOST_MEMBERS = frozenset(
    {"v", "key", "next", "recovery", "custodian", "ep", "policy", "redirect", "doc", "proofs", "sig"}
)


def _parse_waypost(raw: object) -> dict[str, object]:
    """Typed keyword arguments for ``Profile`` from the ``"waypost"`` member."""
    wp = _obj(raw, "waypost", _WAYPOST_MEMBERS, frozenset({"v"}))
    version = wp["v"]
    if type(version) is not int or version != PROFILE_VERSION:
        raise _bad("waypost.v", f"unsupported version {version!r} (this parser reads v{PROFILE_VERSION})")
    out: dict[str, object] = {"version": version}
    if "key" in wp:
        out["key"] = PublicKey(_b64_field(wp["key"], "waypost.key", _KEY_BYTES))
    if "next" in wp:
        out["next_commitment"] = Sha256(_b64_field(wp["next"], "waypost.next", _HASH_BYTES))
    if "recovery" in wp:
        out["recovery_commitment"] = Sha256(_b64_field(wp["recovery"], "waypost.recovery", _HASH_BYTES))
    if "custodian" in wp:
        out["custodian"] = PublicKey(_b64_field(wp["custodian"], "waypost.custodian", _KEY_BYTES))
    if "sig" in wp:
        out["sig"] = _b64_field(wp["sig"], "waypost.sig", _SIG_BYTES)
    if "ep" in wp:
        ep = _obj(wp["ep"], "waypost.ep", _PROTOCOL_NAMES)
        out["endpoints"] = tuple(
            Endpoint(protocol=p, value=cast(str, ep[p]))  # Endpoint checks type and syntax
            for p in PROTOCOL_PREFERENCE
            if p in ep  # StrEnum members hash and compare as their str values
        )
    if "policy" in wp:
        pol = _obj(wp["policy"], "waypost.policy", frozenset({"require", "mode"}), frozenset({"require", "mode"}))
        items = [_protocol(x, "waypost.policy.require") for x in _list(pol["require"], "waypost.policy.require", 16)]
        if len(set(items)) != len(items):
            raise _bad("waypost.policy.require", "duplicate protocol")
        if not items:
            raise _bad("waypost.policy.require", "list at least one protocol (or omit the policy)")
        mode = pol["mode"]
        if mode not in (PolicyMode.ENFORCE.value, PolicyMode.TESTING.value):
            raise _bad("waypost.policy.mode", "expected 'enforce' or 'testing'")
        out["policy"] = Policy(
            require=tuple(sorted(items, key=_PROTOCOL_RANK.__getitem__)), mode=PolicyMode(mode)
        )
    if "redirect" in wp:
        red = _obj(wp["redirect"], "waypost.redirect", frozenset({"to", "reason", "sig"}), frozenset({"to", "reason", "sig"}))
        reason = red["reason"]
        if reason not in _REASON_NAMES:
            raise _bad("waypost.redirect.reason", "expected voluntary, administrative or revoked")
        out["redirect"] = Redirect(
            to=cast(str, red["to"]),  # Redirect checks type and canonical form
            reason=RedirectReason(reason),
            sig=_b64_field(red["sig"], "waypost.redirect.sig", _SIG_BYTES),
        )
    if "doc" in wp:
        doc = _obj(wp["doc"], "waypost.doc", frozenset({"h", "at"}), frozenset({"h"}))
        locations = tuple(cast(str, x) for x in _list(doc.get("at", []), "waypost.doc.at", _MAX_LOCATIONS))
        if "at" in doc and not locations:
            raise _bad("waypost.doc.at", "omit 'at' instead of an empty array")
        out["doc"] = DocRef(hash=Sha256(_b64_field(doc["h"], "waypost.doc.h", _HASH_BYTES)), locations=locations)
    if "proofs" in wp:
        proofs = []
        for item in _list(wp["proofs"], "waypost.proofs", _MAX_PROOFS):
            p = _obj(item, "waypost.proofs[]", frozenset({"service", "handle", "at"}), frozenset({"service", "handle", "at"}))
            proofs.append(
                LinkedProof(
                    service=cast(str, p["service"]),  # LinkedProof checks each text
                    handle=cast(str, p["handle"]),
                    location=cast(str, p["at"]),
                )
            )
        if not proofs:
            raise _bad("waypost.proofs", "omit 'proofs' instead of an empty array")
        out["proofs"] = tuple(proofs)
    if "ep" in wp and not out["endpoints"]:
        raise _bad("waypost.ep", "omit 'ep' instead of an empty object")
    return out


# ---------------------------------------------------------------------------
# public API


def parse_profile(value: bytes, *, limit: int = MAX_VALUE_BYTES_CONSENSUS) -> Profile:
    """Parse an on-chain name value into a ``Profile``.

    Namecoin allows any bytes as a value; anything that is not a strict JSON object
    raises, and the caller then treats the name as "not a Waypost profile".

    Args:
        value: the raw name value.
        limit: size limit in bytes (Namecoin consensus by default; documents use
            ``MAX_DOCUMENT_BYTES``).

    Returns:
        The typed profile; ``version`` is ``None`` when there is no ``"waypost"`` member.

    Raises:
        ParseError: ``PROFILE_TOO_LARGE`` (> 1023 bytes), ``PROFILE_BAD_UTF8``,
            ``PROFILE_TOO_DEEP``, ``PROFILE_DUPLICATE_KEY``, ``PROFILE_BAD_JSON``
            (not JSON, not an object, NaN/Infinity, lone surrogates) and
            ``PROFILE_BAD_FIELD`` (a Waypost member with the wrong type or syntax).
    """
    obj = _loads_strict(value, limit=limit)
    if not isinstance(obj, dict):
        raise ParseError(ErrorCode.PROFILE_BAD_JSON, "name value must be a JSON object")
    namecoin = tuple(sorted((k, _dumps(v)) for k, v in obj.items() if k != WAYPOST_KEY))
    if WAYPOST_KEY not in obj:
        return Profile(namecoin=namecoin)
    fields = _parse_waypost(obj[WAYPOST_KEY])
    return Profile(namecoin=namecoin, **fields)  # type: ignore[arg-type]


_NIP05_LOCAL_RE = re.compile(r"[a-z0-9._-]{1,64}")
_MAX_DOMAIN_NAMES = 64


def parse_domain_names(value: bytes) -> tuple[tuple[str, str], ...]:
    """The Waypost entries of a ``d/`` name value: ``(local, canonical target address)``.

    Layout (NIP-05-like): ``{"waypost": {"names": {"<local>": "<address>"}}, ...}``;
    ``local@name.bit`` resolves to the target, which the resolver follows as a redirect
    vouched for by the domain owner. Other members (``ip``, ``map``...) are ignored.

    Returns:
        Pairs sorted by local part; empty when the value has no ``"waypost"`` member.

    Raises:
        ParseError: the strict JSON codes of ``parse_profile``; ``PROFILE_BAD_FIELD``
            for a malformed ``waypost`` member, local part or target.
    """
    obj = _loads_strict(value, limit=MAX_VALUE_BYTES_CONSENSUS)
    if not isinstance(obj, dict):
        raise ParseError(ErrorCode.PROFILE_BAD_JSON, "name value must be a JSON object")
    if WAYPOST_KEY not in obj:
        return ()
    wp = _obj(obj[WAYPOST_KEY], "waypost", frozenset({"names"}), frozenset({"names"}))
    names = _obj(wp["names"], "waypost.names", frozenset(cast(dict[str, object], wp["names"])))
    if len(names) > _MAX_DOMAIN_NAMES:
        raise _bad("waypost.names", f"at most {_MAX_DOMAIN_NAMES} entries")
    out = []
    for local, target in sorted(names.items()):
        if not _NIP05_LOCAL_RE.fullmatch(local):
            raise _bad("waypost.names", f"local part {local!r} must match [a-z0-9._-]+")
        out.append((local, _address_text(target, f"waypost.names.{local}")))
    return tuple(out)


def _waypost_json(p: Profile, *, with_sig: bool = True) -> dict[str, object]:
    wp: dict[str, object] = {"v": p.version}
    if p.key is not None:
        wp["key"] = encode_b64(p.key)
    if p.next_commitment is not None:
        wp["next"] = encode_b64(p.next_commitment)
    if p.recovery_commitment is not None:
        wp["recovery"] = encode_b64(p.recovery_commitment)
    if p.custodian is not None:
        wp["custodian"] = encode_b64(p.custodian)
    if p.endpoints:
        wp["ep"] = {e.protocol.value: e.value for e in p.endpoints}
    if p.policy is not None:
        wp["policy"] = {"require": [x.value for x in p.policy.require], "mode": p.policy.mode.value}
    if p.redirect is not None:
        wp["redirect"] = {"to": p.redirect.to, "reason": p.redirect.reason.value, "sig": encode_b64(p.redirect.sig)}
    if p.doc is not None:
        doc: dict[str, object] = {"h": encode_b64(p.doc.hash)}
        if p.doc.locations:
            doc["at"] = list(p.doc.locations)
        wp["doc"] = doc
    if p.proofs:
        wp["proofs"] = [{"service": x.service, "handle": x.handle, "at": x.location} for x in p.proofs]
    if with_sig and p.sig is not None:
        wp["sig"] = encode_b64(p.sig)
    return wp


def profile_json(profile: Profile, *, with_sig: bool = True) -> dict[str, object]:
    """The profile as a JSON data-model object (dicts, lists, str, int, float, bool, None).

    Args:
        profile: the profile.
        with_sig: include ``waypost.sig`` (``False`` gives the signed content).
    """
    obj: dict[str, object] = {k: json.loads(v) for k, v in profile.namecoin}
    if profile.version is not None:
        obj[WAYPOST_KEY] = _waypost_json(profile, with_sig=with_sig)
    return obj


def encode_profile(profile: Profile) -> bytes:
    """Encode as compact UTF-8 JSON with sorted keys (deterministic).

    ``parse_profile(encode_profile(p)) == p`` for every valid ``p``.
    """
    return _dumps(profile_json(profile)).encode("utf-8")


def validate_publishable(value: bytes) -> None:
    """Check a value before it is published on chain.

    Raises:
        ValidationError: ``PROFILE_TOO_LARGE`` above 520 bytes (use ``doc`` indirection:
            ``split_for_chain``).
        ParseError: anything ``parse_profile`` refuses.
    """
    if len(value) > MAX_VALUE_BYTES_PUBLISH:
        raise ValidationError(
            ErrorCode.PROFILE_TOO_LARGE,
            f"value is {len(value)} bytes; publish at most {MAX_VALUE_BYTES_PUBLISH} "
            "(move the full profile to a signed document referenced by waypost.doc)",
            size=len(value),
            limit=MAX_VALUE_BYTES_PUBLISH,
        )
    parse_profile(value)


def _encode_canonical(obj: object) -> bytes:
    # STYLE §5: the one CBOR encoder. Our records hold only str, int, list and dict.
    return encode_canonical(cast(CborValue, obj))


def document_hash(document: bytes) -> Sha256:
    """SHA-256 of a profile document (the value of ``waypost.doc.h``)."""
    return Sha256(hashlib.sha256(document).digest())


def _cbor_record(profile: Profile, *, with_sig: bool) -> dict[str, object]:
    # Namecoin members travel as their canonical JSON text: canonical CBOR has no floats
    # and a depth limit, and the text is already canonical (sorted keys, compact).
    record: dict[str, object] = {"namecoin": dict(profile.namecoin)}
    if profile.version is not None:
        record["waypost"] = _waypost_json(profile, with_sig=with_sig)
    return record


def encode_profile_document(profile: Profile) -> bytes:
    """The off-chain profile document: ``encode_canonical({"namecoin": {key: json text},
    "waypost": <waypost part as in JSON, with sig>})``."""
    return _encode_canonical(_cbor_record(profile, with_sig=True))


def parse_profile_document(document: bytes, *, expected_hash: Sha256 | None = None) -> Profile:
    """Parse a profile document, checking its hash against ``waypost.doc.h`` first.

    Raises:
        VerificationError: ``PROFILE_DOC_MISMATCH`` when the hash differs.
        ParseError: ``CBOR_*`` codes from ``decode_canonical``, ``PROFILE_BAD_FIELD``.
    """
    if expected_hash is not None and document_hash(document) != expected_hash:
        raise VerificationError(
            ErrorCode.PROFILE_DOC_MISMATCH, "profile document does not match waypost.doc.h",
            expected=expected_hash.hex(), got=document_hash(document).hex(),
        )
    record = _obj(decode_canonical(document), "document", frozenset({"namecoin", "waypost"}), frozenset({"namecoin"}))
    members = _obj(record["namecoin"], "document.namecoin", frozenset(cast(dict[str, object], record["namecoin"])))
    obj: dict[str, object] = {}
    for key, text in members.items():
        if not isinstance(text, str) or key == WAYPOST_KEY:
            raise _bad("document.namecoin", "members are canonical JSON text")
        obj[key] = _loads_member(text)
        if _dumps(obj[key]) != text:
            raise _bad("document.namecoin", f"member {key!r} is not canonical JSON text")
    if "waypost" in record:
        obj[WAYPOST_KEY] = record["waypost"]
    return parse_profile(_dumps(obj).encode("utf-8"), limit=MAX_DOCUMENT_BYTES)


def _loads_member(text: str) -> object:
    try:
        wrapped = _loads_strict(("[" + text + "]").encode("utf-8"), limit=MAX_DOCUMENT_BYTES)
    except ParseError as exc:
        raise _bad("document.namecoin", f"member is not JSON text ({exc.code})") from exc
    if len(wrapped) != 1 or not isinstance(wrapped, list):
        raise _bad("document.namecoin", "member is not one JSON value")
    return wrapped[0]


def split_for_chain(profile: Profile, *, locations: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """Build the on-chain value and, when needed, the off-chain profile document.

    If ``encode_profile(profile)`` fits in 520 bytes it is returned with an empty
    document. Otherwise the document is ``encode_profile_document(profile)`` (the full,
    signed record) and the on-chain value keeps only the Waypost key material, policy
    and redirect plus ``doc = {h: SHA-256(document), at: locations}``. The on-chain
    value is returned unsigned: its authority is the Namecoin owner signature plus the
    document hash (the document carries the profile signature).

    Raises:
        ValidationError: ``PROFILE_TOO_LARGE`` when even the reduced value is too big;
            ``PROFILE_BAD_FIELD`` for a profile without a Waypost part.
    """
    if profile.version is None:
        raise ValidationError(ErrorCode.PROFILE_BAD_FIELD, "only Waypost profiles can be split", field="waypost")
    full = encode_profile(profile)
    if len(full) <= MAX_VALUE_BYTES_PUBLISH:
        return full, b""
    document = encode_profile_document(profile)
    small = Profile(
        version=profile.version,
        key=profile.key,
        next_commitment=profile.next_commitment,
        recovery_commitment=profile.recovery_commitment,
        custodian=profile.custodian,
        policy=profile.policy,
        redirect=profile.redirect,
        doc=DocRef(hash=document_hash(document), locations=tuple(_https_url(x, "locations") for x in locations)),
    )
    value = encode_profile(small)
    validate_publishable(value)
    return value, document


def signing_message(profile: Profile, *, address: str) -> bytes:
    """The bytes ``waypost.sig`` signs: canonical CBOR of the record without its sig.

    Layout: ``encode_canonical({"ctx": "waypost/profile/v1", "address": <canonical
    address text>, "namecoin": {key: canonical JSON text}, "waypost": <Waypost part as
    in JSON, without "sig">})``. The address binds the record to one name so it cannot
    be replayed onto another.
    """
    message: dict[str, object] = {"ctx": "waypost/profile/v1", "address": address}
    message.update(_cbor_record(profile, with_sig=False))
    return _encode_canonical(message)


def redirect_message(from_address: str, to_address: str, reason: RedirectReason) -> bytes:
    """The bytes ``waypost.redirect.sig`` signs (by the current key of ``from_address``).

    Layout: ``encode_canonical({"ctx": "waypost/redirect/v1", "from": ..., "to": ...,
    "reason": ...})``.
    """
    return _encode_canonical(
        {"ctx": "waypost/redirect/v1", "from": from_address, "to": to_address, "reason": reason.value}
    )


def namecoin_text(profile: Profile, field: str) -> str | None:
    """Read a Namecoin ``id/`` field leniently as one string.

    Namecoin's Identity spec lets ``email`` (and similar fields) be a string, an array
    (first item used) or an object with labels (``"default"`` used). Anything else
    gives ``None``.
    """
    for key, text in profile.namecoin:
        if key != field:
            continue
        value = json.loads(text)
        if isinstance(value, list) and value:
            value = value[0]
        elif isinstance(value, dict):
            value = value.get("default")
        return value if isinstance(value, str) else None
    return None


# ---------------------------------------------------------------------------
# contact and downgrade rules


def _allowed(p: Profile) -> set[Protocol]:
    usable = {e.protocol for e in p.endpoints}
    if p.policy is not None and p.policy.mode is PolicyMode.ENFORCE:
        usable &= set(p.policy.require)
    return usable


def contact_intersection(a: Profile, b: Profile) -> Protocol | None:
    """The best protocol both profiles list that satisfies both policies.

    A profile whose policy is ``enforce`` may only be contacted over a protocol in its
    ``require`` list; ``testing`` policies do not restrict. Ties are broken by
    ``PROTOCOL_PREFERENCE``. Returns ``None`` when nothing is left.
    """
    common = _allowed(a) & _allowed(b)
    for p in PROTOCOL_PREFERENCE:
        if p in common:
            return p
    return None


def validate_no_downgrade(pinned: Profile, new: Profile) -> None:
    """Refuse a new profile that weakens a pinned ``enforce`` policy (RFC 8461 spirit).

    A downgrade is: the policy removed, ``enforce`` → ``testing``, a protocol dropped
    from ``require``, or the endpoint of a required protocol removed.

    Raises:
        ValidationError: ``POLICY_DOWNGRADE`` with ``protocol`` or ``mode`` fields.
    """
    old = pinned.policy
    if old is None or old.mode is not PolicyMode.ENFORCE:
        return
    pol = new.policy
    if pol is None:
        raise ValidationError(ErrorCode.POLICY_DOWNGRADE, "the pinned enforce policy was removed", mode="none")
    if pol.mode is not PolicyMode.ENFORCE:
        raise ValidationError(ErrorCode.POLICY_DOWNGRADE, "policy weakened from enforce to testing", mode=pol.mode.value)
    for proto in old.require:
        if proto not in pol.require:
            raise ValidationError(
                ErrorCode.POLICY_DOWNGRADE, f"{proto.value} dropped from the required protocols", protocol=proto.value
            )
        if pinned.endpoint(proto) is not None and new.endpoint(proto) is None:
            raise ValidationError(
                ErrorCode.POLICY_DOWNGRADE, f"required {proto.value} endpoint removed", protocol=proto.value
            )
