"""The client's verified Namecoin header chain (core layer, pure): anchor, extend, look up, encode.

Each header must link to the previous hash, meet its bits by PoW (or AuxPoW), and carry the
bits the difficulty rule asks for (namecoin-core ``pow.cpp``). Only hashes are kept, plus the
last retarget window's (time, bits), so memory stays small.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from waypost.indexer import wire
from waypost.indexer.params import Network, params_for
from waypost.registry.errors import ErrorCode, ParseError, VerificationError, WaypostError
from waypost.registry.model import BlockHash

__all__ = [
    "HeaderChain",
    "RETARGET_INTERVAL",
    "TARGET_TIMESPAN_S",
    "anchor",
    "parse_anchor",
    "extend",
    "truncate",
    "hash_at",
    "tip_height",
    "tip_hash",
    "next_bits",
    "encode_chain",
    "decode_chain",
]

RETARGET_INTERVAL = 2016  # namecoin-core: nPowTargetTimespan / nPowTargetSpacing = 14 days / 10 min
TARGET_TIMESPAN_S = 14 * 24 * 60 * 60  # namecoin-core: consensus.nPowTargetTimespan
_WINDOW = RETARGET_INTERVAL + 1  # (time, bits) kept: enough for the next retarget's first block
_MAGIC = b"WPHC1\n"
_HEAD = struct.Struct("<12sIII")  # network (padded), start height, hash count, window length
_ENTRY = struct.Struct("<II")


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderChain:
    """A verified header chain from a trusted anchor.

    ``hashes`` concatenates 32-byte block hashes (wire order) of heights ``start_height`` ..
    tip. ``window`` holds ``(time_s, bits)`` of the last (up to 2017) headers, tip last.
    """

    network: Network
    start_height: int
    hashes: bytes
    window: tuple[tuple[int, int], ...]


def tip_height(chain: HeaderChain) -> int:
    """Height of the chain's last header."""
    return chain.start_height + len(chain.hashes) // 32 - 1


def tip_hash(chain: HeaderChain) -> BlockHash:
    """Hash of the chain's last header."""
    return BlockHash(chain.hashes[-32:])


def hash_at(chain: HeaderChain, height: int) -> BlockHash | None:
    """The held header hash at ``height``; None below the anchor or above the tip."""
    i = height - chain.start_height
    if i < 0 or height > tip_height(chain):
        return None
    return BlockHash(chain.hashes[32 * i : 32 * i + 32])


def anchor(network: Network | str, height: int, header_raw: bytes, *, block_hash: BlockHash | None = None) -> HeaderChain:
    """A chain holding only the trusted anchor header.

    Args:
        network: the Namecoin network.
        height: the anchor's height (0 for genesis).
        header_raw: the anchor's header (80 bytes, AuxPoW allowed), e.g. from the server.
        block_hash: the trusted hash; defaults to the network's genesis (``height`` must be 0).

    Raises:
        VerificationError: ``CLIENT_HEADER_ANCHOR`` when the header is not the trusted one.
    """
    net = Network(network)
    if block_hash is None:
        if height != 0:
            raise VerificationError(ErrorCode.CLIENT_HEADER_ANCHOR, "an anchor above genesis needs its hash", height=height)
        block_hash = params_for(net).genesis_hash
    try:
        header, _ = wire.parse_header(header_raw)
    except ParseError as exc:
        raise VerificationError(ErrorCode.CLIENT_HEADER_ANCHOR, f"anchor header: {exc.message}", height=height) from exc
    if header.hash != block_hash:
        raise VerificationError(
            ErrorCode.CLIENT_HEADER_ANCHOR, "anchor header does not hash to the trusted anchor",
            height=height, expected=wire.hash_to_hex(block_hash), got=wire.hash_to_hex(header.hash),
        )
    return HeaderChain(network=net, start_height=height, hashes=bytes(block_hash), window=((header.time_s, header.bits),))


def parse_anchor(text: str) -> tuple[int, BlockHash]:
    """``HEIGHT:HASH`` (display hex) of ``--header-anchor``.

    Raises:
        ParseError: ``BAD_REQUEST`` for another shape.
    """
    height_s, _, hash_hex = text.partition(":")
    try:
        height = int(height_s)
        block_hash = BlockHash(wire.hex_to_hash(hash_hex))
    except (ValueError, WaypostError) as exc:
        raise ParseError(ErrorCode.BAD_REQUEST, "--header-anchor must be HEIGHT:BLOCKHASH (display hex)") from exc
    if height < 0:
        raise ParseError(ErrorCode.BAD_REQUEST, "--header-anchor height must be >= 0")
    return height, block_hash


