"""The light client's state file (shell): last checkpoint per server, trusted log keys, pins, evidence.

Writes are atomic (temp file, fsync, rename); a corrupt file is an error, never silently reset.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from waypost.client.core import Pin
from waypost.registry.errors import ErrorCode, StoreError, WaypostError
from waypost.tlog import note as note_mod

__all__ = ["STATE_VERSION", "ClientState", "default_state_path", "save_evidence", "load_evidence"]

STATE_VERSION = 1

# Layout (JSON, UTF-8):
# {"version": 1,
#  "servers": {"<url>": {"checkpoint": "<signed note>"}},
#  "log_keys": {"<url>": ["<vkey name+hex8+base64>", ...]},
#  "pins": {"<address>": {"value": "<base64>", "epoch": int, "leaf_index": int,
#                         "chain": [seq, "<entry hash hex>"] (private chains only)}}}


def default_state_path() -> Path:
    """``$WAYPOST_CLIENT_STATE`` or ``$XDG_STATE_HOME/waypost/client.json`` (``~/.local/state/...``)."""
    env = os.environ.get("WAYPOST_CLIENT_STATE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "waypost" / "client.json"


def _corrupt(path: Path, why: str) -> StoreError:
    return StoreError(ErrorCode.CLIENT_STATE_CORRUPT, f"client state file {path} is unreadable: {why} "
                      "(move it aside to start over; pins and checkpoints will be learned again)", path=str(path))


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _pin_json(p: Pin) -> dict[str, object]:
    out: dict[str, object] = {"value": base64.b64encode(p.value).decode("ascii"), "epoch": p.epoch,
                              "leaf_index": p.leaf_index}
    if p.chain_seq is not None and p.chain_head is not None:
        out["chain"] = [p.chain_seq, p.chain_head.hex()]
    return out


class ClientState:
    """In-memory view of the state file; ``save()`` writes it back atomically."""

    def __init__(self, path: Path | None, data: Mapping[str, object] | None = None) -> None:
        self.path = path
        self._servers: dict[str, dict[str, str]] = {}
        self._log_keys: dict[str, list[str]] = {}
        self._pins: dict[str, Pin] = {}
        if data is not None:
            self._load_obj(data)

    @classmethod
    def load(cls, path: Path) -> ClientState:
        """Read ``path`` (a missing file is an empty state).

        Raises:
            StoreError: ``CLIENT_STATE_CORRUPT`` (not JSON, wrong shape, unknown version),
                ``STORE_IO`` (unreadable).
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise StoreError(ErrorCode.STORE_IO, f"cannot read {path}: {exc.strerror}") from exc
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _corrupt(path, "not JSON") from exc
        if not isinstance(obj, dict):
            raise _corrupt(path, "not a JSON object")
        state = cls(path)
        try:
            state._load_obj(obj)
        except (KeyError, TypeError, ValueError, WaypostError) as exc:
            raise _corrupt(path, f"unexpected content ({exc})") from exc
        return state

    @classmethod
    def in_memory(cls) -> ClientState:
        """A state that is never written (library use, tests)."""
        return cls(None)

    def _load_obj(self, obj: Mapping[str, object]) -> None:
        if obj.get("version") != STATE_VERSION:
            raise ValueError(f"unknown version {obj.get('version')!r}")
        servers, keys, pins = obj.get("servers", {}), obj.get("log_keys", {}), obj.get("pins", {})
        if not isinstance(servers, dict) or not isinstance(keys, dict) or not isinstance(pins, dict):
            raise TypeError("servers, log_keys and pins must be objects")
        for url, s in servers.items():
            if not isinstance(s, dict) or not isinstance(s.get("checkpoint"), str):
                raise TypeError(f"bad server entry {url!r}")
            note_mod.split_note(s["checkpoint"])  # well-formed note (signature checked on use)
            self._servers[str(url)] = {"checkpoint": s["checkpoint"]}
        for url, ks in keys.items():
            if not isinstance(ks, list) or not all(isinstance(k, str) for k in ks):
                raise TypeError(f"bad log key list for {url!r}")
            for k in ks:
                note_mod.parse_vkey(k)
            self._log_keys[str(url)] = list(ks)
        for address, p in pins.items():
            if not isinstance(p, dict):
                raise TypeError(f"bad pin {address!r}")
            epoch, leaf_index = p["epoch"], p["leaf_index"]
            if not isinstance(epoch, int) or not isinstance(leaf_index, int) or not isinstance(p["value"], str):
                raise TypeError(f"bad pin {address!r}")
            value = base64.b64decode(p["value"].encode("ascii"), validate=True)
            chain = p.get("chain")  # private chains: [seq, entry hash hex]
            chain_seq: int | None = None
            chain_head: bytes | None = None
            if chain is not None:
                if not isinstance(chain, list) or len(chain) != 2 or not isinstance(chain[0], int):
                    raise TypeError(f"bad chain pin {address!r}")
                chain_seq, chain_head = chain[0], bytes.fromhex(str(chain[1]))
            self._pins[str(address)] = Pin(address=str(address), value=value, epoch=epoch, leaf_index=leaf_index,
                                           chain_seq=chain_seq, chain_head=chain_head)

    def to_json(self) -> dict[str, object]:
        """The file's JSON object."""
        return {
            "version": STATE_VERSION,
            "servers": {u: dict(s) for u, s in sorted(self._servers.items())},
            "log_keys": {u: list(k) for u, k in sorted(self._log_keys.items())},
            "pins": {a: _pin_json(p) for a, p in sorted(self._pins.items())},
        }

    def save(self) -> None:
        """Write the state atomically (no-op for an in-memory state).

        Raises:
            StoreError: ``STORE_IO``.
        """
        if self.path is None:
            return
        data = (json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n").encode("utf-8")
        try:
            _atomic_write(self.path, data)
        except OSError as exc:
            raise StoreError(ErrorCode.STORE_IO, f"cannot write {self.path}: {exc.strerror}") from exc

    # --- accessors ---------------------------------------------------------------------

    def checkpoint_note(self, server: str) -> str | None:
        """The last verified checkpoint note from ``server``."""
        s = self._servers.get(server)
        return None if s is None else s["checkpoint"]

    def set_checkpoint_note(self, server: str, note: str) -> None:
        """Remember ``note`` as ``server``'s latest verified checkpoint."""
        self._servers[server] = {"checkpoint": note}

    def log_keys(self, server: str) -> tuple[note_mod.Verifier, ...]:
        """Trusted log keys for ``server``."""
        return tuple(note_mod.parse_vkey(k) for k in self._log_keys.get(server, ()))

    def trust_log_key(self, server: str, key: note_mod.Verifier) -> None:
        """Add ``key`` to ``server``'s trusted log keys."""
        text = note_mod.encode_vkey(key)
        keys = self._log_keys.setdefault(server, [])
        if text not in keys:
            keys.append(text)

    def pin(self, address: str) -> Pin | None:
        """The pin of ``address``."""
        return self._pins.get(address)

    def set_pin(self, pin: Pin) -> None:
        """Pin (or re-pin) an address."""
        self._pins[pin.address] = pin

    def evidence_dir(self) -> Path | None:
        """Where evidence files go: ``<state file dir>/evidence``."""
        return None if self.path is None else self.path.parent / "evidence"


def save_evidence(directory: Path, evidence: note_mod.Evidence, *, server: str, other_server: str | None = None,
                  now_s: int | None = None) -> Path:
    """Write a misbehaviour evidence file (JSON: kind, both signed notes, the proof) and return its path.

    Raises:
        StoreError: ``STORE_IO``.
    """
    t = int(time.time()) if now_s is None else now_s
    obj = {
        "kind": str(evidence.kind),
        "server": server,
        "other_server": other_server,
        "time_s": t,
        "old_note": evidence.old_note,
        "new_note": evidence.new_note,
        "proof": [base64.b64encode(h).decode("ascii") for h in evidence.proof],
    }
    data = (json.dumps(obj, indent=1) + "\n").encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()[:8]
    path = directory / f"{t}-{str(evidence.kind).replace('.', '-')}-{digest}.json"
    try:
        _atomic_write(path, data)
    except OSError as exc:
        raise StoreError(ErrorCode.STORE_IO, f"cannot write evidence {path}: {exc.strerror}") from exc
    return path


def load_evidence(path: Path) -> note_mod.Evidence:
    """Read an evidence file back (for ``note.verify_evidence``).

    Raises:
        StoreError: ``CLIENT_STATE_CORRUPT``.
    """
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        return note_mod.Evidence(
            kind=ErrorCode(obj["kind"]),
            old_note=str(obj["old_note"]),
            new_note=str(obj["new_note"]),
            proof=tuple(base64.b64decode(h, validate=True) for h in obj["proof"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _corrupt(path, "bad evidence file") from exc
