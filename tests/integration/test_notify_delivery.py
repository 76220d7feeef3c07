"""At-least-once webhook delivery across SIGKILLs of the delivery process (issue 7 must-show).

A receiver on 127.0.0.1 (allow-listed) blocks on chosen events until the worker process
has been killed mid-delivery; restarted workers resend after the lease runs out. Every
event arrives, duplicates carry the same id and body, nothing is lost.
"""

from __future__ import annotations

import http.server
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.notify.conftest import ALICE, chain, moved_per_block
from waypost.indexer.store import open_store
from waypost.notify import outbox
from waypost.notify.outbox import DeliveryState, StoredSubscription
from waypost.notify.webhook import encode_secret, verify_webhook

ROOT = Path(__file__).resolve().parents[2]
SECRET = encode_secret(os.urandom(32))
N_EVENTS = 20
BLOCK_ON = ("evt_0000000000000007", "evt_0000000000000015")  # one kill each
LEASE_S = 3.0
TIMEOUT_S = 2.5  # < lease; the kill comes long before it (we kill as soon as the receiver holds the request)


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[str, bytes]] = []
        self.blocked: dict[str, threading.Event] = {eid: threading.Event() for eid in BLOCK_ON}
        self.release = threading.Event()
        self.all_seen = threading.Event()
        self.bad_signatures = 0


STATE = _State()


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            msg_id = verify_webhook(SECRET, headers, body, int(time.time()))
        except Exception:  # noqa: BLE001 - counted and asserted below
            with STATE.lock:
                STATE.bad_signatures += 1
            self.send_response(400)
            self.end_headers()
            return
        with STATE.lock:
            first = all(mid != msg_id for mid, _ in STATE.received)
            STATE.received.append((msg_id, body))
            if len({mid for mid, _ in STATE.received}) == N_EVENTS:
                STATE.all_seen.set()
        gate = STATE.blocked.get(msg_id)
        if first and gate is not None:
            gate.set()  # the worker is now inside this delivery: the test kills it
            STATE.release.wait(30)
            STATE.release.clear()
            return  # no answer: the worker is gone
        try:
            self.send_response(204)
            self.end_headers()
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        del format, args


@pytest.fixture
def receiver() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1]
    STATE.release.set()
    server.shutdown()
    server.server_close()


def _worker(db: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "waypost.notify.cli", "--db", str(db), "--allow", "127.0.0.1/32",
        "--interval", "0.05", "--lease", str(LEASE_S), "--timeout", str(TIMEOUT_S), "--base-delay", "0.1",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(predicate: object, deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling a database condition, not papering over a race


def test_every_event_arrives_across_sigkills(tmp_path: Path, receiver: int) -> None:
    db = tmp_path / "index.db"
    store = open_store(db, "regtest")
    outbox.ensure_schema(store.conn)
    outbox.save_subscription(
        store.conn,
        StoredSubscription(
            id="sub_1", address=ALICE, url=f"http://127.0.0.1:{receiver}/hook", secret=SECRET,
            token_hash=outbox.token_digest("t"), created_s=0, active=True,
        ),
    )
    store.apply_batch(chain(N_EVENTS), hooks=[outbox.make_outbox_hook(moved_per_block, clock=time.time)])
    store.close()
    all_ids = [f"evt_{i:016d}" for i in range(1, N_EVENTS + 1)]

    for event_id in BLOCK_ON:
        proc = _worker(db)
        try:
            assert STATE.blocked[event_id].wait(60), f"worker never reached {event_id}"
            proc.send_signal(signal.SIGKILL)  # mid-delivery: the POST is in flight, unanswered
            assert proc.wait(30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        STATE.release.set()

    proc = _worker(db)
    try:
        assert STATE.all_seen.wait(60), "not every event arrived after the restarts"

        def all_delivered() -> bool:
            conn = sqlite3.connect(db)
            try:
                rows = conn.execute("SELECT state, COUNT(*) FROM notify_deliveries GROUP BY state").fetchall()
            finally:
                conn.close()
            return rows == [(str(DeliveryState.DELIVERED), N_EVENTS)]

        _wait_for(all_delivered, 60, "every delivery recorded as delivered")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            stderr = proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            stderr = proc.communicate()[1]
    assert proc.returncode == 0, stderr.decode(errors="replace")

    with STATE.lock:
        received = list(STATE.received)
        bad = STATE.bad_signatures
    assert bad == 0
    ids = [mid for mid, _ in received]
    assert sorted(set(ids)) == all_ids  # nothing lost
    for event_id in BLOCK_ON:
        assert ids.count(event_id) >= 2  # the interrupted delivery was sent again
    bodies: dict[str, set[bytes]] = {}
    for mid, body in received:
        bodies.setdefault(mid, set()).add(body)
    assert all(len(b) == 1 for b in bodies.values())  # a duplicate is the same event: same id, same body
    # first arrivals keep event order (one worker, oldest first)
    first_seen = list(dict.fromkeys(ids))
    assert first_seen == all_ids
