"""Delivery job: backoff schedule, outcome states, dead letters; a real POST to a loopback receiver."""

from __future__ import annotations

import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.notify.conftest import ALICE, chain, moved_per_block
from waypost.indexer.store import open_store
from waypost.notify import outbox
from waypost.notify.delivery import (
    AttemptResult,
    DeliveryConfig,
    backoff_delay_s,
    next_delivery_state,
    run_delivery_once,
    send_webhook,
)
from waypost.notify.outbox import Claim, DeliveryState, StoredSubscription
from waypost.notify.ssrf import UrlPolicy, parse_allow_list
from waypost.notify.webhook import encode_secret, verify_webhook

SECRET = encode_secret(bytes(range(32)))


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(1, 0.0, 2.5), (1, 0.5, 3.75), (2, 0.0, 5.0), (3, 0.999, 19.99), (10, 0.0, 1280.0), (12, 0.0, 1800.0), (400, 0.0, 1800.0)],
)
def test_backoff(attempt: int, jitter: float, expected: float) -> None:
    assert backoff_delay_s(attempt, base_s=5.0, cap_s=3600.0, jitter=jitter) == pytest.approx(expected)


def test_backoff_grows_and_stays_in_band() -> None:
    steps = [backoff_delay_s(a, base_s=1.0, cap_s=100.0, jitter=0.0) for a in range(1, 10)]
    assert steps == sorted(steps) and steps[-1] == 50.0
    with pytest.raises(ValueError):
        backoff_delay_s(0, base_s=1, cap_s=2, jitter=0)
    with pytest.raises(ValueError):
        backoff_delay_s(1, base_s=1, cap_s=2, jitter=1.0)


def test_states() -> None:
    assert next_delivery_state(ok=True, attempts=8, max_attempts=8) is DeliveryState.DELIVERED
    assert next_delivery_state(ok=False, attempts=7, max_attempts=8) is DeliveryState.PENDING
    assert next_delivery_state(ok=False, attempts=8, max_attempts=8) is DeliveryState.DEAD


def _outbox_with_events(tmp_path: Path, n: int, url: str = "http://127.0.0.1:9/h") -> sqlite3.Connection:
    store = open_store(tmp_path / "i.db", "regtest")
    outbox.ensure_schema(store.conn)
    outbox.save_subscription(
        store.conn,
        StoredSubscription(id="sub_1", address=ALICE, url=url, secret=SECRET, token_hash=b"x" * 32, created_s=0, active=True),
    )
    store.apply_batch(chain(n), hooks=[outbox.make_outbox_hook(moved_per_block, clock=lambda: 0.0)])
    return store.conn


def test_retries_with_backoff_then_dead_letter(tmp_path: Path) -> None:
    conn = _outbox_with_events(tmp_path, 1)
    cfg = DeliveryConfig(max_attempts=3, base_delay_s=10.0, max_delay_s=100.0, lease_s=30.0, timeout_s=1.0)
    clock = [0.0]
    sent: list[tuple[str, int]] = []

    def failing(claim: Claim, now_s: float) -> AttemptResult:
        sent.append((claim.event_id, claim.attempts))
        return AttemptResult(ok=False, status=503, error="HTTP 503")

    assert run_delivery_once(conn, failing, config=cfg, clock=lambda: clock[0], jitter=lambda: 0.0) == 1
    (row,) = outbox.load_deliveries(conn, state=DeliveryState.PENDING)
    assert row.attempts == 1 and row.next_attempt_s == 5.0 and row.last_status == 503
    clock[0] = 4.9
    assert run_delivery_once(conn, failing, config=cfg, clock=lambda: clock[0], jitter=lambda: 0.0) == 0  # not due
    clock[0] = 5.0
    assert run_delivery_once(conn, failing, config=cfg, clock=lambda: clock[0], jitter=lambda: 0.0) == 1
    (row,) = outbox.load_deliveries(conn, state=DeliveryState.PENDING)
    assert row.next_attempt_s == 15.0  # 5 + 10 * 2**1 / 2
    clock[0] = 15.0
    assert run_delivery_once(conn, failing, config=cfg, clock=lambda: clock[0], jitter=lambda: 0.0) == 1
    (dead,) = outbox.load_deliveries(conn, state=DeliveryState.DEAD)
    assert (dead.event_id, dead.attempts, dead.last_error) == ("evt_0000000000000001", 3, "HTTP 503")
    clock[0] = 1e9
    assert run_delivery_once(conn, failing, config=cfg, clock=lambda: clock[0], jitter=lambda: 0.0) == 0
    assert sent == [("evt_0000000000000001", 1), ("evt_0000000000000001", 2), ("evt_0000000000000001", 3)]


