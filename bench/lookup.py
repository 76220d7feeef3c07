"""Benchmark: ``/v1/names/{name}`` lookups under gunicorn vs ``name_show`` over JSON-RPC, same names.

    .venv/bin/python bench/lookup.py [--names 100000] [--seconds 8] [--rate 1000] [--threads 8]

1. Builds an index DB with the store's schema (``open_store``) holding N names, written with
   SQL into its ``names``/``name_ops``/``blocks`` tables (no chain is mined: this measures reads).
2. Starts ``waypost serve --workers 2`` (gunicorn, 127.0.0.1, ephemeral port).
3. Loads the same names into the regtest simulator (``waypost.regtest``) and serves its
   JSON-RPC on 127.0.0.1 (when the simulator is importable; otherwise it says so).
4. A Python load generator (threads, ``http.client`` keep-alive, bounded in count and time,
   loopback only) runs a closed-loop max-throughput run and a fixed-rate run on each.

Everything runs on the same machine, so the generator competes with the servers for CPU:
the figures are lower bounds of what the server does with a separate client.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIP_HEIGHT = 200_000
REGTEST_EXPIRY = 30


def _names(n: int, seed: int = 7) -> list[tuple[bytes, bytes, int]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = (b"d/bench-%07d" % i) if i % 3 else (b"id/user-%07d" % i)
        value = json.dumps({"ip": f"192.0.2.{i % 250}", "email": f"u{i}@example.org", "pad": "x" * rng.randrange(20, 400)})
        out.append((name, value.encode(), rng.randrange(TIP_HEIGHT - 25, TIP_HEIGHT + 1)))
    return out


def build_db(path: Path, names: list[tuple[bytes, bytes, int]]) -> None:
    """Write the names into a fresh index DB with the store's schema."""
    from waypost.indexer.store import open_store

    store = open_store(path, "regtest")
    conn = store.conn
    conn.execute("BEGIN")
    rows = []
    for i, (name, value, height) in enumerate(names):
        txid = i.to_bytes(4, "little") * 8
        rows.append((name, value, txid, 0, height, height.to_bytes(4, "little") * 8, 1, "name_update",
                     "mzos32awgAJAcFoLtAAhK8y8zLq7W8YWy8", height + REGTEST_EXPIRY, 1))
    cols = "name, value, txid, vout, height, block_hash, tx_index, op, address, expires_at_height, epoch"
    conn.executemany(f"INSERT INTO names ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.executemany(f"INSERT INTO name_ops ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute(
        "INSERT INTO blocks (height, hash, prev, time_s, state_root) VALUES (?, ?, ?, ?, ?)",
        (TIP_HEIGHT, b"\x11" * 32, b"\x22" * 32, int(time.time()), b"\x33" * 32),
    )
    conn.execute("COMMIT")
    store.save_node_status(node_height=TIP_HEIGHT, node_headers=TIP_HEIGHT, node_ibd=False, checked_at_s=int(time.time()))
    conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, path: str, deadline_s: float, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> None:
    end = time.monotonic() + deadline_s
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(method, path, body=body, headers=headers or {})
            conn.getresponse().read()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def _proc_tree_cpu_s(root_pid: int) -> float:
    """utime+stime of ``root_pid`` and its children (Linux /proc), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree = {root_pid}
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return sum(cpu.get(pid, 0.0) for pid in tree)


@dataclass
class RunResult:
    label: str
    count: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    server_cpu_s: float = 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.count * 1e6 if self.count else float("nan")

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(p / 100 * len(data)))]

    def line(self) -> str:
        return (f"{self.label:<34} {self.rps:7.0f} req/s  p50 {self.pct(50):7.2f} ms  p99 {self.pct(99):8.2f} ms"
                f"  server CPU {self.cpu_us_per_request:5.0f} us/req  ({self.count} req, {self.errors} errors,"
                f" {self.seconds:.1f} s)")


RequestFn = Callable[[http.client.HTTPConnection, int], bool]


def run_load(label: str, port: int, make_request: RequestFn, *, threads: int, seconds: float,
             max_requests: int, rate: float | None = None, server_pid: int | None = None) -> RunResult:
    """Closed loop (rate None) or fixed rate (each thread sends on its own schedule).

    Fixed-rate latency is measured from the scheduled send time, so a stalled server is
    charged for the queue it causes (no coordinated omission).
    """
    lats: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop_at = time.monotonic() + seconds
    per_thread_max = max_requests // threads
    start_barrier = threading.Barrier(threads + 1)

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rng = random.Random(k)
        interval = threads / rate if rate else 0.0
        start_barrier.wait()
        t0 = time.monotonic() + rng.random() * interval
        i = 0
        while i < per_thread_max:
            scheduled = t0 + i * interval if rate else time.monotonic()
            if scheduled > stop_at or time.monotonic() > stop_at + 2.0:
                break  # bounded in time even when the server falls behind the schedule
            if rate:
                delay = scheduled - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing the fixed-rate schedule, not a race workaround
            try:
                ok = make_request(conn, rng.randrange(1 << 30))
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if not ok:
                errors[k] += 1
            lats[k].append((time.monotonic() - scheduled) * 1000)
            i += 1
        conn.close()

    ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in ts:
        t.start()
    cpu_before = _proc_tree_cpu_s(server_pid) if server_pid else 0.0
    start_barrier.wait()
    began = time.monotonic()
    for t in ts:
        t.join(timeout=seconds + 60)
    elapsed = time.monotonic() - began
    cpu = _proc_tree_cpu_s(server_pid) - cpu_before if server_pid else 0.0
    flat = [x for per in lats for x in per]
    return RunResult(label, len(flat), sum(errors), elapsed, flat, cpu)


def api_request(names: list[bytes]) -> RequestFn:
    paths = [f"/v1/names/{quote(n.decode())}" for n in names]

    def go(conn: http.client.HTTPConnection, r: int) -> bool:
        conn.request("GET", paths[r % len(paths)])
        resp = conn.getresponse()
        body = resp.read()
        return resp.status == 200 and b'"expires_in"' in body

    return go


def rpc_request(names: list[bytes], auth: str) -> RequestFn:
    bodies = [json.dumps({"jsonrpc": "1.0", "id": 1, "method": "name_show",
                          "params": [n.decode(), {"allowExpired": True}]}).encode() for n in names]
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode(), "Content-Type": "application/json"}

    def go(conn: http.client.HTTPConnection, r: int) -> bool:
        conn.request("POST", "/", body=bodies[r % len(bodies)], headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status == 200 and b'"expires_in"' in body

    return go


_SIM_SCRIPT = r"""
import json, sys, time, random
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from waypost.regtest.node import SimNode
from waypost.regtest.chain import NameEntry
from waypost.regtest.script import p2pkh_script
node = SimNode.start(Path(sys.argv[2]), fsync_every=1000)
n = int(sys.argv[3])
sys.path.insert(0, sys.argv[1] + "/bench")
from lookup import _names
script = p2pkh_script(b"\x01" * 20)
for i, (name, value, height) in enumerate(_names(n)):
    # Loaded straight into the simulator's name database (what name_show reads): the same
    # names and values as the index, without mining 2N transactions.
    node.chain.names[name] = NameEntry(name=name, value=value, txid=i.to_bytes(4, "little") * 8, vout=0,
                                       address_script=script, height=height, op="name_update")
print(json.dumps({"port": node.rpc_port, "cookie": node.cookie_path.read_text()}), flush=True)
sys.stdin.read()
node.stop()
"""


_FLOOR_APP = r"""
import json
from flask import Flask, Response
app = Flask("floor")
BODY = json.dumps({"name": "d/bench", "value": "x" * 300, "expires_in": 5, "freshness": {"tip_height": 1}})
@app.get("/v1/names/<path:name>")
def show(name):
    return Response(BODY, mimetype="application/json")
@app.get("/x")
def ready():
    return "ok"
"""


def start_simulator(tmp: Path, n: int) -> tuple[subprocess.Popen[str], int, str] | None:
    try:
        import waypost.regtest.node  # noqa: F401
    except ImportError as exc:
        print(f"regtest simulator not available ({exc}); skipping the name_show side")
        return None
    proc = subprocess.Popen([sys.executable, "-c", _SIM_SCRIPT, str(ROOT), str(tmp / "sim"), str(n)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        print("regtest simulator failed to start; skipping the name_show side")
        return None
    info = json.loads(line)
    return proc, int(info["port"]), str(info["cookie"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--names", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of each run")
    ap.add_argument("--rate", type=float, default=1000.0, help="fixed-rate run, requests/s")
    ap.add_argument("--threads", type=int, default=8, help="load generator threads")
    ap.add_argument("--max-requests", type=int, default=200_000, help="bound per run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server-threads", type=int, default=4, help="gthread threads per gunicorn worker")
    ap.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run "
          "(load generator and servers share these CPUs)")
    cpu0 = time.process_time()
    names = _names(args.names)
    name_list = [n for n, _, _ in names]
    with tempfile.TemporaryDirectory(prefix="waypost-bench-") as tmpdir:
        tmp = Path(tmpdir)
        db = tmp / "index.db"
        t0 = time.monotonic()
        build_db(db, names)
        print(f"index DB: {args.names} names, {db.stat().st_size / 1e6:.1f} MB, built in {time.monotonic() - t0:.1f} s")

        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        api = subprocess.Popen([sys.executable, "-m", "waypost.cli", "serve", "--db", str(db), "--port", str(port),
                                "--workers", str(args.workers), "--threads", str(args.server_threads),
                                "--worker-class", args.worker_class], env=env)
        sim = None
        results: list[RunResult] = []
        try:
            _wait_ready(port, "/v1/status", 30)
            req = api_request(name_list)
            run_load("warm-up", port, req, threads=args.threads, seconds=1.0, max_requests=5000)
            results.append(run_load(f"API gunicorn x{args.workers}, max", port, req, threads=args.threads,
                                    seconds=args.seconds, max_requests=args.max_requests, server_pid=api.pid))
            results.append(run_load(f"API gunicorn x{args.workers}, {args.rate:.0f}/s", port, req, threads=args.threads,
                                    seconds=args.seconds, max_requests=args.max_requests, rate=args.rate,
                                    server_pid=api.pid))
            print(results[-2].line())
            print(results[-1].line())
        finally:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)

        # Floor of the stack: a Flask app answering a constant JSON body of the same size under the
        # same gunicorn settings, so the figures above can be read against what the machine allows.
        (tmp / "floorapp.py").write_text(_FLOOR_APP)
        fport = _free_port()
        floor = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", args.worker_class,
                                  "--threads", str(args.server_threads), "-b", f"127.0.0.1:{fport}", "floorapp:app"],
                                 env={**env, "PYTHONPATH": str(tmp)}, stderr=subprocess.DEVNULL)
        try:
            _wait_ready(fport, "/x", 30)
            freq = api_request(name_list)
            run_load("warm-up", fport, freq, threads=args.threads, seconds=1.0, max_requests=5000)
            results.append(run_load("floor: Flask constant JSON, max", fport, freq, threads=args.threads,
                                    seconds=args.seconds, max_requests=args.max_requests, server_pid=floor.pid))
            print(results[-1].line())
        finally:
            floor.send_signal(signal.SIGTERM)
            floor.wait(timeout=30)

        sim = start_simulator(tmp, args.names)
        if sim is not None:
            proc, rpc_port, cookie = sim
            try:
                rreq = rpc_request(name_list, cookie)
                run_load("warm-up", rpc_port, rreq, threads=args.threads, seconds=1.0, max_requests=2000)
                results.append(run_load("name_show RPC (simulator), max", rpc_port, rreq, threads=args.threads,
                                        seconds=args.seconds, max_requests=args.max_requests, server_pid=proc.pid))
                results.append(run_load(f"name_show RPC (simulator), {args.rate:.0f}/s", rpc_port, rreq,
                                        threads=args.threads, seconds=args.seconds, max_requests=args.max_requests,
                                        rate=args.rate, server_pid=proc.pid))
            finally:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=30)

    print(f"load generator CPU: {time.process_time() - cpu0:.1f} s; load average after: {os.getloadavg()[0]:.2f}")
    print()
    print(f"{'run':<34} {'throughput':>15}  latency")
    for r in results:
        print(r.line())
    api_max = results[0]
    api_fixed = results[1]
    print()
    print(f"goal >= 3000 req/s: {api_max.rps:.0f} -> {'met' if api_max.rps >= 3000 else 'NOT met'}")
    print(f"goal p99 < 10 ms at {args.rate:.0f} req/s: {api_fixed.pct(99):.2f} ms -> "
          f"{'met' if api_fixed.pct(99) < 10 else 'NOT met'} (achieved {api_fixed.rps:.0f} req/s)")
    cap = args.workers * 1e6 / api_max.cpu_us_per_request if api_max.count else 0.0
    print(f"server CPU per lookup {api_max.cpu_us_per_request:.0f} us -> about {cap:.0f} req/s on {args.workers} "
          "dedicated cores (what the workers could do without the load generator and other load)")
    floor_r = results[2]
    print(f"API / Flask floor: throughput {api_max.rps / floor_r.rps:.2f}x, server CPU per request "
          f"{api_max.cpu_us_per_request / floor_r.cpu_us_per_request:.2f}x")
    if len(results) >= 4:
        print(f"API / name_show throughput ratio: {api_max.rps / results[3].rps:.2f}x; "
              f"p50 {api_max.pct(50):.2f} vs {results[3].pct(50):.2f} ms")
    if statistics.mean(r.errors for r in results) > 0:
        print("WARNING: some requests failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
