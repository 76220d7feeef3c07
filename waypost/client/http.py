"""HTTP fetching for the light client (shell): timeouts, size caps, no redirects.

Transport failures become ``UpstreamError(CLIENT_HTTP)``; the answers are checked by the core.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import requests

from waypost.registry.errors import ErrorCode, UpstreamError

__all__ = ["MAX_BODY_BYTES", "DEFAULT_TIMEOUT_S", "Response", "fetch", "fetch_json", "server_url", "quote_address"]

MAX_BODY_BYTES = 1 << 20  # a resolve answer with proofs is a few KB; 1 MiB is generous
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """Status, media type and body of one answer."""

    status: int
    content_type: str
    body: bytes


def server_url(base: str, path: str) -> str:
    """Join a server base URL and an absolute API path."""
    return base.rstrip("/") + path


def quote_address(address: str) -> str:
    """Percent-encode an address for a path segment (``@`` kept)."""
    return quote(address, safe="@")


def fetch(
    session: requests.Session,
    url: str,
    *,
    params: dict[str, str] | None = None,
    accept: str = "application/json",
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = MAX_BODY_BYTES,
) -> Response:
    """GET ``url``; never follows redirects (a server must answer for itself).

    Raises:
        UpstreamError: ``CLIENT_HTTP`` on connection errors, timeouts, redirects, or bodies over ``max_bytes``.
    """
    try:
        with session.get(url, params=params, headers={"Accept": accept}, timeout=timeout_s,
                         allow_redirects=False, stream=True) as resp:
            if 300 <= resp.status_code < 400:
                raise UpstreamError(ErrorCode.CLIENT_HTTP, f"{url} redirected (HTTP {resp.status_code}); not followed",
                                    url=url, status=resp.status_code)
            chunks: list[bytes] = []
            total = 0
            for chunk in resp.iter_content(chunk_size=65536):
                total += len(chunk)
                if total > max_bytes:
                    raise UpstreamError(ErrorCode.CLIENT_HTTP, f"{url} answered more than {max_bytes} bytes", url=url)
                chunks.append(chunk)
            return Response(status=resp.status_code, content_type=resp.headers.get("Content-Type", ""),
                            body=b"".join(chunks))
    except requests.RequestException as exc:
        raise UpstreamError(ErrorCode.CLIENT_HTTP, f"cannot reach {url}: {type(exc).__name__}", url=url) from exc


def fetch_json(session: requests.Session, url: str, *, params: dict[str, str] | None = None,
               ok: tuple[int, ...] = (200,), timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[int, object]:
    """GET a JSON (or problem+json) answer; returns ``(status, parsed body)``.

    Raises:
        UpstreamError: ``CLIENT_HTTP`` (transport, or a status not in ``ok``),
            ``CLIENT_BAD_ANSWER`` (not JSON).
    """
    resp = fetch(session, url, params=params, timeout_s=timeout_s)
    if resp.status not in ok:
        detail = ""
        try:
            obj = json.loads(resp.body)
            if isinstance(obj, dict):
                detail = f": {obj.get('code', '')} {obj.get('detail', '')}".rstrip()
        except ValueError:
            pass
        raise UpstreamError(ErrorCode.CLIENT_HTTP, f"{url} answered HTTP {resp.status}{detail}", url=url,
                            status=resp.status)
    try:
        return resp.status, json.loads(resp.body)
    except ValueError as exc:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"{url} did not answer JSON", url=url) from exc
