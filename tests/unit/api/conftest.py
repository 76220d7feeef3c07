"""Fixtures for API unit tests: a fake reader, a fixed clock and a client factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.fakereader import FakeReader, make_status
from waypost.api.app import ApiConfig, create_app

NOW_S = 1_700_000_000


@pytest.fixture
def reader() -> FakeReader:
    return FakeReader(status=make_status(162, tip_time_s=NOW_S - 60, checked_at_s=NOW_S - 5))


@pytest.fixture
def make_client(reader: FakeReader) -> Callable[..., FlaskClient]:
    def _make(*, network: str = "regtest", now_s: float = NOW_S, config: ApiConfig | None = None, **kwargs: object) -> FlaskClient:
        # status_cache_s=0: tests change the fake reader's status between requests
        cfg = config or ApiConfig(status_cache_s=0)
        app = create_app(reader_factory=lambda: reader, network=network, now=lambda: now_s, config=cfg, **kwargs)  # type: ignore[arg-type]
        return app.test_client()

    return _make


@pytest.fixture
def client(make_client: Callable[..., FlaskClient]) -> FlaskClient:
    return make_client()
