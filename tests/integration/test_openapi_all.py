"""schemathesis over every operation of ``/v1/openapi.json`` as ``waypost serve`` builds the app:
names, resolver, log, notifications. Whatever the inputs, no answer is a server error."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case

from tests.replaynode import index_recorded_chain
from waypost.api.cli import build_app


@pytest.fixture(scope="module")
def indexed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db: Path = tmp_path_factory.mktemp("openapi-all") / "index.db"
    index_recorded_chain(db)
    return db


def test_every_operation_answers_without_server_error(indexed_db: Path) -> None:
    app = build_app(str(indexed_db))
    # /v1/events is a long-lived SSE stream (bounded by its own ``wait``); it has its own tests.
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app).exclude(path="/v1/events")
    ops = [r.ok() for r in schema.get_all_operations()]
    paths = {op.path for op in ops}
    assert {"/v1/names/{name}", "/v1/resolve/{address}", "/v1/log/checkpoint", "/v1/subscriptions"} <= paths
    for op in ops:

        @given(op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:300])

        run()
