"""Benchmark the transparency log: SQLite append rate, proofs, checkpoints, state-map proofs.

Run by hand: ``.venv/bin/python bench/log.py [--leaves 50000] [--batch 1000] [--map 100000]``.
Prints absolute figures and ratios measured side by side in one run (the machine is shared:
compare ratios, not absolute numbers, across runs).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable

from waypost.registry import merkle
from waypost.registry.model import Sha256, Txid
from waypost.tlog import note, smt, store
from waypost.tlog.leaf import LogLeaf, NamecoinSource, address_key


def _leaf(i: int, addresses: int) -> LogLeaf:
    return LogLeaf(
        address=f"user{i % addresses}@example.bit",
        epoch=0,
        seq=i // addresses,
        record_hash=Sha256(hashlib.sha256(b"r%d" % i).digest()),
        source=NamecoinSource(height=i // 50, txid=Txid(hashlib.sha256(b"t%d" % i).digest()), vout=0),
    )


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--leaves", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--map", type=int, default=100_000, help="addresses in the in-memory map for the proof-size figure")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus")

    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "log.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")
        store.ensure_schema(conn)
        leaves = [_leaf(i, args.leaves) for i in range(args.leaves)]

        c = time.process_time()
        encoded = [lf.encode() for lf in leaves]
        encode_cpu = time.process_time() - c

        t, c = time.perf_counter(), time.process_time()
        for s in range(0, args.leaves, args.batch):
            conn.execute("BEGIN IMMEDIATE")
            store.append_leaves(conn, leaves[s : s + args.batch])
            conn.execute("COMMIT")
        append_s, append_cpu = time.perf_counter() - t, time.process_time() - c
        # catching up: the same leaves into a second database with the map deferred to one flush
        conn2 = sqlite3.connect(os.path.join(tmp, "log2.db"), isolation_level=None)
        conn2.execute("PRAGMA journal_mode = WAL")
        conn2.execute("PRAGMA synchronous = NORMAL")
        conn2.execute("PRAGMA cache_size = -65536")
        store.ensure_schema(conn2)
        t, c = time.perf_counter(), time.process_time()
        for s in range(0, args.leaves, args.batch):
            conn2.execute("BEGIN IMMEDIATE")
            store.append_leaves(conn2, leaves[s : s + args.batch], defer_map=True)
            conn2.execute("COMMIT")
        deferred_s = time.perf_counter() - t
        append_only_cpu = time.process_time() - c
        conn2.execute("BEGIN IMMEDIATE")
        store.flush_map(conn2)
        conn2.execute("COMMIT")
        flush_s = time.perf_counter() - t - deferred_s
        deferred_cpu = time.process_time() - c
        assert store.LogReader(conn2).map_root() == store.LogReader(conn).map_root()
        conn2.close()
        # the same batches once more (addresses now all present: pure updates)
        again = [_leaf(i + args.leaves, args.leaves) for i in range(min(args.leaves, 10 * args.batch))]
        t, c = time.perf_counter(), time.process_time()
        for s in range(0, len(again), args.batch):
            conn.execute("BEGIN IMMEDIATE")
            store.append_leaves(conn, again[s : s + args.batch])
            conn.execute("COMMIT")
        update_s, update_cpu = time.perf_counter() - t, time.process_time() - c
        print("append rates: wall clock | per CPU-second of this process (the machine is shared)")
        print(f"  per-batch map     {args.leaves / append_s:8.0f} | {args.leaves / append_cpu:8.0f} leaves/s"
              f"  (new addresses, batch {args.batch}, {args.leaves} leaves)")
        print(f"  deferred map      {args.leaves / (deferred_s + flush_s):8.0f} | {args.leaves / deferred_cpu:8.0f} leaves/s"
              f"  (same leaves, one flush at the end: {flush_s:.1f} s of it; {append_cpu / deferred_cpu:.1f}x less CPU)")
        print(f"  log without map   {args.leaves / deferred_s:8.0f} | {args.leaves / append_only_cpu:8.0f} leaves/s"
              f"  (the deferred appends before the flush: leaves, tree nodes, queue)")
        print(f"  updates           {len(again) / update_s:8.0f} | {len(again) / update_cpu:8.0f} leaves/s"
              f"  (existing addresses, map of {args.leaves})")
        print(f"  CBOR encode only  {'':8} | {args.leaves / encode_cpu:8.0f} leaves/s"
              f"  ({encode_cpu / append_cpu:.0%} of per-batch CPU, {encode_cpu / deferred_cpu:.0%} of deferred CPU)")

        reader = store.LogReader(conn)
        size = reader.size()
        root = reader.root()
        data0 = encoded[size // 3]
        idx = size // 3
        proof = reader.inclusion_proof(idx, size)
        lh = merkle.leaf_hash(data0)
        n = 300
        print(f"inclusion proof  build {_per_call_us(lambda: reader.inclusion_proof(idx, size), n):8.1f} us"
              f"  verify {_per_call_us(lambda: merkle.verify_inclusion(lh, idx, size, proof, root), n):8.1f} us"
              f"  ({len(proof)} hashes)")
        old = size // 2 + 1
        cproof = reader.consistency_proof(old, size)
        old_root = reader.root_at(old)
        print(f"consistency      build {_per_call_us(lambda: reader.consistency_proof(old, size), n):8.1f} us"
              f"  verify {_per_call_us(lambda: merkle.verify_consistency(old, size, cproof, old_root, root), n):8.1f} us"
              f"  ({len(cproof)} hashes)")
        key = address_key("user7@example.bit")
        mp = reader.map_proof(key)
        latest = reader.latest_leaf(key)
        assert latest is not None
        vh = smt.map_value_hash(*latest)
        mroot = reader.map_root()
        print(f"map proof (db)   build {_per_call_us(lambda: reader.map_proof(key), n):8.1f} us"
              f"  verify {_per_call_us(lambda: smt.verify_map_proof(mroot, key, vh, mp), n):8.1f} us"
              f"  ({len(smt.encode_map_proof(mp))} bytes at {args.leaves} addresses)")

        signer = note.signer_from_seed("bench.example/log", b"\x01" * 32)
        wit = note.signer_from_seed("bench.example/w1", b"\x02" * 32, note.ALG_COSIGNATURE_V1)
        t0 = time.perf_counter()
        store.sign_checkpoint_if_due(conn, signer, "bench.example/log", 10**9, 60)
        sign_db_us = (time.perf_counter() - t0) * 1e6
        cp = note.Checkpoint(origin="bench.example/log", size=size, root_hash=root, map_root=mroot)
        text = note.encode_checkpoint(cp)
        signed = note.sign_note(text, signer)
        cosigned = note.add_signature_lines(signed, note.cosign(cp, wit, 1_700_000_000))
        sign_us = _per_call_us(lambda: note.sign_note(text, signer), n)
        open_us = _per_call_us(lambda: note.open_checkpoint(signed, [signer.verifier]), n)
        cosig_us = _per_call_us(lambda: note.verify_cosignatures(cosigned, [wit.verifier], 1), n)
        print(f"checkpoint       sign {sign_us:8.1f} us  open+verify {open_us:8.1f} us  cosignature verify {cosig_us:8.1f} us"
              f"  (sign_checkpoint_if_due incl. SQLite: {sign_db_us:.0f} us; note {len(cosigned)} bytes)")
        conn.close()

    # State map proof size at --map addresses (in memory; same code as the SQLite map).
    m = smt.MemoryMapStore()
    t = time.perf_counter()
    m.apply(smt.apply_map_updates(m, ((address_key(f"u{i}@x.bit"), hashlib.sha256(b"%d" % i).digest()) for i in range(args.map))))
    build_s = time.perf_counter() - t
    sizes = [len(smt.encode_map_proof(smt.map_proof(m, address_key(f"u{i}@x.bit")))) for i in range(0, args.map, max(1, args.map // 500))]
    absent = [len(smt.encode_map_proof(smt.map_proof(m, address_key(f"none{i}")))) for i in range(500)]
    print(f"map at {args.map} addresses: built in {build_s:.1f} s ({args.map / build_s:.0f} keys/s in one batch); "
          f"membership proof avg {sum(sizes) / len(sizes):.0f} B max {max(sizes)} B; absence proof avg {sum(absent) / len(absent):.0f} B")
    print(f"  vs. a full-depth 256-level SMT with a bitmap: ~{32 + 32 * 17} B; log2(N) = {args.map.bit_length()}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
