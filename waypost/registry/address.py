"""Address grammar: ``local@domain`` text to a normalised ``Address`` and back.

Core layer: pure (no I/O, DNS or network); lookalikes are refused or flagged, never resolved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

import idna

from waypost.registry.confusables import is_highly_restrictive, looks_ascii, script_of, scripts_of, skeleton
from waypost.registry.errors import ErrorCode, ParseError, ValidationError
from waypost.registry.model import PublicKey

__all__ = [
    "MAX_LOCAL_BYTES",
    "MAX_DOMAIN_BYTES",
    "MAX_LABEL_BYTES",
    "MAX_NAMECOIN_NAME_BYTES",
    "FLAG_LOOKALIKE",
    "AddressKind",
    "Address",
    "parse_address",
    "format_address",
    "display_address",
    "namecoin_name",
    "webfinger_resource",
    "address_key",
    "address_skeleton",
    "validate_not_lookalike",
    "address_public_key",
    "encode_key_domain",
    "decode_key_domain",
    "encode_onion_domain",
    "decode_onion_domain",
]

MAX_LOCAL_BYTES = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN_BYTES = 253  # RFC 1035 §2.3.4 (255 octets on the wire, 253 as text)
MAX_LABEL_BYTES = 63  # RFC 1035 §2.3.4
MAX_NAMECOIN_NAME_BYTES = 255  # namecoin-core src/names/common.h: MAX_NAME_LENGTH
_MAX_INPUT_BYTES = MAX_LOCAL_BYTES + 1 + MAX_DOMAIN_BYTES

FLAG_LOOKALIKE = "lookalike"

# Self-certifying .key domains: base32(VERSION || key32 || checksum2), 56 characters.
KEY_DOMAIN_VERSION = 0x01
_KEY_CHECKSUM_PREFIX = b"waypost .key checksum"
# Tor rend-spec-v3 §6 "Encoding onion addresses": base32(PUBKEY || CHECKSUM || VERSION),
# CHECKSUM = SHA3-256(".onion checksum" || PUBKEY || VERSION)[:2], VERSION = 3.
_ONION_VERSION = 0x03
_ONION_CHECKSUM_PREFIX = b".onion checksum"
_B32_LABEL_RE = re.compile(r"[a-z2-7]{56}")

# Namecoin Identity spec (wiki "Identity"): id/ names are lowercase a-z, 0-9 and single
# inner dashes: ^id/[a-z0-9]+([-]?[a-z0-9])*$. d/ labels follow the same LDH rule.
_NAMECOIN_ID_LOCAL_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# NIP-05 local parts (a-z0-9-_.), used for entries inside a d/ domain's records.
_NIP05_LOCAL_RE = re.compile(r"[a-z0-9._-]+")
_ASCII_LOCAL_PUNCT = frozenset("._+-")
_ASCII_DOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


class AddressKind(StrEnum):
    """How an address resolves (DESIGN.md §3 "Address -> source")."""

    NAMECOIN_ID = "namecoin-id"  # local@id.bit -> Namecoin name id/local
    NAMECOIN_D = "namecoin-d"  # local@name.bit -> d/name, entry "local" in its records
    DNS = "dns"  # local@example.com -> WebFinger acct:local@example.com (RFC 7033)
    KEY = "key"  # local@<base32 key>.key -> private chain of that key
    ONION = "onion"  # local@<v3 onion>.onion -> the service's own signed profile


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """A normalised address. ``domain`` is lowercase A-labels (ASCII); ``local`` is NFC.

    ``flags`` are warnings a client must show (``"lookalike"``); they depend only on
    the normalised text, so ``parse_address(format_address(a)) == a``.
    """

    local: str
    domain: str
    kind: AddressKind
    flags: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Address:
        """Same as ``parse_address(text)``."""
        return parse_address(text)

    def __str__(self) -> str:
        return format_address(self)


def _err(code: ErrorCode, message: str, **fields: object) -> ParseError:
    return ParseError(code, message, **fields)


def _check_chars(text: str) -> None:
    for pos, ch in enumerate(text):
        cat = unicodedata.category(ch)
        if ch.isspace() or cat[0] in "CZ":
            raise _err(
                ErrorCode.ADDRESS_BAD_SYNTAX,
                f"control, format or space character U+{ord(ch):04X} at position {pos}",
                position=pos,
                char=ch,
            )


def _check_scripts(text: str, where: str, offset: int) -> None:
    # UTS #39 §5.2: refuse anything below "Highly Restrictive"; report the first
    # character at which the prefix stops being highly restrictive.
    if text.isascii() or is_highly_restrictive(text):
        return
    for i, ch in enumerate(text):
        if not is_highly_restrictive(text[: i + 1]):
            raise _err(
                ErrorCode.ADDRESS_MIXED_SCRIPT,
                f"{where} mixes scripts {sorted(scripts_of(text))} ({script_of(ch)} {ch!r} at position "
                f"{offset + i}); refused as a possible lookalike",
                position=offset + i,
                char=ch,
            )


def _parse_generic_local(raw: str) -> str:
    """Local part for DNS, .key and .onion addresses: NFC, lowercase, PRECIS-like letters."""
    local = unicodedata.normalize("NFC", unicodedata.normalize("NFC", raw).lower())
    if unicodedata.normalize("NFKC", local) != local:
        pos = next(
            (i for i, c in enumerate(local) if unicodedata.normalize("NFKC", c) != c), 0
        )
        raise _err(
            ErrorCode.ADDRESS_BAD_LOCAL,
            f"local part has a compatibility character U+{ord(local[pos]):04X} (write its plain form)",
            position=pos,
            char=local[pos],
        )
    for pos, ch in enumerate(local):
        if ch.isascii():
            ok = ch.isalnum() or ch in _ASCII_LOCAL_PUNCT
        else:
            cat = unicodedata.category(ch)
            ok = cat[0] in "LM" or cat == "Nd"
        if not ok:
            raise _err(
                ErrorCode.ADDRESS_BAD_LOCAL,
                f"character {ch!r} not allowed in a local part (letters, digits and . _ + - only)",
                position=pos,
                char=ch,
            )
    if unicodedata.category(local[0])[0] == "M":
        raise _err(ErrorCode.ADDRESS_BAD_LOCAL, "local part starts with a combining mark", position=0, char=local[0])
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _err(ErrorCode.ADDRESS_BAD_LOCAL, "dots only between characters, never doubled", position=local.find("."))
    return local


def _parse_namecoin_local(raw: str, kind: AddressKind) -> str:
    rule = _NAMECOIN_ID_LOCAL_RE if kind is AddressKind.NAMECOIN_ID else _NIP05_LOCAL_RE
    if rule.fullmatch(raw):
        return raw
    if rule.fullmatch(raw.lower()):
        # Namecoin names are case-sensitive bytes: id/Alice is another (non-standard) name.
        raise _err(
            ErrorCode.ADDRESS_BAD_LOCAL,
            f"Namecoin names are lowercase: write {raw.lower()!r}, not {raw!r}",
            position=next(i for i, c in enumerate(raw) if c.isupper()),
        )
    bad = next((i for i, c in enumerate(raw) if not rule.fullmatch(c) and c != "-"), None)
    what = "a-z, 0-9 and single inner dashes" if kind is AddressKind.NAMECOIN_ID else "a-z, 0-9, '.', '_' and '-'"
    raise _err(
        ErrorCode.ADDRESS_BAD_LOCAL,
        f"this .bit local part allows {what}",
        position=bad if bad is not None else 0,
        char=raw[bad] if bad is not None else "",
    )


def _parse_domain(raw: str, offset: int) -> tuple[str, list[str]]:
    """Return (A-label domain, U-labels) after UTS #46 processing."""
    if raw.endswith(".") or raw.startswith(".") or ".." in raw:
        raise _err(ErrorCode.ADDRESS_BAD_LABEL, "empty domain label", position=offset + max(raw.find(".."), 0))
    lowered = raw.lower()
    if _ASCII_DOMAIN_RE.fullmatch(lowered) and "--" not in lowered:
        # Fast path: for lowercase LDH labels without "--" (so no "xn--" and no hyphens in
        # positions 3-4, RFC 5891 §4.2.3.1) UTS #46 mapping is the identity.
        labels = lowered.split(".")
        if len(lowered) <= MAX_DOMAIN_BYTES and all(len(x) <= MAX_LABEL_BYTES for x in labels):
            if len(labels) < 2:
                raise _err(ErrorCode.ADDRESS_BAD_LABEL, "domain needs at least two labels (no bare host names)")
            if labels[-1].isdigit():
                raise _err(ErrorCode.ADDRESS_BAD_LABEL, "numeric top-level label: IP addresses are not addresses")
            return lowered, labels
    try:
        alabel = idna.encode(raw, uts46=True, std3_rules=True, transitional=False).decode("ascii")
        ulabels = [idna.decode(label) for label in alabel.split(".")]
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        if "domain too long" in str(exc).lower():
            raise _err(ErrorCode.ADDRESS_TOO_LONG, f"domain is longer than {MAX_DOMAIN_BYTES} bytes") from exc
        raise _err(ErrorCode.ADDRESS_BAD_LABEL, f"domain is not a valid IDNA 2008 name: {exc}") from exc
    alabel = alabel.lower()
    labels = alabel.split(".")
    if len(alabel) > MAX_DOMAIN_BYTES:
        raise _err(ErrorCode.ADDRESS_TOO_LONG, f"domain is {len(alabel)} bytes; limit {MAX_DOMAIN_BYTES}")
    for label in labels:
        if not label or len(label) > MAX_LABEL_BYTES:
            raise _err(ErrorCode.ADDRESS_BAD_LABEL, f"domain label must be 1..{MAX_LABEL_BYTES} bytes", label=label)
    if len(labels) < 2:
        raise _err(ErrorCode.ADDRESS_BAD_LABEL, "domain needs at least two labels (no bare host names)")
    if labels[-1].isdigit():
        raise _err(ErrorCode.ADDRESS_BAD_LABEL, "numeric top-level label: IP addresses are not addresses")
    return alabel, ulabels


