"""Durable notification outbox in the index database (shell): subscriptions, events, delivery state.

``enqueue_notices`` writes inside the caller's open transaction (the indexer's batch
transaction, DESIGN §1), never committing; delivery claims and results use short
transactions of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import sqlite_utils

from waypost.indexer.store import BatchHook, BatchResult
from waypost.notify.expiry import fetch_expiring_changes
from waypost.notify.event import (
    AddressChange,
    Event,
    EventType,
    Notice,
    Subscription,
    encode_event_json,
    encode_webhook_payload,
    plan_notices,
    plan_retractions,
)
from waypost.registry.errors import ErrorCode, NotFoundError, StoreError
from waypost.registry.keys import EXPIRING_WINDOW_BLOCKS
from waypost.registry.model import BlockHash

__all__ = [
    "COMPONENT",
    "SCHEMA_VERSION",
    "DeliveryState",
    "StoredSubscription",
    "StoredEvent",
    "Claim",
    "DeliveryRow",
    "ensure_schema",
    "next_event_seq",
    "enqueue_notices",
    "make_outbox_hook",
    "save_subscription",
    "delete_subscription",
    "load_subscriptions",
    "load_events_after",
    "load_deliveries",
    "claim_due",
    "record_attempt",
    "release_claims",
    "token_digest",
]

COMPONENT = "notify"
SCHEMA_VERSION = 1

# --- schema (component "notify", version 1) --------------------------------------------
#
# schema_versions(component TEXT PK, version INTEGER)      shared with the indexer and tlog
# notify_subscriptions(id TEXT PK, address TEXT, url TEXT, secret TEXT, token_hash BLOB[32],
#        created_s INTEGER, active INTEGER)   secret = "whsec_..." (needed to sign, so kept);
#        token_hash = SHA-256 of the deletion token (the token itself is never stored)
# notify_events(seq INTEGER PK, id TEXT UNIQUE, type TEXT, address TEXT, epoch INTEGER,
#        leaf_index INTEGER NULL, height INTEGER, block_hash BLOB[32], created_s INTEGER,
#        retracts TEXT NULL, data TEXT, payload BLOB)
#        data = the event JSON (SSE ``data:``); payload = the webhook body, fixed at enqueue
#        so every redelivery is byte-identical; index (address, seq), index (block_hash)
# notify_deliveries(event_seq INTEGER, subscription_id TEXT, state TEXT, attempts INTEGER,
#        next_attempt_s REAL, lease_until_s REAL NULL, lease_token TEXT NULL,
#        last_status INTEGER NULL, last_error TEXT NULL, updated_s REAL)
#        PK (event_seq, subscription_id); index (state, next_attempt_s).
#        state: pending -> delivered | dead | cancelled. A claim sets lease_until_s/lease_token
#        and counts the attempt; a worker that dies leaves the row pending, due again once the
#        lease expires (at-least-once).


class DeliveryState(StrEnum):
    """Where one (event, subscription) delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"  # the subscription was deleted before delivery


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSubscription:
    """A subscription row (without the token, which is never stored)."""

    id: str
    address: str
    url: str
    secret: str
    token_hash: bytes
    created_s: int
    active: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """An outbox event as streamed: sequence, id, type, address and its JSON text."""

    seq: int
    id: str
    type: str
    address: str
    data: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A delivery leased to one worker until ``lease_until_s``."""

    event_seq: int
    event_id: str
    subscription_id: str
    url: str
    secret: str
    payload: bytes
    attempts: int  # including this one
    lease_token: str
    lease_until_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRow:
    """A delivery as the admin endpoint shows it."""

    event_id: str
    subscription_id: str
    url: str
    state: DeliveryState
    attempts: int
    next_attempt_s: float
    last_status: int | None
    last_error: str | None
    updated_s: float


def _sql_error(exc: sqlite3.Error) -> StoreError:
    return StoreError(ErrorCode.STORE_IO, f"notify outbox: {exc}")


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.table("notify_subscriptions").create(
        {"id": str, "address": str, "url": str, "secret": str, "token_hash": bytes, "created_s": int, "active": int},
        pk="id",
        not_null={"address", "url", "secret", "token_hash", "created_s", "active"},
        if_not_exists=True,
    )
    db.table("notify_events").create(
        {
            "seq": int,
            "id": str,
            "type": str,
            "address": str,
            "epoch": int,
            "leaf_index": int,
            "height": int,
            "block_hash": bytes,
            "created_s": int,
            "retracts": str,
            "data": str,
            "payload": bytes,
        },
        pk="seq",
        not_null={"id", "type", "address", "epoch", "height", "block_hash", "created_s", "data", "payload"},
        if_not_exists=True,
    )
    db.table("notify_deliveries").create(
        {
            "event_seq": int,
            "subscription_id": str,
            "state": str,
            "attempts": int,
            "next_attempt_s": float,
            "lease_until_s": float,
            "lease_token": str,
            "last_status": int,
            "last_error": str,
            "updated_s": float,
        },
        pk=("event_seq", "subscription_id"),
        not_null={"state", "attempts", "next_attempt_s", "updated_s"},
        if_not_exists=True,
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS notify_events_id ON notify_events (id)")
    db.execute("CREATE INDEX IF NOT EXISTS notify_events_address ON notify_events (address, seq)")
    db.execute("CREATE INDEX IF NOT EXISTS notify_events_block ON notify_events (block_hash)")
    db.execute("CREATE INDEX IF NOT EXISTS notify_deliveries_due ON notify_deliveries (state, next_attempt_s)")
    db.execute("CREATE INDEX IF NOT EXISTS notify_subscriptions_address ON notify_subscriptions (address, active)")


_MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (_migrate_1,)


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """A short write transaction of our own (for connections in autocommit mode)."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or migrate the outbox tables and set the ``notify`` row of ``schema_versions``.

    Inside an open transaction it only adds the statements to it (no commit); otherwise it
    runs in a transaction of its own.

    Raises:
        StoreError: ``store.newer-schema`` when the database is newer than this code; ``store.io``.
    """

    def _run() -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_versions WHERE component = ?", (COMPONENT,)).fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                ErrorCode.STORE_NEWER_SCHEMA,
                f"notify schema is version {version}; this code knows {SCHEMA_VERSION}",
                expected=SCHEMA_VERSION,
                got=version,
            )
        if version == SCHEMA_VERSION:
            return
        db = sqlite_utils.Database(conn)
        for migrate in _MIGRATIONS[version:]:
            migrate(db)
        conn.execute(
            "INSERT OR REPLACE INTO schema_versions (component, version) VALUES (?, ?)", (COMPONENT, SCHEMA_VERSION)
        )

    try:
        if conn.in_transaction:
            _run()
        else:
            with _write(conn):
                _run()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def token_digest(token: str) -> bytes:
    """SHA-256 of a deletion token (what the database keeps)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