def next_bits(chain: HeaderChain) -> tuple[int, ...]:
    """The bits allowed for the header after the tip (one value, or several where the rule allows).

    Mainnet: unchanged between retargets; at a retarget (every 2016 blocks) any bits within
    x4 of the previous target (never the PoW limit by itself). Regtest
    (``fPowNoRetargeting``, ``fPowAllowMinDifficultyBlocks``): the PoW limit or the previous bits.
    Testnet (``fPowAllowMinDifficultyBlocks``): additionally the PoW limit at any height.
    An empty tuple means "check the x4 clamp".
    """
    return _allowed_bits(chain.network, tip_height(chain) + 1, chain.window)


def _allowed_bits(network: Network, height: int, window: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    limit_bits = params_for(network).pow_limit_bits
    last_bits = window[-1][1]
    if network == Network.REGTEST:
        return (last_bits, limit_bits)
    allowed: tuple[int, ...]
    if height % RETARGET_INTERVAL:
        allowed = (last_bits,)
        if network == Network.TESTNET:
            # min-difficulty blocks, and back to the last real bits after them (GetNextWorkRequired)
            real = next((b for _, b in reversed(window) if b != limit_bits), last_bits)
            allowed = (last_bits, real, limit_bits)
        return allowed
    # Retargets are checked against the x4 clamp only (namecoin-core CalculateNextWorkRequired
    # bounds): the exact look-back window is not verified against namecoin-core here, and a
    # wrong exact rule would reject the real chain. The clamp still makes forging costly:
    # each x4 step down needs 2016 headers of real work at the previous difficulty.
    return ()


def _check_bits(network: Network, window: Sequence[tuple[int, int]], header: wire.BlockHeader, height: int) -> None:
    allowed = _allowed_bits(network, height, window)
    if allowed:
        if header.bits not in allowed:
            raise VerificationError(
                ErrorCode.CLIENT_HEADER_BITS, "header bits do not follow the difficulty rule",
                height=height, got=f"{header.bits:08x}", expected=" or ".join(f"{b:08x}" for b in allowed),
            )
        return
    # retarget without the window's start time: the x4 clamp only (namecoin-core CalculateNextWorkRequired)
    limit_bits = params_for(network).pow_limit_bits
    last = wire.bits_to_target(window[-1][1])
    target = wire.bits_to_target(header.bits)
    limit = wire.bits_to_target(limit_bits)
    low = wire.bits_to_target(wire.target_to_bits(last * (TARGET_TIMESPAN_S // 4) // TARGET_TIMESPAN_S))
    high = wire.bits_to_target(wire.target_to_bits(min(last * 4, limit)))
    # testnet (fPowAllowMinDifficultyBlocks) may drop to the limit; mainnet never may
    if not low <= target <= high and not (network == Network.TESTNET and header.bits == limit_bits):
        raise VerificationError(
            ErrorCode.CLIENT_HEADER_BITS, "header bits change by more than x4 at a retarget",
            height=height, got=f"{header.bits:08x}",
        )


def _check_work(network: Network, header: wire.BlockHeader, auxpow: wire.AuxPow | None, height: int) -> None:
    params = params_for(network)
    try:
        target = wire.bits_to_target(header.bits)
        if target == 0 or target > wire.bits_to_target(params.pow_limit_bits):
            raise VerificationError(ErrorCode.CLIENT_HEADER_WORK, "header target is outside the PoW limit", height=height)
        # namecoin-core CheckProofOfWork: AuxPoW from nAuxpowStartHeight; legacy v1 blocks before
        strict = params.strict_chain_id and height >= params.legacy_blocks_before
        if auxpow is not None and height < params.auxpow_start_height:
            raise VerificationError(ErrorCode.CLIENT_HEADER_WORK, "AuxPoW before the AuxPoW start height", height=height)
        wire.verify_pow(header, auxpow, chain_id=params.auxpow_chain_id, strict_chain_id=strict)
    except ParseError as exc:
        raise VerificationError(ErrorCode.CLIENT_HEADER_WORK, f"bad header: {exc.message}", height=height) from exc
    except VerificationError as exc:
        if exc.code == ErrorCode.CLIENT_HEADER_WORK:
            raise
        raise VerificationError(ErrorCode.CLIENT_HEADER_WORK, f"header work: {exc.message}", height=height,
                                cause=str(exc.code)) from exc


def extend(chain: HeaderChain, headers_raw: Sequence[bytes]) -> HeaderChain:
    """The chain with ``headers_raw`` (consecutive full headers after the tip) appended, each verified.

    Raises:
        VerificationError: ``CLIENT_HEADER_LINK`` (does not link to the previous hash, or
            unparsable), ``CLIENT_HEADER_WORK`` (PoW/AuxPoW), ``CLIENT_HEADER_BITS`` (difficulty rule).
    """
    if not headers_raw:
        return chain
    parts = [chain.hashes]
    window = list(chain.window)
    prev = tip_hash(chain)
    height = tip_height(chain)
    for raw in headers_raw:
        height += 1
        try:
            header, auxpow = wire.parse_header(raw)
        except ParseError as exc:
            raise VerificationError(ErrorCode.CLIENT_HEADER_LINK, f"unparsable header: {exc.message}", height=height) from exc
        if header.prev_hash != prev:
            raise VerificationError(
                ErrorCode.CLIENT_HEADER_LINK, "header does not link to the previous one", height=height,
                expected=wire.hash_to_hex(prev), got=wire.hash_to_hex(header.prev_hash),
            )
        _check_bits(chain.network, window, header, height)
        _check_work(chain.network, header, auxpow, height)
        prev = header.hash
        parts.append(prev)
        window.append((header.time_s, header.bits))
        if len(window) > 2 * _WINDOW:
            del window[: len(window) - _WINDOW]
    return HeaderChain(network=chain.network, start_height=chain.start_height, hashes=b"".join(parts),
                       window=tuple(window[-_WINDOW:]))


def truncate(chain: HeaderChain, height: int) -> HeaderChain:
    """The chain cut back to tip ``height`` (a reorg); the window shrinks with it.

    Raises:
        VerificationError: ``CLIENT_HEADER_REORG`` below the anchor.
    """
    drop = tip_height(chain) - height
    if height < chain.start_height:
        raise VerificationError(ErrorCode.CLIENT_HEADER_REORG, "cannot walk back below the anchor", height=height)
    if drop <= 0:
        return chain
    window = chain.window[:-drop] if drop < len(chain.window) else ()
    if not window:
        raise VerificationError(ErrorCode.CLIENT_HEADER_REORG, "reorg deeper than the held window", height=height)
    return HeaderChain(network=chain.network, start_height=chain.start_height,
                       hashes=chain.hashes[: 32 * (height - chain.start_height + 1)], window=window)


def encode_chain(chain: HeaderChain) -> bytes:
    """Compact binary form: magic, network, start, counts, window (time, bits), then the hashes."""
    head = _HEAD.pack(chain.network.value.encode("ascii"), chain.start_height, len(chain.hashes) // 32, len(chain.window))
    return _MAGIC + head + b"".join(_ENTRY.pack(t, b) for t, b in chain.window) + chain.hashes


def decode_chain(data: bytes) -> HeaderChain:
    """Inverse of ``encode_chain``.

    Raises:
        ParseError: ``CLIENT_STATE_CORRUPT`` for anything else.
    """
    try:
        if not data.startswith(_MAGIC):
            raise ValueError("bad magic")
        net_b, start, count, wlen = _HEAD.unpack_from(data, len(_MAGIC))
        network = Network(net_b.rstrip(b"\0").decode("ascii"))
        pos = len(_MAGIC) + _HEAD.size
        window = tuple(_ENTRY.unpack_from(data, pos + _ENTRY.size * i) for i in range(wlen))
        pos += _ENTRY.size * wlen
        hashes = data[pos:]
        if len(hashes) != 32 * count or count == 0 or not window:
            raise ValueError("length mismatch")
    except (ValueError, struct.error, UnicodeDecodeError) as exc:
        raise ParseError(ErrorCode.CLIENT_STATE_CORRUPT, f"header chain file is unreadable: {exc}") from exc
    return HeaderChain(network=network, start_height=start, hashes=bytes(hashes),
                       window=tuple((int(t), int(b)) for t, b in window))
