"""Hypothesis: random name chains with random reorgs on the regtest simulator; the follower's
incremental index always has the state root (and name state) of a from-scratch replay of
the node's final active chain.

One simulator (funded once) and one index live for the whole test; every example appends
random actions (blocks, registrations, updates, reorgs of random depth, syncs in between) to
that chain, so examples are cheap and the index sees reorgs in every shape. Hypothesis then
cannot shrink across examples; a failure still reports the example's actions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from waypost.indexer import state as st
from waypost.indexer.follow import FollowOptions, sync_once
from waypost.indexer.rpc import RpcClient
from waypost.indexer.store import Store, open_store
from waypost.indexer.wire import parse_block
from waypost.registry.model import BlockHash

pytest.importorskip("waypost.regtest.node", reason="the regtest simulator is not in this build")
from waypost.regtest.chain import RpcFailure  # noqa: E402
from waypost.regtest.node import SimNode  # noqa: E402

NAMES = [b"d/p%d" % i for i in range(5)] + [b"id/q%d" % i for i in range(3)]
EXAMPLES = 200 if os.environ.get("CI") else 30


class _Replay:
    """From-scratch reference: connect each active block on dict state, cached by block hash."""

    def __init__(self) -> None:
        self.cache: dict[bytes, tuple[bytes, st.DictStateView]] = {}

    def root_and_names(self, sim: SimNode) -> tuple[bytes, dict[bytes, st.NameRecord]]:
        root, view = st.GENESIS_STATE_ROOT, st.DictStateView()
        for height, block_hash in enumerate(sim.chain.active):
            hit = self.cache.get(block_hash)
            if hit is None:
                block = parse_block(sim.chain.blocks[block_hash].raw)
                nxt = st.DictStateView(names=dict(view.names), news=dict(view.news))
                delta, _ = st.connect_block(nxt, block, height, "regtest")
                st.apply_delta_to_dicts(nxt, delta)
                hit = (st.compute_state_root(root, delta), nxt)
                self.cache[block_hash] = hit
            root, view = hit
        return root, view.names


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimNode, Store, _Replay]]:
    base = tmp_path_factory.mktemp("simstate")
    sim = SimNode.start(base / "node", seed=7)
    sim.generate(101, "alice")
    sim.generate(101, "bob")
    store = open_store(base / "index.db", "regtest")
    try:
        yield sim, store, _Replay()
    finally:
        store.close()
        sim.stop()


_action = hs.one_of(
    hs.tuples(hs.just("gen"), hs.integers(1, 3)),
    hs.tuples(hs.just("reg"), hs.integers(0, len(NAMES) - 1), hs.binary(max_size=40), hs.sampled_from(["alice", "bob"])),
    hs.tuples(hs.just("upd"), hs.integers(0, len(NAMES) - 1), hs.binary(max_size=40), hs.booleans()),
    hs.tuples(hs.just("reorg"), hs.integers(1, 8), hs.integers(1, 3)),
    hs.tuples(hs.just("expire"), hs.integers(28, 31)),
    hs.tuples(hs.just("sync")),
)


STATS = {"disconnected": 0, "name_ops": 0}


def _sync(sim: SimNode, store: Store, options: FollowOptions | None = None) -> None:
    factory = lambda: RpcClient(sim.rpc_url, cookie_path=sim.cookie_path, backoff_s=0.01)  # noqa: E731
    opts = options or FollowOptions(batch_blocks=7, fetch_batch=4, in_flight=2)
    before = store.fetch_tip()
    result = sync_once(store, factory, network="regtest", options=opts)
    STATS["disconnected"] += result.disconnected
    if before is not None:
        STATS["name_ops"] += len(store.conn.execute("SELECT 1 FROM name_ops WHERE height > ?", (before[0],)).fetchall())


def _play(sim: SimNode, store: Store, action: tuple[object, ...]) -> None:
    kind = action[0]
    try:
        if kind == "gen":
            sim.generate(int(action[1]))  # type: ignore[call-overload]
        elif kind == "reg":
            sim.register_name(NAMES[action[1]], bytes(action[2]), wallet=str(action[3]))  # type: ignore[arg-type,index,call-overload]
        elif kind == "upd":
            owner = "bob" if action[3] else "alice"
            sim.update_name(NAMES[action[1]], bytes(action[2]), wallet=owner)  # type: ignore[index,call-overload]
        elif kind == "reorg":
            depth, extra = int(action[1]), int(action[2])  # type: ignore[call-overload]
            height = max(1, sim.chain.height - depth + 1)
            sim.chain.invalidate(sim.chain.active[height])
            sim.generate(depth + extra)
        elif kind == "expire":
            sim.generate(int(action[1]))  # type: ignore[call-overload]
        elif kind == "sync":
            _sync(sim, store)
    except (RpcFailure, AssertionError):
        # the simulator refused the op (name active, not owned, expired...): the chain
        # may still have grown (name_new + 12 blocks); that is part of the example
        pass
    except Exception as exc:  # simulator wallet refusals surface as its own errors
        if type(exc).__module__.startswith("waypost.regtest"):
            return
        raise


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=hs.lists(_action, min_size=1, max_size=5))
def test_incremental_root_equals_from_scratch(
    world: tuple[SimNode, Store, _Replay], actions: list[tuple[object, ...]]
) -> None:
    sim, store, replay = world
    for action in actions:
        _play(sim, store, action)
    _sync(sim, store)
    tip = store.fetch_tip()
    assert tip is not None and tip[1] == BlockHash(sim.chain.active[-1])
    want_root, want_names = replay.root_and_names(sim)
    assert tip[2] == want_root
    got = {r.name: r for r in store.fetch_names(limit=10_000)}
    assert st.state_digest_of(got) == st.state_digest_of(want_names)


def test_fresh_index_of_final_chain_matches(world: tuple[SimNode, Store, _Replay], tmp_path: Path) -> None:
    """After the random walk, a brand-new index of the same node has the same root."""
    sim, store, _ = world
    # a fixed walk too, so this test stands alone (e.g. on another xdist worker)
    for action in [("reg", 7, b"x", "alice"), ("sync",), ("upd", 7, b"y", False), ("sync",), ("reorg", 3, 2), ("sync",)]:
        _play(sim, store, action)
    fresh = open_store(tmp_path / "fresh.db", "regtest")
    _sync(sim, fresh, FollowOptions())
    assert fresh.fetch_tip() == store.fetch_tip()
    fresh.close()
    # the walk did exercise reorgs and name operations
    assert STATS["disconnected"] > 0 and STATS["name_ops"] > 0, STATS
