"""A client that drops its connection mid-request leaves no traceback on stderr."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from waypost.regtest.node import SimNode


def test_reset_connection_prints_no_traceback(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with SimNode.start(tmp_path, seed=1) as node:
        port = int(node.rpc_url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        # RST instead of FIN: the handler thread's read fails with ConnectionResetError
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
        assert node.call("getblockcount") >= 0  # the server still answers
    err = capfd.readouterr().err
    assert "Traceback" not in err
