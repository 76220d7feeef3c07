"""BIP-173/BIP-350 test vectors and NIP-19 npub for the one bech32 implementation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from waypost.registry import bech32
from waypost.registry.errors import ErrorCode, ParseError

# BIP-173 / BIP-350 "valid" checksums
VALID = [
    ("A12UEL5L", bech32.Encoding.BECH32),
    ("an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs", bech32.Encoding.BECH32),
    ("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", bech32.Encoding.BECH32),
    ("A1LQFN3A", bech32.Encoding.BECH32M),
    ("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", bech32.Encoding.BECH32M),
]
INVALID = ["x1b4n0q5v", "li1dgmt3", "A1G7SGD8", "10a06t8", "1qzzfhee", "a1qpzry9x8gf2tvdw0s3jn54khce6mua7Lmqqqxw"]

# NIP-19 example
NPUB = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
NPUB_HEX = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"


@pytest.mark.parametrize(("text", "encoding"), VALID)
def test_valid_checksums(text: str, encoding: bech32.Encoding) -> None:
    hrp, data, got = bech32.decode(text)
    assert got is encoding
    assert bech32.encode(hrp, data, got) == text.lower()


@pytest.mark.parametrize("text", INVALID)
def test_invalid_strings_are_typed_errors(text: str) -> None:
    with pytest.raises(ParseError) as err:
        bech32.decode(text)
    assert err.value.code is ErrorCode.BECH32_BAD


def test_nip19_npub() -> None:
    assert bech32.decode_npub(NPUB).hex() == NPUB_HEX
    assert bech32.encode_npub(bytes.fromhex(NPUB_HEX)) == NPUB


def test_segwit_address_from_bip173() -> None:
    from waypost.indexer.names import _segwit_address

    program = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    assert _segwit_address("bc", 0, program) == "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@given(st.binary(min_size=32, max_size=32))
def test_npub_round_trip(key: bytes) -> None:
    assert bech32.decode_npub(bech32.encode_npub(key)) == key


@given(st.text(max_size=100))
def test_decode_any_text_is_value_or_typed_error(text: str) -> None:
    try:
        bech32.decode(text)
    except ParseError as exc:
        assert exc.code is ErrorCode.BECH32_BAD
