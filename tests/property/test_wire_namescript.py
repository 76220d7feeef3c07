"""parse_name_script against a literal port of namecoin-core ``CNameScript`` (oracle)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.indexer import names
from waypost.registry.errors import ErrorCode, ParseError


def _get_op(script: bytes, pc: int) -> tuple[bool, int, bytes, int]:
    """bitcoin ``GetScriptOp`` line by line (pc is advanced as far as the C++ advances it)."""
    end = len(script)
    if pc >= end:
        return False, 0xFF, b"", pc
    opcode = script[pc]
    pc += 1
    if opcode <= 0x4E:
        if opcode < 0x4C:
            size = opcode
        elif opcode == 0x4C:
            if end - pc < 1:
                return False, 0xFF, b"", pc
            size = script[pc]
            pc += 1
        elif opcode == 0x4D:
            if end - pc < 2:
                return False, 0xFF, b"", pc
            size = struct.unpack_from("<H", script, pc)[0]
            pc += 2
        else:
            if end - pc < 4:
                return False, 0xFF, b"", pc
            size = struct.unpack_from("<I", script, pc)[0]
            pc += 4
        if end - pc < size:
            return False, 0xFF, b"", pc
        return True, opcode, script[pc : pc + size], pc + size
    return True, opcode, b"", pc


def _oracle(script: bytes) -> tuple[int, list[bytes], bytes] | None | str:
    """``CNameScript::CNameScript``; "broken" where an argument push is truncated."""
    ok, name_op, _, pc = _get_op(script, 0)
    if not ok:
        return None
    args: list[bytes] = []
    while True:
        before = pc
        ok, opcode, data, pc = _get_op(script, pc)
        if not ok:
            # namecoind: not a name op; Waypost reports a started-but-truncated push
            return "broken" if name_op in (0x51, 0x52, 0x53) and before < len(script) else None
        if opcode in (0x75, 0x6D, 0x61):
            break
        if not 0 <= opcode <= 0x4E:
            return None
        args.append(data)
    while opcode in (0x75, 0x6D, 0x61):
        ok, opcode, _, pc = _get_op(script, pc)
        if not ok:
            break
    pc -= 1
    if {0x51: 1, 0x52: 3, 0x53: 2}.get(name_op) != len(args):
        return None
    return name_op, args, script[pc:]


_tokens = st.one_of(
    st.sampled_from([b"\x00", b"\x4f", b"\x51", b"\x60", b"\x61", b"\x6d", b"\x75", b"\x76", b"\xac", b"\x4c", b"\x4d\x01", b"\x4e\x01\x00"]),
    st.binary(max_size=6).map(lambda d: bytes([len(d)]) + d),
    st.binary(max_size=6).map(lambda d: b"\x4c" + bytes([len(d)]) + d),
    st.binary(max_size=6).map(lambda d: b"\x4d" + struct.pack("<H", len(d)) + d),
    st.binary(max_size=6).map(lambda d: b"\x4e" + struct.pack("<I", len(d)) + d),
    st.binary(min_size=1, max_size=3),
)


@settings(max_examples=600)
@given(st.sampled_from([b"\x51", b"\x52", b"\x53", b"\x54", b"\x00", b""]), st.lists(_tokens, max_size=8))
def test_matches_cnamescript(head: bytes, tokens: list[bytes]) -> None:
    script = head + b"".join(tokens)
    want = _oracle(script)
    if want == "broken":
        try:
            names.parse_name_script(script)
        except ParseError as exc:
            assert exc.code == ErrorCode.NAME_BAD_SCRIPT
        else:
            raise AssertionError("truncated push accepted")
        return
    got = names.parse_name_script(script)
    if want is None:
        assert got is None
        return
    assert got is not None and not isinstance(want, str)
    name_op, args, address = want
    assert got.address_script == address
    if name_op == 0x51:
        assert got.kind == names.NameOpKind.NEW and got.commitment == args[0]
    elif name_op == 0x52:
        assert (got.kind, got.name, got.rand, got.value) == (names.NameOpKind.FIRSTUPDATE, *args)
    else:
        assert (got.kind, got.name, got.value) == (names.NameOpKind.UPDATE, *args)
