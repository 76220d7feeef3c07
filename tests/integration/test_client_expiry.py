"""Adversarial review (issue 6): an expired Namecoin name is not reported as a live identity.

Namecoin forgets a name ``expiration_depth`` blocks (30 on regtest) after its last update;
the log keeps pointing at its last leaf, so the client must judge expiry itself from proven
data: the leaf's (SPV-checked) height against the signed checkpoint's Namecoin tip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.replaynode import wait_indexed
from waypost.client.lookup import Client
from waypost.client.state import ClientState
from waypost.demo import DemoWorld, _key, signed_value, start_world
from waypost.indexer.params import Network, name_expiration_depth
from waypost.tlog import note as note_mod


def _samples(node: object) -> None:
    node.register_name(b"id/olga", signed_value("olga@id.bit", _key(40), _key(41), endpoints={"email": "olga@example.org"}))  # type: ignore[attr-defined]


def _wait_tip(world: DemoWorld, height: int) -> None:
    wait_indexed(world.db, height)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    demo = start_world(tmp_path_factory.mktemp("expiry"), port=0, zmq=False, samples=_samples)
    try:
        yield demo
    finally:
        demo.close()


def test_expired_name_is_not_live(world: DemoWorld, tmp_path_factory: pytest.TempPathFactory) -> None:
    vkey = note_mod.parse_vkey(world.log_vkey)
    state = tmp_path_factory.mktemp("st") / "state.json"
    live = Client([world.url], state=ClientState.load(state), log_verifiers=[vkey], network="regtest").resolve("olga@id.bit")
    assert live.present and live.profile is not None and not live.expired and live.height is not None
    node = world.node
    node.generate(name_expiration_depth(Network.REGTEST, 0) + 1)  # type: ignore[attr-defined]
    # another name's registration grows the log, so a checkpoint is signed at the new tip
    node.register_name(b"id/pete", signed_value("pete@id.bit", _key(42), _key(43)))  # type: ignore[attr-defined]
    _wait_tip(world, node.chain.height)  # type: ignore[attr-defined]
    # a fresh client (no pins): the name's last operation is proven, but it expired
    r = Client([world.url], state=ClientState.in_memory(), log_verifiers=[vkey], network="regtest").resolve("olga@id.bit")
    assert r.expired and r.height == live.height
    # shown as expired, never as a live identity
    from waypost.client.cli import _print_human, resolution_json

    assert resolution_json(r)["expired"] is True and resolution_json(live)["expired"] is False
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        _print_human(r)
    assert "status:    EXPIRED" in buf.getvalue()
