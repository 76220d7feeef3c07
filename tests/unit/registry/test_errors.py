from __future__ import annotations

import pickle

import pytest

from waypost.registry.errors import ErrorCode, ParseError, WaypostError


def test_error_carries_code_and_fields() -> None:
    err = ParseError(ErrorCode.WIRE_TRUNCATED, "short read", offset=7)
    assert isinstance(err, WaypostError)
    assert err.code is ErrorCode.WIRE_TRUNCATED
    assert err.fields == {"offset": 7}
    assert "wire.truncated" in str(err)


def test_error_pickles_with_fields() -> None:
    err = pickle.loads(pickle.dumps(ParseError(ErrorCode.WIRE_VARINT, "bad", offset=3)))
    assert isinstance(err, ParseError) and err.code is ErrorCode.WIRE_VARINT and err.fields["offset"] == 3


def test_codes_are_unique() -> None:
    values = [c.value for c in ErrorCode]
    assert len(values) == len(set(values))


def test_vectors_present() -> None:
    from tests.vectors import json_files

    assert len(json_files("merkle")) > 90
    with pytest.raises(pytest.fail.Exception):
        json_files("does-not-exist")
