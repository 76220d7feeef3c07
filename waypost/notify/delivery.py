"""Webhook delivery (shell): apscheduler job claiming due outbox rows, signing and POSTing them.

At-least-once: a claim is a lease in a short transaction; a worker killed mid-delivery
leaves the row pending and due again when the lease runs out. Only ``backoff_delay_s``
and ``next_delivery_state`` are pure.
"""

from __future__ import annotations

import datetime
import http.client
import logging
import random
import secrets
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from waypost.notify import outbox
from waypost.notify.outbox import Claim, DeliveryState
from waypost.notify.ssrf import Resolver, UrlPolicy, open_pinned_connection, parse_webhook_url, resolve_target, system_resolver
from waypost.notify.webhook import webhook_headers
from waypost.registry.errors import ErrorCode, StoreError, WaypostError

__all__ = [
    "DeliveryConfig",
    "AttemptResult",
    "Sender",
    "backoff_delay_s",
    "next_delivery_state",
    "send_webhook",
    "run_delivery_once",
    "open_outbox",
    "start_delivery_scheduler",
]

_log = logging.getLogger(__name__)
_MAX_RUNS_PER_TICK = 50
_MAX_RESPONSE_BYTES = 64 * 1024  # read (and drop) at most this much of a receiver's answer


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryConfig:
    """Delivery settings.

    Attributes:
        max_attempts: after this many failed attempts a delivery is dead-lettered.
        base_delay_s: backoff before the 2nd attempt (doubling after that).
        max_delay_s: backoff cap.
        lease_s: how long a claim is exclusive; a crashed worker's deliveries wait this long.
        timeout_s: connect + read timeout of one POST.
        batch_size: deliveries claimed per job run.
        interval_s: how often the scheduler runs the job.
    """

    max_attempts: int = 8
    base_delay_s: float = 5.0
    max_delay_s: float = 3600.0
    lease_s: float = 60.0
    timeout_s: float = 10.0
    batch_size: int = 20
    interval_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("max_attempts >= 1 and 0 <= base_delay_s <= max_delay_s")
        if self.lease_s <= self.timeout_s:
            raise ValueError("lease_s must exceed timeout_s, or a slow attempt loses its lease")


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptResult:
    """What one POST gave: ``ok`` for a 2xx answer."""

    ok: bool
    status: int | None
    error: str | None


# (claim, now_s) -> result; ``send_webhook`` bound to a policy and resolver in production.
Sender = Callable[[Claim, float], AttemptResult]


def backoff_delay_s(attempt: int, *, base_s: float, cap_s: float, jitter: float) -> float:
    """Delay before the attempt after ``attempt`` failed ones: exponential, capped, jittered.

    "Equal jitter": half the exponential step is fixed, half is scaled by ``jitter`` so
    receivers recovering from an outage are not hit by every sender at once.

    Args:
        attempt: failed attempts so far (>= 1).
        base_s: delay after the first failure, before jitter.
        cap_s: the largest step.
        jitter: a random number in [0, 1) (injected).

    Returns:
        Seconds, in ``[step/2, step)`` where ``step = min(cap_s, base_s * 2**(attempt-1))``.
    """
    if attempt < 1 or not 0.0 <= jitter < 1.0:
        raise ValueError("attempt >= 1 and 0 <= jitter < 1")
    step = min(cap_s, base_s * 2.0 ** min(attempt - 1, 62))
    return step / 2.0 + step / 2.0 * jitter


def next_delivery_state(*, ok: bool, attempts: int, max_attempts: int) -> DeliveryState:
    """``delivered`` on success; ``dead`` when the last attempt failed; else ``pending``."""
    if ok:
        return DeliveryState.DELIVERED
    return DeliveryState.DEAD if attempts >= max_attempts else DeliveryState.PENDING


