"""The one loader of the shared test vectors in ``tests/vectors/`` (copied from ../shared/vectors).

A missing directory fails the suite (no silent skip). ``Path.rglob`` is used because
file names contain ``[``/``]``, which ``glob`` patterns would misread.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).parent / "vectors"
REGTEST = VECTORS / "namecoind-regtest"
MAINNET = VECTORS / "namecoin-mainnet"
MERKLE = VECTORS / "merkle"


def vector_dir(rel: str) -> Path:
    """Return ``tests/vectors/<rel>``; fail (not skip) when it is missing."""
    path = VECTORS / rel
    if not path.is_dir():
        pytest.fail(f"test vectors missing: {path} (copy them from ../shared/vectors)")
    return path


def json_files(rel: str) -> list[Path]:
    """Every ``*.json`` under ``tests/vectors/<rel>``, sorted, walked with rglob."""
    files = sorted(vector_dir(rel).rglob("*.json"))
    if not files:
        pytest.fail(f"no vectors under {rel}")
    return files


def params(rel: str) -> list[Any]:
    """``pytest.param(path, id=<path relative to the vector dir>)`` for each JSON file."""
    base = vector_dir(rel)
    return [pytest.param(p, id=str(p.relative_to(base))) for p in json_files(rel)]


@cache
def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def regtest_blocks() -> list[dict[str, Any]]:
    """All recorded regtest block files (active chain and orphaned branch), by height."""
    return [load_json(p) for p in sorted((REGTEST / "blocks").glob("[0-9]*.json"))]


def regtest_transcript() -> Iterator[dict[str, Any]]:
    """The recorded JSON-RPC calls of the regtest scenario, in order."""
    with (REGTEST / "scenario" / "transcript.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
