"""HTTPS webhooks: TCP to the checked IP, TLS with SNI and certificate checks for the URL's host name."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from waypost.notify.delivery import send_webhook
from waypost.notify.outbox import Claim
from waypost.notify.ssrf import parse_allow_list
from waypost.notify.webhook import encode_secret

HOST = "hook.test.example"
SNI: list[str | None] = []


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        del format, args


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a test certificate")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=DNS:{HOST}"],
        check=True, capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    SNI.clear()
    ctx.sni_callback = lambda sock, name, c: SNI.append(name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


def _claim(url: str) -> Claim:
    return Claim(
        event_seq=1, event_id="evt_0000000000000001", subscription_id="sub_1", url=url,
        secret=encode_secret(bytes(32)), payload=b"{}", attempts=1, lease_token="t", lease_until_s=1e12,
    )


def _to_loopback(host: str, port: int) -> Sequence[str]:
    return ("127.0.0.1",)


def test_https_pins_ip_and_checks_the_url_host_certificate(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    client_ctx = ssl.create_default_context(cafile=str(cert))
    policy = parse_allow_list(["127.0.0.1/32"])
    ok = send_webhook(_claim(f"https://{HOST}:{port}/h"), 1.0, policy=policy, resolver=_to_loopback, tls_context=client_ctx)
    assert ok.ok and ok.status == 200, ok.error
    assert SNI == [HOST]
    # same IP, another name: the certificate does not cover it, so the attempt fails
    wrong = send_webhook(_claim(f"https://other.test.example:{port}/h"), 1.0, policy=policy, resolver=_to_loopback, tls_context=client_ctx)
    assert not wrong.ok and wrong.status is None and wrong.error is not None and "CERTIFICATE_VERIFY_FAILED" in wrong.error
