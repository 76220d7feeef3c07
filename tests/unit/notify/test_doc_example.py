"""The receiver verification example of docs/notify.md runs and agrees with the signer."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from waypost.notify.webhook import encode_secret, webhook_headers

DOC = Path(__file__).resolve().parents[3] / "docs" / "notify.md"
SECRET = encode_secret(bytes(range(7, 39)))
BODY = b'{"type":"address.moved","timestamp":"2023-11-14T22:13:20Z","data":{"id":"evt_0000000000000007"}}'
NOW = 1_700_000_000


@pytest.fixture(scope="module")
def verify() -> Callable[..., str]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "docs/notify.md should hold one python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    fn = namespace["verify"]
    assert callable(fn)
    return fn


def test_accepts_a_genuine_delivery_once(verify: Callable[..., str]) -> None:
    seen: set[str] = set()
    headers = webhook_headers(SECRET, "evt_0000000000000007", NOW, BODY)
    assert verify(SECRET, headers, BODY, NOW + 5, seen) == "evt_0000000000000007"
    with pytest.raises(ValueError, match="duplicate"):
        verify(SECRET, headers, BODY, NOW + 6, seen)


def test_rejects_tampered_and_replayed(verify: Callable[..., str]) -> None:
    headers = webhook_headers(SECRET, "evt_0000000000000007", NOW, BODY)
    with pytest.raises(ValueError, match="bad signature"):
        verify(SECRET, headers, BODY.replace(b"moved", b"muved"), NOW, set())
    with pytest.raises(ValueError, match="bad signature"):
        verify(SECRET, {**headers, "webhook-id": "evt_0000000000000008"}, BODY, NOW, set())
    with pytest.raises(ValueError, match="bad signature"):
        verify(encode_secret(bytes(32)), headers, BODY, NOW, set())
    with pytest.raises(ValueError, match="replay window"):
        verify(SECRET, headers, BODY, NOW + 301, set())
