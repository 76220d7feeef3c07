"""The getblock batch fast path decodes exactly what json.loads + the general checks decode.

``rpc._hex_batch_results`` reads namecoind's batch replies without ``json.loads``; on any
body that is not exactly that shape it must answer None (the general path then decides),
and whatever it accepts must equal the general decoding.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from waypost.indexer import rpc
from waypost.registry.errors import WaypostError

_SEPARATORS = st.sampled_from([(",", ":"), (", ", ": "), (",\n", " : "), (" ,\t", ":\r\n")])


def _general(body: bytes, first_id: int, count: int) -> list[bytes] | None:
    """json.loads + _decode_batch + _as_bytes, as RpcClient.fetch_blocks_raw without the fast path."""
    try:
        reply = rpc._parse_body(200, body, "application/json", "getblock")
        results = rpc._decode_batch(reply, first_id, ["getblock"] * count)
        if any(isinstance(r, rpc.RpcError) for r in results):
            return None
        return [rpc._as_bytes(r, "getblock") for r in results]
    except WaypostError:
        return None


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[bytes, int, int]:
    count = draw(st.integers(1, 6))
    first_id = draw(st.integers(0, 2**40))
    results = [draw(st.binary(max_size=64)) for _ in range(count)]
    items = [{"result": r.hex(), "error": None, "id": first_id + i} for i, r in enumerate(results)]
    body = json.dumps(items, separators=draw(_SEPARATORS)).encode()
    if draw(st.booleans()):
        body = b"\n " + body + b"\n"
    return body, first_id, count


@given(_bodies())
def test_well_formed_replies_take_the_fast_path(case: tuple[bytes, int, int]) -> None:
    body, first_id, count = case
    fast = rpc._hex_batch_results(body, first_id, count)
    assert fast is not None
    assert fast == _general(body, first_id, count)


@settings(max_examples=500)
@given(_bodies(), st.data())
def test_mutated_replies_are_left_to_the_general_path(case: tuple[bytes, int, int], data: st.DataObject) -> None:
    body, first_id, count = case
    raw = bytearray(body)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "flip":
            raw[pos] = data.draw(st.sampled_from(b'"{}[],:0123456789abcdefABCDEF \\\tnulx\x0c\x0b'))
        elif kind == "insert":
            raw[pos:pos] = data.draw(st.sampled_from([b" ", b'"', b"\\u0030", b",", b"0", b"\x0c", b'"error":1,']))
        else:
            del raw[pos : pos + data.draw(st.integers(1, 8))]
    mutated = bytes(raw)
    fast = rpc._hex_batch_results(mutated, first_id, data.draw(st.sampled_from([count, count + 1, max(count - 1, 1)])))
    if fast is not None:
        assert fast == _general(mutated, first_id, len(fast))


def test_errors_and_other_shapes_are_not_fast() -> None:
    ok = b'[{"result":"00ff","error":null,"id":7}]'
    assert rpc._hex_batch_results(ok, 7, 1) == [b"\x00\xff"]
    assert rpc._hex_batch_results(ok, 8, 1) is None  # another id
    assert rpc._hex_batch_results(ok, 7, 2) is None  # fewer answers than calls
    assert rpc._hex_batch_results(b'[{"result":null,"error":{"code":-5,"message":"x"},"id":7}]', 7, 1) is None
    assert rpc._hex_batch_results(b'[{"result":"0f0","error":null,"id":7}]', 7, 1) is None  # odd hex
    assert rpc._hex_batch_results(b'[{"result":"00","error":null,"id":07}]', 7, 1) is None  # not JSON
    assert rpc._hex_batch_results(b'[{"jsonrpc":"2.0","result":"00","id":7}]', 7, 1) is None  # 2.0 shape
    assert rpc._hex_batch_results(ok + b"x", 7, 1) is None  # trailing garbage
