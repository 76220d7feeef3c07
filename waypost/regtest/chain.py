"""The simulated namecoind regtest chain: blocks, UTXO set, names, mempool, wallets.

Core of the simulator: no sockets or files (persistence and notifications are hooks the
shell installs). Built on ``waypost.indexer.wire`` types; every block it makes is a real,
merge-mined regtest block. Thread-safe through one re-entrant lock (``SimChain.lock``).
"""

from __future__ import annotations

import functools
import hashlib
import random
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from waypost.indexer import names as wnames
from waypost.indexer.wire import (
    NAMECOIN_TX_VERSION,
    NULL_HASH,
    AuxPow,
    Block,
    BlockHeader,
    OutPoint,
    Tx,
    TxIn,
    TxOut,
    bits_to_target,
    encode_block,
    encode_header,
    encode_tx,
    merkle_root,
    parse_block,
    sha256d,
)
from waypost.regtest.script import bip34_script, decode_address, key_for, p2pkh_script, push_data, script_address

__all__ = [
    "COIN",
    "REGTEST_BITS",
    "AUXPOW_VERSION",
    "NAME_EXPIRY_BLOCKS_REGTEST",
    "RpcFailure",
    "Coin",
    "NameEntry",
    "BlockEntry",
    "MempoolEntry",
    "Wallet",
    "WalletTx",
    "SimChain",
    "genesis_block",
    "name_op_of",
]

COIN = 100_000_000
REGTEST_BITS = 0x207FFFFF
# namecoin-core: nVersion = VERSION_AUXPOW | (chain id 1 << 16) | 4 (BIP9 top bits)
AUXPOW_VERSION = 0x00010104
NAME_EXPIRY_BLOCKS_REGTEST = 30  # namecoin-core regtest: names expire 30 blocks after update
MIN_FIRSTUPDATE_DEPTH = 12  # namecoin-core: name_new must be 12 blocks deep
NAME_LOCKED_SAT = 1_000_000  # namecoin-core: 0.01 NMC locked in a name output
MAX_NAME_LENGTH = 255
MAX_VALUE_LENGTH = 1023
HALVING_INTERVAL_REGTEST = 150  # bitcoin regtest: nSubsidyHalvingInterval = 150
COINBASE_MATURITY = 100
FEE_SAT_PER_VBYTE = 100  # -fallbackfee=0.001 NMC/kvB of the recording
WITNESS_COMMITMENT_HEADER = b"\xaa\x21\xa9\xed"
MAX_MEMPOOL_NAME_CHAIN = 4  # -limitnamechains=4 of the recording

# Real regtest genesis block (namecoind, recorded blocks/0000-0f9188f1....json, getblock 0)
GENESIS_HEX = (
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f20020000000101000000010000000000000000000000"
    "000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a61"
    "6e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062"
    "616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f"
    "61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
)


class RpcFailure(Exception):
    """A JSON-RPC error with namecoind's ``code`` and ``message`` (raised by the node logic)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def genesis_block() -> Block:
    """The real namecoind regtest genesis block."""
    return parse_block(bytes.fromhex(GENESIS_HEX))


def name_op_of(script: bytes) -> wnames.NameOp | None:
    """The name operation of a script, or None for a plain script."""
    if not script or script[0] not in (0x51, 0x52, 0x53):
        return None
    return _name_op_cached(script)


@functools.lru_cache(maxsize=1 << 16)
def _name_op_cached(script: bytes) -> wnames.NameOp | None:
    try:
        return wnames.parse_name_script(script)
    except Exception:  # noqa: BLE001 - a malformed name prefix is "not a name script" here
        return None


@dataclass(slots=True)
class Coin:
    """An unspent output."""

    value_sat: int
    script: bytes
    height: int
    coinbase: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NameEntry:
    """One name operation as namecoind's name database keeps it."""

    name: bytes
    value: bytes
    txid: bytes
    vout: int
    address_script: bytes
    height: int
    op: str  # "name_firstupdate" | "name_update"


@dataclass(slots=True)
class BlockUndo:
    spent: list[tuple[tuple[bytes, int], Coin]] = field(default_factory=list)
    created: list[tuple[bytes, int]] = field(default_factory=list)
    names: list[tuple[bytes, NameEntry | None]] = field(default_factory=list)
    history: list[bytes] = field(default_factory=list)
    expired: list[tuple[tuple[bytes, int], Coin]] = field(default_factory=list)


@dataclass(slots=True)
class BlockEntry:
    """A stored block (active or stale) with its index data."""

    block: Block
    raw: bytes
    height: int
    work: int
    seq: int
    invalid: bool = False
    undo: BlockUndo | None = None

    @property
    def hash(self) -> bytes:
        return self.block.hash


@dataclass(slots=True)
class MempoolEntry:
    tx: Tx
    raw: bytes
    time_s: int
    height: int
    fee_sat: int


@dataclass(slots=True)
class WalletTx:
    tx: Tx
    raw: bytes
    time_s: int
    label: str
    abandoned: bool = False


@dataclass(slots=True)
class Wallet:
    """A simulated wallet: deterministic keys, its transactions, pending name_new salts."""

    name: str
    seed: int
    keys: list[tuple[bytes, bytes, str]] = field(default_factory=list)  # (pubkey, hash160, label)
    scripts: dict[bytes, int] = field(default_factory=dict)  # p2pkh script -> key index
    txs: dict[bytes, WalletTx] = field(default_factory=dict)

    def new_key(self) -> tuple[bytes, bytes]:
        pub, h = key_for(self.seed, self.name, len(self.keys))
        self.keys.append((pub, h, ""))
        self.scripts[p2pkh_script(h)] = len(self.keys) - 1
        return pub, h

    def owns(self, script: bytes) -> bool:
        op = name_op_of(script)
        return (op.address_script if op is not None else script) in self.scripts


