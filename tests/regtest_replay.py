"""Replay the recorded namecoind scenario (S00-S23) against a JSON-RPC node, call by call.

Every recorded result or error is compared with the live answer in every field, except the
fields listed in ``EXCUSED`` (each with its reason: they depend on time, keys, hashes or the
wallet's random choices). Hashes, txids, addresses, rand salts and raw hex differ between
runs, so the replay keeps a recorded -> live map: the first time a recorded identity value
is met in an answer it is bound to the live value (one-to-one), later occurrences must match
the binding, and later params are translated through it. Numbers are compared as the exact
text namecoind writes (Decimal), so ``0.01000000`` must stay ``0.01000000``.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.vectors import REGTEST, load_json
from waypost.indexer.wire import (
    AuxPow,
    BlockHeader,
    Tx,
    TxIn,
    bits_to_target,
    encode_auxpow,
    encode_header,
    parse_auxpow,
    sha256d,
)

__all__ = ["EXCUSED", "IDENTITY_KEYS", "Mismatch", "Replayer", "replay"]

# (method or "*", JSON path pattern, reason). A path is "result.<key>.<index>...";
# "*" matches one segment, "**" any tail. Nothing else is excused.
EXCUSED: list[tuple[str, str, str]] = [
    ("*", "result.time", "block/tx time: wall clock of the recording (the simulator uses its own clock)"),
    ("*", "result.mediantime", "median of block times (clock)"),
    ("*", "result.timereceived", "wallet receive time: wall clock"),
    ("getrawmempool", "result.*.time", "mempool entry time (clock)"),
    ("getblockheader", "result.auxpow.parentblock.nonce", "parent PoW nonce is ground against the block hash"),
    ("*", "result.**.scriptSig.asm", "signatures and public keys (keys)"),
    ("*", "result.**.scriptSig.hex", "signatures and public keys (keys)"),
    ("*", "result.**.scriptPubKey.asm", "embeds the owner's key hash (keys)"),
    ("*", "result.**.scriptPubKey.hex", "embeds the owner's key hash (keys)"),
    ("*", "result.**.scriptPubKey.desc", "embeds the key hash, and its checksum covers it (keys)"),
    ("*", "result.**.vout", "output positions of wallet transactions: namecoind's wallet inserts change at a "
     "random position; instead every (txid, vout) pair is checked for consistency through the outpoint map"),
    ("name_update", "error.message:COutPoint-vout", "the vout in 'COutPoint(txid, vout)' is the random change position"),
    ("submitauxblock", "params.1", "the hand-made auxpow commits to the block hash: rebuilt for the live block"),
    ("getrawmempool", "order", "mempool order follows txids/fees (hashes): compared as a set"),
    ("name_pending", "order", "mempool order follows txids (hashes): compared as a multiset"),
    ("gettransaction", "order", "walletconflicts is a std::set of txids (hash order): compared as a set"),
]

# keys whose string values are identities (hashes, txids, addresses) bound through the map
IDENTITY_KEYS = {
    "txid", "hash", "wtxid", "bestblockhash", "previousblockhash", "blockhash", "nextblockhash",
    "address", "merkleroot", "hex", "rand", "bestblock",
}
# methods whose whole result (or each list item) is an identity
IDENTITY_RESULTS = {
    "getnewaddress", "getrawchangeaddress", "sendtoaddress", "name_update", "name_firstupdate",
    "generatetoaddress", "getrawmempool", "name_new", "createrawtransaction", "getbestblockhash",
    "sendrawtransaction",
}
UNORDERED = {"getrawmempool", "name_pending"}


@dataclass
class Mismatch:
    seq: int
    method: str
    path: str
    recorded: Any
    got: Any

    def __str__(self) -> str:
        return f"seq {self.seq} {self.method} {self.path}: recorded {self.recorded!r} got {self.got!r}"


def _segments_match(pattern: str, path: str) -> bool:
    p = pattern.split(".")
    s = path.split(".")

    def rec(i: int, j: int) -> bool:
        if i == len(p):
            return j == len(s)
        if p[i] == "**":
            return any(rec(i + 1, k) for k in range(j, len(s) + 1))
        if j == len(s):
            return False
        return (p[i] == "*" or p[i] == s[j]) and rec(i + 1, j + 1)

    return rec(0, 0)


def is_excused(method: str, path: str) -> bool:
    return any((m in ("*", method)) and _segments_match(pat, path) for m, pat, _ in EXCUSED)


def _norm(v: Any) -> Any:
    """Numbers as namecoind's text (Decimal str keeps trailing zeros)."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return str(v)
    return v


