"""tlog-tiles paths and entry bundles."""

from __future__ import annotations

import pytest

from waypost.registry.errors import ErrorCode, ParseError
from waypost.tlog import tiles


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 0, 256, "tile/0/000"),
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (2, 5, 7, "tile/2/005.p/7"),
        (None, 1000, 256, "tile/entries/x001/000"),
        (None, 3, 255, "tile/entries/003.p/255"),
    ],
)
def test_paths_round_trip(level: int | None, index: int, width: int, path: str) -> None:
    assert tiles.tile_path(level, index, width) == path
    assert tiles.parse_tile_path(path) == tiles.TilePath(level=level, index=index, width=width)


@pytest.mark.parametrize(
    "path",
    ["tile/0/1", "tile/0/x000/001", "tile/0/001.p/0", "tile/0/001.p/256", "tile/64/000", "tile/01/000", "tiles/0/000", "tile/0/001.p/07", "tile/x/000", "tile/\u00b2/000", "tile/0/\u0663\u0663\u0663", "tile/0/001.p/\u0663", "tile/0/000\n"],
)
def test_bad_paths(path: str) -> None:
    with pytest.raises(ParseError) as e:
        tiles.parse_tile_path(path)
    assert e.value.code == ErrorCode.BAD_REQUEST


def test_entry_bundle() -> None:
    entries = [b"", b"a", b"x" * 300]
    data = tiles.encode_entry_bundle(entries)
    assert data[:2] == b"\x00\x00" and data[2:5] == b"\x00\x01a"
    assert tiles.parse_entry_bundle(data) == entries
    with pytest.raises(ParseError):
        tiles.parse_entry_bundle(data[:-1])
    with pytest.raises(ParseError):
        tiles.encode_entry_bundle([b"x" * 70000])
