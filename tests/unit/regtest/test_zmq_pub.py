"""ZMQ framing: [topic, body, 4-byte LE per-topic counter], sequence labels C/D/A/R."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import zmq

from tests.vectors import REGTEST
from waypost.regtest.node import SimNode


def _recorded_block_pattern() -> list[bytes]:
    """Topics namecoind sent for the first plain block of the recording (S01)."""
    import json

    rows = [json.loads(line) for line in (REGTEST / "zmq" / "notifications.jsonl").read_text().splitlines()]
    first = rows[:5]
    assert first[2]["sequence_label"] == "C"
    return [r["topic"].encode() for r in first]


def _recv_all(sock: zmq.Socket[bytes], want: int, deadline_s: float = 10.0) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    end = time.monotonic() + deadline_s
    while len(out) < want and time.monotonic() < end:
        if sock.poll(100):
            out.append(sock.recv_multipart())
    return out


def test_block_and_mempool_notifications(tmp_path: Path) -> None:
    with SimNode.start(tmp_path / "n", zmq_port=0) as node:
        assert node.zmq_url is not None
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(node.zmq_url)
        # slow joiner: publish until the subscriber sees something, with a deadline
        end = time.monotonic() + 10
        while not sub.poll(50) and time.monotonic() < end:
            node.generate(1)
        while sub.poll(200):
            sub.recv_multipart()
        node.generate(1)
        msgs = _recv_all(sub, 5)
        topics = [m[0] for m in msgs]
        assert topics == _recorded_block_pattern() == [b"hashtx", b"rawtx", b"sequence", b"hashblock", b"rawblock"]
        tip = node.chain.active[-1]
        assert msgs[3][1] == tip[::-1]
        assert msgs[2][1] == tip[::-1] + b"C"
        assert msgs[4][1] == node.chain.blocks[tip].raw
        assert all(len(m) == 3 and len(m[2]) == 4 for m in msgs)
        # per-topic counters count up by one, without gaps
        node.generate(100)
        more = _recv_all(sub, 500)
        last: dict[bytes, int] = {m[0]: struct.unpack("<I", m[2])[0] for m in msgs}
        for m in more:
            n = struct.unpack("<I", m[2])[0]
            assert n == last[m[0]] + 1, m[0]
            last[m[0]] = n
        # mempool add (A with the 8-byte mempool sequence), then disconnect (D)
        txid_hex = node.call("sendtoaddress", node.address("bob"), 1, wallet="alice")
        msgs = _recv_all(sub, 3)
        assert [m[0] for m in msgs] == [b"hashtx", b"rawtx", b"sequence"]
        body = msgs[2][1]
        assert body[:32].hex() == txid_hex and body[32:33] == b"A" and len(body) == 41
        tip = node.chain.active[-1]
        node.chain.invalidate(tip)
        msgs = _recv_all(sub, 3)  # the tip's coinbase (hashtx, rawtx), then D
        assert [m[0] for m in msgs] == [b"hashtx", b"rawtx", b"sequence"]
        assert msgs[2][1] == tip[::-1] + b"D"
        sub.close(0)
