"""namecoind's JSON shapes for blocks, transactions, scripts and names (simulator core).

Pure functions from wire values to JSON-ready dicts; amounts are ``Decimal`` with 8 places
and ``dumps`` writes them as namecoind does (``0.01000000``). Raw RPC keys live here.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from waypost.indexer import names as wnames
from waypost.indexer.wire import AuxPow, BlockHeader, Tx, bits_to_target, encode_header, encode_tx, hash_to_hex, sha256d
from waypost.regtest.script import descriptor_checksum, script_address, script_asm

__all__ = [
    "amount",
    "dumps",
    "difficulty",
    "encode_text",
    "decode_text",
    "name_fields",
    "script_json",
    "tx_json",
    "header_json",
    "auxpow_json",
    "target_hex",
    "ENCODINGS",
]

ENCODINGS = ("ascii", "utf8", "hex")
_SAT = Decimal(100_000_000)
_EIGHT = Decimal("0.00000001")


def amount(value_sat: int) -> Decimal:
    """Satoshi to NMC with 8 decimals."""
    return (Decimal(value_sat) / _SAT).quantize(_EIGHT)


def dumps(obj: Any) -> str:
    """Compact JSON like UniValue: Decimal amounts keep 8 places, UTF-8 text unescaped."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return "%.16g" % obj  # UniValue: 16 significant digits
    if isinstance(obj, str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + dumps(v) for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"not JSON: {type(obj).__name__}")


def difficulty(bits: int) -> float:
    """bitcoin ``GetDifficulty``."""
    shift = (bits >> 24) & 0xFF
    diff = float(0x0000FFFF) / float(bits & 0x00FFFFFF) if bits & 0x00FFFFFF else 0.0
    while shift < 29:
        diff *= 256.0
        shift += 1
    while shift > 29:
        diff /= 256.0
        shift -= 1
    return diff


def _valid_ascii(data: bytes) -> bool:
    # namecoin-core encoding.cpp IsStringValid(ASCII): 0x20 <= c < 0x80
    return all(0x20 <= c < 0x80 for c in data)


def encode_text(data: bytes, enc: str) -> str | None:
    """namecoin-core ``EncodeName``; None when the bytes are invalid for ``enc``."""
    if enc == "hex":
        return data.hex()
    if enc == "ascii":
        return data.decode("ascii") if _valid_ascii(data) else None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def decode_text(text: str, enc: str) -> bytes | None:
    """namecoin-core ``DecodeName``; None when ``text`` is invalid for ``enc``."""
    if enc == "hex":
        if len(text) % 2 or any(c not in "0123456789abcdefABCDEF" for c in text):
            return None
        return bytes.fromhex(text)
    data = text.encode("utf-8")
    if enc == "ascii" and not _valid_ascii(data):
        return None
    return data


def name_fields(name: bytes, value: bytes | None, name_enc: str, value_enc: str) -> dict[str, Any]:
    """``name``/``name_error``, ``name_encoding``, ``value``/``value_error``, ``value_encoding``."""
    out: dict[str, Any] = {}
    text = encode_text(name, name_enc)
    if text is None:
        out["name_error"] = f"invalid data for {name_enc}"
    else:
        out["name"] = text
    out["name_encoding"] = name_enc
    if value is not None:
        vtext = encode_text(value, value_enc)
        if vtext is None:
            out["value_error"] = f"invalid data for {value_enc}"
        else:
            out["value"] = vtext
        out["value_encoding"] = value_enc
    return out


def _address_type(script: bytes) -> str:
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14":
        return "pubkeyhash"
    if len(script) == 23 and script[:2] == b"\xa9\x14":
        return "scripthash"
    if script[:1] == b"\x6a":
        return "nulldata"
    return "nonstandard"


