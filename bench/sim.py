"""Benchmark the regtest simulator's bulk chain builder and its RPC serving.

    .venv/bin/python bench/sim.py [--blocks 10200] [--txs 10] [--rpc-sample 500]

Builds a chain of ``--blocks`` blocks (``--txs`` transactions each, all name operations by
default, values up to 1023 bytes, d/ and id/ names) on a journaled SimNode, prints
blocks/s and name ops/s, then times ``getblock(hash, 0)`` and ``name_show`` over HTTP on
the result. Figures are measured side by side in one run; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from waypost.regtest.node import SimNode  # noqa: E402


def _rpc(url: str, auth: str, method: str, *params: object) -> object:
    req = urllib.request.Request(url, data=json.dumps({"id": 1, "method": method, "params": list(params)}).encode(),
                                 headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())["result"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--blocks", type=int, default=10_200)
    ap.add_argument("--txs", type=int, default=10)
    ap.add_argument("--name-fraction", type=float, default=1.0)
    ap.add_argument("--rpc-sample", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SimNode.start(Path(tmp) / "node") as node:
        t0 = time.perf_counter()
        last = [t0]

        def progress(h: int) -> None:
            if h % 2000 == 0:
                now = time.perf_counter()
                print(f"  height {h}: {2000 / (now - last[0]):.0f} blocks/s", flush=True)
                last[0] = now

        stats = node.bulk_generate(args.blocks, txs_per_block=args.txs, name_fraction=args.name_fraction,
                                   progress=progress)
        dt = time.perf_counter() - t0
        size = (Path(tmp) / "node" / "regtest" / "journal.jsonl").stat().st_size
        print(f"bulk: {stats.blocks} blocks, {stats.txs} txs, {stats.name_ops} name ops "
              f"(new {stats.name_new}, firstupdate {stats.firstupdates}, update {stats.updates}), "
              f"{stats.names} names in {dt:.1f} s")
        print(f"bulk: {stats.blocks / dt:.0f} blocks/s, {stats.name_ops / dt:.0f} name ops/s, journal {size / 1e6:.1f} MB")
        auth = node.cookie_path.read_text()
        rng = random.Random(0)
        hashes = [node.chain.active[rng.randrange(1, node.chain.height + 1)][::-1].hex() for _ in range(args.rpc_sample)]
        t1 = time.perf_counter()
        for h in hashes:
            _rpc(node.rpc_url, auth, "getblock", h, 0)
        t_raw = time.perf_counter() - t1
        names = rng.sample(sorted(node.chain.names), min(args.rpc_sample, len(node.chain.names)))
        t2 = time.perf_counter()
        for n in names:
            _rpc(node.rpc_url, auth, "name_show", n.hex(), {"nameEncoding": "hex", "allowExpired": True})
        t_show = time.perf_counter() - t2
        print(f"rpc: getblock(hash, 0) {len(hashes) / t_raw:.0f} calls/s, name_show {len(names) / t_show:.0f} calls/s")
        print(f"ratio: bulk blocks/s vs RPC getblock calls/s = {(stats.blocks / dt) / (len(hashes) / t_raw):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
