"""ZMQ feed: decoding the recorded namecoind notifications, gap detection, and a real PUB/SUB on 127.0.0.1."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from tests.vectors import REGTEST, load_json
from waypost.indexer.zmq_feed import (
    SequenceLabel,
    ZmqFeed,
    ZmqMessage,
    decode_frames,
    decode_hash_body,
    decode_sequence,
)
from waypost.registry.errors import ErrorCode, UpstreamError


def _notifications() -> list[dict[str, Any]]:
    path = REGTEST / "zmq" / "notifications.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _frames(note: dict[str, Any], seq: int | None = None) -> list[bytes]:
    counter = note["zmq_seq"] if seq is None else seq
    return [note["topic"].encode(), bytes.fromhex(note["body_hex"]), struct.pack("<I", counter)]


def test_recorded_notifications_decode_without_gaps() -> None:
    notes = _notifications()
    assert len(notes) == 1135
    last: dict[str, int] = {}
    for note in notes:
        message = decode_frames(_frames(note), previous_seq=last.get(note["topic"]))
        assert (message.topic, message.seq) == (note["topic"], note["zmq_seq"])
        assert message.body == bytes.fromhex(note["body_hex"])
        assert not message.gap, note["index"]
        last[message.topic] = message.seq


def test_sequence_bodies_match_the_recording() -> None:
    index = list(load_json(REGTEST / "blocks" / "index.json"))
    known_blocks = {e["hash"] for e in index}
    orphans = {e["hash"] for e in index if not e["in_active_chain"]}
    labels: dict[SequenceLabel, int] = {}
    disconnected = set()
    for note in (n for n in _notifications() if n["topic"] == "sequence"):
        event = decode_sequence(bytes.fromhex(note["body_hex"]))
        assert event.item_hash.hex() == note["sequence_hash"]  # wire order
        assert event.label.value == note["sequence_label"]
        assert event.mempool_sequence == note.get("mempool_sequence")
        labels[event.label] = labels.get(event.label, 0) + 1
        if event.block_hash is not None:
            display = event.block_hash[::-1].hex()
            assert display in known_blocks
            assert event.txid is None
            if event.label is SequenceLabel.BLOCK_DISCONNECTED:
                disconnected.add(display)
        else:
            assert event.txid is not None
    assert labels == {
        SequenceLabel.BLOCK_CONNECTED: 165,
        SequenceLabel.TX_ADDED: 58,
        SequenceLabel.BLOCK_DISCONNECTED: 3,
        SequenceLabel.TX_REMOVED: 3,
    }
    assert disconnected == orphans  # invalidateblock disconnected branch A


def test_hashblock_bodies_are_display_order() -> None:
    for note in (n for n in _notifications() if n["topic"] == "hashblock"):
        assert decode_hash_body(bytes.fromhex(note["body_hex"])) == bytes.fromhex(note["hash"])[::-1]


def test_counter_gaps_and_wraparound() -> None:
    note = next(n for n in _notifications() if n["topic"] == "hashblock")
    assert decode_frames(_frames(note, 5), previous_seq=4).gap is False
    assert decode_frames(_frames(note, 7), previous_seq=4).gap is True
    assert decode_frames(_frames(note, 4), previous_seq=4).gap is True  # repeated counter
    assert decode_frames(_frames(note, 0), previous_seq=0xFFFF_FFFF).gap is False
    assert decode_frames(_frames(note, 3), previous_seq=None).gap is False


@pytest.mark.parametrize(
    "frames",
    [
        [b"hashblock", b"\x00" * 32],
        [b"hashblock", b"\x00" * 32, b"\x01\x00\x00\x00", b"extra"],
        [b"hashblock", b"\x00" * 32, b"\x01\x00\x00"],
        [b"\xff\xfe", b"\x00" * 32, b"\x01\x00\x00\x00"],
    ],
    ids=["two-frames", "four-frames", "short-counter", "non-ascii-topic"],
)
def test_malformed_frames(frames: list[bytes]) -> None:
    with pytest.raises(UpstreamError) as err:
        decode_frames(frames)
    assert err.value.code is ErrorCode.ZMQ_BAD_MESSAGE


@pytest.mark.parametrize(
    "body",
    [b"\x00" * 32, b"\x00" * 32 + b"X", b"\x00" * 32 + b"C" + b"\x00" * 8, b"\x00" * 32 + b"A", b"\x00" * 32 + b"R\x00"],
    ids=["no-label", "unknown-label", "connect-with-sequence", "add-without-sequence", "remove-short"],
)
def test_malformed_sequence_bodies(body: bytes) -> None:
    with pytest.raises(UpstreamError) as err:
        decode_sequence(body)
    assert err.value.code is ErrorCode.ZMQ_BAD_MESSAGE


def test_malformed_hash_body() -> None:
    with pytest.raises(UpstreamError) as err:
        decode_hash_body(b"\x00" * 31)
    assert err.value.code is ErrorCode.ZMQ_BAD_MESSAGE


# ------------------------------------------------------------------ real PUB/SUB on loopback


@pytest.fixture
def publisher() -> Iterator[tuple[zmq.Context[zmq.Socket[bytes]], zmq.Socket[bytes], str]]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        yield ctx, pub, f"tcp://127.0.0.1:{port}"
    finally:
        pub.close()
        ctx.term()


def _join(pub: zmq.Socket[bytes], feed: ZmqFeed) -> None:
    """Beat the PUB/SUB slow-joiner: publish a probe until the subscriber sees one (bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pub.send_multipart([b"probe", b"", b"\x00\x00\x00\x00"])
        message = feed.poll(0.05)
        if message is not None and message.topic == "probe":
            return
    pytest.fail("subscriber never joined")


def test_pub_sub_delivers_recorded_frames_in_order(
    publisher: tuple[zmq.Context[zmq.Socket[bytes]], zmq.Socket[bytes], str],
) -> None:
    ctx, pub, url = publisher
    wanted = [n for n in _notifications() if n["topic"] in ("hashblock", "sequence")][:120]
    with ZmqFeed(url, topics=("hashblock", "sequence", "probe"), context=ctx) as feed:
        _join(pub, feed)
        pub.send_multipart([b"rawtx", b"\x00", b"\x00\x00\x00\x00"])  # not subscribed: never seen
        pub.send_multipart([b"hashblockx", b"\x00", b"\x00\x00\x00\x00"])  # prefix match: dropped
        for note in wanted:
            pub.send_multipart(_frames(note))
        # one hashblock message lost: the counter skips
        last_hashblock = max(n["zmq_seq"] for n in wanted if n["topic"] == "hashblock")
        pub.send_multipart([b"hashblock", b"\x11" * 32, struct.pack("<I", last_hashblock + 2)])
        received: list[ZmqMessage] = []
        while len(received) < len(wanted) + 1:
            message = feed.poll(5.0)
            assert message is not None, f"stalled after {len(received)} messages"
            if message.topic != "probe":  # a late duplicate probe
                received.append(message)
    assert [(m.topic, m.seq, m.body) for m in received[:-1]] == [
        (n["topic"], n["zmq_seq"], bytes.fromhex(n["body_hex"])) for n in wanted
    ]
    assert not any(m.gap for m in received[:-1])
    assert received[-1].gap is True
    assert received[-1].seq == last_hashblock + 2


def test_poll_times_out_with_none(
    publisher: tuple[zmq.Context[zmq.Socket[bytes]], zmq.Socket[bytes], str],
) -> None:
    ctx, _pub, url = publisher
    with ZmqFeed(url, context=ctx) as feed:
        started = time.monotonic()
        assert feed.poll(0.05) is None
        assert time.monotonic() - started < 2.0


def test_bad_endpoint_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError) as err:
        ZmqFeed("not-a-transport://x")
    assert err.value.code is ErrorCode.RPC_CONNECT
