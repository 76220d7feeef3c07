"""A loopback JSON-RPC node serving blocks from recorded or generated raw bytes (tests, bench).

Answers getblockchaininfo, getblockcount, getbestblockhash, getblockhash, getblockheader and
getblock (verbosity 0) for whatever "active chain" the test sets; no ``name_*`` calls.
Fault knobs (warm-up, garbage, delays, restart) let tests play a misbehaving node.
"""

from __future__ import annotations

import copy
import json
import random
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from pathlib import Path

from waypost.indexer.names import NameOp, NameOpKind, encode_name_script, name_commitment
from waypost.indexer.wire import (
    COINBASE_VOUT,
    MERGED_MINING_HEADER,
    NAMECOIN_TX_VERSION,
    NULL_HASH,
    AuxPow,
    BlockHeader,
    OutPoint,
    Tx,
    TxIn,
    TxOut,
    encode_auxpow,
    encode_header,
    encode_tx,
    encode_varint,
    hash_to_hex,
    merkle_root,
    parse_header,
    sha256d,
)
from waypost.registry.model import BlockHash, Txid

__all__ = ["ReplayNode", "ChainGenerator", "GeneratedBlock", "regtest_vector_node"]


@dataclass(slots=True)
class _BlockInfo:
    raw: bytes
    height: int
    prev_hex: str | None
    time_s: int
    n_tx: int


