"""``waypost resolve`` and ``waypost verify-message`` against the demo world: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from waypost.cli import main
from waypost.client.core import key_fingerprint
from waypost.client.lookup import Client
from waypost.client.state import ClientState
from waypost.client.verify_cli import fetch_timeline, proven_timeline
from waypost.demo import CHAIN_ADDRESS, DemoWorld, _key, carol_message, start_world
from waypost.indexer.names import NameOpKind
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.registry.keys import sign_message
from waypost.tlog import note as note_mod


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    w = start_world(tmp_path_factory.mktemp("cli"), port=0, zmq=False)
    try:
        yield w
    finally:
        w.close()


def resolve(world: DemoWorld, tmp_path: Path, *extra: str, key: str | None = None, server: str | None = None) -> list[str]:
    return ["resolve", *extra, "--server", server or world.url, "--network", "regtest",
            "--log-key", key or world.log_vkey, "--state", str(tmp_path / "state.json")]


def test_resolve_prints_a_verified_summary(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(resolve(world, tmp_path, "alice@id.bit")) == 0
    out = capsys.readouterr().out
    assert "verdict:   accepted" in out and "xmpp" in out and "alice@example.org" in out
    assert "key:       3475 0f98 bd59 fcfc" in out
    assert "verified offline against 1 server" in out and "checkpoint size" in out


def test_resolve_json_and_redirect(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(resolve(world, tmp_path, "bob@id.bit", "--json")) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["verified"] and obj["resolved_address"] == "robert@id.bit"
    assert obj["endpoints"] == {"email": "robert@example.net"} and obj["log"]["size"] >= 1


def test_resolve_absent_address_is_verified_absence(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(resolve(world, tmp_path, "nobody@id.bit")) == 0
    assert "not registered" in capsys.readouterr().out


def test_exit_codes_and_one_line_errors(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = note_mod.encode_vkey(note_mod.signer_from_seed("waypost.localhost/regtest", bytes([9]) * 32).verifier)
    assert main(resolve(world, tmp_path, "alice@id.bit", key=other)) == 1
    err = capsys.readouterr().err
    assert "verification failed [note.unknown-key]" in err and "Traceback" not in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert main(resolve(world, tmp_path, "alice@id.bit", server=dead)) == 2
    assert "[client.http]" in capsys.readouterr().err
    assert main(resolve(world, tmp_path, "not an address")) == 2
    (tmp_path / "state.json").write_text("{broken")
    assert main(resolve(world, tmp_path, "alice@id.bit")) == 2
    err = capsys.readouterr().err
    assert "[client.state-corrupt]" in err and str(tmp_path / "state.json") in err


def test_verify_message_checks_the_key_at_that_time(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    client = Client([world.url], state=ClientState.in_memory(), log_verifiers=[note_mod.parse_vkey(world.log_vkey)],
                    network="regtest")
    res = client.resolve("carol@id.bit")
    assert res.value is not None
    timeline = fetch_timeline(client, "carol@id.bit", res.value, res.height)
    assert len(timeline) == 2 and timeline[0].to_height == timeline[1].from_height
    old_span = timeline[0]
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"meet me at noon")

    def verify(sk_n: int, *extra: str) -> int:
        sig = sign_message(_key(sk_n), msg.read_bytes()).hex()
        return main(["verify-message", "--address", "carol@id.bit", "--signature", sig, str(msg), "--server", world.url,
                     "--network", "regtest", "--log-key", world.log_vkey, "--state", str(tmp_path / "s.json"), *extra])

    assert verify(9) == 0  # the current (rotated-to) key, at the tip
    assert "VALID" in capsys.readouterr().out
    assert verify(8, "--at", str(old_span.from_height)) == 0  # the old key while it was in force
    capsys.readouterr()
    assert verify(8) == 1  # the old key after the rotation: a forged reply
    assert "[key.not-at-time]" in capsys.readouterr().err
    assert verify(99) == 1  # never the address's key
    assert "[key.bad-signature]" in capsys.readouterr().err
    assert main(["verify-message", "--address", "carol@id.bit", "--signature", "zz", str(msg), "--server", world.url,
                 "--log-key", world.log_vkey, "--state", str(tmp_path / "s.json")]) == 2


def test_resolve_private_chain_identity(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(resolve(world, tmp_path, CHAIN_ADDRESS)) == 0
    out = capsys.readouterr().out
    assert f"address:   {CHAIN_ADDRESS}" in out and "verdict:   accepted" in out
    assert "@dave:example.net" in out and "dave@example.net" in out
    assert f"key:       {key_fingerprint(bytes(_key(12).verify_key))}" in out  # the rotated-to key
    assert "chain:     private chain, 3 entries verified from the address key" in out and "namecoin:" not in out
    assert main(resolve(world, tmp_path, CHAIN_ADDRESS, "--json")) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["chain_seq"] == 2 and obj["height"] is None and obj["verified"]


def test_trust_on_first_use_without_log_key(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["resolve", "alice@id.bit", "--server", world.url, "--network", "regtest", "--state", str(tmp_path / "s.json")]
    assert main(argv) == 0
    assert "verified offline" in capsys.readouterr().out
    pinned = ClientState.load(tmp_path / "s.json").log_keys(world.url)
    assert [note_mod.encode_vkey(k) for k in pinned] == [world.log_vkey]
    # a second run verifies with the pinned key (a changed key is refused: test_lying_server)
    assert main(argv) == 0
    assert "verified offline" in capsys.readouterr().out


def test_verify_message_as_the_demo_prints_it(world: DemoWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    msg = carol_message(world)
    base = ["verify-message", "--address", "carol@id.bit", "--signature", msg.signature_hex, str(msg.path),
            "--server", world.url, "--network", "regtest", "--state", str(tmp_path / "s.json")]
    assert msg.old_key_height < msg.rotated_height
    assert main([*base, "--at", str(msg.old_key_height)]) == 0
    assert "VALID" in capsys.readouterr().out
    assert main([*base, "--at", str(msg.rotated_height)]) == 1
    assert "[key.not-at-time]" in capsys.readouterr().err
    assert main(base) == 1  # at the verified tip
    assert "[key.not-at-time]" in capsys.readouterr().err


class _TamperingSession(requests.Session):
    """Forwards to the real server and rewrites the operations answer (a lying server)."""

    def __init__(self, edit: Callable[[list[object]], list[object]]) -> None:
        super().__init__()
        self.edit = edit

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        resp = super().get(url, **kwargs)
        if str(url).endswith("/operations"):
            obj = json.loads(resp.content)
            obj["operations"] = self.edit(obj["operations"])
            obj["total"] = len(obj["operations"])
            resp._content = json.dumps(obj).encode()
        return resp


def _client(world: DemoWorld, session: requests.Session | None = None) -> Client:
    return Client([world.url], state=ClientState.in_memory(), log_verifiers=[note_mod.parse_vkey(world.log_vkey)],
                  network="regtest", session=session)


def test_operation_chain_proves_carols_key_timeline(world: DemoWorld) -> None:
    client = _client(world)
    ops = client.operations("carol@id.bit")
    assert ops[0].kind is NameOpKind.FIRSTUPDATE and all(o.kind is NameOpKind.UPDATE for o in ops[1:])
    res = client.resolve("carol@id.bit")
    assert ops[-1].value == res.value and ops[-1].height == res.height
    proven = proven_timeline(client, "carol@id.bit")
    # the rotation is in the proven history, and agrees with the server's (unproven) history
    assert len(proven) == 2 and proven == fetch_timeline(client, "carol@id.bit", ops[-1].value, res.height)
    msg = carol_message(world)
    assert proven[0].from_height <= msg.old_key_height < proven[0].to_height <= msg.rotated_height  # type: ignore[operator]


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda ops: ops[1:], ErrorCode.OPCHAIN_NO_REGISTRATION),  # registration hidden
        (lambda ops: ops[:-1], ErrorCode.OPCHAIN_NOT_LATEST),  # the newest operation (the rotation) hidden
        (lambda ops: ops[::-1], ErrorCode.OPCHAIN_ORDER),
        (lambda ops: [], ErrorCode.OPCHAIN_EMPTY),
    ],
)
def test_lying_operations_answer_is_rejected(world: DemoWorld, edit: Callable[[list[object]], list[object]],
                                             code: ErrorCode) -> None:
    client = _client(world, _TamperingSession(edit))
    with pytest.raises(WaypostError) as ei:
        client.operations("carol@id.bit")
    assert ei.value.code == code


def test_operations_of_an_unregistered_address(world: DemoWorld) -> None:
    with pytest.raises(WaypostError) as ei:
        _client(world).operations("nobody@id.bit")
    assert ei.value.code == ErrorCode.NOT_FOUND
