"""c2sp.org/tlog-tiles paths and entry bundles (core layer; no I/O).

A hash tile ``tile/<L>/<N>[.p/<W>]`` holds ``W`` (full: 256) consecutive hashes of tree level
``8 * L`` starting at node ``N * 256``; ``tile/entries/<N>[.p/<W>]`` holds the leaves themselves.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from waypost.registry.errors import ErrorCode, ParseError

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TilePath",
    "encode_tile_index",
    "tile_path",
    "parse_tile_path",
    "encode_entry_bundle",
    "parse_entry_bundle",
]

TILE_HEIGHT = 8  # c2sp.org/tlog-tiles: tiles are 8 levels high
TILE_WIDTH = 256  # ... and 2**8 hashes wide
_MAX_LEVEL = 63
_ENTRY_MAX = 0xFFFF  # uint16 length prefix
_GROUP = re.compile(r"^(?:x[0-9]{3}/)*[0-9]{3}\Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class TilePath:
    """A parsed tile path: ``level`` is None for an entry bundle."""

    level: int | None
    index: int
    width: int


def encode_tile_index(index: int) -> str:
    """Tile index as zero-padded 3-digit groups, all but the last prefixed ``x`` (``x001/x234/067``)."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + groups[-1:])


def tile_path(level: int | None, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a hash tile (``level``) or entry bundle (``level=None``)."""
    head = "tile/entries" if level is None else f"tile/{level}"
    tail = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{head}/{encode_tile_index(index)}{tail}"


def parse_tile_path(path: str) -> TilePath:
    """Parse ``tile/<L|entries>/<N>[.p/<W>]``.

    Raises:
        ParseError: ``BAD_REQUEST`` for anything else (non-canonical index, width 0 or >= 256).
    """
    parts = path.strip("/").split("/", 2)
    if len(parts) != 3 or parts[0] != "tile":
        raise ParseError(ErrorCode.BAD_REQUEST, "not a tile path")
    level_text, rest = parts[1], parts[2]
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, w = rest.partition(".p/")
        if not w.isascii() or not w.isdigit() or w != str(int(w)) or not 1 <= int(w) < TILE_WIDTH:
            raise ParseError(ErrorCode.BAD_REQUEST, "bad partial tile width")
        width = int(w)
    if not _GROUP.match(rest):
        raise ParseError(ErrorCode.BAD_REQUEST, "bad tile index")
    index = int(rest.replace("x", "").replace("/", ""))
    if encode_tile_index(index) != rest:
        raise ParseError(ErrorCode.BAD_REQUEST, "non-canonical tile index")
    if level_text == "entries":
        return TilePath(level=None, index=index, width=width)
    if not level_text.isascii() or not level_text.isdigit() or level_text != str(int(level_text)) or int(level_text) > _MAX_LEVEL:
        raise ParseError(ErrorCode.BAD_REQUEST, "bad tile level")
    return TilePath(level=int(level_text), index=index, width=width)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entry bundle: each entry as a big-endian uint16 length and its bytes.

    Raises:
        ParseError: ``BAD_REQUEST`` for an entry longer than 65535 bytes.
    """
    out = bytearray()
    for e in entries:
        if len(e) > _ENTRY_MAX:
            raise ParseError(ErrorCode.BAD_REQUEST, "entry too long for a bundle")
        out += struct.pack(">H", len(e)) + e
    return bytes(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle.

    Raises:
        ParseError: ``BAD_REQUEST`` when truncated.
    """
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ParseError(ErrorCode.BAD_REQUEST, "truncated entry bundle")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > len(data):
            raise ParseError(ErrorCode.BAD_REQUEST, "truncated entry bundle")
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out
