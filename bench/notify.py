"""Notification costs, measured side by side in one run.

1. Indexing a chain with vs without the outbox hook (one event per block, 3 subscribers).
2. Webhook delivery to a loopback receiver: signed POSTs per second through the pinned
   connection (claim, sign, POST, record), vs a bare http.client POST loop to the same receiver.

Run: .venv/bin/python bench/notify.py [--blocks 400] [--events 300]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Ok(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        del format, args


def main() -> int:
    from tests.replaynode import ChainGenerator
    from tests.unit.notify.conftest import ALICE, moved_per_block
    from waypost.indexer.store import open_store
    from waypost.indexer.wire import parse_block
    from waypost.notify import outbox
    from waypost.notify.delivery import DeliveryConfig, run_delivery_once, send_webhook
    from waypost.notify.outbox import Claim, StoredSubscription
    from waypost.notify.ssrf import parse_allow_list
    from waypost.notify.webhook import encode_secret

    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=400)
    ap.add_argument("--events", type=int, default=300)
    args = ap.parse_args()

    gen = ChainGenerator(seed=4, txs_per_block=4, name_op_ratio=0.3)
    blocks = [(parse_block(b.raw), b.height) for b in gen.blocks(args.blocks)]
    secret = encode_secret(bytes(range(32)))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = server.server_address[1]

    with tempfile.TemporaryDirectory() as tmp:
        timings: dict[str, float] = {}
        for label, with_hook in (("index without outbox", False), ("index with outbox", True)):
            store = open_store(Path(tmp) / f"{with_hook}.db", "regtest")
            outbox.ensure_schema(store.conn)
            for i in range(3):
                outbox.save_subscription(
                    store.conn,
                    StoredSubscription(
                        id=f"sub_{i}", address=ALICE, url=f"http://127.0.0.1:{port}/h", secret=secret,
                        token_hash=b"x" * 32, created_s=0, active=True,
                    ),
                )
            hooks = [outbox.make_outbox_hook(moved_per_block, clock=time.time)] if with_hook else []
            t0 = time.perf_counter()
            for start in range(0, len(blocks), 50):
                store.apply_batch(blocks[start : start + 50], hooks=hooks)
            timings[label] = time.perf_counter() - t0
            if with_hook:
                # keep only args.events deliveries for the delivery bench
                store.conn.execute(
                    "DELETE FROM notify_deliveries WHERE event_seq > ? OR subscription_id != 'sub_0'", (args.events,)
                )
                conn = store.conn
            else:
                store.close()
        base, hooked = timings["index without outbox"], timings["index with outbox"]
        print(f"index {args.blocks} blocks: without outbox {base * 1000:.0f} ms, with outbox {hooked * 1000:.0f} ms "
              f"(x{hooked / base:.2f}; {args.blocks} events, {3 * args.blocks} deliveries)")

        policy = parse_allow_list(["127.0.0.1/32"])
        cfg = DeliveryConfig(batch_size=50, lease_s=60, timeout_s=5)

        def sender(claim: Claim, now_s: float):  # type: ignore[no-untyped-def]
            return send_webhook(claim, now_s, policy=policy, timeout_s=5)

        t0 = time.perf_counter()
        done = 0
        while True:
            n = run_delivery_once(conn, sender, config=cfg)
            if n == 0:
                break
            done += n
        signed = time.perf_counter() - t0

        t0 = time.perf_counter()
        for _ in range(done):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/h", body=b"{}", headers={"content-type": "application/json"})
            c.getresponse().read()
            c.close()
        bare = time.perf_counter() - t0
        print(f"deliver {done} webhooks: {done / signed:.0f}/s through the outbox (claim, sign, pinned POST, record), "
              f"bare POST loop {done / bare:.0f}/s (x{signed / bare:.2f} time)")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
