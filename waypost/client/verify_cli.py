"""``waypost verify-message`` (shell): was the signing key the address's key when the message was signed?

The address's latest record is verified with proofs (``Client``); its key timeline comes from
the name's operation chain since registration, each operation proven by SPV (``Client.operations``).
Exit status: 0 valid, 1 not signed by the address's key at that time, 2 usage or network error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import sys
from pathlib import Path

from waypost.client.cli import add_common_arguments, build_client, exit_code_of
from waypost.client.core import key_fingerprint
from waypost.client.http import fetch_json, quote_address, server_url
from waypost.client.lookup import Client
from waypost.indexer.view import NameRecord
from waypost.registry.errors import ErrorCode, ParseError, UpstreamError, WaypostError
from waypost.registry.keys import KeySpan, verify_message_at
from waypost.registry.model import BlockHash, Txid
from waypost.resolve import pipeline
from waypost.resolve.bundle import leaf_address_for
from waypost.resolve.opchain import timeline_of

__all__ = ["add_arguments", "run", "fetch_timeline", "proven_timeline", "parse_signature"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify-message`` options."""
    parser.add_argument("--address", required=True, help="the address that claims to have signed")
    parser.add_argument("--signature", required=True, help="64-byte ed25519 signature, base64 or hex")
    parser.add_argument("file", help="the signed message ('-' for stdin)")
    parser.add_argument("--at", type=int, default=None, metavar="HEIGHT",
                        help="Namecoin height the message claims (default: the verified tip)")
    add_common_arguments(parser)


def parse_signature(text: str) -> bytes:
    """A 64-byte signature from hex or (url-safe) base64.

    Raises:
        ParseError: ``BAD_REQUEST``.
    """
    t = text.strip()
    candidates: list[bytes] = []
    try:
        candidates.append(bytes.fromhex(t))
    except ValueError:
        pass
    for dec in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            candidates.append(dec(t + "=" * (-len(t) % 4)))
        except (binascii.Error, ValueError):
            pass
    for c in candidates:
        if len(c) == 64:
            return c
    raise ParseError(ErrorCode.BAD_REQUEST, "--signature must be 64 bytes in hex or base64")


def fetch_timeline(client: Client, address: str, verified_value: bytes, verified_height: int | None) -> tuple[KeySpan, ...]:
    """The address's key timeline from the first server's name history, anchored on the verified record.

    Only the newest history entry is proven (by the bundle); ``proven_timeline`` proves every
    operation and is what ``waypost verify-message`` uses.

    Raises:
        UpstreamError: ``CLIENT_HTTP``, ``CLIENT_BAD_ANSWER`` (history does not end in the verified record).
    """
    leaf_addr = leaf_address_for(address)
    name = pipeline.name_of_address(leaf_addr)
    if name is None:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"{address} has no Namecoin name history")
    server = client.servers[0]
    _, obj = fetch_json(client.session, server_url(server, "/v1/history/" + quote_address(name.decode("utf-8"))))
    try:
        rows = obj["history"]  # type: ignore[index]
        records = [
            NameRecord(
                name=name, value=bytes.fromhex(str(r["value_hex"])), txid=Txid(bytes.fromhex(str(r["txid"]))[::-1]),
                vout=int(r["vout"]), height=int(r["height"]), block_hash=BlockHash(bytes(32)), tx_index=0,
                op="name_update", address=None if r.get("address") is None else str(r["address"]),
                expires_at_height=int(r["height"]) + int(r["expires_in"]),
            )
            for r in rows
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, f"malformed history from {server}") from exc
    if not records or hashlib.sha256(records[-1].value).digest() != hashlib.sha256(verified_value).digest() or (
        verified_height is not None and records[-1].height != verified_height
    ):
        raise UpstreamError(ErrorCode.CLIENT_BAD_ANSWER, "the server's history does not end in the verified record",
                            server=server)
    replayed = pipeline.replay(leaf_addr, records)
    return replayed[-1][0].timeline


def proven_timeline(client: Client, address: str) -> tuple[KeySpan, ...]:
    """The address's key timeline from its SPV-proven operation chain (registration to the latest operation).

    Raises:
        UpstreamError: ``NOT_FOUND``, ``CLIENT_HTTP``, ``CLIENT_BAD_ANSWER``.
        VerificationError: the bundle or the operation chain does not verify (``opchain.*``, ``bundle.*``).
    """
    ops = client.operations(address)
    return timeline_of(leaf_address_for(address), ops, network=client.network)


def run(args: argparse.Namespace) -> int:
    """Verify and print the verdict; returns 0 valid, 1 invalid, 2 usage/network error."""
    try:
        sig = parse_signature(args.signature)
        try:
            message = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        except OSError as exc:
            raise ParseError(ErrorCode.BAD_REQUEST, f"cannot read {args.file}: {exc.strerror}") from exc
        client = build_client(args)
        res = client.resolve(args.address)
        first = res.hops[0]
        if first.value is None:
            raise UpstreamError(ErrorCode.NOT_FOUND, f"{args.address} is not registered (absence verified)")
        timeline = proven_timeline(client, args.address)
        at = args.at if args.at is not None else res.namecoin_height
        if at is None:
            raise ParseError(ErrorCode.BAD_REQUEST, "the server's checkpoint has no Namecoin height; pass --at")
        found = verify_message_at(message, sig, timeline, at)
    except WaypostError as exc:
        kind = "INVALID" if exit_code_of(exc) == 1 else "error"
        print(f"waypost: {kind} [{exc.code}]: {exc.message}", file=sys.stderr)
        return exit_code_of(exc)
    span = found.span
    until = "now" if span.to_height is None else f"height {span.to_height}"
    print(f"VALID: signed by {args.address}'s key {key_fingerprint(found.key)} "
          f"(its key from height {span.from_height} until {until}; checked at height {at})")
    return 0
