"""Standard Webhooks signing and verification (core layer): HMAC-SHA256 over ``id.timestamp.body``.

Pure: the caller passes the time and the random bytes of new secrets. Spec:
standard-webhooks/standard-webhooks ``spec/standard-webhooks.md`` (v1 symmetric signatures).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from waypost.registry.errors import ErrorCode, ParseError, VerificationError

__all__ = [
    "SECRET_PREFIX",
    "DEFAULT_TOLERANCE_S",
    "encode_secret",
    "decode_secret",
    "sign_webhook",
    "webhook_headers",
    "verify_webhook",
    "ReplayCache",
]

SECRET_PREFIX = "whsec_"
# Standard Webhooks: "secrets ... between 24 bytes and 64 bytes"; we generate 32.
_SECRET_MIN_BYTES = 24
_SECRET_MAX_BYTES = 64
# Standard Webhooks: verify the timestamp "within some allowable tolerance", suggested 5 minutes.
DEFAULT_TOLERANCE_S = 300
_MAX_SIGNATURES = 16  # a header lists one signature per active secret; bound the work


def encode_secret(key: bytes) -> str:
    """The ``whsec_<base64>`` text of a signing key (from 32 random bytes, say).

    Raises:
        ParseError: ``webhook.bad-secret`` when the key is shorter than 24 or longer than 64 bytes.
    """
    if not _SECRET_MIN_BYTES <= len(key) <= _SECRET_MAX_BYTES:
        raise ParseError(ErrorCode.WEBHOOK_BAD_SECRET, f"a secret has 24..64 bytes, got {len(key)}")
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a secret: the base64 part after ``whsec_`` (the prefix is optional).

    Raises:
        ParseError: ``webhook.bad-secret``.
    """
    text = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ParseError(ErrorCode.WEBHOOK_BAD_SECRET, "the secret is not whsec_<base64>") from exc
    if not key:
        raise ParseError(ErrorCode.WEBHOOK_BAD_SECRET, "the secret is empty")
    return key


def _mac(key: bytes, msg_id: str, timestamp_s: int, body: bytes) -> bytes:
    # Standard Webhooks: signed content is "{msg_id}.{timestamp}.{payload}".
    content = msg_id.encode("utf-8") + b"." + str(timestamp_s).encode("ascii") + b"." + body
    return hmac.new(key, content, hashlib.sha256).digest()


def sign_webhook(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """The ``webhook-signature`` value ``v1,<base64 HMAC-SHA256>``.

    Args:
        secret: ``whsec_...``.
        msg_id: the ``webhook-id`` (the event id; the same on every redelivery).
        timestamp_s: the ``webhook-timestamp`` (integer seconds, the time of this attempt).
        body: the exact request body.

    Raises:
        ParseError: ``webhook.bad-secret``.
    """
    return "v1," + base64.b64encode(_mac(decode_secret(secret), msg_id, timestamp_s, body)).decode("ascii")


def webhook_headers(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (plus the JSON content type) for one attempt."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": sign_webhook(secret, msg_id, timestamp_s, body),
        "content-type": "application/json",
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise VerificationError(ErrorCode.WEBHOOK_BAD_SIGNATURE, f"missing header {name}", header=name)


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now_s: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> str:
    """Check a received webhook (for receivers; header names are case-insensitive).

    The timestamp is checked first (a replay outside the window fails even with a valid
    signature), then each ``v1,`` signature in the space-separated list is compared in
    constant time.

    Args:
        secret: the ``whsec_...`` secret returned when subscribing.
        headers: the request headers.
        body: the raw request body, exactly as received.
        now_s: the receiver's clock (seconds).
        tolerance_s: the accepted distance between ``webhook-timestamp`` and ``now_s``.

    Returns:
        The ``webhook-id`` (the event id; use it to drop duplicates, see ``ReplayCache``).

    Raises:
        VerificationError: ``webhook.bad-signature`` for a missing or malformed header or a
            signature that does not match; ``webhook.replay`` when the timestamp is outside
            the window.
        ParseError: ``webhook.bad-secret``.
    """
    key = decode_secret(secret)
    msg_id = _header(headers, "webhook-id")
    ts_text = _header(headers, "webhook-timestamp").strip()
    sig_text = _header(headers, "webhook-signature")
    if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
        raise VerificationError(ErrorCode.WEBHOOK_BAD_SIGNATURE, "webhook-timestamp is not integer seconds")
    timestamp_s = int(ts_text)
    if abs(now_s - timestamp_s) > tolerance_s:
        raise VerificationError(
            ErrorCode.WEBHOOK_REPLAY,
            f"webhook-timestamp is {now_s - timestamp_s} s from now; tolerance {tolerance_s} s",
            timestamp_s=timestamp_s,
            now_s=now_s,
        )
    expected = _mac(key, msg_id, timestamp_s, body)
    for item in sig_text.split()[:_MAX_SIGNATURES]:
        version, _, value = item.partition(",")
        if version != "v1":
            continue  # other schemes (v1a asymmetric) are not ours
        try:
            got = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            continue
        if hmac.compare_digest(got, expected):
            return msg_id
    raise VerificationError(ErrorCode.WEBHOOK_BAD_SIGNATURE, "no webhook-signature matches the body and headers")


@dataclass(slots=True)
class ReplayCache:
    """Receiver-side memory of seen ``webhook-id``s for the replay window.

    A signed request can be captured and sent again within the tolerance; remembering
    ids for ``2 * tolerance_s`` turns that into a detectable duplicate. Redeliveries by
    Waypost also repeat the id, so a duplicate is safe to acknowledge and skip.
    """

    tolerance_s: int = DEFAULT_TOLERANCE_S
    _seen: dict[str, int] = field(default_factory=dict)

    def check_and_add(self, msg_id: str, now_s: int) -> None:
        """Remember ``msg_id``; raise if it was seen within the window.

        Raises:
            VerificationError: ``webhook.replay`` for a repeated id.
        """
        horizon = now_s - 2 * self.tolerance_s
        for old in [k for k, t in self._seen.items() if t < horizon]:
            del self._seen[old]
        if msg_id in self._seen:
            raise VerificationError(ErrorCode.WEBHOOK_REPLAY, f"webhook-id {msg_id[:40]} was already received")
        self._seen[msg_id] = now_s
