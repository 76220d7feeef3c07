"""``name.expiring`` events: subscribed names that enter their last blocks before expiry.

``expiring_changes`` is pure; ``fetch_expiring_changes`` (shell) reads the subscribed names'
current records inside the indexer's batch transaction. Only subscribed addresses are
looked at, so catching up on a long chain costs one point read per subscription per batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from waypost.indexer.store import BatchResult
from waypost.notify.event import AddressChange, ChangeKind
from waypost.registry.address import namecoin_name, parse_address
from waypost.registry.errors import ErrorCode, StoreError, WaypostError
from waypost.registry.keys import EXPIRING_WINDOW_BLOCKS
from waypost.registry.model import BlockHash

__all__ = ["expiring_changes", "fetch_expiring_changes"]


def expiring_changes(
    records: Sequence[tuple[str, int, int]],
    *,
    first_height: int,
    last_height: int,
    block_hash_at: Mapping[int, BlockHash],
    window: int = EXPIRING_WINDOW_BLOCKS,
) -> list[AddressChange]:
    """The ``EXPIRING`` changes of a batch that connected blocks ``first_height..last_height``.

    A name whose current operation expires at height E (``expired`` from tip E on) becomes
    ``expiring`` at tip ``E - window`` (registry ``status_at``); it is announced once, at the
    block where it crosses into the window.

    Args:
        records: ``(address, epoch, expires_at_height)`` of the subscribed names.
        first_height: lowest height connected in the batch.
        last_height: the batch's tip height.
        block_hash_at: hash of each connected height (the event's block, retracted by a reorg).
        window: blocks before expiry that count as expiring.
    """
    out: list[AddressChange] = []
    for address, epoch, expires_at in records:
        crossing = expires_at - window
        if first_height <= crossing <= last_height and crossing in block_hash_at:
            out.append(
                AddressChange(
                    address=address,
                    epoch=epoch,
                    leaf_index=None,
                    height=crossing,
                    block_hash=block_hash_at[crossing],
                    kind=ChangeKind.EXPIRING,
                    expires_at_height=expires_at,
                )
            )
    return out


def fetch_expiring_changes(
    conn: sqlite3.Connection,
    batch: BatchResult,
    addresses: Sequence[str],
    *,
    window: int = EXPIRING_WINDOW_BLOCKS,
) -> list[AddressChange]:
    """``expiring_changes`` for the subscribed ``addresses`` of one batch (inside its transaction).

    Raises:
        StoreError: ``store.io`` when the names table cannot be read.
    """
    connected = {d.height: d.block_hash for d in batch.deltas if d.connected}
    if not connected or not addresses:
        return []
    records: list[tuple[str, int, int]] = []
    for address in sorted(set(addresses)):
        try:
            name = namecoin_name(parse_address(address))
        except WaypostError:
            continue
        if name is None:
            continue
        try:
            row = conn.execute("SELECT epoch, expires_at_height FROM names WHERE name = ?", (name,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(ErrorCode.STORE_IO, f"cannot read names: {exc}") from exc
        if row is not None:
            records.append((address, int(row[0]), int(row[1])))
    return expiring_changes(
        records, first_height=min(connected), last_height=max(connected), block_hash_at=connected, window=window
    )
