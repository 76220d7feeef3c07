"""JSON shapes and script helpers against values recorded from namecoind."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.vectors import REGTEST
from waypost.indexer.wire import parse_tx
from waypost.regtest.jsonfmt import amount, difficulty, dumps, encode_text, name_fields, tx_json
from waypost.regtest.script import bip34_script, decode_address, descriptor_checksum, script_address


def _recorded_txs() -> list[dict[str, object]]:
    out = []
    for path in sorted((REGTEST / "txs").glob("*.json")):
        if path.name == "index.json":
            continue
        data = json.loads(path.read_text(), parse_float=Decimal)
        calls = [c for c in data["rpc"] if c["method"] == "getrawtransaction" and "result" in c]
        raw = [c["result"] for c in calls if c["params"][1:] == [0]]
        verbose = [c["result"] for c in calls if c["params"][1:] == [1]]
        if raw and verbose:
            out.append({"hex": raw[0], "json": verbose[0]})
    return out


def test_tx_json_equals_namecoind_for_every_recorded_tx() -> None:
    txs = _recorded_txs()
    assert len(txs) > 150
    for rec in txs:
        got = json.loads(dumps(tx_json(parse_tx(bytes.fromhex(str(rec["hex"]))))), parse_float=Decimal)
        want = dict(rec["json"])  # type: ignore[call-overload]
        for k in ("blockhash", "confirmations", "time", "blocktime"):
            want.pop(k, None)
        assert got == want, want["txid"]


def test_amounts_and_floats_as_namecoind_writes_them() -> None:
    assert dumps({"v": amount(1_000_000)}) == '{"v":0.01000000}'
    assert dumps(amount(0)) == "0.00000000"
    assert dumps(difficulty(0x207FFFFF)) == "4.656542373906925e-10"


def test_name_encodings() -> None:
    assert name_fields(b"d/b\xc3\xbccher", b"\xff", "ascii", "ascii") == {
        "name_error": "invalid data for ascii", "name_encoding": "ascii",
        "value_error": "invalid data for ascii", "value_encoding": "ascii",
    }
    assert encode_text(b"d/b\xc3\xbccher", "utf8") == "d/bücher"
    assert encode_text(b"\x00\xff", "hex") == "00ff"
    assert encode_text(b"\x7f", "ascii") == "\x7f" and encode_text(b"\x1f", "ascii") is None


def test_script_helpers() -> None:
    assert descriptor_checksum("addr(n1AQuj2JvYbfdFtAaCHeNQUvg8Xo1W3Cr6)") == "pev7uxm5"
    script = decode_address("n1AQuj2JvYbfdFtAaCHeNQUvg8Xo1W3Cr6")
    assert script.hex() == "76a914d77fff6169fcdbc0a77ebfcd96e5af54edc57a9888ac"
    assert script_address(script) == "n1AQuj2JvYbfdFtAaCHeNQUvg8Xo1W3Cr6"
    assert [bip34_script(h).hex() for h in (1, 111, 161)] == ["5100", "016f", "02a100"]
