"""Signed notes, checkpoints, cosignatures and checkpoint-consistency evidence."""

from __future__ import annotations

import base64

import pytest

from waypost.registry import merkle
from waypost.registry.errors import ErrorCode, ParseError, VerificationError
from waypost.registry.model import BlockHash
from waypost.tlog import note as n

# C2SP signed-note.md "Example" (tests/vectors/merkle/README.md)
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

LOG = n.signer_from_seed("log.example/waypost", bytes(range(32)))
OTHER = n.signer_from_seed("log.example/waypost", bytes(range(1, 33)))
W1 = n.signer_from_seed("witness.example/w1", b"\x01" * 32, n.ALG_COSIGNATURE_V1)
W2 = n.signer_from_seed("witness.example/w2", b"\x02" * 32, n.ALG_COSIGNATURE_V1)


def test_c2sp_example_verifies() -> None:
    v = n.parse_vkey(C2SP_VKEY)
    assert v.key_id.hex() == "530d903a"
    opened = n.open_note(C2SP_NOTE, [v])
    assert opened.text == "This is an example message.\n"
    assert [s.name for s in opened.sigs] == ["example.com/foo"]
    assert n.encode_vkey(v) == C2SP_VKEY


def test_c2sp_example_tampered_fails() -> None:
    v = n.parse_vkey(C2SP_VKEY)
    with pytest.raises(VerificationError) as e:
        n.open_note(C2SP_NOTE.replace("example message", "example massage"), [v])
    assert e.value.code == ErrorCode.NOTE_BAD_SIGNATURE


def test_unknown_keys_kept_but_one_known_needed() -> None:
    signed = n.sign_note("hello\n", LOG, n.signer_from_seed("someone.else", b"\x09" * 32))
    opened = n.open_note(signed, [LOG.verifier])
    assert len(opened.sigs) == 1 and len(opened.unverified_sigs) == 1
    with pytest.raises(VerificationError) as e:
        n.open_note(signed, [W1.verifier])
    assert e.value.code == ErrorCode.NOTE_UNKNOWN_KEY


def test_key_formats_round_trip() -> None:
    assert n.parse_signer_key(n.encode_signer_key(LOG)) == LOG
    assert n.parse_vkey(n.encode_vkey(W1.verifier)) == W1.verifier
    assert "seed" not in repr(LOG) and LOG.seed.hex() not in repr(LOG)
    bad_id = n.encode_vkey(LOG.verifier).split("+")
    bad_id[1] = "00000000"
    with pytest.raises(ParseError) as e:
        n.parse_vkey("+".join(bad_id))
    assert e.value.code == ErrorCode.NOTE_BAD


def test_key_formats_with_plus_in_base64() -> None:
    seed = next(bytes([i]) * 32 for i in range(256) if "+" in n.encode_signer_key(n.signer_from_seed("k", bytes([i]) * 32)).split("+", 4)[4])
    s = n.signer_from_seed("k", seed)
    assert n.parse_signer_key(n.encode_signer_key(s)) == s
    w = next(
        n.signer_from_seed("w", bytes([i]) * 32, n.ALG_COSIGNATURE_V1)
        for i in range(256)
        if "+" in n.encode_vkey(n.signer_from_seed("w", bytes([i]) * 32, n.ALG_COSIGNATURE_V1).verifier).split("+", 2)[2]
    )
    assert n.parse_vkey(n.encode_vkey(w.verifier)) == w.verifier


@pytest.mark.parametrize(
    "note",
    ["no signatures\n", "text\n\nnot a signature\n", "text\n\n\u2014 name !!!\n", "text\n\n\u2014 na+me AAAAAAAA\n", "ctl\x01\n\n\u2014 a AAAAAAAA\n"],
)
def test_malformed_notes(note: str) -> None:
    with pytest.raises(ParseError) as e:
        n.open_note(note, [LOG.verifier])
    assert e.value.code == ErrorCode.NOTE_BAD


def _cp(size: int, root: bytes, **kw: object) -> n.Checkpoint:
    return n.Checkpoint(origin="log.example/waypost", size=size, root_hash=root, **kw)  # type: ignore[arg-type]


def test_checkpoint_round_trip_with_extensions() -> None:
    cp = _cp(
        20,
        b"\x11" * 32,
        map_root=b"\x22" * 32,
        namecoin_height=123,
        namecoin_block_hash=BlockHash(bytes(range(32))),
        extensions=("x-other thing",),
    )
    text = n.encode_checkpoint(cp)
    lines = text.splitlines()
    assert lines[:3] == ["log.example/waypost", "20", base64.b64encode(b"\x11" * 32).decode()]
    assert lines[4] == "namecoin 123 " + bytes(range(32))[::-1].hex()
    assert n.parse_checkpoint(text) == cp
    signed = n.open_checkpoint(n.sign_note(text, LOG), [LOG.verifier], origin="log.example/waypost")
    assert signed.checkpoint == cp


