"""``waypost regtest`` prints where it listens, serves RPC, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.unit.regtest.conftest import post


def test_cli_serves_and_stops_on_sigint(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "waypost.cli", "regtest", "--port", "0", "--datadir", str(tmp_path), "--mine", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        url = lines[0].split()[1]
        cookie_path = Path(lines[1].split()[1])
        assert cookie_path == tmp_path / "regtest" / ".cookie"
        _, reply = post(url, cookie_path.read_text(), {"id": 1, "method": "getblockcount", "params": []})
        assert reply["result"] == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode in (0, 130)
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    assert not cookie_path.exists()
