"""``name.expiring`` events: a subscribed name crossing into its last blocks is announced once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from tests.unit.notify.conftest import ALICE, chain
from waypost.indexer.store import BatchResult, open_store
from waypost.notify import outbox
from waypost.notify.event import AddressChange, ChangeKind
from waypost.notify.expiry import expiring_changes
from waypost.notify.outbox import StoredSubscription
from waypost.registry.model import BlockHash

H = {h: BlockHash(bytes([h]) * 32) for h in range(10, 21)}


def test_announced_once_at_the_crossing_block() -> None:
    records = [("alice@id.bit", 2, 1015), ("bob@id.bit", 1, 5000), ("carol@id.bit", 1, 1009)]
    got = expiring_changes(records, first_height=10, last_height=20, block_hash_at=H, window=1000)
    assert [(c.address, c.height, c.expires_at_height, c.epoch, c.kind) for c in got] == [
        ("alice@id.bit", 15, 1015, 2, ChangeKind.EXPIRING)
    ]
    assert got[0].block_hash == H[15] and got[0].leaf_index is None
    # the next batch (21..30) does not announce it again
    assert expiring_changes(records, first_height=21, last_height=30, block_hash_at={}, window=1000) == []


def _no_changes(conn: sqlite3.Connection, batch: BatchResult) -> Sequence[AddressChange]:
    del conn, batch
    return []


def test_outbox_hook_writes_the_expiring_event_for_subscribers(tmp_path: Path) -> None:
    store = open_store(tmp_path / "i.db", "regtest")
    outbox.ensure_schema(store.conn)
    outbox.save_subscription(
        store.conn,
        StoredSubscription(id="sub_1", address=ALICE, url="http://127.0.0.1:9/h", secret="whsec_" + "A" * 44,
                           token_hash=outbox.token_digest("t"), created_s=0, active=True),
    )
    window = 30
    # the subscribed name's current operation expires at height 3 + window
    store.conn.execute(
        "INSERT INTO names (name, value, txid, vout, height, block_hash, tx_index, op, address, "
        "expires_at_height, epoch) VALUES (?, ?, ?, 0, 0, ?, 1, 'name_firstupdate', NULL, ?, 1)",
        (b"d/example", b"{}", b"\x01" * 32, b"\x02" * 32, 3 + window),
    )
    store.conn.commit()
    blocks = chain(6)
    store.apply_batch(blocks, hooks=[outbox.make_outbox_hook(_no_changes, clock=lambda: 1.0,
                                                             expiring_window_blocks=window)])
    events = outbox.load_events_after(store.conn, 0)
    assert [e.type for e in events] == ["name.expiring"]
    data = json.loads(events[0].data)
    assert data["address"] == ALICE and data["height"] == 3
