"""Shell: namecoind ZMQ notifications over a pyzmq SUB socket; frames become frozen values.

A hint only, never the source of truth: ZMQ drops messages (high-water mark, reconnects), so the
follower still compares tips over RPC; ``gap`` says a message of that topic was lost.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import zmq

from waypost.registry.errors import ErrorCode, UpstreamError
from waypost.registry.model import BlockHash, Txid

__all__ = [
    "ZmqMessage",
    "SequenceLabel",
    "SequenceEvent",
    "ZmqFeed",
    "decode_frames",
    "decode_sequence",
    "decode_hash_body",
]

# bitcoin-core zmqpublishnotifier.cpp: every message is [topic, body, uint32 LE counter],
# the counter counting per topic (wrapping at 2**32).
_COUNTER_MASK: Final = 0xFFFF_FFFF
_HASH_LEN: Final = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class ZmqMessage:
    """One notification: ``gap`` is True when the topic's counter skipped (messages lost)."""

    topic: str
    body: bytes
    seq: int
    gap: bool = False


class SequenceLabel(StrEnum):
    """The label byte of a ``sequence`` notification (bitcoin-core doc/zmq.md)."""

    BLOCK_CONNECTED = "C"
    BLOCK_DISCONNECTED = "D"
    TX_ADDED = "A"  # to the mempool
    TX_REMOVED = "R"  # from the mempool, for a reason other than being mined


@dataclass(frozen=True, slots=True, kw_only=True)
class SequenceEvent:
    """A decoded ``sequence`` body; ``item_hash`` is a block hash (C/D) or txid (A/R), wire order."""

    item_hash: bytes
    label: SequenceLabel
    mempool_sequence: int | None  # present for A and R only

    @property
    def block_hash(self) -> BlockHash | None:
        """The block hash of a connect/disconnect event, else None."""
        if self.label in (SequenceLabel.BLOCK_CONNECTED, SequenceLabel.BLOCK_DISCONNECTED):
            return BlockHash(self.item_hash)
        return None

    @property
    def txid(self) -> Txid | None:
        """The txid of a mempool add/remove event, else None."""
        if self.label in (SequenceLabel.TX_ADDED, SequenceLabel.TX_REMOVED):
            return Txid(self.item_hash)
        return None


def _bad(what: str, **fields: object) -> UpstreamError:
    return UpstreamError(ErrorCode.ZMQ_BAD_MESSAGE, what, **fields)


def decode_frames(frames: Sequence[bytes], *, previous_seq: int | None = None) -> ZmqMessage:
    """Turn the three frames of a namecoind notification into a ``ZmqMessage``.

    Args:
        frames: ``[topic, body, 4-byte little-endian counter]``.
        previous_seq: the last counter seen on this topic (None: first message, no gap).

    Returns:
        The message, with ``gap`` set when ``seq`` is not ``previous_seq + 1`` (mod 2**32).

    Raises:
        UpstreamError: ``zmq.bad-message`` for a wrong frame count, topic or counter width.
    """
    if len(frames) != 3:
        raise _bad(f"expected 3 frames, got {len(frames)}", frames=len(frames))
    topic_raw, body, counter = frames
    try:
        topic = bytes(topic_raw).decode("ascii")
    except UnicodeDecodeError as exc:
        raise _bad("topic is not ASCII") from exc
    if len(counter) != 4:
        raise _bad(f"counter frame has {len(counter)} bytes, expected 4", topic=topic)
    (seq,) = struct.unpack("<I", counter)
    gap = previous_seq is not None and seq != (previous_seq + 1) & _COUNTER_MASK
    return ZmqMessage(topic=topic, body=bytes(body), seq=seq, gap=gap)


def decode_hash_body(body: bytes) -> bytes:
    """The body of ``hashblock``/``hashtx``: 32 bytes in display order, returned in wire order.

    Raises:
        UpstreamError: ``zmq.bad-message`` when the body is not 32 bytes.
    """
    if len(body) != _HASH_LEN:
        raise _bad(f"hash body has {len(body)} bytes, expected 32")
    return bytes(body[::-1])


