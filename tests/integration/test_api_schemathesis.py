"""schemathesis against ``/v1/openapi.json`` over WSGI (no network): no server error, answers match the spec."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import CheckContext, not_a_server_error, positive_data_acceptance
from schemathesis.core.transport import Response

from tests.fakereader import FakeReader, make_record, make_status
from waypost.api.app import create_app

NOW = 1_700_000_000


def _reader(*, stale: bool) -> FakeReader:
    status = (
        make_status(150, node_height=162, tip_time_s=NOW - 60, checked_at_s=NOW - 5)
        if stale
        else make_status(162, tip_time_s=NOW - 60, checked_at_s=NOW)
    )
    reader = FakeReader(status=status)
    for name, value, height in [
        (b"d/example", b'{"ip":"192.0.2.1"}', 150),
        (b"id/alice", b'{"email":"alice@example.com"}', 149),
        ("d/bücher".encode(), "wert".encode(), 145),
        (bytes.fromhex("642f00ff80fe01"), b"\xff", 145),
        (b"d/expired", b"", 100),
        (b"0", b"zero", 140),
    ]:
        reader.add(make_record(name, value, height))
    return reader


_FRESH = _reader(stale=False)
_STALE = _reader(stale=True)
fresh_schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", create_app(reader_factory=lambda: _FRESH, network="regtest", now=lambda: NOW))
stale_schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", create_app(reader_factory=lambda: _STALE, network="regtest", now=lambda: NOW))


# With name_encoding=hex the name/prefix/after must be even-length hex, and a name is at most
# 255 *bytes*: constraints across parameters (and on bytes) that OpenAPI cannot state, so a
# "schema-valid" request may rightly get 400/422. Every other default check stays on.
_CROSS_PARAMETER = [positive_data_acceptance]


@fresh_schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fresh_index_all_default_checks(case: Case) -> None:
    # A fresh index never answers 503, so schemathesis' own "not a server error" check applies as is.
    case.call_and_validate(excluded_checks=_CROSS_PARAMETER)


def _only_designed_503(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """No 5xx except the documented 503 ``index.stale`` a client asked for."""
    if response.status_code == 503:
        body = response.json()
        assert body["code"] == "index.stale", body
        assert response.headers.get("retry-after"), "503 without Retry-After"
        return True
    assert response.status_code < 500, f"server error {response.status_code}: {response.text[:300]}"
    return True


@stale_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_stale_index_refuses_only_with_index_stale(case: Case) -> None:
    case.call_and_validate(excluded_checks=[not_a_server_error, *_CROSS_PARAMETER], additional_checks=[_only_designed_503])