def _ascii_domain(raw: str) -> str:
    if not raw.isascii():
        raise _err(ErrorCode.ADDRESS_BAD_LABEL, ".key and .onion domains are ASCII base32")
    return raw.lower()


def _classify_domain(raw_domain: str, offset: int) -> tuple[AddressKind, str, list[str]]:
    """Normalise the domain and pick the kind: (kind, A-label domain, U-labels to script-check)."""
    tld = raw_domain.rsplit(".", 1)[-1].lower()
    ulabels: list[str] = []
    if tld in ("key", "onion"):
        domain = _ascii_domain(raw_domain)
        labels = domain.split(".")
        if len(labels) != 2:
            raise _err(ErrorCode.ADDRESS_BAD_LABEL, f".{tld} addresses take exactly one label before .{tld}")
        if tld == "key":
            decode_key_domain(labels[0])
            kind = AddressKind.KEY
        else:
            decode_onion_domain(labels[0])
            kind = AddressKind.ONION
    else:
        domain, ulabels = _parse_domain(raw_domain, offset)
        labels = domain.split(".")
        if labels[-1] == "bit":
            if len(labels) != 2:
                raise _err(ErrorCode.ADDRESS_BAD_LABEL, ".bit addresses use a second-level name only (name.bit)")
            if not _NAMECOIN_ID_LOCAL_RE.fullmatch(labels[0]) and not labels[0].startswith("xn--"):
                raise _err(ErrorCode.ADDRESS_BAD_LABEL, "d/ names are lowercase a-z, 0-9 and inner dashes")
            kind = AddressKind.NAMECOIN_ID if labels[0] == "id" else AddressKind.NAMECOIN_D
        else:
            kind = AddressKind.DNS

    return kind, domain, ulabels


