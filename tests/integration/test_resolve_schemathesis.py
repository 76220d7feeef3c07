"""schemathesis against the resolver endpoints over a real index (regtest vectors): no server error."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import positive_data_acceptance

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db: Path = tmp_path_factory.mktemp("resolve-st") / "index.db"
    index_recorded_chain(db)
    return db


def test_resolver_endpoints_have_no_server_error(indexed_db: Path) -> None:
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", build_app(str(indexed_db))).include(tag="resolve")
    ops = [r.ok() for r in schema.get_all_operations()]
    assert {op.path for op in ops} >= {"/v1/resolve/{address}", "/v1/headers", "/.well-known/webfinger"}
    for op in ops:

        @given(op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: Case) -> None:
            # an address is a text rule OpenAPI cannot state: 400 for schema-valid junk is right
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        run()