# --- events ------------------------------------------------------------------------------


def next_event_seq(conn: sqlite3.Connection) -> int:
    """The sequence number the next event gets (call inside the writer's transaction)."""
    row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM notify_events").fetchone()
    return int(row[0]) + 1


def enqueue_notices(conn: sqlite3.Connection, notices: Sequence[Notice], *, now_s: float) -> None:
    """Store events and one pending delivery per (event, subscription), in the caller's transaction.

    Args:
        conn: a connection with an open write transaction (the indexer batch); not committed here.
        notices: from ``plan_notices``/``plan_retractions`` with ``first_seq = next_event_seq(conn)``.
        now_s: the time the deliveries become due.

    Raises:
        StoreError: ``store.io`` when no transaction is open (the events would not be atomic
            with the state change) or on an SQLite failure.
    """
    if not conn.in_transaction:
        raise StoreError(ErrorCode.STORE_IO, "enqueue_notices must run inside the caller's write transaction")
    try:
        conn.executemany(
            "INSERT INTO notify_events (seq, id, type, address, epoch, leaf_index, height, block_hash, created_s, "
            "retracts, data, payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    n.event.seq,
                    n.event.id,
                    str(n.event.type),
                    n.event.address,
                    n.event.epoch,
                    n.event.leaf_index,
                    n.event.height,
                    bytes(n.event.block_hash),
                    n.event.created_s,
                    n.event.retracts,
                    encode_event_json(n.event).decode("utf-8"),
                    encode_webhook_payload(n.event),
                )
                for n in notices
            ],
        )
        conn.executemany(
            "INSERT INTO notify_deliveries (event_seq, subscription_id, state, attempts, next_attempt_s, updated_s) "
            "VALUES (?, ?, 'pending', 0, ?, ?)",
            [(n.event.seq, sid, now_s, now_s) for n in notices for sid in n.subscription_ids],
        )
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def _events_of_blocks(conn: sqlite3.Connection, hashes: Sequence[bytes]) -> list[Event]:
    """Events behind ``hashes`` plus the retractions already issued for them (base fields only)."""
    out: list[Event] = []
    for block_hash in hashes:
        for seq, eid, etype, address, epoch, leaf_index, height, created_s, retracts in conn.execute(
            "SELECT seq, id, type, address, epoch, leaf_index, height, created_s, retracts FROM notify_events "
            "WHERE block_hash = ? ORDER BY seq",
            (block_hash,),
        ):
            out.append(
                Event(
                    id=str(eid),
                    seq=int(seq),
                    type=EventType(etype),
                    address=str(address),
                    epoch=int(epoch),
                    leaf_index=None if leaf_index is None else int(leaf_index),
                    height=int(height),
                    block_hash=BlockHash(bytes(block_hash)),
                    created_s=int(created_s),
                    retracts=None if retracts is None else str(retracts),
                )
            )
    return out


