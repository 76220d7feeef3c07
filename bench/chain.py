"""Bench registry.chain/keys: canonical CBOR vs plain cbor2, entry parse, chain validation, history.

Run by hand: .venv/bin/python bench/chain.py  (prints figures and ratios from one run)
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cbor2
from nacl.signing import SigningKey

from waypost.registry.chain import (
    EntryKind,
    commit_key,
    decode_canonical,
    encode_canonical,
    encode_entry,
    entry_hash,
    make_entry,
    parse_entry,
    validate_chain,
)
from waypost.registry.model import PublicKey

VALUE = {"v": 1, "name": "Alice", "ep": {"email": "alice@example.com", "xmpp": "alice@example.org"},
         "keys": [b"\x01" * 32, b"\x02" * 32], 1000: -5, "list": list(range(20))}


def per_call_us(fn: Callable[[], object], seconds: float = 0.3) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            fn()
        n += 100
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    data = encode_canonical(VALUE)
    enc = per_call_us(lambda: encode_canonical(VALUE))
    enc_raw = per_call_us(lambda: cbor2.dumps(VALUE, canonical=True))
    dec = per_call_us(lambda: decode_canonical(data))
    dec_raw = per_call_us(lambda: cbor2.loads(data))
    print(f"encode_canonical   {enc:8.1f} us   cbor2.dumps(canonical) {enc_raw:6.1f} us   ratio {enc / enc_raw:5.1f}x")
    print(f"decode_canonical   {dec:8.1f} us   cbor2.loads            {dec_raw:6.1f} us   ratio {dec / dec_raw:5.1f}x")

    sk = [SigningKey(bytes([n]) * 32) for n in range(1, 4)]
    pk = [PublicKey(bytes(k.verify_key)) for k in sk]
    chain = [make_entry(sk[0], seq=0, prev=None, kind=EntryKind.GENESIS, next_commitment=commit_key(pk[1]),
                        body={"name": "Alice"})]
    for i in range(1, 32):
        chain.append(make_entry(sk[0], seq=i, prev=entry_hash(chain[-1]), kind=EntryKind.UPDATE,
                                next_commitment=commit_key(pk[1]), body={"name": "Alice", "n": i}))
    raw = [encode_entry(e) for e in chain]
    parse = per_call_us(lambda: parse_entry(raw[5]))
    val = per_call_us(lambda: validate_chain(chain, address_key=pk[0]), seconds=0.5)
    print(f"parse_entry        {parse:8.1f} us   entry {len(raw[5])} bytes")
    print(f"validate_chain(32) {val:8.1f} us   = {val / 32:6.1f} us per entry (ed25519 verify + hash + CBOR)")


if __name__ == "__main__":
    main()
