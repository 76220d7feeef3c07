"""Small script and address helpers of the regtest simulator (core; no I/O).

Only what the simulator needs to make and describe wallet outputs: P2PKH scripts,
base58check regtest addresses, push encoding, BIP34 heights and descriptor checksums.
Transaction and block serialisation lives in ``waypost.indexer.wire``.
"""

from __future__ import annotations

import hashlib

from waypost.indexer.wire import hash160, sha256d
from waypost.registry.errors import ErrorCode, ParseError

__all__ = [
    "REGTEST_P2PKH_VERSION",
    "REGTEST_P2SH_VERSION",
    "p2pkh_script",
    "encode_address",
    "decode_address",
    "script_address",
    "push_data",
    "script_num",
    "bip34_script",
    "script_asm",
    "descriptor_checksum",
    "key_for",
]

# namecoin-core chainparams.cpp (regtest): base58 prefixes shared with bitcoin testnet
REGTEST_P2PKH_VERSION = 111
REGTEST_P2SH_VERSION = 196
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def p2pkh_script(h160: bytes) -> bytes:
    """OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG."""
    return b"\x76\xa9\x14" + h160 + b"\x88\xac"


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def encode_address(h160: bytes, version: int = REGTEST_P2PKH_VERSION) -> str:
    """Base58check address of a 20-byte hash."""
    payload = bytes([version]) + h160
    return _b58encode(payload + sha256d(payload)[:4])


def decode_address(addr: str) -> bytes:
    """Address text to its scriptPubKey (P2PKH or P2SH).

    Raises:
        ParseError: ``request.bad`` for anything that is not a regtest base58 address.
    """
    n = 0
    try:
        for ch in addr:
            n = n * 58 + _B58.index(ch)
    except ValueError as exc:
        raise ParseError(ErrorCode.BAD_REQUEST, "Invalid address", got=addr) from exc
    raw = n.to_bytes(25, "big") if n.bit_length() <= 200 else b""
    if len(raw) != 25 or sha256d(raw[:21])[:4] != raw[21:]:
        raise ParseError(ErrorCode.BAD_REQUEST, "Invalid address", got=addr)
    if raw[0] == REGTEST_P2PKH_VERSION:
        return p2pkh_script(raw[1:21])
    if raw[0] == REGTEST_P2SH_VERSION:
        return b"\xa9\x14" + raw[1:21] + b"\x87"
    raise ParseError(ErrorCode.BAD_REQUEST, "Invalid address", got=addr)


def script_address(script: bytes) -> str | None:
    """Address of a P2PKH/P2SH script (name prefix already removed), else None."""
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return encode_address(script[3:23])
    if len(script) == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return encode_address(script[2:22], REGTEST_P2SH_VERSION)
    return None


def push_data(data: bytes) -> bytes:
    """Minimal push (bitcoin ``CScript << vector``; empty data is OP_0)."""
    n = len(data)
    if n < 0x4C:
        return bytes([n]) + data
    if n <= 0xFF:
        return b"\x4c" + bytes([n]) + data
    if n <= 0xFFFF:
        return b"\x4d" + n.to_bytes(2, "little") + data
    return b"\x4e" + n.to_bytes(4, "little") + data


def script_num(n: int) -> bytes:
    """CScriptNum serialisation of a non-negative number."""
    out = bytearray()
    while n:
        out.append(n & 0xFF)
        n >>= 8
    if out and out[-1] & 0x80:
        out.append(0)
    return bytes(out)


def bip34_script(height: int) -> bytes:
    """Coinbase scriptSig: the height (``CScript() << nHeight``), padded with OP_0 when
    it would be a single opcode (bitcoin miner.cpp: scriptSig must be >= 2 bytes)."""
    if height == 0:
        return b"\x00\x00"
    if height <= 16:
        return bytes([0x50 + height]) + b"\x00"
    return push_data(script_num(height))


_OPNAMES = {
    0x00: "0",
    0x4F: "-1",
    0x51: "OP_NAME_NEW",
    0x52: "OP_NAME_FIRSTUPDATE",
    0x53: "OP_NAME_UPDATE",
    0x6A: "OP_RETURN",
    0x6D: "OP_2DROP",
    0x75: "OP_DROP",
    0x76: "OP_DUP",
    0x87: "OP_EQUAL",
    0x88: "OP_EQUALVERIFY",
    0xA9: "OP_HASH160",
    0xAC: "OP_CHECKSIG",
}


def script_asm(script: bytes) -> str:
    """bitcoin ``ScriptToAsmStr`` for the opcodes the simulator makes (name prefix aware)."""
    parts: list[str] = []
    i = 0
    first = True
    while i < len(script):
        op = script[i]
        i += 1
        if 0 < op < 0x4C or op in (0x4C, 0x4D, 0x4E):
            if op < 0x4C:
                n = op
            elif op == 0x4C:
                n = script[i]
                i += 1
            elif op == 0x4D:
                n = int.from_bytes(script[i : i + 2], "little")
                i += 2
            else:
                n = int.from_bytes(script[i : i + 4], "little")
                i += 4
            data = script[i : i + n]
            i += n
            parts.append(str(int.from_bytes(data, "little", signed=True)) if n <= 4 else data.hex())
        elif 0x51 <= op <= 0x60 and not (first and op <= 0x53):
            parts.append(str(op - 0x50))
        else:
            parts.append(_OPNAMES.get(op, f"OP_UNKNOWN{op}"))
        first = False
    return " ".join(parts)


_INPUT_CHARSET = (
    "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
)
_CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(c: int, val: int) -> int:
    c0 = c >> 35
    c = ((c & 0x7FFFFFFFF) << 5) ^ val
    for bit, gen in enumerate((0xF5DEE51989, 0xA9FDCA3312, 0x1BAB10E32D, 0x3706B1677A, 0x644D626FFD)):
        if c0 & (1 << bit):
            c ^= gen
    return c


def descriptor_checksum(desc: str) -> str:
    """bitcoin descriptor.cpp ``DescriptorChecksum`` (8 characters)."""
    c = 1
    cls = 0
    clscount = 0
    for ch in desc:
        pos = _INPUT_CHARSET.find(ch)
        if pos < 0:
            return ""
        c = _polymod(c, pos & 31)
        cls = cls * 3 + (pos >> 5)
        clscount += 1
        if clscount == 3:
            c = _polymod(c, cls)
            cls = 0
            clscount = 0
    if clscount:
        c = _polymod(c, cls)
    for _ in range(8):
        c = _polymod(c, 0)
    c ^= 1
    return "".join(_CHECKSUM_CHARSET[(c >> (5 * (7 - j))) & 31] for j in range(8))


def key_for(seed: int, wallet: str, index: int) -> tuple[bytes, bytes]:
    """Deterministic stand-in key pair: (33-byte compressed-looking pubkey, hash160)."""
    d = hashlib.sha256(f"waypost-regtest:{seed}:{wallet}:{index}".encode()).digest()
    pub = bytes([2 + (d[0] & 1)]) + d
    return pub, hash160(pub)