def make_outbox_hook(
    changes_of: Callable[[sqlite3.Connection, BatchResult], Sequence[AddressChange]],
    *,
    clock: Callable[[], float],
    expiring_window_blocks: int = EXPIRING_WINDOW_BLOCKS,
) -> BatchHook:
    """A ``Store.apply_batch`` hook writing the batch's events in the batch transaction.

    Args:
        changes_of: the resolver pipeline: the address changes a committed batch makes
            (from registry verdicts and the log leaves written by earlier hooks).
        clock: wall clock (seconds) for ``created_s`` and due times.
        expiring_window_blocks: passed to ``plan_notices``.

    Returns:
        The hook. Disconnected blocks first retract their events, then the new changes
        are planned and stored.
    """

    def hook(conn: sqlite3.Connection, batch: BatchResult) -> None:
        ensure_schema(conn)
        now_s = clock()
        subs = [Subscription(id=s.id, address=s.address, url=s.url) for s in load_subscriptions(conn)]
        notices: list[Notice] = []
        gone = [(d.block_hash, d.height) for d in batch.deltas if not d.connected]
        if gone:
            issued = _events_of_blocks(conn, [bytes(h) for h, _ in gone])
            notices += plan_retractions(issued, gone, subs, first_seq=next_event_seq(conn), created_s=int(now_s))
        first = next_event_seq(conn) + len(notices)
        expiring = fetch_expiring_changes(conn, batch, [s.address for s in subs], window=expiring_window_blocks)
        notices += plan_notices(
            [*changes_of(conn, batch), *expiring],
            subs,
            first_seq=first,
            created_s=int(now_s),
            expiring_window_blocks=expiring_window_blocks,
        )
        enqueue_notices(conn, notices, now_s=now_s)

    return hook


def load_events_after(
    conn: sqlite3.Connection, after_seq: int, *, address: str | None = None, limit: int = 100
) -> list[StoredEvent]:
    """Events with ``seq > after_seq`` in order (optionally of one address)."""
    try:
        if address is None:
            rows = conn.execute(
                "SELECT seq, id, type, address, data FROM notify_events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT seq, id, type, address, data FROM notify_events WHERE address = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (address, after_seq, limit),
            ).fetchall()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return [StoredEvent(seq=int(r[0]), id=str(r[1]), type=str(r[2]), address=str(r[3]), data=str(r[4])) for r in rows]


