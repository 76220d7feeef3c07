"""ZMQ publishers of the simulator with namecoind's framing (shell: one PUB socket).

Every message is ``[topic, body, counter]`` with a 4-byte little-endian per-topic counter.
Hashes are in display order. ``sequence`` bodies are ``hash + label`` (C/D) or
``hash + label + 8-byte LE mempool sequence`` (A/R). Block connect order, as recorded:
hashtx/rawtx for each tx, sequence C, hashblock, rawblock; disconnect: hashtx/rawtx for each
tx, sequence D.
"""

from __future__ import annotations

import struct
import threading

import zmq

from waypost.indexer.wire import Block, Tx, encode_tx
from waypost.regtest.chain import SimChain

__all__ = ["ZmqPublisher", "TOPICS"]

TOPICS = ("hashblock", "hashtx", "rawblock", "rawtx", "sequence")


class ZmqPublisher:
    """Publishes chain events on ``tcp://127.0.0.1:<port>`` (port 0: ephemeral).

    Args:
        chain: the chain whose hooks it installs.
        port: TCP port.
    """

    def __init__(self, chain: SimChain, *, port: int) -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
        self._sock = ctx.socket(zmq.PUB)
        self._sock.setsockopt(zmq.SNDHWM, 1000)
        self._sock.setsockopt(zmq.LINGER, 0)
        if port == 0:
            self.port = self._sock.bind_to_random_port("tcp://127.0.0.1")
        else:
            self._sock.bind(f"tcp://127.0.0.1:{port}")
            self.port = port
        self._counters = dict.fromkeys(TOPICS, 0)
        self._lock = threading.Lock()
        chain.on_block_connected.append(self._connected)
        chain.on_block_disconnected.append(self._disconnected)
        chain.on_tx_added.append(self._tx_added)
        chain.on_tx_removed.append(self._tx_removed)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _send(self, topic: str, body: bytes) -> None:
        with self._lock:
            n = self._counters[topic]
            self._counters[topic] = (n + 1) & 0xFFFFFFFF
            self._sock.send_multipart([topic.encode(), body, struct.pack("<I", n)])

    def _tx(self, tx: Tx, raw: bytes | None = None) -> None:
        self._send("hashtx", tx.txid[::-1])
        self._send("rawtx", raw if raw is not None else encode_tx(tx))

    def _connected(self, block: Block, raw: bytes) -> None:
        for tx in block.txs:
            self._tx(tx)
        self._send("sequence", block.hash[::-1] + b"C")
        self._send("hashblock", block.hash[::-1])
        self._send("rawblock", raw)

    def _disconnected(self, block: Block, raw: bytes) -> None:
        # bitcoin zmq BlockDisconnected: a normal notify for each tx, then sequence D
        for tx in block.txs:
            self._tx(tx)
        self._send("sequence", block.hash[::-1] + b"D")

    def _tx_added(self, tx: Tx, raw: bytes, mempool_seq: int) -> None:
        self._tx(tx, raw)
        self._send("sequence", tx.txid[::-1] + b"A" + struct.pack("<Q", mempool_seq))

    def _tx_removed(self, tx: Tx, mempool_seq: int) -> None:
        self._send("sequence", tx.txid[::-1] + b"R" + struct.pack("<Q", mempool_seq))

    def close(self) -> None:
        self._sock.close(0)