def parse_address(text: str) -> Address:
    """Parse and normalise an address.

    Args:
        text: ``local@domain`` as typed.

    Returns:
        The normalised ``Address`` (``flags`` holds ``"lookalike"`` for whole-script
        lookalikes of ASCII text).

    Raises:
        ParseError: ``ADDRESS_EMPTY``, ``ADDRESS_TOO_LONG``, ``ADDRESS_BAD_SYNTAX``
            (missing or extra ``@``, control/space characters), ``ADDRESS_BAD_LOCAL``,
            ``ADDRESS_BAD_LABEL``, ``ADDRESS_MIXED_SCRIPT``, ``ADDRESS_BAD_KEY``,
            ``ADDRESS_BAD_CHECKSUM``, ``ADDRESS_BAD_ONION``; fields ``position``/``char``
            point at the offending character where there is one.
    """
    if not text:
        raise _err(ErrorCode.ADDRESS_EMPTY, "address is empty")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > _MAX_INPUT_BYTES:
        raise _err(ErrorCode.ADDRESS_TOO_LONG, f"address is {size} bytes; limit {_MAX_INPUT_BYTES}", size=size)
    _check_chars(text)
    at = text.find("@")
    if at < 0:
        raise _err(ErrorCode.ADDRESS_BAD_SYNTAX, "address needs the form local@domain")
    second = text.find("@", at + 1)
    if second >= 0:
        raise _err(
            ErrorCode.ADDRESS_BAD_LOCAL, "'@' may appear only once (quoted local parts are not supported)",
            position=second, char="@",
        )
    raw_local, raw_domain = text[:at], text[at + 1 :]
    if not raw_local:
        raise _err(ErrorCode.ADDRESS_BAD_LOCAL, "local part is empty", position=0)
    if not raw_domain:
        raise _err(ErrorCode.ADDRESS_BAD_SYNTAX, "domain is empty", position=at + 1)

    try:
        kind, domain, ulabels = _classify_domain(raw_domain, at + 1)
    except ParseError as exc:
        exc.fields.setdefault("position", at + 1)  # errors without a finer place point at the domain
        raise

    if kind in (AddressKind.NAMECOIN_ID, AddressKind.NAMECOIN_D):
        local = _parse_namecoin_local(raw_local, kind)
    else:
        local = _parse_generic_local(raw_local)
    local_bytes = len(local.encode("utf-8"))
    if local_bytes > MAX_LOCAL_BYTES:
        raise _err(ErrorCode.ADDRESS_TOO_LONG, f"local part is {local_bytes} bytes; limit {MAX_LOCAL_BYTES}")
    if kind is AddressKind.NAMECOIN_ID and local_bytes + 3 > MAX_NAMECOIN_NAME_BYTES:
        raise _err(ErrorCode.ADDRESS_TOO_LONG, "Namecoin names are at most 255 bytes")

    _check_scripts(local, "local part", 0)
    for label in ulabels:
        _check_scripts(label, f"domain label {label!r}", at + 1)

    flags: tuple[str, ...] = ()
    if looks_ascii(local) or any(looks_ascii(label) for label in ulabels):
        flags = (FLAG_LOOKALIKE,)
    return Address(local=local, domain=domain, kind=kind, flags=flags)