# --- subscriptions -----------------------------------------------------------------------


def save_subscription(conn: sqlite3.Connection, sub: StoredSubscription) -> None:
    """Insert a subscription (own transaction)."""
    try:
        with _write(conn):
            conn.execute(
                "INSERT INTO notify_subscriptions (id, address, url, secret, token_hash, created_s, active) "
                "VALUES (?,?,?,?,?,?,?)",
                (sub.id, sub.address, sub.url, sub.secret, sub.token_hash, sub.created_s, int(sub.active)),
            )
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def delete_subscription(conn: sqlite3.Connection, sub_id: str, token: str, *, now_s: float) -> None:
    """End a subscription if ``token`` is its deletion token; its pending deliveries are cancelled.

    Raises:
        NotFoundError: ``subscription.not-found`` for an unknown id, an ended one or a wrong
            token (one answer for all three: RFC 9110 §15.5.5 lets a server hide a resource
            from an unauthorised client).
    """
    try:
        with _write(conn):
            row = conn.execute(
                "SELECT token_hash FROM notify_subscriptions WHERE id = ? AND active = 1", (sub_id,)
            ).fetchone()
            if row is None or not hmac.compare_digest(bytes(row[0]), token_digest(token)):
                raise NotFoundError(ErrorCode.SUBSCRIPTION_NOT_FOUND, "no such subscription (or a wrong token)")
            conn.execute("UPDATE notify_subscriptions SET active = 0 WHERE id = ?", (sub_id,))
            conn.execute(
                "UPDATE notify_deliveries SET state = 'cancelled', updated_s = ?, lease_token = NULL "
                "WHERE subscription_id = ? AND state = 'pending'",
                (now_s, sub_id),
            )
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def load_subscriptions(conn: sqlite3.Connection, *, include_ended: bool = False) -> list[StoredSubscription]:
    """The subscriptions (active ones unless ``include_ended``), by id."""
    sql = "SELECT id, address, url, secret, token_hash, created_s, active FROM notify_subscriptions"
    if not include_ended:
        sql += " WHERE active = 1"
    try:
        rows = conn.execute(sql + " ORDER BY id").fetchall()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return [
        StoredSubscription(
            id=str(r[0]),
            address=str(r[1]),
            url=str(r[2]),
            secret=str(r[3]),
            token_hash=bytes(r[4]),
            created_s=int(r[5]),
            active=bool(r[6]),
        )
        for r in rows
    ]


# --- delivery state ----------------------------------------------------------------------


def claim_due(conn: sqlite3.Connection, *, now_s: float, lease_s: float, limit: int, lease_token: str) -> list[Claim]:
    """Lease up to ``limit`` due deliveries (own short transaction), oldest event first.

    A delivery is due when pending, ``next_attempt_s <= now_s`` and not leased (or the lease
    expired: its worker died). The attempt is counted here, so a delivery that keeps
    crashing its worker still reaches the dead-letter state.

    Raises:
        StoreError: ``store.io``.
    """
    claims: list[Claim] = []
    until = now_s + lease_s
    try:
        with _write(conn):
            rows = conn.execute(
                "SELECT d.event_seq, e.id, d.subscription_id, s.url, s.secret, e.payload, d.attempts "
                "FROM notify_deliveries d JOIN notify_events e ON e.seq = d.event_seq "
                "JOIN notify_subscriptions s ON s.id = d.subscription_id "
                "WHERE d.state = 'pending' AND d.next_attempt_s <= ? "
                "AND (d.lease_until_s IS NULL OR d.lease_until_s <= ?) "
                "ORDER BY d.next_attempt_s, d.event_seq LIMIT ?",
                (now_s, now_s, limit),
            ).fetchall()
            for seq, eid, sid, url, secret, payload, attempts in rows:
                conn.execute(
                    "UPDATE notify_deliveries SET lease_until_s = ?, lease_token = ?, attempts = attempts + 1, "
                    "updated_s = ? WHERE event_seq = ? AND subscription_id = ?",
                    (until, lease_token, now_s, seq, sid),
                )
                claims.append(
                    Claim(
                        event_seq=int(seq),
                        event_id=str(eid),
                        subscription_id=str(sid),
                        url=str(url),
                        secret=str(secret),
                        payload=bytes(payload),
                        attempts=int(attempts) + 1,
                        lease_token=lease_token,
                        lease_until_s=until,
                    )
                )
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return claims


