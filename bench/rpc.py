"""Block fetch throughput over JSON-RPC: one call per block vs batches vs pipelined batches.

Runs against the loopback fake node (own process) serving the recorded regtest blocks, so
the figures measure the client and HTTP round trips, not namecoind.  Run:
``.venv/bin/python bench/rpc.py [rounds]``.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakenode import FakeNode, recorded_handler  # noqa: E402
from waypost.indexer.rpc import RpcClient, fetch_blocks_pipelined  # noqa: E402


def _serve(ports: multiprocessing.Queue[int], stop: Event) -> None:
    with FakeNode(recorded_handler()) as node:
        ports.put(node.port)
        stop.wait()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    # The node runs in its own process so that it does not share the client's GIL.
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(ports, stop), daemon=True)
    server.start()
    try:
        _bench(f"http://user:pass@127.0.0.1:{ports.get(timeout=30)}/", rounds)
    finally:
        stop.set()
        server.join(timeout=5)


def _bench(url: str, rounds: int) -> None:
    client = RpcClient(url)
    hashes = client.fetch_block_hashes(list(range(client.fetch_block_count() + 1)))
    total_bytes = sum(len(raw) for raw in client.fetch_blocks_raw(hashes))

    def one_by_one() -> int:
        return sum(len(client.fetch_block_raw(h)) for h in hashes)

    def batched() -> int:
        return sum(len(r) for i in range(0, len(hashes), 16) for r in client.fetch_blocks_raw(hashes[i : i + 16]))

    def pipelined() -> int:
        blocks = fetch_blocks_pipelined(lambda: RpcClient(url), hashes, batch_size=16, in_flight=3)
        return sum(len(raw) for raw in blocks)

    results: dict[str, float] = {}
    for name, run in (("one call per block", one_by_one), ("batches of 16", batched), ("pipelined x3", pipelined)):
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            assert run() == total_bytes
            best = min(best, time.perf_counter() - started)
        results[name] = len(hashes) / best
    base = results["one call per block"]
    print(f"{len(hashes)} blocks, {total_bytes} bytes, best of {rounds}")
    for name, rate in results.items():
        print(f"  {name:20s} {rate:9.0f} blocks/s   x{rate / base:.2f}")


if __name__ == "__main__":
    main()
