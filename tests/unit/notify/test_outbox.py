"""Outbox: events written in the indexer's batch transaction, retractions on reorg, leases, subscriptions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.replaynode import ChainGenerator
from tests.unit.notify.conftest import ALICE, chain, moved_per_block
from waypost.indexer.store import BatchResult, open_store
from waypost.notify import outbox
from waypost.notify.outbox import DeliveryState, StoredSubscription
from waypost.registry.errors import ErrorCode, NotFoundError, StoreError


def _sub(conn: sqlite3.Connection, sub_id: str, address: str = ALICE, token: str = "tok") -> None:
    outbox.save_subscription(
        conn,
        StoredSubscription(
            id=sub_id, address=address, url=f"http://127.0.0.1:9/{sub_id}", secret="whsec_" + "A" * 44,
            token_hash=outbox.token_digest(token), created_s=0, active=True,
        ),
    )


def _counts(conn: sqlite3.Connection) -> tuple[int, int]:
    return (
        conn.execute("SELECT COUNT(*) FROM notify_events").fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM notify_deliveries").fetchone()[0],
    )


def test_events_commit_with_the_batch_and_roll_back_with_it(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    outbox.ensure_schema(store.conn)
    _sub(store.conn, "sub_1")
    _sub(store.conn, "sub_2", address="bob@example.bit")
    blocks = chain(6)
    hook = outbox.make_outbox_hook(moved_per_block, clock=lambda: 1000.0)
    store.apply_batch(blocks[:3], hooks=[hook])
    assert _counts(store.conn) == (3, 3)  # one event per block, one delivery each (alice's subscriber only)

    def boom(conn: sqlite3.Connection, batch: BatchResult) -> None:
        raise RuntimeError("crash after the outbox hook")

    with pytest.raises(RuntimeError):
        store.apply_batch(blocks[3:], hooks=[hook, boom])
    assert _counts(store.conn) == (3, 3)
    assert store.fetch_tip() is not None and store.fetch_tip()[0] == 2  # type: ignore[index]
    store.apply_batch(blocks[3:], hooks=[hook])
    events = outbox.load_events_after(store.conn, 0)
    assert [e.id for e in events] == [f"evt_{i:016d}" for i in range(1, 7)]


def test_reorg_retracts_the_events_of_disconnected_blocks(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    outbox.ensure_schema(store.conn)
    _sub(store.conn, "sub_1")
    gen = ChainGenerator(seed=9)
    base = chain(4, gen=gen)
    fork = gen.fork(77)
    branch_a = chain(2, gen=gen)
    branch_b = chain(3, gen=fork)
    hook = outbox.make_outbox_hook(moved_per_block, clock=lambda: 1000.0)
    store.apply_batch(base + branch_a, hooks=[hook])
    gone = [store.fetch_block_hash(5), store.fetch_block_hash(4)]
    assert all(h is not None for h in gone)
    store.apply_batch(branch_b, disconnected=gone, hooks=[hook])  # type: ignore[arg-type]
    events = outbox.load_events_after(store.conn, 0)
    types = [e.type for e in events]
    assert types == ["address.moved"] * 6 + ["event.retracted"] * 2 + ["address.moved"] * 3
    retracted = sorted(json.loads(e.data)["retracts"] for e in events if e.type == "event.retracted")
    assert retracted == ["evt_0000000000000005", "evt_0000000000000006"]
    # every retraction is delivered to the address's subscriber too
    assert _counts(store.conn) == (11, 11)


def test_enqueue_needs_the_callers_transaction(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "o.db", isolation_level=None)
    outbox.ensure_schema(conn)
    with pytest.raises(StoreError) as exc:
        outbox.enqueue_notices(conn, [], now_s=0)
    assert exc.value.code == ErrorCode.STORE_IO


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "o.db", isolation_level=None)
    outbox.ensure_schema(conn)
    conn.execute("UPDATE schema_versions SET version = 9 WHERE component = 'notify'")
    with pytest.raises(StoreError) as exc:
        outbox.ensure_schema(conn)
    assert exc.value.code == ErrorCode.STORE_NEWER_SCHEMA


def test_claims_are_leases(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    outbox.ensure_schema(store.conn)
    _sub(store.conn, "sub_1")
    store.apply_batch(chain(2), hooks=[outbox.make_outbox_hook(moved_per_block, clock=lambda: 100.0)])
    conn = store.conn
    assert outbox.claim_due(conn, now_s=99.0, lease_s=10, limit=10, lease_token="w0") == []  # not due yet
    first = outbox.claim_due(conn, now_s=100.0, lease_s=10, limit=10, lease_token="w1")
    assert [(c.event_id, c.attempts) for c in first] == [("evt_0000000000000001", 1), ("evt_0000000000000002", 1)]
    assert outbox.claim_due(conn, now_s=105.0, lease_s=10, limit=10, lease_token="w2") == []  # leased
    # the first worker "died": after the lease the rows are due again, same event ids
    second = outbox.claim_due(conn, now_s=110.0, lease_s=10, limit=10, lease_token="w3")
    assert [(c.event_id, c.attempts, c.payload) for c in second] == [(c.event_id, 2, c.payload) for c in first]
    # the dead worker's late result is ignored; the live one's counts
    assert not outbox.record_attempt(conn, first[0], state=DeliveryState.DELIVERED, now_s=111, next_attempt_s=111, status=200, error=None)
    assert outbox.record_attempt(conn, second[0], state=DeliveryState.DELIVERED, now_s=111, next_attempt_s=111, status=200, error=None)
    assert [r.event_id for r in outbox.load_deliveries(conn, state=DeliveryState.DELIVERED)] == ["evt_0000000000000001"]


def test_delete_subscription_needs_its_token_and_cancels_pending(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    outbox.ensure_schema(store.conn)
    _sub(store.conn, "sub_1", token="right")
    store.apply_batch(chain(2), hooks=[outbox.make_outbox_hook(moved_per_block, clock=lambda: 100.0)])
    for sub_id, token in [("sub_1", "wrong"), ("sub_nope", "right")]:
        with pytest.raises(NotFoundError) as exc:
            outbox.delete_subscription(store.conn, sub_id, token, now_s=200)
        assert exc.value.code == ErrorCode.SUBSCRIPTION_NOT_FOUND
    outbox.delete_subscription(store.conn, "sub_1", "right", now_s=200)
    assert outbox.load_subscriptions(store.conn) == []
    assert {r.state for r in outbox.load_deliveries(store.conn, state=None)} == {DeliveryState.CANCELLED}
    assert outbox.claim_due(store.conn, now_s=1e9, lease_s=10, limit=10, lease_token="w") == []
    with pytest.raises(NotFoundError):
        outbox.delete_subscription(store.conn, "sub_1", "right", now_s=201)  # already ended
