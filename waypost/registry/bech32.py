"""BIP-173 bech32 / BIP-350 bech32m encoding and decoding (core layer; pure, stdlib only).

One implementation serves segwit addresses (indexer), NIP-19 ``npub`` keys (profiles)
and the demo.
"""

from __future__ import annotations

from enum import IntEnum

from waypost.registry.errors import ErrorCode, ParseError

__all__ = ["Encoding", "encode", "decode", "convert_bits", "encode_npub", "decode_npub"]

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(CHARSET)}
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 90  # BIP-173; NIP-19 npub fits (63 characters)


class Encoding(IntEnum):
    """The checksum constant: BIP-173 bech32 (1) or BIP-350 bech32m."""

    BECH32 = 1
    BECH32M = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GEN[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    """Regroup ``data`` from ``from_bits``- to ``to_bits``-wide groups (BIP-173 ``convertbits``).

    Raises:
        ParseError: ``bech32.bad`` when padding is non-zero or too long (``pad=False``).
    """
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or ((acc << (to_bits - bits)) & maxv):
        raise ParseError(ErrorCode.BECH32_BAD, "bech32 payload has bad padding")
    return out


def encode(hrp: str, data: list[int], encoding: Encoding = Encoding.BECH32) -> str:
    """Encode 5-bit ``data`` under ``hrp`` with the checksum of ``encoding``."""
    mod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ encoding
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + checksum)


def decode(text: str) -> tuple[str, list[int], Encoding]:
    """Decode a bech32/bech32m string to ``(hrp, 5-bit data without checksum, encoding)``.

    Raises:
        ParseError: ``bech32.bad`` for mixed case, bad characters, length or checksum.
    """
    if text.lower() != text and text.upper() != text:
        raise ParseError(ErrorCode.BECH32_BAD, "bech32 string mixes upper and lower case")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text) or len(text) > MAX_LENGTH:
        raise ParseError(ErrorCode.BECH32_BAD, "bech32 string has a bad separator or length")
    hrp = text[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ParseError(ErrorCode.BECH32_BAD, "bech32 prefix has a bad character")
    try:
        data = [_CHARSET_INDEX[c] for c in text[pos + 1 :]]
    except KeyError as exc:
        raise ParseError(ErrorCode.BECH32_BAD, f"bech32 data has a bad character {exc.args[0]!r}") from exc
    const = _polymod(_hrp_expand(hrp) + data)
    for encoding in Encoding:
        if const == encoding:
            return hrp, data[:-6], encoding
    raise ParseError(ErrorCode.BECH32_BAD, "bech32 checksum mismatch")


def encode_npub(pubkey: bytes) -> str:
    """NIP-19 ``npub1...`` of a 32-byte key (bech32, hrp ``npub``)."""
    if len(pubkey) != 32:
        raise ParseError(ErrorCode.BECH32_BAD, "an npub holds a 32-byte key", got=len(pubkey))
    return encode("npub", convert_bits(pubkey, 8, 5, pad=True))


def decode_npub(text: str) -> bytes:
    """The 32-byte key of a NIP-19 ``npub1...``.

    Raises:
        ParseError: ``bech32.bad`` when it is not a valid bech32 ``npub`` of 32 bytes.
    """
    hrp, data, encoding = decode(text)
    if hrp != "npub" or encoding is not Encoding.BECH32:
        raise ParseError(ErrorCode.BECH32_BAD, "not an npub (NIP-19 wants bech32 with prefix 'npub')")
    key = bytes(convert_bits(data, 5, 8, pad=False))
    if len(key) != 32:
        raise ParseError(ErrorCode.BECH32_BAD, "an npub holds a 32-byte key", got=len(key))
    return key
