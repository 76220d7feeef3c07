"""wire.py against namecoind's own answers (regtest recording) and the mainnet vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.vectors import MAINNET, REGTEST, load_json, params
from waypost.indexer import wire
from waypost.indexer.params import Network, params_for
from waypost.registry.errors import ChainError, ErrorCode, ParseError, VerificationError, WaypostError

REGTEST_PARAMS = params_for(Network.REGTEST)
MAIN_PARAMS = params_for(Network.MAINNET)


def rpc(doc: dict[str, Any], method: str, *args: Any) -> Any:
    """The recorded result of ``method`` whose params after the first equal ``args``."""
    for call in doc["rpc"]:
        if call["method"] == method and list(call["params"][1:]) == list(args):
            return call["result"]
    raise KeyError((method, args))


def rpc_by_params(doc: dict[str, Any], method: str, params_: list[Any]) -> Any:
    for call in doc["rpc"]:
        if call["method"] == method and call["params"] == params_:
            return call.get("result", call.get("error"))
    raise KeyError((method, params_))


# --- regtest: every recorded block --------------------------------------------------------


@pytest.mark.parametrize("path", params("namecoind-regtest/blocks"))
def test_regtest_block_matches_node(path: Path) -> None:
    doc = load_json(path)
    if path.name == "index.json":
        index = doc
        files = {p.name[5:-5] for p in (REGTEST / "blocks").glob("[0-9]*.json")}
        assert {b["hash"] for b in index} == files
        return
    raw = bytes.fromhex(rpc(doc, "getblock", 0))
    verbose = rpc(doc, "getblock", 2)
    block = wire.parse_block(raw)

    assert wire.hash_to_hex(block.hash) == verbose["hash"] == doc["hash"]
    assert wire.hash_to_hex(block.header.merkle_root) == verbose["merkleroot"]
    assert wire.hash_to_hex(wire.merkle_root([t.txid for t in block.txs])) == verbose["merkleroot"]
    assert [wire.hash_to_hex(t.txid) for t in block.txs] == [t["txid"] for t in verbose["tx"]]
    assert [wire.hash_to_hex(t.wtxid) for t in block.txs] == [t["hash"] for t in verbose["tx"]]
    assert [t.version for t in block.txs] == [t["version"] for t in verbose["tx"]]
    assert [t.locktime for t in block.txs] == [t["locktime"] for t in verbose["tx"]]
    assert block.header.version == verbose["version"]
    assert block.header.time_s == verbose["time"]
    assert f"{block.header.bits:08x}" == verbose["bits"]
    assert block.header.nonce == verbose["nonce"]
    if "previousblockhash" in verbose:
        assert wire.hash_to_hex(block.header.prev_hash) == verbose["previousblockhash"]
    else:
        assert block.header.prev_hash == wire.NULL_HASH
        assert block.hash == REGTEST_PARAMS.genesis_hash
    for tx, jtx in zip(block.txs, verbose["tx"], strict=True):
        assert [o.value_sat for o in tx.outputs] == [round(float(o["value"]) * 10**8) for o in jtx["vout"]]
        assert [o.script.hex() for o in tx.outputs] == [o["scriptPubKey"]["hex"] for o in jtx["vout"]]
        assert len(wire.encode_tx(tx)) == jtx["size"]
        assert len(wire.encode_tx(tx, include_witness=False)) <= jtx["size"]

    # round trip (also through the decoded fields, not just the kept bytes), header, AuxPoW
    assert wire.encode_block(block) == raw
    for tx in block.txs:
        again = wire.Tx.create(version=tx.version, inputs=tx.inputs, outputs=tx.outputs, locktime=tx.locktime)
        assert again == tx
        assert wire.encode_tx(again) == wire.encode_tx(tx)
    header_raw = bytes.fromhex(rpc(doc, "getblockheader", False))
    header, auxpow = wire.parse_header(header_raw)
    assert header == block.header
    assert auxpow == block.auxpow
    assert raw.startswith(header_raw)
    assert (auxpow is not None) == ("auxpow" in verbose) == header.is_auxpow
    if auxpow is not None:
        assert header.chain_id == REGTEST_PARAMS.auxpow_chain_id
        wire.verify_auxpow(header, auxpow, chain_id=REGTEST_PARAMS.auxpow_chain_id)
        assert wire.hash_to_hex(auxpow.coinbase_tx.txid) == verbose["auxpow"]["tx"]["txid"]
        assert wire.encode_auxpow(auxpow).hex() == header_raw[80:].hex()
    wire.verify_pow(block.header, block.auxpow, chain_id=REGTEST_PARAMS.auxpow_chain_id)

    if doc["height"] > 0:  # BIP34 does not apply to genesis
        assert wire.coinbase_height(block.txs[0]) == doc["height"]
    assert block.txs[0].is_coinbase
    assert not any(t.is_coinbase for t in block.txs[1:])


def test_regtest_header_chain_links() -> None:
    blocks = [load_json(p) for p in sorted((REGTEST / "blocks").glob("[0-9]*.json"))]
    active = [wire.parse_header(bytes.fromhex(rpc(d, "getblockheader", False)))[0] for d in blocks if d["in_active_chain"]]
    assert len(active) == 163
    wire.verify_header_chain(active, pow_limit_bits=REGTEST_PARAMS.pow_limit_bits)
    with pytest.raises(ParseError) as bits_exc:
        wire.verify_header_chain(active[:3], pow_limit_bits=MAIN_PARAMS.pow_limit_bits)
    assert bits_exc.value.code == ErrorCode.WIRE_BAD_BITS
    orphan_first = next(d for d in blocks if not d["in_active_chain"])
    bad = [*active[:157], wire.parse_header(bytes.fromhex(rpc(orphan_first, "getblockheader", False)))[0], *active[158:]]
    with pytest.raises(ChainError) as exc:
        wire.verify_header_chain(bad)
    assert exc.value.code == ErrorCode.WIRE_PREV_MISMATCH


@pytest.mark.parametrize("path", params("namecoind-regtest/txs"))
def test_regtest_tx_and_proof(path: Path) -> None:
    doc = load_json(path)
    if path.name == "index.json":
        # coinbases of 158/159 are identical on both branches: 2 index rows share a file
        files = {f"txs/{p.name}" for p in (REGTEST / "txs").glob("*.json") if p.name != "index.json"}
        assert {e["file"] for e in doc} == files
        assert len(doc) == len(files) + 2
        return
    answer = rpc_by_params(doc, "getrawtransaction", [doc["txid"], 0])
    if doc["height"] == 0:
        # namecoind: "The genesis block coinbase is not considered an ordinary transaction"
        assert answer["code"] == -5
    else:
        raw = bytes.fromhex(answer)
        tx = wire.parse_tx(raw)
        assert wire.hash_to_hex(tx.txid) == doc["txid"]
        verbose = rpc_by_params(doc, "getrawtransaction", [doc["txid"], 1])
        assert wire.hash_to_hex(tx.wtxid) == verbose["hash"]
        assert wire.encode_tx(tx) == raw
        rebuilt = wire.Tx.create(version=tx.version, inputs=tx.inputs, outputs=tx.outputs, locktime=tx.locktime)
        assert rebuilt == tx
    proof_hex = rpc_by_params(doc, "gettxoutproof", [[doc["txid"]], doc["blockhash"]])
    mb = wire.parse_merkle_block(bytes.fromhex(proof_hex))
    assert wire.encode_merkle_block(mb).hex() == proof_hex
    assert wire.hash_to_hex(mb.header.hash) == doc["blockhash"]
    assert [wire.hash_to_hex(t) for t in wire.verify_merkle_block(mb)] == [doc["txid"]]
    block_doc = load_json(REGTEST / _block_file(doc["blockhash"]))
    block = wire.parse_block(bytes.fromhex(rpc(block_doc, "getblock", 0)))
    assert wire.encode_merkle_block(wire.build_merkle_block(block, [wire.hex_to_hash(doc["txid"])])).hex() == proof_hex


def _block_file(block_hash_hex: str) -> str:
    return next(e["file"] for e in load_json(REGTEST / "blocks" / "index.json") if e["hash"] == block_hash_hex)


def test_regtest_multi_tx_proofs() -> None:
    entries = load_json(REGTEST / "proofs" / "multi_tx_proofs.json")
    checked = 0
    for entry in entries:
        for call in entry["rpc"]:
            if call["method"] != "gettxoutproof":
                continue
            mb = wire.parse_merkle_block(bytes.fromhex(call["result"]))
            matched = [wire.hash_to_hex(t) for t in wire.verify_merkle_block(mb)]
            assert sorted(matched) == sorted(call["params"][0])
            assert mb.total_txs == len(entry["txids_in_block"])
            # our builder gives namecoind's bytes
            block = wire.parse_block(bytes.fromhex(rpc(load_json(REGTEST / _block_file(entry["hash"])), "getblock", 0)))
            built = wire.build_merkle_block(block, [wire.hex_to_hash(t) for t in call["params"][0]])
            assert wire.encode_merkle_block(built) == bytes.fromhex(call["result"])
            checked += 1
    assert checked >= 2 * len(entries)


def test_merkle_block_tampered_hash_fails() -> None:
    entries = load_json(REGTEST / "proofs" / "multi_tx_proofs.json")
    raw = bytes.fromhex(entries[0]["rpc"][0]["result"])
    mb = wire.parse_merkle_block(raw)
    hashes = list(mb.hashes)
    hashes[0] = bytes(32)
    bad = wire.MerkleBlock(header=mb.header, auxpow=mb.auxpow, total_txs=mb.total_txs, hashes=tuple(hashes), flags=mb.flags)
    with pytest.raises(VerificationError) as exc:
        wire.verify_merkle_block(bad)
    assert exc.value.code == ErrorCode.WIRE_MERKLE_MISMATCH


# --- mainnet vectors ----------------------------------------------------------------------


def _electrumx_block(height: int) -> dict[str, Any]:
    data: dict[str, Any] = load_json(MAINNET / "electrumx" / "blocks" / f"namecoin_mainnet_{height}.json")
    return data


def test_mainnet_19200_first_auxpow_block() -> None:
    doc = _electrumx_block(19200)
    raw = bytes.fromhex(doc["block"])
    block = wire.parse_block(raw)
    assert wire.hash_to_hex(block.hash) == doc["hash"]
    assert [wire.hash_to_hex(t.txid) for t in block.txs] == doc["tx"]
    assert wire.hash_to_hex(block.header.merkle_root) == doc["merkleroot"]
    assert wire.hash_to_hex(block.header.prev_hash) == doc["previousblockhash"]
    assert len(raw) == doc["size"] == 678
    assert block.header.version == 0x00010101
    assert block.header.is_auxpow and block.header.chain_id == 1
    assert block.auxpow is not None
    assert len(wire.encode_header(block.header) + wire.encode_auxpow(block.auxpow)) == 542
    parent_hash = wire.sha256d(wire.encode_header(block.auxpow.parent_header))
    assert wire.hash_to_hex(parent_hash) == "0000000000003d47277359fb969c43e3c7e7c0306a17f6444b8e91e19def03a9"
    script = block.auxpow.coinbase_tx.inputs[0].script_sig
    assert wire.MERGED_MINING_HEADER + bytes.fromhex(doc["hash"]) + bytes.fromhex("0100000000000000") in script
    assert wire.encode_block(block) == raw
    assert wire.coinbase_height(block.txs[0]) is None or wire.coinbase_height(block.txs[0]) != 19200  # pre-BIP34

    # own hash does not meet the target; the parent's does
    with pytest.raises(VerificationError) as exc:
        wire.verify_pow(block.header, None)
    assert exc.value.code == ErrorCode.AUXPOW_MISSING
    plain = wire.BlockHeader(
        version=0x00010001,
        prev_hash=block.header.prev_hash,
        merkle_root=block.header.merkle_root,
        time_s=block.header.time_s,
        bits=block.header.bits,
        nonce=block.header.nonce,
    )
    with pytest.raises(VerificationError) as exc:
        wire.verify_pow(plain, None)
    assert exc.value.code == ErrorCode.WIRE_BAD_POW
    assert int.from_bytes(block.hash, "little") > wire.bits_to_target(block.header.bits)
    wire.verify_pow(block.header, block.auxpow, chain_id=MAIN_PARAMS.auxpow_chain_id)


def test_mainnet_19204_plain_block() -> None:
    doc = _electrumx_block(19204)
    raw = bytes.fromhex(doc["block"])
    block = wire.parse_block(raw)
    assert wire.hash_to_hex(block.hash) == doc["hash"]
    assert [wire.hash_to_hex(t.txid) for t in block.txs] == doc["tx"]
    assert block.auxpow is None and not block.header.is_auxpow
    assert block.header.version == 0x00010001 and block.header.chain_id == 1
    assert block.header.time_s == doc["time"] and block.header.nonce == doc["nonce"]
    assert f"{block.header.bits:08x}" == doc["bits"]
    assert len(raw) == doc["size"]
    assert wire.encode_block(block) == raw
    wire.verify_pow(block.header, None)
    with pytest.raises(VerificationError) as exc:
        wire.verify_pow(block.header, _electrumx_auxpow())
    assert exc.value.code == ErrorCode.AUXPOW_UNEXPECTED


def _electrumx_auxpow() -> wire.AuxPow:
    auxpow = wire.parse_block(bytes.fromhex(_electrumx_block(19200)["block"])).auxpow
    assert auxpow is not None
    return auxpow


def _auxpow_headers() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load_json(MAINNET / "electrum-nmc" / "test_auxpow_headers.json")["headers"]
    return data


@pytest.mark.parametrize("entry", _auxpow_headers(), ids=lambda e: e["name"])
def test_electrum_nmc_auxpow_headers(entry: dict[str, Any]) -> None:
    raw = bytes.fromhex(entry["hex"])
    assert len(raw) == entry["bytes"]
    header, auxpow = wire.parse_header(raw)
    parsed = entry["parsed"]
    assert wire.hash_to_hex(header.hash) == parsed["hash"]
    assert wire.hash_to_hex(header.prev_hash) == parsed["prev"]
    assert wire.hash_to_hex(header.merkle_root) == parsed["merkle"]
    assert header.version == int(parsed["version"], 16)
    assert header.bits == int(parsed["bits"], 16)
    assert header.chain_id == parsed["chain_id"] == 1
    assert header.is_auxpow == parsed["auxpow_flag"]
    if "expected_prev_hash" in entry:
        assert wire.hash_to_hex(header.prev_hash) == entry["expected_prev_hash"]
    if "expected_target" in entry:
        assert wire.bits_to_target(header.bits) == int(entry["expected_target"], 16)
    if "expected_target_from_bits" in entry:
        assert header.bits == int(entry["expected_target_from_bits"], 16)
    network = Network(entry["network"])
    p = params_for(network)
    if auxpow is None:
        assert len(raw) == 80
        wire.verify_pow(header, None)
        return
    a = parsed["auxpow"]
    assert wire.hash_to_hex(auxpow.coinbase_tx.txid) == a["coinbase_txid"]
    assert len(wire.encode_tx(auxpow.coinbase_tx)) == a["coinbase_len"]
    assert [wire.hash_to_hex(h) for h in auxpow.coinbase_branch] == a["merkle_branch"]
    assert [wire.hash_to_hex(h) for h in auxpow.chain_branch] == a["chain_merkle_branch"]
    assert auxpow.coinbase_index == a["index"]
    assert auxpow.chain_index == a["chain_index"]
    assert auxpow.parent_header.version == a["parent_version"]
    assert wire.hash_to_hex(wire.sha256d(wire.encode_header(auxpow.parent_header))) == a["parent_hash"]
    assert auxpow.coinbase_tx.inputs[0].script_sig.hex() == a["coinbase_scriptsig"]
    wire.verify_auxpow(header, auxpow, chain_id=p.auxpow_chain_id, strict_chain_id=p.strict_chain_id)
    wire.verify_pow(header, auxpow, chain_id=p.auxpow_chain_id, strict_chain_id=p.strict_chain_id)
    assert wire.encode_header(header) + wire.encode_auxpow(auxpow) == raw


def test_electrum_nmc_special_shapes() -> None:
    by_name = {e["name"]: wire.parse_header(bytes.fromhex(e["hex"])) for e in _auxpow_headers()}
    _, legacy = by_name["namecoin_header_19414"]
    assert legacy is not None and wire.MERGED_MINING_HEADER not in legacy.coinbase_tx.inputs[0].script_sig
    assert legacy.chain_branch == ()
    _, marked = by_name["namecoin_header_37174"]
    assert marked is not None and wire.MERGED_MINING_HEADER in marked.coinbase_tx.inputs[0].script_sig
    assert (len(marked.coinbase_branch), len(marked.chain_branch), marked.chain_index) == (5, 4, 11)
    _, zero_out = by_name["header_zero_output_auxpow"]
    assert zero_out is not None and zero_out.coinbase_tx.outputs == ()


def test_libdohj_auxpow_is_19414_without_header() -> None:
    raw = (MAINNET / "libdohj" / "auxpow_header_no_tx_header.bin").read_bytes()
    full = next(e for e in _auxpow_headers() if e["name"] == "namecoin_header_19414")
    full_raw = bytes.fromhex(full["hex"])
    assert raw == full_raw[80:]
    auxpow = wire.parse_auxpow(raw)
    header, from_full = wire.parse_header(full_raw)
    assert auxpow == from_full
    assert wire.encode_auxpow(auxpow) == raw
    wire.verify_auxpow(header, auxpow, chain_id=1)


# --- AuxPoW rule by rule (namecoin-core CAuxPow::check) ------------------------------------


def _regtest_auxpow_block() -> tuple[wire.BlockHeader, wire.AuxPow]:
    doc = load_json(next((REGTEST / "blocks").glob("0111-*.json")))
    header, auxpow = wire.parse_header(bytes.fromhex(rpc(doc, "getblockheader", False)))
    assert auxpow is not None
    return header, auxpow


def _with_script(auxpow: wire.AuxPow, script: bytes) -> wire.AuxPow:
    """The same AuxPoW with another coinbase scriptSig and a one-leaf parent tree fixed up."""
    cb = auxpow.coinbase_tx
    txin = wire.TxIn(prevout=cb.inputs[0].prevout, script_sig=script, sequence=cb.inputs[0].sequence)
    new_cb = wire.Tx.create(version=cb.version, inputs=(txin, *cb.inputs[1:]), outputs=cb.outputs, locktime=cb.locktime)
    parent = auxpow.parent_header
    new_parent = wire.BlockHeader(
        version=parent.version,
        prev_hash=parent.prev_hash,
        merkle_root=wire.root_from_branch(new_cb.txid, auxpow.coinbase_branch, 0),
        time_s=parent.time_s,
        bits=parent.bits,
        nonce=parent.nonce,
    )
    return wire.AuxPow(
        coinbase_tx=new_cb,
        parent_block_hash=auxpow.parent_block_hash,
        coinbase_branch=auxpow.coinbase_branch,
        coinbase_index=auxpow.coinbase_index,
        chain_branch=auxpow.chain_branch,
        chain_index=auxpow.chain_index,
        parent_header=new_parent,
    )


def _replace(auxpow: wire.AuxPow, **changes: Any) -> wire.AuxPow:
    fields = {f: getattr(auxpow, f) for f in wire.AuxPow.__dataclass_fields__}
    fields.update(changes)
    return wire.AuxPow(**fields)


def _expect_auxpow_error(header: wire.BlockHeader, auxpow: wire.AuxPow, code: ErrorCode, **kw: Any) -> None:
    with pytest.raises(VerificationError) as exc:
        wire.verify_auxpow(header, auxpow, chain_id=1, check_pow=False, **kw)
    assert exc.value.code == code


def test_auxpow_rules() -> None:
    header, auxpow = _regtest_auxpow_block()
    wire.verify_auxpow(header, auxpow, chain_id=1)
    committed = header.hash[::-1]
    tail = wire.struct.pack("<II", 1, 0)
    # marker + root + size + nonce, with the root early and late
    wire.verify_auxpow(header, _with_script(auxpow, b"\x01\x02" + wire.MERGED_MINING_HEADER + committed + tail), chain_id=1, check_pow=False)
    wire.verify_auxpow(header, _with_script(auxpow, b"\x00" * 40 + wire.MERGED_MINING_HEADER + committed + tail), chain_id=1, check_pow=False)
    # legacy: no marker, root within the first 20 bytes only
    wire.verify_auxpow(header, _with_script(auxpow, b"\x00" * 20 + committed + tail), chain_id=1, check_pow=False)
    _expect_auxpow_error(header, _with_script(auxpow, b"\x00" * 21 + committed + tail), ErrorCode.AUXPOW_BAD_COMMITMENT)
    # two markers
    two = b"\x00" + wire.MERGED_MINING_HEADER + committed + tail + wire.MERGED_MINING_HEADER
    _expect_auxpow_error(header, _with_script(auxpow, two), ErrorCode.AUXPOW_BAD_COMMITMENT)
    # marker not right before the root
    _expect_auxpow_error(header, _with_script(auxpow, wire.MERGED_MINING_HEADER + b"\x00" + committed + tail), ErrorCode.AUXPOW_BAD_COMMITMENT)
    # root missing / in wire order instead of reversed
    _expect_auxpow_error(header, _with_script(auxpow, wire.MERGED_MINING_HEADER + header.hash + tail), ErrorCode.AUXPOW_BAD_COMMITMENT)
    # size/nonce missing, wrong size
    _expect_auxpow_error(header, _with_script(auxpow, wire.MERGED_MINING_HEADER + committed + b"\x01\x00\x00"), ErrorCode.AUXPOW_BAD_COMMITMENT)
    _expect_auxpow_error(header, _with_script(auxpow, wire.MERGED_MINING_HEADER + committed + wire.struct.pack("<II", 2, 0)), ErrorCode.AUXPOW_BAD_INDEX)
    # wrong chain index for a one-level chain tree
    sibling = bytes(range(32))
    root = wire.root_from_branch(header.hash, (sibling,), 0)
    nonce = next(n for n in range(100) if wire.expected_chain_index(n, 1, 1) == 1)
    good = _replace(_with_script(auxpow, wire.MERGED_MINING_HEADER + root[::-1] + wire.struct.pack("<II", 2, nonce)), chain_branch=(sibling,))
    _expect_auxpow_error(header, good, ErrorCode.AUXPOW_BAD_INDEX)  # committed at slot 0, nonce picks slot 1
    fixed_root = wire.root_from_branch(header.hash, (sibling,), 1)
    good = _replace(_with_script(auxpow, wire.MERGED_MINING_HEADER + fixed_root[::-1] + wire.struct.pack("<II", 2, nonce)), chain_branch=(sibling,), chain_index=1)
    wire.verify_auxpow(header, good, chain_id=1, check_pow=False)
    wrong_nonce = next(n for n in range(100) if wire.expected_chain_index(n, 1, 1) == 0)
    bad = _replace(_with_script(auxpow, wire.MERGED_MINING_HEADER + fixed_root[::-1] + wire.struct.pack("<II", 2, wrong_nonce)), chain_branch=(sibling,), chain_index=1)
    _expect_auxpow_error(header, bad, ErrorCode.AUXPOW_BAD_INDEX)
    # branch too long
    _expect_auxpow_error(header, _replace(auxpow, chain_branch=(sibling,) * 31), ErrorCode.AUXPOW_BAD_BRANCH)
    # coinbase not in the parent's tree
    parent = auxpow.parent_header
    moved = wire.BlockHeader(version=parent.version, prev_hash=parent.prev_hash, merkle_root=bytes(32), time_s=parent.time_s, bits=parent.bits, nonce=parent.nonce)
    _expect_auxpow_error(header, _replace(auxpow, parent_header=moved), ErrorCode.AUXPOW_BAD_BRANCH)
    # parent with our chain id (strict) vs. lenient testnet
    ours = _replace(auxpow, parent_header=wire.BlockHeader(version=0x00010000 | parent.version, prev_hash=parent.prev_hash, merkle_root=parent.merkle_root, time_s=parent.time_s, bits=parent.bits, nonce=parent.nonce))
    _expect_auxpow_error(header, ours, ErrorCode.AUXPOW_BAD_CHAIN_ID)
    wire.verify_auxpow(header, ours, chain_id=1, strict_chain_id=False, check_pow=False)
    # the committed hash is the block's: another header fails
    other = wire.BlockHeader(version=header.version, prev_hash=header.prev_hash, merkle_root=header.merkle_root, time_s=header.time_s + 1, bits=header.bits, nonce=header.nonce)
    _expect_auxpow_error(other, auxpow, ErrorCode.AUXPOW_BAD_COMMITMENT)
    # parent PoW against the block's bits
    hard = wire.BlockHeader(version=header.version, prev_hash=header.prev_hash, merkle_root=header.merkle_root, time_s=header.time_s, bits=0x03000001, nonce=header.nonce)
    with pytest.raises(WaypostError):
        wire.verify_auxpow(hard, auxpow, chain_id=1)


def test_block_chain_id_rule() -> None:
    # namecoin-core auxpow_tests auxpow_pow: version 1 (legacy) passes, version 2 (chain id 0)
    # and a foreign chain id fail under fStrictChainId; testnet is lenient
    genesis = load_json(next((REGTEST / "blocks").glob("0000-*.json")))
    header, _ = wire.parse_header(bytes.fromhex(rpc(genesis, "getblockheader", False)))
    assert header.version == 1
    wire.verify_pow(header, None)
    for version in (2, 0x00020004):
        other = wire.BlockHeader(version=version, prev_hash=header.prev_hash, merkle_root=header.merkle_root, time_s=header.time_s, bits=header.bits, nonce=header.nonce)
        with pytest.raises(VerificationError) as exc:
            wire.verify_pow(other, None)
        assert exc.value.code == ErrorCode.AUXPOW_BAD_CHAIN_ID
        try:
            wire.verify_pow(other, None, strict_chain_id=False)
        except VerificationError as err:  # only PoW may fail once the chain id is not checked
            assert err.code == ErrorCode.WIRE_BAD_POW


def test_expected_chain_index_matches_namecoin_core() -> None:
    # namecoin-core auxpow_tests.cpp check_auxpow: getExpectedIndex uses uint32 wrap-around
    assert wire.expected_chain_index(0, 1, 0) == 0
    for nonce in (0, 1, 7, 0xFFFFFFFF, 123456789):
        for h in (1, 5, 30):
            r = (nonce * 1103515245 + 12345) % 2**32
            r = (r + 1) % 2**32
            r = (r * 1103515245 + 12345) % 2**32
            assert wire.expected_chain_index(nonce, 1, h) == r % (1 << h)


# --- primitives ---------------------------------------------------------------------------


def test_hex_hash_round_trip() -> None:
    h = bytes(range(32))
    assert wire.hex_to_hash(wire.hash_to_hex(h)) == h
    for bad in ("zz", "00" * 31):
        with pytest.raises(ParseError):
            wire.hex_to_hash(bad)


def test_merkle_root_and_branches() -> None:
    leaves = [wire.sha256d(bytes([i])) for i in range(7)]
    root = wire.merkle_root(leaves)
    for i in range(7):
        assert wire.root_from_branch(leaves[i], wire.merkle_branch(leaves, i), i) == root
    assert wire.merkle_root(leaves[:1]) == leaves[0]
    assert wire.merkle_root(leaves[:3]) == wire.sha256d(
        wire.sha256d(leaves[0] + leaves[1]) + wire.sha256d(leaves[2] + leaves[2])
    )
    with pytest.raises(ParseError):
        wire.merkle_branch(leaves, 7)


def test_bits_to_target() -> None:
    assert wire.bits_to_target(0x1D00FFFF) == 0xFFFF << 208
    assert wire.bits_to_target(0x207FFFFF) == 0x7FFFFF << 232
    assert wire.bits_to_target(0x03123456) == 0x123456
    assert wire.bits_to_target(0x01003456) == 0
    for bits in (0x1D00FFFF, 0x1B00B269, 0x207FFFFF, 0x1A242A4A):
        assert wire.target_to_bits(wire.bits_to_target(bits)) == bits
    for bad in (0x04923456, 0xFF123456):
        with pytest.raises(ParseError) as exc:
            wire.bits_to_target(bad)
        assert exc.value.code == ErrorCode.WIRE_BAD_BITS


def test_varint_rules() -> None:
    for n in (0, 0xFC, 0xFD, 0xFFFF, 0x10000, wire.MAX_SIZE):
        assert wire._read_varint(wire.encode_varint(n), 0) == (n, len(wire.encode_varint(n)))
    for raw in (b"\xfd\xfc\x00", b"\xfe\xff\xff\x00\x00", b"\xff" + (5).to_bytes(8, "little")):
        with pytest.raises(ParseError) as exc:
            wire._read_varint(raw, 0)
        assert exc.value.code == ErrorCode.WIRE_VARINT
    with pytest.raises(ParseError) as exc:
        wire._read_varint(wire.encode_varint(wire.MAX_SIZE + 1), 0)
    assert exc.value.code == ErrorCode.WIRE_OVERSIZE


def _a_block_raw() -> bytes:
    doc = load_json(next((REGTEST / "blocks").glob("0124-*.json")))
    return bytes.fromhex(rpc(doc, "getblock", 0))


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda r: r[:-1], ErrorCode.WIRE_TRUNCATED),
        (lambda r: r[:79], ErrorCode.WIRE_TRUNCATED),
        (lambda r: r + b"\x00", ErrorCode.WIRE_TRAILING),
        (lambda r: b"", ErrorCode.WIRE_TRUNCATED),
    ],
    ids=["cut-last-byte", "cut-header", "trailing", "empty"],
)
def test_malformed_block(mutate: Any, code: ErrorCode) -> None:
    with pytest.raises(ParseError) as exc:
        wire.parse_block(mutate(_a_block_raw()))
    assert exc.value.code == code


def test_absurd_counts_rejected_before_allocating() -> None:
    # a tx claiming 2^25 inputs in a 20-byte buffer
    raw = (1).to_bytes(4, "little") + b"\xfe" + wire.MAX_SIZE.to_bytes(4, "little") + bytes(10)
    with pytest.raises(ParseError) as exc:
        wire.parse_tx(raw)
    assert exc.value.code == ErrorCode.WIRE_OVERSIZE
    header_only = bytes.fromhex(rpc(load_json(next((REGTEST / "blocks").glob("0000-*.json"))), "getblock", 0))[:80]
    with pytest.raises(ParseError) as exc:
        wire.parse_block(header_only + b"\xfe\xff\xff\xff\x01")
    assert exc.value.code == ErrorCode.WIRE_OVERSIZE


def test_wrong_merkle_root() -> None:
    raw = bytearray(_a_block_raw())
    raw[36] ^= 1  # first byte of the merkle root
    with pytest.raises(VerificationError) as exc:
        wire.parse_block(bytes(raw))
    assert exc.value.code == ErrorCode.WIRE_MERKLE_MISMATCH
    assert wire.parse_block(bytes(raw), verify_merkle=False).header.merkle_root[0] == raw[36]


def test_duplicated_tx_mutation_detected() -> None:
    # CVE-2012-2459: [a, b, c] and [a, b, c, c] share a root; the latter must be refused
    block = wire.parse_block(_a_block_raw())
    txs = block.txs[:3]
    header = wire.BlockHeader(
        version=block.header.version,
        prev_hash=block.header.prev_hash,
        merkle_root=wire.merkle_root([t.txid for t in txs]),
        time_s=block.header.time_s,
        bits=block.header.bits,
        nonce=block.header.nonce,
    )
    ok = wire.Block(header=header, auxpow=block.auxpow, txs=txs)
    wire.parse_block(wire.encode_block(ok))
    dup = wire.Block(header=header, auxpow=block.auxpow, txs=(*txs, txs[-1]))
    with pytest.raises(VerificationError) as exc:
        wire.parse_block(wire.encode_block(dup))
    assert exc.value.code == ErrorCode.WIRE_MERKLE_MISMATCH


def test_segwit_rules() -> None:
    txin = wire.TxIn(prevout=wire.OutPoint(txid=wire.Txid(bytes(range(32))), vout=1), script_sig=b"", sequence=0xFFFFFFFD, witness=(b"\x01" * 71, b"\x02" * 33))
    txout = wire.TxOut(value_sat=5000, script=b"\x00\x14" + bytes(20))
    tx = wire.Tx.create(version=2, inputs=[txin], outputs=[txout], locktime=7)
    raw = wire.encode_tx(tx)
    assert raw[4:6] == b"\x00\x01"
    assert wire.parse_tx(raw) == tx
    assert tx.txid == wire.sha256d(wire.encode_tx(tx, include_witness=False)) != tx.wtxid
    # unknown flag byte
    with pytest.raises(ParseError) as exc:
        wire.parse_tx(raw[:5] + b"\x02" + raw[6:])
    assert exc.value.code == ErrorCode.WIRE_BAD_TX
    # marker + flag but every witness empty: "superfluous witness record"
    empty = wire.Tx.create(version=2, inputs=[wire.TxIn(prevout=txin.prevout, script_sig=b"", sequence=0)], outputs=[txout])
    stripped = wire.encode_tx(empty)
    superfluous = stripped[:4] + b"\x00\x01" + stripped[4:-4] + b"\x00" + stripped[-4:]
    with pytest.raises(ParseError) as exc:
        wire.parse_tx(superfluous)
    assert exc.value.code == ErrorCode.WIRE_BAD_TX


def test_coinbase_height_forms() -> None:
    def cb(script: bytes) -> wire.Tx:
        txin = wire.TxIn(prevout=wire.OutPoint(txid=wire.Txid(wire.NULL_HASH), vout=wire.COINBASE_VOUT), script_sig=script, sequence=0xFFFFFFFF)
        return wire.Tx.create(version=1, inputs=[txin], outputs=[])

    assert wire.coinbase_height(cb(b"\x51\x00")) == 1
    assert wire.coinbase_height(cb(b"\x60")) == 16
    assert wire.coinbase_height(cb(b"\x01\x11")) == 17
    assert wire.coinbase_height(cb(b"\x03\x00\x4b\x00")) == 19200
    assert wire.coinbase_height(cb(b"\x01\x80")) is None
    assert wire.coinbase_height(cb(b"")) is None
    assert wire.coinbase_height(cb(b"\x03\x00")) is None


def test_index_json_blocks_consistent() -> None:
    index = load_json(REGTEST / "blocks" / "index.json")
    assert len({b["hash"] for b in index}) == 166
    assert sum(1 for b in index if b["auxpow"]) == 165
    for entry in index:
        doc = load_json(REGTEST / entry["file"])
        block = wire.parse_block(bytes.fromhex(rpc(doc, "getblock", 0)))
        assert len(block.txs) == entry["n_tx"]
        assert (block.auxpow is not None) == entry["auxpow"]


def test_lazy_tx_behaves_like_a_value() -> None:
    import copy
    import dataclasses
    import pickle

    raw = _a_block_raw()
    tx = wire.parse_block(raw).txs[1]
    fresh = wire.parse_block(raw).txs[1]
    assert "inputs" not in fresh.__dict__  # not decoded until asked for
    assert pickle.loads(pickle.dumps(fresh)) == tx
    assert copy.deepcopy(wire.parse_block(raw).txs[1]) == tx
    assert hash(wire.parse_block(raw).txs[1]) == hash(tx)
    changed = dataclasses.replace(wire.parse_block(raw).txs[1], locktime=tx.locktime + 1)
    assert changed.inputs == tx.inputs and changed != tx
    with pytest.raises(dataclasses.FrozenInstanceError):
        tx.version = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        _ = tx.nonexistent  # type: ignore[attr-defined]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_merkle_branches_equal_single_branches(n: int) -> None:
    from waypost.indexer.wire import merkle_branch, merkle_branches, merkle_root, root_from_branch

    leaves = [bytes([i]) * 32 for i in range(n)]
    many = merkle_branches(leaves, list(range(n)))
    assert many == [merkle_branch(leaves, i) for i in range(n)]
    assert all(root_from_branch(leaves[i], many[i], i) == merkle_root(leaves) for i in range(n))