def decode_sequence(body: bytes) -> SequenceEvent:
    """Decode a ``sequence`` body: 32-byte hash (display order), label, optional uint64 LE.

    bitcoin-core zmqpublishnotifier.cpp ``SendSequenceMsg``: C/D carry 33 bytes, A/R 41 (the
    mempool sequence follows the label).

    Raises:
        UpstreamError: ``zmq.bad-message`` for a wrong length or unknown label.
    """
    if len(body) < _HASH_LEN + 1:
        raise _bad(f"sequence body has {len(body)} bytes", length=len(body))
    try:
        label = SequenceLabel(chr(body[_HASH_LEN]))
    except ValueError as exc:
        raise _bad(f"unknown sequence label {body[_HASH_LEN]:#04x}") from exc
    has_mempool_seq = label in (SequenceLabel.TX_ADDED, SequenceLabel.TX_REMOVED)
    expected = _HASH_LEN + 1 + (8 if has_mempool_seq else 0)
    if len(body) != expected:
        raise _bad(f"sequence {label.value} body has {len(body)} bytes, expected {expected}", length=len(body))
    mempool_sequence = struct.unpack_from("<Q", body, _HASH_LEN + 1)[0] if has_mempool_seq else None
    return SequenceEvent(item_hash=bytes(body[_HASH_LEN - 1 :: -1]), label=label, mempool_sequence=mempool_sequence)


class ZmqFeed:
    """Subscribe to namecoind's ZMQ publisher (``-zmqpubhashblock=tcp://...`` etc.).

    Not thread-safe (a ZMQ socket belongs to one thread): poll from the follower thread only.

    Args:
        url: the publisher endpoint, e.g. ``tcp://127.0.0.1:28332``.
        topics: topics to receive (exact names; others sharing the prefix are dropped).
        context: a pyzmq context (default: the process-wide instance).

    Raises:
        UpstreamError: ``rpc.connect`` when the endpoint is malformed.
    """

    def __init__(
        self,
        url: str,
        topics: Sequence[str] = ("hashblock", "sequence"),
        *,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self._topics = frozenset(topics)
        self._last_seq: dict[str, int] = {}
        ctx = context if context is not None else zmq.Context.instance()
        self._socket: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
        # bitcoin-core doc/zmq.md: keep long-lived subscriptions alive through NAT/firewalls,
        # and do not drop messages at the subscriber (the publisher has its own -zmqpub*hwm).
        self._socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
        self._socket.setsockopt(zmq.RCVHWM, 0)
        self._socket.setsockopt(zmq.LINGER, 0)
        for topic in self._topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
        try:
            self._socket.connect(url)
        except zmq.ZMQError as exc:
            self._socket.close()
            raise UpstreamError(ErrorCode.RPC_CONNECT, f"bad ZMQ endpoint {url!r}: {exc}", url=url) from exc

    def poll(self, timeout_s: float) -> ZmqMessage | None:
        """Wait up to ``timeout_s`` for the next message of a subscribed topic.

        Returns:
            The message, or None when the deadline passed.

        Raises:
            UpstreamError: ``zmq.bad-message`` for malformed frames.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not self._socket.poll(remaining_ms, zmq.POLLIN):
                return None
            frames = self._socket.recv_multipart(zmq.NOBLOCK)
            topic = bytes(frames[0]).decode("ascii", "replace") if frames else ""
            if topic not in self._topics:
                continue  # prefix match of another topic (e.g. "hashblock" vs "hashblockx")
            message = decode_frames(frames, previous_seq=self._last_seq.get(topic))
            self._last_seq[topic] = message.seq
            return message

    def close(self) -> None:
        """Close the socket."""
        self._socket.close(linger=0)

    def __enter__(self) -> ZmqFeed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
