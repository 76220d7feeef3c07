"""Indexing throughput: a generated mainnet-shaped chain served by the replay node.

Run: ``.venv/bin/python bench/index.py [--blocks 100000] [--rounds 3]``. Prints blocks/s,
tx/s, name ops/s of ``waypost index --once``, the raw fetch rate of the same blocks from the
same node in the same run (the ratio), the indexer's peak RSS, and an extrapolation to
mainnet. Both the fetch and the index run in child processes so neither shares the node's
GIL. Fetch and index alternate for ``--rounds`` rounds (each index into a fresh database):
on a shared machine the speed drifts by 10-30% between minutes, so each round's ratio
compares neighbours, and the best time of each kind is the least disturbed figure.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAINNET_BLOCKS = 815_000
MAINNET_TXS = 9_000_000


def _generate(n_blocks: int, seed: int, cache: Path, *, auxpow: bool = True) -> list[tuple[bytes, int, int]]:
    """(raw, n_tx, n_name_ops) per block; cached on disk because generation is slow."""
    if cache.exists():
        out = []
        data = cache.read_bytes()
        pos = 0
        while pos < len(data):
            n, n_tx, n_ops = struct.unpack_from("<III", data, pos)
            pos += 12
            out.append((data[pos : pos + n], n_tx, n_ops))
            pos += n
        return out
    from tests.replaynode import ChainGenerator

    # ~11 tx per block (mainnet: 9M tx / 815k blocks), ~5% of transactions are name ops,
    # values up to 1023 bytes, mainnet's expiry schedule (12000 blocks below 24000, the ramp
    # to 36000 by 48000), and (as every mainnet block since 19200) a merge-mining proof of
    # ~0.6-2.6 KB after the header
    from waypost.indexer.params import Network, name_expiration_depth

    gen = ChainGenerator(
        seed=seed,
        txs_per_block=11,
        name_op_ratio=0.05,
        expiry_depth=lambda height: name_expiration_depth(Network.MAINNET, height),
        auxpow=auxpow,
    )
    rng = random.Random(seed)
    out = []
    parts = []
    t0 = time.monotonic()
    for i in range(n_blocks):
        b = gen.next_block(n_txs=rng.randint(1, 21))
        out.append((b.raw, b.n_tx, b.n_name_ops))
        parts.append(struct.pack("<III", len(b.raw), b.n_tx, b.n_name_ops) + b.raw)
        if i % 20_000 == 0 and i:
            print(f"  generated {i} blocks ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    cache.write_bytes(b"".join(parts))
    return out


_CHILD = (
    "import sys\n"
    "from waypost.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    # VmHWM is the peak RSS of this process image only (ru_maxrss would also count the
    # parent's pages inherited through fork before exec)
    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "print('VMHWM_KIB', hwm[0].split()[1] if hwm else 0, file=sys.stderr)\n"
    # the reader process (waited for, exec'd fresh): the largest child's peak RSS
    "import resource\n"
    "print('CHILD_MAXRSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def _child(argv: list[str]) -> tuple[float, int, int]:
    """Run a child; returns (wall seconds, its peak RSS, its children's largest peak RSS) in KiB."""
    # Bytecode caching on, as on an installed system (pip compiles at install time): this
    # sandbox sets PYTHONDONTWRITEBYTECODE, which makes every start compile every module.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, *argv], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {argv}\n{proc.stderr}")
    rss = child_rss = 0
    for line in proc.stderr.splitlines():
        if line.startswith("VMHWM_KIB"):
            rss = int(line.split()[1])
        elif line.startswith("CHILD_MAXRSS_KIB"):
            child_rss = int(line.split()[1])
    return wall, rss, child_rss


def _fetch_only(url: str, n_blocks: int) -> None:
    from waypost.indexer.rpc import RpcClient, fetch_blocks_pipelined

    total = 0
    for raw in fetch_blocks_pipelined(lambda: RpcClient(url), list(range(n_blocks)), batch_size=32, in_flight=3):
        total += len(raw)
    print(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-log", action="store_true", help="index names only (no transparency-log/outbox hooks)")
    parser.add_argument("--no-auxpow", action="store_true", help="blocks without merge-mining proofs (not mainnet-shaped)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating fetch/index rounds")
    parser.add_argument("--fetch-only", nargs=2, metavar=("URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fetch_only:
        _fetch_only(args.fetch_only[0], int(args.fetch_only[1]))
        return 0

    from tests.replaynode import ReplayNode

    shape = "plain" if args.no_auxpow else "auxpow"
    cache = Path(tempfile.gettempdir()) / f"waypost-bench-chain-v2-{args.blocks}-{args.seed}-{shape}.bin"
    t0 = time.monotonic()
    blocks = _generate(args.blocks, args.seed, cache, auxpow=not args.no_auxpow)
    n_tx = sum(b[1] for b in blocks)
    n_ops = sum(b[2] for b in blocks)
    n_bytes = sum(len(b[0]) for b in blocks)
    print(f"chain: {len(blocks)} blocks, {n_tx} tx, {n_ops} name ops ({100 * n_ops / max(n_tx, 1):.1f}% of tx), "
          f"{n_bytes / 1e6:.1f} MB, {'with' if shape == 'auxpow' else 'no'} AuxPoW (ready in {time.monotonic() - t0:.0f} s)")

    node = ReplayNode("main")
    hashes = [node.add_block(raw, h, n_tx=k) for h, (raw, k, _) in enumerate(blocks)]
    node.set_active(hashes)
    del blocks
    node.start()
    n = len(hashes)
    what = "names only (--no-log)" if args.no_log else "with log hooks"
    fetches: list[float] = []
    indexes: list[float] = []
    rss_kib = reader_kib = 0
    try:
        for r in range(max(1, args.rounds)):
            with tempfile.TemporaryDirectory() as tmp:
                fetch_s, _, _ = _child([__file__, "--fetch-only", node.url, str(n)])
                db = Path(tmp) / "bench.db"
                index_s, rss, reader_rss = _child(
                    ["-c", _CHILD, "index", "--rpc-url", node.url, "--db", str(db), "--network", "mainnet", "--once"]
                    + (["--no-log"] if args.no_log else [])
                )
                db_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
            fetches.append(fetch_s)
            indexes.append(index_s)
            rss_kib, reader_kib = max(rss_kib, rss), max(reader_kib, reader_rss)
            print(f"round {r + 1}: raw fetch {n / fetch_s:7.0f} blocks/s ({fetch_s:.1f} s), index {n / index_s:7.0f} "
                  f"blocks/s ({index_s:.1f} s), ratio {fetch_s / index_s:.2f}")
    finally:
        node.stop()

    fetch_s, index_s = min(fetches), min(indexes)
    ratios = sorted(f / i for f, i in zip(fetches, indexes, strict=True))
    fetch_rate = n / fetch_s
    index_rate = n / index_s
    print(f"raw fetch (getblock batches, 3 in flight), best: {fetch_rate:9.0f} blocks/s  ({fetch_s:.1f} s)")
    print(f"waypost index --once, {what}, best: {index_rate:9.0f} blocks/s  ({index_s:.1f} s)")
    print(f"  tx/s {n_tx / index_s:10.0f}   name ops/s {n_ops / index_s:8.0f}")
    print(f"  ratio index/raw fetch: {index_rate / fetch_rate:.2f} (best times); per round median "
          f"{ratios[len(ratios) // 2]:.2f}, range {ratios[0]:.2f}-{ratios[-1]:.2f}  (goal >= 0.8)")
    print(f"  peak RSS: indexer {rss_kib / 1024:.0f} MB + reader process {reader_kib / 1024:.0f} MB  "
          f"(goal <= 200 MB); database {db_mb:.0f} MB")
    per_block_s = index_s / n
    per_tx_s = index_s / max(n_tx, 1)
    est = max(per_block_s * MAINNET_BLOCKS, per_tx_s * MAINNET_TXS)
    print(f"  mainnet extrapolation ({MAINNET_BLOCKS} blocks, {MAINNET_TXS} tx): ~{est / 60:.0f} min "
          f"(by blocks {per_block_s * MAINNET_BLOCKS / 60:.0f} min, by tx {per_tx_s * MAINNET_TXS / 60:.0f} min), "
          "fetch from a real namecoind excluded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
