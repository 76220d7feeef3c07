"""Adversarial review of ``verify_bundle`` (issue 6): lies a server could try, each refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.property.test_bundle import _DOMAIN, _S, _reader
from waypost.registry.errors import ErrorCode, WaypostError
from waypost.resolve.bundle import ProofBundle, verify_bundle
from waypost.tlog import note as note_mod

W1 = note_mod.signer_from_seed("witness.example/w1", b"\x01" * 32, note_mod.ALG_COSIGNATURE_V1)
ALIAS = note_mod.signer_from_seed("witness.example/alias", b"\x01" * 32, note_mod.ALG_COSIGNATURE_V1)
W2 = note_mod.signer_from_seed("witness.example/w2", b"\x02" * 32, note_mod.ALG_COSIGNATURE_V1)
NOW = 1_800_000_000
ADDRESS = f"u0@{_DOMAIN}"


def _bundle() -> ProofBundle:
    b, _ = _reader(2, [0]).bundle(ADDRESS)
    return b


def _cosigned(b: ProofBundle, *signers: tuple[note_mod.Signer, int]) -> ProofBundle:
    signed = note_mod.open_checkpoint(b.checkpoint, [_S.verifier])
    lines = "".join(note_mod.cosign(signed, s, t) for s, t in signers)
    return replace(b, checkpoint=note_mod.add_signature_lines(b.checkpoint, lines))


def _verify(b: ProofBundle, witnesses: list[note_mod.Verifier], k: int) -> None:
    verify_bundle(b, address=ADDRESS, log_verifiers=[_S.verifier], network="regtest", now_s=NOW,
                  min_witnesses=k, witness_verifiers=witnesses, max_cosignature_age_s=60)


def _code(b: ProofBundle, witnesses: list[note_mod.Verifier], k: int) -> ErrorCode:
    with pytest.raises(WaypostError) as ei:
        _verify(b, witnesses, k)
    return ei.value.code


def test_recent_cosignatures_pass() -> None:
    _verify(_cosigned(_bundle(), (W1, NOW - 10), (W2, NOW - 5)), [W1.verifier, W2.verifier], 2)


def test_cosignature_from_the_future_is_not_fresh() -> None:
    # a witness clock far ahead (or a replayed future-dated cosignature) would make an old
    # checkpoint look fresh forever
    b = _cosigned(_bundle(), (W1, NOW + 10 * 365 * 86400))
    assert _code(b, [W1.verifier], 1) == ErrorCode.WITNESS_QUORUM


def test_one_witness_key_under_two_names_is_one_fresh_cosigner() -> None:
    b = _cosigned(_bundle(), (W1, NOW - 10), (ALIAS, NOW - 10))
    assert _code(b, [W1.verifier, ALIAS.verifier], 2) == ErrorCode.WITNESS_QUORUM