@pytest.mark.parametrize(
    "text",
    ["o\n01\n" + "A" * 43 + "=\n", "o\n1\n\n", "o\n1\nAAAA\n", "o\n-1\n" + "A" * 43 + "=\n", "o\n1\n" + "A" * 43 + "=", "o\n1\n" + "A" * 43 + "=\nnamecoin 1 zz\n"],
)
def test_bad_checkpoints(text: str) -> None:
    with pytest.raises(ParseError) as e:
        n.parse_checkpoint(text)
    assert e.value.code == ErrorCode.CHECKPOINT_BAD


def test_cosignatures_k_of_n() -> None:
    cp = _cp(5, b"\x33" * 32, map_root=b"\x44" * 32)
    note = n.sign_note(n.encode_checkpoint(cp), LOG)
    note2 = n.add_signature_lines(note, n.cosign(cp, W1, 1_700_000_000))
    n.verify_cosignatures(note2, [W1.verifier, W2.verifier], 1)
    with pytest.raises(VerificationError) as e:
        n.verify_cosignatures(note2, [W1.verifier, W2.verifier], 2)
    assert e.value.code == ErrorCode.WITNESS_QUORUM
    note3 = n.add_signature_lines(note2, n.cosign(n.SignedCheckpoint(checkpoint=cp, note=note), W2, 1_700_000_001))
    n.verify_cosignatures(note3, [W1.verifier, W2.verifier], 2)
    # the log signature still verifies with cosignatures attached; cosignatures are "unknown" to it
    opened = n.open_note(note3, [LOG.verifier])
    assert len(opened.unverified_sigs) == 2
    assert n.cosignature_time_s(n.open_note(note3, [W2.verifier]).sigs[0]) == 1_700_000_001
    # the same cosignature on another checkpoint fails
    other = n.sign_note(n.encode_checkpoint(_cp(6, b"\x33" * 32)), LOG)
    forged = n.add_signature_lines(other, n.cosign(cp, W1, 1_700_000_000))
    with pytest.raises(VerificationError) as e2:
        n.verify_cosignatures(forged, [W1.verifier], 1)
    assert e2.value.code == ErrorCode.NOTE_BAD_SIGNATURE


def _tree(k: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(k)]


def _signed(hashes: list[bytes], size: int, signer: n.Signer = LOG) -> n.SignedCheckpoint:
    cp = _cp(size, merkle.root(hashes[:size]))
    return n.SignedCheckpoint(checkpoint=cp, note=n.sign_note(n.encode_checkpoint(cp), signer))


def test_consistent_checkpoints_pass() -> None:
    h = _tree(10)
    n.check_consistency(_signed(h, 3), _signed(h, 10), merkle.consistency_proof(h, 3, 10))
    n.check_consistency(_signed(h, 10), _signed(h, 10), ())
    n.check_split_view(_signed(h, 10), _signed(h, 4), merkle.consistency_proof(h, 4, 10))


def test_rollback_detected_with_evidence() -> None:
    h = _tree(10)
    with pytest.raises(VerificationError) as e:
        n.check_consistency(_signed(h, 10), _signed(h, 7), ())
    assert e.value.code == ErrorCode.CHECKPOINT_ROLLBACK
    ev = e.value.fields["evidence"]
    n.verify_evidence(ev, [LOG.verifier])
    with pytest.raises(VerificationError):  # evidence is tied to the log's key
        n.verify_evidence(ev, [OTHER.verifier])


def test_fork_detected_with_evidence() -> None:
    h = _tree(10)
    forked = h[:5] + _tree(20)[15:20]
    # same size, different root
    with pytest.raises(VerificationError) as e:
        n.check_consistency(_signed(h, 10), _signed(forked, 10), ())
    assert e.value.code == ErrorCode.CHECKPOINT_INCONSISTENT
    n.verify_evidence(e.value.fields["evidence"], [LOG.verifier])
    # different sizes: the honest proof for the fork does not connect
    bigger_fork = forked + _tree(3)
    proof = merkle.consistency_proof(bigger_fork, 8, 13)
    with pytest.raises(VerificationError) as e2:
        n.check_consistency(_signed(h, 8), _signed(bigger_fork, 13), proof)
    assert e2.value.code == ErrorCode.CHECKPOINT_INCONSISTENT
    n.verify_evidence(e2.value.fields["evidence"], [LOG.verifier])


def test_split_view_detected_with_evidence() -> None:
    h = _tree(10)
    view_b = h[:6] + _tree(30)[20:24]
    with pytest.raises(VerificationError) as e:
        n.check_split_view(_signed(h, 10), _signed(view_b, 10), ())
    assert e.value.code == ErrorCode.CHECKPOINT_SPLIT_VIEW
    n.verify_evidence(e.value.fields["evidence"], [LOG.verifier])