def record_attempt(
    conn: sqlite3.Connection,
    claim: Claim,
    *,
    state: DeliveryState,
    now_s: float,
    next_attempt_s: float,
    status: int | None,
    error: str | None,
) -> bool:
    """Record the outcome of a claimed attempt (own transaction).

    Args:
        conn: the worker's connection.
        claim: the lease; ignored when another worker took the delivery over meanwhile.
        state: ``delivered``, ``dead`` or ``pending`` (retry at ``next_attempt_s``).
        now_s: the time of the outcome.
        next_attempt_s: when a pending delivery is due again.
        status: the HTTP status, if any answer came.
        error: a short reason for a failure.

    Returns:
        True when the row was still ours and got updated.
    """
    try:
        with _write(conn):
            cur = conn.execute(
                "UPDATE notify_deliveries SET state = ?, next_attempt_s = ?, lease_until_s = NULL, lease_token = NULL, "
                "last_status = ?, last_error = ?, updated_s = ? "
                "WHERE event_seq = ? AND subscription_id = ? AND lease_token = ? AND state = 'pending'",
                (str(state), next_attempt_s, status, error, now_s, claim.event_seq, claim.subscription_id, claim.lease_token),
            )
            return cur.rowcount == 1
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc


def release_claims(conn: sqlite3.Connection, claims: Sequence[Claim], *, now_s: float) -> int:
    """Give back claims that were never attempted (uncount the attempt, end the lease).

    Returns:
        How many rows were still ours and got released.
    """
    released = 0
    try:
        with _write(conn):
            for claim in claims:
                cur = conn.execute(
                    "UPDATE notify_deliveries SET attempts = attempts - 1, lease_until_s = NULL, lease_token = NULL, "
                    "updated_s = ? WHERE event_seq = ? AND subscription_id = ? AND lease_token = ? AND state = 'pending'",
                    (now_s, claim.event_seq, claim.subscription_id, claim.lease_token),
                )
                released += cur.rowcount
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return released


def load_deliveries(conn: sqlite3.Connection, *, state: DeliveryState | None, limit: int = 100) -> list[DeliveryRow]:
    """Deliveries (of one state, or all), most recently updated first (the admin view)."""
    sql = (
        "SELECT e.id, d.subscription_id, s.url, d.state, d.attempts, d.next_attempt_s, d.last_status, d.last_error, "
        "d.updated_s FROM notify_deliveries d JOIN notify_events e ON e.seq = d.event_seq "
        "JOIN notify_subscriptions s ON s.id = d.subscription_id"
    )
    args: list[object] = []
    if state is not None:
        sql += " WHERE d.state = ?"
        args.append(str(state))
    sql += " ORDER BY d.updated_s DESC, d.event_seq DESC LIMIT ?"
    args.append(limit)
    try:
        rows = conn.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise _sql_error(exc) from exc
    return [
        DeliveryRow(
            event_id=str(r[0]),
            subscription_id=str(r[1]),
            url=str(r[2]),
            state=DeliveryState(r[3]),
            attempts=int(r[4]),
            next_attempt_s=float(r[5]),
            last_status=None if r[6] is None else int(r[6]),
            last_error=None if r[7] is None else str(r[7]),
            updated_s=float(r[8]),
        )
        for r in rows
    ]
