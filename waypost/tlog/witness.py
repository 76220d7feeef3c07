"""Witness: cosign only checkpoints consistent with the last one cosigned (pure rule + shell).

``witness_decide`` is the pure rule. ``Witness`` is the shell around it: c2sp.org/tlog-witness
``add-checkpoint`` request handling, atomic state file, and an HTTP server; plus a log-side
client ``submit_checkpoint``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from waypost.registry import merkle
from waypost.registry.errors import (
    ErrorCode,
    NotFoundError,
    ParseError,
    StoreError,
    UpstreamError,
    ValidationError,
    VerificationError,
    WaypostError,
)
from waypost.tlog import note as note_mod

__all__ = [
    "MAX_PROOF_LINES",
    "WitnessState",
    "AddCheckpointRequest",
    "witness_decide",
    "parse_add_checkpoint",
    "encode_add_checkpoint",
    "Witness",
    "load_state",
    "save_state",
    "serve",
    "system_time_s",
    "submit_checkpoint",
]

_log = logging.getLogger(__name__)

MAX_PROOF_LINES = 63  # c2sp.org/tlog-witness: at most 63 consistency proof lines
_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessState:
    """The latest checkpoint this witness cosigned for one log origin."""

    origin: str
    size: int
    root_hash: bytes
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AddCheckpointRequest:
    """A parsed ``add-checkpoint`` body: old size, consistency proof, checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def witness_decide(
    state: WitnessState | None, new: note_mod.SignedCheckpoint, old_size: int, consistency_proof: Sequence[bytes]
) -> WitnessState:
    """Decide whether to cosign ``new`` (already verified against the log's key).

    The witness never rolls back: ``old_size`` must be the size it last cosigned (0 if none),
    and ``new`` must extend that tree per the consistency proof.

    Returns:
        The new state to persist before returning a cosignature.

    Raises:
        ParseError: ``BAD_REQUEST`` when ``old_size`` exceeds the new size (HTTP 400).
        ValidationError: ``WITNESS_CONFLICT`` when ``old_size`` is not the witness's size,
            or sizes are equal with different roots (HTTP 409); ``fields["size"]`` is its size.
        VerificationError: ``CHECKPOINT_INCONSISTENT`` when the proof does not verify (HTTP 422).
    """
    cp = new.checkpoint
    if state is not None and state.origin != cp.origin:
        raise ValidationError(ErrorCode.CHECKPOINT_BAD, "state is for another log")
    if old_size > cp.size:
        raise ParseError(ErrorCode.BAD_REQUEST, f"old size {old_size} exceeds checkpoint size {cp.size}")
    current = 0 if state is None else state.size
    if old_size != current:
        raise ValidationError(ErrorCode.WITNESS_CONFLICT, f"witness is at size {current}, not {old_size}", size=current)
    if state is not None and cp.size == state.size:
        if cp.root_hash != state.root_hash:
            raise ValidationError(ErrorCode.WITNESS_CONFLICT, "same size, different root: the log forked", size=current)
        if consistency_proof:
            raise VerificationError(ErrorCode.CHECKPOINT_INCONSISTENT, "equal sizes need an empty proof")
    elif state is None or state.size == 0:
        if consistency_proof:
            raise VerificationError(ErrorCode.CHECKPOINT_INCONSISTENT, "proof from size 0 must be empty")
    else:
        try:
            merkle.verify_consistency(state.size, cp.size, consistency_proof, state.root_hash, cp.root_hash)
        except VerificationError as exc:
            raise VerificationError(
                ErrorCode.CHECKPOINT_INCONSISTENT, f"checkpoint does not extend size {state.size}: {exc.message}", size=state.size
            ) from exc
    return WitnessState(origin=cp.origin, size=cp.size, root_hash=cp.root_hash, note=new.note)


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse ``old <size>\\n`` + base64 proof lines + empty line + checkpoint note.

    Raises:
        ParseError: ``BAD_REQUEST``.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(ErrorCode.BAD_REQUEST, "body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise ParseError(ErrorCode.BAD_REQUEST, "body must start with an old size line and a proof block")
    size_text = lines[0][4:]
    if not size_text.isascii() or not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise ParseError(ErrorCode.BAD_REQUEST, "bad old size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ParseError(ErrorCode.BAD_REQUEST, "too many proof lines")
    proof = []
    for line in lines[1:]:
        try:
            h = base64.b64decode(line.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
            raise ParseError(ErrorCode.BAD_REQUEST, "bad proof line") from exc
        if len(h) != merkle.HASH_SIZE:
            raise ParseError(ErrorCode.BAD_REQUEST, "proof hash must be 32 bytes")
        proof.append(h)
    return AddCheckpointRequest(old_size=int(size_text), proof=tuple(proof), note=note)


def encode_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The ``add-checkpoint`` request body."""
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode("ascii") for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


# --- shell ----------------------------------------------------------------------------


def load_state(path: str | Path) -> dict[str, WitnessState]:
    """Load the witness state file (JSON ``{origin: {size, root, note}}``); missing -> empty.

    Raises:
        StoreError: ``STORE_IO`` / ``STORE_CORRUPT``.
    """
    p = Path(path)
    if not p.exists():
        return {}
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        return {
            origin: WitnessState(origin=origin, size=int(v["size"]), root_hash=base64.b64decode(v["root"]), note=str(v["note"]))
            for origin, v in raw.items()
        }
    except OSError as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot read witness state {p}: {exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(ErrorCode.STORE_CORRUPT, f"bad witness state {p}: {exc}") from exc


def save_state(path: str | Path, states: Mapping[str, WitnessState]) -> None:
    """Write the state atomically: temp file in the same directory, fsync, rename.

    Raises:
        StoreError: ``STORE_IO``.
    """
    p = Path(path)
    data = {
        o: {"size": s.size, "root": base64.b64encode(s.root_hash).decode("ascii"), "note": s.note} for o, s in states.items()
    }
    try:
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot write witness state {p}: {exc}") from exc


class Witness:
    """A witness for a set of logs (origin -> trusted log keys), with its state file.

    ``add_checkpoint`` checks, persists and cosigns under one lock, so a concurrent smaller
    request can never roll the stored size back (c2sp.org/tlog-witness).
    """

    def __init__(self, signer: note_mod.Signer, logs: Mapping[str, Sequence[note_mod.Verifier]], state_path: str | Path) -> None:
        if signer.alg != note_mod.ALG_COSIGNATURE_V1:
            raise ValidationError(ErrorCode.NOTE_BAD, "witness key must be a cosignature/v1 key")
        self.signer = signer
        self.logs = {o: tuple(v) for o, v in logs.items()}
        self.state_path = Path(state_path)
        self._lock = threading.Lock()
        self._states = load_state(self.state_path)

    def state(self, origin: str) -> WitnessState | None:
        """The latest cosigned checkpoint for ``origin``."""
        with self._lock:
            return self._states.get(origin)

    def add_checkpoint(self, req: AddCheckpointRequest, now_s: int) -> str:
        """Verify, decide, persist and cosign; returns the cosignature line(s).

        Raises:
            NotFoundError: ``WITNESS_UNKNOWN_LOG`` (404). VerificationError: note errors (403),
            ``CHECKPOINT_INCONSISTENT`` (422). ValidationError: ``WITNESS_CONFLICT`` (409).
            ParseError (400).
        """
        try:
            origin = note_mod.parse_checkpoint(note_mod.split_note(req.note)[0]).origin
        except ParseError as exc:
            raise ParseError(ErrorCode.BAD_REQUEST, f"bad checkpoint: {exc.message}") from exc
        verifiers = self.logs.get(origin)
        if verifiers is None:
            raise NotFoundError(ErrorCode.WITNESS_UNKNOWN_LOG, f"unknown log {origin!r}")
        signed = note_mod.open_checkpoint(req.note, verifiers, origin=origin)
        with self._lock:
            new_state = witness_decide(self._states.get(origin), signed, req.old_size, req.proof)
            states = dict(self._states)
            states[origin] = new_state
            save_state(self.state_path, states)
            self._states = states
        return note_mod.cosign(signed, self.signer, now_s)

    def handle(self, body: bytes, now_s: int) -> tuple[int, str, bytes]:
        """HTTP semantics of ``add-checkpoint``: ``(status, content type, body)``."""
        try:
            line = self.add_checkpoint(parse_add_checkpoint(body), now_s)
            return 200, "text/plain; charset=utf-8", line.encode("utf-8")
        except WaypostError as exc:
            status = _status(exc)
            if exc.code == ErrorCode.WITNESS_CONFLICT:
                return 409, "text/x.tlog.size", f"{exc.fields.get('size', 0)}\n".encode()
            return status, "text/plain; charset=utf-8", f"{exc.code}: {exc.message}\n".encode()


def _status(exc: WaypostError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if exc.code in (ErrorCode.NOTE_UNKNOWN_KEY, ErrorCode.NOTE_BAD_SIGNATURE):
        return 403
    if exc.code == ErrorCode.WITNESS_CONFLICT:
        return 409
    if isinstance(exc, ParseError):
        return 400
    if isinstance(exc, (VerificationError, ValidationError)):
        return 422
    return 500


def system_time_s() -> int:
    """The current POSIX time in whole seconds (the shell's clock)."""
    return int(time.time())


def serve(witness: Witness, host: str, port: int, clock: Callable[[], int] = system_time_s) -> ThreadingHTTPServer:
    """Start an HTTP server (not yet serving) answering ``POST /add-checkpoint``.

    The caller runs ``serve_forever()`` (maybe in a thread) and ``shutdown()``.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            if self.path.rstrip("/") != "/add-checkpoint":
                self._reply(404, "text/plain", b"not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._reply(413, "text/plain", b"too large\n")
                return
            status, ctype, body = witness.handle(self.rfile.read(length), clock())
            self._reply(status, ctype, body)

        def _reply(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server API
            _log.info("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)


def submit_checkpoint(url: str, old_size: int, proof: Sequence[bytes], note: str, timeout_s: float = 10.0) -> tuple[int, str]:
    """Log side: POST ``add-checkpoint`` to a witness; returns ``(status, body text)``.

    Raises:
        UpstreamError: ``RPC_CONNECT`` when the witness cannot be reached.
    """
    try:
        resp = requests.post(url.rstrip("/") + "/add-checkpoint", data=encode_add_checkpoint(old_size, proof, note), timeout=timeout_s)
    except requests.RequestException as exc:
        raise UpstreamError(ErrorCode.RPC_CONNECT, f"witness {url} unreachable: {exc}") from exc
    return resp.status_code, resp.text
