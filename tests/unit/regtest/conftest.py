"""Fixtures for the simulator tests: a started node in tmp_path and a tiny RPC client."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from waypost.regtest.node import SimNode

RpcFn = Callable[..., dict[str, Any]]


def post(url: str, auth: str, payload: Any, path: str = "/") -> tuple[int, Any]:
    body = json.dumps(payload).encode()
    req = urllib.request.Request(url + path, data=body, headers={
        "Authorization": "Basic " + base64.b64encode(auth.encode()).decode(),
        "Content-Type": "application/json",
    })
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read(), parse_float=Decimal)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw, parse_float=Decimal) if raw else None


@pytest.fixture
def node(tmp_path: Path) -> Iterator[SimNode]:
    with SimNode.start(tmp_path / "node", seed=3) as n:
        yield n


@pytest.fixture
def rpc(node: SimNode) -> RpcFn:
    auth = node.cookie_path.read_text()

    def call(method: str, *params: Any, wallet: str | None = None) -> dict[str, Any]:
        path = f"/wallet/{wallet}" if wallet else "/"
        _, reply = post(node.rpc_url, auth, {"id": 1, "method": method, "params": list(params)}, path)
        assert isinstance(reply, dict)
        return reply

    return call
