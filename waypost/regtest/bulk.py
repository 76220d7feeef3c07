"""Fast bulk chain builder for benchmarks and mainnet-shaped test chains (simulator core).

Builds valid blocks straight through ``SimChain`` (no RPC, no wallet coin selection, no
mempool): name_new -> (12 blocks) -> name_firstupdate -> name_update ..., plain payments,
values up to 1023 bytes, ``d/`` and ``id/`` names. The result is an ordinary chain that the
RPC server can serve.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from waypost.indexer import names as wnames
from waypost.indexer.wire import NAMECOIN_TX_VERSION, OutPoint, Tx, TxIn, TxOut
from waypost.regtest.chain import (
    COINBASE_MATURITY,
    MIN_FIRSTUPDATE_DEPTH,
    NAME_EXPIRY_BLOCKS_REGTEST,
    NAME_LOCKED_SAT,
    SimChain,
)
from waypost.regtest.script import key_for, p2pkh_script, push_data

__all__ = ["BulkStats", "bulk_generate"]

_SIG = push_data(b"\x30\x44\x02\x20" + b"\x11" * 32 + b"\x02\x20" + b"\x22" * 32 + b"\x01")


@dataclass(frozen=True, slots=True, kw_only=True)
class BulkStats:
    """What ``bulk_generate`` made."""

    blocks: int
    txs: int
    name_ops: int
    name_new: int
    firstupdates: int
    updates: int
    names: int


def _value(rng: random.Random, max_len: int) -> bytes:
    # mainnet-like spread: mostly small JSON, some medium, a few near the limit
    r = rng.random()
    n = rng.randint(10, 200) if r < 0.7 else rng.randint(200, 520) if r < 0.95 else rng.randint(520, 1023)
    n = min(n, max_len)
    start = rng.randrange(len(_FILLER) - 1100)
    body = b'{"v":"' + _FILLER[start : start + max(0, n - 8)] + b'"}'
    return body[:n]


_FILLER = bytes(random.Random(1).choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8192))


def bulk_generate(
    chain: SimChain,
    n_blocks: int,
    *,
    txs_per_block: int = 10,
    name_fraction: float = 1.0,
    max_value_len: int = 1023,
    namespaces: tuple[str, ...] = ("d/", "id/"),
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> BulkStats:
    """Append ``n_blocks`` blocks to the tip of ``chain``.

    Args:
        chain: the chain to extend (anything already there is kept).
        n_blocks: blocks to add (the first ``COINBASE_MATURITY + 1`` carry no txs when the
            chain is young: their coinbases fund the rest).
        txs_per_block: non-coinbase transactions per block.
        name_fraction: share of those that are name operations (the rest: payments).
        max_value_len: largest name value (consensus limit 1023).
        namespaces: name prefixes to draw from.
        seed: reproducible choices.
        progress: called with the height after each block.

    Returns:
        Counts of what was made.
    """
    rng = random.Random(seed)
    scripts = [p2pkh_script(key_for(seed, "bulk", i)[1]) for i in range(16)]
    miner = scripts[0]
    funding: deque[tuple[bytes, int, int]] = deque()  # (txid, vout, value) of mature coins
    coinbases: deque[tuple[int, bytes]] = deque()  # (height, txid) waiting for maturity
    pending_new: deque[tuple[bytes, bytes, bytes, int, int]] = deque()  # name, rand, txid, vout, height
    live: dict[bytes, tuple[bytes, int, int]] = {}  # name -> (txid, vout, height)
    live_names: list[bytes] = []  # sampling list for updates (lazily pruned)
    expiring: dict[int, list[bytes]] = {}
    touched: list[bytes] = []
    counter = 0
    stats = {"txs": 0, "new": 0, "first": 0, "update": 0}
    fee = 0
    for _ in range(n_blocks):
        h = chain.height + 1
        while coinbases and coinbases[0][0] + COINBASE_MATURITY <= h:
            _, cb_txid = coinbases.popleft()
            funding.append((cb_txid, 0, chain.utxo[(cb_txid, 0)].value_sat))
        txs: list[Tx] = []
        for _k in range(txs_per_block if funding else 0):
            if not funding:
                break
            if rng.random() < name_fraction:
                tx = _name_tx(rng, h, pending_new, live, live_names, touched, funding, scripts, namespaces, max_value_len, counter, stats)
                counter += 1
            else:
                tx = _payment(rng, funding, scripts)
            txs.append(tx)
        block = chain.make_block(chain.active[-1], txs, miner, fee)
        chain.submit_block(block)
        if chain.active[-1] != block.hash:
            raise RuntimeError(f"bulk block at height {h} was refused")  # internal invariant
        coinbases.append((h, block.txs[0].txid))
        stats["txs"] += len(txs)
        # names whose coin is gone (block H+29 connected) cannot be updated any more
        for name in expiring.pop(h, ()):
            got = live.get(name)
            if got is not None and got[2] + NAME_EXPIRY_BLOCKS_REGTEST - 1 <= h:
                del live[name]
        for name, (_, _, lh) in ((n, live[n]) for n in touched if n in live):
            expiring.setdefault(lh + NAME_EXPIRY_BLOCKS_REGTEST - 1, []).append(name)
        touched.clear()
        if progress is not None:
            progress(h)
    ops = stats["new"] + stats["first"] + stats["update"]
    return BulkStats(
        blocks=n_blocks, txs=stats["txs"], name_ops=ops, name_new=stats["new"],
        firstupdates=stats["first"], updates=stats["update"], names=len(chain.names),
    )


def _spend_funding(funding: deque[tuple[bytes, int, int]], amount: int) -> tuple[TxIn, int]:
    txid, vout, value = funding.popleft()
    return TxIn(prevout=OutPoint(txid=txid, vout=vout), script_sig=_SIG, sequence=0xFFFFFFFF), value - amount  # type: ignore[arg-type]


def _payment(rng: random.Random, funding: deque[tuple[bytes, int, int]], scripts: list[bytes]) -> Tx:
    pay = rng.randint(1000, 100_000)
    tin, change = _spend_funding(funding, pay)
    outs = [TxOut(value_sat=pay, script=rng.choice(scripts)), TxOut(value_sat=change, script=scripts[1])]
    tx = Tx.create(version=1, inputs=[tin], outputs=outs)
    if change > 2 * NAME_LOCKED_SAT:
        funding.appendleft((tx.txid, 1, change))
    return tx


def _name_tx(
    rng: random.Random,
    h: int,
    pending_new: deque[tuple[bytes, bytes, bytes, int, int]],
    live: dict[bytes, tuple[bytes, int, int]],
    live_names: list[bytes],
    touched: list[bytes],
    funding: deque[tuple[bytes, int, int]],
    scripts: list[bytes],
    namespaces: tuple[str, ...],
    max_value_len: int,
    counter: int,
    stats: dict[str, int],
) -> Tx:
    dest = rng.choice(scripts)
    if pending_new and pending_new[0][4] + MIN_FIRSTUPDATE_DEPTH <= h and pending_new[0][0] not in live:
        name, rand, txid, vout, _ = pending_new.popleft()
        op = wnames.NameOp(kind=wnames.NameOpKind.FIRSTUPDATE, name=name, value=_value(rng, max_value_len),
                           rand=rand, commitment=None, address_script=dest)
        tin = TxIn(prevout=OutPoint(txid=txid, vout=vout), script_sig=_SIG, sequence=0xFFFFFFFF)  # type: ignore[arg-type]
        tx = Tx.create(version=NAMECOIN_TX_VERSION, inputs=[tin],
                       outputs=[TxOut(value_sat=NAME_LOCKED_SAT, script=wnames.encode_name_script(op))])
        live[name] = (tx.txid, 0, h)
        live_names.append(name)
        touched.append(name)
        stats["first"] += 1
        return tx
    name = b""
    if live_names and (rng.random() < 0.6 or len(pending_new) > 2000):
        for _try in range(6):
            i = rng.randrange(len(live_names))
            cand = live_names[i]
            got = live.get(cand)
            if got is None:  # expired: drop lazily (swap-remove)
                live_names[i] = live_names[-1]
                live_names.pop()
                if not live_names:
                    break
                continue
            if got[2] < h and got[2] + NAME_EXPIRY_BLOCKS_REGTEST - 2 >= h:
                name = cand
                break
    if name:
        txid, vout, _ = live[name]
        op = wnames.NameOp(kind=wnames.NameOpKind.UPDATE, name=name, value=_value(rng, max_value_len),
                           rand=None, commitment=None, address_script=dest)
        tin = TxIn(prevout=OutPoint(txid=txid, vout=vout), script_sig=_SIG, sequence=0xFFFFFFFF)  # type: ignore[arg-type]
        tx = Tx.create(version=NAMECOIN_TX_VERSION, inputs=[tin],
                       outputs=[TxOut(value_sat=NAME_LOCKED_SAT, script=wnames.encode_name_script(op))])
        live[name] = (tx.txid, 0, h)
        touched.append(name)
        stats["update"] += 1
        return tx
    ns = namespaces[counter % len(namespaces)]
    name = f"{ns}bulk{counter:07d}".encode()
    rand = rng.randbytes(20)
    op = wnames.NameOp(kind=wnames.NameOpKind.NEW, name=None, value=None, rand=None,
                       commitment=wnames.name_commitment(rand, name), address_script=dest)
    tin, change = _spend_funding(funding, NAME_LOCKED_SAT)
    outs = [TxOut(value_sat=NAME_LOCKED_SAT, script=wnames.encode_name_script(op)), TxOut(value_sat=change, script=scripts[1])]
    tx = Tx.create(version=NAMECOIN_TX_VERSION, inputs=[tin], outputs=outs)
    if change > 2 * NAME_LOCKED_SAT:
        funding.appendleft((tx.txid, 1, change))
    pending_new.append((name, rand, tx.txid, 0, h))
    stats["new"] += 1
    return tx