def format_address(addr: Address) -> str:
    """Canonical text ``local@domain`` (A-label domain); ``parse_address`` round-trips it."""
    return f"{addr.local}@{addr.domain}"


def display_address(addr: Address) -> str:
    """Human form with U-label domains (show it next to ``flags``, never instead of them)."""
    try:
        return f"{addr.local}@{idna.decode(addr.domain)}"
    except (idna.IDNAError, UnicodeError) as exc:
        raise _err(ErrorCode.ADDRESS_BAD_LABEL, f"not a normalised address: {exc}") from exc


def namecoin_name(addr: Address) -> bytes | None:
    """The Namecoin name to look up: ``b"id/<local>"`` or ``b"d/<label>"``; else ``None``."""
    if addr.kind is AddressKind.NAMECOIN_ID:
        return b"id/" + addr.local.encode("utf-8")
    if addr.kind is AddressKind.NAMECOIN_D:
        return b"d/" + addr.domain.split(".")[0].encode("ascii")
    return None


def webfinger_resource(addr: Address) -> str:
    """RFC 7033 / RFC 7565 ``acct:`` URI; non-ASCII local parts are percent-encoded UTF-8."""
    return "acct:" + quote(addr.local, safe="-._~!$&'()*+,;=") + "@" + addr.domain


def address_key(addr: Address) -> bytes:
    """SHA-256 of the canonical text: the key of the log's state map (DESIGN.md §3)."""
    return hashlib.sha256(format_address(addr).encode("utf-8")).digest()


def address_skeleton(addr: Address) -> str:
    """UTS #39 skeleton of the display form; a registry refuses a new address whose
    skeleton equals an existing one's."""
    return skeleton(display_address(addr))


def validate_not_lookalike(addr: Address, taken_skeletons: Container[str] = ()) -> None:
    """Refuse a flagged address, or one whose skeleton collides with a taken one.

    For registries and strict clients: ``parse_address`` only flags whole-script
    lookalikes; this turns the flag (and skeleton collisions, UTS #39 §4) into a refusal.

    Args:
        addr: a parsed address.
        taken_skeletons: ``address_skeleton`` values of addresses already registered
            (a set, or any container with a fast ``in``), excluding ``addr`` itself.

    Raises:
        ValidationError: ``ADDRESS_LOOKALIKE`` with ``skeleton``.
    """
    sk = address_skeleton(addr)
    if FLAG_LOOKALIKE in addr.flags:
        raise ValidationError(
            ErrorCode.ADDRESS_LOOKALIKE,
            f"{display_address(addr)!r} is written in lookalike characters of {sk!r}",
            skeleton=sk,
        )
    if sk in taken_skeletons:
        raise ValidationError(
            ErrorCode.ADDRESS_LOOKALIKE,
            f"{display_address(addr)!r} looks like an address that is already taken",
            skeleton=sk,
        )


