"""Parse throughput of ``wire.parse_block`` and of the indexer's ``state.summarize_raw``
(tx/s) next to a bare double-SHA256 pass.

Run by hand: ``.venv/bin/python bench/parse.py [--seconds 2]``. Blocks: every recorded
namecoind regtest block plus synthesised blocks in the same wire format (legacy P2PKH,
segwit P2WPKH and name_update transactions), all built with ``wire``'s own encoders.
Prints figures measured side by side in one run; no assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from waypost.indexer import names, state, wire  # noqa: E402
from waypost.registry.model import BlockHash, Hash160, Txid  # noqa: E402

REGTEST = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "namecoind-regtest" / "blocks"


def regtest_blocks() -> list[bytes]:
    out = []
    for path in sorted(REGTEST.glob("[0-9]*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out.append(bytes.fromhex(next(c["result"] for c in doc["rpc"] if c["method"] == "getblock" and c["params"][1] == 0)))
    return out


def _p2pkh(rnd: random.Random) -> bytes:
    return b"\x76\xa9\x14" + rnd.randbytes(20) + b"\x88\xac"


def _tx(rnd: random.Random, kind: str) -> wire.Tx:
    prev = wire.OutPoint(txid=Txid(rnd.randbytes(32)), vout=rnd.randrange(4))
    if kind == "segwit":
        inputs = [
            wire.TxIn(prevout=prev, script_sig=b"", sequence=0xFFFFFFFD, witness=(rnd.randbytes(71), b"\x02" + rnd.randbytes(32))),
            wire.TxIn(prevout=wire.OutPoint(txid=Txid(rnd.randbytes(32)), vout=0), script_sig=b"", sequence=0xFFFFFFFD, witness=(rnd.randbytes(72), b"\x03" + rnd.randbytes(32))),
        ]
        outputs = [wire.TxOut(value_sat=rnd.randrange(10**9), script=b"\x00\x14" + rnd.randbytes(20)) for _ in range(2)]
        return wire.Tx.create(version=2, inputs=inputs, outputs=outputs)
    script_sig = b"\x47" + rnd.randbytes(71) + b"\x21\x02" + rnd.randbytes(32)
    inputs = [wire.TxIn(prevout=prev, script_sig=script_sig, sequence=0xFFFFFFFF)]
    outputs = [wire.TxOut(value_sat=rnd.randrange(10**9), script=_p2pkh(rnd))]
    if kind == "name":
        value = json.dumps({"nostr": rnd.randbytes(32).hex(), "signer": rnd.randbytes(32).hex()}).encode()
        op = names.NameOp(kind=names.NameOpKind.UPDATE, name=b"id/" + rnd.randbytes(6).hex().encode(), value=value, rand=None, commitment=None, address_script=_p2pkh(rnd))
        inputs.append(wire.TxIn(prevout=wire.OutPoint(txid=Txid(rnd.randbytes(32)), vout=1), script_sig=script_sig, sequence=0xFFFFFFFF))
        outputs.append(wire.TxOut(value_sat=names.NAME_LOCKED_AMOUNT_SAT, script=names.encode_name_script(op)))
        return wire.Tx.create(version=names.NAMECOIN_TX_VERSION, inputs=inputs, outputs=outputs)
    outputs.append(wire.TxOut(value_sat=rnd.randrange(10**9), script=_p2pkh(rnd)))
    return wire.Tx.create(version=1, inputs=inputs, outputs=outputs)


def synthetic_blocks(n_blocks: int, txs_per_block: int, seed: int = 1) -> list[bytes]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n_blocks):
        coinbase = wire.Tx.create(
            version=1,
            inputs=[wire.TxIn(prevout=wire.OutPoint(txid=Txid(wire.NULL_HASH), vout=wire.COINBASE_VOUT), script_sig=b"\x03\x10\x27\x00", sequence=0xFFFFFFFF)],
            outputs=[wire.TxOut(value_sat=50 * 10**8, script=_p2pkh(rnd))],
        )
        kinds = rnd.choices(["legacy", "segwit", "name"], weights=[5, 3, 2], k=txs_per_block - 1)
        txs = (coinbase, *(_tx(rnd, k) for k in kinds))
        header = wire.BlockHeader(version=0x00010004, prev_hash=BlockHash(rnd.randbytes(32)), merkle_root=wire.merkle_root([t.txid for t in txs]), time_s=1_700_000_000, bits=0x207FFFFF, nonce=0)
        out.append(wire.encode_block(wire.Block(header=header, auxpow=None, txs=txs)))
    return out


def _time(fn: object, seconds: float, rounds: int = 5) -> float:
    """Best CPU time (this process, so one core; waiting for a shared CPU not counted)
    of one call of ``fn`` over ``rounds`` rounds."""
    assert callable(fn)
    best = float("inf")
    clock = time.process_time
    for _ in range(rounds):
        runs = 0
        start = clock()
        while True:
            fn()
            runs += 1
            elapsed = clock() - start
            if elapsed >= seconds / rounds:
                break
        best = min(best, elapsed / runs)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--txs", type=int, default=1000, help="transactions per synthetic block")
    args = ap.parse_args()

    sets = {
        "regtest vectors (166 blocks)": regtest_blocks(),
        f"synthetic ({args.blocks} x {args.txs} txs: 50% p2pkh, 30% segwit, 20% name_update)": synthetic_blocks(args.blocks, args.txs),
    }
    sha = hashlib.sha256
    print(f"python {sys.version.split()[0]}, {args.seconds:.1f}s per figure, best of 5 rounds of process CPU time (one core)")
    for label, blocks in sets.items():
        parsed = [wire.parse_block(b) for b in blocks]
        n_tx = sum(len(b.txs) for b in parsed)
        n_bytes = sum(len(b) for b in blocks)
        tx_slices = [wire.encode_tx(t) for b in parsed for t in b.txs]

        def parse_all() -> None:
            for raw in blocks:
                wire.parse_block(raw)

        def parse_no_merkle() -> None:
            for raw in blocks:
                wire.parse_block(raw, verify_merkle=False)

        def parse_and_names() -> None:
            for raw in blocks:
                for tx in wire.parse_block(raw).txs:
                    names.find_name_output(tx)

        def summarize_all() -> None:
            for raw in blocks:
                state.summarize_raw(raw, "regtest")

        def sha_blocks() -> None:
            for raw in blocks:
                sha(sha(raw).digest()).digest()

        def sha_txs() -> None:
            for raw in tx_slices:
                sha(sha(raw).digest()).digest()

        t_sha_b = _time(sha_blocks, args.seconds)
        t_sha_t = _time(sha_txs, args.seconds)
        t_parse = _time(parse_all, args.seconds)
        t_nomerkle = _time(parse_no_merkle, args.seconds)
        t_names = _time(parse_and_names, args.seconds)
        t_summary = _time(summarize_all, args.seconds)
        print(f"\n{label}: {len(blocks)} blocks, {n_tx} txs, {n_bytes / 1e6:.2f} MB")
        print(f"  sha256d over whole blocks      {n_bytes / t_sha_b / 1e6:9.1f} MB/s")
        print(f"  sha256d per tx (pre-split)     {n_tx / t_sha_t:9.0f} tx/s")
        print(f"  parse_block (merkle checked)   {n_tx / t_parse:9.0f} tx/s  {n_bytes / t_parse / 1e6:6.1f} MB/s")
        print(f"  parse_block (no merkle check)  {n_tx / t_nomerkle:9.0f} tx/s")
        print(f"  parse_block + find_name_output {n_tx / t_names:9.0f} tx/s")
        print(f"  summarize_raw (indexer path)   {n_tx / t_summary:9.0f} tx/s  "
              f"({'compiled scanner' if wire.FAST_SCAN else 'no compiled scanner: Python'})")
        print(f"  ratio parse / sha256d-per-tx   {t_parse / t_sha_t:9.1f} x slower")
        print(f"  ratio parse / sha256d-blocks   {t_parse / t_sha_b:9.1f} x slower")


if __name__ == "__main__":
    main()
