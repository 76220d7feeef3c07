"""namecoind's JSON-RPC methods over a ``SimChain`` (simulator; no sockets).

``Dispatcher.call(method, params, wallet)`` returns a JSON-ready value or raises
``RpcFailure`` with namecoind's code and message. The HTTP server is in ``rpc_server``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from waypost.indexer import names as wnames
from waypost.indexer.wire import (
    NAMECOIN_TX_VERSION,
    Block,
    build_merkle_block,
    OutPoint,
    Tx,
    TxIn,
    TxOut,
    encode_auxpow,
    encode_header,
    encode_merkle_block,
    encode_tx,
    hash_to_hex,
    parse_auxpow,
    parse_merkle_block,
    parse_tx,
    verify_auxpow,
)
from waypost.regtest.chain import (
    COIN,
    MAX_NAME_LENGTH,
    NAME_EXPIRY_BLOCKS_REGTEST,
    NAME_LOCKED_SAT,
    REGTEST_BITS,
    BlockEntry,
    NameEntry,
    RpcFailure,
    SimChain,
    Wallet,
    address_script,
    name_op_of,
    subsidy_sat,
    tx_vsize,
)
from waypost.regtest.jsonfmt import (
    ENCODINGS,
    amount,
    auxpow_json,
    decode_text,
    difficulty,
    header_json,
    name_fields,
    script_json,
    target_hex,
    tx_json,
)
from waypost.regtest.script import script_address

__all__ = ["Dispatcher", "MAX_VALUE_LENGTH_UI", "WARNING"]

MAX_VALUE_LENGTH_UI = 520  # namecoin-core: wallet RPCs refuse values over 520 bytes
WARNING = "This is a pre-release test build - use at your own risk - do not use for mining or merchant applications"
_NODE_VERSION = 319900
_SUBVERSION = "/Satoshi:31.99.0/"

Handler = Callable[["Dispatcher", "str | None", list[Any]], Any]
_METHODS: dict[str, tuple[Handler, int, int, bool, str]] = {}


def _rpc(name: str, min_args: int, max_args: int, usage: str, *, wallet: bool = False) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        _METHODS[name] = (fn, min_args, max_args, wallet, usage)
        return fn

    return deco


def _h(text: Any, what: str = "hash") -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise RpcFailure(-8, f"{what} must be of length 64 (not {len(text) if isinstance(text, str) else 0}, for '{text}')")
    try:
        return bytes.fromhex(text)[::-1]
    except ValueError as exc:
        raise RpcFailure(-8, f"{what} must be hexadecimal string (not '{text}')") from exc


def _hex(text: Any) -> bytes:
    if not isinstance(text, str):
        raise RpcFailure(-3, "Expected type string")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise RpcFailure(-22, "TX decode failed") from exc


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise RpcFailure(-3, f"JSON value of type {_jtype(v)} for field {what} is not of expected type number")
    return v


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float | Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _sat(v: Any) -> int:
    try:
        d = Decimal(str(v))
    except InvalidOperation as exc:
        raise RpcFailure(-3, "Invalid amount") from exc
    if d < 0:
        raise RpcFailure(-3, "Amount out of range")
    sat = d * COIN
    if sat != sat.to_integral_value():
        raise RpcFailure(-3, "Invalid amount")
    return int(sat)


def _opts(v: Any) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise RpcFailure(-3, f"JSON value of type {_jtype(v)} is not of expected type object")
    return v


def _enc(opts: dict[str, Any], key: str) -> str:
    enc = opts.get(key, "ascii")
    if enc not in ENCODINGS:
        raise RpcFailure(-8, f"invalid {key}: {enc}")
    return str(enc)


def _decode(text: Any, enc: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise RpcFailure(-3, f"JSON value of type {_jtype(text)} is not of expected type string")
    data = decode_text(text, enc)
    if data is None:
        raise RpcFailure(-1000, f"{what} can not be decoded with encoding {enc}")
    return data


class Dispatcher:
    """Routes JSON-RPC calls to the simulated node.

    Args:
        chain: the node state.
        zmq_url: the ZMQ endpoint to report in ``getzmqnotifications`` (None: none).
    """

    def __init__(self, chain: SimChain, *, zmq_url: str | None = None) -> None:
        self.chain = chain
        self.zmq_url = zmq_url

    def call(self, method: str, params: Any, wallet: str | None) -> Any:
        """Run one call; raises RpcFailure."""
        spec = _METHODS.get(method)
        if spec is None:
            raise RpcFailure(-32601, "Method not found")
        fn, lo, hi, _, usage = spec
        if params is None:
            params = []
        if isinstance(params, dict):
            raise RpcFailure(-8, "Named parameters are not supported by this node")
        if not isinstance(params, list):
            raise RpcFailure(-32600, "Params must be an array or object")
        # bitcoin RPCHelpMan: a wrong argument count answers -1 with the help text
        while params and len(params) > lo and params[-1] is None:
            params = params[:-1]
        if not lo <= len(params) <= hi:
            raise RpcFailure(-1, f"{method} {usage}\n")
        with self.chain.lock:
            return fn(self, wallet, list(params))

    # ------------------------------------------------------------------ helpers

    def _block(self, text: Any) -> BlockEntry:
        h = _h(text, "blockhash")
        e = self.chain.blocks.get(h)
        if e is None:
            raise RpcFailure(-5, "Block not found")
        return e

    def _header_obj(self, e: BlockEntry) -> dict[str, Any]:
        c = self.chain
        out = header_json(e.block.header)
        if e.height > 0:
            out["previousblockhash"] = hash_to_hex(e.block.header.prev_hash)
        out["confirmations"] = c.height - e.height + 1 if c.is_active(e.hash) else -1
        out["height"] = e.height
        out["mediantime"] = c.median_time_past(e.hash)
        out["target"] = target_hex(e.block.header.bits)
        out["chainwork"] = f"{e.work:064x}"
        out["nTx"] = len(e.block.txs)
        if c.is_active(e.hash) and e.height < c.height:
            out["nextblockhash"] = hash_to_hex(c.active[e.height + 1])
        return out

    def _full_header_hex(self, e: BlockEntry) -> str:
        raw = encode_header(e.block.header)
        if e.block.auxpow is not None:
            raw += encode_auxpow(e.block.auxpow)
        return raw.hex()

    def _fee_of(self, tx: Tx) -> int | None:
        total = 0
        for i in tx.inputs:
            found = self.chain.find_tx(i.prevout.txid)
            if found is None:
                return None
            total += found[0].outputs[i.prevout.vout].value_sat
        return total - sum(o.value_sat for o in tx.outputs)

    def _prevouts(self, tx: Tx) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in tx.inputs:
            found = self.chain.find_tx(i.prevout.txid)
            if found is None:
                continue
            prev, entry = found
            o = prev.outputs[i.prevout.vout]
            out.append({
                "generated": prev.is_coinbase, "height": entry.height if entry is not None else -1,
                "value": amount(o.value_sat), "scriptPubKey": script_json(o.script),
            })
        return out

    def _name_json(self, e: NameEntry, opts: dict[str, Any], w: Wallet | None = None) -> dict[str, Any]:
        out = name_fields(e.name, e.value, _enc(opts, "nameEncoding"), _enc(opts, "valueEncoding"))
        out["txid"] = hash_to_hex(e.txid)
        out["vout"] = e.vout
        out["address"] = script_address(e.address_script) or ""
        expires_in = e.height + NAME_EXPIRY_BLOCKS_REGTEST - self.chain.height
        out["height"] = e.height
        out["expires_in"] = expires_in
        out["expired"] = expires_in <= 0
        if w is not None:
            out["ismine"] = e.address_script in w.scripts
        return out

    def _wallet(self, wallet: str | None) -> Wallet:
        return self.chain.wallet(wallet)

    def _check_name_value(self, name: bytes, value: bytes | None) -> None:
        if len(name) > MAX_NAME_LENGTH:
            raise RpcFailure(-8, "the name is too long")
        if value is not None and len(value) > MAX_VALUE_LENGTH_UI:
            raise RpcFailure(-8, "the value is too long")

    def _dest(self, w: Wallet, opts: dict[str, Any]) -> bytes:
        dest = opts.get("destAddress")
        if dest is None:
            return self.chain._new_script(w)
        return address_script(str(dest))

    def _send_coins(self, opts: dict[str, Any]) -> list[TxOut]:
        extra = opts.get("sendCoins") or {}
        return [TxOut(value_sat=_sat(v), script=address_script(a)) for a, v in extra.items()]


# ---------------------------------------------------------------------- blockchain


@_rpc("getblockchaininfo", 0, 0, "")
def _getblockchaininfo(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    c = d.chain
    tip = c.tip
    return {
        "chain": "regtest",
        "blocks": c.height,
        "headers": max(e.height for e in c.blocks.values()),
        "bestblockhash": hash_to_hex(tip.hash),
        "bits": f"{tip.block.header.bits:08x}",
        "difficulty": difficulty(tip.block.header.bits),
        "target": target_hex(tip.block.header.bits),
        "time": tip.block.header.time_s,
        "mediantime": c.median_time_past(tip.hash),
        "verificationprogress": 1 if c.height else 2.004416507279141e-06,
        "initialblockdownload": c.height == 0,
        "chainwork": f"{tip.work:064x}",
        "size_on_disk": sum(len(e.raw) + 8 for e in c.blocks.values()),
        "pruned": False,
        "warnings": [WARNING],
    }


@_rpc("getnetworkinfo", 0, 0, "")
def _getnetworkinfo(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    nets = [
        {"name": n, "limited": lim, "reachable": not lim, "proxy": "", "proxy_randomize_credentials": False}
        for n, lim in (("ipv4", False), ("ipv6", False), ("onion", True), ("i2p", True), ("cjdns", True))
    ]
    return {
        "version": _NODE_VERSION,
        "subversion": _SUBVERSION,
        "protocolversion": 110017,
        "localservices": "0000000000000c09",
        "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"],
        "localrelay": True,
        "timeoffset": 0,
        "networkactive": True,
        "connections": 0,
        "connections_in": 0,
        "connections_out": 0,
        "networks": nets,
        "relayfee": amount(100_000),
        "incrementalfee": amount(100),
        "localaddresses": [],
        "warnings": [WARNING],
    }


@_rpc("getblockcount", 0, 0, "")
def _getblockcount(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return d.chain.height


@_rpc("getbestblockhash", 0, 0, "")
def _getbestblockhash(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return hash_to_hex(d.chain.active[-1])


@_rpc("getdifficulty", 0, 0, "")
def _getdifficulty(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return difficulty(REGTEST_BITS)


@_rpc("getblockhash", 1, 1, "height")
def _getblockhash(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    h = _int(p[0], "height")
    if not 0 <= h <= d.chain.height:
        raise RpcFailure(-8, "Block height out of range")
    return hash_to_hex(d.chain.active[h])


@_rpc("getblockheader", 1, 2, '"blockhash" ( verbose )')
def _getblockheader(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    e = d._block(p[0])
    verbose = p[1] if len(p) > 1 else True
    if not verbose:
        return d._full_header_hex(e)
    out = d._header_obj(e)
    if e.block.auxpow is not None:
        out["auxpow"] = auxpow_json(e.block.auxpow)
    return out


@_rpc("getblock", 1, 2, '"blockhash" ( verbosity )')
def _getblock(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    e = d._block(p[0])
    verbosity = p[1] if len(p) > 1 else 1
    if isinstance(verbosity, bool):
        verbosity = int(verbosity)
    if verbosity == 0:
        return e.raw.hex()
    out = d._header_obj(e)
    block = e.block
    stripped = len(encode_header(block.header)) + (len(encode_auxpow(block.auxpow)) if block.auxpow else 0)
    stripped_total = stripped + sum(len(encode_tx(t, include_witness=False)) for t in block.txs) + 1
    out["strippedsize"] = stripped_total
    out["size"] = len(e.raw)
    out["weight"] = stripped_total * 3 + len(e.raw)
    cb = block.txs[0]
    cbj: dict[str, Any] = {
        "version": cb.version,
        "locktime": cb.locktime,
        "sequence": cb.inputs[0].sequence,
        "coinbase": cb.inputs[0].script_sig.hex(),
    }
    if cb.inputs[0].witness:
        cbj["witness"] = cb.inputs[0].witness[0].hex()
    out["coinbase_tx"] = cbj
    if verbosity == 1:
        out["tx"] = [hash_to_hex(t.txid) for t in block.txs]
    else:
        txs = []
        for pos, t in enumerate(block.txs):
            fee = d._fee_of(t) if pos else None
            txs.append(tx_json(t, fee_sat=fee, prevouts=d._prevouts(t) if verbosity >= 3 else None))
        out["tx"] = txs
    if block.auxpow is not None:
        out["auxpow"] = auxpow_json(block.auxpow)
    return out


@_rpc("getchaintips", 0, 0, "")
def _getchaintips(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return [
        {"height": e.height, "hash": hash_to_hex(e.hash), "branchlen": branch, "status": status}
        for e, branch, status in d.chain.chain_tips()
    ]


@_rpc("invalidateblock", 1, 1, '"blockhash"')
def _invalidateblock(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    d.chain.invalidate(d._block(p[0]).hash)
    return None


@_rpc("reconsiderblock", 1, 1, '"blockhash"')
def _reconsiderblock(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    d.chain.reconsider(d._block(p[0]).hash)
    return None


@_rpc("getrawtransaction", 1, 3, '"txid" ( verbosity "blockhash" )')
def _getrawtransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    txid = _h(p[0], "parameter 1")
    verbosity = p[1] if len(p) > 1 and p[1] is not None else 0
    if isinstance(verbosity, bool):
        verbosity = int(verbosity)
    bh = d._block(p[2]).hash if len(p) > 2 and p[2] is not None else None
    found = d.chain.find_tx(txid, bh)
    if found is None:
        if bh is not None:
            raise RpcFailure(-5, "No such transaction found in the provided block. Use gettransaction for wallet transactions.")
        raise RpcFailure(-5, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.")
    tx, entry = found
    if not verbosity:
        return encode_tx(tx).hex()
    out: dict[str, Any] = {}
    if bh is not None:
        out["in_active_chain"] = d.chain.is_active(bh)
    if verbosity >= 2 and not tx.is_coinbase:
        out.update(tx_json(tx, fee_sat=d._fee_of(tx), prevouts=d._prevouts(tx)))
    else:
        out.update(tx_json(tx))
    if entry is not None:
        out["blockhash"] = hash_to_hex(entry.hash)
        active = d.chain.is_active(entry.hash)
        out["confirmations"] = d.chain.height - entry.height + 1 if active else 0
        out["time"] = entry.block.header.time_s
        out["blocktime"] = entry.block.header.time_s
    return out


@_rpc("decoderawtransaction", 1, 2, '"hexstring" ( iswitness )')
def _decoderawtransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return tx_json(_parse_tx(p[0]), with_hex=False)


def _parse_tx(text: Any) -> Tx:
    try:
        return parse_tx(_hex(text))
    except RpcFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - ParseError from the wire parser
        raise RpcFailure(-22, "TX decode failed") from exc


@_rpc("gettxout", 2, 3, '"txid" n ( include_mempool )')
def _gettxout(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    txid = _h(p[0], "txid")
    n = _int(p[1], "n")
    c = d.chain
    coin = c.utxo.get((txid, n))
    include_mempool = p[2] if len(p) > 2 else True
    if include_mempool:
        for e in c.mempool.values():
            if any(i.prevout.txid == txid and i.prevout.vout == n for i in e.tx.inputs):
                return None
        if coin is None and txid in c.mempool and n < len(c.mempool[txid].tx.outputs):
            o = c.mempool[txid].tx.outputs[n]
            return {
                "bestblock": hash_to_hex(c.active[-1]), "confirmations": 0, "value": amount(o.value_sat),
                "scriptPubKey": script_json(o.script), "coinbase": False,
            }
    if coin is None:
        return None
    return {
        "bestblock": hash_to_hex(c.active[-1]),
        "confirmations": c.height - coin.height + 1,
        "value": amount(coin.value_sat),
        "scriptPubKey": script_json(coin.script),
        "coinbase": coin.coinbase,
    }


@_rpc("gettxoutproof", 1, 2, '["txid",...] ( "blockhash" )')
def _gettxoutproof(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    if not isinstance(p[0], list) or not p[0]:
        raise RpcFailure(-8, "Parameter 'txids' cannot be empty")
    wanted = [_h(t, "txid") for t in p[0]]
    if len(set(wanted)) != len(wanted):
        raise RpcFailure(-8, f"Invalid parameter, duplicated txid: {p[0][0]}")
    c = d.chain
    entry: BlockEntry | None = None
    if len(p) > 1 and p[1] is not None:
        entry = d._block(p[1])
    else:
        for bh, _ in c.tx_index.get(wanted[0], []):
            if c.is_active(bh):
                entry = c.blocks[bh]
        if entry is None:
            raise RpcFailure(-5, "Transaction not yet in block")
    txids = [t.txid for t in entry.block.txs]
    if not all(w in txids for w in wanted):
        raise RpcFailure(-5, "Not all transactions found in specified or retrieved block")
    mb = build_merkle_block(entry.block, wanted)
    return encode_merkle_block(mb).hex()


@_rpc("verifytxoutproof", 1, 1, '"proof"')
def _verifytxoutproof(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    from waypost.indexer.wire import verify_merkle_block

    try:
        mb = parse_merkle_block(_hex(p[0]))
        matched = verify_merkle_block(mb)
    except RpcFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - wire errors
        raise RpcFailure(-22, "proof is not valid") from exc
    e = d.chain.blocks.get(mb.header.hash)
    if e is None or not d.chain.is_active(e.hash):
        raise RpcFailure(-5, "Block not found in chain")
    return [hash_to_hex(t) for t in matched]


# ---------------------------------------------------------------------- mempool / mining


@_rpc("getrawmempool", 0, 2, "( verbose mempool_sequence )")
def _getrawmempool(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    c = d.chain
    if not (p and p[0]):
        return [hash_to_hex(t) for t in c.mempool]
    out: dict[str, Any] = {}
    for txid, e in c.mempool.items():
        vs = tx_vsize(e.tx)
        fee = amount(e.fee_sat)
        parents = [hash_to_hex(i.prevout.txid) for i in e.tx.inputs if i.prevout.txid in c.mempool]
        children = [hash_to_hex(t) for t, o in c.mempool.items() if any(i.prevout.txid == txid for i in o.tx.inputs)]
        out[hash_to_hex(txid)] = {
            "vsize": vs, "weight": vs * 4, "time": e.time_s, "height": e.height,
            "descendantcount": 1 + len(children), "descendantsize": vs, "ancestorcount": 1 + len(parents),
            "ancestorsize": vs, "wtxid": hash_to_hex(e.tx.wtxid), "chunkweight": vs * 4,
            "fees": {"base": fee, "modified": fee, "ancestor": fee, "descendant": fee, "chunk": fee},
            "depends": parents, "spentby": children, "unbroadcast": True,
        }
    return out


@_rpc("getmempoolinfo", 0, 0, "")
def _getmempoolinfo(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    c = d.chain
    return {
        "loaded": True, "size": len(c.mempool), "bytes": sum(tx_vsize(e.tx) for e in c.mempool.values()),
        "usage": 64, "total_fee": amount(sum(e.fee_sat for e in c.mempool.values())), "maxmempool": 300000000,
        "mempoolminfee": amount(100_000), "minrelaytxfee": amount(100_000), "incrementalrelayfee": amount(100),
        "unbroadcastcount": len(c.mempool), "permitbaremultisig": True, "maxdatacarriersize": 100000,
        "limitclustercount": 64, "limitclustersize": 101000, "optimal": True,
    }


@_rpc("sendrawtransaction", 1, 3, '"hexstring" ( maxfeerate maxburnamount )')
def _sendrawtransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    tx = _parse_tx(p[0])
    for o in tx.outputs:
        op = name_op_of(o.script)
        # bitcoin IsUnspendable(): a push over MAX_SCRIPT_ELEMENT_SIZE (520) makes the
        # script unspendable, so a 1023-byte name value trips -maxburnamount (recorded S04)
        if o.script[:1] == b"\x6a" or (op is not None and len(op.value or b"") > MAX_VALUE_LENGTH_UI):
            raise RpcFailure(-25, "Unspendable output exceeds maximum configured by user (maxburnamount)")
    d.chain.accept_to_mempool(tx)
    return hash_to_hex(tx.txid)


@_rpc("generatetoaddress", 2, 3, 'nblocks "address" ( maxtries )')
def _generatetoaddress(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    n = _int(p[0], "nblocks")
    script = address_script(str(p[1]))
    return [hash_to_hex(h) for h in d.chain.generate(n, script)]


@_rpc("generateblock", 2, 3, '"output" ["rawtx/txid",...] ( submit )')
def _generateblock(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    script = address_script(str(p[0]))
    txs: list[Tx] = []
    for item in p[1]:
        if isinstance(item, str) and len(item) == 64:
            txid = _h(item, "txid")
            e = d.chain.mempool.get(txid)
            if e is None:
                raise RpcFailure(-5, f"Transaction {item} not in mempool.")
            txs.append(e.tx)
        else:
            txs.append(_parse_tx(item))
    return {"hash": hash_to_hex(d.chain.generate_block(script, txs))}


@_rpc("createauxblock", 1, 1, '"address"')
def _createauxblock(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    c = d.chain
    script = address_script(str(p[0]))
    txs, fees = c.template(script)
    block = c.make_block(c.active[-1], txs, script, fees)
    c.pending_aux[block.hash] = block
    return {
        "hash": hash_to_hex(block.hash),
        "chainid": 1,
        "previousblockhash": hash_to_hex(block.header.prev_hash),
        "coinbasevalue": subsidy_sat(c.height + 1) + fees,
        "bits": f"{REGTEST_BITS:08x}",
        "height": c.height + 1,
        "_target": (int(target_hex(REGTEST_BITS), 16)).to_bytes(32, "little").hex(),
    }


@_rpc("submitauxblock", 2, 2, '"hash" "auxpow"')
def _submitauxblock(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    h = _h(p[0], "hash")
    block = d.chain.pending_aux.get(h)
    if block is None:
        raise RpcFailure(-8, "block hash unknown")
    try:
        aux = parse_auxpow(_hex(p[1]))
        verify_auxpow(block.header, aux, chain_id=1)
    except RpcFailure:
        raise
    except Exception:  # noqa: BLE001 - a bad auxpow is "false", as namecoind answers
        return False
    full = Block(header=block.header, auxpow=aux, txs=block.txs)
    del d.chain.pending_aux[h]
    return d.chain.submit_block(full)


# ---------------------------------------------------------------------- wallet basics


@_rpc("createwallet", 1, 8, '"wallet_name" ( ... )')
def _createwallet(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    d.chain.create_wallet(str(p[0]))
    return {"name": str(p[0])}


@_rpc("listwallets", 0, 0, "")
def _listwallets(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return list(d.chain.wallets)


@_rpc("getnewaddress", 0, 2, '( "label" "address_type" )', wallet=True)
def _getnewaddress(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    return d.chain.new_address(w.name, str(p[0]) if p else "")


@_rpc("getrawchangeaddress", 0, 1, '( "address_type" )', wallet=True)
def _getrawchangeaddress(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    return d.chain.new_address(w.name)


@_rpc("getbalances", 0, 0, "", wallet=True)
def _getbalances(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    trusted, pending, immature = d.chain.balances(w)
    return {
        "mine": {
            "trusted": amount(trusted), "untrusted_pending": amount(pending),
            "immature": amount(immature), "nonmempool": amount(0),
        },
        "lastprocessedblock": {"hash": hash_to_hex(d.chain.active[-1]), "height": d.chain.height},
    }


@_rpc("getbalance", 0, 4, "", wallet=True)
def _getbalance(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return amount(d.chain.balances(d._wallet(wallet))[0])


@_rpc("sendtoaddress", 2, 10, '"address" amount ( ... )', wallet=True)
def _sendtoaddress(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    out = TxOut(value_sat=_sat(p[1]), script=address_script(str(p[0])))
    tx = d.chain.fund_and_sign(w, outputs=[out])
    return hash_to_hex(d.chain.commit_wallet_tx(w, tx, ""))


@_rpc("listunspent", 0, 5, "( minconf maxconf ... )", wallet=True)
def _listunspent(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    out = []
    for (txid, n), coin in d.chain.wallet_coins(w):
        out.append({
            "txid": hash_to_hex(txid), "vout": n, "address": script_address(coin.script) or "",
            "amount": amount(coin.value_sat), "confirmations": d.chain.height - coin.height + 1 if coin.height >= 0 else 0,
            "spendable": True, "solvable": True, "safe": True,
        })
    return out


def _wallet_tx_json(d: Dispatcher, w: Wallet, txid: bytes) -> dict[str, Any]:
    c = d.chain
    wtx = w.txs.get(txid)
    tx: Tx
    if wtx is None:
        found = c.find_tx(txid)
        if found is None:
            raise RpcFailure(-5, "Invalid or non-wallet transaction id")
        tx = found[0]
        time_s = found[1].block.header.time_s if found[1] is not None else c.clock()
        abandoned = False
    else:
        tx, time_s, abandoned = wtx.tx, wtx.time_s, wtx.abandoned
    depth = c.tx_depth(txid)
    conflict = c._conflict_depth(tx) if depth == 0 else 0
    confirmations = depth if depth else -conflict
    in_mempool = txid in c.mempool
    fee = d._fee_of(tx)
    nop = c._tx_name_op(tx)
    mine_out = sum(o.value_sat for o in tx.outputs if w.owns(o.script) and name_op_of(o.script) is None)
    ins_mine = 0
    for i in tx.inputs:
        found = c.find_tx(i.prevout.txid)
        if found is not None:
            o = found[0].outputs[i.prevout.vout]
            if w.owns(o.script) and name_op_of(o.script) is None:
                ins_mine += o.value_sat
    net = mine_out - ins_mine + (fee or 0) if ins_mine else mine_out
    conflicts: set[bytes] = set()
    ops = {(i.prevout.txid, i.prevout.vout) for i in tx.inputs}
    for other_id, other in w.txs.items():
        if other_id != txid and any((i.prevout.txid, i.prevout.vout) in ops for i in other.tx.inputs):
            conflicts.add(other_id)
    for op in ops:
        s = c.spenders.get(op)
        if s is not None and s != txid:
            conflicts.add(s)
    out: dict[str, Any] = {"amount": amount(net)}
    if ins_mine and fee is not None:
        out["fee"] = -amount(fee)
    out["confirmations"] = confirmations
    if depth:
        entry = c.find_tx(txid)
        assert entry is not None and entry[1] is not None
        out["blockhash"] = hash_to_hex(entry[1].hash)
        out["blockheight"] = entry[1].height
        out["blocktime"] = entry[1].block.header.time_s
    else:
        out["trusted"] = in_mempool
    out["txid"] = hash_to_hex(txid)
    out["wtxid"] = hash_to_hex(tx.wtxid)
    out["walletconflicts"] = sorted(hash_to_hex(t) for t in conflicts)
    out["mempoolconflicts"] = []
    out["time"] = time_s
    out["timereceived"] = time_s
    details: list[dict[str, Any]] = []
    if nop is not None:
        n, nameop = nop
        label = "new" if nameop.kind == wnames.NameOpKind.NEW else "update"
        shown = "" if nameop.kind == wnames.NameOpKind.NEW else (nameop.name or b"").decode("utf-8", "replace")
        det: dict[str, Any] = {
            "address": script_address(nameop.address_script) or "",
            "name": f"{label}: '{shown}'" if shown else label,
            "category": "send",
            "amount": amount(0),
            "vout": n,
        }
        if fee is not None and ins_mine:
            det["fee"] = -amount(fee)
        det["abandoned"] = abandoned
        details.append(det)
    else:
        for n, o in enumerate(tx.outputs):
            if ins_mine and not w.owns(o.script):
                det = {"address": script_address(o.script) or "", "category": "send", "amount": -amount(o.value_sat), "vout": n}
                if fee is not None:
                    det["fee"] = -amount(fee)
                det["abandoned"] = abandoned
                details.append(det)
            elif not ins_mine and w.owns(o.script):
                details.append({"address": script_address(o.script) or "", "category": "receive", "amount": amount(o.value_sat), "vout": n})
    out["details"] = details
    out["hex"] = encode_tx(tx).hex()
    out["lastprocessedblock"] = {"hash": hash_to_hex(c.active[-1]), "height": c.height}
    return out


@_rpc("gettransaction", 1, 3, '"txid" ( include_watchonly verbose )', wallet=True)
def _gettransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return _wallet_tx_json(d, d._wallet(wallet), _h(p[0], "txid"))


@_rpc("abandontransaction", 1, 1, '"txid"', wallet=True)
def _abandontransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    d.chain.abandon(d._wallet(wallet), _h(p[0], "txid"))
    return None


@_rpc("createrawtransaction", 2, 4, '[{"txid":"hex","vout":n},...] [{"address":amount,...},...] ( locktime replaceable )')
def _createrawtransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    ins = [
        TxIn(prevout=OutPoint(txid=_h(i["txid"], "txid"), vout=int(i["vout"])), script_sig=b"",  # type: ignore[arg-type]
             sequence=int(i.get("sequence", 0xFFFFFFFD)))
        for i in p[0]
    ]
    outs_spec = p[1] if isinstance(p[1], list) else [p[1]]
    outs: list[TxOut] = []
    for item in outs_spec:
        for addr, val in item.items():
            if addr == "data":
                outs.append(TxOut(value_sat=0, script=b"\x6a" + bytes([len(val) // 2]) + bytes.fromhex(val)))
            else:
                outs.append(TxOut(value_sat=_sat(val), script=address_script(addr)))
    locktime = int(p[2]) if len(p) > 2 and p[2] is not None else 0
    return encode_tx(Tx.create(version=1, inputs=ins, outputs=outs, locktime=locktime)).hex()


@_rpc("namerawtransaction", 3, 3, '"hexstring" vout {"op":"str","name":"str","value":"str","rand":"str"}')
def _namerawtransaction(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    tx = _parse_tx(p[0])
    vout = _int(p[1], "vout")
    spec = _opts(p[2])
    if not 0 <= vout < len(tx.outputs):
        raise RpcFailure(-8, "vout is out of range")
    addr = tx.outputs[vout].script
    opname = spec.get("op")
    result: dict[str, Any] = {}
    name_enc, value_enc = _enc(spec, "nameEncoding"), _enc(spec, "valueEncoding")
    if opname == "name_new":
        name = _decode(spec.get("name", ""), name_enc, "name")
        rand = bytes.fromhex(spec["rand"]) if "rand" in spec else d.chain._rng.randbytes(20)
        op = wnames.NameOp(kind=wnames.NameOpKind.NEW, name=None, value=None, rand=None,
                           commitment=wnames.name_commitment(rand, name), address_script=addr)
        result["rand"] = rand.hex()
    elif opname in ("name_firstupdate", "name_update"):
        name = _decode(spec.get("name", ""), name_enc, "name")
        value = _decode(spec.get("value", ""), value_enc, "value")
        if len(name) > MAX_NAME_LENGTH:
            raise RpcFailure(-8, "the name is too long")
        if opname == "name_firstupdate":
            op = wnames.NameOp(kind=wnames.NameOpKind.FIRSTUPDATE, name=name, value=value,
                               rand=bytes.fromhex(spec.get("rand", "")), commitment=None, address_script=addr)
        else:
            op = wnames.NameOp(kind=wnames.NameOpKind.UPDATE, name=name, value=value, rand=None,
                               commitment=None, address_script=addr)
    else:
        raise RpcFailure(-8, "Invalid name operation")
    outs = list(tx.outputs)
    outs[vout] = TxOut(value_sat=outs[vout].value_sat, script=wnames.encode_name_script(op))
    named = Tx.create(version=NAMECOIN_TX_VERSION, inputs=tx.inputs, outputs=outs, locktime=tx.locktime)
    return {"hex": encode_tx(named).hex(), **result}


@_rpc("signrawtransactionwithwallet", 1, 3, '"hexstring" ( prevtxs "sighashtype" )', wallet=True)
def _signrawtransactionwithwallet(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    tx, complete = d.chain.sign_raw(d._wallet(wallet), _parse_tx(p[0]))
    return {"hex": encode_tx(tx).hex(), "complete": complete}


# ---------------------------------------------------------------------- names


def _name_arg(d: Dispatcher, text: Any, opts: dict[str, Any]) -> bytes:
    return _decode(text, _enc(opts, "nameEncoding"), "name")


@_rpc("name_show", 1, 2, '"name" ( {"nameEncoding":"str","valueEncoding":"str","byHash":"str","allowExpired":bool} )')
def _name_show(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    opts = _opts(p[1] if len(p) > 1 else None)
    name = _name_arg(d, p[0], opts)
    e = d.chain.names.get(name)
    if e is None:
        raise RpcFailure(-4, f"name never existed: '{p[0]}'")
    if d.chain.is_expired(e, d.chain.height) and not opts.get("allowExpired", False):
        raise RpcFailure(-4, f"name expired: '{p[0]}'")
    w = d.chain.wallets.get(wallet) if wallet is not None else None
    return d._name_json(e, opts, w)


@_rpc("name_history", 1, 2, '"name" ( {"nameEncoding":"str","valueEncoding":"str"} )')
def _name_history(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    opts = _opts(p[1] if len(p) > 1 else None)
    name = _name_arg(d, p[0], opts)
    hist = d.chain.history.get(name)
    if not hist:
        raise RpcFailure(-4, f"name not found: '{p[0]}'")
    return [d._name_json(e, opts) for e in hist]


@_rpc("name_scan", 0, 3, '( "start" count {"nameEncoding":"str","valueEncoding":"str","minConf":n,"maxConf":n,"prefix":"str","regexp":"str"} )')
def _name_scan(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    import re

    opts = _opts(p[2] if len(p) > 2 else None)
    start = _name_arg(d, p[0], opts) if p and p[0] is not None else b""
    count = _int(p[1], "count") if len(p) > 1 and p[1] is not None else 500
    prefix = _decode(opts["prefix"], _enc(opts, "nameEncoding"), "prefix") if "prefix" in opts else None
    regexp = re.compile(opts["regexp"]) if "regexp" in opts else None
    min_conf = int(opts.get("minConf", 1))
    max_conf = opts.get("maxConf")
    out: list[dict[str, Any]] = []
    c = d.chain
    for name in sorted(c.names):
        if len(out) >= count:
            break
        if name < start:
            continue
        e = c.names[name]
        if c.is_expired(e, c.height):
            continue
        conf = c.height - e.height + 1
        if conf < min_conf or (max_conf is not None and conf > int(max_conf)):
            continue
        if prefix is not None and not name.startswith(prefix):
            continue
        if regexp is not None:
            try:
                text = name.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if not regexp.search(text):
                continue
        out.append(d._name_json(e, opts))
    return out


@_rpc("name_list", 0, 2, '( "name" {"nameEncoding":"str","valueEncoding":"str"} )', wallet=True)
def _name_list(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    opts = _opts(p[1] if len(p) > 1 else None)
    only = _name_arg(d, p[0], opts) if p and p[0] is not None else None
    out = []
    for name in sorted(d.chain.names):
        if only is not None and name != only:
            continue
        e = d.chain.names[name]
        if e.address_script not in w.scripts:
            continue
        j = d._name_json(e, opts)
        j = {**{k: v for k, v in j.items() if k not in ("height", "expires_in", "expired")}, "ismine": True,
             "height": j["height"], "expires_in": j["expires_in"], "expired": j["expired"]}
        out.append(j)
    return out


@_rpc("name_pending", 0, 2, '( "name" {"nameEncoding":"str","valueEncoding":"str"} )')
def _name_pending(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    opts = _opts(p[1] if len(p) > 1 else None)
    only = _name_arg(d, p[0], opts) if p and p[0] is not None else None
    w = d.chain.wallets.get(wallet) if wallet is not None else None
    out = []
    for txid, e in d.chain.mempool.items():
        nop = d.chain._tx_name_op(e.tx)
        if nop is None or nop[1].kind == wnames.NameOpKind.NEW:
            continue
        n, op = nop
        if only is not None and op.name != only:
            continue
        j = name_fields(op.name or b"", op.value or b"", _enc(opts, "nameEncoding"), _enc(opts, "valueEncoding"))
        j["txid"] = hash_to_hex(txid)
        j["vout"] = n
        j["address"] = script_address(op.address_script) or ""
        if w is not None:
            j["ismine"] = op.address_script in w.scripts
        j["op"] = str(op.kind)
        out.append(j)
    return out


@_rpc("name_new", 1, 2, '"name" ( {"nameEncoding":"str","destAddress":"str","sendCoins":{"address":amount,...},"allowExisting":bool} )', wallet=True)
def _name_new(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    opts = _opts(p[1] if len(p) > 1 else None)
    name = _name_arg(d, p[0], opts)
    d._check_name_value(name, None)
    c = d.chain
    old = c.names.get(name)
    if old is not None and not c.is_expired(old, c.height) and not opts.get("allowExisting", False):
        raise RpcFailure(-25, "this name exists already")
    rand = c._rng.randbytes(20)
    op = wnames.NameOp(kind=wnames.NameOpKind.NEW, name=None, value=None, rand=None,
                       commitment=wnames.name_commitment(rand, name), address_script=d._dest(w, opts))
    outs = [TxOut(value_sat=NAME_LOCKED_SAT, script=wnames.encode_name_script(op)), *d._send_coins(opts)]
    tx = c.fund_and_sign(w, outputs=outs, version=NAMECOIN_TX_VERSION)
    txid = c.commit_wallet_tx(w, tx, "new")
    return [hash_to_hex(txid), rand.hex()]


@_rpc("name_firstupdate", 3, 5, '"name" "rand" "tx" ( "value" {"nameEncoding":"str","valueEncoding":"str","destAddress":"str","sendCoins":{"address":amount,...}} )', wallet=True)
def _name_firstupdate(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    opts = _opts(p[4] if len(p) > 4 else None)
    name = _name_arg(d, p[0], opts)
    value = _decode(p[3], _enc(opts, "valueEncoding"), "value") if len(p) > 3 and p[3] is not None else b""
    d._check_name_value(name, value)
    try:
        rand = bytes.fromhex(str(p[1]))
    except ValueError as exc:
        raise RpcFailure(-8, "rand must be hexadecimal string") from exc
    c = d.chain
    txid = _h(p[2], "txid")
    found = c.find_tx(txid)
    if found is None:
        raise RpcFailure(-8, "previous txid not found")
    prev = found[0]
    nop = c._tx_name_op(prev)
    if nop is None or nop[1].kind != wnames.NameOpKind.NEW:
        raise RpcFailure(-8, "previous tx is not a name_new")
    if wnames.name_commitment(rand, name) != nop[1].commitment:
        raise RpcFailure(-8, "rand value is wrong")
    old = c.names.get(name)
    if old is not None and not c.is_expired(old, c.height + 1):
        raise RpcFailure(-25, "this name is already active")
    n = nop[0]
    coin = c.lookup_coin((txid, n))
    if coin is None:
        raise RpcFailure(-25, "name_new output is already spent")
    op = wnames.NameOp(kind=wnames.NameOpKind.FIRSTUPDATE, name=name, value=value, rand=rand,
                       commitment=None, address_script=d._dest(w, opts))
    outs = [TxOut(value_sat=NAME_LOCKED_SAT, script=wnames.encode_name_script(op)), *d._send_coins(opts)]
    tx = c.fund_and_sign(w, outputs=outs, name_input=((txid, n), coin), version=NAMECOIN_TX_VERSION)
    return hash_to_hex(c.commit_wallet_tx(w, tx, "update"))


@_rpc("name_update", 1, 3, '"name" ( "value" {"nameEncoding":"str","valueEncoding":"str","destAddress":"str","sendCoins":{"address":amount,...}} )', wallet=True)
def _name_update(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    w = d._wallet(wallet)
    opts = _opts(p[2] if len(p) > 2 else None)
    name = _name_arg(d, p[0], opts)
    value = _decode(p[1], _enc(opts, "valueEncoding"), "value") if len(p) > 1 and p[1] is not None else None
    d._check_name_value(name, value)
    c = d.chain
    cur = c.name_view(name, mempool=True)
    if cur is None:
        raise RpcFailure(-25, "this name can not be updated")
    if value is None:
        value = cur.value  # namecoin-core: no value re-sends the current one (renewal)
    found = c.find_tx(cur.txid)
    out_script = found[0].outputs[cur.vout].script if found is not None else b""
    if not w.owns(out_script) or (cur.txid, cur.vout) in c.wallet_spent(w):
        raise RpcFailure(-6, f"Not found pre-selected input COutPoint({hash_to_hex(cur.txid)[:10]}, {cur.vout})")
    assert found is not None
    coin = c.lookup_coin((cur.txid, cur.vout))
    if coin is None:  # expired (coin gone) but the wallet still believes it owns it
        from waypost.regtest.chain import Coin

        o = found[0].outputs[cur.vout]
        coin = Coin(o.value_sat, o.script, cur.height, False)
    op = wnames.NameOp(kind=wnames.NameOpKind.UPDATE, name=name, value=value, rand=None,
                       commitment=None, address_script=d._dest(w, opts))
    outs = [TxOut(value_sat=NAME_LOCKED_SAT, script=wnames.encode_name_script(op)), *d._send_coins(opts)]
    tx = c.fund_and_sign(w, outputs=outs, name_input=((cur.txid, cur.vout), coin), version=NAMECOIN_TX_VERSION)
    return hash_to_hex(c.commit_wallet_tx(w, tx, "update"))


# ---------------------------------------------------------------------- misc


@_rpc("getzmqnotifications", 0, 0, "")
def _getzmqnotifications(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    if d.zmq_url is None:
        return []
    return [
        {"type": f"pub{t}", "address": d.zmq_url, "hwm": 1000}
        for t in ("hashblock", "hashtx", "rawblock", "rawtx", "sequence")
    ]


@_rpc("getindexinfo", 0, 1, '( "index_name" )')
def _getindexinfo(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return {"txindex": {"synced": True, "best_block_height": d.chain.height}}


@_rpc("help", 0, 1, '( "command" )')
def _help(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    if p:
        spec = _METHODS.get(str(p[0]))
        if spec is None:
            return f"help: unknown command: {p[0]}"
        return f"{p[0]} {spec[4]}"
    return "\n".join(f"{n} {s[4]}".rstrip() for n, s in sorted(_METHODS.items()))


@_rpc("uptime", 0, 0, "")
def _uptime(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return 0


@_rpc("stop", 0, 0, "")
def _stop(d: Dispatcher, wallet: str | None, p: list[Any]) -> Any:
    return "Namecoin Core stopping"