def address_public_key(addr: Address) -> PublicKey | None:
    """The ed25519 key embedded in a ``.key`` or ``.onion`` domain, else ``None``."""
    label = addr.domain.split(".")[0]
    if addr.kind is AddressKind.KEY:
        return decode_key_domain(label)
    if addr.kind is AddressKind.ONION:
        return decode_onion_domain(label)
    return None


def _b32decode(label: str, code: ErrorCode, what: str) -> bytes:
    if not _B32_LABEL_RE.fullmatch(label):
        raise _err(code, f"{what} label must be 56 characters of base32 (a-z, 2-7)", label=label)
    try:
        return base64.b32decode(label.upper())
    except binascii.Error as exc:
        raise _err(code, f"{what} label is not base32: {exc}") from exc


def _key_checksum(version: int, pubkey: bytes) -> bytes:
    return hashlib.sha256(_KEY_CHECKSUM_PREFIX + bytes([version]) + pubkey).digest()[:2]


def encode_key_domain(pubkey: bytes) -> str:
    """The self-certifying domain ``<label>.key`` of an ed25519 public key.

    Label = RFC 4648 base32, lowercase, no padding, of ``0x01 || key (32) ||
    SHA-256("waypost .key checksum" || 0x01 || key)[:2]`` (35 bytes, 56 characters).

    Raises:
        ParseError: ``ADDRESS_BAD_KEY`` unless ``pubkey`` is 32 bytes.
    """
    if len(pubkey) != 32:
        raise _err(ErrorCode.ADDRESS_BAD_KEY, "ed25519 public keys are 32 bytes", got=len(pubkey))
    raw = bytes([KEY_DOMAIN_VERSION]) + pubkey + _key_checksum(KEY_DOMAIN_VERSION, pubkey)
    return base64.b32encode(raw).decode("ascii").lower() + ".key"


def decode_key_domain(label: str) -> PublicKey:
    """Decode a ``.key`` label (with or without the ``.key`` suffix) to its public key.

    Raises:
        ParseError: ``ADDRESS_BAD_KEY`` (length, alphabet, version),
            ``ADDRESS_BAD_CHECKSUM`` (a typo).
    """
    label = label.removesuffix(".key")
    raw = _b32decode(label, ErrorCode.ADDRESS_BAD_KEY, ".key")
    version, pubkey, checksum = raw[0], raw[1:33], raw[33:]
    if version != KEY_DOMAIN_VERSION:
        raise _err(ErrorCode.ADDRESS_BAD_KEY, f"unknown .key version {version}", version=version)
    if checksum != _key_checksum(version, pubkey):
        raise _err(ErrorCode.ADDRESS_BAD_CHECKSUM, ".key label checksum mismatch (typo?)", label=label)
    return PublicKey(pubkey)


def _onion_checksum(pubkey: bytes) -> bytes:
    return hashlib.sha3_256(_ONION_CHECKSUM_PREFIX + pubkey + bytes([_ONION_VERSION])).digest()[:2]


def encode_onion_domain(pubkey: bytes) -> str:
    """The v3 onion domain of an ed25519 key (Tor rend-spec-v3 §6).

    Raises:
        ParseError: ``ADDRESS_BAD_ONION`` unless ``pubkey`` is 32 bytes.
    """
    if len(pubkey) != 32:
        raise _err(ErrorCode.ADDRESS_BAD_ONION, "ed25519 public keys are 32 bytes", got=len(pubkey))
    raw = pubkey + _onion_checksum(pubkey) + bytes([_ONION_VERSION])
    return base64.b32encode(raw).decode("ascii").lower() + ".onion"


def decode_onion_domain(label: str) -> PublicKey:
    """Check a v3 onion label (version 3, SHA3-256 checksum) and return its ed25519 key.

    Raises:
        ParseError: ``ADDRESS_BAD_ONION`` (length, alphabet, version: v2 onions are
            refused), ``ADDRESS_BAD_CHECKSUM``.
    """
    label = label.removesuffix(".onion")
    raw = _b32decode(label, ErrorCode.ADDRESS_BAD_ONION, ".onion")
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34]
    if version != _ONION_VERSION:
        raise _err(ErrorCode.ADDRESS_BAD_ONION, f"onion version {version}; only v3 is supported", version=version)
    if checksum != _onion_checksum(pubkey):
        raise _err(ErrorCode.ADDRESS_BAD_CHECKSUM, ".onion checksum mismatch (typo?)", label=label)
    return PublicKey(pubkey)
