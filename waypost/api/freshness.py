"""How fresh the index is (pure core of the API: no clock, no I/O; ``now_s`` is passed in).

``assess_freshness`` turns an ``IndexStatus`` into the ``freshness`` object every answer carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from waypost.indexer.view import IndexStatus

__all__ = [
    "SyncState",
    "StaleReason",
    "FreshnessThresholds",
    "Freshness",
    "default_thresholds",
    "assess_freshness",
]

# Bitcoin-family chains target one block per 10 minutes; two hours without a block happens
# by chance far less than once a year (Poisson, 12 expected blocks), so it means trouble.
MAX_TIP_AGE_S_MAINNET = 2 * 60 * 60
# testnet has the same 10-minute target but long gaps are common; still flag beyond 2 h.
MAX_TIP_AGE_S_TESTNET = 2 * 60 * 60
# The indexer polls (or hears ZMQ) every few seconds; two minutes of silence means it is stuck.
MAX_CHECK_AGE_S = 120
# One or two blocks behind is the normal race between a new block and the indexer's poll.
MAX_BEHIND_BLOCKS = 2


class SyncState(StrEnum):
    """The one-word sync state of ``/v1/status`` (first matching rule wins)."""

    EMPTY = "empty"  # nothing indexed yet
    NODE_SYNCING = "node-syncing"  # the node itself is in IBD or has headers ahead of blocks
    CATCHING_UP = "catching-up"  # the index is behind the node's tip
    STALE = "stale"  # in step with the node as last seen, but that view is old
    SYNCED = "synced"


class StaleReason(StrEnum):
    """Why an answer is stale; an answer may have several."""

    INDEX_EMPTY = "index-empty"
    NODE_INITIAL_DOWNLOAD = "node-initial-download"
    NODE_HEADERS_AHEAD = "node-headers-ahead"
    INDEX_BEHIND_NODE = "index-behind-node"
    NO_RECENT_BLOCK = "no-recent-block"
    NODE_NOT_CHECKED = "node-not-checked"


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshnessThresholds:
    """When an answer counts as stale.

    ``max_tip_age_s=None`` disables the block-time rule (regtest mines on demand).
    """

    max_behind_blocks: int = MAX_BEHIND_BLOCKS
    max_tip_age_s: int | None = MAX_TIP_AGE_S_MAINNET
    max_check_age_s: int = MAX_CHECK_AGE_S


@dataclass(frozen=True, slots=True, kw_only=True)
class Freshness:
    """What an answer says about its own freshness (``freshness`` member of every answer)."""

    state: SyncState
    stale: bool
    reasons: tuple[StaleReason, ...]
    tip_height: int
    tip_hash_hex: str | None
    tip_time_s: int | None
    tip_age_s: int | None  # now - tip block time, never negative
    node_height: int | None
    behind_blocks: int | None  # node height - tip height, None when the node was never seen
    checked_at_s: int | None
    check_age_s: int | None  # now - last contact with the node, never negative

    def to_json(self) -> dict[str, object]:
        """The JSON object form (field names are the public API)."""
        return {
            "state": str(self.state),
            "stale": self.stale,
            "reason": str(self.reasons[0]) if self.reasons else None,
            "reasons": [str(r) for r in self.reasons],
            "tip_height": self.tip_height,
            "tip_hash": self.tip_hash_hex,
            "tip_time": self.tip_time_s,
            "tip_age_s": self.tip_age_s,
            "node_height": self.node_height,
            "behind_blocks": self.behind_blocks,
            "checked_at": self.checked_at_s,
            "check_age_s": self.check_age_s,
        }


def default_thresholds(network: str) -> FreshnessThresholds:
    """The thresholds for ``network`` ("mainnet" | "testnet" | "regtest" | other).

    Args:
        network: the index's network.

    Returns:
        Mainnet/testnet: stale after 2 h without a block; regtest (and unknown networks):
        never stale by block time, because blocks are mined on demand.
    """
    if network == "mainnet":
        return FreshnessThresholds(max_tip_age_s=MAX_TIP_AGE_S_MAINNET)
    if network == "testnet":
        return FreshnessThresholds(max_tip_age_s=MAX_TIP_AGE_S_TESTNET)
    return FreshnessThresholds(max_tip_age_s=None)


def assess_freshness(status: IndexStatus, now_s: float, network: str, thresholds: FreshnessThresholds) -> Freshness:
    """Decide how fresh the index is.

    Args:
        status: what the index has and last saw of the node.
        now_s: wall-clock time (seconds since the epoch), passed in by the shell.
        network: the index's network (kept for symmetry with ``default_thresholds``).
        thresholds: the limits beyond which an answer is stale.

    Returns:
        The ``Freshness``: a sync state, ``stale`` and every reason for it.
    """
    del network  # the thresholds already carry the per-network policy
    now = int(now_s)
    reasons: list[StaleReason] = []
    tip_height = status.tip_height
    empty = tip_height < 0 or status.tip_hash is None
    if empty:
        reasons.append(StaleReason.INDEX_EMPTY)

    node_syncing = False
    if status.node_initial_download:
        node_syncing = True
        reasons.append(StaleReason.NODE_INITIAL_DOWNLOAD)
    if status.node_headers is not None and status.node_height is not None and status.node_headers > status.node_height:
        node_syncing = True
        reasons.append(StaleReason.NODE_HEADERS_AHEAD)

    behind: int | None = None
    if status.node_height is not None:
        behind = max(0, status.node_height - tip_height)
        if behind > thresholds.max_behind_blocks:
            reasons.append(StaleReason.INDEX_BEHIND_NODE)

    tip_age: int | None = None
    if status.tip_time_s is not None and not empty:
        tip_age = max(0, now - status.tip_time_s)
        if thresholds.max_tip_age_s is not None and tip_age > thresholds.max_tip_age_s:
            reasons.append(StaleReason.NO_RECENT_BLOCK)

    check_age: int | None = None
    if status.checked_at_s is None:
        reasons.append(StaleReason.NODE_NOT_CHECKED)
    else:
        check_age = max(0, now - status.checked_at_s)
        if check_age > thresholds.max_check_age_s:
            reasons.append(StaleReason.NODE_NOT_CHECKED)

    if empty:
        state = SyncState.EMPTY
    elif node_syncing:
        state = SyncState.NODE_SYNCING
    elif behind is not None and behind > 0:
        state = SyncState.CATCHING_UP
    elif reasons:
        state = SyncState.STALE
    else:
        state = SyncState.SYNCED

    return Freshness(
        state=state,
        stale=bool(reasons),
        reasons=tuple(reasons),
        tip_height=tip_height,
        tip_hash_hex=status.tip_hash[::-1].hex() if status.tip_hash is not None else None,
        tip_time_s=status.tip_time_s,
        tip_age_s=tip_age,
        node_height=status.node_height,
        behind_blocks=behind,
        checked_at_s=status.checked_at_s,
        check_age_s=check_age,
    )