@dataclass
class Replayer:
    """Drives one node through the transcript."""

    url: str
    auth: str  # "user:password"
    ident: dict[str, str] = field(default_factory=dict)
    back: dict[str, str] = field(default_factory=dict)
    outpoints: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    calls: int = 0
    compared_fields: int = 0

    # -------------------------------------------------------------- transport

    def rpc(self, method: str, params: list[Any], wallet: str | None = None) -> tuple[Any, Any]:
        """(result, error) of one call."""
        body = json.dumps({"jsonrpc": "1.0", "id": 1, "method": method, "params": params}, default=str).encode()
        url = self.url + (f"/wallet/{wallet}" if wallet else "/")
        req = urllib.request.Request(url, data=body, headers={
            "Authorization": "Basic " + base64.b64encode(self.auth.encode()).decode(),
            "Content-Type": "application/json",
        })
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                reply = json.loads(resp.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            reply = json.loads(exc.read(), parse_float=Decimal)
        return reply.get("result"), reply.get("error")

    # -------------------------------------------------------------- identity map

    def bind(self, rec: str, got: Any, seq: int, method: str, path: str) -> None:
        if not isinstance(got, str):
            self.mismatches.append(Mismatch(seq, method, path, rec, got))
            return
        known = self.ident.get(rec)
        if known is None:
            if got in self.back and self.back[got] != rec:
                self.mismatches.append(Mismatch(seq, method, path + " (bound twice)", rec, got))
                return
            if len(got) != len(rec) and not method.startswith(("signraw", "namerawtx")):
                self.mismatches.append(Mismatch(seq, method, path + " (length)", rec, got))
            self.ident[rec] = got
            self.back[got] = rec
            return
        if known != got:
            self.mismatches.append(Mismatch(seq, method, path, rec, got))

    def tr(self, v: Any) -> Any:
        """Translate recorded params to live ones."""
        if isinstance(v, str):
            return self.ident.get(v, v)
        if isinstance(v, list):
            return [self.tr(x) for x in v]
        if isinstance(v, dict):
            return {self.tr(k): self.tr(x) for k, x in v.items()}
        return v

    def _live_tx(self, txid: str) -> dict[str, Any]:
        res, err = self.rpc("getrawtransaction", [txid, 1])
        if err is not None:
            raise AssertionError(f"replay: live tx {txid} not found: {err}")
        return res  # type: ignore[no-any-return]

    def tr_outpoint(self, txid: str, vout: int) -> tuple[str, int]:
        """A recorded outpoint to the live one, by what the output *is* (name, coinbase, amount)."""
        if (txid, vout) in self.outpoints:
            return self.outpoints[(txid, vout)]
        rec_tx = _recorded_tx(txid)
        if txid not in self.ident:
            # a coinbase never returned by any call: same height, position 0
            info = rec_tx["info"]
            assert info["position_in_block"] == 0, f"replay: unbound non-coinbase {txid}"
            bh, _ = self.rpc("getblockhash", [info["height"]])
            blk, _ = self.rpc("getblock", [bh, 1])
            self.ident[txid] = blk["tx"][info["position_in_block"]]
            self.back[self.ident[txid]] = txid
        live = self._live_tx(self.ident[txid])
        rec_out = rec_tx["vout"][vout]
        rec_is_name = "nameOp" in rec_out["scriptPubKey"]
        cands = [o for o in live["vout"] if ("nameOp" in o["scriptPubKey"]) == rec_is_name]
        if len(cands) > 1:
            cands = [o for o in cands if str(o["value"]) == str(rec_out["value"])] or cands
        self.outpoints[(txid, vout)] = (self.ident[txid], int(cands[0]["n"]))
        return self.outpoints[(txid, vout)]

    # -------------------------------------------------------------- comparison

    def compare(self, seq: int, method: str, path: str, rec: Any, got: Any) -> None:
        if is_excused(method, path):
            return
        self.compared_fields += 1
        if isinstance(rec, dict):
            if not isinstance(got, dict):
                self.mismatches.append(Mismatch(seq, method, path, "object", got))
                return
            if method == "getrawmempool" and path == "result":
                for k, v in rec.items():
                    live_k = self.ident.get(k)
                    if live_k is None or live_k not in got:
                        self.mismatches.append(Mismatch(seq, method, f"{path}.{k}", "entry", None))
                        continue
                    self.compare(seq, method, f"{path}.{k[:8]}", v, got[live_k])
                if len(rec) != len(got):
                    self.mismatches.append(Mismatch(seq, method, path + " (size)", len(rec), len(got)))
                return
            if list(rec) != list(got):
                self.mismatches.append(Mismatch(seq, method, path + " (keys)", list(rec), list(got)))
            for k, v in rec.items():
                if k in got:
                    self.compare(seq, method, f"{path}.{k}", v, got[k])
            if isinstance(rec.get("txid"), str) and isinstance(rec.get("vout"), int) and isinstance(got.get("vout"), int):
                self._bind_outpoint(seq, method, path, rec, got)
            return
        if isinstance(rec, list):
            if not isinstance(got, list) or len(rec) != len(got):
                self.mismatches.append(Mismatch(seq, method, path + " (list)", rec, got))
                return
            if (method in UNORDERED and path == "result") or path == "result.walletconflicts":
                self._compare_unordered(seq, method, path, rec, got)
                return
            for i, (a, b) in enumerate(zip(rec, got, strict=True)):
                self.compare(seq, method, f"{path}.{i}", a, b)
            return
        key = path.rsplit(".", 1)[-1]
        if isinstance(rec, str) and (key in IDENTITY_KEYS or (method in IDENTITY_RESULTS and re.fullmatch(r"result(\.\d+)?", path))
                                     or path.startswith("result.walletconflicts") or path.startswith("result.depends")
                                     or path.startswith("result.spentby")):
            self.bind(rec, got, seq, method, path)
            return
        if isinstance(rec, str) and isinstance(got, str) and rec != got:
            rec = self._subst(rec)
        if _norm(rec) != _norm(got) or type(rec) is not type(got) and not (
            isinstance(rec, int | Decimal) and isinstance(got, int | Decimal)
        ):
            self.mismatches.append(Mismatch(seq, method, path, rec, got))

    def _subst(self, text: str) -> str:
        """Replace bound recorded hashes embedded in a longer string (e.g. a coinbase script)."""
        for rec, live in self.ident.items():
            if len(rec) == 64 and rec in text:
                text = text.replace(rec, live)
        return text

    def _bind_outpoint(self, seq: int, method: str, path: str, rec: dict[str, Any], got: dict[str, Any]) -> None:
        key = (rec["txid"], int(rec["vout"]))
        live = (got.get("txid"), int(got["vout"]))
        old = self.outpoints.get(key)
        if old is None:
            self.outpoints[key] = live  # type: ignore[assignment]
        elif old != live:
            self.mismatches.append(Mismatch(seq, method, path + ".vout (consistency)", old, live))

    def _compare_unordered(self, seq: int, method: str, path: str, rec: list[Any], got: list[Any]) -> None:
        if all(isinstance(x, str) for x in rec):
            want = sorted(self.ident.get(x, "<unbound " + x + ">") for x in rec)
            if want != sorted(got):
                self.mismatches.append(Mismatch(seq, method, path + " (set)", want, sorted(got)))
            return

        def key(x: dict[str, Any], live: bool) -> tuple[str, ...]:
            txid = x.get("txid", "")
            if not live:
                txid = self.ident.get(txid, "<unbound>")
            return (txid,)

        rec_sorted = sorted(rec, key=lambda x: key(x, False))
        got_sorted = sorted(got, key=lambda x: key(x, True))
        for i, (a, b) in enumerate(zip(rec_sorted, got_sorted, strict=True)):
            self.compare(seq, method, f"{path}.{i}", a, b)

    # -------------------------------------------------------------- params

    def params_for(self, call: dict[str, Any]) -> list[Any]:
        method, params = call["method"], call["params"]
        if method == "createrawtransaction":
            ins = []
            for i in params[0]:
                t, v = self.tr_outpoint(i["txid"], int(i["vout"]))
                ins.append({"txid": t, "vout": v})
            return [ins, self.tr(params[1])]
        if method == "gettxout":
            t, v = self.outpoints.get((params[0], int(params[1])), (self.tr(params[0]), int(params[1])))
            return [t, v, *params[2:]]
        if method == "submitauxblock":
            return [self.tr(params[0]), rebuild_auxpow(params[1], self.tr(params[0]))]
        return self.tr(params)  # type: ignore[no-any-return]

    def compare_error(self, seq: int, method: str, rec: dict[str, Any], got: dict[str, Any] | None) -> None:
        if got is None:
            self.mismatches.append(Mismatch(seq, method, "error", rec, None))
            return
        self.compared_fields += 1
        if rec["code"] != got["code"]:
            self.mismatches.append(Mismatch(seq, method, "error.code", rec["code"], got["code"]))
        want = rec["message"]
        m = re.search(r"COutPoint\((\w{10}), (\d+)\)", want)
        live = got["message"]
        if m:
            full = next((v for k, v in self.ident.items() if k.startswith(m.group(1)) and len(k) == 64), None)
            want = want.replace(m.group(0), f"COutPoint({(full or '?')[:10]}, #)")
            live = re.sub(r"COutPoint\((\w{10}), (\d+)\)", r"COutPoint(\1, #)", live)
        if want != live:
            self.mismatches.append(Mismatch(seq, method, "error.message", want, live))

    def run(self, upto_step: str = "S23") -> None:
        for call in _transcript():
            if call["step"] > upto_step:
                break
            self.calls += 1
            seq, method = call["seq"], call["method"]
            params = self.params_for(call)
            result, error = self.rpc(method, params, call.get("wallet"))
            if "error" in call and call["error"] is not None:
                self.compare_error(seq, method, call["error"], error)
                continue
            if error is not None:
                self.mismatches.append(Mismatch(seq, method, "error", None, error))
                continue
            self.compare(seq, method, "result", call["result"], result)


def _transcript() -> list[dict[str, Any]]:
    """The transcript with numbers as Decimal (namecoind's exact text)."""
    path = REGTEST / "scenario" / "transcript.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


def _recorded_tx(txid: str) -> dict[str, Any]:
    index = {t["txid"]: t for t in load_json(REGTEST / "txs" / "index.json")}
    info = index[txid]
    data = load_json(REGTEST / info["file"])
    verbose = next(c["result"] for c in data["rpc"] if c["method"] == "getrawtransaction" and c["params"][1] == 1)
    return {"info": info, "vout": verbose["vout"]}


def rebuild_auxpow(recorded_hex: str, block_hash_hex: str) -> str:
    """The scenario's hand-made auxpow, re-made for the live block: same parent coinbase
    shape (fabe6d6d marker, tree size 1, nonce 0), the live block hash, a fresh parent nonce."""
    rec = parse_auxpow(bytes.fromhex(recorded_hex))
    script = rec.coinbase_tx.inputs[0].script_sig
    mark = script.find(b"\xfa\xbe\x6d\x6d")
    new_script = script[: mark + 4] + bytes.fromhex(block_hash_hex) + script[mark + 36 :]
    old_in = rec.coinbase_tx.inputs[0]
    cb = Tx.create(
        version=rec.coinbase_tx.version,
        inputs=[TxIn(prevout=old_in.prevout, script_sig=new_script, sequence=old_in.sequence)],
        outputs=rec.coinbase_tx.outputs,
        locktime=rec.coinbase_tx.locktime,
    )
    target = bits_to_target(0x207FFFFF)
    nonce = 0
    ph = rec.parent_header
    while True:
        parent = BlockHeader(version=ph.version, prev_hash=ph.prev_hash, merkle_root=cb.txid,
                             time_s=ph.time_s, bits=ph.bits, nonce=nonce)
        if int.from_bytes(sha256d(encode_header(parent)), "little") <= target:
            break
        nonce += 1
    aux = AuxPow(coinbase_tx=cb, parent_block_hash=rec.parent_block_hash, coinbase_branch=rec.coinbase_branch,
                 coinbase_index=rec.coinbase_index, chain_branch=rec.chain_branch, chain_index=rec.chain_index,
                 parent_header=parent)
    return encode_auxpow(aux).hex()


def replay(url: str, cookie_path: Path, upto_step: str = "S23") -> Replayer:
    """Replay the scenario against ``url`` (cookie auth); returns the replayer with mismatches."""
    r = Replayer(url=url, auth=cookie_path.read_text().strip())
    r.run(upto_step)
    return r