def test_split_view_of_different_sizes() -> None:
    h = _tree(12)
    other = h[:4] + _tree(40)[30:36]  # size 10, diverges after leaf 4
    proof = merkle.consistency_proof(h, 10, 12)  # what an honest server of view A would serve
    with pytest.raises(VerificationError) as e:
        n.check_split_view(_signed(other, 10), _signed(h, 12), proof)
    assert e.value.code == ErrorCode.CHECKPOINT_SPLIT_VIEW
    ev = e.value.fields["evidence"]
    assert ev.old_note == _signed(other, 10).note
    n.verify_evidence(ev, [LOG.verifier])


def test_evidence_of_honest_log_is_rejected() -> None:
    h = _tree(10)
    ev = n.Evidence(
        kind=ErrorCode.CHECKPOINT_INCONSISTENT,
        old_note=_signed(h, 4).note,
        new_note=_signed(h, 10).note,
        proof=merkle.consistency_proof(h, 4, 10),
    )
    with pytest.raises(VerificationError) as e:
        n.verify_evidence(ev, [LOG.verifier])
    assert e.value.code == ErrorCode.CHECKPOINT_BAD


def test_non_canonical_base64_signature_is_refused() -> None:
    """A flipped unused padding bit must not give the same signature a second spelling."""
    import base64

    from waypost.registry.errors import ErrorCode, ParseError
    from waypost.tlog.note import open_note, parse_vkey

    vkey = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    sig = "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
    # the last character before "=" carries 2 unused bits: set one of them
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    tweaked = sig[:-2] + alphabet[alphabet.index(sig[-2]) | 1] + "="
    assert tweaked != sig and base64.b64decode(tweaked) == base64.b64decode(sig)
    note = "This is an example message.\n\n\u2014 example.com/foo " + tweaked + "\n"
    with pytest.raises(ParseError) as err:
        open_note(note, [parse_vkey(vkey)])
    assert err.value.code is ErrorCode.NOTE_BAD


def test_checkpoint_time_line_round_trips() -> None:
    cp = n.Checkpoint(origin="example.com/log", size=3, root_hash=b"\x01" * 32, time_s=1_700_000_000)
    text = n.encode_checkpoint(cp)
    assert "waypost-time 1700000000\n" in text
    assert n.parse_checkpoint(text) == cp
    with pytest.raises(ParseError) as err:
        n.parse_checkpoint(text.replace("1700000000", "01700000000"))
    assert err.value.code is ErrorCode.CHECKPOINT_BAD


# --- adversarial review (issue 6) -----------------------------------------------------------

_ROOT = "A" * 43 + "="
_MAP = "waypost-map " + "A" * 43 + "="
_MAP2 = "waypost-map " + "B" * 43 + "="


@pytest.mark.parametrize(
    "extra",
    [
        # two map roots in one signed note: clients taking the first and the last would see two maps
        [_MAP, _MAP2],
        ["namecoin 1 " + "00" * 32, "namecoin 2 " + "11" * 32],
        ["waypost-time 5", "waypost-time 6"],
        # bytes.fromhex skips spaces: one tip, several spellings
        ["namecoin 1 " + "00 " * 31 + "00"],
    ],
)
def test_ambiguous_extension_lines_are_refused(extra: list[str]) -> None:
    text = "\n".join(["o", "1", _ROOT, *extra]) + "\n"
    with pytest.raises(ParseError) as e:
        n.parse_checkpoint(text)
    assert e.value.code == ErrorCode.CHECKPOINT_BAD


def test_one_witness_key_under_two_names_counts_once() -> None:
    cp = _cp(5, b"\x33" * 32, map_root=b"\x44" * 32)
    alias = n.signer_from_seed("witness.example/alias", b"\x01" * 32, n.ALG_COSIGNATURE_V1)  # W1's key
    note = n.sign_note(n.encode_checkpoint(cp), LOG)
    note = n.add_signature_lines(note, n.cosign(cp, W1, 1_700_000_000) + n.cosign(cp, alias, 1_700_000_000))
    with pytest.raises(VerificationError) as e:
        n.verify_cosignatures(note, [W1.verifier, alias.verifier], 2)
    assert e.value.code == ErrorCode.WITNESS_QUORUM


def test_duplicated_cosignature_line_counts_once() -> None:
    cp = _cp(5, b"\x33" * 32, map_root=b"\x44" * 32)
    line = n.cosign(cp, W1, 1_700_000_000)
    note = n.add_signature_lines(n.sign_note(n.encode_checkpoint(cp), LOG), line + line)
    with pytest.raises(VerificationError) as e:
        n.verify_cosignatures(note, [W1.verifier, W2.verifier], 2)
    assert e.value.code == ErrorCode.WITNESS_QUORUM
