"""Sync the client's header chain from ``GET /v1/headers`` and keep it in the state dir (shell).

Incremental: later runs fetch only what is above the stored tip. A reorg (the server's next
header no longer links to the stored tip) walks back at most ``REORG_DEPTH`` blocks.
"""

from __future__ import annotations

from pathlib import Path

import requests

from waypost.client import headers as hc
from waypost.client.http import fetch_json, server_url
from waypost.client.state import _atomic_write
from waypost.indexer import wire
from waypost.indexer.params import Network
from waypost.registry.errors import ErrorCode, ParseError, StoreError, UpstreamError, VerificationError
from waypost.registry.model import BlockHash

__all__ = ["REORG_DEPTH", "PAGE", "chain_path", "load_chain", "save_chain", "fetch_headers", "start_chain", "walk_back", "sync"]

REORG_DEPTH = 100  # deepest reorg followed without an error
PAGE = 2000  # the server's /v1/headers cap (resolve.store.MAX_HEADERS)


def chain_path(state_path: Path, network: Network) -> Path:
    """``<state file>.headers-<network>`` next to the state file."""
    return state_path.with_name(f"{state_path.name}.headers-{Network(network).value}")


def load_chain(path: Path) -> hc.HeaderChain | None:
    """The stored chain, None when there is none.

    Raises:
        StoreError: ``CLIENT_STATE_CORRUPT`` / ``STORE_IO``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot read {path}: {exc.strerror}") from exc
    try:
        return hc.decode_chain(data)
    except ParseError as exc:
        raise StoreError(ErrorCode.CLIENT_STATE_CORRUPT, f"{path}: {exc.message} (delete it to sync again)",
                         path=str(path)) from exc


def save_chain(path: Path, chain: hc.HeaderChain) -> None:
    """Write the chain atomically."""
    try:
        _atomic_write(path, hc.encode_chain(chain))
    except OSError as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot write {path}: {exc.strerror}") from exc


def fetch_headers(session: requests.Session, server: str, start: int, count: int) -> list[bytes]:
    """Raw full headers ``start ..`` (at most ``count``; fewer at the server's tip).

    Raises:
        UpstreamError: ``CLIENT_HTTP`` / ``CLIENT_BAD_ANSWER``.
    """
    _, obj = fetch_json(session, server_url(server, "/v1/headers"), params={"start": str(start), "count": str(count)})
    try:
        rows = obj["headers"]  # type: ignore[index]
        out = []
        for i, row in enumerate(rows):
            if int(row["height"]) != start + i:
                raise ValueError("heights are not consecutive")
            out.append(bytes.fromhex(str(row["header"])))
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"malformed headers answer: {exc}", server=server) from exc
    return out[:count]


def _hash_of(raw: bytes) -> BlockHash:
    try:
        return wire.parse_header(raw)[0].hash
    except ParseError as exc:
        raise VerificationError(ErrorCode.CLIENT_HEADER_LINK, f"unparsable header: {exc.message}") from exc


def _prev_of(raw: bytes) -> BlockHash:
    try:
        return wire.parse_header(raw)[0].prev_hash
    except ParseError as exc:
        raise VerificationError(ErrorCode.CLIENT_HEADER_LINK, f"unparsable header: {exc.message}") from exc


def walk_back(session: requests.Session, server: str, chain: hc.HeaderChain) -> hc.HeaderChain:
    """Cut the chain back to the last height where the server's header is ours (bounded)."""
    tip = hc.tip_height(chain)
    low = max(chain.start_height, tip - REORG_DEPTH)
    theirs = fetch_headers(session, server, low, tip - low + 1)
    for i in range(len(theirs) - 1, -1, -1):
        if _hash_of(theirs[i]) == hc.hash_at(chain, low + i):
            return hc.truncate(chain, low + i)
    ours = hc.tip_hash(chain)
    raise VerificationError(
        ErrorCode.CLIENT_HEADER_REORG,
        f"{server}'s header chain does not meet ours within {REORG_DEPTH} blocks of our tip {tip}",
        server=server, height=tip, ours=wire.hash_to_hex(ours),
        theirs=wire.hash_to_hex(_hash_of(theirs[-1])) if theirs else None,
    )


def start_chain(session: requests.Session, server: str, network: Network, anchor: tuple[int, BlockHash] | None) -> hc.HeaderChain:
    """A chain at the anchor (genesis by default), its header fetched and checked against the trusted hash."""
    height, block_hash = anchor if anchor is not None else (0, None)
    raws = fetch_headers(session, server, height, 1)
    if not raws:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"{server} has no header at the anchor height {height}", server=server)
    return hc.anchor(network, height, raws[0], block_hash=block_hash)


def sync(session: requests.Session, server: str, chain: hc.HeaderChain, target_height: int) -> hc.HeaderChain:
    """Extend ``chain`` to ``target_height`` from ``server`` (verifying every header).

    Raises:
        VerificationError: ``CLIENT_HEADER_*`` (bad header, reorg deeper than ``REORG_DEPTH``).
        UpstreamError: the server has fewer headers than asked, or answered badly.
    """
    reorgs = 0
    while hc.tip_height(chain) < target_height:
        tip = hc.tip_height(chain)
        raws = fetch_headers(session, server, tip + 1, min(PAGE, target_height - tip))
        if not raws:
            raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"{server} has no header at height {tip + 1}", server=server)
        if _prev_of(raws[0]) != hc.tip_hash(chain):
            reorgs += 1
            if reorgs > 2:
                raise VerificationError(ErrorCode.CLIENT_HEADER_REORG, f"{server}'s headers keep forking", server=server)
            chain = walk_back(session, server, chain)
            continue
        chain = hc.extend(chain, raws)
    return chain
