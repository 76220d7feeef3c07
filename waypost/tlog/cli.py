"""``waypost witness``: run a witness that cosigns only consistent checkpoints (shell).

Push mode (``--listen``): serve c2sp.org/tlog-witness ``POST /add-checkpoint``. Pull mode
(``--log-url``): fetch the log's checkpoint and consistency proof, cosign, and post the
cosignature back to the log (``/v1/log/witness/cosignature``).
"""

from __future__ import annotations

import argparse
import base64
import logging
import threading
from pathlib import Path

import requests

from waypost.registry.errors import ErrorCode, ParseError, UpstreamError, WaypostError
from waypost.tlog import note as note_mod
from waypost.tlog.store import load_or_create_signer
from waypost.tlog.witness import AddCheckpointRequest, Witness, serve, system_time_s

__all__ = ["add_arguments", "run", "pull_once"]

_log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``witness`` options."""
    parser.add_argument("--log-vkey", action="append", required=True, metavar="VKEY",
                        help="the log's verifier key (name+hex8+base64), or a file holding it; repeatable")
    parser.add_argument("--key-file", required=True, type=Path, help="witness signing key (created, mode 0600, if missing)")
    parser.add_argument("--name", help="witness key name when creating the key file (e.g. witness.example/w1)")
    parser.add_argument("--state", required=True, type=Path, help="state file (latest cosigned checkpoint per log)")
    parser.add_argument("--listen", metavar="HOST:PORT", help="serve POST /add-checkpoint here (e.g. 127.0.0.1:7380)")
    parser.add_argument("--log-url", help="pull mode: the log's base URL")
    parser.add_argument("--interval", type=float, default=60.0, help="pull mode: seconds between rounds (default 60)")
    parser.add_argument("--once", action="store_true", help="pull mode: one round, then exit")


def _read_vkey(text: str) -> note_mod.Verifier:
    p = Path(text)
    if "+" not in text and p.exists():
        text = p.read_text(encoding="ascii").strip()
    return note_mod.parse_vkey(text)


def _load_witness(args: argparse.Namespace) -> Witness:
    key_path: Path = args.key_file
    if key_path.exists():
        signer = note_mod.parse_signer_key(key_path.read_text(encoding="ascii"))
    else:
        if not args.name:
            raise ParseError(ErrorCode.BAD_REQUEST, "--name is needed to create a new witness key")
        signer = load_or_create_signer(key_path, args.name, alg=note_mod.ALG_COSIGNATURE_V1)
    logs: dict[str, list[note_mod.Verifier]] = {}
    for text in args.log_vkey:
        v = _read_vkey(text)
        logs.setdefault(v.name, []).append(v)
    return Witness(signer, logs, args.state)


def pull_once(witness: Witness, log_url: str, now_s: int, timeout_s: float = 10.0) -> str | None:
    """One pull round: fetch, check, cosign, post back. Returns the cosignature line, or
    None when the log has not grown.

    Raises:
        UpstreamError: ``RPC_CONNECT`` / ``RPC_BAD_ANSWER`` for log transport problems.
        WaypostError: the witness refuses the checkpoint (inconsistent, unknown key...).
    """
    base = log_url.rstrip("/")
    try:
        resp = requests.get(base + "/checkpoint", timeout=timeout_s)
        resp.raise_for_status()
        note = resp.text
        cp = note_mod.parse_checkpoint(note_mod.split_note(note)[0])
        state = witness.state(cp.origin)
        old_size = 0 if state is None else state.size
        if state is not None and cp.size == state.size and cp.root_hash == state.root_hash:
            return None
        proof: tuple[bytes, ...] = ()
        if 0 < old_size < cp.size:
            pr = requests.get(base + "/v1/log/proof/consistency", params={"from": old_size, "to": cp.size}, timeout=timeout_s)
            pr.raise_for_status()
            proof = tuple(base64.b64decode(h) for h in pr.json()["proof"])
    except requests.RequestException as exc:
        raise UpstreamError(ErrorCode.RPC_CONNECT, f"log {log_url} unreachable: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamError(ErrorCode.RPC_BAD_ANSWER, f"log {log_url} answered garbage: {exc}") from exc
    line = witness.add_checkpoint(AddCheckpointRequest(old_size=old_size, proof=proof, note=note), now_s)
    try:
        requests.post(base + "/v1/log/witness/cosignature", data=line.encode("utf-8"), timeout=timeout_s)
    except requests.RequestException as exc:
        _log.warning("could not post the cosignature back to %s: %s", log_url, exc)
    return line


def run(args: argparse.Namespace) -> int:
    """Run the witness until interrupted (or one pull round with ``--once``)."""
    witness = _load_witness(args)
    print(f"witness key: {note_mod.encode_vkey(witness.signer.verifier)}", flush=True)
    if not args.listen and not args.log_url:
        raise ParseError(ErrorCode.BAD_REQUEST, "give --listen HOST:PORT and/or --log-url URL")
    server = None
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        if not host or not port.isdigit():
            raise ParseError(ErrorCode.BAD_REQUEST, "--listen must be HOST:PORT")
        server = serve(witness, host, int(port))
        threading.Thread(target=server.serve_forever, name="witness-http", daemon=True).start()
        print(f"listening on http://{host}:{server.server_address[1]}/add-checkpoint", flush=True)
    stop = threading.Event()
    try:
        while True:
            if args.log_url:
                try:
                    line = pull_once(witness, args.log_url, system_time_s())
                    if line:
                        print(line, end="", flush=True)
                except WaypostError as exc:
                    if args.once:
                        raise
                    _log.warning("pull round failed: [%s] %s", exc.code, exc.message)
                if args.once:
                    return 0
                stop.wait(args.interval)
            else:
                stop.wait(3600)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
