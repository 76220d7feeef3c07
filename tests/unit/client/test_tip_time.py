"""Adversarial review (issue 6): ``--max-age`` freshness from the checkpoint's tip header needs real work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from waypost.client.lookup import Client
from waypost.client.state import ClientState
from waypost.indexer import wire
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.registry.model import BlockHash
from waypost.tlog import note as note_mod

LOG = note_mod.signer_from_seed("log.example/w", b"\x07" * 32)
NOW = 1_800_000_000


class _Resp:
    def __init__(self, body: bytes) -> None:
        self.status_code, self.headers, self._body = 200, {"Content-Type": "application/json"}, body

    def __enter__(self) -> _Resp:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        yield self._body


class _Session:
    def __init__(self, header: bytes) -> None:
        self.header = header

    def get(self, url: str, **kw: object) -> _Resp:
        assert url.endswith("/v1/headers")
        return _Resp(json.dumps({"headers": [{"header": self.header.hex()}]}).encode())


def _mined(bits: int) -> wire.BlockHeader:
    h = wire.BlockHeader(version=1, prev_hash=BlockHash(b"\x00" * 32), merkle_root=b"\x11" * 32, time_s=NOW,
                         bits=bits, nonce=0)
    target = wire.bits_to_target(bits)
    while int.from_bytes(h.hash, "little") > target:
        h = replace(h, nonce=h.nonce + 1)
    return h


def _tip_time(header: wire.BlockHeader, network: str) -> int | None:
    c = note_mod.Checkpoint(origin="log.example/w", size=1, root_hash=b"\x00" * 32, namecoin_height=500_000,
                            namecoin_block_hash=header.hash)
    signed = note_mod.SignedCheckpoint(checkpoint=c, note=note_mod.sign_note(note_mod.encode_checkpoint(c), LOG))
    client = Client(["http://127.0.0.1:1"], state=ClientState.in_memory(), log_verifiers=[LOG.verifier],
                    network=network, session=_Session(wire.encode_header(header)))  # type: ignore[arg-type]
    return client._tip_time("http://127.0.0.1:1", signed)


def test_regtest_tip_header_gives_its_time() -> None:
    assert _tip_time(_mined(0x207FFFFF), "regtest") == NOW


def test_mainnet_tip_header_with_a_trivial_target_is_refused() -> None:
    # a self-made header with regtest difficulty "proves" any time the server likes
    with pytest.raises(WaypostError) as ei:
        _tip_time(_mined(0x207FFFFF), "mainnet")
    assert ei.value.code == ErrorCode.BUNDLE_WEAK_HEADER
