"""Bench registry.address/profile: parse_address by kind, parse_profile vs plain json.loads, encode, signing bytes.

Run by hand: .venv/bin/python bench/profile.py  (prints figures and ratios from one run)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from waypost.registry.address import encode_key_domain, parse_address
from waypost.registry.profile import (
    Endpoint,
    Policy,
    PolicyMode,
    Profile,
    Protocol,
    encode_profile,
    key_commitment,
    parse_profile,
    signing_message,
)
from waypost.registry.model import PublicKey


def _rate(fn: Callable[[], object], seconds: float = 0.3) -> float:
    n = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


def main() -> None:
    addresses = {
        "id.bit": "alice@id.bit",
        "dns ascii": "Bob.Smith@Example.COM",
        "dns idn": "jörg@bücher.example",
        ".key": "alice@" + encode_key_domain(bytes(range(32))),
        "lookalike": "x@аррӏе.com",
    }
    print("parse_address (ops/s):")
    for label, text in addresses.items():
        print(f"  {label:<10} {_rate(lambda t=text: parse_address(t)):>10,.0f}")

    profile = Profile(
        namecoin=(("name", '"Alice"'),),
        version=1,
        key=PublicKey(bytes(32)),
        next_commitment=key_commitment(bytes([1]) * 32),
        endpoints=(
            Endpoint(protocol=Protocol.XMPP, value="alice@jabber.example"),
            Endpoint(protocol=Protocol.EMAIL, value="alice@example.com"),
        ),
        policy=Policy(require=(Protocol.XMPP,), mode=PolicyMode.ENFORCE),
        sig=bytes(64),
    )
    value = encode_profile(profile)
    strict = _rate(lambda: parse_profile(value))
    plain = _rate(lambda: json.loads(value))
    print(f"parse_profile ({len(value)} B): {strict:,.0f}/s; json.loads alone {plain:,.0f}/s; ratio {plain / strict:.1f}x")
    print(f"encode_profile: {_rate(lambda: encode_profile(profile)):,.0f}/s")
    print(f"signing_message: {_rate(lambda: signing_message(profile, address='alice@id.bit')):,.0f}/s")


if __name__ == "__main__":
    main()