class ReplayNode:
    """A threaded HTTP JSON-RPC server on 127.0.0.1 (single calls and batches).

    Args:
        chain_name: what ``getblockchaininfo.chain`` says ("regtest", "main", "test").
    """

    def __init__(self, chain_name: str = "regtest") -> None:
        self.chain_name = chain_name
        self.blocks: dict[str, _BlockInfo] = {}
        self.active: list[str] = []  # display hex by height
        self.lock = threading.Lock()
        # fault knobs
        self.warmup_calls = 0  # next N requests answer -28
        self.garbage_calls = 0  # next N requests answer non-JSON
        self.garbage_block_calls = 0  # next N getblock answers carry corrupted bytes
        self.delay_s = 0.0  # every request waits this long first
        self.requests = 0
        self.initial_block_download = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._conns: set[socket.socket] = set()

    # ------------------------------------------------------------------ chain content

    def add_block(self, raw: bytes, height: int, *, n_tx: int = 1) -> str:
        """Make ``raw`` known (not yet active); returns its display hash."""
        header, _ = parse_header(_header_prefix(raw))
        block_hash = hash_to_hex(sha256d(raw[:80]))
        prev = None if header.prev_hash == NULL_HASH else hash_to_hex(header.prev_hash)
        self.blocks[block_hash] = _BlockInfo(raw=raw, height=height, prev_hex=prev, time_s=header.time_s, n_tx=n_tx)
        return block_hash

    def set_active(self, hashes: Sequence[str]) -> None:
        """Make ``hashes`` (display hex, genesis first) the node's active chain."""
        with self.lock:
            self.active = list(hashes)

    def set_tip(self, block_hash: str) -> None:
        """Make the chain ending in ``block_hash`` active (walks prev links)."""
        chain = []
        cur: str | None = block_hash
        while cur is not None:
            chain.append(cur)
            cur = self.blocks[cur].prev_hex
        self.set_active(chain[::-1])

    # ------------------------------------------------------------------ server

    @property
    def url(self) -> str:
        return f"http://user:pass@127.0.0.1:{self.port}/"

    def start(self) -> ReplayNode:
        """Listen (on the previous port after a ``stop``, so a restart keeps the URL)."""
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without NODELAY, Nagle + delayed ACK stall each answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with node.lock:
                    node._conns.add(self.connection)

            def finish(self) -> None:
                with node.lock:
                    node._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, out = node._handle(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (a node restart begins with this)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            conns, self._conns = set(self._conns), set()
        for conn in conns:  # drop keep-alive connections too, as a dying node does
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> ReplayNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ JSON-RPC

    def _handle(self, body: bytes) -> tuple[int, bytes]:
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        with self.lock:
            self.requests += 1
            if self.garbage_calls > 0:
                self.garbage_calls -= 1
                return 200, b"<html>not json</html>"
            warm = self.warmup_calls > 0
            if warm:
                self.warmup_calls -= 1
        req = json.loads(body)
        if warm:
            err = {"result": None, "error": {"code": -28, "message": "Loading block index..."}, "id": None}
            return 500, json.dumps(err).encode()
        if isinstance(req, list):
            return 200, json.dumps([self._one(r) for r in req]).encode()
        reply = self._one(req)
        return (500 if reply["error"] is not None else 200), json.dumps(reply).encode()

    def _one(self, req: dict[str, Any]) -> dict[str, Any]:
        try:
            result = self._call(str(req.get("method")), list(req.get("params") or []))
            return {"result": result, "error": None, "id": req.get("id")}
        except _RpcFail as exc:
            return {"result": None, "error": {"code": exc.code, "message": exc.message}, "id": req.get("id")}

    def _call(self, method: str, params: list[Any]) -> Any:
        with self.lock:
            active = self.active  # set_active swaps the list, never mutates it: no copy needed
        tip = len(active) - 1
        if method == "getblockchaininfo":
            return {
                "chain": self.chain_name,
                "blocks": tip,
                "headers": tip,
                "bestblockhash": active[-1],
                "initialblockdownload": self.initial_block_download,
                "verificationprogress": 1,
            }
        if method == "getblockcount":
            return tip
        if method == "getbestblockhash":
            return active[-1]
        if method == "getblockhash":
            height = int(params[0])
            if not 0 <= height <= tip:
                raise _RpcFail(-8, "Block height out of range")
            return active[height]
        if method in ("getblockheader", "getblock"):
            info = self.blocks.get(str(params[0]))
            if info is None:
                raise _RpcFail(-5, "Block not found")
            verbose = params[1] if len(params) > 1 else (1 if method == "getblock" else True)
            if method == "getblock" and verbose == 0:
                raw = info.raw
                with self.lock:
                    if self.garbage_block_calls > 0:
                        self.garbage_block_calls -= 1
                        raw = raw[:-7]
                return raw.hex()
            if method == "getblockheader" and verbose is False:
                return _header_prefix(info.raw).hex()
            in_active = info.height <= tip and active[info.height] == params[0]
            out = {
                "hash": params[0],
                "height": info.height,
                "confirmations": tip - info.height + 1 if in_active else -1,
                "time": info.time_s,
                "nTx": info.n_tx,
            }
            if info.prev_hex is not None:
                out["previousblockhash"] = info.prev_hex
            if in_active and info.height < tip:
                out["nextblockhash"] = active[info.height + 1]
            return out
        raise _RpcFail(-32601, "Method not found")


class _RpcFail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _header_prefix(raw: bytes) -> bytes:
    """The header part of a raw block (80 bytes, or 80 + AuxPoW): everything before the tx count.

    Only used for headers without AuxPoW in generated chains, and for recorded blocks via
    ``getblockheader false`` (where 80 bytes + AuxPoW is what namecoind returns).
    """
    version = struct.unpack_from("<i", raw, 0)[0]
    if not version & 0x100:
        return raw[:80]
    from waypost.indexer.wire import parse_block

    block = parse_block(raw, verify_merkle=False)
    txs = b"".join(encode_tx(t) for t in block.txs)
    return raw[: len(raw) - len(txs) - len(encode_varint(len(block.txs)))]


def regtest_vector_node() -> tuple[ReplayNode, list[dict[str, Any]]]:
    """A node holding every recorded block of the namecoind-regtest vectors (final chain active).

    Returns:
        The node (not started) and ``blocks/index.json`` entries.
    """
    from tests.vectors import REGTEST, load_json

    node = ReplayNode("regtest")
    index: list[dict[str, Any]] = load_json(REGTEST / "blocks" / "index.json")
    for entry in index:
        data = load_json(REGTEST / entry["file"])
        raw = next(
            bytes.fromhex(c["result"]) for c in data["rpc"] if c["method"] == "getblock" and c["params"][1] == 0
        )
        got = node.add_block(raw, entry["height"], n_tx=entry["n_tx"])
        assert got == entry["hash"], (got, entry["hash"])
    node.set_active([e["hash"] for e in index if e["in_active_chain"]])
    return node, index


def index_recorded_chain(db: Path) -> Path:
    """Index the recorded regtest chain (final chain) into ``db`` with ``waypost index --once``
    and its default hooks (log leaves, SPV rows, outbox). Returns ``db``."""
    from waypost.indexer.cli import main as index_main

    node, _ = regtest_vector_node()
    node.start()
    try:
        status = index_main(["--rpc-url", node.url, "--db", str(db), "--network", "regtest", "--once"])
    finally:
        node.stop()
    if status != 0:
        raise AssertionError(f"waypost index --once exited {status}")
    return db


def wait_indexed(db: Path, height: int, *, deadline_s: float = 30.0) -> None:
    """Wait (polling with a deadline) until the index at ``db`` has reached ``height``."""
    import sqlite3
    import time

    from waypost.indexer.store import NameIndexReader

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        conn = sqlite3.connect(db)
        try:
            if NameIndexReader(conn, "regtest").fetch_status().tip_height >= height:
                return
        finally:
            conn.close()
        time.sleep(0.05)
    raise AssertionError(f"indexer did not reach height {height} within {deadline_s} s")


# ---------------------------------------------------------------------- generated chains

_P2PKH_PREFIX = b"\x76\xa9\x14"
_P2PKH_SUFFIX = b"\x88\xac"


@dataclass(frozen=True, slots=True)
class GeneratedBlock:
    raw: bytes
    height: int
    n_tx: int
    n_name_ops: int


@dataclass(slots=True)
class _GenState:
    height: int = -1
    prev: bytes = NULL_HASH
    time_s: int = 1_600_000_000
    pending: list[tuple[OutPoint, bytes, bytes, int]] = field(default_factory=list)  # outpoint, name, rand, height
    active: dict[bytes, tuple[OutPoint, int]] = field(default_factory=dict)  # name -> (outpoint, last height)
    counter: int = 0


class ChainGenerator:
    """Deterministic chains of valid-looking blocks with name operations (no PoW; with
    ``auxpow`` a mainnet-shaped merge-mining proof after each header, not valid PoW either).

    Name ops follow the consensus rules the indexer relies on: a firstupdate spends a
    name_new at least 12 blocks deep whose commitment matches, an update spends the
    name's current output before expiry, a re-registration only after expiry.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        txs_per_block: int = 1,
        name_op_ratio: float = 0.05,
        expiry_depth: int | Callable[[int], int] = 30,
        max_value_bytes: int = 1023,
        auxpow: bool = False,
    ) -> None:
        self.rng = random.Random(seed)
        self.auxpow = auxpow
        self.txs_per_block = txs_per_block
        self.name_op_ratio = name_op_ratio
        # blocks after its last update at which a name expires, at a tip height (isExpired)
        self._depth: Callable[[int], int] = expiry_depth if callable(expiry_depth) else (lambda _h, d=expiry_depth: d)
        self.max_value_bytes = max_value_bytes
        self.state = _GenState()

    def fork(self, seed: int) -> ChainGenerator:
        """A copy at the same tip with another random stream (to build a competing branch)."""
        other = copy.copy(self)
        other.state = copy.deepcopy(self.state)
        other.rng = random.Random(seed)
        return other

    def _addr(self) -> bytes:
        return _P2PKH_PREFIX + self.rng.randbytes(20) + _P2PKH_SUFFIX

    def _value(self) -> bytes:
        r = self.rng.random()
        n = self.rng.randint(0, 60) if r < 0.6 else self.rng.randint(60, 300) if r < 0.95 else self.rng.randint(300, self.max_value_bytes)
        return b"{" + bytes(self.rng.choice(b"abcdefghij:,\"") for _ in range(max(n - 2, 0))) + b"}" if n >= 2 else b""

    def _name_tx(self, height: int) -> Tx | None:
        s = self.state
        rng = self.rng
        fee_in = TxIn(prevout=OutPoint(txid=Txid(rng.randbytes(32)), vout=0), script_sig=b"\x01\x01", sequence=0xFFFFFFFF)
        mature = [p for p in s.pending if height - p[3] >= 12]
        choice = rng.random()
        if mature and choice < 0.35:
            pick = mature[rng.randrange(len(mature))]
            outpoint, name, rand, _ = pick
            cur = s.active.get(name)
            if cur is None or cur[1] + self._depth(height) <= height:
                s.pending.remove(pick)
                op = NameOp(kind=NameOpKind.FIRSTUPDATE, name=name, value=self._value(), rand=rand, commitment=None, address_script=self._addr())
                tx = Tx.create(version=NAMECOIN_TX_VERSION, inputs=[TxIn(prevout=outpoint, script_sig=b"", sequence=0xFFFFFFFF), fee_in], outputs=[TxOut(value_sat=1_000_000, script=encode_name_script(op))])
                s.active[name] = (OutPoint(txid=tx.txid, vout=0), height)
                return tx
        depth = self._depth(height)
        live = [n for n, (_, h) in s.active.items() if height < h + depth - 1]
        if live and choice < 0.7:
            name = live[rng.randrange(len(live))]
            outpoint, _ = s.active[name]
            op = NameOp(kind=NameOpKind.UPDATE, name=name, value=self._value(), rand=None, commitment=None, address_script=self._addr())
            vout = rng.randrange(2)
            outs = [TxOut(value_sat=5000, script=self._addr())]
            outs.insert(vout, TxOut(value_sat=1_000_000, script=encode_name_script(op)))
            tx = Tx.create(version=NAMECOIN_TX_VERSION, inputs=[fee_in, TxIn(prevout=outpoint, script_sig=b"", sequence=0xFFFFFFFF)], outputs=outs)
            s.active[name] = (OutPoint(txid=tx.txid, vout=vout), height)
            return tx
        # name_new: mostly fresh names, sometimes an existing one (re-registration after expiry)
        if s.active and rng.random() < 0.2:
            name = rng.choice(list(s.active))
        else:
            s.counter += 1
            name = (b"d/" if rng.random() < 0.7 else b"id/") + b"n%d-%s" % (s.counter, rng.randbytes(3).hex().encode())
        rand = rng.randbytes(20)
        op = NameOp(kind=NameOpKind.NEW, name=None, value=None, rand=None, commitment=name_commitment(rand, name), address_script=self._addr())
        tx = Tx.create(version=NAMECOIN_TX_VERSION, inputs=[fee_in], outputs=[TxOut(value_sat=1_000_000, script=encode_name_script(op))])
        s.pending.append((OutPoint(txid=tx.txid, vout=0), name, rand, height))
        return tx

    def _auxpow(self, height: int) -> AuxPow:
        """A structurally real merge-mining proof shaped like mainnet's (not valid PoW).

        Sizes follow the recorded mainnet headers and today's pools: a parent coinbase with
        the merged-mining commitment and 2-4 payout outputs (one in seven, P2Pool-like, pays
        20-50 outputs), a coinbase branch of 8-13 hashes, a chain branch of 0-4: ~0.6-2.2 KB.
        """
        rng = self.rng
        chain_branch = tuple(rng.randbytes(32) for _ in range(rng.randint(0, 4)))
        script_sig = (
            b"\x03" + height.to_bytes(3, "little") + rng.randbytes(rng.randint(8, 40))
            + MERGED_MINING_HEADER + rng.randbytes(32) + struct.pack("<II", 1 << len(chain_branch), rng.randrange(2**32))
        )
        n_out = rng.randint(20, 50) if rng.random() < 1 / 7 else rng.randint(2, 4)
        outputs = [TxOut(value_sat=rng.randrange(10**9), script=b"\x76\xa9\x14" + rng.randbytes(20) + b"\x88\xac") for _ in range(n_out)]
        outputs.append(TxOut(value_sat=0, script=b"\x6a\x24\xaa\x21\xa9\xed" + rng.randbytes(32)))  # witness commitment
        coinbase = Tx.create(
            version=1,
            inputs=[TxIn(prevout=OutPoint(txid=Txid(NULL_HASH), vout=COINBASE_VOUT), script_sig=script_sig, sequence=0xFFFFFFFF)],
            outputs=outputs,
        )
        parent = BlockHeader(version=0x20000000, prev_hash=BlockHash(rng.randbytes(32)), merkle_root=rng.randbytes(32),
                             time_s=self.state.time_s, bits=0x1703A30C, nonce=rng.randrange(2**32))
        return AuxPow(coinbase_tx=coinbase, parent_block_hash=BlockHash(rng.randbytes(32)),
                      coinbase_branch=tuple(rng.randbytes(32) for _ in range(rng.randint(8, 13))), coinbase_index=0,
                      chain_branch=chain_branch, chain_index=rng.randrange(1 << len(chain_branch)) if chain_branch else 0,
                      parent_header=parent)

    def next_block(self, *, n_txs: int | None = None) -> GeneratedBlock:
        """Build the next block on the generator's tip."""
        s = self.state
        height = s.height + 1
        coinbase = Tx.create(
            version=1,
            inputs=[TxIn(prevout=OutPoint(txid=Txid(NULL_HASH), vout=COINBASE_VOUT), script_sig=b"\x03" + height.to_bytes(3, "little") + self.rng.randbytes(4), sequence=0xFFFFFFFF)],
            outputs=[TxOut(value_sat=50 * 10**8, script=self._addr())],
        )
        txs = [coinbase]
        n_name = 0
        count = self.txs_per_block if n_txs is None else n_txs
        for _ in range(max(count - 1, 0)):
            tx: Tx | None = None
            if height > 0 and self.rng.random() < self.name_op_ratio:
                tx = self._name_tx(height)
                n_name += tx is not None
            if tx is None:
                tx = Tx.create(
                    version=2,
                    inputs=[TxIn(prevout=OutPoint(txid=Txid(self.rng.randbytes(32)), vout=1), script_sig=self.rng.randbytes(72), sequence=0xFFFFFFFE)],
                    outputs=[TxOut(value_sat=12345, script=self._addr()), TxOut(value_sat=67890, script=self._addr())],
                )
            txs.append(tx)
        s.time_s += 600
        # namecoin: chain id 1 in the upper half, 0x100 = AuxPoW follows the header
        version = 0x00010104 if self.auxpow else 4
        header = BlockHeader(version=version, prev_hash=BlockHash(s.prev), merkle_root=merkle_root([t.txid for t in txs]), time_s=s.time_s, bits=0x207FFFFF, nonce=self.rng.randrange(2**32))
        aux = encode_auxpow(self._auxpow(height)) if self.auxpow else b""
        raw = encode_header(header) + aux + encode_varint(len(txs)) + b"".join(encode_tx(t) for t in txs)
        s.prev = sha256d(raw[:80])
        s.height = height
        return GeneratedBlock(raw=raw, height=height, n_tx=len(txs), n_name_ops=n_name)

    def blocks(self, n: int) -> Iterable[GeneratedBlock]:
        for _ in range(n):
            yield self.next_block()