def _dummy_sig(seed: bytes) -> bytes:
    """A DER-shaped 71-byte signature + SIGHASH_ALL (low-R, as bitcoin's signer grinds)."""
    r = bytearray(hashlib.sha256(b"r" + seed).digest())
    s = bytearray(hashlib.sha256(b"s" + seed).digest())
    r[0] &= 0x7F
    s[0] &= 0x7F
    r[0] |= 0x01
    s[0] |= 0x01
    return b"\x30\x44\x02\x20" + bytes(r) + b"\x02\x20" + bytes(s) + b"\x01"


def subsidy_sat(height: int) -> int:
    """bitcoin ``GetBlockSubsidy`` with the regtest halving interval."""
    halvings = height // HALVING_INTERVAL_REGTEST
    return 0 if halvings >= 64 else (50 * COIN) >> halvings


def tx_vsize(tx: Tx) -> int:
    """Virtual size: (3 * stripped + total) / 4, rounded up (BIP141)."""
    stripped = len(encode_tx(tx, include_witness=False))
    total = len(encode_tx(tx)) if tx.has_witness else stripped
    return (stripped * 3 + total + 3) // 4


class SimChain:
    """The whole simulated node state. Every public method takes ``self.lock``.

    Args:
        seed: makes keys, salts and change positions reproducible.
        clock: returns "now" in seconds; the default advances one second per call.
    """

    def __init__(self, *, seed: int = 0, clock: Callable[[], int] | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self._rng = random.Random(seed)
        gen = genesis_block()
        self._fake_now = gen.header.time_s + 1_000_000
        self.clock: Callable[[], int] = clock or self._tick
        self.blocks: dict[bytes, BlockEntry] = {}
        self.children: dict[bytes, list[bytes]] = {}
        self.active: list[bytes] = []
        self.utxo: dict[tuple[bytes, int], Coin] = {}
        self.names: dict[bytes, NameEntry] = {}
        self.history: dict[bytes, list[NameEntry]] = {}
        self.tx_index: dict[bytes, list[tuple[bytes, int]]] = {}
        self.mempool: dict[bytes, MempoolEntry] = {}
        self.mempool_sequence = 0
        self.wallets: dict[str, Wallet] = {}
        self.pending_aux: dict[bytes, Block] = {}
        self._seq = 0
        self._spenders: dict[tuple[bytes, int], bytes] = {}
        self._expiry_at: dict[int, set[bytes]] = {}  # block height -> names whose coin may expire
        self._any_invalid = False
        # hooks installed by the shell (zmq publisher, journal)
        self.on_block_connected: list[Callable[[Block, bytes], None]] = []
        self.on_block_disconnected: list[Callable[[Block, bytes], None]] = []
        self.on_tx_added: list[Callable[[Tx, bytes, int], None]] = []
        self.on_tx_removed: list[Callable[[Tx, int], None]] = []
        self.on_event: list[Callable[[dict[str, object]], None]] = []
        raw = encode_block(gen)
        entry = BlockEntry(block=gen, raw=raw, height=0, work=2, seq=0)
        self.blocks[gen.hash] = entry
        self.active.append(gen.hash)
        entry.undo = BlockUndo()  # genesis outputs are not spendable (bitcoin: never added)
        self.tx_index[gen.txs[0].txid] = [(gen.hash, 0)]

    # ------------------------------------------------------------------ basics

    def _tick(self) -> int:
        self._fake_now += 1
        return self._fake_now

    def _emit(self, event: dict[str, object]) -> None:
        for hook in self.on_event:
            hook(event)

    @property
    def height(self) -> int:
        return len(self.active) - 1

    @property
    def tip(self) -> BlockEntry:
        return self.blocks[self.active[-1]]

    def is_active(self, block_hash: bytes) -> bool:
        e = self.blocks.get(block_hash)
        return e is not None and e.height < len(self.active) and self.active[e.height] == block_hash

    def median_time_past(self, block_hash: bytes) -> int:
        times: list[int] = []
        h: bytes | None = block_hash
        while h is not None and h in self.blocks and len(times) < 11:
            e = self.blocks[h]
            times.append(e.block.header.time_s)
            h = e.block.header.prev_hash if e.height > 0 else None
        times.sort()
        return times[len(times) // 2]

    # ------------------------------------------------------------------ wallets

    def create_wallet(self, name: str) -> Wallet:
        with self.lock:
            if name in self.wallets:
                raise RpcFailure(-4, f"Wallet file verification failed. Failed to create database path '{name}'. Database already exists.")
            w = Wallet(name=name, seed=self.seed)
            self.wallets[name] = w
            self._emit({"op": "wallet", "name": name})
            return w

    def wallet(self, name: str | None) -> Wallet:
        if name is None:
            if len(self.wallets) == 1:
                return next(iter(self.wallets.values()))
            if not self.wallets:
                raise RpcFailure(-18, "No wallet is loaded. Load a wallet using loadwallet or create a new one with createwallet. (Note: A default wallet is no longer automatically created)")
            raise RpcFailure(-19, "Multiple wallets are loaded. Please select which wallet to use by requesting the RPC through the /wallet/<walletname> URI path.")
        w = self.wallets.get(name)
        if w is None:
            raise RpcFailure(-18, "Requested wallet does not exist or is not loaded")
        return w

    def new_address(self, wallet: str, label: str = "") -> str:
        with self.lock:
            w = self.wallet(wallet)
            _, h = w.new_key()
            self._emit({"op": "key", "wallet": wallet})
            return script_address(p2pkh_script(h)) or ""

    def _new_script(self, w: Wallet) -> bytes:
        _, h = w.new_key()
        self._emit({"op": "key", "wallet": w.name})
        return p2pkh_script(h)

    def _script_sig(self, w: Wallet | None, script: bytes, salt: bytes) -> bytes:
        addr_script = script
        op = name_op_of(script)
        if op is not None:
            addr_script = op.address_script
        pub = b"\x02" + hashlib.sha256(salt).digest()
        if w is not None and addr_script in w.scripts:
            pub = w.keys[w.scripts[addr_script]][0]
        return push_data(_dummy_sig(salt + addr_script)) + push_data(pub)

    def wallet_spent(self, w: Wallet) -> set[tuple[bytes, int]]:
        """Outpoints spent by the wallet's own unconfirmed, non-abandoned transactions."""
        spent: set[tuple[bytes, int]] = set()
        for txid, wtx in w.txs.items():
            if wtx.abandoned or self.tx_depth(txid) != 0:
                continue
            if self._conflict_depth(wtx.tx) > 0:
                continue
            for i in wtx.tx.inputs:
                spent.add((i.prevout.txid, i.prevout.vout))
        return spent

    def wallet_coins(self, w: Wallet, *, include_names: bool = False) -> list[tuple[tuple[bytes, int], Coin]]:
        """Spendable coins of a wallet (chain UTXO plus own unconfirmed change), oldest first."""
        spent = self.wallet_spent(w)
        for e in self.mempool.values():
            for i in e.tx.inputs:
                spent.add((i.prevout.txid, i.prevout.vout))
        out: list[tuple[tuple[bytes, int], Coin]] = []
        tip = self.height
        for op, coin in self.utxo.items():
            if op in spent or not w.owns(coin.script):
                continue
            if coin.coinbase and tip - coin.height < COINBASE_MATURITY:  # wallet: 101 confirmations
                continue
            if name_op_of(coin.script) is not None and not include_names:
                continue
            out.append((op, coin))
        for txid, e in self.mempool.items():
            for n, o in enumerate(e.tx.outputs):
                if (txid, n) not in spent and w.owns(o.script) and (include_names or name_op_of(o.script) is None):
                    out.append(((txid, n), Coin(o.value_sat, o.script, -1, False)))
        # Deterministic stand-in for namecoind's coin selection: confirmed change first
        # (smallest value), then mature coinbases (oldest), then own unconfirmed change.
        out.sort(key=lambda c: (2 if c[1].height < 0 else 1 if c[1].coinbase else 0, c[1].value_sat if not c[1].coinbase else 0, c[1].height, c[0]))
        return out

    def balances(self, w: Wallet) -> tuple[int, int, int]:
        """(trusted, untrusted_pending, immature) in satoshi."""
        trusted = pending = immature = 0
        tip = self.height
        spent = self.wallet_spent(w)
        for e in self.mempool.values():
            for i in e.tx.inputs:
                spent.add((i.prevout.txid, i.prevout.vout))
        for op, coin in self.utxo.items():
            if op in spent or not w.owns(coin.script) or name_op_of(coin.script) is not None:
                continue
            if coin.coinbase and tip - coin.height < COINBASE_MATURITY:  # wallet: 101 confirmations
                immature += coin.value_sat
            else:
                trusted += coin.value_sat
        for txid, e in self.mempool.items():
            mine = txid in w.txs
            for n, o in enumerate(e.tx.outputs):
                if (txid, n) in spent or not w.owns(o.script) or name_op_of(o.script) is not None:
                    continue
                if mine:
                    trusted += o.value_sat
                else:
                    pending += o.value_sat
        return trusted, pending, immature

    def fund_and_sign(
        self,
        w: Wallet,
        *,
        outputs: Sequence[TxOut],
        name_input: tuple[tuple[bytes, int], Coin] | None = None,
        name_output_index: int | None = None,
        version: int = 1,
    ) -> Tx:
        """Build a wallet transaction: optional name input first, one funding coin, change.

        The change goes to a random position (namecoind's wallet shuffles it in).
        """
        need = sum(o.value_sat for o in outputs) - (name_input[1].value_sat if name_input else 0)
        coins = self.wallet_coins(w)
        change_script = self._new_script(w)
        locktime = self.height
        for op, coin in coins:
            ins = ([name_input[0]] if name_input else []) + [op]
            prev = ([name_input[1]] if name_input else []) + [coin]
            total_in = sum(c.value_sat for c in prev)
            pos = self._rng.randint(0, len(outputs))
            draft = list(outputs)
            draft.insert(pos, TxOut(value_sat=0, script=change_script))
            tx = self._signed(w, version, ins, prev, draft, locktime)
            fee = tx_vsize(tx) * FEE_SAT_PER_VBYTE
            change = total_in - sum(o.value_sat for o in outputs) - fee
            if change < 0:
                continue
            draft[pos] = TxOut(value_sat=change, script=change_script)
            return self._signed(w, version, ins, prev, draft, locktime)
        del need
        raise RpcFailure(-6, "Insufficient funds")

    def _signed(
        self, w: Wallet, version: int, ins: Sequence[tuple[bytes, int]], prev: Sequence[Coin], outs: Sequence[TxOut], locktime: int
    ) -> Tx:
        salt = sha256d(b"".join(t + struct.pack("<I", n) for t, n in ins) + struct.pack("<Q", self._rng.getrandbits(64)))
        inputs = [
            TxIn(
                prevout=OutPoint(txid=t, vout=n),  # type: ignore[arg-type]
                script_sig=self._script_sig(w, c.script, salt + bytes([k])),
                sequence=0xFFFFFFFD,
            )
            for k, ((t, n), c) in enumerate(zip(ins, prev, strict=True))
        ]
        return Tx.create(version=version, inputs=inputs, outputs=outs, locktime=locktime)

    def sign_raw(self, w: Wallet, tx: Tx) -> tuple[Tx, bool]:
        """signrawtransactionwithwallet: fill scriptSigs of inputs the wallet knows."""
        salt = sha256d(tx.txid + struct.pack("<Q", self._rng.getrandbits(64)))
        ins: list[TxIn] = []
        complete = True
        for k, i in enumerate(tx.inputs):
            coin = self.lookup_coin((i.prevout.txid, i.prevout.vout))
            if coin is None or not w.owns(coin.script):
                complete = False
                ins.append(i)
                continue
            ins.append(TxIn(prevout=i.prevout, script_sig=self._script_sig(w, coin.script, salt + bytes([k])), sequence=i.sequence))
        return Tx.create(version=tx.version, inputs=ins, outputs=tx.outputs, locktime=tx.locktime), complete

    def lookup_coin(self, op: tuple[bytes, int]) -> Coin | None:
        """A coin from the UTXO set or a mempool transaction's outputs."""
        coin = self.utxo.get(op)
        if coin is not None:
            return coin
        e = self.mempool.get(op[0])
        if e is not None and op[1] < len(e.tx.outputs):
            o = e.tx.outputs[op[1]]
            return Coin(o.value_sat, o.script, -1, False)
        return None

    def commit_wallet_tx(self, w: Wallet, tx: Tx, label: str) -> bytes:
        """Store the tx in the wallet and try to relay it; a mempool refusal is silent
        (namecoind: CommitTransaction keeps the tx even when broadcast fails)."""
        raw = encode_tx(tx)
        w.txs[tx.txid] = WalletTx(tx=tx, raw=raw, time_s=self.clock(), label=label)
        self._emit({"op": "wtx", "wallet": w.name, "hex": raw.hex(), "label": label})
        try:
            self.accept_to_mempool(tx)
        except RpcFailure:
            pass
        return tx.txid

    def abandon(self, w: Wallet, txid: bytes) -> None:
        with self.lock:
            wtx = w.txs.get(txid)
            if wtx is None:
                raise RpcFailure(-5, "Invalid or non-wallet transaction id")
            if txid in self.mempool or self.tx_depth(txid) > 0:
                raise RpcFailure(-5, "Transaction not eligible for abandonment")
            wtx.abandoned = True
            self._emit({"op": "abandon", "wallet": w.name, "txid": txid.hex()})

    # ------------------------------------------------------------------ tx lookups

    def tx_depth(self, txid: bytes) -> int:
        """Confirmations of a tx in the active chain (0 if not in it)."""
        for bh, _ in self.tx_index.get(txid, []):
            if self.is_active(bh):
                return self.height - self.blocks[bh].height + 1
        return 0

    def _conflict_depth(self, tx: Tx) -> int:
        """Depth of the deepest active-chain tx spending one of ``tx``'s inputs (0: none)."""
        best = 0
        ops = {(i.prevout.txid, i.prevout.vout) for i in tx.inputs}
        for op in ops:
            if op in self.utxo:
                continue
            spender = self.spenders.get(op)
            if spender is not None and spender != tx.txid:
                best = max(best, self.tx_depth(spender))
        return best

    @property
    def spenders(self) -> dict[tuple[bytes, int], bytes]:
        return self._spenders

    def find_tx(self, txid: bytes, block_hash: bytes | None = None) -> tuple[Tx, BlockEntry | None] | None:
        """(tx, block) by txid: active block first, then mempool, then stale blocks."""
        locs = self.tx_index.get(txid, [])
        if block_hash is not None:
            for bh, pos in locs:
                if bh == block_hash:
                    return self.blocks[bh].block.txs[pos], self.blocks[bh]
            return None
        for bh, pos in locs:
            if self.is_active(bh):
                return self.blocks[bh].block.txs[pos], self.blocks[bh]
        if txid in self.mempool:
            return self.mempool[txid].tx, None
        for bh, pos in locs:
            return self.blocks[bh].block.txs[pos], self.blocks[bh]
        return None

    # ------------------------------------------------------------------ name rules

    def name_view(self, name: bytes, *, mempool: bool) -> NameEntry | None:
        """The name's latest operation, optionally including pending mempool updates."""
        entry = self.names.get(name)
        if mempool:
            for e in self.mempool.values():
                op = self._tx_name_op(e.tx)
                if op is not None and op[1].kind != wnames.NameOpKind.NEW and op[1].name == name:
                    entry = NameEntry(
                        name=name, value=op[1].value or b"", txid=e.tx.txid, vout=op[0],
                        address_script=op[1].address_script, height=-1, op=_op_name(op[1].kind),
                    )
        return entry

    @staticmethod
    def _tx_name_op(tx: Tx) -> tuple[int, wnames.NameOp] | None:
        for n, o in enumerate(tx.outputs):
            op = name_op_of(o.script)
            if op is not None:
                return n, op
        return None

    def is_expired(self, entry: NameEntry, height: int) -> bool:
        """namecoin-core: expired from height H+30 (regtest) for the last update H."""
        return entry.height + NAME_EXPIRY_BLOCKS_REGTEST <= height

    def check_tx(
        self,
        tx: Tx,
        height: int,
        get_coin: Callable[[tuple[bytes, int]], Coin | None],
        names: Callable[[bytes], NameEntry | None],
        *,
        mempool: bool,
    ) -> int:
        """Check one non-coinbase tx for a block at ``height`` (or the mempool); returns the fee.

        Raises:
            RpcFailure: -25/-26 with namecoind's reject reason.
        """
        if not tx.inputs or not tx.outputs:
            raise RpcFailure(-26, "bad-txns-vin-empty" if not tx.inputs else "bad-txns-vout-empty")
        total_in = 0
        name_in: tuple[Coin, wnames.NameOp] | None = None
        seen: set[tuple[bytes, int]] = set()
        for i in tx.inputs:
            op = (i.prevout.txid, i.prevout.vout)
            if op in seen:
                raise RpcFailure(-26, "bad-txns-inputs-duplicate")
            seen.add(op)
            coin = get_coin(op)
            if coin is None:
                raise RpcFailure(-25, "bad-txns-inputs-missingorspent")
            if coin.coinbase and height - coin.height < COINBASE_MATURITY:
                raise RpcFailure(-26, "bad-txns-premature-spend-of-coinbase")
            total_in += coin.value_sat
            nop = name_op_of(coin.script)
            if nop is not None:
                if name_in is not None:
                    raise RpcFailure(-26, "tx-multiple-name-inputs")
                name_in = (coin, nop)
        name_out: wnames.NameOp | None = None
        total_out = 0
        for o in tx.outputs:
            if o.value_sat < 0:
                raise RpcFailure(-26, "bad-txns-vout-negative")
            total_out += o.value_sat
            nop = name_op_of(o.script)
            if nop is not None:
                if name_out is not None:
                    raise RpcFailure(-26, "tx-multiple-name-outputs")
                name_out = nop
                if o.value_sat < NAME_LOCKED_SAT:
                    raise RpcFailure(-26, "tx-name-greedy")  # namecoin-core: greedy name rule
        if total_out > total_in:
            raise RpcFailure(-25, "bad-txns-in-belowout")
        if (name_in is not None or name_out is not None) and tx.version != NAMECOIN_TX_VERSION:
            raise RpcFailure(-26, "tx-nonname-with-name-input" if tx.version != NAMECOIN_TX_VERSION and name_in else "tx-name-with-wrong-version")
        if name_out is None:
            if name_in is not None:
                raise RpcFailure(-26, "tx-name-input-without-output")
            return total_in - total_out
        out_name = name_out.name or b""
        if len(out_name) > MAX_NAME_LENGTH and name_out.kind != wnames.NameOpKind.NEW:
            raise RpcFailure(-26, "tx-name-invalid")
        if name_out.kind != wnames.NameOpKind.NEW and len(name_out.value or b"") > MAX_VALUE_LENGTH:
            raise RpcFailure(-26, "tx-value-invalid")
        if name_out.kind == wnames.NameOpKind.NEW:
            if name_in is not None:
                raise RpcFailure(-26, "tx-name-new-with-name-input")
        elif name_out.kind == wnames.NameOpKind.FIRSTUPDATE:
            if name_in is None or name_in[1].kind != wnames.NameOpKind.NEW:
                raise RpcFailure(-26, "tx-firstupdate-without-name-new")
            rand = name_out.rand or b""
            if len(rand) != 20:
                raise RpcFailure(-26, "tx-firstupdate-invalid-rand")
            if wnames.name_commitment(rand, out_name) != name_in[1].commitment:
                raise RpcFailure(-26, "tx-firstupdate-hash-mismatch")
            if not mempool and (name_in[0].height < 0 or height - name_in[0].height < MIN_FIRSTUPDATE_DEPTH):
                raise RpcFailure(-26, "tx-firstupdate-immature")
            old = names(out_name)
            if old is not None and not self.is_expired(old, height):
                raise RpcFailure(-26, "tx-firstupdate-existing-name")
        else:
            if name_in is None or name_in[1].kind == wnames.NameOpKind.NEW:
                raise RpcFailure(-26, "tx-update-without-name-input")
            if name_in[1].name != name_out.name:
                raise RpcFailure(-26, "tx-update-name-mismatch")
        return total_in - total_out

    # ------------------------------------------------------------------ mempool

    def accept_to_mempool(self, tx: Tx, *, raw: bytes | None = None, reorg: bool = False) -> None:
        """Validate against tip+1 with the mempool view and add; publishes A.

        ``reorg``: a transaction of a disconnected block coming back; its mempool
        descendants are already there, so the name-chain policy does not apply.
        """
        with self.lock:
            if tx.txid in self.mempool:
                raise RpcFailure(-26, "txn-already-in-mempool")
            if self.tx_depth(tx.txid) > 0:
                raise RpcFailure(-27, "Transaction outputs already in utxo set")
            if tx.is_coinbase:
                raise RpcFailure(-26, "coinbase")
            spent: set[tuple[bytes, int]] = set()
            for e in self.mempool.values():
                for i in e.tx.inputs:
                    spent.add((i.prevout.txid, i.prevout.vout))
            for i in tx.inputs:
                if (i.prevout.txid, i.prevout.vout) in spent:
                    raise RpcFailure(-26, "txn-mempool-conflict")

            def get_coin(op: tuple[bytes, int]) -> Coin | None:
                return self.lookup_coin(op)

            nop = self._tx_name_op(tx)
            if nop is not None and nop[1].kind != wnames.NameOpKind.NEW and not reorg:
                chain_len = sum(
                    1 for e in self.mempool.values()
                    if (o := self._tx_name_op(e.tx)) is not None and o[1].kind != wnames.NameOpKind.NEW and o[1].name == nop[1].name
                )
                if nop[1].kind == wnames.NameOpKind.FIRSTUPDATE and chain_len:
                    raise RpcFailure(-26, "txn-mempool-name-error")
                if chain_len >= MAX_MEMPOOL_NAME_CHAIN:
                    raise RpcFailure(-26, "txn-mempool-name-chain-too-long")
            fee = self.check_tx(tx, self.height + 1, get_coin, lambda n: self.names.get(n), mempool=True)
            for out in tx.outputs:
                if out.script[:1] == b"\x6a" and out.value_sat > 0:
                    raise RpcFailure(-25, "Unspendable output exceeds maximum configured by user (maxburnamount)")
            self._add_mempool(tx, raw or encode_tx(tx), fee)

    def _add_mempool(self, tx: Tx, raw: bytes, fee: int) -> None:
        self.mempool[tx.txid] = MempoolEntry(tx=tx, raw=raw, time_s=self.clock(), height=self.height, fee_sat=fee)
        self.mempool_sequence += 1
        for hook in self.on_tx_added:
            hook(tx, raw, self.mempool_sequence)

    def _remove_mempool(self, txid: bytes, *, notify: bool) -> None:
        e = self.mempool.pop(txid, None)
        if e is None:
            return
        self.mempool_sequence += 1
        if notify:
            for hook in self.on_tx_removed:
                hook(e.tx, self.mempool_sequence)
        if not notify:
            return  # mined into a block: descendants stay (their input is now confirmed)
        # evicted (conflict, reorg): descendants cannot stay
        for other in list(self.mempool.values()):
            if any(i.prevout.txid == txid for i in other.tx.inputs):
                self._remove_mempool(other.tx.txid, notify=notify)

    def _prune_mempool_conflicts(self) -> None:
        """Drop mempool txs that no longer validate against tip+1 (spent inputs, names)."""
        for txid in list(self.mempool):
            e = self.mempool.get(txid)
            if e is None:
                continue
            ok = True
            for i in e.tx.inputs:
                op = (i.prevout.txid, i.prevout.vout)
                if op not in self.utxo and not (op[0] in self.mempool and op[0] != txid):
                    ok = False
            if ok:
                nop = self._tx_name_op(e.tx)
                if nop is not None and nop[1].kind == wnames.NameOpKind.FIRSTUPDATE:
                    old = self.names.get(nop[1].name or b"")
                    if old is not None and not self.is_expired(old, self.height + 1):
                        ok = False
            if not ok:
                self._remove_mempool(txid, notify=True)

    # ------------------------------------------------------------------ blocks

    def _coinbase(self, height: int, script: bytes, fees: int, wtxids: Sequence[bytes]) -> Tx:
        # bitcoin BIP141: witness root over wtxids with the coinbase as zero, reserved value zero
        wroot = merkle_root([NULL_HASH, *wtxids])
        commitment = sha256d(wroot + NULL_HASH)
        return Tx.create(
            version=1,
            inputs=[
                TxIn(
                    prevout=OutPoint(txid=NULL_HASH, vout=0xFFFFFFFF),  # type: ignore[arg-type]
                    script_sig=bip34_script(height),
                    sequence=0xFFFFFFFE,
                    witness=(NULL_HASH,),
                )
            ],
            outputs=[
                TxOut(value_sat=subsidy_sat(height) + fees, script=script),
                TxOut(value_sat=0, script=b"\x6a\x24" + WITNESS_COMMITMENT_HEADER + commitment),
            ],
            locktime=height - 1,  # bitcoin miner.cpp: coinbase nLockTime = height - 1
        )

    def make_block(self, prev_hash: bytes, txs: Sequence[Tx], script: bytes, fees: int, *, time_s: int | None = None) -> Block:
        """Assemble and merge-mine a block on ``prev_hash`` (no validation, not stored)."""
        prev = self.blocks[prev_hash]
        height = prev.height + 1
        cb = self._coinbase(height, script, fees, [t.wtxid for t in txs])
        all_txs = (cb, *txs)
        mtp = self.median_time_past(prev_hash)
        t = time_s if time_s is not None else max(self.clock(), mtp + 1)
        header = BlockHeader(
            version=AUXPOW_VERSION, prev_hash=prev_hash, merkle_root=merkle_root([x.txid for x in all_txs]),  # type: ignore[arg-type]
            time_s=t, bits=REGTEST_BITS, nonce=0,
        )
        return Block(header=header, auxpow=mine_auxpow(header), txs=all_txs)

    def template(self, script: bytes, tx_filter: Iterable[Tx] | None = None) -> tuple[list[Tx], int]:
        """Pick valid mempool txs for the next block (miners wait for immature firstupdates)."""
        height = self.height + 1
        view = _View(self)
        chosen: list[Tx] = []
        fees = 0
        source = list(tx_filter) if tx_filter is not None else [e.tx for e in self.mempool.values()]
        progress = True
        pending = list(source)
        while progress:
            progress = False
            rest: list[Tx] = []
            for tx in pending:
                try:
                    fee = self.check_tx(tx, height, view.get, view.name, mempool=False)
                except RpcFailure:
                    rest.append(tx)
                    continue
                view.apply(tx, height)
                chosen.append(tx)
                fees += fee
                progress = True
            pending = rest
        return chosen, fees

    def generate(self, n: int, script: bytes) -> list[bytes]:
        """Mine ``n`` blocks from the mempool onto the tip."""
        out: list[bytes] = []
        with self.lock:
            for _ in range(n):
                txs, fees = self.template(script)
                block = self.make_block(self.active[-1], txs, script, fees)
                self.submit_block(block)
                out.append(block.hash)
        return out

    def build_branch(self, fork_hash: bytes, blocks: Sequence[Sequence[Tx]], script: bytes | None = None) -> list[bytes]:
        """Mine a competing branch on ``fork_hash``: one block per list of txs (in order).

        The blocks are stored and, when the branch has more work, activated (a reorg:
        disconnected txs return to the mempool, conflicts are dropped). A block whose txs
        do not validate on its branch is marked invalid, as namecoind would.

        Returns:
            The new block hashes (wire order).
        """
        with self.lock:
            pay = script if script is not None else b"\x51"  # anyone-can-spend (OP_TRUE)
            out: list[bytes] = []
            prev = fork_hash
            for txs in blocks:
                block = self.make_block(prev, list(txs), pay, 0)
                self.submit_block(block)
                prev = block.hash
                out.append(prev)
            return out

    def generate_block(self, script: bytes, txs: Sequence[Tx]) -> bytes:
        """``generateblock``: exactly these txs, in order; refuses an invalid block."""
        with self.lock:
            height = self.height + 1
            view = _View(self)
            fees = 0
            for tx in txs:
                try:
                    fees += self.check_tx(tx, height, view.get, view.name, mempool=False)
                except RpcFailure as exc:
                    raise RpcFailure(-25, f"TestBlockValidity failed: {exc.message}") from exc
                view.apply(tx, height)
            block = self.make_block(self.active[-1], txs, script, fees)
            self.submit_block(block)
            return block.hash

    def submit_block(self, block: Block, *, raw: bytes | None = None) -> bool:
        """Store a block (any branch) and activate the most-work valid chain.

        Returns False for a duplicate. Raises RpcFailure for an unknown parent.
        """
        with self.lock:
            h = block.hash
            if h in self.blocks:
                return False
            prev = self.blocks.get(block.header.prev_hash)
            if prev is None:
                raise RpcFailure(-25, "bad-prevblk")
            raw = raw if raw is not None else encode_block(block)
            self._seq += 1
            entry = BlockEntry(block=block, raw=raw, height=prev.height + 1, work=prev.work + 2, seq=self._seq)
            self.blocks[h] = entry
            self.children.setdefault(block.header.prev_hash, []).append(h)
            for pos, tx in enumerate(block.txs):
                self.tx_index.setdefault(tx.txid, []).append((h, pos))
            self._emit({"op": "block", "hex": raw.hex()})
            if block.header.prev_hash == self.active[-1] and not self._any_invalid:
                # common case: extends the tip, nothing invalid anywhere -> it is the best chain
                try:
                    self._connect(h)
                except RpcFailure:
                    entry.invalid = True
                    self._any_invalid = True
                self._prune_mempool_conflicts()
                return True
            self.activate_best_chain()
            return True

    def _invalid_ancestry(self, h: bytes) -> bool:
        while True:
            e = self.blocks[h]
            if e.invalid:
                return True
            if e.height == 0 or self.is_active(h):
                return False
            h = e.block.header.prev_hash

    def best_tip(self) -> bytes:
        best = self.active[-1]
        best_e = self.blocks[best]
        for h, e in self.blocks.items():
            if h in self.children and self.children[h]:
                continue
            if e.work > best_e.work or (e.work == best_e.work and e.seq < best_e.seq and not self.is_active(best)):
                if not self._invalid_ancestry(h):
                    best, best_e = h, e
        # a tip that is itself valid may have a valid ancestor with more work than the
        # current tip when its descendants are invalid: walk invalid tips back
        for h, e in self.blocks.items():
            if e.invalid or self._invalid_ancestry(h):
                continue
            if e.work > best_e.work:
                best, best_e = h, e
        return best

    def activate_best_chain(self) -> None:
        while True:
            target = self.best_tip()
            if target == self.active[-1]:
                return
            path: list[bytes] = []
            h = target
            while not self.is_active(h):
                path.append(h)
                h = self.blocks[h].block.header.prev_hash
            fork = self.blocks[h].height
            blocks_txs: list[list[Tx]] = []
            while self.height > fork:
                blocks_txs.append(self._disconnect_tip())
            resurrect = [tx for txs in reversed(blocks_txs) for tx in txs]
            failed = False
            for bh in reversed(path):
                try:
                    self._connect(bh)
                except RpcFailure:
                    self.blocks[bh].invalid = True
                    self._any_invalid = True
                    failed = True
                    break
            for tx in resurrect:
                if tx.txid in self.mempool or self.tx_depth(tx.txid) > 0:
                    continue
                try:
                    self.accept_to_mempool(tx, reorg=True)
                except RpcFailure:
                    pass
            self._prune_mempool_conflicts()
            if not failed:
                return

    def _connect(self, h: bytes) -> None:
        e = self.blocks[h]
        height = e.height
        view = _View(self)
        fees = 0
        for tx in e.block.txs[1:]:
            fees += self.check_tx(tx, height, view.get, view.name, mempool=False)
            view.apply(tx, height)
        cb = e.block.txs[0]
        if sum(o.value_sat for o in cb.outputs) > subsidy_sat(height) + fees:
            raise RpcFailure(-26, "bad-cb-amount")
        undo = BlockUndo()
        for pos, tx in enumerate(e.block.txs):
            for i in tx.inputs if pos else ():
                op = (i.prevout.txid, i.prevout.vout)
                coin = self.utxo.pop(op)
                undo.spent.append((op, coin))
                self._spenders[op] = tx.txid
            for n, o in enumerate(tx.outputs):
                if o.script[:1] == b"\x6a":
                    continue
                self.utxo[(tx.txid, n)] = Coin(o.value_sat, o.script, height, pos == 0)
                undo.created.append((tx.txid, n))
            nop = self._tx_name_op(tx) if pos else None
            if nop is not None and nop[1].kind != wnames.NameOpKind.NEW:
                n, nameop = nop
                entry = NameEntry(
                    name=nameop.name or b"", value=nameop.value or b"", txid=tx.txid, vout=n,
                    address_script=nameop.address_script, height=height, op=_op_name(nameop.kind),
                )
                undo.names.append((entry.name, self.names.get(entry.name)))
                self.names[entry.name] = entry
                self._expiry_at.setdefault(height + NAME_EXPIRY_BLOCKS_REGTEST - 1, set()).add(entry.name)
                self.history.setdefault(entry.name, []).append(entry)
                undo.history.append(entry.name)
        # namecoin-core: the coin of a name last updated at H leaves the UTXO set when
        # block H+29 connects (regtest expiry 30); name_show keeps it until H+30
        for name in self._expiry_at.get(height, ()):
            last = self.names.get(name)
            if last is not None and last.height + NAME_EXPIRY_BLOCKS_REGTEST - 1 == height:
                outp = (bytes(last.txid), last.vout)
                gone = self.utxo.pop(outp, None)
                if gone is not None:
                    undo.expired.append((outp, gone))
        e.undo = undo
        self.active.append(h)
        # bitcoin removeForBlock: conflicts leave first (R), then the mined txs (no R)
        in_block = {tx.txid for tx in e.block.txs}
        for tx in e.block.txs[1:]:
            spent = {(i.prevout.txid, i.prevout.vout) for i in tx.inputs}
            for other in list(self.mempool.values()):
                if other.tx.txid not in in_block and any((i.prevout.txid, i.prevout.vout) in spent for i in other.tx.inputs):
                    self._remove_mempool(other.tx.txid, notify=True)
        for tx in e.block.txs:
            self._remove_mempool(tx.txid, notify=False)
        for hook in self.on_block_connected:
            hook(e.block, e.raw)

    def _disconnect_tip(self) -> list[Tx]:
        h = self.active[-1]
        e = self.blocks[h]
        undo = e.undo
        assert undo is not None  # internal invariant: every connected block has undo data
        for op, coin in undo.expired:
            self.utxo[op] = coin
        for name in reversed(undo.history):
            self.history[name].pop()
            if not self.history[name]:
                del self.history[name]
        for name, prev in reversed(undo.names):
            if prev is None:
                self.names.pop(name, None)
            else:
                self.names[name] = prev
        for op in undo.created:
            self.utxo.pop(op, None)
        for op, coin in undo.spent:
            self.utxo[op] = coin
            self._spenders.pop(op, None)
        e.undo = None
        self.active.pop()
        for hook in self.on_block_disconnected:
            hook(e.block, e.raw)
        return list(e.block.txs[1:])

    def invalidate(self, h: bytes) -> None:
        with self.lock:
            e = self.blocks.get(h)
            if e is None:
                raise RpcFailure(-5, "Block not found")
            e.invalid = True
            self._any_invalid = True
            self._emit({"op": "invalidate", "hash": h.hex()})
            if self.is_active(h):
                blocks_txs: list[list[Tx]] = []
                while self.height >= e.height:
                    blocks_txs.append(self._disconnect_tip())
                # bitcoin MaybeUpdateMempoolForReorg: re-add oldest block first (parents first)
                resurrect = [tx for txs in reversed(blocks_txs) for tx in txs]
                for tx in resurrect:
                    try:
                        self.accept_to_mempool(tx, reorg=True)
                    except RpcFailure:
                        pass
            self.activate_best_chain()

    def reconsider(self, h: bytes) -> None:
        with self.lock:
            e = self.blocks.get(h)
            if e is None:
                raise RpcFailure(-5, "Block not found")
            self._emit({"op": "reconsider", "hash": h.hex()})
            # bitcoin ResetBlockFailureFlags: clear the block, its ancestors and descendants
            stack = [h]
            while stack:
                x = stack.pop()
                self.blocks[x].invalid = False
                stack.extend(self.children.get(x, []))
            x = h
            while self.blocks[x].height > 0:
                self.blocks[x].invalid = False
                x = self.blocks[x].block.header.prev_hash
            self._any_invalid = any(b.invalid for b in self.blocks.values())
            self.activate_best_chain()

    def chain_tips(self) -> list[tuple[BlockEntry, int, str]]:
        """(tip entry, branch length, status) like getchaintips."""
        out: list[tuple[BlockEntry, int, str]] = []
        for h, e in self.blocks.items():
            if self.children.get(h) and h != self.active[-1]:
                continue
            if self.is_active(h):
                out.append((e, 0, "active"))
                continue
            x = h
            branch = 0
            while not self.is_active(x):
                branch += 1
                x = self.blocks[x].block.header.prev_hash
            status = "invalid" if self._invalid_ancestry(h) else "valid-fork"
            out.append((e, branch, status))
        out.sort(key=lambda t: (-t[0].height, t[2] != "active"))
        return out


def _op_name(kind: wnames.NameOpKind) -> str:
    return str(kind)


class _View:
    """Coins and names as seen while checking the transactions of one block in order."""

    def __init__(self, chain: SimChain) -> None:
        self.chain = chain
        self.added: dict[tuple[bytes, int], Coin] = {}
        self.spent: set[tuple[bytes, int]] = set()
        self.names: dict[bytes, NameEntry] = {}

    def get(self, op: tuple[bytes, int]) -> Coin | None:
        if op in self.spent:
            return None
        c = self.added.get(op)
        return c if c is not None else self.chain.utxo.get(op)

    def name(self, name: bytes) -> NameEntry | None:
        e = self.names.get(name)
        return e if e is not None else self.chain.names.get(name)

    def apply(self, tx: Tx, height: int) -> None:
        for i in tx.inputs:
            self.spent.add((i.prevout.txid, i.prevout.vout))
        for n, o in enumerate(tx.outputs):
            self.added[(tx.txid, n)] = Coin(o.value_sat, o.script, height, False)
            op = name_op_of(o.script)
            if op is not None and op.kind != wnames.NameOpKind.NEW:
                self.names[op.name or b""] = NameEntry(
                    name=op.name or b"", value=op.value or b"", txid=tx.txid, vout=n,
                    address_script=op.address_script, height=height, op=_op_name(op.kind),
                )


def mine_auxpow(header: BlockHeader) -> AuxPow:
    """namecoin-core ``CAuxPow::initAuxPow`` + nonce grinding: a minimal parent block whose
    coinbase commits to ``header`` (block hash in display order, tree size 1, nonce 0)."""
    script = push_data(header.hash[::-1] + struct.pack("<II", 1, 0))
    cb = Tx.create(
        version=1,
        inputs=[TxIn(prevout=OutPoint(txid=NULL_HASH, vout=0xFFFFFFFF), script_sig=script, sequence=0xFFFFFFFF)],  # type: ignore[arg-type]
        outputs=[],
        locktime=0,
    )
    target = bits_to_target(header.bits)
    nonce = 0
    while True:
        parent = BlockHeader(version=1, prev_hash=NULL_HASH, merkle_root=cb.txid, time_s=0, bits=0, nonce=nonce)  # type: ignore[arg-type]
        if int.from_bytes(sha256d(encode_header(parent)), "little") <= target:
            break
        nonce += 1
    return AuxPow(
        coinbase_tx=cb, parent_block_hash=NULL_HASH, coinbase_branch=(), coinbase_index=0,  # type: ignore[arg-type]
        chain_branch=(), chain_index=0, parent_header=parent,
    )


def address_script(address: str) -> bytes:
    """Address to script, with namecoind's RPC error on failure."""
    try:
        return decode_address(address)
    except Exception as exc:  # noqa: BLE001 - ParseError from the helper
        raise RpcFailure(-5, "Invalid address") from exc
