"""Builders for signed profiles and name histories (shared by test_keys and test_attacks)."""

from __future__ import annotations

import dataclasses
import json

from nacl.signing import SigningKey

from waypost.registry.keys import HistoryItem, RecordFacts, facts_from_profile
from waypost.registry.model import PublicKey, Txid
from waypost.registry.profile import (
    Endpoint,
    Policy,
    PolicyMode,
    Profile,
    Protocol,
    Redirect,
    RedirectReason,
    encode_profile,
    key_commitment,
    parse_profile,
    redirect_message,
    signing_message,
)

ALICE = "alice@id.bit"
BOB = "bob@id.bit"
OWNER_A = bytes.fromhex("0014") + b"\xaa" * 20  # P2WPKH-like owner scripts
OWNER_B = bytes.fromhex("0014") + b"\xbb" * 20


def sk(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


def pk(n: int) -> PublicKey:
    return PublicKey(bytes(sk(n).verify_key))


def profile(
    key: int | None,
    *,
    next_key: int | None = None,
    recovery: int | None = None,
    custodian: int | None = None,
    endpoints: dict[Protocol, str] | None = None,
    policy: tuple[tuple[Protocol, ...], PolicyMode] | None = None,
    moved_from: tuple[str, ...] = (),
) -> Profile:
    """An unsigned v1 profile using test keys by number."""
    eps = endpoints if endpoints is not None else {Protocol.EMAIL: "alice@example.com"}
    from waypost.registry.profile import PROTOCOL_PREFERENCE

    return Profile(
        namecoin=(("moved_from", json.dumps(list(moved_from), separators=(",", ":"), ensure_ascii=False)),) if moved_from else (),
        version=1,
        key=pk(key) if key is not None else None,
        next_commitment=key_commitment(pk(next_key)) if next_key is not None else None,
        recovery_commitment=key_commitment(pk(recovery)) if recovery is not None else None,
        custodian=pk(custodian) if custodian is not None else None,
        endpoints=tuple(Endpoint(protocol=p, value=eps[p]) for p in PROTOCOL_PREFERENCE if p in eps),
        policy=Policy(require=tuple(x for x in PROTOCOL_PREFERENCE if x in policy[0]), mode=policy[1]) if policy else None,
    )


def with_redirect(p: Profile, *, source: str, to: str, reason: RedirectReason, signer: int) -> Profile:
    sig = sk(signer).sign(redirect_message(source, to, reason)).signature
    return dataclasses.replace(p, redirect=Redirect(to=to, reason=reason, sig=bytes(sig)))


def signed(p: Profile, signer: int | None, *, address: str = ALICE) -> Profile:
    """Sign with test key ``signer`` and round-trip through the on-chain JSON encoding."""
    if signer is not None:
        p = dataclasses.replace(p, sig=bytes(sk(signer).sign(signing_message(p, address=address)).signature))
    return parse_profile(encode_profile(p))


def facts(p: Profile, *, address: str = ALICE) -> RecordFacts:
    return facts_from_profile(p, address=address)


def item(
    height: int,
    p: Profile | None,
    *,
    owner: bytes = OWNER_A,
    new_registration: bool = False,
    address: str = ALICE,
) -> HistoryItem:
    return HistoryItem(
        height=height,
        txid=Txid(height.to_bytes(32, "little")),
        owner_script=owner,
        facts=facts(p, address=address) if p is not None else None,
        new_registration=new_registration,
    )