def script_json(script: bytes, *, name_enc: str = "ascii", value_enc: str = "ascii") -> dict[str, Any]:
    """``scriptPubKey`` object, with ``nameOp`` for name outputs."""
    out: dict[str, Any] = {}
    op = None
    if script[:1] in (b"\x51", b"\x52", b"\x53"):
        try:
            op = wnames.parse_name_script(script)
        except Exception:  # noqa: BLE001 - malformed name prefix: plain script for namecoind
            op = None
    addr_script = script
    if op is not None:
        addr_script = op.address_script
        if op.kind == wnames.NameOpKind.NEW:
            out["nameOp"] = {"op": "name_new", "hash": (op.commitment or b"").hex()}
        else:
            nj: dict[str, Any] = {"op": str(op.kind)}
            nj.update(name_fields(op.name or b"", op.value or b"", name_enc, value_enc))
            if op.kind == wnames.NameOpKind.FIRSTUPDATE:
                nj["rand"] = (op.rand or b"").hex()
            out["nameOp"] = nj
    out["asm"] = script_asm(script)
    addr = script_address(addr_script)
    desc = f"addr({addr})" if addr is not None and op is None else f"raw({script.hex()})"
    out["desc"] = f"{desc}#{descriptor_checksum(desc)}"
    out["hex"] = script.hex()
    if addr is not None:
        out["address"] = addr
    out["type"] = _address_type(addr_script)
    return out


def _sig_asm(script_sig: bytes) -> str:
    asm = script_asm(script_sig)
    parts = asm.split(" ")
    if parts and len(parts[0]) > 2 and parts[0].endswith("01"):
        parts[0] = parts[0][:-2] + "[ALL]"
    return " ".join(parts)


def tx_json(
    tx: Tx, *, fee_sat: int | None = None, with_hex: bool = True, prevouts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """bitcoin ``TxToUniv`` (namecoin: plus ``nameOp``); ``prevouts`` for verbosity 3."""
    raw = encode_tx(tx)
    stripped = len(encode_tx(tx, include_witness=False))
    weight = stripped * 3 + len(raw)
    out: dict[str, Any] = {
        "txid": hash_to_hex(tx.txid),
        "hash": hash_to_hex(tx.wtxid),
        "version": tx.version,
        "size": len(raw),
        "vsize": (weight + 3) // 4,
        "weight": weight,
        "locktime": tx.locktime,
    }
    vin: list[dict[str, Any]] = []
    for k, i in enumerate(tx.inputs):
        if tx.is_coinbase:
            d: dict[str, Any] = {"coinbase": i.script_sig.hex()}
        else:
            d = {
                "txid": hash_to_hex(i.prevout.txid),
                "vout": i.prevout.vout,
                "scriptSig": {"asm": _sig_asm(i.script_sig), "hex": i.script_sig.hex()},
            }
        if i.witness:
            d["txinwitness"] = [w.hex() for w in i.witness]
        if prevouts is not None and not tx.is_coinbase and k < len(prevouts):
            d["prevout"] = prevouts[k]
        d["sequence"] = i.sequence
        vin.append(d)
    out["vin"] = vin
    out["vout"] = [
        {"value": amount(o.value_sat), "n": n, "scriptPubKey": script_json(o.script)} for n, o in enumerate(tx.outputs)
    ]
    if fee_sat is not None:
        out["fee"] = amount(fee_sat)
    if with_hex:
        out["hex"] = raw.hex()
    return out


def header_json(header: BlockHeader) -> dict[str, Any]:
    """The header fields namecoind prints first (hash .. bits/difficulty)."""
    return {
        "hash": hash_to_hex(header.hash),
        "version": header.version,
        "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
        "merkleroot": hash_to_hex(header.merkle_root),
        "time": header.time_s,
        "nonce": header.nonce,
        "bits": f"{header.bits:08x}",
        "difficulty": difficulty(header.bits),
    }


def auxpow_json(auxpow: AuxPow) -> dict[str, Any]:
    """namecoin-core ``AuxpowToJSON``."""
    parent = auxpow.parent_header
    parent_hash = hash_to_hex(sha256d(encode_header(parent)))
    txj = tx_json(auxpow.coinbase_tx, with_hex=False)
    tx_obj: dict[str, Any] = {"hex": encode_tx(auxpow.coinbase_tx).hex()}
    tx_obj.update(txj)
    tx_obj["blockhash"] = parent_hash
    pj = header_json(parent)
    pj["hash"] = parent_hash
    pj["difficulty"] = difficulty(parent.bits) if parent.bits & 0x00FFFFFF else 0
    return {
        "tx": tx_obj,
        "chainindex": auxpow.chain_index,
        "merklebranch": [hash_to_hex(b) for b in auxpow.coinbase_branch],
        "chainmerklebranch": [hash_to_hex(b) for b in auxpow.chain_branch],
        "parentblock": pj,
    }


def target_hex(bits: int) -> str:
    """Target as big-endian display hex."""
    return f"{bits_to_target(bits):064x}"
