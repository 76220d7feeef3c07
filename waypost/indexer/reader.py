"""Reader process (shell): fetch blocks beside the indexer, on another core.

``waypost index`` catching up many blocks starts ``python -m waypost.indexer.reader`` and
reads raw blocks from its stdout while it parses, connects and writes SQLite batches
itself, so the JSON-RPC fetching (this process: HTTP, JSON, hex) overlaps with the rest.
Parsing stays in the indexer: measured, a reader that also parsed was GIL-bound and the
pipeline slower (bench/index.py).

Protocol: the parent writes one JSON job line on stdin (the RPC settings, which never
appear on the command line, the height range, the fetch tuning) and keeps
stdin open; EOF on stdin (the parent ended or died) ends this process. Frames on stdout
are a 4-byte little-endian length and a ``marshal`` payload: ``("blocks", [raw block,
...])`` in height order, then ``("done",)``; on any failure ``("failed",)``, after which
the parent fetches the rest itself and raises the exact error.
"""

from __future__ import annotations

import json
import marshal
import os
import queue
import struct
import sys
import threading
from dataclasses import fields
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from waypost.indexer.rpc import RpcConfig, fetch_blocks_pipelined
from waypost.registry.errors import WaypostError

__all__ = ["job_line", "config_of", "read_frames", "main"]

_LEN = struct.Struct("<I")
# chunks fetched ahead of the indexer (the OS pipe alone buffers only ~64 KB)
_AHEAD_CHUNKS = 64


def job_line(
    config: RpcConfig, start: int, stop: int, *, fetch_batch: int, in_flight: int, chunk: int
) -> bytes:
    """The job the parent writes on the reader's stdin: heights ``start`` to ``stop - 1``."""
    settings = {f.name: getattr(config, f.name) for f in fields(RpcConfig)}
    if config.cookie_path is not None:
        settings["cookie_path"] = str(config.cookie_path)
    job = {
        "config": settings,
        "start": start,
        "stop": stop,
        "fetch_batch": fetch_batch,
        "in_flight": in_flight,
        "chunk": chunk,
    }
    return json.dumps(job).encode() + b"\n"


def read_frames(stream: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    """Decoded frames from the reader's stdout; ends at EOF (a cut frame also ends it).

    Raises:
        ValueError: a frame that is not ``marshal`` data.
    """
    while True:
        head = stream.read(4)
        if len(head) < 4:
            return
        (size,) = _LEN.unpack(head)
        body = stream.read(size)
        if len(body) < size:
            return
        yield marshal.loads(body)


def _exit_on_eof(stream: IO[bytes]) -> None:
    def watch() -> None:
        while stream.read(65536):
            pass
        os._exit(0)  # the indexer closed our stdin or died

    threading.Thread(target=watch, name="reader-stdin", daemon=True).start()


def config_of(job: dict[str, Any]) -> RpcConfig:
    """The ``RpcConfig`` a ``job_line`` carries."""
    settings = dict(job["config"])
    if settings["cookie_path"] is not None:
        settings["cookie_path"] = Path(settings["cookie_path"])
    return RpcConfig(**settings)


def _run(job: dict[str, Any], out: IO[bytes]) -> None:
    config = config_of(job)
    chunk = max(1, int(job["chunk"]))
    outbox: queue.Queue[bytes | None] = queue.Queue(maxsize=_AHEAD_CHUNKS)

    def send(message: tuple[Any, ...]) -> None:
        body = marshal.dumps(message)
        outbox.put(_LEN.pack(len(body)) + body)

    def sender() -> None:
        while (frame := outbox.get()) is not None:
            out.write(frame)
            out.flush()

    thread = threading.Thread(target=sender, name="reader-send", daemon=True)
    thread.start()
    heights = list(range(int(job["start"]), int(job["stop"])))
    raws = fetch_blocks_pipelined(
        config.client, heights, batch_size=int(job["fetch_batch"]), in_flight=int(job["in_flight"])
    )
    try:
        part: list[bytes] = []
        for raw in raws:
            part.append(raw)
            if len(part) >= chunk:
                send(("blocks", part))
                part = []
        if part:
            send(("blocks", part))
        send(("done",))
    except WaypostError:
        send(("failed",))
    finally:
        raws.close()
        outbox.put(None)
        thread.join()


def main() -> int:
    """Entry point of ``python -m waypost.indexer.reader`` (started by the follower)."""
    line = sys.stdin.buffer.readline()
    try:
        job = json.loads(line)
    except ValueError:
        return 2
    _exit_on_eof(sys.stdin.buffer)
    try:
        _run(job, sys.stdout.buffer)
    except (BrokenPipeError, OSError):
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a child process
    sys.exit(main())
