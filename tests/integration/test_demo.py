"""``waypost demo``: ``--check`` resolves and verifies every sample identity; Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from waypost.client.core import key_fingerprint
from waypost.demo import CHAIN_ADDRESS, SAMPLE_ADDRESSES, _key
from waypost.registry.address import encode_key_domain

WAYPOST = [sys.executable, "-m", "waypost.cli"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env


def test_demo_check_resolves_and_verifies_every_sample() -> None:
    t0 = time.monotonic()
    proc = subprocess.run([*WAYPOST, "demo", "--check", "--port", "0"], capture_output=True, text=True, timeout=120,
                          env=_env())
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("     {"):
            obj = json.loads(line)
            results[obj["address"]] = obj
    assert set(results) == set(SAMPLE_ADDRESSES)
    assert all(r["verified"] and r["present"] for r in results.values())
    alice = results["alice@id.bit"]
    assert set(alice["endpoints"]) == {"email", "xmpp", "nostr"} and alice["verdict"] == "accepted"
    bob = results["bob@id.bit"]
    assert bob["resolved_address"] == "robert@id.bit" and [h["reason"] for h in bob["hops"]] == [None, "voluntary"]
    assert results["carol@id.bit"]["verdict"] == "accepted"
    # the private-chain identity: verified offline from its chain entries, key rotated to the committed one
    dave = results[CHAIN_ADDRESS]
    assert CHAIN_ADDRESS.endswith(encode_key_domain(bytes(_key(11).verify_key)))
    assert dave["resolved_address"] == CHAIN_ADDRESS and dave["chain_seq"] == 2 and dave["height"] is None
    assert dave["endpoints"] == {"email": "dave@example.net", "xmpp": "dave@example.net", "matrix": "@dave:example.net"}
    assert dave["key_fingerprint"] == key_fingerprint(bytes(_key(12).verify_key)) and dave["verdict"] == "accepted"
    # trust on first use (no --log-key) and verify-message at the old key's height and after the rotation
    assert "ok   log key pinned on first use: " in proc.stdout
    assert "VALID (key from height" in proc.stdout and "INVALID [key.not-at-time]" in proc.stdout
    assert "FAIL" not in proc.stdout
    assert elapsed < 60, f"demo --check took {elapsed:.1f} s"


def test_demo_prints_commands_and_ctrl_c_stops_cleanly() -> None:
    proc = subprocess.Popen([*WAYPOST, "demo", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(lines)
        assert "Ctrl-C stops everything" in text, text
        datadir = Path(text.split(" in ", 1)[1].split(" ...", 1)[0])
        assert datadir.is_dir()
        assert "waypost resolve alice@id.bit --server http://127.0.0.1:" in text
        assert f"waypost resolve {CHAIN_ADDRESS} --server http://127.0.0.1:" in text
        assert "--log-key" not in "".join(x for x in lines if x.strip().startswith("waypost "))  # TOFU by default
        assert "waypost verify-message --address carol@id.bit --signature " in text and "--at " in text
        assert "curl -s http://127.0.0.1:" in text
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert not datadir.exists()
