"""Linked-account proofs (Keybase-like): statements signed by the profile key, and pure verifiers (core layer).

The fetch (DNS TXT, HTTPS) is I/O done by a shell; these functions only read what was fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from waypost.registry.chain import decode_canonical, encode_canonical
from waypost.registry.errors import ErrorCode, NotFoundError, ParseError, VerificationError, WaypostError

__all__ = [
    "PROOF_DOMAIN",
    "PROOF_PREFIX",
    "PROOF_VERSION",
    "WELL_KNOWN_PATH",
    "MAX_PROOF_CHARS",
    "MAX_WELL_KNOWN_BYTES",
    "SERVICE_DNS",
    "SERVICE_WEB",
    "LinkedAccountProof",
    "make_proof",
    "encode_proof",
    "parse_proof",
    "verify_proof",
    "verify_published",
    "verify_dns_txt",
    "verify_well_known",
]

PROOF_VERSION = 1
PROOF_DOMAIN = b"waypost-proof-v1\x00"  # domain separation for proof signatures
PROOF_PREFIX = "waypost-proof="  # DNS TXT record / well-known line prefix
WELL_KNOWN_PATH = "/.well-known/waypost-proof"  # RFC 8615 well-known URI suffix
MAX_PROOF_CHARS = 1_024  # a proof is ~200 characters; refuse anything absurd
MAX_WELL_KNOWN_BYTES = 64 * 1024
SERVICE_DNS = "dns"
SERVICE_WEB = "web"

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
_FIELDS = frozenset({"v", "address", "service", "handle", "time_s", "sig"})
_SIG_BYTES = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkedAccountProof:
    """``{v: 1, address, service, handle, time_s}`` and its ed25519 signature by the profile key."""

    address: str
    service: str
    handle: str
    time_s: int
    sig: bytes

    def statement(self) -> dict[str, object]:
        """The signed statement (without ``sig``)."""
        return {
            "v": PROOF_VERSION,
            "address": self.address,
            "service": self.service,
            "handle": self.handle,
            "time_s": self.time_s,
        }

    def signed_bytes(self) -> bytes:
        """``PROOF_DOMAIN || encode_canonical(statement)``."""
        return PROOF_DOMAIN + encode_canonical(self.statement())  # type: ignore[arg-type]

    def encode(self) -> str:
        """Same as ``encode_proof``."""
        return encode_proof(self)


def make_proof(
    signing_key: nacl.signing.SigningKey, *, address: str, service: str, handle: str, time_s: int
) -> LinkedAccountProof:
    """Sign a statement that ``address`` controls ``handle`` on ``service``.

    Args:
        signing_key: the profile key (passed in; no randomness here).
        address: canonical Waypost address text.
        service: ``dns``, ``web`` or another service name (``github``...).
        handle: the account on that service (domain name for ``dns``/``web``).
        time_s: creation time, seconds since the epoch (passed in by the caller).
    """
    unsigned = LinkedAccountProof(address=address, service=service, handle=handle, time_s=time_s, sig=b"")
    sig = bytes(signing_key.sign(unsigned.signed_bytes()).signature)
    return LinkedAccountProof(address=address, service=service, handle=handle, time_s=time_s, sig=sig)


def encode_proof(proof: LinkedAccountProof) -> str:
    """base64url (RFC 4648 §5, no padding) of canonical CBOR ``statement + {sig}``."""
    obj = proof.statement()
    obj["sig"] = proof.sig
    raw = encode_canonical(obj)  # type: ignore[arg-type]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bad(msg: str, **fields: object) -> ParseError:
    return ParseError(ErrorCode.PROOF_BAD, msg, **fields)


def parse_proof(text: str) -> LinkedAccountProof:
    """Parse the compact form (with or without the ``waypost-proof=`` prefix).

    Raises:
        ParseError: ``proof.bad`` (not base64url, wrong fields or types, too long);
            ``cbor.bad``/``cbor.non-canonical`` for bad CBOR.
    """
    text = text.strip()
    if text.startswith(PROOF_PREFIX):
        text = text[len(PROOF_PREFIX) :]
    if len(text) > MAX_PROOF_CHARS:
        raise _bad("proof too long", size=len(text), limit=MAX_PROOF_CHARS)
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise _bad("proof is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _bad("proof is not base64url") from exc
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise _bad("non-canonical base64url (trailing bits)")
    obj = decode_canonical(raw)
    if not isinstance(obj, dict) or set(obj) != _FIELDS:
        raise _bad("proof must be a map with v, address, service, handle, time_s, sig")
    v, address, service, handle, time_s, sig = (obj[k] for k in ("v", "address", "service", "handle", "time_s", "sig"))
    if v != PROOF_VERSION or isinstance(v, bool):
        raise _bad("unsupported proof version", got=v)
    if not all(isinstance(x, str) and x for x in (address, service, handle)):
        raise _bad("address, service and handle must be non-empty text")
    if not isinstance(time_s, int) or isinstance(time_s, bool) or time_s < 0:
        raise _bad("time_s must be a non-negative integer")
    if not isinstance(sig, bytes) or len(sig) != _SIG_BYTES:
        raise _bad("sig must be 64 bytes")
    assert isinstance(address, str) and isinstance(service, str) and isinstance(handle, str)  # checked above
    return LinkedAccountProof(address=address, service=service, handle=handle, time_s=time_s, sig=sig)


def verify_proof(proof: LinkedAccountProof, expected_key: bytes) -> None:
    """Check the proof's signature under the profile key.

    Raises:
        VerificationError: ``proof.bad-signature``.
    """
    try:
        nacl.signing.VerifyKey(bytes(expected_key)).verify(proof.signed_bytes(), proof.sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise VerificationError(ErrorCode.PROOF_BAD_SIGNATURE, "proof not signed by the profile key") from exc


def verify_published(
    texts: Sequence[str], *, address: str, service: str, handle: str, key: bytes
) -> LinkedAccountProof:
    """Find, among fetched texts, a proof for ``(address, service, handle)`` signed by ``key``.

    Texts that are not ``waypost-proof=`` lines are ignored (a TXT RRset or a page holds
    other things too). The first matching valid proof wins.

    Returns:
        The verified proof.

    Raises:
        NotFoundError: ``proof.not-found`` when no text is a proof.
        VerificationError: ``proof.bad-signature`` when a matching proof is not signed
            by ``key``; ``proof.mismatch`` when proofs exist but none names this
            address, service and handle.
        ParseError: ``proof.bad`` when the only candidates are malformed.
    """
    candidates = [t.strip() for t in texts if t.strip().startswith(PROOF_PREFIX)]
    if not candidates:
        raise NotFoundError(ErrorCode.PROOF_NOT_FOUND, "no waypost-proof found", service=service, handle=handle)
    worst: WaypostError | None = None
    for text in candidates:
        try:
            proof = parse_proof(text)
            if (proof.address, proof.service, proof.handle) != (address, service, handle):
                raise VerificationError(
                    ErrorCode.PROOF_MISMATCH,
                    "proof is for another address or account",
                    address=proof.address,
                    service=proof.service,
                    handle=proof.handle,
                )
            verify_proof(proof, key)
        except (ParseError, VerificationError) as exc:
            # report the most specific failure: bad signature > mismatch > malformed
            if worst is None or _rank(exc.code) > _rank(worst.code):
                worst = exc
            continue
        return proof
    assert worst is not None  # internal: at least one candidate failed
    raise worst


def _rank(code: ErrorCode) -> int:
    return {ErrorCode.PROOF_BAD_SIGNATURE: 3, ErrorCode.PROOF_MISMATCH: 2}.get(code, 1)


def verify_dns_txt(records: Sequence[str], *, address: str, domain: str, key: bytes) -> LinkedAccountProof:
    """Verify a DNS proof: a TXT record ``waypost-proof=<b64>`` at ``domain``.

    Args:
        records: the TXT records of ``domain``, each with its character-strings joined
            (RFC 1035 §3.3.14 splits long records into 255-byte strings).
        address: the Waypost address the proof must name.
        domain: the domain (the proof's ``handle``; ``service`` is ``dns``).
        key: the address's current profile key.

    Raises:
        see ``verify_published``.
    """
    return verify_published(records, address=address, service=SERVICE_DNS, handle=domain.lower().rstrip("."), key=key)


def verify_well_known(body: bytes, *, address: str, host: str, key: bytes) -> LinkedAccountProof:
    """Verify a web proof fetched from ``https://<host>/.well-known/waypost-proof``.

    The body is UTF-8 text, one ``waypost-proof=<b64>`` line per address (several
    addresses may share a host); ``service`` is ``web`` and ``handle`` is the host.

    Raises:
        ParseError: ``proof.bad`` for a body over 64 KiB or not UTF-8;
            otherwise see ``verify_published``.
    """
    if len(body) > MAX_WELL_KNOWN_BYTES:
        raise _bad("well-known body too large", size=len(body), limit=MAX_WELL_KNOWN_BYTES)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad("well-known body is not UTF-8") from exc
    return verify_published(text.splitlines(), address=address, service=SERVICE_WEB, handle=host.lower(), key=key)
