"""Light-client verification cost per bundle (goal <= 1 ms), side by side with parsing and a full HTTP resolve.

Run: .venv/bin/python bench/client.py [--n 2000]
Builds the demo world (simulator + indexer + API on 127.0.0.1) in a temp dir, then times:
verify_bundle on a Namecoin bundle (note signature, inclusion, map proof, SPV tx/branch/PoW),
on dave's private-chain bundle (entries validated from genesis), on an absence bundle, the client's pure decisions, JSON/CBOR parsing, and Client.resolve over HTTP.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from waypost.client import core
from waypost.client.lookup import Client
from waypost.client.state import ClientState
from waypost.demo import CHAIN_ADDRESS, start_world
from waypost.resolve.bundle import bundle_from_json, bundle_to_json, encode_bundle, parse_bundle, verify_bundle
from waypost.resolve.store import ResolveReader
from waypost.tlog import note as note_mod


def timeit(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """Median and p99 of ``n`` calls, in microseconds."""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    with tempfile.TemporaryDirectory(prefix="waypost-bench-client-") as d:
        world = start_world(Path(d), port=0, zmq=False)
        try:
            vkey = note_mod.parse_vkey(world.log_vkey)
            r = ResolveReader(sqlite3.connect(world.db), "regtest")
            present, _ = r.bundle("alice@id.bit")
            absent, _ = r.bundle("nobody@id.bit")
            chained, _ = r.bundle(CHAIN_ADDRESS)
            cbor = encode_bundle(present)
            js = json.dumps(bundle_to_json(present))
            prev = note_mod.open_checkpoint(present.checkpoint, [vkey])
            v = verify_bundle(present, address="alice@id.bit", log_verifiers=[vkey], network="regtest")
            hop = core.Hop(address="alice@id.bit", value=v.value, epoch=0, leaf_index=v.leaf_index, verdict="accepted")
            pin = core.pin_of(hop)
            rows: list[tuple[str, float, float]] = []

            def add(name: str, fn: Callable[[], object], count: int = n) -> None:
                med, p99 = timeit(fn, count)
                rows.append((name, med, p99))

            add("verify_bundle (namecoin leaf + SPV)",
                lambda: verify_bundle(present, address="alice@id.bit", log_verifiers=[vkey], network="regtest"))
            add(f"verify_bundle (private chain, {len(chained.chain)} entries)",
                lambda: verify_bundle(chained, address=CHAIN_ADDRESS, log_verifiers=[vkey], network="regtest"))
            add("verify_bundle (absence)",
                lambda: verify_bundle(absent, address="nobody@id.bit", log_verifiers=[vkey], network="regtest"))
            add("parse_bundle (CBOR)", lambda: parse_bundle(cbor))
            add("bundle_from_json (JSON)", lambda: bundle_from_json(json.loads(js)))
            add("core: verify_progress (same size)", lambda: core.verify_progress(prev, prev, ()))
            add("core: verify_pin (profile compare)", lambda: core.verify_pin(pin, hop))
            add("note: open_checkpoint (ed25519)", lambda: note_mod.open_checkpoint(present.checkpoint, [vkey]))
            client = Client([world.url], state=ClientState.in_memory(), log_verifiers=[vkey], network="regtest")
            add("Client.resolve over HTTP (loopback, Flask dev server)", lambda: client.resolve("alice@id.bit"), max(50, n // 20))
        finally:
            world.close()
    base = rows[0][1]
    print(f"bundle size: {len(cbor)} B CBOR, {len(js)} B JSON; n={n}")
    print(f"{'operation':<56} {'median us':>10} {'p99 us':>10} {'x verify':>9}")
    for name, med, p99 in rows:
        print(f"{name:<56} {med:>10.1f} {p99:>10.1f} {med / base:>9.2f}")
    print(f"goal: client verification <= 1000 us per bundle -> {'met' if base <= 1000 else 'NOT met'} ({base:.0f} us)")
    chain_med = rows[1][1]
    print(f"goal for a private-chain bundle: {'met' if chain_med <= 1000 else 'NOT met'} ({chain_med:.0f} us;"
          f" {len(chained.chain)} Ed25519 entry signatures + the checkpoint's)")


if __name__ == "__main__":
    main()
