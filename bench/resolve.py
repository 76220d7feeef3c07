"""Benchmark: ``/v1/resolve`` with proofs under gunicorn, bundle size, client verification time.

1. Indexes the recorded regtest chain (tests/vectors, served by the replay node) with the
   resolver hook (log leaves, SPV data, checkpoints).
2. Submits a private chain (genesis -> update -> rotate) for a ``.key`` address.
3. Measures bundle sizes (canonical CBOR and JSON) and ``verify_bundle`` time per address.
4. Starts ``waypost serve --workers 2`` (gunicorn, 127.0.0.1) and loads ``/v1/resolve/{address}``
   (JSON) and the same with ``Accept: application/cbor``, side by side with ``/v1/names/{name}``.
   These answers come from the app's per-thread answer cache (the same few addresses are asked
   again and again, and nothing commits meanwhile); the same server with
   ``WAYPOST_RESPONSE_CACHE=0`` shows the uncached path (snapshot + proof reads per request),
   and a copy of the index without the hook's snapshots the full-replay path.
5. Load: wrk when installed (random address per request from a file), else Python threads;
   the output says which. Server CPU per request from /proc.

Run: ``.venv/bin/python bench/resolve.py [--seconds 5]``. Goals (issue 6): >= 3k req/s on 2 cores,
bundle <= 2 KB, client verification <= 1 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import hashlib  # noqa: E402

import nacl.signing  # noqa: E402
from lookup import WRK, RequestFn, _free_port, _wait_ready, run_load, run_wrk  # noqa: E402

from waypost.api.cli import build_app  # noqa: E402
from waypost.registry.address import encode_key_domain  # noqa: E402
from waypost.registry.chain import EntryKind, commit_key, encode_canonical, entry_hash, make_entry  # noqa: E402

from tests.replaynode import regtest_vector_node  # noqa: E402
from waypost.indexer.cli import main as index_main  # noqa: E402
from waypost.resolve.bundle import bundle_to_json, encode_bundle, verify_bundle  # noqa: E402
from waypost.resolve.pipeline import address_of_name  # noqa: E402
from waypost.resolve.store import ResolveReader  # noqa: E402
from waypost.tlog import note as note_mod  # noqa: E402


def _request(paths: list[str], accept: str) -> RequestFn:
    def go(conn: http.client.HTTPConnection, r: int) -> bool:
        conn.request("GET", paths[r % len(paths)], headers={"Accept": accept})
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200

    return go


def _median_us(fn: Callable[[], object], n: int = 300) -> float:
    """Median of ``n`` timed calls in microseconds (robust to other load on a shared machine)."""
    fn()
    samples = []
    cpu = []
    for _ in range(n):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e6)
        cpu.append((time.process_time() - c) * 1e6)
    _CPU_MEDIANS.append(statistics.median(cpu))
    return statistics.median(samples)


_CPU_MEDIANS: list[float] = []  # CPU-time medians of the same calls (excludes time preempted by other load)


def _submit_chain(db: Path) -> str:
    """POST a three-entry private chain (in-process app, same database); returns its address."""
    k1, k2, k3 = (nacl.signing.SigningKey(hashlib.sha256(b"bench-%d" % i).digest()) for i in (1, 2, 3))
    body = {"name": "Pat", "endpoints": {"email": "pat@example.org", "xmpp": "pat@example.org"}}
    g = make_entry(k1, seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(bytes(k2.verify_key)), body=body)
    u = make_entry(k1, seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=g.next, body=body)
    r = make_entry(k2, seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=commit_key(bytes(k3.verify_key)),
                   body=body)
    address = f"pat@{encode_key_domain(bytes(k1.verify_key))}"
    resp = build_app(str(db)).test_client().post(f"/v1/chains/{address}", data=encode_canonical([e.encode() for e in (g, u, r)]),
                                                  content_type="application/cbor")
    assert resp.status_code == 201, resp.get_json()
    return address


Phase = tuple[str, list[str], str]  # label, paths, Accept


def _serve_and_load(db: Path, args: argparse.Namespace, phases: list[Phase], *, cache: bool = True) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WAYPOST_RESPONSE_CACHE": "1" if cache else "0"}
    api = subprocess.Popen([sys.executable, "-m", "waypost.cli", "serve", "--db", str(db), "--port", str(port),
                            "--workers", str(args.workers)], env=env)
    use_wrk = WRK is not None and not args.python_generator
    try:
        _wait_ready(port, "/v1/status", 30)
        with tempfile.TemporaryDirectory(prefix="waypost-bench-wrk-") as wtmp:
            for label, paths, accept in phases:
                if use_wrk:
                    run_wrk("warm-up", port, paths, Path(wtmp), seconds=1, connections=args.connections, accept=accept)
                    res = run_wrk(f"{label} x{args.workers}", port, paths, Path(wtmp), seconds=args.seconds,
                                  connections=args.connections, accept=accept, server_pid=api.pid)
                else:
                    req = _request(paths, accept)
                    run_load("warm-up", port, req, threads=args.threads, seconds=1.0, max_requests=5000)
                    res = run_load(f"{label} x{args.workers}", port, req, threads=args.threads, seconds=args.seconds,
                                   max_requests=10**7, server_pid=api.pid)
                print(res.line())
    finally:
        api.send_signal(signal.SIGTERM)
        api.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument("--python-generator", action="store_true", help="Python threads even when wrk is installed")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (load generator shares them)")
    print("load generator: " + ("wrk" if WRK is not None and not args.python_generator else
                                "Python threads (fallback: costs about as much CPU per request as the server)"))
    with tempfile.TemporaryDirectory(prefix="waypost-bench-resolve-") as tmpdir:
        db = Path(tmpdir) / "index.db"
        node, _ = regtest_vector_node()
        node.start()
        t0 = time.monotonic()
        try:
            assert index_main(["--rpc-url", node.url, "--db", str(db), "--network", "regtest", "--once"]) == 0
        finally:
            node.stop()
        print(f"indexed the recorded regtest chain with the resolver hook in {time.monotonic() - t0:.2f} s")
        vkey = note_mod.parse_vkey((db.parent / "index.db.logkey.vkey").read_text().strip())
        chain_addr = _submit_chain(db)
        reader = ResolveReader(sqlite3.connect(db, isolation_level=None), "regtest")
        addrs = []
        for rec in reader.names.fetch_names(limit=1000):
            a = address_of_name(rec.name)
            if a is not None and "@" in a:
                addrs.append(a)
        sizes, jsizes, verify_us = [], [], []
        for a in addrs:
            b, _ = reader.bundle(a)
            sizes.append(len(encode_bundle(b)))
            jsizes.append(len(json.dumps(bundle_to_json(b))))
            verify_us.append(_median_us(lambda: verify_bundle(b, address=a, log_verifiers=[vkey], network="regtest")))
            spv = b.spv
            assert spv is not None
            print(f"  {a:<16} CBOR {sizes[-1]:5d} B (header+auxpow {len(spv.header)}, tx {len(spv.tx)},"
                  f" branch {32 * len(spv.branch)}, inclusion {32 * len(b.inclusion)}, checkpoint {len(b.checkpoint)})"
                  f"  JSON {jsizes[-1]:5d} B  verify {verify_us[-1]:6.0f} us (CPU {_CPU_MEDIANS[-1]:.0f} us)")
        cb, _ = reader.bundle(chain_addr)
        chain_us = _median_us(lambda: verify_bundle(cb, address=chain_addr, log_verifiers=[vkey], network="regtest"))
        print(f"  {chain_addr[:16] + '...':<16} CBOR {len(encode_bundle(cb)):5d} B (3 chain entries {sum(map(len, cb.chain))},"
              f" inclusion {32 * len(cb.inclusion)}, checkpoint {len(cb.checkpoint)}; each further entry adds ~"
              f"{len(cb.chain[-1])} B)  verify {chain_us:6.0f} us (CPU {_CPU_MEDIANS[-1]:.0f} us; 3 entry signatures + note)")
        print(f"bundle CBOR max {max(sizes)} B (goal <= 2048), verify median {statistics.median(verify_us):.0f} us"
              f" (goal <= 1000 us; includes Ed25519 note signature, AuxPoW check, map + inclusion proofs)")

        paths = [f"/v1/resolve/{a}" for a in addrs]
        names = [f"/v1/names/id%2F{a.split('@')[0]}" for a in addrs]
        key_paths = [f"/v1/resolve/{chain_addr}"]
        _serve_and_load(db, args, [
            ("/v1/names (baseline)", names, "application/json"),
            ("/v1/resolve JSON (answer cache)", paths, "application/json"),
            ("/v1/resolve CBOR (answer cache)", paths, "application/cbor"),
            ("/v1/resolve .key JSON (answer cache)", key_paths, "application/json"),
        ])
        print("same index, answer cache off (WAYPOST_RESPONSE_CACHE=0: snapshot + proof reads per request):")
        _serve_and_load(db, args, [
            ("/v1/resolve JSON (uncached)", paths, "application/json"),
            ("/v1/resolve CBOR (uncached)", paths, "application/cbor"),
            ("/v1/resolve .key JSON (uncached)", key_paths, "application/json"),
        ], cache=False)
        # the same load without the hook's snapshots: every request replays the history (the old path)
        slow = Path(tmpdir) / "replay.db"
        src, dst = sqlite3.connect(db), sqlite3.connect(slow)
        src.backup(dst)
        dst.execute("DROP TABLE resolve_snapshots")
        dst.commit()
        src.close()
        dst.close()
        (Path(tmpdir) / "replay.db.logkey").write_bytes((Path(tmpdir) / "index.db.logkey").read_bytes())
        print("same index without snapshots, answer cache off (full replay per request):")
        _serve_and_load(slow, args, [("/v1/resolve JSON (replay)", paths, "application/json")], cache=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
