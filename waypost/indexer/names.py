"""Namecoin name scripts (core layer, pure): decode/encode name operations, addresses, limits.

Decoding follows namecoin-core ``src/script/names.cpp`` ``CNameScript`` byte for byte; no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from waypost.indexer.params import Network, params_for
from waypost.indexer.wire import NAMECOIN_TX_VERSION, Tx, base58check_payload, hash160, sha256d
from waypost.registry import bech32
from waypost.registry.errors import ErrorCode, ParseError, ValidationError
from waypost.registry.model import Hash160

__all__ = [
    "NameOpKind",
    "NameOp",
    "NAMECOIN_TX_VERSION",
    "MAX_NAME_LENGTH",
    "MAX_VALUE_LENGTH",
    "MAX_VALUE_LENGTH_UI",
    "MAX_RAND_LENGTH",
    "MIN_FIRSTUPDATE_DEPTH",
    "NAME_LOCKED_AMOUNT_SAT",
    "OP_NAME_NEW",
    "OP_NAME_FIRSTUPDATE",
    "OP_NAME_UPDATE",
    "parse_name_script",
    "encode_name_script",
    "encode_push",
    "name_commitment",
    "find_name_output",
    "find_name_script",
    "validate_name_op",
    "script_address",
    "plain_script_address",
]

# namecoin-core names/common.h / consensus: MAX_NAME_LENGTH, MAX_VALUE_LENGTH
MAX_NAME_LENGTH = 255
MAX_VALUE_LENGTH = 1023
# namecoin-core wallet RPCs: MAX_VALUE_LENGTH_UI
MAX_VALUE_LENGTH_UI = 520
# namecoin-core names/main.cpp: "firstupdate rand too large" (20 bytes)
MAX_RAND_LENGTH = 20
# namecoin-core names/main.cpp: MIN_FIRSTUPDATE_DEPTH
MIN_FIRSTUPDATE_DEPTH = 12
# namecoin-core: the wallet locks COIN / 100 in every name output ("greedy name" minimum)
NAME_LOCKED_AMOUNT_SAT = 1_000_000

# namecoin-core script/script.h: OP_NAME_* alias OP_1..OP_3
OP_NAME_NEW = 0x51
OP_NAME_FIRSTUPDATE = 0x52
OP_NAME_UPDATE = 0x53
_OP_PUSHDATA1 = 0x4C
_OP_PUSHDATA2 = 0x4D
_OP_PUSHDATA4 = 0x4E
_OP_DROP = 0x75
_OP_2DROP = 0x6D
_OP_NOP = 0x61
_DROPS = (_OP_DROP, _OP_2DROP, _OP_NOP)
_INVALID_OP = 0xFF
_ARG_COUNT = {OP_NAME_NEW: 1, OP_NAME_FIRSTUPDATE: 3, OP_NAME_UPDATE: 2}


class NameOpKind(StrEnum):
    """The three name operations (``op`` of namecoind's ``nameOp`` JSON)."""

    NEW = "name_new"
    FIRSTUPDATE = "name_firstupdate"
    UPDATE = "name_update"


@dataclass(frozen=True, slots=True, kw_only=True)
class NameOp:
    """A decoded name operation; ``address_script`` is the script after the name prefix.

    ``name_new`` carries only ``commitment``; ``name_firstupdate`` has ``name``, ``value``
    and ``rand``; ``name_update`` has ``name`` and ``value``.
    """

    kind: NameOpKind
    name: bytes | None
    value: bytes | None
    rand: bytes | None
    commitment: Hash160 | None
    address_script: bytes


_new_object = object.__new__
_SETTERS = tuple(
    NameOp.__dict__[f].__set__ for f in ("kind", "name", "value", "rand", "commitment", "address_script")
)


def _make_op(
    kind: NameOpKind,
    name: bytes | None,
    value: bytes | None,
    rand: bytes | None,
    commitment: bytes | None,
    address_script: bytes,
) -> NameOp:
    # a frozen dataclass __init__ pays an object.__setattr__ lookup per field; fill the slots
    op: NameOp = _new_object(NameOp)
    set_kind, set_name, set_value, set_rand, set_commitment, set_address = _SETTERS
    set_kind(op, kind)
    set_name(op, name)
    set_value(op, value)
    set_rand(op, rand)
    set_commitment(op, commitment)
    set_address(op, address_script)
    return op


def _get_op(script: bytes, pc: int) -> tuple[bool, int, bytes, int]:
    """bitcoin script.cpp ``GetScriptOp``: (ok, opcode, push data, new pc).

    On failure ``pc`` is left where the C++ leaves it (partially advanced), because
    ``CNameScript`` later backs up one byte from it.
    """
    end = len(script)
    if pc >= end:
        return False, _INVALID_OP, b"", pc
    opcode = script[pc]
    pc += 1
    if opcode > _OP_PUSHDATA4:
        return True, opcode, b"", pc
    if opcode < _OP_PUSHDATA1:
        size = opcode
    elif opcode == _OP_PUSHDATA1:
        if end - pc < 1:
            return False, _INVALID_OP, b"", pc
        size = script[pc]
        pc += 1
    elif opcode == _OP_PUSHDATA2:
        if end - pc < 2:
            return False, _INVALID_OP, b"", pc
        size = struct.unpack_from("<H", script, pc)[0]
        pc += 2
    else:
        if end - pc < 4:
            return False, _INVALID_OP, b"", pc
        size = struct.unpack_from("<I", script, pc)[0]
        pc += 4
    if end - pc < size:
        return False, _INVALID_OP, b"", pc
    return True, opcode, script[pc : pc + size], pc + size


def parse_name_script(script: bytes) -> NameOp | None:
    """Decode a scriptPubKey as namecoin-core ``CNameScript`` does.

    The first opcode must be OP_NAME_NEW/FIRSTUPDATE/UPDATE (0x51/0x52/0x53); then pushes
    (OP_0, direct 1-75, PUSHDATA1/2/4; OP_1NEGATE and OP_1..OP_16 are *not* pushes here)
    up to the first OP_DROP/OP_2DROP/OP_NOP; then any run of those; the rest is the
    address script. The argument count must be 1/3/2. Like namecoin-core, the address
    starts one byte before the end of the first opcode after the drops (which for a
    single-byte opcode is that opcode).

    Args:
        script: the full scriptPubKey.

    Returns:
        The operation, or None when the script is not a name script (namecoind treats
        it as an ordinary output).

    Raises:
        ParseError: ``name.bad-script`` when it starts with OP_NAME_* but an argument
            push runs past the end of the script.
    """
    if not script:
        return None
    name_op = script[0]
    kind_count = _ARG_COUNT.get(name_op)
    if kind_count is None:
        return None
    n = len(script)
    pc = 1
    args: list[bytes] = []
    while True:
        if pc >= n:
            return None  # GetOp fails at the end: no DROP, not a name script
        opcode = script[pc]
        if opcode < _OP_PUSHDATA1:  # OP_0 and direct pushes (fast path)
            end = pc + 1 + opcode
            if end > n:
                raise ParseError(ErrorCode.NAME_BAD_SCRIPT, "name script push runs past the end of the script", offset=pc)
            args.append(script[pc + 1 : end])
            pc = end
            continue
        if opcode in _DROPS:
            pc += 1
            break
        if opcode > _OP_PUSHDATA4:
            return None  # OP_1NEGATE, OP_1..OP_16 and other opcodes are not arguments
        start = pc
        ok, _, data, pc = _get_op(script, pc)
        if not ok:
            raise ParseError(ErrorCode.NAME_BAD_SCRIPT, "name script push runs past the end of the script", offset=start)
        args.append(data)
    # namecoin-core: skip any run of DROP/2DROP/NOP with GetOp, then ``pc--``. The op read
    # after the run is consumed whole (or partially, when truncated) before backing up.
    while pc < n and script[pc] in _DROPS:
        pc += 1
    if pc < n:
        _, _, _, pc = _get_op(script, pc)
    pc -= 1
    if len(args) != kind_count:
        return None
    address = script[pc:]
    if name_op == OP_NAME_NEW:
        return _make_op(NameOpKind.NEW, None, None, None, args[0], address)
    if name_op == OP_NAME_FIRSTUPDATE:
        return _make_op(NameOpKind.FIRSTUPDATE, args[0], args[2], args[1], None, address)
    return _make_op(NameOpKind.UPDATE, args[0], args[1], None, None, address)


def encode_push(data: bytes) -> bytes:
    """bitcoin ``CScript << valtype``: direct push below 76 bytes (OP_0 when empty), then
    PUSHDATA1/2/4. One-byte values are never turned into OP_1..OP_16."""
    n = len(data)
    if n < _OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((_OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((_OP_PUSHDATA2,)) + struct.pack("<H", n) + data
    return bytes((_OP_PUSHDATA4,)) + struct.pack("<I", n) + data


def encode_name_script(op: NameOp) -> bytes:
    """Build the scriptPubKey as namecoin-core ``CNameScript::build*`` does.

    Raises:
        ValidationError: ``name.bad-script`` when a field the kind needs is missing.
    """
    if op.kind == NameOpKind.NEW:
        if op.commitment is None:
            raise ValidationError(ErrorCode.NAME_BAD_SCRIPT, "name_new needs a commitment")
        prefix = bytes((OP_NAME_NEW,)) + encode_push(op.commitment) + bytes((_OP_2DROP,))
    elif op.kind == NameOpKind.FIRSTUPDATE:
        if op.name is None or op.value is None or op.rand is None:
            raise ValidationError(ErrorCode.NAME_BAD_SCRIPT, "name_firstupdate needs name, rand and value")
        prefix = b"".join(
            (
                bytes((OP_NAME_FIRSTUPDATE,)),
                encode_push(op.name),
                encode_push(op.rand),
                encode_push(op.value),
                bytes((_OP_2DROP, _OP_2DROP)),
            )
        )
    else:
        if op.name is None or op.value is None:
            raise ValidationError(ErrorCode.NAME_BAD_SCRIPT, "name_update needs name and value")
        prefix = b"".join(
            (
                bytes((OP_NAME_UPDATE,)),
                encode_push(op.name),
                encode_push(op.value),
                bytes((_OP_2DROP, _OP_DROP)),
            )
        )
    return prefix + op.address_script


def name_commitment(rand: bytes, name: bytes) -> Hash160:
    """The name_new commitment: hash160(rand || name) (namecoin-core ``buildNameNew``)."""
    return Hash160(hash160(rand + name))


def find_name_output(tx: Tx) -> tuple[int, NameOp] | None:
    """The name output of a Namecoin transaction, as namecoind finds it.

    Only transactions with version 0x7100 carry name operations (namecoin-core
    ``CheckNameTransaction``). An output whose name-script pushes are broken is an ordinary
    output for namecoind (``CNameScript`` just fails), so it is skipped here too.

    Returns:
        ``(vout, op)`` or None.

    Raises:
        ValidationError: ``name.bad-script`` when the transaction has more than one name
            output ("tx-multiple-name-outputs").
    """
    if tx.version != NAMECOIN_TX_VERSION:
        return None
    return find_name_script([o.script for o in tx.outputs], tx.txid)


def find_name_script(scripts: Sequence[bytes], txid: bytes) -> tuple[int, NameOp] | None:
    """``find_name_output`` over the output scripts of a version-0x7100 transaction."""
    found: tuple[int, NameOp] | None = None
    for vout, script in enumerate(scripts):
        if not script or script[0] not in _ARG_COUNT:
            continue
        try:
            op = parse_name_script(script)
        except ParseError:
            continue
        if op is None:
            continue
        if found is not None:
            raise ValidationError(
                ErrorCode.NAME_BAD_SCRIPT,
                "transaction has multiple name outputs",
                txid=txid[::-1].hex(),
            )
        found = (vout, op)
    return found


def validate_name_op(op: NameOp) -> None:
    """Consensus size rules of namecoin-core ``CheckNameTransaction`` on the op alone.

    Raises:
        ValidationError: ``name.too-long`` (> 255 bytes), ``name.value-too-long``
            (> 1023 bytes), ``name.bad-rand`` (rand > 20 bytes), ``name.bad-commitment``
            (name_new hash not 20 bytes).
    """
    if op.kind == NameOpKind.NEW:
        if op.commitment is None or len(op.commitment) != 20:
            raise ValidationError(ErrorCode.NAME_BAD_COMMITMENT, "name_new hash must be 20 bytes")
        return
    if op.name is not None and len(op.name) > MAX_NAME_LENGTH:
        raise ValidationError(ErrorCode.NAME_TOO_LONG, "name too long", got=len(op.name))
    if op.value is not None and len(op.value) > MAX_VALUE_LENGTH:
        raise ValidationError(ErrorCode.VALUE_TOO_LONG, "value too long", got=len(op.value))
    if op.rand is not None and len(op.rand) > MAX_RAND_LENGTH:
        raise ValidationError(ErrorCode.NAME_BAD_RAND, "rand too large", got=len(op.rand))


# ---------------------------------------------------------------------------------------
# addresses (bitcoin key_io.cpp EncodeDestination; standard.cpp Solver)

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_PAIRS = [a + b for a in _B58 for b in _B58]  # two digits per divmod (index < 58**2)


def _base58check(payload: bytes) -> str:
    fast = base58check_payload(payload)
    if fast is not None:
        return fast
    data = payload + _sha256d4(payload)
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 3364)
        out.append(_B58_PAIRS[r])
    pad = len(data) - len(data.lstrip(b"\x00"))
    # the top pair may start with the zero digit "1", which is no leading zero byte
    return "1" * pad + "".join(reversed(out)).lstrip("1")


def _sha256d4(data: bytes) -> bytes:
    return sha256d(data)[:4]


def _segwit_address(hrp: str, version: int, program: bytes) -> str:
    # BIP173 / BIP350: bech32 for witness v0, bech32m for v1+
    encoding = bech32.Encoding.BECH32 if version == 0 else bech32.Encoding.BECH32M
    return bech32.encode(hrp, [version, *bech32.convert_bits(program, 8, 5, pad=True)], encoding)


def script_address(script: bytes, network: Network) -> str | None:
    """The address namecoind shows for an (address part of an) output script.

    P2PKH and P2SH as base58check with the network's prefixes; witness programs
    (v0 20/32 bytes as bech32, v1..v16 2-40 bytes as bech32m) with its HRP. A name
    script is first stripped of its name prefix. Bare keys, multisig and anything
    nonstandard have no address (None).
    """
    try:
        op = parse_name_script(script)
    except ParseError:
        op = None
    if op is not None:
        script = op.address_script
    return plain_script_address(script, network)


def plain_script_address(script: bytes, network: Network) -> str | None:
    """``script_address`` of a script without a name prefix (e.g. ``NameOp.address_script``)."""
    p = params_for(network)
    n = len(script)
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return _base58check(bytes((p.pubkey_prefix,)) + script[3:23])
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return _base58check(bytes((p.script_prefix,)) + script[2:22])
    # bitcoin script.cpp IsWitnessProgram: version opcode then one direct push of 2-40 bytes
    if 4 <= n <= 42 and (script[0] == 0 or 0x51 <= script[0] <= 0x60) and script[1] + 2 == n:
        version = 0 if script[0] == 0 else script[0] - 0x50
        program = script[2:]
        if version == 0 and len(program) not in (20, 32):
            return None
        return _segwit_address(p.bech32_hrp, version, program)
    return None
