"""``assess_freshness``: sync states and stale reasons (pure)."""

from __future__ import annotations

import pytest

from tests.fakereader import make_status
from waypost.api.freshness import (
    FreshnessThresholds,
    StaleReason,
    SyncState,
    assess_freshness,
    default_thresholds,
)

NOW = 1_700_000_000
MAINNET = default_thresholds("mainnet")
REGTEST = default_thresholds("regtest")


def test_synced() -> None:
    f = assess_freshness(make_status(100, tip_time_s=NOW - 600, checked_at_s=NOW - 3), NOW, "mainnet", MAINNET)
    assert (f.state, f.stale, f.reasons) == (SyncState.SYNCED, False, ())
    assert (f.behind_blocks, f.tip_age_s, f.check_age_s) == (0, 600, 3)
    assert f.tip_hash_hex is not None and len(f.tip_hash_hex) == 64


def test_empty_index() -> None:
    f = assess_freshness(make_status(-1, checked_at_s=NOW), NOW, "regtest", REGTEST)
    assert f.state == SyncState.EMPTY and f.stale
    assert StaleReason.INDEX_EMPTY in f.reasons
    assert f.tip_hash_hex is None


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"node_initial_download": True}, StaleReason.NODE_INITIAL_DOWNLOAD), ({"node_headers": 120}, StaleReason.NODE_HEADERS_AHEAD)],
)
def test_node_syncing(kwargs: dict[str, object], reason: StaleReason) -> None:
    f = assess_freshness(make_status(100, tip_time_s=NOW, checked_at_s=NOW, **kwargs), NOW, "mainnet", MAINNET)  # type: ignore[arg-type]
    assert f.state == SyncState.NODE_SYNCING and f.stale and f.reasons == (reason,)


def test_catching_up_within_threshold_is_not_stale() -> None:
    f = assess_freshness(make_status(100, node_height=102, tip_time_s=NOW, checked_at_s=NOW), NOW, "mainnet", MAINNET)
    assert f.state == SyncState.CATCHING_UP and not f.stale and f.behind_blocks == 2


def test_catching_up_beyond_threshold_is_stale() -> None:
    f = assess_freshness(make_status(100, node_height=103, tip_time_s=NOW, checked_at_s=NOW), NOW, "mainnet", MAINNET)
    assert f.state == SyncState.CATCHING_UP and f.stale and f.reasons == (StaleReason.INDEX_BEHIND_NODE,)
    assert f.behind_blocks == 3


def test_no_recent_block_on_mainnet_but_never_on_regtest() -> None:
    status = make_status(100, tip_time_s=NOW - 2 * 3600 - 1, checked_at_s=NOW)
    f = assess_freshness(status, NOW, "mainnet", MAINNET)
    assert f.state == SyncState.STALE and f.reasons == (StaleReason.NO_RECENT_BLOCK,)
    assert not assess_freshness(make_status(100, tip_time_s=NOW - 7200, checked_at_s=NOW), NOW, "mainnet", MAINNET).stale
    f = assess_freshness(make_status(100, tip_time_s=NOW - 30 * 86400, checked_at_s=NOW), NOW, "regtest", REGTEST)
    assert f.state == SyncState.SYNCED and not f.stale


def test_indexer_not_checking_the_node() -> None:
    f = assess_freshness(make_status(100, tip_time_s=NOW, checked_at_s=NOW - 121), NOW, "regtest", REGTEST)
    assert f.state == SyncState.STALE and f.reasons == (StaleReason.NODE_NOT_CHECKED,)
    f = assess_freshness(make_status(100, tip_time_s=NOW, checked_at_s=None), NOW, "regtest", REGTEST)
    assert f.stale and f.reasons == (StaleReason.NODE_NOT_CHECKED,)


def test_configurable_thresholds_and_clock_skew() -> None:
    strict = FreshnessThresholds(max_behind_blocks=0, max_tip_age_s=60, max_check_age_s=5)
    f = assess_freshness(make_status(100, node_height=101, tip_time_s=NOW - 61, checked_at_s=NOW - 6), NOW, "regtest", strict)
    assert set(f.reasons) == {StaleReason.INDEX_BEHIND_NODE, StaleReason.NO_RECENT_BLOCK, StaleReason.NODE_NOT_CHECKED}
    # a tip time in the future (skewed miner clock) is age 0, not negative
    f = assess_freshness(make_status(100, tip_time_s=NOW + 500, checked_at_s=NOW + 1), NOW, "mainnet", MAINNET)
    assert (f.tip_age_s, f.check_age_s, f.stale) == (0, 0, False)


def test_to_json_shape() -> None:
    f = assess_freshness(make_status(100, node_height=110, tip_time_s=NOW, checked_at_s=NOW), NOW, "mainnet", MAINNET)
    j = f.to_json()
    assert j["state"] == "catching-up" and j["stale"] is True and j["reason"] == "index-behind-node"
    assert j["behind_blocks"] == 10 and j["tip_height"] == 100 and j["node_height"] == 110
