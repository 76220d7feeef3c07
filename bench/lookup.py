"""Benchmark: ``/v1/names/{name}`` lookups under gunicorn vs ``name_show`` over JSON-RPC, same names.

    .venv/bin/python bench/lookup.py [--names 100000] [--seconds 8] [--rate 1000] [--generator auto|wrk|python]

1. Builds an index DB with the store's schema (``open_store``) holding N names, written with
   SQL into its ``names``/``name_ops``/``blocks`` tables (no chain is mined: this measures reads).
2. Starts ``waypost serve --workers 2`` (gunicorn, 127.0.0.1, ephemeral port).
3. Loads the same names into the regtest simulator (``waypost.regtest``) and serves its
   JSON-RPC on 127.0.0.1 (when the simulator is importable; otherwise it says so).
4. Max throughput: ``wrk`` (C, epoll; ``apt-get install wrk``) with a Lua script that picks a
   random path (or RPC body) from a file per request, so requests spread over all N names.
   Without wrk, the Python generator (threads, ``http.client`` keep-alive) runs instead: it
   costs about as much CPU per request as the server, so its figures are far lower bounds.
   The output says which generator ran.
5. Fixed rate (p99 at ``--rate``): an open-loop asyncio generator with precomputed send
   times; latency is measured from the *intended* send time (no coordinated omission).
6. Server CPU per request (utime+stime of the server's process tree from /proc), so runs on
   a noisy machine can be read: ``2 cores / CPU per request`` is what 2 dedicated cores do.

Loopback only, every run bounded in time. The generators and the servers share the CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import shutil
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
    generator: str = "python"
    pcts: dict[float, float] | None = None  # percentiles reported by the generator (wrk)

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.count * 1e6 if self.count else float("nan")

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if self.pcts is not None and p in self.pcts:
            return self.pcts[p]
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(p / 100 * len(data)))]

    def line(self) -> str:
        return (f"{self.label:<38} {self.rps:7.0f} req/s  p50 {self.pct(50):7.2f} ms  p99 {self.pct(99):8.2f} ms"
                f"  server CPU {self.cpu_us_per_request:5.0f} us/req  ({self.count} req, {self.errors} errors,"
                f" {self.seconds:.1f} s, {self.generator})")


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


WRK = shutil.which("wrk")

# wrk Lua: one pre-formatted request per line of a file (GET path, or POST body to "/" with
# an Authorization header), a random one per request so the load spreads over every name.
_WRK_LUA = r"""
local reqs = {}
init = function(args)
  local headers = {}
  local method = args[2] or "GET"
  if args[3] and args[3] ~= "" then headers["Authorization"] = args[3] end
  if args[4] and args[4] ~= "" then headers["Accept"] = args[4] end
  if method == "POST" then headers["Content-Type"] = "application/json" end
  for line in io.lines(args[1]) do
    if method == "GET" then reqs[#reqs + 1] = wrk.format("GET", line, headers)
    else reqs[#reqs + 1] = wrk.format("POST", "/", headers, line) end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
request = function() return reqs[math.random(#reqs)] end
"""

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS_MS[m.group(2)] if m else float("nan")


def run_wrk(label: str, port: int, lines: list[str], tmp: Path, *, seconds: float, connections: int = 32,
            threads: int = 1, method: str = "GET", auth: str | None = None, accept: str | None = None,
            server_pid: int | None = None) -> RunResult:
    """Closed-loop max throughput with wrk (``connections`` keep-alive connections)."""
    assert WRK is not None
    req_file = tmp / f"wrk-{abs(hash(label))}.txt"
    req_file.write_text("".join(line + "\n" for line in lines))
    lua = tmp / "pick.lua"
    lua.write_text(_WRK_LUA)
    script_args = [str(req_file), method, auth or "", accept or ""]
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency", "-s", str(lua),
           f"http://127.0.0.1:{port}", "--", *script_args]
    cpu_before = _proc_tree_cpu_s(server_pid) if server_pid else 0.0
    began = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
    elapsed = time.monotonic() - began
    cpu = _proc_tree_cpu_s(server_pid) - cpu_before if server_pid else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    count = int(m.group(1)) if m else 0
    dur = _wrk_ms(m.group(2) + m.group(3)) / 1000 if m else elapsed
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    pcts = {float(p): _wrk_ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    return RunResult(label, count, errors, dur, [], cpu, generator=f"wrk -c{connections}", pcts=pcts)


def run_fixed_rate(label: str, port: int, requests: list[bytes], *, rate: float, seconds: float,
                   connections: int = 32, server_pid: int | None = None) -> RunResult:
    """Open-loop fixed rate: request i is due at ``t0 + i / rate`` whatever happened before.

    Up to ``connections`` requests are in flight; a request that waits for a free connection
    is charged that wait, because latency runs from its due time (no coordinated omission).
    """
    n = int(rate * seconds)
    lats: list[float] = []
    errors = 0
    rng = random.Random(5)
    order = [rng.randrange(len(requests)) for _ in range(n)]

    async def main() -> float:
        nonlocal errors
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.1
        next_i = 0

        async def one_connection() -> None:
            nonlocal next_i, errors
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                while next_i < n:
                    i = next_i
                    next_i += 1
                    due = t0 + i / rate
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    try:
                        writer.write(requests[order[i]])
                        head = await reader.readuntil(b"\r\n\r\n")
                        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                        body = await reader.readexactly(int(m.group(1))) if m else b""
                        if not head.startswith(b"HTTP/1.1 200") or not body:
                            errors += 1
                        if m is None or re.search(rb"(?i)\r\nconnection:\s*close", head):
                            writer.close()
                            reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                        errors += 1
                        writer.close()
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    lats.append((loop.time() - due) * 1000)
            finally:
                writer.close()

        began = loop.time()
        tasks = [asyncio.create_task(one_connection()) for _ in range(connections)]
        done, pending = await asyncio.wait(tasks, timeout=seconds + 15)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                errors += 1
        return loop.time() - began

    cpu_before = _proc_tree_cpu_s(server_pid) if server_pid else 0.0
    elapsed = asyncio.run(main())
    cpu = _proc_tree_cpu_s(server_pid) - cpu_before if server_pid else 0.0
    return RunResult(label, len(lats), errors, elapsed, lats, cpu, generator=f"asyncio open loop, {connections} conns")


def raw_get(path: str, accept: str | None = None) -> bytes:
    extra = f"Accept: {accept}\r\n" if accept else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode("latin-1")


def raw_post(body: bytes, auth: str) -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


def api_paths(names: list[bytes]) -> list[str]:
    return [f"/v1/names/{quote(n.decode())}" for n in names]


def rpc_bodies(names: list[bytes]) -> list[bytes]:
    return [json.dumps({"jsonrpc": "1.0", "id": 1, "method": "name_show",
                        "params": [n.decode(), {"allowExpired": True}]}).encode() for n in names]


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


_RAW_FLOOR_APP = r"""
BODY = b"x" * 1400
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--names", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of each run")
    ap.add_argument("--rate", type=float, default=1000.0, help="fixed-rate run, requests/s")
    ap.add_argument("--threads", type=int, default=8, help="Python generator threads (fallback)")
    ap.add_argument("--connections", type=int, default=32, help="wrk / fixed-rate connections")
    ap.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                    help="max-throughput generator: wrk when installed (auto), else Python threads")
    ap.add_argument("--max-requests", type=int, default=200_000, help="bound per Python run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server-threads", type=int, default=4, help="gthread threads per gunicorn worker")
    ap.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    args = ap.parse_args()
    use_wrk = args.generator == "wrk" or (args.generator == "auto" and WRK is not None)
    if use_wrk and WRK is None:
        print("wrk is not installed (apt-get install wrk)")
        return 2

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run "
          "(load generator and servers share these CPUs)")
    print(f"max-throughput generator: {'wrk (' + str(WRK) + ')' if use_wrk else 'Python threads (fallback: costs about as much CPU per request as the server)'};"
          f" fixed rate: asyncio open loop, latency from the intended send time")
    cpu0 = time.process_time()
    names = _names(args.names)
    name_list = [n for n, _, _ in names]
    paths = api_paths(name_list)
    with tempfile.TemporaryDirectory(prefix="waypost-bench-") as tmpdir:
        tmp = Path(tmpdir)
        db = tmp / "index.db"
        t0 = time.monotonic()
        build_db(db, names)
        print(f"index DB: {args.names} names, {db.stat().st_size / 1e6:.1f} MB, built in {time.monotonic() - t0:.1f} s")

        def max_run(label: str, port: int, pid: int, py_req: RequestFn, lines: list[str], **wrk_kw: str) -> RunResult:
            if use_wrk:
                run_wrk("warm-up", port, lines, tmp, seconds=1, connections=args.connections, **wrk_kw)  # type: ignore[arg-type]
                return run_wrk(label, port, lines, tmp, seconds=args.seconds, connections=args.connections,
                               server_pid=pid, **wrk_kw)  # type: ignore[arg-type]
            run_load("warm-up", port, py_req, threads=args.threads, seconds=1.0, max_requests=5000)
            return run_load(label, port, py_req, threads=args.threads, seconds=args.seconds,
                            max_requests=args.max_requests, server_pid=pid)

        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        api = subprocess.Popen([sys.executable, "-m", "waypost.cli", "serve", "--db", str(db), "--port", str(port),
                                "--workers", str(args.workers), "--threads", str(args.server_threads),
                                "--worker-class", args.worker_class], env=env)
        results: dict[str, RunResult] = {}
        try:
            _wait_ready(port, "/v1/status", 30)
            results["api max"] = max_run(f"API gunicorn x{args.workers}, max", port, api.pid, api_request(name_list), paths)
            print(results["api max"].line())
            results["api fixed"] = run_fixed_rate(f"API gunicorn x{args.workers}, {args.rate:.0f}/s", port,
                                                  [raw_get(p) for p in paths], rate=args.rate, seconds=args.seconds,
                                                  connections=args.connections, server_pid=api.pid)
            print(results["api fixed"].line())
        finally:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)

        # Floors of the stack under the same gunicorn settings, so the figures above can be read
        # against what the machine allows: a bare Flask app answering a constant JSON body, and a
        # bare WSGI callable (gunicorn's own per-request cost).
        (tmp / "floorapp.py").write_text(_FLOOR_APP)
        (tmp / "rawfloorapp.py").write_text(_RAW_FLOOR_APP)
        for key, module in (("flask floor", "floorapp:app"), ("wsgi floor", "rawfloorapp:app")):
            fport = _free_port()
            floor = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", args.worker_class,
                                      "--threads", str(args.server_threads), "-b", f"127.0.0.1:{fport}", module],
                                     env={**env, "PYTHONPATH": str(tmp)}, stderr=subprocess.DEVNULL)
            try:
                _wait_ready(fport, "/v1/names/x", 30)
                label = "floor: Flask constant JSON, max" if key == "flask floor" else "floor: bare WSGI (gunicorn), max"
                results[key] = max_run(label, fport, floor.pid, api_request(name_list), paths)
                print(results[key].line())
            finally:
                floor.send_signal(signal.SIGTERM)
                floor.wait(timeout=30)

        sim = start_simulator(tmp, args.names)
        if sim is not None:
            proc, rpc_port, cookie = sim
            auth = "Basic " + base64.b64encode(cookie.encode()).decode()
            bodies = rpc_bodies(name_list)
            try:
                results["rpc max"] = max_run("name_show RPC (simulator), max", rpc_port, proc.pid,
                                             rpc_request(name_list, cookie), [b.decode() for b in bodies],
                                             method="POST", auth=auth)
                print(results["rpc max"].line())
                results["rpc fixed"] = run_fixed_rate(f"name_show RPC (simulator), {args.rate:.0f}/s", rpc_port,
                                                      [raw_post(b, auth) for b in bodies], rate=args.rate,
                                                      seconds=args.seconds, connections=args.connections,
                                                      server_pid=proc.pid)
                print(results["rpc fixed"].line())
            finally:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=30)

    print(f"bench process CPU (Python side): {time.process_time() - cpu0:.1f} s; load average after: {os.getloadavg()[0]:.2f}")
    print()
    print(f"{'run':<38} {'throughput':>15}  latency")
    for r in results.values():
        print(r.line())
    api_max, api_fixed = results["api max"], results["api fixed"]
    print()
    print(f"goal >= 3000 req/s: {api_max.rps:.0f} -> {'met' if api_max.rps >= 3000 else 'NOT met'}")
    print(f"goal p99 < 10 ms at {args.rate:.0f} req/s: {api_fixed.pct(99):.2f} ms -> "
          f"{'met' if api_fixed.pct(99) < 10 else 'NOT met'} (achieved {api_fixed.rps:.0f} req/s)")
    cap = args.workers * 1e6 / api_max.cpu_us_per_request if api_max.count else 0.0
    print(f"server CPU per lookup {api_max.cpu_us_per_request:.0f} us -> about {cap:.0f} req/s on {args.workers} "
          "dedicated cores (what the workers could do without the load generator and other load)")
    for key in ("flask floor", "wsgi floor"):
        fl = results[key]
        print(f"API / {key}: throughput {api_max.rps / fl.rps:.2f}x, server CPU per request "
              f"{api_max.cpu_us_per_request / fl.cpu_us_per_request:.2f}x")
    if "rpc max" in results:
        rpc = results["rpc max"]
        print(f"API / name_show throughput ratio: {api_max.rps / rpc.rps:.2f}x; "
              f"p50 {api_max.pct(50):.2f} vs {rpc.pct(50):.2f} ms; server CPU {api_max.cpu_us_per_request:.0f} vs "
              f"{rpc.cpu_us_per_request:.0f} us/req")
    if any(r.errors for r in results.values()):
        print("WARNING: some requests failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