def send_webhook(
    claim: Claim,
    now_s: float,
    *,
    policy: UrlPolicy,
    resolver: Resolver = system_resolver,
    timeout_s: float = 10.0,
    tls_context: ssl.SSLContext | None = None,
) -> AttemptResult:
    """POST one claimed event with Standard Webhooks headers to the IP the policy checked.

    The URL is re-checked and re-resolved on every attempt (a subscription's name may have
    been repointed since it was created); redirects are not followed (a 3xx is a failure).

    Returns:
        The attempt result; refusals and network errors are failures, never exceptions.
    """
    try:
        url = parse_webhook_url(claim.url)
        target = resolve_target(url, policy, resolver)
        headers = webhook_headers(claim.secret, claim.event_id, int(now_s), claim.payload)
    except WaypostError as exc:
        return AttemptResult(ok=False, status=None, error=f"{exc.code}: {exc.message}"[:300])
    headers["user-agent"] = "waypost-webhook/1"
    conn = open_pinned_connection(target, timeout_s=timeout_s, context=tls_context)
    try:
        conn.request("POST", url.target, body=claim.payload, headers=headers)
        resp = conn.getresponse()
        resp.read(_MAX_RESPONSE_BYTES)
        status = resp.status
    except (OSError, http.client.HTTPException) as exc:
        return AttemptResult(ok=False, status=None, error=f"{ErrorCode.WEBHOOK_UNREACHABLE}: {type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()
    if 200 <= status < 300:
        return AttemptResult(ok=True, status=status, error=None)
    return AttemptResult(ok=False, status=status, error=f"HTTP {status}")


def run_delivery_once(
    conn: sqlite3.Connection,
    send: Sender,
    *,
    config: DeliveryConfig,
    clock: Callable[[], float] = time.time,
    jitter: Callable[[], float] = random.random,
    worker_id: str = "",
) -> int:
    """One job run: claim due deliveries, send each, record the outcomes.

    Args:
        conn: the outbox database (autocommit connection of this worker).
        send: posts one claim.
        config: backoff, attempts, lease and batch size.
        clock: wall clock in seconds.
        jitter: random numbers in [0, 1) for the backoff.
        worker_id: a prefix for lease tokens (logs).

    Returns:
        The number of deliveries attempted (claims whose lease ran short are left for later).
    """
    token = f"{worker_id}:{secrets.token_hex(8)}"
    claims = outbox.claim_due(conn, now_s=clock(), lease_s=config.lease_s, limit=config.batch_size, lease_token=token)
    attempted = 0
    for i, claim in enumerate(claims):
        if clock() + config.timeout_s > claim.lease_until_s:
            # Earlier sends used up this lease: give the rest back rather than race another
            # worker that may take them over while we are still sending.
            outbox.release_claims(conn, claims[i:], now_s=clock())
            break
        attempted += 1
        result = send(claim, clock())
        now_s = clock()
        state = next_delivery_state(ok=result.ok, attempts=claim.attempts, max_attempts=config.max_attempts)
        delay = 0.0
        if state is DeliveryState.PENDING:
            delay = backoff_delay_s(claim.attempts, base_s=config.base_delay_s, cap_s=config.max_delay_s, jitter=jitter())
        if state is DeliveryState.DEAD:
            _log.warning("delivery of %s to %s is dead after %d attempts", claim.event_id, claim.subscription_id, claim.attempts)
        outbox.record_attempt(
            conn, claim, state=state, now_s=now_s, next_attempt_s=now_s + delay, status=result.status, error=result.error
        )
    return attempted


def open_outbox(db_path: str | Path) -> sqlite3.Connection:
    """Open the index database for the delivery worker (autocommit, WAL-friendly, schema ensured).

    Raises:
        StoreError: ``store.io``.
    """
    try:
        conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.Error as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot open {db_path}: {exc}") from exc
    outbox.ensure_schema(conn)
    return conn


def start_delivery_scheduler(
    db_path: str | Path,
    *,
    policy: UrlPolicy,
    config: DeliveryConfig | None = None,
    resolver: Resolver = system_resolver,
    clock: Callable[[], float] = time.time,
    jitter: Callable[[], float] = random.random,
    tls_context: ssl.SSLContext | None = None,
) -> BackgroundScheduler:
    """Start an apscheduler ``BackgroundScheduler`` running ``run_delivery_once`` every ``interval_s``.

    One job instance at a time (``max_instances=1``, missed runs coalesced); the job's
    connection is used by that one job only. Stop with ``scheduler.shutdown()``.

    Returns:
        The running scheduler.
    """
    cfg = config or DeliveryConfig()
    conn = open_outbox(db_path)
    lock = threading.Lock()
    worker_id = secrets.token_hex(4)

    def sender(claim: Claim, now_s: float) -> AttemptResult:
        return send_webhook(claim, now_s, policy=policy, resolver=resolver, timeout_s=cfg.timeout_s, tls_context=tls_context)

    def job() -> None:
        with lock:
            try:
                for _ in range(_MAX_RUNS_PER_TICK):  # drain what is due, then wait for the next tick
                    if run_delivery_once(conn, sender, config=cfg, clock=clock, jitter=jitter, worker_id=worker_id) == 0:
                        break
            except WaypostError as exc:
                _log.error("delivery run failed [%s]: %s", exc.code, exc.message)

    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(
        job,
        "interval",
        seconds=cfg.interval_s,
        max_instances=1,
        coalesce=True,
        id="waypost-notify-deliver",
        next_run_time=datetime.datetime.now(datetime.timezone.utc),  # first run at once
    )
    scheduler.start()
    return scheduler
