"""``waypost resolve`` (shell): resolve an address on one or more servers and verify every proof offline.

Exit status: 0 verified, 1 verification failure (evidence file named), 2 usage or network error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from waypost.client.core import Resolution, key_fingerprint
from waypost.client.headers import parse_anchor
from waypost.client.lookup import Client
from waypost.client.state import ClientState, default_state_path
from waypost.registry.errors import (
    ErrorCode,
    ParseError,
    StoreError,
    UpstreamError,
    ValidationError,
    VerificationError,
    WaypostError,
)
from waypost.registry.model import BlockHash
from waypost.tlog import note as note_mod

__all__ = ["add_arguments", "run", "resolution_json", "DEFAULT_SERVER", "exit_code_of"]

DEFAULT_SERVER = "http://127.0.0.1:8335"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``resolve`` options to ``parser``."""
    parser.add_argument("address", help="the address to resolve, e.g. alice@id.bit")
    add_common_arguments(parser)
    parser.add_argument("--witness", action="append", default=[], metavar="VKEY",
                        help="a witness cosignature key (repeatable)")
    parser.add_argument("--min-witnesses", type=int, default=0, metavar="K",
                        help="require K witness cosignatures on every checkpoint")
    parser.add_argument("--max-age", type=int, default=None, metavar="S",
                        help="refuse answers older than S seconds (witness time, else the checkpoint's block time)")
    parser.add_argument("--accept-change", action="store_true",
                        help="accept a policy downgrade or key change against the pinned profile, and re-pin")
    parser.add_argument("--json", action="store_true", help="print the verified result as JSON")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``verify-message``: servers, log keys, state file, network."""
    parser.add_argument("--server", action="append", default=[], metavar="URL",
                        help=f"a Waypost server (repeatable; default {DEFAULT_SERVER})")
    parser.add_argument("--log-key", action="append", default=[], metavar="VKEY",
                        help="a trusted log key name+hex8+base64 or a file holding it (repeatable)")
    parser.add_argument("--state", type=Path, default=None, metavar="PATH",
                        help=f"client state file (default {default_state_path()})")
    parser.add_argument("--network", choices=("mainnet", "testnet", "regtest"), default="mainnet",
                        help="Namecoin network of the servers' logs (default mainnet)")
    parser.add_argument("--no-header-chain", dest="header_chain", action="store_false",
                        help="do not hold the Namecoin header chain (bundle headers are then checked only for "
                             "their own work; on by default)")
    parser.add_argument("--header-anchor", type=_anchor, default=None, metavar="HEIGHT:HASH",
                        help="start the header chain at this trusted block instead of genesis")
    parser.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)


def _anchor(text: str) -> tuple[int, BlockHash]:
    try:
        return parse_anchor(text)
    except ParseError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _vkey(text: str) -> note_mod.Verifier:
    p = Path(text)
    if "+" not in text and p.is_file():
        text = p.read_text(encoding="ascii").strip()
    return note_mod.parse_vkey(text)


def exit_code_of(exc: WaypostError) -> int:
    """1 for a verification failure (the answer is wrong), 2 for usage, network and local errors."""
    if isinstance(exc, (VerificationError, ValidationError)):
        return 1
    if isinstance(exc, (ParseError, UpstreamError, StoreError)):
        return 2
    return 2


def build_client(args: argparse.Namespace, *, max_age_s: int | None = None, accept_change: bool = False,
                 witnesses: tuple[note_mod.Verifier, ...] = (), min_witnesses: int = 0) -> Client:
    """A ``Client`` from the common options."""
    servers = list(args.server) or [DEFAULT_SERVER]
    keys = tuple(_vkey(k) for k in args.log_key)
    state = ClientState.load(args.state or default_state_path())
    return Client(servers, state=state, log_verifiers=keys, witnesses=witnesses, min_witnesses=min_witnesses,
                  network=args.network, max_age_s=max_age_s, accept_change=accept_change,
                  header_chain=getattr(args, "header_chain", True), header_anchor=getattr(args, "header_anchor", None))


def resolution_json(r: Resolution) -> dict[str, object]:
    """The ``--json`` form of a verified resolution."""
    key = r.profile.key if r.profile is not None else None
    return {
        "address": r.address,
        "resolved_address": r.resolved_address,
        "present": r.present,
        "expired": r.expired,
        "verified": True,
        "endpoints": dict(r.endpoints),
        "key_fingerprint": None if key is None else key_fingerprint(key),
        "verdict": r.verdict,
        "codes": list(r.codes),
        "hops": [{"address": h.address, "reason": h.reason, "verdict": h.verdict} for h in r.hops],
        "log": {"origin": r.checkpoint_origin, "size": r.checkpoint_size, "leaf_index": r.leaf_index},
        "height": r.height,
        "chain_seq": r.chain_seq,
        "servers": list(r.servers),
        "value": None if r.value is None else r.value.decode("utf-8", "replace"),
    }


def _print_human(r: Resolution) -> None:
    out = sys.stdout
    print(f"address:   {r.address}", file=out)
    for h in r.hops[1:]:
        print(f"  -> {h.address} ({h.reason})", file=out)
    if r.expired:
        print(f"status:    EXPIRED: last operation at height {r.height}, Namecoin no longer knows the name;"
              " its last record below is history, not a live identity", file=out)
    if not r.present:
        print("status:    not registered (absence proven by the log's state map)", file=out)
    else:
        verdict = r.verdict or "?"
        if r.codes:
            verdict += " (" + ", ".join(r.codes) + ")"
        print(f"verdict:   {verdict}", file=out)
        if r.endpoints:
            for proto, value in r.endpoints:
                print(f"  {proto:<12} {value}", file=out)
        else:
            print("  (no endpoints)", file=out)
        key = r.profile.key if r.profile is not None else None
        print(f"key:       {'none' if key is None else key_fingerprint(key)}", file=out)
        if r.height is not None:
            print(f"namecoin:  height {r.height}", file=out)
        if r.chain_seq is not None:
            print(f"chain:     private chain, {r.chain_seq + 1} entries verified from the address key", file=out)
    leaf = "-" if r.leaf_index is None else str(r.leaf_index)
    print(f"log:       {r.checkpoint_origin} leaf {leaf}, checkpoint size {r.checkpoint_size}", file=out)
    n = len(r.servers)
    print(f"verified offline against {n} server{'s' if n != 1 else ''}", file=out)


def run(args: argparse.Namespace) -> int:
    """Resolve and print; returns 0 verified, 1 verification failure, 2 usage/network error."""
    try:
        if args.min_witnesses < 0 or (args.max_age is not None and args.max_age < 0):
            raise ParseError(ErrorCode.BAD_REQUEST, "--min-witnesses and --max-age must be >= 0")
        witnesses = tuple(_vkey(k) for k in args.witness)
        client = build_client(args, max_age_s=args.max_age, accept_change=args.accept_change,
                              witnesses=witnesses, min_witnesses=args.min_witnesses)
        result = client.resolve(args.address)
    except WaypostError as exc:
        _report(exc, as_json=bool(args.json))
        return exit_code_of(exc)
    if args.json:
        print(json.dumps(resolution_json(result), indent=1))
    else:
        _print_human(result)
    return 0


def _report(exc: WaypostError, *, as_json: bool) -> None:
    """One line (or one JSON object) per failure, never a traceback."""
    path = exc.fields.get("evidence_path")
    kind = "verification failed" if exit_code_of(exc) == 1 else "error"
    if as_json:
        print(json.dumps({"verified": False, "code": str(exc.code), "message": exc.message,
                          "evidence_path": path}, indent=1))
    print(f"waypost: {kind} [{exc.code}]: {exc.message}", file=sys.stderr)