class _Receiver(http.server.BaseHTTPRequestHandler):
    status = 200
    got: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(_Receiver.status)
        if _Receiver.status in (301, 302, 307):
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        del format, args


@pytest.fixture
def receiver() -> Iterator[int]:
    _Receiver.got, _Receiver.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_real_post_is_signed_and_redirects_are_failures(tmp_path: Path, receiver: int) -> None:
    conn = _outbox_with_events(tmp_path, 2, url=f"http://127.0.0.1:{receiver}/hook")
    policy = parse_allow_list(["127.0.0.1/32"])
    cfg = DeliveryConfig(lease_s=30.0, timeout_s=5.0)

    def send(claim: Claim, now_s: float) -> AttemptResult:
        return send_webhook(claim, now_s, policy=policy, timeout_s=5.0)

    _Receiver.status = 302
    assert run_delivery_once(conn, send, config=cfg, clock=lambda: 1_700_000_000.0, jitter=lambda: 0.0) == 2
    assert len(_Receiver.got) == 2  # the redirect target was never contacted
    assert {r.last_status for r in outbox.load_deliveries(conn, state=DeliveryState.PENDING)} == {302}
    _Receiver.status = 204
    assert run_delivery_once(conn, send, config=cfg, clock=lambda: 1_700_000_100.0, jitter=lambda: 0.0) == 2
    assert len(outbox.load_deliveries(conn, state=DeliveryState.DELIVERED)) == 2
    headers, body = _Receiver.got[-1]
    assert verify_webhook(SECRET, headers, body, 1_700_000_100) == headers["webhook-id"]
    assert headers["host"] == f"127.0.0.1:{receiver}"
    # redelivery: same id, same body
    assert [h["webhook-id"] for h, _ in _Receiver.got] == ["evt_0000000000000001", "evt_0000000000000002"] * 2
    assert _Receiver.got[0][1] == _Receiver.got[2][1]


def test_send_refuses_loopback_without_allow_list(tmp_path: Path, receiver: int) -> None:
    conn = _outbox_with_events(tmp_path, 1, url=f"http://127.0.0.1:{receiver}/hook")
    (claim,) = outbox.claim_due(conn, now_s=1.0, lease_s=30, limit=5, lease_token="t")
    result = send_webhook(claim, 1.0, policy=UrlPolicy())
    assert not result.ok and result.status is None and result.error is not None and result.error.startswith("webhook.ssrf")
    assert _Receiver.got == []


def test_claims_whose_lease_ran_short_are_left_for_later(tmp_path: Path) -> None:
    conn = _outbox_with_events(tmp_path, 3)
    cfg = DeliveryConfig(lease_s=10.0, timeout_s=4.0)
    clock = [0.0]
    sent: list[str] = []

    def slow(claim: Claim, now_s: float) -> AttemptResult:
        sent.append(claim.event_id)
        clock[0] += 4.0  # each POST takes the whole timeout
        return AttemptResult(ok=True, status=200, error=None)

    # lease until 10: the 1st send ends at 4, the 2nd at 8; a 3rd could end at 12 > 10: not started
    assert run_delivery_once(conn, slow, config=cfg, clock=lambda: clock[0]) == 2
    assert sent == ["evt_0000000000000001", "evt_0000000000000002"]
    (left,) = outbox.load_deliveries(conn, state=DeliveryState.PENDING)
    assert left.attempts == 0  # given back, not counted
    assert run_delivery_once(conn, slow, config=cfg, clock=lambda: clock[0]) == 1  # claimable at once
    assert len(outbox.load_deliveries(conn, state=DeliveryState.DELIVERED)) == 3
