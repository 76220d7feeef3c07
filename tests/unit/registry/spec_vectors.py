"""Generate the test vectors of docs/spec.md §3-§5 (chain, keys, proofs) from fixed seeds.

``.venv/bin/python -m tests.unit.registry.spec_vectors --write`` rewrites
``tests/vectors/waypost/{chain,proofs}.json`` and the marked blocks in docs/spec.md;
the tests check that files, doc and code agree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from nacl.signing import SigningKey

from waypost.registry.chain import (
    CborValue,
    EntryKind,
    commit_key,
    detect_duplicity,
    encode_canonical,
    encode_entry,
    entry_hash,
    make_entry,
)
from waypost.registry.keys import sign_message
from waypost.registry.model import PublicKey
from waypost.registry.proofs import PROOF_PREFIX, make_proof

ROOT = Path(__file__).resolve().parents[3]
SPEC = ROOT / "docs" / "spec.md"
VECTOR_DIR = ROOT / "tests" / "vectors" / "waypost"
CHAIN_FILE = VECTOR_DIR / "chain.json"
PROOFS_FILE = VECTOR_DIR / "proofs.json"

SEEDS = {n: bytes([n]) * 32 for n in (1, 2, 3)}  # seed k -> ed25519 seed of 32 bytes k

# named CBOR cases (RFC 8949 §4.2.1): value, expected canonical hex
CBOR_CASES: dict[str, CborValue] = {
    "uint-23": 23,
    "uint-24": 24,
    "uint-65536": 65536,
    "nint-1": -1,
    "nint-min": -(2**64),
    "text-utf8": "ü",
    "bytes": b"\x01\x02",
    "array": [1, [2, 3]],
    "map-bytewise-order": {"a": 1, 1000: 2, -1: 3, "bb": 4},
    "null-true-false": [None, True, False],
}


def _sk(n: int) -> SigningKey:
    return SigningKey(SEEDS[n])


def _pk(n: int) -> PublicKey:
    return PublicKey(bytes(_sk(n).verify_key))


def chain_vectors() -> dict[str, object]:
    """CBOR cases, a 3-entry chain (genesis, update, rotate) and one duplicity evidence."""
    g = make_entry(_sk(1), seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(_pk(2)),
                   body={"name": "Alice", "email": "alice@example.com"}, time_s=1_700_000_000)
    u = make_entry(_sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=commit_key(_pk(2)),
                   body={"name": "Alice", "xmpp": "alice@example.org"})
    r = make_entry(_sk(2), seq=2, prev=entry_hash(u), kind=EntryKind.ROTATE, next_commitment=commit_key(_pk(3)),
                   body={"name": "Alice", "xmpp": "alice@example.org"})
    fork = make_entry(_sk(1), seq=1, prev=entry_hash(g), kind=EntryKind.UPDATE, next_commitment=commit_key(_pk(2)),
                      body={"name": "Mallory"})
    ev = detect_duplicity(u, fork)
    assert ev is not None
    return {
        "seeds": {str(n): s.hex() for n, s in SEEDS.items()},
        "public_keys": {str(n): bytes(_pk(n)).hex() for n in SEEDS},
        "cbor": [{"name": k, "hex": encode_canonical(v).hex()} for k, v in CBOR_CASES.items()],
        "entries": [
            {"seq": e.seq, "kind": str(e.kind), "signer_seed": n, "hex": encode_entry(e).hex(),
             "entry_hash": entry_hash(e).hex()}
            for e, n in ((g, 1), (u, 1), (r, 2))
        ],
        "final": {"key": bytes(_pk(2)).hex(), "next": commit_key(_pk(3)).hex(), "seq": 2,
                  "head": entry_hash(r).hex()},
        "duplicity_evidence_hex": ev.encode().hex(),
    }


def proof_vectors() -> dict[str, object]:
    """One DNS proof and one verify-message signature, from seed 1."""
    p = make_proof(_sk(1), address="alice@id.bit", service="dns", handle="example.com", time_s=1_700_000_000)
    return {
        "seed": SEEDS[1].hex(),
        "public_key": bytes(_pk(1)).hex(),
        "proof": {"address": p.address, "service": p.service, "handle": p.handle, "time_s": p.time_s,
                  "signed_hex": p.signed_bytes().hex(), "txt": PROOF_PREFIX + p.encode()},
        "message": {"text": "hello", "signature_hex": sign_message(_sk(1), b"hello").hex()},
    }


def render_chain_block(v: dict[str, object]) -> str:
    entries = v["entries"]
    assert isinstance(entries, list)
    g = entries[0]
    final = v["final"]
    assert isinstance(final, dict)
    lines = [
        "Seed `01`×32 (ed25519), genesis entry (canonical CBOR, hex):",
        "",
        "```",
        *_wrap(g["hex"]),
        "```",
        "",
        f"* genesis `entry_hash` = `{g['entry_hash']}`",
        f"* after update (seed 1) and rotate (seed 2): head = `{final['head']}`, key = `{final['key']}`",
        "* all entries, the CBOR cases and a duplicity evidence: `tests/vectors/waypost/chain.json`",
    ]
    return "\n".join(lines)


def render_proof_block(v: dict[str, object]) -> str:
    proof = v["proof"]
    assert isinstance(proof, dict)
    return "\n".join([
        f"Seed `01`×32, `alice@id.bit` proves `dns:example.com` at `time_s` {proof['time_s']}:",
        "",
        "```",
        *_wrap(proof["txt"]),
        "```",
        "",
        "(one TXT string per line above, joined without separators; full vector with the signed bytes and a",
        "verify-message signature: `tests/vectors/waypost/proofs.json`)",
    ])


def _wrap(text: str, width: int = 96) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def spec_block(name: str, text: str | None = None) -> str:
    text = SPEC.read_text(encoding="utf-8") if text is None else text
    m = re.search(_block_re(name), text, re.S)
    assert m, f"docs/spec.md lacks the {name} block"
    return m.group(2).removesuffix("\n")


def _block_re(name: str) -> str:
    return rf"(<!-- {name}:begin -->\n)(.*?)(<!-- {name}:end -->)"


def _write() -> None:
    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    cv, pv = chain_vectors(), proof_vectors()
    CHAIN_FILE.write_text(json.dumps(cv, indent=2) + "\n", encoding="utf-8")
    PROOFS_FILE.write_text(json.dumps(pv, indent=2) + "\n", encoding="utf-8")
    text = SPEC.read_text(encoding="utf-8")
    for name, block in (("chain-vectors", render_chain_block(cv)), ("proof-vectors", render_proof_block(pv))):
        spec_block(name, text)  # must exist
        text = re.sub(_block_re(name), lambda m, b=block: m.group(1) + b + "\n" + m.group(3), text, flags=re.S)
    SPEC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv:
        _write()
    else:
        sys.stdout.write(render_chain_block(chain_vectors()) + "\n\n" + render_proof_block(proof_vectors()) + "\n")
