"""Replay of the recorded namecoind scenario S00-S23 against the simulator over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.regtest_replay import EXCUSED, replay
from waypost.regtest.node import SimNode


def test_replay_matches_recording(tmp_path: Path) -> None:
    with SimNode.start(tmp_path / "node", seed=13) as node:
        r = replay(node.rpc_url, node.cookie_path)
    assert r.calls == 223
    assert r.compared_fields > 2000
    assert not r.mismatches, "\n".join(str(m) for m in r.mismatches[:20])


def test_excused_fields_have_reasons() -> None:
    assert len(EXCUSED) < 20
    for method, path, reason in EXCUSED:
        assert method and path and len(reason) > 10


def test_replay_detects_a_broken_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison is not vacuous: a node with the wrong expiry depth is caught."""
    from waypost.regtest import chain as chain_mod
    from waypost.regtest import rpc_methods

    monkeypatch.setattr(chain_mod, "NAME_EXPIRY_BLOCKS_REGTEST", 31)
    monkeypatch.setattr(rpc_methods, "NAME_EXPIRY_BLOCKS_REGTEST", 31)
    with SimNode.start(tmp_path / "node", seed=7) as node:
        r = replay(node.rpc_url, node.cookie_path, upto_step="S06")
    assert any("expires_in" in m.path for m in r.mismatches)
